"""The OAuth2 link an operator opens to add the bot to a server, with only what it needs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import discord
from pydantic import ValidationError

from bot.config import DiscordConfig, read_toml
from bot.errors import ConfigError

APPLICATION_ID_ENV = "DISCORD_APPLICATION_ID"
"""Where ``talks-bot discord-invite`` looks first for the application id."""

SCOPES = ("bot", "applications.commands")
"""``bot`` adds the bot user; ``applications.commands`` lets it register ``/talks``."""

BOT_PERMISSIONS = discord.Permissions(
    view_channel=True,
    # 1 << 10 = 1024: see the channels a route names (without it: 50001 Missing Access).
    send_messages=True,
    # 1 << 11 = 2048: post alerts and digests.
    embed_links=True,
    # 1 << 14 = 16384: alerts are embeds; without it Discord strips them silently.
    create_public_threads=True,
    # 1 << 35 = 34359738368: start the thread of a development on its alert (routes with
    # threads, the default), and open a forum post per development.
    send_messages_in_threads=True,
    # 1 << 38 = 274877906944: post the replies in those threads (and lets a route point at one).
)
"""309237664768 in all. Nothing else: the bot edits only its own messages (no Manage Messages),
never reads the channel (no Read Message History, no Message Content intent) and pings only
subscribers who asked for it (no Mention Everyone). Slash-command replies need no permission."""


def invite_url(application_id: int | str) -> str:
    """The invite link for the application (the "Application ID" in the developer portal)."""
    return discord.utils.oauth_url(application_id, permissions=BOT_PERMISSIONS, scopes=SCOPES)


def application_id(config: Path, env: Mapping[str, str]) -> str:
    """The application id for the invite: ``DISCORD_APPLICATION_ID``, else the config file's
    ``[discord] application_id``. Only that table is read: the link needs no token (the bot is
    invited before its token is set up) and none of the rest of the configuration."""
    app_id = env.get(APPLICATION_ID_ENV, "").strip()
    if not app_id:
        raw = read_toml(config, missing=f"pass --config PATH, or set {APPLICATION_ID_ENV}")
        table = raw.get("discord")
        try:
            table_cfg = DiscordConfig.model_validate(table if isinstance(table, dict) else {})
        except ValidationError as exc:
            raise ConfigError(
                [f"discord.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            ) from None
        app_id = table_cfg.application_id.strip()
    if not app_id:
        raise ConfigError(
            [
                "discord.application_id is not set: copy the Application ID from the Discord "
                f"developer portal into the [discord] table, or set {APPLICATION_ID_ENV}"
            ]
        )
    if not app_id.isdigit():
        raise ConfigError(
            [
                f"the Discord application id {app_id[:40]!r} is not a number: copy the "
                "Application ID (digits) from the Discord developer portal"
            ]
        )
    return app_id
