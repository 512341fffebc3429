"""Adaptive polling wired into the bot: each poll sets when the source is due, the scheduler
keeps to it, busy feeds are polled more often than quiet ones, servers' wishes are honoured."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import TalksBot
from bot.config import Settings, load_config
from tests.bot_process import eventually, rss
from tests.ingest.servers import FeedServer

ROOT = Path(__file__).resolve().parents[1]


def items(prefix: str, every: timedelta, count: int, newest: datetime) -> list[tuple]:  # type: ignore[type-arg]
    return [
        (
            f"{prefix}-{i}",
            f"{prefix.title()} desk note number {i} on regional shipping",
            f"Routine note {i} from the {prefix} desk about harbour traffic.",
            newest - i * every,
        )
        for i in range(count)
    ]


def settings_for(tmp_path: Path, sources: dict[str, str], bot: str) -> Settings:
    lines = [f"[bot]\n{bot}\n"]
    for name, url in sources.items():
        lines.append(f'[[sources]]\nname = "{name}"\nurl = "{url}"\n')
    topics = f'topics_from = "{ROOT / "config" / "default.toml"}"\n'
    path = tmp_path / "talks.toml"
    path.write_text("\n".join([topics, *lines]), encoding="utf-8")
    return load_config(path, env_file=None)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKS_BOT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")


async def test_busy_feed_is_due_sooner_than_a_quiet_one(tmp_path: Path, server: FeedServer) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    server.serve("/busy.xml", rss("Busy Wire", items("busy", timedelta(minutes=2), 20, now)))
    server.serve(
        "/quiet.xml",
        rss("Quiet Weekly", items("quiet", timedelta(days=7), 4, now - timedelta(days=3))),
    )
    settings = settings_for(
        tmp_path,
        {"busy": server.url("/busy.xml"), "quiet": server.url("/quiet.xml")},
        'min_poll_interval = "1m"\nmax_poll_interval = "30m"',
    )
    async with TalksBot(settings, clock=lambda: now, out=io.StringIO()) as bot:
        cycle = await bot.poller.cycle(bot.sources)
        due = {p.source: p.next_poll for p in cycle.polls}
        assert due == {"busy": now + timedelta(minutes=1), "quiet": now + timedelta(minutes=30)}
        stored = await bot.store.get_source("busy")
        assert stored is not None
        assert stored.next_poll_after == now + timedelta(minutes=1)
        # Being due later never stops a manual poll: poll-once polls again, conditionally.
        again = await bot.poller.cycle(bot.sources)
    assert all(p.ok and p.not_modified for p in again.polls)
    assert server.conditional_count("/busy.xml") == 1


async def test_cache_max_age_holds_the_next_poll_back(tmp_path: Path, server: FeedServer) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    server.serve(
        "/cached.xml",
        rss("Cached Wire", items("cached", timedelta(minutes=2), 20, now)),
        headers={"Cache-Control": "public, max-age=600"},
    )
    settings = settings_for(tmp_path, {"cached": server.url("/cached.xml")}, "")
    async with TalksBot(settings, clock=lambda: now, out=io.StringIO()) as bot:
        [poll] = (await bot.poller.cycle(bot.sources)).polls
    assert poll.next_poll == now + timedelta(minutes=10)


async def test_retry_after_keeps_the_source_waiting_without_requests(
    tmp_path: Path, server: FeedServer
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    server.fail("/busy.xml", 429, headers={"Retry-After": "900"})
    settings = settings_for(tmp_path, {"busy": server.url("/busy.xml")}, "")
    async with TalksBot(settings, clock=lambda: now, out=io.StringIO()) as bot:
        [failed] = (await bot.poller.cycle(bot.sources)).polls
        [waiting] = (await bot.poller.cycle(bot.sources)).polls
    assert not failed.ok
    assert failed.next_poll == now + timedelta(seconds=900)
    assert waiting.error == "backing off"
    assert server.count("/busy.xml") == 1


async def test_scheduler_polls_the_busy_feed_repeatedly_and_the_quiet_one_once(
    tmp_path: Path, server: FeedServer
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    server.serve("/busy.xml", rss("Busy Wire", items("busy", timedelta(seconds=1), 20, now)))
    server.serve(
        "/quiet.xml",
        rss("Quiet Weekly", items("quiet", timedelta(days=7), 4, now - timedelta(days=3))),
    )
    settings = settings_for(
        tmp_path,
        {"busy": server.url("/busy.xml"), "quiet": server.url("/quiet.xml")},
        'min_poll_interval = "1s"\nmax_poll_interval = "1h"\npoll_jitter = "0.05s"',
    )
    stop = asyncio.Event()
    async with TalksBot(settings, out=io.StringIO()) as bot:
        running = asyncio.create_task(bot.run(stop))
        try:
            await eventually(
                lambda: server.count("/busy.xml") >= 3,
                timeout=15,
                what="three polls of the busy feed",
                bot=None,
            )
        finally:
            stop.set()
            await running
    assert server.count("/quiet.xml") == 1
