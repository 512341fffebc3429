"""A hostile world, operator side: a second writing process on one database is refused.

Two processes writing one database would each keep their own desk and courier and post the
same development twice: a rolling deploy's overlap, or a cron ``poll-once`` beside ``run``.
Here ``run`` holds the database; a second ``run`` and a ``poll-once`` beside it each say why in
one line, exit, and post nothing; ``status`` still reads; once ``run`` stops, ``poll-once``
works again. On SQLite and on PostgreSQL, with the real CLI and a feed over a real socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.app import WRITER_CHECK_SECONDS, TalksBot
from bot.config import load_config
from bot.store.writer import AnotherWriter, writer_lock
from tests.bot_process import ROOT, BotProcess, bot_env, eventually, rss
from tests.faults.test_store_faults import cut_connections
from tests.ingest.servers import FeedServer

NOW = datetime.now(UTC).replace(microsecond=0)
ITEMS = [
    ("s1", "Hamas delegation lands in Cairo for a new round of truce talks", "They met.", NOW),
    ("s2", "Rafah crossing shut again as strikes hit the border town", "The gate closed.", NOW),
]


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.serve("/wire.xml", rss("Levant Wire", ITEMS), "application/rss+xml")
        yield server


def _config(folder: Path, feeds: FeedServer, database_url: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "talks.toml"
    path.write_text(
        f'topics_from = "{ROOT / "config" / "default.toml"}"\n'
        f'[bot]\ndatabase_url = {json.dumps(database_url)}\npoll_jitter = "0.1s"\n'
        '[[routes]]\nplatform = "console"\nchannel = "console"\ntopics = ["*"]\npush = "all"\n'
        f'[[sources]]\nname = "wire"\nurl = "{feeds.url("/wire.xml")}"\n'
        'outlet = "Levant Wire"\ninterval = "1s"\n',
        encoding="utf-8",
    )
    return path


def _alerts(stdout: str) -> list[str]:
    return [
        str(json.loads(line)["title"])
        for line in stdout.splitlines()
        if line.startswith("{") and json.loads(line).get("event") == "alert"
    ]


async def test_a_second_writer_is_refused_in_one_line_and_posts_nothing(
    tmp_path: Path, feeds: FeedServer, database_url: str
) -> None:
    first_config = _config(tmp_path / "first", feeds, database_url)
    second_config = _config(tmp_path / "second", feeds, database_url)
    env = bot_env({})
    args = ["--output", "jsonl"]
    with BotProcess(first_config.parent, ["run", "--config", str(first_config), *args], env) as run:
        await eventually(
            lambda: len(_alerts(run.stdout())) == len(ITEMS), what="the first alerts", bot=run
        )
        # Something new arrives while the second processes try: only ``run`` may post it.
        feeds.serve(
            "/wire.xml",
            rss("Levant Wire", [*ITEMS, ("s3", "Qatar hands Israel a new hostage list", "", NOW)]),
            "application/rss+xml",
        )
        for command in (["poll-once"], ["run"]):
            argv = [*command, "--config", str(second_config)]
            with BotProcess(second_config.parent, argv, env) as other:
                code = await other.finished(timeout=30)
            errors = [line for line in other.stderr().splitlines() if line.strip()]
            assert code != 0, other.output()
            assert len(errors) == 1, other.stderr()
            assert "already polling and posting" in errors[0], errors[0]
            assert "Traceback" not in other.output()
            assert _alerts(other.stdout()) == [], f"{command[0]} beside run must post nothing"

        status = BotProcess(second_config.parent, ["status", "--config", str(second_config)], env)
        with status:
            assert await status.finished(timeout=30) == 0, "status only reads: it may run beside"

        await eventually(
            lambda: "Qatar hands Israel a new hostage list" in _alerts(run.stdout()),
            what="run to alert the new item",
            bot=run,
        )
        assert await run.terminate() == 0
        titles = _alerts(run.stdout())
        assert len(titles) == len(set(titles)) == len(ITEMS) + 1, titles

    # With ``run`` gone, the lock is free: a cron poll-once works again (nothing new to post).
    again = BotProcess(second_config.parent, ["poll-once", "--config", str(second_config)], env)
    with again:
        assert await again.finished(timeout=30) == 0, again.output()
    assert "already polling" not in again.stderr()


@pytest.mark.postgres
async def test_a_bot_that_loses_its_lock_in_a_restart_stops_rather_than_write_beside_another(
    tmp_path: Path, postgres_url: str, postgres_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL restarts under a running bot: the session holding its writer lock ends, and
    a second process takes the lock first. The first bot sees it within seconds and stops; had
    nobody taken it, it would simply have taken it back (the second case below)."""
    database = make_url(postgres_url).database or ""
    async with _running_bot(tmp_path, postgres_url) as (bot, stop, running):
        await _terminate_sessions(postgres_server, database)
        rival = writer_lock(postgres_url)
        await rival.acquire()
        try:
            await asyncio.wait_for(running, WRITER_CHECK_SECONDS + 10)
        finally:
            await rival.release()
        assert bot.lost_writer
    assert any("the writer lock was lost" in r.getMessage() for r in caplog.records)

    async with _running_bot(tmp_path, postgres_url) as (bot, stop, running):
        await _terminate_sessions(postgres_server, database)
        await asyncio.sleep(WRITER_CHECK_SECONDS + 2)
        rival = writer_lock(postgres_url)
        with pytest.raises(AnotherWriter):
            await rival.acquire()
        assert not running.done()
        stop.set()
        await asyncio.wait_for(running, 15)
        assert not bot.lost_writer


async def _terminate_sessions(server: str, database: str) -> None:
    assert await cut_connections(server, database) > 0, "no session of the bot was ended"


@contextlib.asynccontextmanager
async def _running_bot(
    folder: Path, database_url: str
) -> AsyncIterator[tuple[TalksBot, asyncio.Event, asyncio.Task[None]]]:
    """``run`` in process on ``database_url`` with no sources: only the lock matters here."""
    config = folder / "lock.toml"
    config.write_text('[[routes]]\nplatform = "console"\nchannel = "desk"\n', encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TALKS_BOT_DATABASE_URL", database_url)
        settings = load_config(config, env_file=None)
    async with TalksBot(settings, writer=True) as bot:
        stop = asyncio.Event()
        running = asyncio.create_task(bot.run(stop))
        await asyncio.sleep(0.5)
        try:
            yield bot, stop, running
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(running, 15)
