from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack.app import slack_client
from bot.chat.slack.notifier import TRANSIENT_RETRY_SECONDS, SlackNotifier
from bot.core.models import Alert, Destination, Digest
from bot.errors import DeliveryError
from tests.chat.slack.fake_slack import BOT_ID, FakeSlack, Scripted

DESK = Destination(platform="slack", channel="C0DESK", workspace="T0NEWSDESK")
OTHER_DESK = Destination(platform="slack", channel="C0WORLD", workspace="T0NEWSDESK")
GONE = Destination(platform="slack", channel="CGONE42", workspace="T0NEWSDESK")
EDITOR_DM = Destination(platform="slack", channel="U0EDITOR", workspace="T0NEWSDESK", direct=True)

ALERT = Alert(
    story_id="f00dcafe",
    title="Rafah crossing to reopen for aid convoys, officials say",
    url="https://news.example.org/rafah-crossing?ref=rss&id=4",
    summary="Officials on both sides confirmed the crossing will open at dawn.",
    outlets=("Wire One", "Harbour Post"),
    published=datetime(2024, 5, 7, 5, 30, tzinfo=UTC),
    topics=("rafah",),
    score=0.74,
    why_hint="Rafah (headline) · 2 outlets",
)


@pytest.fixture
def notifier(client: AsyncWebClient) -> SlackNotifier:
    """Paced lightly so tests stay quick; the pacing test uses Slack's real one second."""
    return SlackNotifier(client, pace_seconds=0.1)


def block_text(blocks: list[dict[str, object]]) -> str:
    return repr(blocks)


async def test_alert_is_posted_with_blocks_and_returns_message_ts(
    fake: FakeSlack, notifier: SlackNotifier
) -> None:
    ts = await notifier.send(DESK, ALERT)
    (call,) = fake.calls_to("chat.postMessage")
    assert call.params["channel"] == "C0DESK"
    assert ts == fake.history["C0DESK"][0]["ts"]
    assert "Rafah crossing to reopen" in call.params["text"]
    assert "<https://news.example.org/rafah-crossing?ref=rss&amp;id=4|" in block_text(
        call.params["blocks"]
    )
    assert call.params["unfurl_links"] is False
    assert call.headers["Authorization"] == "Bearer xoxb-test-token"


async def test_update_edits_the_posted_alert_in_place(
    fake: FakeSlack, notifier: SlackNotifier
) -> None:
    ts = await notifier.send(DESK, ALERT)
    better = replace(ALERT, outlets=("Wire One", "Harbour Post", "Radio North"))
    await notifier.update(DESK, ts, better)
    (call,) = fake.calls_to("chat.update")
    assert call.params["channel"] == "C0DESK"
    assert call.params["ts"] == ts
    # Three outlets are all named (the one outlets line, bot.core.messages.outlets_line).
    assert "Wire One, Harbour Post, Radio North" in block_text(fake.history["C0DESK"][0]["blocks"])


async def test_direct_message_opens_conversation_once_then_posts(
    fake: FakeSlack, notifier: SlackNotifier
) -> None:
    await notifier.send(EDITOR_DM, ALERT)
    await notifier.send(EDITOR_DM, replace(ALERT, story_id="beadfeed"))
    opens = fake.calls_to("conversations.open")
    assert len(opens) == 1
    assert opens[0].params["users"] == "U0EDITOR"
    posts = fake.calls_to("chat.postMessage")
    assert [p.params["channel"] for p in posts] == ["D0EDITOR", "D0EDITOR"]


async def test_digest_arrives_as_one_message(fake: FakeSlack, notifier: SlackNotifier) -> None:
    digest = Digest(
        id="dg1",
        alerts=(ALERT, replace(ALERT, story_id="beadfeed", title="Cairo talks resume Sunday")),
        created=datetime(2024, 5, 7, 6, 0, tzinfo=UTC),
    )
    ts = await notifier.send_digest(DESK, digest)
    (call,) = fake.calls_to("chat.postMessage")
    assert ts == fake.history["C0DESK"][0]["ts"]
    assert call.params["blocks"][0]["text"]["text"] == "2 stories on the talks"
    assert "Cairo talks resume Sunday" in block_text(call.params["blocks"])


