"""Discord adapter: renders neutral alerts, digests and replies, and moves them over discord.py.

It never decides who gets what and never touches the store; see ``deploy/discord.md``.
"""

from bot.chat.discord.client import TalksCommands, TalksDiscordClient
from bot.chat.discord.invite import BOT_PERMISSIONS, invite_url
from bot.chat.discord.notifier import DiscordNotifier
from bot.chat.discord.render import alert_embed, digest_embed, reply_embed, reply_message

__all__ = [
    "BOT_PERMISSIONS",
    "DiscordNotifier",
    "TalksCommands",
    "TalksDiscordClient",
    "alert_embed",
    "digest_embed",
    "invite_url",
    "reply_embed",
    "reply_message",
]
