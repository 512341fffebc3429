"""``/talks`` POSTed to the real HTTP-mode endpoint exactly as Slack sends it, signed for real.

The commands behind it are the real ``bot.core.commands.Commands`` on a real SQLite store, so the
replies checked here are the ones editors will see.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from slack_sdk.signature import SignatureVerifier

from bot.chat.slack.app import (
    WORKING,
    AdminRoles,
    build_slack_app,
    http_application,
    run_http_mode,
    slack_client,
)
from bot.core import messages as say
from bot.core.commands import Commands
from bot.core.models import SourceHealth, Story, StoryReport, Term, Topic, TopicScore
from bot.core.ports import PollRecord
from bot.core.replies import Caller, Reply
from bot.errors import ConfigError
from bot.store import SQLStore, open_store
from tests.chat.slack.fake_slack import TEAM, Call, FakeSlack

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
DEADLINE = aiohttp.ClientTimeout(total=3)
"""Slack gives up on a slash command not answered within 3 seconds."""

TOPICS = (
    Topic(
        "hostages",
        "Hostages",
        (Term("hostage", variants=("hostages",)),),
        aliases=("captives",),
        description="Hostage releases and exchanges",
    ),
    Topic("rafah", "Rafah crossing", (Term("Rafah"),), description="The Rafah crossing"),
    Topic(
        "cairo-talks",
        "Cairo talks",
        (Term("Cairo"),),
        aliases=("cairo",),
        description="Delegations in Cairo",
    ),
)

STORY = Story(
    id="c0ffee12",
    title="Delegation lands in Cairo for hostage talks",
    url="https://news.example.org/cairo-delegation",
    text="A delegation arrived in Cairo.",
    summary="A delegation arrived in Cairo.",
    published=NOW - timedelta(hours=1),
    updated=NOW - timedelta(hours=1),
    reports=(
        StoryReport(
            "r1",
            "wire",
            "Wire One",
            "Delegation lands in Cairo for hostage talks",
            "https://news.example.org/cairo-delegation",
            NOW - timedelta(hours=1),
        ),
    ),
    scores=(TopicScore("cairo-talks", 0.9), TopicScore("hostages", 0.7)),
)


@pytest.fixture
async def desk_store(tmp_path: Path) -> AsyncIterator[SQLStore]:
    store = open_store(str(tmp_path / "talks.db"))
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def commands(desk_store: SQLStore) -> Commands:
    return Commands(desk_store, TOPICS, lambda: NOW, sources=("wire",))


Serve = Callable[..., Awaitable[str]]


@pytest.fixture
async def serve(fake: FakeSlack) -> AsyncIterator[Serve]:
    """Start run_http_mode for a commands object; returns the events URL."""
    tasks: list[asyncio.Task[None]] = []

    async def start(handler: Any, http: dict[str, Any] | None = None, **options: Any) -> str:
        app = build_slack_app(
            handler,
            bot_token="xoxb-test-token",
            signing_secret=SECRET,
            api_base_url=fake.base_url,
            admins=("U0CHIEF",),
            **options,
        )
        bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        tasks.append(
            asyncio.create_task(
                run_http_mode(app, 0, "127.0.0.1", on_started=bound.set_result, **(http or {}))
            )
        )
        port = await asyncio.wait_for(bound, 5)
        return f"http://127.0.0.1:{port}/slack/events"

    yield start
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)


def slash_form(fake: FakeSlack, text: str, *, user: str = "U0REPORTER") -> dict[str, str]:
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "team_domain": "newsdesk",
        "channel_id": "C0DESK",
        "channel_name": "live-desk",
        "user_id": user,
        "user_name": "reporter",
        "command": "/talks",
        "text": text,
        "api_app_id": "A0TALKS",
        "is_enterprise_install": "false",
        "response_url": fake.response_url(),
        "trigger_id": "1337.42.abcdef",
    }


async def post_signed(
    url: str,
    form: dict[str, str],
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
) -> tuple[int, Any]:
    body = urlencode(form)
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature or "",
    }
    async with (
        aiohttp.ClientSession(timeout=DEADLINE) as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def next_response_url_call(fake: FakeSlack) -> Call:
    for _ in range(100):
        calls = fake.calls_to("response_url")
        if calls:
            return calls[0]
        await asyncio.sleep(0.05)
    raise AssertionError("nothing was posted to the response_url")


async def command(
    serve: Serve, fake: FakeSlack, handler: Any, text: str, **form: str
) -> dict[str, Any]:
    url = await serve(handler)
    status, body = await post_signed(url, slash_form(fake, text, **form))
    assert status == 200
    assert isinstance(body, dict)
    return body


def shown(payload: dict[str, Any]) -> str:
    return str(payload.get("text", "")) + repr(payload.get("blocks", []))


# answers ----------------------------------------------------------------------------------------
async def test_help_is_answered_privately_in_the_acknowledgement(
    serve: Serve, fake: FakeSlack, commands: Commands
) -> None:
    body = await command(serve, fake, commands, "help")
    assert body["response_type"] == "ephemeral"
    assert "subscribe TOPIC [channel]" in shown(body)
    assert body["blocks"][0]["type"] == "header"


async def test_subscribe_follows_topic_for_the_caller_only(
    serve: Serve, fake: FakeSlack, commands: Commands, desk_store: SQLStore
) -> None:
    body = await command(serve, fake, commands, "subscribe hostages")
    assert body["response_type"] == "ephemeral"
    assert "You now follow Hostages" in body["text"]
    subs = await desk_store.subscriptions_of("slack", TEAM, "U0REPORTER", False)
    assert [s.topic for s in subs] == ["hostages"]


async def test_topics_lists_watched_topics_privately(
    serve: Serve, fake: FakeSlack, commands: Commands
) -> None:
    body = await command(serve, fake, commands, "topics")
    assert body["response_type"] == "ephemeral"
    for topic in ("hostages", "rafah", "cairo-talks"):
        assert topic in shown(body)


async def test_unknown_topic_is_an_ephemeral_error_with_suggestions(
    serve: Serve, fake: FakeSlack, commands: Commands
) -> None:
    body = await command(serve, fake, commands, "subscribe hostgaes")
    assert body["response_type"] == "ephemeral"
    assert "There is no topic" in body["text"]
    assert "Did you mean: `hostages`" in shown(body)


async def test_unknown_subcommand_is_an_ephemeral_error_with_suggestions(
    serve: Serve, fake: FakeSlack, commands: Commands
) -> None:
    body = await command(serve, fake, commands, "subscirbe hostages")
    assert body["response_type"] == "ephemeral"
    assert "There is no command" in body["text"]
    assert "`subscribe`" in shown(body)


async def test_channel_subscription_is_refused_for_a_non_admin(
    serve: Serve, fake: FakeSlack, commands: Commands, desk_store: SQLStore
) -> None:
    body = await command(serve, fake, commands, "subscribe rafah channel")
    assert body["response_type"] == "ephemeral"
    assert "Only a channel admin" in body["text"]
    assert fake.calls_to("users.info")[0].params["user"] == "U0REPORTER"
    assert await desk_store.subscriptions_of("slack", TEAM, "C0DESK", True) == []


async def test_workspace_admin_subscribes_the_channel_visibly(
    serve: Serve, fake: FakeSlack, commands: Commands, desk_store: SQLStore
) -> None:
    fake.users["U0EDITOR"] = {"id": "U0EDITOR", "is_admin": True}
    body = await command(serve, fake, commands, "subscribe rafah channel", user="U0EDITOR")
    assert body["response_type"] == "in_channel"
    assert "This channel now gets alerts on Rafah crossing" in body["text"]
    subs = await desk_store.subscriptions_of("slack", TEAM, "C0DESK", True)
    assert [s.topic for s in subs] == ["rafah"]


async def test_configured_admin_needs_no_slack_role_lookup(
    serve: Serve, fake: FakeSlack, commands: Commands
) -> None:
    body = await command(serve, fake, commands, "mute 2h channel", user="U0CHIEF")
    assert body["response_type"] == "in_channel"
    assert fake.calls_to("users.info") == []


async def test_why_explains_a_story_by_its_id(
    serve: Serve, fake: FakeSlack, commands: Commands, desk_store: SQLStore
) -> None:
    await desk_store.commit_poll(
        PollRecord(source=SourceHealth("wire", "https://wire.example/rss"), stories=(STORY,))
    )
    body = await command(serve, fake, commands, "why c0ffee12")
    assert body["response_type"] == "ephemeral"
    assert "Cairo talks: 0.90" in shown(body)
    assert "<https://news.example.org/cairo-delegation|" in shown(body)


async def test_status_is_acknowledged_at_once_then_answered_via_response_url(
    serve: Serve, fake: FakeSlack, commands: Commands, desk_store: SQLStore
) -> None:
    await desk_store.commit_poll(
        PollRecord(source=SourceHealth("wire", "https://wire.example/rss"), stories=(STORY,))
    )
    body = await command(serve, fake, commands, "status 6h")
    assert body == {"text": WORKING, "response_type": "ephemeral"}
    answer = await next_response_url_call(fake)
    assert answer.params["response_type"] == "ephemeral"
    assert "Talks status — last 6h" in answer.params["text"]
    assert "Delegation lands in Cairo for hostage talks" in shown(answer.params)


LEFT = Story(
    id="dec0de34",
    title="Hamas delegation leaves Cairo without a hostage deal",
    url="https://news.example.org/cairo-left",
    text="",
    summary="",
    published=NOW - timedelta(minutes=20),
    updated=NOW - timedelta(minutes=10),
    reports=tuple(
        StoryReport(
            f"l{n}",
            "wire",
            outlet,
            "Hamas delegation leaves Cairo without a hostage deal",
            f"https://news.example.org/cairo-left-{n}",
            NOW - timedelta(minutes=20 - 10 * n),
        )
        for n, outlet in enumerate(("Wire One", "Nile Courier"))
    ),
    scores=(TopicScore("cairo-talks", 0.9), TopicScore("hostages", 0.7)),
)


async def test_since_and_the_talks_card_come_back_through_slack(
    serve: Serve, fake: FakeSlack, commands: Commands, desk_store: SQLStore
) -> None:
    await desk_store.commit_poll(
        PollRecord(source=SourceHealth("wire", "https://wire.example/rss"), stories=(STORY, LEFT))
    )
    body = await command(serve, fake, commands, "since 30m")
    assert body == {"text": WORKING, "response_type": "ephemeral"}
    answer = (await next_response_url_call(fake)).params
    assert answer["text"].startswith("Since 08:30 UTC: 1 development, newest first")
    assert "Hamas delegation leaves Cairo without a hostage deal" in shown(answer)
    assert "delegation leaving" in shown(answer)
    assert "Delegation lands in Cairo" not in answer["text"], "an hour ago is before the span"

    fake.calls.clear()
    await command(serve, fake, commands, "status")
    card = (await next_response_url_call(fake)).params
    assert "Where the talks stand" in shown(card)
    assert "Phase: talks stalled in Cairo, no deal" in card["text"]


# the 3-second rule and failures -----------------------------------------------------------------
class Sluggish:
    """Commands that take longer than the acknowledgement budget (a slow database)."""

    def is_slow(self, text: str) -> bool:
        return False

    async def handle(self, caller: Caller, text: str) -> Reply:
        await asyncio.sleep(0.6)
        return Reply(text=f"done for {caller.user_name}", ephemeral=False)


async def test_command_slower_than_budget_is_acknowledged_then_answered(
    serve: Serve, fake: FakeSlack
) -> None:
    url = await serve(Sluggish(), ack_budget=0.1)
    status, body = await post_signed(url, slash_form(fake, "subscriptions"))
    assert status == 200
    assert body == {"text": WORKING, "response_type": "ephemeral"}
    answer = await next_response_url_call(fake)
    assert answer.params["text"] == "done for reporter"
    assert answer.params["response_type"] == "in_channel"


async def test_crashing_command_gets_a_polite_private_answer_and_a_log_line(
    serve: Serve,
    fake: FakeSlack,
    commands: Commands,
    desk_store: SQLStore,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def exploding(*args: Any) -> Any:
        raise RuntimeError("database exploded")

    monkeypatch.setattr(desk_store, "subscriptions_of", exploding)
    body = await command(serve, fake, commands, "topics")
    assert body["response_type"] == "ephemeral"
    assert body["text"] == say.command_failed()
    assert "database exploded" not in shown(body)
    assert "Traceback" not in shown(body)
    [logged] = [r for r in caplog.records if "/talks topics failed" in r.getMessage()]
    assert "database exploded" in (logged.exc_text or "")


async def test_store_outage_during_a_command_asks_to_try_again(
    serve: Serve,
    fake: FakeSlack,
    commands: Commands,
    desk_store: SQLStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await desk_store.close()
    body = await command(serve, fake, commands, "subscribe hostages")
    assert body["response_type"] == "ephemeral"
    assert body["text"] == "The bot cannot reach its database just now: try again in a minute."
    [logged] = [r for r in caplog.records if "not answered" in r.getMessage()]
    assert logged.levelno == logging.WARNING
    assert "the store is not open" in logged.getMessage()
    assert logged.exc_info is None


async def test_a_slow_command_that_crashes_is_answered_through_the_response_url(
    serve: Serve,
    fake: FakeSlack,
    commands: Commands,
    desk_store: SQLStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def exploding(*args: Any) -> Any:
        raise RuntimeError("status query exploded")

    monkeypatch.setattr(desk_store, "stories", exploding)
    body = await command(serve, fake, commands, "status")
    assert body == {"text": WORKING, "response_type": "ephemeral"}
    answer = await next_response_url_call(fake)
    assert answer.params["text"] == say.command_failed()
    assert answer.params["response_type"] == "ephemeral"


async def test_an_unreachable_users_info_counts_the_caller_as_a_non_admin(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Slack not answering the role look-up is no crash: configured admins still count."""
    unreachable = slack_client("xoxb-test-token", api_base_url="http://127.0.0.1:9/", timeout=2)
    roles = AdminRoles(("U0CHIEF",))
    assert await roles.is_admin(unreachable, TEAM, "U0REPORTER") is False
    assert await roles.is_admin(unreachable, TEAM, "U0CHIEF") is True
    [logged] = [r for r in caplog.records if "users.info did not answer" in r.getMessage()]
    assert "U0REPORTER counts as a non-admin" in logged.getMessage()


