"""One slow channel must not stall every channel (issue 12, items 5 and 8).

The bot runs in this process (``TalksBot.run``: the scheduler, the polls, the courier loop) against
feeds on a local ``FeedServer``, a fake Slack and a fake Discord over real sockets, with the real
slack_sdk and discord.py clients. One Slack channel misbehaves on cue: it answers a post with 429
and a Retry-After, or posts the message and then answers 500 or drops the connection. What is
checked is what an editor scrolling each channel sees, and how soon.

The bot's clock is one the test can move forward, so a Retry-After of 90 s is waited out in no
time; nothing in slack_sdk or discord.py uses it, so a wait they do inside a call is a real one.

Reproduce::

    .venv/bin/pytest -s tests/faults/test_slow_channel.py
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.app import TalksBot
from bot.chat.discord import endpoints
from bot.chat.discord.client import TalksDiscordClient
from bot.chat.discord.notifier import DiscordNotifier
from bot.chat.slack.app import slack_client
from bot.chat.slack.notifier import SlackNotifier
from bot.config import load_config
from bot.core.backoff import retry_after_seconds
from tests.bot_process import free_port, write_config
from tests.chat.discord.fake_discord import GUILD_ID, NEWSROOM_CHANNEL, FakeDiscord
from tests.chat.slack.fake_slack import Call, FakeSlack, _params
from tests.faults.harness import DEVELOPMENTS, OUTLETS, Development, Newsroom
from tests.ingest.servers import FeedServer

SLOW = "C0SLOWDESK"
"""The Slack channel that misbehaves."""
FAST = "C0FASTDESK"
"""Another Slack channel of the same workspace."""
DISCORD = "discord"

# Developments reported by one outlet each (no echo), so every one is exactly one alert.
STORIES = tuple(d for d in DEVELOPMENTS if d.echo_outlet is None)[:3]

PROMPT = 5.0
"""A new alert reaches an unaffected channel within this (a stall held them 45 s and more)."""


class ChannelSlack(FakeSlack):
    """The fake Slack, where one channel's next posts can go wrong.

    ``"429:<Retry-After>"``: rate limited, nothing posted. ``"500"``: the message is posted, then
    the answer is a 500. ``"drop"``: posted, then the connection is closed before any answer.
    """

    def __init__(self) -> None:
        super().__init__()
        self.troubles: dict[str, list[str]] = defaultdict(list)
        self.refused: list[Call] = []

    def trouble(self, channel: str, *kinds: str) -> None:
        self.troubles[channel].extend(kinds)

    def posts_to(self, channel: str) -> list[Call]:
        return [c for c in self.calls_to("chat.postMessage") if c.params["channel"] == channel]

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if method != "chat.postMessage":
            return await super()._api(request)
        params = await _params(request)
        queue = self.troubles[str(params.get("channel", ""))]
        if not queue:
            return await super()._api(request)
        kind = queue.pop(0)
        if kind.startswith("429:"):
            call = Call(method, params, dict(request.headers))
            self.calls.append(call)
            self.refused.append(call)
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": kind.removeprefix("429:")},
            )
        response = await super()._api(request)  # Slack posted it...
        if kind == "500":
            return web.Response(status=500, text="upstream trouble")  # ...and the answer is lost
        assert kind == "drop"
        assert request.transport is not None
        request.transport.close()
        return response


@dataclass
class MovableClock:
    """The bot's clock: real time plus however far the test moved it."""

    ahead: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead

    def move(self, seconds: float) -> None:
        self.ahead += timedelta(seconds=seconds)


@dataclass
class Newsdesk:
    """The running bot and everything around it."""

    bot: TalksBot
    newsroom: Newsroom
    slack: ChannelSlack
    discord: FakeDiscord | None
    clock: MovableClock

    def seen(self, where: str, story: Development) -> int:
        """How many messages about ``story`` an editor sees in ``where``."""
        if where == DISCORD:
            assert self.discord is not None
            bodies = [
                json.dumps(m)
                for m in self.discord.messages.values()
                if m["channel_id"] == str(NEWSROOM_CHANNEL)
            ]
        else:
            bodies = [
                str(m.get("text", "")) + json.dumps(m.get("blocks", []))
                for m in self.slack.history.get(where, [])
            ]
        return sum(1 for body in bodies if any(link in body for link in story.links()))

    def everywhere(self) -> list[str]:
        return [SLOW, FAST, *([DISCORD] if self.discord is not None else [])]


async def until(probe: Callable[[], bool], *, timeout: float, what: str) -> float:  # noqa: ASYNC109
    """Seconds until ``probe()`` holds (polled while the bot and the fakes run)."""
    started = time.monotonic()
    while not probe():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"gave up after {timeout:g}s waiting for {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture
