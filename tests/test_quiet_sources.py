"""Quiet and stale sources end to end: a real feed server on 127.0.0.1 that stops publishing,
the product's poller polling it over real HTTP, ``status`` saying so, and the ops channel on a
fake Slack Web API (the real slack_sdk client) hearing of each change once, restarts included."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import TalksBot
from bot.chat.slack.app import slack_client
from bot.chat.slack.notifier import SlackNotifier
from bot.config import Settings, load_config
from bot.core.status import status_reply
from tests.bot_process import rss
from tests.chat.slack.fake_slack import FakeSlack
from tests.ingest.servers import FeedServer

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2023, 11, 6, 6, 0, tzinfo=UTC)
EVERY = timedelta(minutes=10)
FILED = 40
"""Items the wire files, one per poll, before it falls silent."""
LAST = START + (FILED - 1) * EVERY
"""Its last item: 12:30 UTC (polled at 12:31, 14:31 in Jerusalem)."""


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def settings_for(tmp_path: Path, url: str, extra: str = "") -> Settings:
    path = tmp_path / "talks.toml"
    path.write_text(
        f'topics_from = "{ROOT / "config" / "default.toml"}"\n'
        '[bot]\ntimezone = "Asia/Jerusalem"\n'
        f'[[sources]]\nname = "levant"\nurl = "{url}"\n{extra}',
        encoding="utf-8",
    )
    return load_config(path, env_file=None)


def filed(count: int) -> bytes:
    items = [
        (
            f"note-{i}",
            f"Harbour desk note number {i} on regional shipping",
            f"Routine note {i} from the harbour desk about shipping traffic.",
            START + i * EVERY,
        )
        for i in range(count)
    ]
    return rss("Levant Wire", items[::-1][:20])


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKS_BOT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test")


async def poll_at(bot: TalksBot, clock: Clock, at: datetime) -> None:
    clock.now = at
    [summary] = (await bot.poller.cycle(bot.sources)).polls
    assert summary.ok, summary.error


async def status_text(bot: TalksBot, at: datetime) -> str:
    view = await bot.commands.status_view(at, timedelta(hours=24))
    return status_reply(view).text


async def file_then_fall_silent(
    bot: TalksBot, clock: Clock, server: FeedServer, *, etag: bool = True
) -> None:
    """The wire files an item every ten minutes from 06:00 to 12:30 UTC, polled after each."""
    for n in range(1, FILED + 1):
        server.serve("/levant.xml", filed(n), etag=etag)
        await poll_at(bot, clock, START + (n - 1) * EVERY + timedelta(minutes=1))


async def test_a_wire_that_falls_silent_is_quieter_than_usual_in_status(
    tmp_path: Path, server: FeedServer
) -> None:
    clock = Clock()
    settings = settings_for(tmp_path, server.url("/levant.xml"))
    async with TalksBot(settings, clock=clock, out=io.StringIO()) as bot:
        await file_then_fall_silent(bot, clock, server)
        # Polled on: the server answers 304, nothing new.
        for minutes in range(30, 6 * 60, 30):
            await poll_at(bot, clock, LAST + timedelta(minutes=minutes))
        before = await status_text(bot, LAST + timedelta(hours=5, minutes=50))
        await poll_at(bot, clock, LAST + timedelta(hours=6, minutes=5))
        after = await status_text(bot, LAST + timedelta(hours=6, minutes=5))
    assert server.conditional_count("/levant.xml") > 5
    assert "Sources: 1 of 1 healthy" in before
    assert "quieter" not in before
    assert "Sources: 0 of 1 healthy, 1 quiet" in after
    # In the desk's time zone (Asia/Jerusalem, UTC+2 in November).
    assert (
        "levant quieter than usual since 14:31 IST: nothing new for 6h (usually every 10 min)"
        in (after)
    )


async def test_the_same_items_served_as_new_for_a_day_are_stale_in_status(
    tmp_path: Path, server: FeedServer
) -> None:
    clock = Clock()
    settings = settings_for(tmp_path, server.url("/levant.xml"))
    async with TalksBot(settings, clock=clock, out=io.StringIO()) as bot:
        # No ETag: every poll is a full 200 with the same items.
        await file_then_fall_silent(bot, clock, server, etag=False)
        for hours in range(1, 26):
            await poll_at(bot, clock, LAST + timedelta(hours=hours))
        text = await status_text(bot, LAST + timedelta(hours=25))
    assert server.conditional_count("/levant.xml") == 0
    assert "1 stale" in text
    assert "levant stale since 15:30 IST 06 Nov: it answers as if it had news" in text


async def test_the_ops_channel_hears_of_each_change_once_across_a_restart(
    tmp_path: Path, server: FeedServer, fake_slack: FakeSlack
) -> None:
    clock = Clock()
    settings = settings_for(
        tmp_path,
        server.url("/levant.xml"),
        '[slack]\n[ops]\nchannel = "slack:C0OPSDESK"\n',
    )

    def bot() -> TalksBot:
        slack = SlackNotifier(slack_client("xoxb-test", api_base_url=fake_slack.base_url))
        return TalksBot(settings, clock=clock, out=io.StringIO(), notifiers={"slack": slack})

    def heard() -> list[str]:
        return [str(m.get("text", "")) for m in fake_slack.history["C0OPSDESK"]]

    async with bot() as first:
        await file_then_fall_silent(first, clock, server)
        assert heard() == []  # a healthy source is not announced
        for hours in (3, 6.5, 7, 8):
            await poll_at(first, clock, LAST + timedelta(hours=hours))
    assert len(heard()) == 1
    assert heard()[0].startswith("⚠ Source levant has gone quiet: nothing new since 14:31 IST")

    # A restart: the announcement was remembered, not repeated.
    async with bot() as second:
        await poll_at(second, clock, LAST + timedelta(hours=9))
        assert len(heard()) == 1
        server.fail("/levant.xml", 503)
        await poll_at_failing(second, clock, LAST + timedelta(hours=10))
        assert len(heard()) == 2
        assert "levant is failing (1×): 127.0.0.1 answered HTTP 503" in heard()[1]
    async with bot() as third:
        await poll_at_failing(third, clock, LAST + timedelta(hours=11))
        assert len(heard()) == 2  # still failing: nothing new to say
        server.serve("/levant.xml", filed(FILED + 1))
        await poll_at(third, clock, LAST + timedelta(hours=12))
        await poll_at(third, clock, LAST + timedelta(hours=12, minutes=10))
    assert len(heard()) == 3
    assert "levant has recovered (was failing)" in heard()[2]


async def test_an_ops_channel_outage_costs_the_alerts_nothing(
    tmp_path: Path, server: FeedServer, fake_slack: FakeSlack
) -> None:
    clock = Clock()
    settings = settings_for(
        tmp_path, server.url("/levant.xml"), '[slack]\n[ops]\nchannel = "slack:C0OPSDESK"\n'
    )
    slack = SlackNotifier(slack_client("xoxb-test", api_base_url=fake_slack.base_url))
    async with TalksBot(settings, clock=clock, out=io.StringIO(), notifiers={"slack": slack}) as b:
        server.fail("/levant.xml", 503)
        fake_slack.server_error("chat.postMessage", status=503)
        await poll_at_failing(b, clock, START)
        assert fake_slack.history["C0OPSDESK"] == []
        # The poll was saved all the same, and the news is told after the next poll.
        stored = await b.store.get_source("levant")
        assert stored is not None
        assert (stored.consecutive_failures, stored.announced) == (1, "")
        await poll_at_failing(b, clock, START + timedelta(hours=2))
    [told] = fake_slack.history["C0OPSDESK"]
    assert "levant is failing (2×)" in str(told.get("text"))


async def poll_at_failing(bot: TalksBot, clock: Clock, at: datetime) -> None:
    clock.now = at
    [summary] = (await bot.poller.cycle(bot.sources)).polls
    assert not summary.ok
