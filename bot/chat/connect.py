"""Start the chat connections the configuration asks for (Slack, Discord), beside the console.

Both adapters can run in one process: each registers its notifier with the bot (so the courier can
deliver to it) and returns the task that keeps it connected. A connection that fails at start-up
is logged in one line; the bot keeps polling and the courier keeps those alerts pending until the
platform is back.

``posting_chats`` is the one-shot variant for ``poll-once``: it registers notifiers that only post
(the Slack Web API; Discord's REST API after a login, no gateway), so a run from cron delivers to
the chat routes too instead of failing their alerts for want of a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bot.core import messages as say

if TYPE_CHECKING:
    from bot.app import TalksBot

log = logging.getLogger(__name__)


async def connect_chats(bot: TalksBot) -> list[asyncio.Task[None]]:
    """Register chat notifiers on ``bot`` and return the tasks that keep them connected."""
    tasks: list[asyncio.Task[None]] = []
    config, secrets = bot.settings.config, bot.settings.secrets
    if config.slack is not None and secrets.slack_bot_token is not None:
        from bot.chat.slack import (
            SlackNotifier,
            build_slack_app,
            run_http_mode,
            run_socket_mode,
            slack_client,
        )

        slack = config.slack
        token = secrets.slack_bot_token.get_secret_value()
        client = slack_client(token, api_base_url=slack.api_base_url or None)
        bot.add_notifier(SlackNotifier(client))
        signing = secrets.slack_signing_secret
        app = build_slack_app(
            bot.commands,
            bot_token=token,
            signing_secret=signing.get_secret_value() if signing else None,
            api_base_url=slack.api_base_url or None,
            admins=slack.admins,
            client=client,
        )
        if slack.mode == "http":
            runner: Awaitable[None] = run_http_mode(app, slack.port)
        else:
            app_token = secrets.slack_app_token
            runner = run_socket_mode(app, app_token.get_secret_value() if app_token else "")
        tasks.append(asyncio.create_task(_guarded("slack", runner), name="slack"))
    if config.discord is not None and secrets.discord_token is not None:
        from bot.chat.discord import DiscordNotifier, TalksDiscordClient

        discord_cfg = config.discord
        client_d = TalksDiscordClient(
            bot.commands,
            guilds=discord_cfg.guilds,
            sync=discord_cfg.sync,
            admin_roles=discord_cfg.admin_roles,
            api_base_url=discord_cfg.api_base_url or None,
            gateway_url=discord_cfg.gateway_url or None,
        )
        bot.add_notifier(DiscordNotifier(client_d))
        token_d = secrets.discord_token.get_secret_value()
        tasks.append(
            asyncio.create_task(
                keep_discord(client_d, token_d),
                name="discord",
            )
        )
    return tasks


DISCORD_RETRY_FIRST = 30.0
"""Seconds before the first new login after Discord refused or could not be reached."""
DISCORD_RETRY_MAX = 900.0
"""The longest wait between logins (doubling from ``DISCORD_RETRY_FIRST``)."""


async def keep_discord(
    client: Any,
    token: str,
    *,
    first: float = DISCORD_RETRY_FIRST,
    longest: float = DISCORD_RETRY_MAX,
) -> None:
    """Hold the Discord connection for as long as the bot runs. discord.py reconnects a dropped
    gateway by itself, but a login that fails (a refused token, Discord unreachable at start)
    ends ``start``: log in again after a wait that doubles up to ``longest``, one line each
    time, so a Discord outage or a token refused by mistake does not silence Discord until the
    next restart. Alerts for it stay pending meanwhile."""
    wait = first
    while True:
        try:
            await client.start(token)
            return  # closed on purpose (the bot is stopping)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("%s", say.discord_login_failed(exc, wait))
        finally:
            await client.close()
        client.clear()  # discord.py's way to make a closed client startable again...
        connector = getattr(client.http, "connector", None)
        if connector is not None and getattr(connector, "closed", False):
            from discord.utils import MISSING

            client.http.connector = MISSING  # ...but it keeps the closed connection pool
        await asyncio.sleep(wait)
        wait = min(wait * 2, longest)


async def _guarded(
    name: str,
    runner: Awaitable[None],
    closer: Callable[[], Awaitable[None]] | None = None,
) -> None:
    try:
        await runner
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the bot keeps polling; alerts stay pending for this platform
        log.error("%s connection stopped: %s (alerts for it stay pending)", name, exc)
    finally:
        if closer is not None:
            await closer()


@contextlib.asynccontextmanager
async def posting_chats(bot: TalksBot) -> AsyncIterator[None]:
    """Register post-only chat notifiers on ``bot`` for the duration of the block.

    Nothing listens for commands. A Discord login that fails is logged in one line and its
    notifier stays registered, so those alerts stay pending (retried by the next run) instead of
    failing for good.
    """
    config, secrets = bot.settings.config, bot.settings.secrets
    if config.slack is not None and secrets.slack_bot_token is not None:
        from bot.chat.slack import SlackNotifier, slack_client

        client = slack_client(
            secrets.slack_bot_token.get_secret_value(),
            api_base_url=config.slack.api_base_url or None,
        )
        bot.add_notifier(SlackNotifier(client))
    discord_client = None
    if config.discord is not None and secrets.discord_token is not None:
        import aiohttp
        import discord

        from bot.chat.discord import DiscordNotifier, endpoints

        # Only the guilds intent, as the full client: discord.py warns when even that is off.
        discord_client = discord.Client(intents=discord.Intents(guilds=True))
        bot.add_notifier(DiscordNotifier(discord_client))
        endpoints.use_api_base(config.discord.api_base_url or None)
        try:
            await discord_client.login(secrets.discord_token.get_secret_value())
        except (discord.DiscordException, aiohttp.ClientError, OSError) as exc:
            log.error("discord login failed: %s (alerts for it stay pending)", exc)
    try:
        yield
    finally:
        if discord_client is not None:
            await discord_client.close()