async def test_unknown_topic_gets_one_line_saying_what_to_do(
    serve: Serve, fake: FakeSlack, commands: Commands
) -> None:
    body = await command(serve, fake, commands, "subscribe gaza-aid")
    assert body["response_type"] == "ephemeral"
    assert "\n" not in body["text"]
    assert body["text"].startswith("There is no topic “gaza-aid”.")
    assert body["text"].endswith("Type `topics` to list them.")


async def test_a_mute_too_long_names_the_longest_allowed(
    serve: Serve, fake: FakeSlack, commands: Commands
) -> None:
    body = await command(serve, fake, commands, "mute 8d")
    assert body["text"] == (
        "“8d” is not a duration: write e.g. `90s`, `30m`, `2h` or `1d` (at most 7d)."
    )


# request verification ---------------------------------------------------------------------------
async def test_request_with_bad_signature_is_refused(
    serve: Serve, fake: FakeSlack, commands: Commands, desk_store: SQLStore
) -> None:
    url = await serve(commands)
    status, _ = await post_signed(url, slash_form(fake, "subscribe hostages"), secret="wrong")
    assert status == 401
    assert await desk_store.subscriptions_of("slack", TEAM, "U0REPORTER", False) == []


async def test_request_with_stale_timestamp_is_refused(
    serve: Serve, fake: FakeSlack, commands: Commands, desk_store: SQLStore
) -> None:
    url = await serve(commands)
    stale = int(time.time()) - 6 * 60
    status, _ = await post_signed(url, slash_form(fake, "subscribe hostages"), timestamp=stale)
    assert status == 401
    assert await desk_store.subscriptions_of("slack", TEAM, "U0REPORTER", False) == []


