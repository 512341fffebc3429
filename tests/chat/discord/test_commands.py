"""``/talks`` as Discord delivers it: INTERACTION_CREATE over the gateway, answers over REST.

Replies come from the real ``Commands`` on a real SQLite store, so these tests check what an
editor would read.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bot.chat.discord.client import TalksDiscordClient
from bot.core.commands import Commands
from bot.store import SQLStore
from tests.chat.discord.conftest import start_bot, stop_bot
from tests.chat.discord.fake_discord import (
    APP_ID,
    EDITORS_ROLE,
    GUILD_ID,
    MANAGE_CHANNELS,
    NEWSROOM_CHANNEL,
    VIEW_AND_SEND,
    FakeDiscord,
    Recorded,
)

EDITOR = 740000000000000001
EPHEMERAL = 64


async def run(fake: FakeDiscord, payload: dict[str, Any]) -> Recorded:
    """Push one interaction through the gateway; return the bot's callback request."""
    await fake.dispatch("INTERACTION_CREATE", payload)
    [callback] = await fake.wait_for("POST", rf"/interactions/{payload['id']}/[\w-]+/callback")
    return callback


def flags(callback: Recorded) -> int:
    return int(callback.json["data"].get("flags", 0))


async def test_subscribe_answers_privately_and_records_the_subscription(
    bot, fake, desk_store: SQLStore
):
    callback = await run(fake, fake.command("subscribe", {"topic": "hostages"}))

    assert callback.json["type"] == 4
    assert callback.json["data"]["content"] == (
        "You now follow Hostages; alerts reach you by direct message."
    )
    assert flags(callback) == EPHEMERAL
    assert callback.json["data"]["allowed_mentions"] == {"parse": []}
    [sub] = await desk_store.subscriptions_of("discord", str(GUILD_ID), str(EDITOR), False)
    assert sub.topic == "hostages"


async def test_unknown_topic_says_so_and_names_the_closest(bot, fake, desk_store):
    callback = await run(fake, fake.command("subscribe", {"topic": "hostges"}))

    assert callback.json["data"]["content"].startswith(
        "There is no topic “hostges”. Closest: hostages"
    )
    assert flags(callback) == EPHEMERAL
    assert await desk_store.subscriptions_of("discord", str(GUILD_ID), str(EDITOR), False) == []


async def test_channel_subscription_is_refused_without_manage_channels(bot, fake, desk_store):
    payload = fake.command("subscribe", {"topic": "rafah", "scope": "channel"})

    callback = await run(fake, payload)

    assert callback.json["data"]["content"].startswith("Only a channel admin can")
    assert flags(callback) == EPHEMERAL
    assert (
        await desk_store.subscriptions_of("discord", str(GUILD_ID), str(NEWSROOM_CHANNEL), True)
        == []
    )


async def test_channel_subscription_by_a_member_with_manage_channels_is_public(
    bot, fake, desk_store
):
    payload = fake.command(
        "subscribe",
        {"topic": "rafah", "scope": "channel"},
        permissions=VIEW_AND_SEND | MANAGE_CHANNELS,
    )

    callback = await run(fake, payload)

    assert "Rafah crossing" in callback.json["data"]["content"]
    assert flags(callback) == 0
    [sub] = await desk_store.subscriptions_of("discord", str(GUILD_ID), str(NEWSROOM_CHANNEL), True)
    assert sub.topic == "rafah"


@pytest.mark.parametrize("admin_role", [EDITORS_ROLE, "desk editors"])
async def test_configured_admin_role_may_change_the_channel(
    fake, commands: Commands, desk_store, admin_role
):
    bot = await start_bot(fake, commands, admin_roles=[admin_role])
    try:
        payload = fake.command(
            "mute", {"duration": "2h", "scope": "channel"}, roles=(EDITORS_ROLE,)
        )
        callback = await run(fake, payload)
    finally:
        await stop_bot(bot)

    assert callback.json["data"]["content"].startswith("This channel is muted until")


async def test_status_is_deferred_then_the_answer_replaces_the_thinking_message(bot, fake):
    payload = fake.command("status", {"period": "6h"})

    callback = await run(fake, payload)
    [answer] = await fake.wait_for(
        "PATCH", rf"/webhooks/{APP_ID}/{payload['token']}/messages/@original"
    )

    assert callback.json == {"type": 5, "data": {"flags": EPHEMERAL}}
    [embed] = answer.json["embeds"]
    assert embed["title"] == "Talks status"
    assert "**Top developments**" in embed["description"]
    assert answer.json["allowed_mentions"] == {"parse": []}


async def test_topic_autocomplete_offers_matching_topics(bot, fake):
    payload = fake.command("subscribe", {"topic": "cai"}, focused="topic")

    callback = await run(fake, payload)

    assert callback.json["type"] == 8
    assert callback.json["data"]["choices"] == [
        {"name": "Cairo talks (cairo-talks)", "value": "cairo-talks"}
    ]


async def test_empty_autocomplete_lists_every_topic(bot, fake):
    callback = await run(fake, fake.command("unsubscribe", {"topic": ""}, focused="topic"))

    values = [choice["value"] for choice in callback.json["data"]["choices"]]
    assert values == ["hostages", "rafah", "cairo-talks"]


