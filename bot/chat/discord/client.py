"""The Discord bot user: gateway connection, ``/talks`` slash commands, command sync.

Each ``/talks`` sub-command is translated to the neutral text command (``subscribe hostages
channel``) and answered by the core's ``Commands``; this module only decides what Discord
needs decided: who counts as a channel admin and how the reply looks. When to defer is
``bot.core.answering``'s rule (shared with Slack), and every answer to a failed command is
``Commands.handle``'s.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal, Protocol

import discord
from discord import app_commands

from bot.chat.discord import endpoints
from bot.chat.discord.render import clip, reply_message
from bot.core.answering import ANSWER_DEADLINE, CommandHandler, answer_in_time
from bot.core.replies import Caller, Reply
from bot.errors import ConfigError

log = logging.getLogger(__name__)

# The bot never joins a voice channel: without these, every start warns that the voice libraries
# (PyNaCl, davey) are missing, which reads like a broken install.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False

SYNC_MODES = ("guild", "global")
MAX_RATELIMIT_WAIT = 60.0
"""Rate-limit waits longer than this come back as a retryable DeliveryError instead."""
ACK_DEADLINE = ANSWER_DEADLINE
"""Seconds a command may take before it is deferred (Discord expires interactions at 3 s)."""
CHOICE_LIMIT = 25
CHOICE_TEXT_LIMIT = 100

Scope = Literal["me", "channel"]


class TalksCommands(CommandHandler, Protocol):
    """What the client needs from ``bot.core.commands.Commands``."""

    def complete_topic(self, prefix: str, limit: int = 25) -> list[tuple[str, str]]: ...


class TalksGroup(app_commands.Group):
    """``/talks …``: one sub-command per neutral command, each a one-line translation."""

    def __init__(self, bot: TalksDiscordClient) -> None:
        super().__init__(
            name="talks", description="Cease-fire and hostage talks alerts", guild_only=True
        )
        self.bot = bot

    @app_commands.command(description="Where the talks stand, latest stories, feed health")
    @app_commands.describe(period="How far back, e.g. 2h, 6h or 1d")
    async def status(self, interaction: discord.Interaction, period: str | None = None) -> None:
        await self.bot.answer(interaction, "status", period)

    @app_commands.command(description="What changed since then, newest first")
    @app_commands.describe(when="A span back (6h, 90m) or a time of day (09:00)")
    async def since(self, interaction: discord.Interaction, when: str) -> None:
        await self.bot.answer(interaction, "since", when)

    @app_commands.command(description="Topics you can follow")
    async def topics(self, interaction: discord.Interaction) -> None:
        await self.bot.answer(interaction, "topics")

    @app_commands.command(description="Get alerts for a topic")
    @app_commands.describe(topic="Topic to follow", scope="You, or this whole channel (admins)")
    async def subscribe(
        self, interaction: discord.Interaction, topic: str, scope: Scope = "me"
    ) -> None:
        await self.bot.answer(interaction, "subscribe", topic, _channel(scope))

    @app_commands.command(description="Stop alerts for a topic")
    @app_commands.describe(topic="Topic to drop", scope="You, or this whole channel (admins)")
    async def unsubscribe(
        self, interaction: discord.Interaction, topic: str, scope: Scope = "me"
    ) -> None:
        await self.bot.answer(interaction, "unsubscribe", topic, _channel(scope))

    @subscribe.autocomplete("topic")
    @unsubscribe.autocomplete("topic")
    async def topic_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return self.bot.topic_choices(current)

    @app_commands.command(description="Topics you (or this channel) follow")
    @app_commands.describe(scope="You, or this whole channel")
    async def subscriptions(self, interaction: discord.Interaction, scope: Scope = "me") -> None:
        await self.bot.answer(interaction, "subscriptions", _channel(scope))

    @app_commands.command(description="How your alerts reach you")
    @app_commands.describe(mode="dm: a direct message; mention: a ping on the channel alert")
    async def mode(self, interaction: discord.Interaction, mode: Literal["dm", "mention"]) -> None:
        await self.bot.answer(interaction, "mode", mode)

    @app_commands.command(description="Pause alerts for a while")
    @app_commands.describe(duration="e.g. 30m, 2h, 1d", scope="You, or this whole channel (admins)")
    async def mute(
        self, interaction: discord.Interaction, duration: str, scope: Scope = "me"
    ) -> None:
        await self.bot.answer(interaction, "mute", duration, _channel(scope))

    @app_commands.command(description="Resume alerts")
    @app_commands.describe(scope="You, or this whole channel (admins)")
    async def unmute(self, interaction: discord.Interaction, scope: Scope = "me") -> None:
        await self.bot.answer(interaction, "unmute", _channel(scope))

    @app_commands.command(description="Why a story alerted, or why the talks card says so")
    @app_commands.describe(story="Story id, as in an alert's footer, or `phase` for the talks card")
    async def why(self, interaction: discord.Interaction, story: str) -> None:
        await self.bot.answer(interaction, "why", story)

    @app_commands.command(description="What /talks can do")
    async def help(self, interaction: discord.Interaction) -> None:
        await self.bot.answer(interaction, "help")


def _channel(scope: Scope) -> str | None:
    return "channel" if scope == "channel" else None


class TalksDiscordClient(discord.Client):
    """The bot: no privileged intents, ``/talks`` registered at start, replies from the core.

    ``api_base_url`` / ``gateway_url`` point discord.py at another Discord (a proxy or a test
    double); see ``endpoints`` for why that is process-wide. With only ``api_base_url`` set,
    the gateway address is asked from that API's ``GET /gateway/bot``.
    """

    def __init__(
        self,
        commands: TalksCommands,
        *,
        guilds: Sequence[int] = (),
        sync: str = "guild",
        admin_roles: Sequence[int | str] = (),
        api_base_url: str | None = None,
        gateway_url: str | None = None,
        **options: Any,
    ) -> None:
        if sync not in SYNC_MODES:
            raise ConfigError(
                [
                    f"discord.sync = {sync!r} is not known: use 'guild' (instant, listed servers) "
                    "or 'global' (every server, can take up to an hour to appear)"
                ]
            )
        if sync == "guild" and not guilds:
            raise ConfigError(
                [
                    "discord.sync = 'guild' needs at least one server id in discord.guilds: "
                    "add it (right-click the server, Copy Server ID) or set sync = 'global'"
                ]
            )
        self.api_base_url = endpoints.check_api_base(api_base_url) if api_base_url else None
        self.gateway_url = endpoints.check_gateway(gateway_url) if gateway_url else None
        intents = discord.Intents.none()
        intents.guilds = True
        options.setdefault("max_ratelimit_timeout", MAX_RATELIMIT_WAIT)
        super().__init__(
            intents=intents, allowed_mentions=discord.AllowedMentions.none(), **options
        )
        self.commands = commands
        self.ack_deadline = ACK_DEADLINE
        self.guild_ids = tuple(int(g) for g in guilds)
        self.sync_mode = sync
        self.admin_role_ids = {int(r) for r in admin_roles if str(r).isdigit()}
        self.admin_role_names = {str(r).casefold() for r in admin_roles if not str(r).isdigit()}
        self.tree = app_commands.CommandTree(self)
        self.tree.add_command(TalksGroup(self))

    # -- start-up ----------------------------------------------------------------------------

    async def login(self, token: str) -> None:
        endpoints.use_api_base(self.api_base_url)
        await super().login(token)

    async def connect(self, *, reconnect: bool = True) -> None:
        gateway = self.gateway_url
        if gateway is None and self.api_base_url is not None:
            _shards, url, _limits = await self.http.get_bot_gateway()
            gateway = endpoints.check_gateway(url)
        endpoints.use_gateway(gateway)
        await super().connect(reconnect=reconnect)

    async def setup_hook(self) -> None:
        """Register ``/talks``: per listed server (appears at once) or globally."""
        if self.sync_mode == "global":
            await self._sync(None)
            return
        for guild_id in self.guild_ids:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            await self._sync(guild)

    async def _sync(self, guild: discord.Object | None) -> None:
        where = f"server {guild.id}" if guild else "all servers"
        try:
            synced = await self.tree.sync(guild=guild)
        except discord.HTTPException as error:
            reason = (error.text or str(error.status)).splitlines()[0]
            log.error(
                "Discord refused to register /talks for %s (%s): invite the bot with the "
                "applications.commands scope (talks-bot discord-invite) and check discord.guilds",
                where,
                reason,
            )
            return
        log.info("registered %d Discord command(s) for %s", len(synced), where)

    # -- commands ------------------------------------------------------------------------------

    def caller_for(self, interaction: discord.Interaction) -> Caller:
        user = interaction.user
        return Caller(
            platform="discord",
            workspace=str(interaction.guild_id or ""),
            user=str(user.id),
            channel=str(interaction.channel_id or ""),
            is_admin=self.is_channel_admin(interaction),
            user_name=user.display_name,
        )

    def is_channel_admin(self, interaction: discord.Interaction) -> bool:
        """Manage Channels in this channel, or one of the configured admin roles."""
        if interaction.guild_id is None or not isinstance(interaction.user, discord.Member):
            return False
        if interaction.permissions.manage_channels:
            return True
        return any(
            role.id in self.admin_role_ids or role.name.casefold() in self.admin_role_names
            for role in interaction.user.roles
        )

    async def answer(self, interaction: discord.Interaction, *words: str | None) -> None:
        """Run one neutral command and reply within Discord's 3 seconds.

        Slow commands (``status``) are deferred at once. Any other command that has not
        answered by ``ack_deadline`` (a slow database) is deferred then, so the interaction
        never expires; the answer then replaces the "thinking…" message.
        """
        text = " ".join(word.strip() for word in words if word and word.strip())
        caller = self.caller_for(interaction)

        async def at_once(reply: Reply) -> None:
            await interaction.response.send_message(ephemeral=reply.ephemeral, **_message(reply))

        async def defer() -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)

        async def later(reply: Reply) -> None:
            await interaction.edit_original_response(**_message(reply))

        try:
            await answer_in_time(
                self.commands,
                caller,
                text,
                answer=at_once,
                acknowledge=defer,
                follow_up=later,
                deadline=self.ack_deadline,
            )
        except discord.HTTPException as error:
            log.warning(
                "could not answer /talks %s for user %s (%s %s): Discord may have expired the "
                "interaction",
                text,
                caller.user,
                error.status,
                (error.text or "").splitlines()[0] if error.text else "",
            )

    def topic_choices(self, current: str) -> list[app_commands.Choice[str]]:
        try:
            pairs = self.commands.complete_topic(current, CHOICE_LIMIT)
        except Exception:
            log.exception("topic completion failed for %r", current)
            return []
        return [
            app_commands.Choice(
                name=clip(name if name == topic else f"{name} ({topic})", CHOICE_TEXT_LIMIT),
                value=topic[:CHOICE_TEXT_LIMIT],
            )
            for topic, name in pairs[:CHOICE_LIMIT]
        ]


def _message(reply: Reply) -> dict[str, Any]:
    """A reply as the keyword arguments of a Discord send or edit: pinging nobody."""
    content, embed = reply_message(reply)
    message: dict[str, Any] = {"allowed_mentions": discord.AllowedMentions.none()}
    if content is not None:
        message["content"] = content
    if embed is not None:
        message["embed"] = embed
    return message