async def test_a_flood_of_half_open_connections_does_not_starve_talks(
    serve: Serve, fake: FakeSlack, commands: Commands, caplog: pytest.LogCaptureFixture
) -> None:
    """Sixty clients connect and send half a request, then nothing: the endpoint keeps at most
    its cap open (the oldest give way), answers ``/talks help`` within Slack's 3 s, closes the
    idle ones after the idle time, says so once, and asyncio's out-of-files traceback, when it
    comes, is one line."""
    url = await serve(commands, http={"max_connections": 20, "idle_seconds": 1.0})
    port = int(url.split(":")[2].split("/")[0])
    idle = []
    for _ in range(60):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /slack/events HTTP/1.1\r\nHost: desk\r\nContent-Le")
        await writer.drain()
        idle.append((reader, writer))
    started = time.monotonic()
    status, body = await post_signed(url, slash_form(fake, "help"))
    assert status == 200
    assert time.monotonic() - started < 3
    assert body

    async def closed(reader: asyncio.StreamReader) -> bool:
        try:
            return await asyncio.wait_for(reader.read(), 0.05) == b""
        except (TimeoutError, ConnectionError):
            return False

    evicted = sum([await closed(r) for r, _ in idle])
    assert evicted >= 40
    await asyncio.sleep(1.6)
    assert all([await closed(r) for r, _ in idle])
    for _, writer in idle:
        writer.close()
    noisy = logging.getLogger("asyncio")
    for _ in range(50):
        try:
            raise OSError(24, "Too many open files")
        except OSError:
            noisy.error("socket.accept() out of system resource", exc_info=True)
    crowded = [r for r in caplog.records if "connections open" in r.getMessage()]
    files = [r for r in caplog.records if "out of open files" in r.getMessage()]
    assert len(crowded) == 1
    assert len(files) == 1
    assert files[0].exc_info is None
    assert "LimitNOFILE" in files[0].getMessage()


def test_http_mode_refuses_to_start_without_a_signing_secret(commands: Commands) -> None:
    app = build_slack_app(commands, bot_token="xoxb-test-token", signing_secret=None)
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        http_application(app)