async def test_hostile_headline_arrives_inert(fake: FakeSlack, notifier: SlackNotifier) -> None:
    await notifier.send(DESK, replace(ALERT, title="<!channel> Breaking & <https://evil|click>"))
    (call,) = fake.calls_to("chat.postMessage")
    sent = call.params["text"] + block_text(call.params["blocks"])
    assert "<!channel>" not in sent
    assert "<https://evil" not in sent
    assert "&lt;!channel&gt; Breaking &amp; &lt;https://evil" in sent


async def test_same_channel_is_paced_while_other_channel_is_not_delayed(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    notifier = SlackNotifier(client, pace_seconds=1.0)
    await asyncio.gather(
        notifier.send(DESK, ALERT),
        notifier.send(DESK, replace(ALERT, story_id="beadfeed")),
        notifier.send(OTHER_DESK, ALERT),
    )
    posts = fake.calls_to("chat.postMessage")
    desk = [c.at for c in posts if c.params["channel"] == "C0DESK"]
    world = [c.at for c in posts if c.params["channel"] == "C0WORLD"]
    assert len(desk) == 2
    assert len(world) == 1
    assert desk[1] - desk[0] >= 0.9
    # the other channel went out before the desk's second message had to wait its turn
    assert world[0] < desk[1]


@pytest.mark.parametrize(("header", "wait"), [("1", 1.0), ("1.5", 1.5), ("90", 90.0)])
async def test_rate_limit_comes_back_at_once_with_the_wait_slack_asked_for(
    fake: FakeSlack, notifier: SlackNotifier, header: str, wait: float
) -> None:
    fake.script(
        "chat.postMessage",
        Scripted(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": header}),
    )
    started = time.monotonic()
    with pytest.raises(DeliveryError) as raised:
        await notifier.send(DESK, ALERT)
    assert time.monotonic() - started < 1.0, "the notifier slept on the rate limit"
    assert raised.value.permanent is False
    assert raised.value.retry_after == pytest.approx(wait)
    assert len(fake.calls_to("chat.postMessage")) == 1, "the SDK retried by itself"


async def test_unreadable_retry_after_falls_back_on_a_default_wait(
    fake: FakeSlack, notifier: SlackNotifier
) -> None:
    fake.script(
        "chat.postMessage",
        Scripted(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "soon"}),
    )
    with pytest.raises(DeliveryError) as raised:
        await notifier.send(DESK, ALERT)
    assert raised.value.retry_after == TRANSIENT_RETRY_SECONDS


async def test_server_error_is_not_resent_by_the_sdk(
    fake: FakeSlack, notifier: SlackNotifier
) -> None:
    fake.server_error("chat.postMessage", status=500)
    with pytest.raises(DeliveryError) as raised:
        await notifier.send(DESK, ALERT)
    assert raised.value.permanent is False
    assert len(fake.calls_to("chat.postMessage")) == 1


async def test_persistent_outage_is_a_temporary_delivery_error(
    fake: FakeSlack, notifier: SlackNotifier
) -> None:
    fake.server_error("chat.postMessage", status=503, times=5)
    with pytest.raises(DeliveryError) as raised:
        await notifier.send(DESK, ALERT)
    assert raised.value.permanent is False
    assert raised.value.retry_after
    assert "C0DESK" in str(raised.value)


async def test_ratelimited_error_body_is_a_temporary_delivery_error(
    fake: FakeSlack, notifier: SlackNotifier
) -> None:
    fake.fail("chat.postMessage", "ratelimited")
    with pytest.raises(DeliveryError) as raised:
        await notifier.send(DESK, ALERT)
    assert raised.value.permanent is False
    assert raised.value.retry_after is not None


async def test_unreachable_slack_is_a_temporary_delivery_error() -> None:
    dead = AsyncWebClient(token="xoxb-x", base_url="http://127.0.0.1:9/api/", timeout=2)
    notifier = SlackNotifier(dead)
    with pytest.raises(DeliveryError) as raised:
        await notifier.send(DESK, ALERT)
    assert raised.value.permanent is False
    assert "unreachable" in str(raised.value)


async def test_missing_channel_is_permanent_logged_once_and_does_not_block_others(
    fake: FakeSlack, notifier: SlackNotifier, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.chat.slack.notifier")
    for _ in range(2):
        with pytest.raises(DeliveryError) as raised:
            await notifier.send(GONE, ALERT)
        assert raised.value.permanent is True
        assert str(raised.value) == (
            "Slack channel CGONE42 not found: check the route's channel id, and invite the bot"
        )
    assert await notifier.send(DESK, ALERT)
    logged = [r for r in caplog.records if "CGONE42" in r.getMessage()]
    assert len(logged) == 1


@pytest.mark.parametrize(
    "code", ["not_in_channel", "is_archived", "invalid_auth", "token_revoked", "msg_too_long"]
)
async def test_refusals_that_retrying_cannot_fix_are_permanent(
    fake: FakeSlack, notifier: SlackNotifier, code: str
) -> None:
    fake.fail("chat.postMessage", code)
    with pytest.raises(DeliveryError) as raised:
        await notifier.send(DESK, ALERT)
    assert raised.value.permanent is True
    assert "\n" not in str(raised.value)


async def test_find_posted_finds_our_alert_by_its_link(
    fake: FakeSlack, notifier: SlackNotifier
) -> None:
    fake.add_message("C0DESK", text="someone pasted https://news.example.org/rafah", user="U0HUMAN")
    ts = await notifier.send(DESK, ALERT)
    fake.add_message("C0DESK", text="later chatter", user="U0HUMAN")
    assert await notifier.find_posted(DESK, ALERT) == ts


async def test_find_posted_reads_past_a_busy_channels_later_chatter(
    fake: FakeSlack, notifier: SlackNotifier
) -> None:
    """A desk channel can take hundreds of messages while a post's answer was lost and the bot
    restarted: the alert is still found, reading back to the delivery's creation."""
    created = datetime.now(UTC)
    ts = await notifier.send(DESK, ALERT)
    for i in range(450):
        fake.add_message("C0DESK", text=f"desk chatter {i}", user="U0HUMAN")
    assert await notifier.find_posted(DESK, ALERT, since=created) == ts
    pages = fake.calls_to("conversations.history")
    assert len(pages) == 3
    assert all(created.timestamp() - 200 < float(p.params["oldest"]) <= float(ts) for p in pages)
    assert fake.calls_to("conversations.history")[-1].params.get("cursor") == "400"


async def test_find_posted_gives_up_after_its_page_budget(
    fake: FakeSlack, notifier: SlackNotifier
) -> None:
    await notifier.send(DESK, ALERT)
    for i in range(2_100):
        fake.add_message("C0DESK", text=f"desk chatter {i}", user="U0HUMAN")
    assert await notifier.find_posted(DESK, ALERT) is None
    assert len(fake.calls_to("conversations.history")) == 10


async def test_find_posted_ignores_other_stories_and_messages_by_people(
    fake: FakeSlack, notifier: SlackNotifier
) -> None:
    fake.add_message(
        "C0DESK", text=f"<{ALERT.url}|{ALERT.title}> pasted by a person", user="U0HUMAN"
    )
    await notifier.send(DESK, replace(ALERT, story_id="beadfeed", url="https://other.example/x"))
    assert await notifier.find_posted(DESK, ALERT) is None


async def test_find_posted_recognises_story_whose_link_changed(
    fake: FakeSlack, notifier: SlackNotifier
) -> None:
    ts = await notifier.send(DESK, ALERT)
    moved = replace(ALERT, url="https://another-outlet.example/rafah")
    assert await notifier.find_posted(DESK, moved) == ts


def test_notifier_takes_every_retry_handler_off_the_client(fake: FakeSlack) -> None:
    default = AsyncWebClient(token="xoxb-x", base_url=fake.base_url)
    assert default.retry_handlers, "slack_sdk adds a connection-error retry by default"
    SlackNotifier(default)
    assert default.retry_handlers == []
    assert slack_client("xoxb-x", api_base_url=fake.base_url).retry_handlers == []
    assert BOT_ID  # the fake's bot identity is what find_posted matches on