@pytest.mark.parametrize(
    ("subcommand", "options", "says"),
    [
        ("mode", {"mode": "mention"}, "Your alerts now arrive as mentions"),
        ("mute", {"duration": "30m"}, "You are muted until"),
        ("mute", {"duration": "forever"}, "“forever” is not a duration"),
        ("unmute", {}, "You were not muted: nothing changed."),
        ("why", {"story": "st-nope"}, "No story “st-nope” in the store"),
        ("subscriptions", {}, "You follow no topics yet."),
        ("unsubscribe", {"topic": "hostages"}, "You were not following Hostages"),
    ],
)
async def test_personal_commands_answer_privately_in_plain_text(
    bot, fake, subcommand, options, says
):
    callback = await run(fake, fake.command(subcommand, options))

    assert callback.json["type"] == 4
    assert says in callback.json["data"]["content"]
    assert flags(callback) == EPHEMERAL


@pytest.mark.parametrize(
    ("subcommand", "title", "line"),
    [
        (
            "topics",
            "Topics",
            "• hostages — Hostage releases and exchanges (hostage, prisoner exchange)",
        ),
        ("help", "talks-bot commands", "• subscribe TOPIC [channel] — follow a topic"),
    ],
)
async def test_list_replies_come_as_an_embed(bot, fake, subcommand, title, line):
    callback = await run(fake, fake.command(subcommand))

    [embed] = callback.json["data"]["embeds"]
    assert embed["title"] == title
    assert any(row.startswith(line) for row in embed["description"].splitlines())


async def test_store_outage_asks_to_try_again_and_warns_the_operators(
    bot, fake, desk_store, caplog
):
    await desk_store.close()

    with caplog.at_level(logging.WARNING, logger="bot.core.commands"):
        callback = await run(fake, fake.command("subscriptions"))

    assert callback.json["data"]["content"] == (
        "The bot cannot reach its database just now: try again in a minute."
    )
    assert flags(callback) == EPHEMERAL
    [logged] = [r for r in caplog.records if "/talks subscriptions" in r.getMessage()]
    assert logged.levelno == logging.WARNING
    assert "the store is not open" in logged.getMessage()


async def test_unexpected_failure_gets_the_generic_reply_and_a_logged_traceback(
    bot, fake, desk_store, monkeypatch, caplog
):
    async def exploding(*args):
        raise RuntimeError("row decoder exploded")

    monkeypatch.setattr(desk_store, "subscriptions_of", exploding)

    with caplog.at_level(logging.ERROR, logger="bot.core.commands"):
        callback = await run(fake, fake.command("subscriptions"))

    content = callback.json["data"]["content"]
    assert content == (
        "Sorry, that command failed on the bot's side; the operators have the details in its "
        "log. Try again, or tell them if it keeps happening."
    )
    assert "exploded" not in content
    assert flags(callback) == EPHEMERAL
    [logged] = [r for r in caplog.records if "/talks subscriptions failed" in r.getMessage()]
    assert "row decoder exploded" in (logged.exc_text or "")


async def test_a_deferred_command_that_fails_replaces_the_thinking_message_with_the_reply(
    bot, fake, desk_store, monkeypatch
):
    async def exploding(*args):
        raise RuntimeError("status query exploded")

    monkeypatch.setattr(desk_store, "stories", exploding)
    payload = fake.command("status", {"period": "6h"})

    callback = await run(fake, payload)
    [answer] = await fake.wait_for(
        "PATCH", rf"/webhooks/{APP_ID}/{payload['token']}/messages/@original"
    )

    assert callback.json == {"type": 5, "data": {"flags": EPHEMERAL}}
    assert answer.json["content"].startswith("Sorry, that command failed on the bot's side")


async def test_unknown_topic_is_one_line_saying_what_to_do(bot, fake):
    callback = await run(fake, fake.command("unsubscribe", {"topic": "gaza-aid"}))

    content = callback.json["data"]["content"]
    assert "\n" not in content
    assert content.startswith("There is no topic “gaza-aid”.")
    assert content.endswith("Type `topics` to list them.")


async def test_caller_is_the_member_in_the_guild_channel(bot: TalksDiscordClient, fake):
    seen = []
    original = bot.commands.handle

    async def spy(caller, text, **kwargs):
        seen.append((caller, text))
        return await original(caller, text, **kwargs)

    bot.commands.handle = spy  # type: ignore[method-assign]
    await run(fake, fake.command("subscribe", {"topic": "cairo", "scope": "me"}))

    [(caller, text)] = seen
    assert text == "subscribe cairo"
    assert (caller.platform, caller.workspace, caller.user, caller.channel, caller.is_admin) == (
        "discord",
        str(GUILD_ID),
        str(EDITOR),
        str(NEWSROOM_CHANNEL),
        False,
    )


async def test_command_that_outruns_the_ack_deadline_is_deferred_then_answered(
    bot: TalksDiscordClient, fake
):
    original = bot.commands.handle
    answered = asyncio.Event()

    async def slow_database(caller, text, **kwargs):
        await answered.wait()
        return await original(caller, text, **kwargs)

    bot.commands.handle = slow_database  # type: ignore[method-assign]
    bot.ack_deadline = 0.05
    payload = fake.command("subscribe", {"topic": "hostages"})

    callback = await run(fake, payload)
    answered.set()
    [answer] = await fake.wait_for(
        "PATCH", rf"/webhooks/{APP_ID}/{payload['token']}/messages/@original"
    )

    assert callback.json == {"type": 5, "data": {"flags": EPHEMERAL}}
    assert answer.json["content"] == "You now follow Hostages; alerts reach you by direct message."
