"""The database fails under the bot; no alert is lost or repeated because of it.

In process: a poll whose save fails must be decided again by the next poll (the desk's memory
must not keep what the store never got). As a real child process on PostgreSQL: the bot's
connections are cut again and again while developments arrive (``pg_terminate_backend``, what a
server restart or a failover does to a client), and every alert still arrives exactly once.

Reproduce::

    .venv/bin/pytest -s tests/faults/test_store_faults.py
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bot.app import TalksBot
from bot.config import load_config
from bot.core.ports import PollRecord
from bot.errors import StoreError
from tests.bot_process import write_config
from tests.faults.harness import (
    DEVELOPMENTS,
    Desk,
    FaultySlack,
    Newsroom,
    describe,
    desk_config,
    free_port,
    until_all_delivered,
)
from tests.ingest.servers import FeedServer


async def test_poll_whose_save_failed_is_decided_again_and_alerts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FeedServer() as feeds:
        newsroom = Newsroom(feeds, DEVELOPMENTS[:2])
        newsroom.publish(2)
        config = write_config(
            tmp_path,
            {"levant": (feeds.url("/levant.xml"), "Levant Wire"),
             "nile": (feeds.url("/nile.xml"), "Nile Courier")},
            extra='[[routes]]\nplatform = "console"\nchannel = "desk"\n',
        )  # fmt: skip
        monkeypatch.setenv("TALKS_BOT_DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
        settings = load_config(config, env_file=None)
        out = io.StringIO()
        async with TalksBot(settings, output="jsonl", out=out) as bot:
            real_commit = bot.store.commit_poll
            broken = {"nile"}

            async def nile_cannot_be_saved(record: PollRecord) -> None:
                # Every save holding the Nile Courier's poll fails while it is broken, whether
                # the cycle decided it alone or together with the Levant Wire's.
                if broken & {h.name for h in (record.source, *record.others)}:
                    raise StoreError("could not save the poll: connection reset (test)")
                await real_commit(record)

            monkeypatch.setattr(bot.store, "commit_poll", nile_cannot_be_saved)
            cycle = await bot.poll_once()
            unsaved = [p.source for p in cycle.polls if p.unsaved]
            assert unsaved == ["nile"], "the source whose save failed says so"
            first = [json.loads(line)["title"] for line in out.getvalue().splitlines() if line]
            assert len(first) == 1, "the other source's alert is not held back by it"
            broken.clear()
            await bot.poll_once()
    titles = [json.loads(line)["title"] for line in out.getvalue().splitlines() if line]
    assert sorted(titles) == sorted(d.headline for d in DEVELOPMENTS[:2]), "each exactly once"


async def cut_connections(server_url: str, database: str) -> int:
    """Terminate every backend of ``database``, as a restart of the server would."""
    dsn = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await conn.close()
    return sum(1 for row in rows if row[0])


@pytest.mark.postgres
@pytest.mark.slow
async def test_postgres_connections_cut_mid_run_lose_and_repeat_nothing(
    tmp_path: Path,
    slack: FaultySlack,
    postgres_url: str,
    postgres_server: str,
    record_property: Callable[[str, object], None],
) -> None:
    database = make_url(postgres_url).database or ""
    developments = DEVELOPMENTS[:12]
    cuts = terminated = 0
    with FeedServer() as feeds:
        newsroom = Newsroom(feeds, developments)
        config = desk_config(tmp_path, feeds, slack, port=free_port())
        desk = Desk(tmp_path, config, postgres_url)
        try:
            bot = desk.start()
            # Developments keep arriving while the connections are cut every ~0.4 s for 8 s.
            deadline = time.monotonic() + 8
            step = 0
            while time.monotonic() < deadline:
                if step % 4 == 0 and newsroom.remaining:
                    newsroom.publish(2)
                terminated += await cut_connections(postgres_server, database)
                cuts += 1
                step += 1
                await asyncio.sleep(0.4)
            newsroom.publish_all()
            result = await until_all_delivered(slack, developments, bot, timeout=60)
            exit_code = await bot.terminate(timeout=8)
        finally:
            desk.close()
    figures = {
        "cuts": cuts,
        "backends_terminated": terminated,
        **result.figures(),
        "store_errors_logged": desk.logs("not saved") + desk.logs("outbox not reachable"),
    }
    print("\n" + describe("postgres", figures))
    for key, value in figures.items():
        record_property(key, value)
    assert terminated > 0, "the test never cut a connection of the bot"
    assert result.lost == 0, f"alerts lost: {result.missing()}\n{desk.tail()}"
    assert result.duplicated == 0, f"alerts posted twice: {result.doubled()}"
    assert not result.strays, result.strays
    assert exit_code == 0, desk.tail()


@pytest.mark.postgres
async def test_start_up_waits_out_a_server_that_ends_its_sessions(
    tmp_path: Path,
    postgres_url: str,
    postgres_server: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A PostgreSQL restart or failover while the bot starts: every session is ended for two
    seconds; the bot waits, says so one line per try, and starts. A wrong database name is
    not waited for."""
    database = make_url(postgres_url).database or ""
    config = write_config(
        tmp_path, {}, extra='[[routes]]\nplatform = "console"\nchannel = "desk"\n'
    )
    monkeypatch.setenv("TALKS_BOT_DATABASE_URL", postgres_url)
    settings = load_config(config, env_file=None)

    async def restarting() -> None:
        stop = time.monotonic() + 2
        while time.monotonic() < stop:
            await cut_connections(postgres_server, database)
            await asyncio.sleep(0.01)

    cutting = asyncio.create_task(restarting())
    await asyncio.sleep(0.05)
    async with TalksBot(settings, writer=True) as bot:
        assert await bot.store.schema_version() > 0
    await cutting
    waits = [r.getMessage() for r in caplog.records if "trying again in" in r.getMessage()]
    assert waits, "the restart was not seen: the test cut nothing"
    assert any("terminating connection" in w for w in waits)
    assert all(w.startswith(("database unreachable", "could not", "cannot take")) for w in waits)
    assert all("\n" not in w for w in waits)

    missing = make_url(postgres_url).set(database=database + "_missing")
    monkeypatch.setenv("TALKS_BOT_DATABASE_URL", missing.render_as_string(hide_password=False))
    started = time.monotonic()
    with pytest.raises(StoreError) as refused:
        async with TalksBot(load_config(config, env_file=None), writer=True):
            pass
    assert time.monotonic() - started < 5
    assert not refused.value.dropped
