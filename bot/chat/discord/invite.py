"""The OAuth2 link an operator opens to add the bot to a server, with only what it needs."""

from __future__ import annotations

import discord

SCOPES = ("bot", "applications.commands")
"""``bot`` adds the bot user; ``applications.commands`` lets it register ``/talks``."""

BOT_PERMISSIONS = discord.Permissions(
    view_channel=True,
    # 1 << 10 = 1024: see the channels a route names (without it: 50001 Missing Access).
    send_messages=True,
    # 1 << 11 = 2048: post alerts and digests.
    embed_links=True,
    # 1 << 14 = 16384: alerts are embeds; without it Discord strips them silently.
    send_messages_in_threads=True,
    # 1 << 38 = 274877906944: lets a route point at a thread (optional, harmless otherwise).
)
"""274877926400 in all. Nothing else: the bot edits only its own messages (no Manage Messages),
never reads the channel (no Read Message History, no Message Content intent) and pings only
subscribers who asked for it (no Mention Everyone). Slash-command replies need no permission."""


def invite_url(application_id: int | str) -> str:
    """The invite link for the application (the "Application ID" in the developer portal)."""
    return discord.utils.oauth_url(application_id, permissions=BOT_PERMISSIONS, scopes=SCOPES)