async def slack() -> AsyncIterator[ChannelSlack]:
    server = ChannelSlack()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    try:
        yield server
    finally:
        await server.close()
        endpoints.restore_defaults()


@pytest.fixture
def open_desk(
    tmp_path: Path, slack: ChannelSlack, discord_fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Any]:
    """``async with open_desk(discord=True) as desk``: the bot running, nothing published yet."""
    monkeypatch.setenv("TALKS_BOT_DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-slow-desk-0001")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f")
    monkeypatch.setenv("DISCORD_TOKEN", "fake-token")

    @asynccontextmanager
    async def opened(*, discord: bool) -> AsyncIterator[Newsdesk]:
        routes = "".join(
            f'[[routes]]\nplatform = "slack"\nchannel = "{channel}"\ntopics = ["*"]\n\n'
            for channel in (SLOW, FAST)
        )
        extra = (
            f'[flood]\nmax_alerts = 100\nper = "1m"\n\n'
            f'[slack]\nmode = "http"\nport = {free_port()}\n'
            f'api_base_url = "{slack.base_url}"\n\n'
        )
        if discord:
            extra += (
                f"[discord]\nguilds = [{GUILD_ID}]\n"
                f'api_base_url = "{discord_fake.api_base}"\n'
                f'gateway_url = "{discord_fake.gateway_url}"\n\n'
            )
            routes += (
                f'[[routes]]\nplatform = "discord"\nchannel = "{NEWSROOM_CHANNEL}"\n'
                f'workspace = "{GUILD_ID}"\ntopics = ["*"]\n\n'
            )
        with FeedServer() as feeds:
            newsroom = Newsroom(feeds, STORIES)
            sources = {
                name: (feeds.url(f"/{name}.xml"), outlet) for name, outlet in OUTLETS.items()
            }
            config = write_config(tmp_path, sources, extra=extra + routes)
            clock = MovableClock()
            settings = load_config(config, env_file=None)
            async with TalksBot(settings, clock=clock) as bot:
                client = slack_client("xoxb-slow-desk-0001", api_base_url=slack.base_url, timeout=5)
                bot.add_notifier(SlackNotifier(client, pace_seconds=0.1))
                chat: TalksDiscordClient | None = None
                chat_task: asyncio.Task[None] | None = None
                if discord:
                    chat = TalksDiscordClient(
                        bot.commands,
                        guilds=[GUILD_ID],
                        api_base_url=discord_fake.api_base,
                        gateway_url=discord_fake.gateway_url,
                        guild_ready_timeout=0.05,
                    )
                    chat_task = asyncio.create_task(chat.start("fake-token"))
                    await until(chat.is_ready, timeout=5, what="the Discord login")
                    bot.add_notifier(DiscordNotifier(chat))
                stop = asyncio.Event()
                running = asyncio.create_task(bot.run(stop))
                try:
                    yield Newsdesk(bot, newsroom, slack, discord_fake if discord else None, clock)
                finally:
                    stop.set()
                    await asyncio.wait_for(running, 20)
                    if chat is not None and chat_task is not None:
                        await chat.close()
                        await chat_task

    return opened


async def test_slack_channel_told_to_wait_90s_holds_up_no_other_channel(
    open_desk: Callable[..., Any], record_property: Callable[[str, object], None]
) -> None:
    first, second = STORIES[:2]
    async with open_desk(discord=True) as desk:
        desk.slack.trouble(SLOW, "429:90")
        desk.newsroom.publish(1)
        await until(
            lambda: all(desk.seen(w, first) for w in (FAST, DISCORD)) and desk.slack.refused,
            timeout=20,
            what="the first alert on the other channels, and the 429 on the slow one",
        )
        # A new development while the slow channel is told to wait 90 s.
        desk.newsroom.publish(1)
        took = await until(
            lambda: all(desk.seen(w, second) for w in (FAST, DISCORD)),
            timeout=PROMPT + 3,  # the poll itself takes up to ~2 s (1 s interval, jitter)
            what=f"the second alert on {FAST} and Discord while {SLOW} waits out its 90 s",
        )
        record_property("second_alert_seconds", round(took, 2))
        assert took < PROMPT
        assert desk.seen(SLOW, first) == desk.seen(SLOW, second) == 0, "Retry-After not honoured"
        desk.clock.move(95)  # the 90 s pass
        await until(
            lambda: desk.seen(SLOW, first) and desk.seen(SLOW, second),
            timeout=15,
            what=f"both alerts on {SLOW} once its wait is over",
        )
        await asyncio.sleep(1.5)  # time for a stray second copy to show
        counts = {(w, s.key): desk.seen(w, s) for w in desk.everywhere() for s in (first, second)}
    assert set(counts.values()) == {1}, f"lost or doubled: {counts}"
    assert len(desk.slack.refused) == 1


