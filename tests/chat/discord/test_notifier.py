"""Alerts, updates, DMs and digests, checked on the wire of a fake Discord."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.chat.discord.client import TalksDiscordClient
from bot.chat.discord.notifier import DiscordNotifier
from bot.core.models import Delivery, Destination
from bot.courier import Courier
from bot.errors import DeliveryError
from bot.store import SQLStore
from tests.chat.discord.fake_discord import GUILD_ID, NEWSROOM_CHANNEL, FakeDiscord
from tests.chat.discord.samples import alert, digest

SUBSCRIBER = "740000000000000005"
NEWSROOM = Destination("discord", str(NEWSROOM_CHANNEL), str(GUILD_ID))
MESSAGES = rf"/channels/{NEWSROOM_CHANNEL}/messages"


@pytest.fixture
def notifier(bot: TalksDiscordClient) -> DiscordNotifier:
    return DiscordNotifier(bot)


async def test_alert_goes_out_as_an_embed_with_the_story_link(notifier, fake: FakeDiscord):
    message_id = await notifier.send(NEWSROOM, alert())

    [posted] = fake.calls("POST", MESSAGES)
    [embed] = posted.json["embeds"]
    assert embed["title"] == "Mediators say Cairo round on hostage release ends without deal"
    assert embed["url"] == "https://news.example.org/world/cairo-round-ends"
    assert embed["footer"]["text"].endswith("/talks why st-4f2a9c")
    assert message_id in {str(m) for m in fake.messages}


async def test_feed_text_cannot_ping_anyone_only_mentioned_subscribers(notifier, fake):
    noisy = alert(
        title="@everyone <@&720000000000000020> breaking: @here hostages freed",
        summary="<@740000000000000999> said @everyone should leave",
        mentions=(SUBSCRIBER,),
    )
    await notifier.send(NEWSROOM, noisy)

    [posted] = fake.calls("POST", MESSAGES)
    assert posted.json["allowed_mentions"] == {"parse": [], "users": [int(SUBSCRIBER)]}
    assert posted.json["content"] == f"<@{SUBSCRIBER}>"


async def test_alert_without_mention_subscribers_allows_no_pings_at_all(notifier, fake):
    await notifier.send(NEWSROOM, alert(title="@everyone ceasefire text agreed"))

    [posted] = fake.calls("POST", MESSAGES)
    assert posted.json["allowed_mentions"] == {"parse": []}
    assert not posted.json.get("content")


async def test_resend_after_a_crash_returns_the_first_message_instead_of_posting_again(
    notifier, fake
):
    first = await notifier.send(NEWSROOM, alert())
    again = await notifier.send(NEWSROOM, alert())

    assert again == first
    posts = fake.calls("POST", MESSAGES)
    assert posts[0].json["nonce"] == posts[1].json["nonce"]
    assert posts[0].json["enforce_nonce"] is True
    assert len(fake.messages) == 1


async def test_another_story_to_the_same_channel_is_a_new_message(notifier, fake):
    first = await notifier.send(NEWSROOM, alert())
    second = await notifier.send(NEWSROOM, alert(story_id="st-0b77e1"))

    assert first != second
    assert len({call.json["nonce"] for call in fake.calls("POST", MESSAGES)}) == 2


async def test_update_edits_the_posted_alert_in_place(notifier, fake):
    message_id = await notifier.send(NEWSROOM, alert(outlets=("Wire One",)))
    await notifier.update(NEWSROOM, message_id, alert(outlets=("Wire One", "Daily Ledger")))

    [edit] = fake.calls("PATCH", rf"{MESSAGES}/{message_id}")
    assert edit.json["allowed_mentions"] == {"parse": []}
    fields = {f["name"]: f["value"] for f in fake.messages[int(message_id)]["embeds"][0]["fields"]}
    assert fields["Outlets"] == "Wire One, Daily Ledger"
    assert len(fake.calls("POST", MESSAGES)) == 1


async def test_direct_alert_opens_the_persons_dm_channel_and_posts_there(notifier, fake):
    person = Destination("discord", SUBSCRIBER, str(GUILD_ID), direct=True)

    await notifier.send(person, alert())

    [opened] = fake.calls("POST", "/users/@me/channels")
    assert str(opened.json["recipient_id"]) == SUBSCRIBER
    dm_channel = int(SUBSCRIBER) + 1_000_000
    [posted] = fake.calls("POST", rf"/channels/{dm_channel}/messages")
    assert posted.json["embeds"][0]["title"].startswith("Mediators say Cairo")


async def test_digest_is_one_message_pinging_its_mention_subscribers(notifier, fake):
    folded = digest(4)
    pinged = replace(folded.alerts[0], mentions=(SUBSCRIBER,))
    folded = replace(folded, alerts=(pinged, *folded.alerts[1:]))
    await notifier.send_digest(NEWSROOM, folded)

    [posted] = fake.calls("POST", MESSAGES)
    assert posted.json["embeds"][0]["description"].count("\n• ") == 3
    assert posted.json["allowed_mentions"] == {"parse": [], "users": [int(SUBSCRIBER)]}
    assert posted.json["nonce"]


async def test_rate_limited_post_is_waited_out_by_discord_py_then_sent(notifier, fake):
    fake.rate_limit("POST", MESSAGES, retry_after=0.2)

    message_id = await notifier.send(NEWSROOM, alert())

    assert len(fake.calls("POST", MESSAGES)) == 2
    assert int(message_id) in fake.messages


async def test_long_rate_limit_comes_back_as_retryable_with_the_wait(notifier, fake):
    fake.rate_limit("POST", MESSAGES, retry_after=120.0)

    with pytest.raises(DeliveryError) as raised:
        await notifier.send(NEWSROOM, alert())

    assert raised.value.permanent is False
    assert raised.value.retry_after == pytest.approx(120.0)


async def test_missing_access_is_permanent_and_logged_once_per_channel(notifier, fake, caplog):
    fake.fail("POST", MESSAGES, 403, code=50001, message="Missing Access", times=2)

    with caplog.at_level(logging.WARNING, logger="bot.chat.discord.notifier"):
        for story in ("st-1", "st-2"):
            with pytest.raises(DeliveryError) as raised:
                await notifier.send(NEWSROOM, alert(story_id=story))
            assert raised.value.permanent is True

    expected = (
        f"Discord channel {NEWSROOM_CHANNEL} is not visible to the bot (Missing Access): "
        "check the route's channel id and the bot's permissions"
    )
    assert str(raised.value) == expected
    assert [r.getMessage() for r in caplog.records] == [expected]


async def test_unknown_channel_is_permanent(notifier, fake):
    gone = Destination("discord", "720000000000000099", str(GUILD_ID))

    with pytest.raises(DeliveryError) as raised:
        await notifier.send(gone, alert())

    assert raised.value.permanent is True
    assert "720000000000000099 does not exist (Unknown Channel)" in str(raised.value)


async def test_update_of_a_deleted_message_is_permanent(notifier, fake):
    with pytest.raises(DeliveryError) as raised:
        await notifier.update(NEWSROOM, "730000000000009999", alert())

    assert raised.value.permanent is True
    assert "is gone (Unknown Message)" in str(raised.value)


async def test_discord_outage_is_retryable(notifier, fake):
    fake.fail("POST", MESSAGES, 503, message="upstream connect error")

    with pytest.raises(DeliveryError) as raised:
        await notifier.send(NEWSROOM, alert())

    assert raised.value.permanent is False
    assert "503" in str(raised.value)


async def test_unreachable_discord_is_retryable(notifier, fake):
    await fake.close()

    with pytest.raises(DeliveryError) as raised:
        await notifier.send(NEWSROOM, alert())

    assert raised.value.permanent is False


async def test_sending_before_login_is_retryable_not_a_crash(commands):
    client = TalksDiscordClient(commands, guilds=[GUILD_ID])

    with pytest.raises(DeliveryError) as raised:
        await DiscordNotifier(client).send(NEWSROOM, alert())

    assert raised.value.permanent is False


LIVE_MASKED_LINK = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\(")
LIVE_EMPHASIS = re.compile(r"(?<!\\)\*[^*\s][^*]*(?<!\\)\*")


async def test_feed_text_reaches_the_embed_as_written_never_as_a_live_link_or_markup(
    notifier, fake
):
    """A lead or an aggregator's outlet name shaped as a masked link shows as plain text:
    the reader sees where it points, and only the headline link goes where we say."""
    hostile = alert(
        title="*URGENT* Rafah crossing closes # again",
        summary=(
            "[https://www.reuters.com/world/middle-east/](https://evil.example/phish) "
            "says talks ended\n# Breaking\n> quoted"
        ),
        outlets=("[Reuters](https://evil.example/agg)", "Daily Ledger"),
    )
    await notifier.send(NEWSROOM, hostile)
    await notifier.send_digest(NEWSROOM, digest(alerts=(hostile, alert(story_id="st-2"))))

    posted = [call.json["embeds"][0] for call in fake.calls("POST", MESSAGES)]
    assert len(posted) == 2
    for embed in posted:
        shown = [embed.get("title", ""), embed.get("description", "")]
        shown += [field["value"] for field in embed.get("fields", [])]
        for text in shown:
            assert not LIVE_MASKED_LINK.search(text.replace("](https://news.example.org", "")), text
            assert not LIVE_EMPHASIS.search(text), text
    alert_embed = posted[0]
    assert "evil.example/phish" in alert_embed["description"], "shown, not hidden behind a label"
    assert not alert_embed["description"].splitlines()[1].startswith("#")
    assert alert_embed["url"] == "https://news.example.org/world/cairo-round-ends"


async def test_find_posted_finds_the_alert_after_discord_forgot_its_nonce(notifier, fake):
    """Discord keeps a nonce for minutes; a resend after a long backoff or a restart looks in
    the channel first: the bot's own message for the story is found, another story's is not."""
    since = datetime.now(UTC)
    first = await notifier.send(NEWSROOM, alert())
    fake._nonces.clear()  # the nonce window has passed
    await notifier.send(NEWSROOM, alert(story_id="st-other", url="https://news.example.org/o"))
    assert await notifier.find_posted(NEWSROOM, alert(), since=since) == first
    moved = alert(url="https://another-outlet.example/cairo")
    assert await notifier.find_posted(NEWSROOM, moved, since=since) == first
    never = alert(story_id="st-never", url="https://news.example.org/never")
    assert await notifier.find_posted(NEWSROOM, never, since=since) is None
    [history, *_] = fake.calls("GET", MESSAGES)
    assert int(history.query["after"]) < int(first)


async def test_find_posted_does_not_read_before_the_delivery(notifier, fake):
    await notifier.send(NEWSROOM, alert())
    later = datetime.now(UTC) + timedelta(minutes=10)
    assert await notifier.find_posted(NEWSROOM, alert(), since=later) is None


async def test_alert_posted_before_a_crash_is_adopted_hours_later_not_posted_again(
    notifier, fake, tmp_path
):
    """The bot posted, then died before recording it; it is back hours later, when Discord has
    long forgotten the nonce: the courier finds the message in the channel and records it."""
    store = SQLStore(f"sqlite:///{tmp_path / 'outbox.db'}")
    await store.open()
    try:
        created = datetime.now(UTC) - timedelta(minutes=1)
        story = alert()
        posted = await notifier.send(NEWSROOM, story)
        fake._nonces.clear()
        await store.save_delivery(
            Delivery(
                story_id=story.story_id,
                destination=NEWSROOM,
                status="pending",
                alert=story,
                attempts=1,
                created=created,
                updated=created,
                outlets=len(story.outlets),
                title=story.title,
            )
        )
        later = datetime.now(UTC) + timedelta(hours=3)
        report = await Courier(store, {"discord": notifier}, lambda: later).run_once()
        found = await store.get_delivery(story.story_id, NEWSROOM)
    finally:
        await store.close()
    assert (report.adopted, report.sent) == (1, 0)
    assert len(fake.messages) == 1
    assert found is not None
    assert (found.status, found.message_id) == ("sent", posted)
