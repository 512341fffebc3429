"""Start-up as in production: login, /talks registration, gateway, and what config can break."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord
import pytest

from bot.chat.connect import keep_discord
from bot.chat.discord.client import TalksDiscordClient
from bot.core.commands import Commands
from bot.errors import ConfigError
from tests.chat.discord.conftest import TOKEN, start_bot, stop_bot
from tests.chat.discord.fake_discord import APP_ID, GUILD_ID, FakeDiscord

TALKS_SUBCOMMANDS = [
    "status",
    "since",
    "topics",
    "subscribe",
    "unsubscribe",
    "subscriptions",
    "mode",
    "mute",
    "unmute",
    "why",
    "help",
]


async def test_bot_logs_in_registers_talks_in_its_server_and_asks_no_privileged_intent(
    bot, fake: FakeDiscord
):
    assert [(r.method, r.path) for r in fake.requests[:3]] == [
        ("GET", "/users/@me"),
        ("GET", "/oauth2/applications/@me"),
        ("PUT", f"/applications/{APP_ID}/guilds/{GUILD_ID}/commands"),
    ]
    [talks] = fake.requests[2].json
    assert talks["name"] == "talks"
    assert [option["name"] for option in talks["options"]] == TALKS_SUBCOMMANDS
    [identify] = fake.identifies
    assert identify["intents"] == discord.Intents(guilds=True).value
    assert identify["token"] == "fake-token"
    assert fake.gateway_queries[0]["v"] == "10"


async def test_global_sync_registers_talks_for_every_server(fake, commands):
    bot = await start_bot(fake, commands, guilds=[], sync="global")
    await stop_bot(bot)

    assert [r.path for r in fake.requests if r.method == "PUT"] == [
        f"/applications/{APP_ID}/commands"
    ]


async def test_gateway_address_is_asked_from_the_configured_api(fake, commands):
    bot = await start_bot(fake, commands, gateway_url=None)
    await stop_bot(bot)

    assert fake.calls("GET", "/gateway/bot")
    assert len(fake.identifies) == 1


async def test_refused_registration_is_one_log_line_and_alerts_still_flow(fake, commands, caplog):
    fake.fail(
        "PUT", r"/applications/\d+/guilds/\d+/commands", 403, code=50001, message="Missing Access"
    )

    with caplog.at_level(logging.ERROR, logger="bot.chat.discord.client"):
        bot = await start_bot(fake, commands)
    try:
        assert bot.is_ready()
    finally:
        await stop_bot(bot)

    [record] = caplog.records
    assert record.getMessage() == (
        f"Discord refused to register /talks for server {GUILD_ID} (Missing Access): invite the "
        "bot with the applications.commands scope (talks-bot discord-invite) and check "
        "discord.guilds"
    )


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"sync": "guild", "guilds": []}, "discord.sync = 'guild' needs at least one server id"),
        ({"sync": "everywhere", "guilds": [1]}, "discord.sync = 'everywhere' is not known"),
        ({"guilds": [1], "api_base_url": "discord.com/api"}, "discord.api_base_url"),
        ({"guilds": [1], "gateway_url": "https://gateway.discord.gg"}, "discord.gateway_url"),
    ],
)
def test_bad_discord_settings_name_the_key_to_fix(commands, options, key):
    with pytest.raises(ConfigError) as raised:
        TalksDiscordClient(commands, **options)

    assert str(raised.value).startswith(key)


async def test_a_refused_login_is_tried_again_until_discord_takes_it(
    fake: FakeDiscord, commands: Commands, caplog: pytest.LogCaptureFixture
) -> None:
    """Discord refuses the token twice (an outage, or a token it briefly did not know): the
    bot logs each refusal in one line and logs in again after a growing wait, instead of
    leaving Discord silent until a restart."""
    fake.fail("GET", r"/users/@me", 401, message="401: Unauthorized", times=2)
    client = TalksDiscordClient(
        commands,
        guilds=[GUILD_ID],
        api_base_url=fake.api_base,
        gateway_url=fake.gateway_url,
        guild_ready_timeout=0.05,
    )
    kept = asyncio.create_task(keep_discord(client, TOKEN, first=0.1, longest=0.2))
    try:
        async with asyncio.timeout(10):
            while not client.is_ready():
                assert not kept.done(), kept
                await asyncio.sleep(0.02)
    finally:
        kept.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await kept
        await client.close()
    stopped = [
        r.getMessage() for r in caplog.records if "Discord connection stopped" in r.getMessage()
    ]
    assert len(stopped) == 2
    assert "logging in again in 0.1s" in stopped[0]
    assert "logging in again in 0.2s" in stopped[1]
    assert TOKEN not in " ".join(stopped)