async def test_retry_after_with_a_fraction_neither_crashes_the_round_nor_goes_early(
    open_desk: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    story = STORIES[0]
    async with open_desk(discord=False) as desk:
        desk.slack.trouble(SLOW, "429:1.5")
        desk.newsroom.publish(1)
        await until(lambda: desk.seen(FAST, story) > 0, timeout=20, what=f"the alert on {FAST}")
        await until(lambda: desk.seen(SLOW, story) > 0, timeout=20, what=f"the alert on {SLOW}")
        await asyncio.sleep(1.5)
        counts = {w: desk.seen(w, story) for w in desk.everywhere()}
    crashed = [r.getMessage() for r in caplog.records if "crashed" in r.getMessage()]
    assert crashed == [], crashed
    refused, posted = desk.slack.posts_to(SLOW)
    assert refused in desk.slack.refused
    assert posted.at - refused.at >= 1.5, "posted again before Slack's Retry-After was up"
    assert counts == {SLOW: 1, FAST: 1}


@pytest.mark.parametrize("trouble", ["500", "drop"])
async def test_post_that_slack_took_but_never_confirmed_shows_once(
    open_desk: Callable[..., Any], trouble: str
) -> None:
    story = STORIES[0]
    async with open_desk(discord=False) as desk:
        desk.slack.trouble(SLOW, trouble)
        desk.newsroom.publish(1)
        await until(lambda: desk.seen(FAST, story) > 0, timeout=20, what=f"the alert on {FAST}")
        await until(
            lambda: desk.seen(SLOW, story) > 0, timeout=5, what=f"the post Slack took on {SLOW}"
        )
        await asyncio.sleep(1.5)  # time for a resend inside slack_sdk to show
        assert desk.seen(SLOW, story) == 1, "resent without looking whether it had arrived"
        desk.clock.move(60)  # the courier's retry is due
        await until(
            lambda: bool(desk.slack.calls_to("conversations.history")),
            timeout=15,
            what="the courier looking in the channel before posting again",
        )
        await asyncio.sleep(6)  # more rounds: the alert was recorded as posted, not retried
        counts = {w: desk.seen(w, story) for w in desk.everywhere()}
    assert counts == {SLOW: 1, FAST: 1}
    assert len(desk.slack.posts_to(SLOW)) == 1


async def test_discord_rate_limit_waited_inside_discord_py_holds_up_no_slack_channel(
    open_desk: Callable[..., Any], record_property: Callable[[str, object], None]
) -> None:
    """discord.py sleeps out a 429 of up to a minute inside the call; the bot bounds the call."""
    first, second = STORIES[:2]
    messages = rf"/channels/{NEWSROOM_CHANNEL}/messages"
    async with open_desk(discord=True) as desk:
        assert desk.discord is not None
        desk.discord.rate_limit("POST", messages, retry_after=25.0)
        desk.newsroom.publish(1)
        await until(
            lambda: (
                all(desk.seen(w, first) for w in (SLOW, FAST))
                and bool(desk.discord and desk.discord.calls("POST", messages))
            ),
            timeout=20,
            what="the first alert on Slack, and the 429 on Discord",
        )
        desk.newsroom.publish(1)
        took = await until(
            lambda: all(desk.seen(w, second) for w in (SLOW, FAST)),
            timeout=PROMPT + 3,
            what="the second alert on Slack while Discord is rate limited",
        )
        record_property("second_alert_seconds", round(took, 2))
        assert took < PROMPT
        # The send gives up after its bound (10 s) and is due again after a short backoff.
        desk.clock.move(60)
        await until(
            lambda: desk.seen(DISCORD, first) and desk.seen(DISCORD, second),
            timeout=30,
            what="both alerts on Discord once its send was given up and retried",
        )
        await asyncio.sleep(1.5)
        counts = {(w, s.key): desk.seen(w, s) for w in desk.everywhere() for s in (first, second)}
    assert set(counts.values()) == {1}, f"lost or doubled: {counts}"


NOW = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("90", 90.0),
        ("1.5", 1.5),
        (" 2 ", 2.0),
        ("Mon, 06 May 2024 09:01:30 GMT", 90.0),
        ("Mon, 06 May 2024 08:00:00 GMT", 0.0),  # already past: try now
        ("99999999", 86400.0),  # at most a day
        (1e300, 86400.0),
        ("soon", None),
        ("nan", None),
        ("-5", None),
        ("1e9", None),
        ("Mon, 06 May 2024 09:01:30", None),  # a date without a zone
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_robustly_and_bounded(header: object, seconds: float | None) -> None:
    assert retry_after_seconds(header, NOW) == seconds
