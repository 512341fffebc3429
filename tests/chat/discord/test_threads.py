"""Threads on Discord: a thread started from the alert message holds later reports; a forum route
gets one post per development. Real desk, store, courier and discord.py, against the fake
Discord (REST and gateway) on 127.0.0.1."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from bot.chat.discord.client import TalksDiscordClient
from bot.chat.discord.notifier import DiscordNotifier
from bot.core.models import Destination
from bot.core.route import Route
from bot.courier import Courier
from bot.store import SQLStore
from tests.chat.discord.fake_discord import FORUM_CHANNEL, GUILD_ID, NEWSROOM_CHANNEL, FakeDiscord
from tests.chat.threads_scenario import (
    HARBOUR,
    LEVANT,
    NILE,
    NILE_REHEADLINED,
    clock,
    make_desk,
    poll,
    polls_delivered,
)

NEWSROOM = Destination("discord", str(NEWSROOM_CHANNEL), str(GUILD_ID))
FORUM = Destination("discord", str(FORUM_CHANNEL), str(GUILD_ID))
MESSAGES = rf"/channels/{NEWSROOM_CHANNEL}/messages"


def courier(store: SQLStore, bot: TalksDiscordClient) -> Courier:
    """The courier and notifier of a fresh start (call again to restart)."""
    return Courier(store, {"discord": DiscordNotifier(bot)}, clock)


def root_id(fake: FakeDiscord) -> int:
    [root] = [
        m
        for m, body in fake.messages.items()
        if body["channel_id"] == str(NEWSROOM_CHANNEL) and body["embeds"] and not body["content"]
    ]
    return root


async def test_three_outlets_in_three_polls_give_a_thread_on_the_alert_with_two_replies(
    store: SQLStore, bot: TalksDiscordClient, fake: FakeDiscord
) -> None:
    desk = make_desk([Route(NEWSROOM)])
    await polls_delivered(desk, store, lambda: courier(store, bot), [LEVANT], [NILE], [HARBOUR])

    root = root_id(fake)
    [opened] = fake.calls("POST", rf"{MESSAGES}/{root}/threads")
    assert opened.json["name"] == LEVANT.title
    replies = fake.calls("POST", rf"/channels/{root}/messages")
    assert len(replies) == 2
    assert replies[0].json["content"].startswith("**Nile**: ")
    assert "<https://nile.example/b7>" in replies[0].json["content"]
    assert "<t:" in replies[0].json["content"], "each line says when the outlet published it"
    assert replies[1].json["content"].startswith("**Harbour**: ")
    assert all(r.json["allowed_mentions"] == {"parse": []} for r in replies)
    # The root is edited in place with the count, as before.
    edits = fake.calls("PATCH", rf"{MESSAGES}/{root}")
    assert "Levant, Nile, Harbour" in str(edits[-1].json["embeds"])


async def test_corroboration_re_broadcasts_once_as_a_channel_message_linking_the_thread(
    store: SQLStore, bot: TalksDiscordClient, fake: FakeDiscord
) -> None:
    desk = make_desk([Route(NEWSROOM)])
    await polls_delivered(desk, store, lambda: courier(store, bot), [LEVANT], [NILE], [HARBOUR])

    root = root_id(fake)
    [broadcast] = [c for c in fake.calls("POST", MESSAGES) if c.json.get("content")]
    content = broadcast.json["content"]
    assert "now confirmed by 2 independent outlets" in content
    assert f"https://discord.com/channels/{GUILD_ID}/{root}" in content
    assert broadcast.json["embeds"][0]["title"] == LEVANT.title
    assert broadcast.json["allowed_mentions"] == {"parse": []}


async def test_a_re_headline_posts_a_word_diff_in_the_thread(
    store: SQLStore, bot: TalksDiscordClient, fake: FakeDiscord
) -> None:
    desk = make_desk([Route(NEWSROOM)])
    await polls_delivered(
        desk, store, lambda: courier(store, bot), [LEVANT, NILE], [NILE_REHEADLINED]
    )

    [diff] = fake.in_thread(root_id(fake))
    assert "**Nile changed its headline**" in diff["content"]
    assert "~~leaves~~ **quits**" in diff["content"]
    assert "~~stall~~ **collapse**" in diff["content"]


async def test_a_restart_does_not_repeat_replies_and_finds_the_thread_open(
    store: SQLStore, bot: TalksDiscordClient, fake: FakeDiscord
) -> None:
    desk = make_desk([Route(NEWSROOM)])
    await polls_delivered(desk, store, lambda: courier(store, bot), [LEVANT], [NILE])
    root = root_id(fake)
    assert len(fake.in_thread(root)) == 1

    assert (await courier(store, bot).run_once()).replies == 0
    await poll(desk, store, [HARBOUR])
    report = await courier(store, bot).run_once()
    assert report.replies == 1
    [_nile, second] = fake.in_thread(root)
    assert second["content"].startswith("**Harbour**: ")
    assert "Nile" not in second["content"]
    # The stored thread knows it is open: a new notifier does not start it again.
    assert len(fake.calls("POST", rf"{MESSAGES}/{root}/threads")) == 1
    assert len(fake.threads) == 1


async def test_a_forum_route_gets_one_post_per_development(
    store: SQLStore, bot: TalksDiscordClient, fake: FakeDiscord
) -> None:
    desk = make_desk([Route(FORUM)])
    await polls_delivered(desk, store, lambda: courier(store, bot), [LEVANT], [NILE], [HARBOUR])

    [post] = fake.calls("POST", rf"/channels/{FORUM_CHANNEL}/threads")
    assert post.json["name"] == LEVANT.title
    assert post.json["message"]["embeds"][0]["title"] == LEVANT.title
    assert not fake.calls("POST", rf"/channels/{FORUM_CHANNEL}/messages")
    [thread_id] = fake.threads
    in_post = fake.in_thread(thread_id)
    assert in_post[0]["embeds"], "the post opens with the alert"
    contents = [m["content"] for m in in_post[1:]]
    assert [c.split(":")[0] for c in contents if c.startswith("**")] == ["**Nile**", "**Harbour**"]
    assert sum("now confirmed by 2 independent outlets" in c for c in contents) == 1
    # The post's opening alert is edited in place, inside the post.
    edits = fake.calls("PATCH", rf"/channels/{thread_id}/messages/{thread_id}")
    assert "Levant, Nile, Harbour" in str(edits[-1].json["embeds"])


async def test_threads_false_keeps_the_alert_flat(
    store: SQLStore, bot: TalksDiscordClient, fake: FakeDiscord
) -> None:
    desk = make_desk([Route(NEWSROOM, threads=False)])
    await polls_delivered(desk, store, lambda: courier(store, bot), [LEVANT], [NILE], [HARBOUR])

    assert len(fake.calls("POST", MESSAGES)) == 1
    assert not fake.threads
    assert len(fake.calls("PATCH", rf"{MESSAGES}/\d+")) == 2


async def test_a_long_headline_names_the_thread_within_discords_limit(
    store: SQLStore, bot: TalksDiscordClient, fake: FakeDiscord
) -> None:
    long = replace(
        LEVANT,
        title="Hamas delegation leaves Cairo as cease-fire talks stall over the sequencing of "
        "hostage releases, the Rafah crossing and the return of displaced families to the north",
    )
    desk = make_desk([Route(NEWSROOM)])
    await poll(desk, store, [long])
    await courier(store, bot).run_once()
    await polls_delivered(desk, store, lambda: courier(store, bot), [NILE])

    [opened] = fake.calls("POST", rf"{MESSAGES}/\d+/threads")
    assert len(opened.json["name"]) <= 100
    assert opened.json["name"].endswith("…")
    assert opened.json["name"].startswith("Hamas delegation leaves Cairo")


async def test_a_thread_started_just_before_a_crash_is_used_not_refused(
    store: SQLStore, bot: TalksDiscordClient, fake: FakeDiscord
) -> None:
    """Discord answers "a thread has already been created for this message" (160004) when the
    thread was started but the crash came before the reply was recorded: the reply goes in it."""
    desk = make_desk([Route(NEWSROOM)])
    await polls_delivered(desk, store, lambda: courier(store, bot), [LEVANT])
    root = root_id(fake)
    fake._thread(root, NEWSROOM_CHANNEL, LEVANT.title)  # started before the crash
    await poll(desk, store, [NILE])
    report = await courier(store, bot).run_once()

    assert report.replies == 1
    assert report.failed == 0
    [reply] = fake.in_thread(root)
    assert reply["content"].startswith("**Nile**: ")


async def test_no_permission_to_start_threads_keeps_the_alert_flat_and_says_why(
    store: SQLStore, bot: TalksDiscordClient, fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail("POST", rf"{MESSAGES}/\d+/threads", 403, code=50013, message="Missing Permissions")
    desk = make_desk([Route(NEWSROOM)])
    for outlet in (LEVANT, NILE, HARBOUR):
        await poll(desk, store, [outlet])
        with caplog.at_level(logging.WARNING):
            await courier(store, bot).run_once()

    assert not fake.threads
    assert len(fake.calls("POST", rf"{MESSAGES}/\d+/threads")) == 1, "asked once, not every poll"
    refusals = [r.getMessage() for r in caplog.records if "Create Public Threads" in r.getMessage()]
    assert len(refusals) == 1
    assert str(NEWSROOM_CHANNEL) in refusals[0]
    edits = fake.calls("PATCH", rf"{MESSAGES}/\d+")
    assert "Levant, Nile, Harbour" in str(edits[-1].json["embeds"]), "still edited in place"
