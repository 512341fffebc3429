"""Posting alerts and digests to Discord: the ``Notifier`` port over a discord.py client.

Three wire-level promises live here:

* Feed text can never ping anyone. Every message carries its own ``allowed_mentions`` that
  allows exactly the users the core put in ``Alert.mentions`` (no @everyone, @here, roles).
* A resend after a crash does not double-post: each message carries a ``nonce`` derived from
  (story or digest id, destination) with ``enforce_nonce``, so Discord returns the message it
  already created for that nonce (for a few minutes) instead of posting again.
* No send holds the courier for long. discord.py waits out rate limits inside the call (per-route
  buckets, the global limit, any ``Retry-After`` up to the client's ``max_ratelimit_timeout``,
  30 s at the least) and retries 5xx answers by itself; each call here is therefore bounded by
  ``SEND_TIMEOUT_SECONDS``, and one that runs over is cancelled and comes back as a retryable
  error, as does a longer rate limit with its wait. A resend after a cancelled post is safe for
  the same reason a resend after a crash is: the nonce (discord.py sends ``enforce_nonce`` with
  it). Discord keeps nonces for a few minutes only, so a resend after a longer wait (a long
  backoff, a restart hours later) first looks in the channel (``find_posted``): the bot's own
  messages since the delivery was created, for the story's ``/talks why`` footer or link.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import TypeVar

import aiohttp
import discord

from bot.chat.discord.render import (
    alert_embed,
    digest_embed,
    mention_line,
    rebroadcast_content,
    thread_name,
    thread_reply_content,
    why_command,
)
from bot.core.messages import (
    discord_bad_root,
    discord_no_threads,
    discord_thread_refused,
    discord_too_slow,
)
from bot.core.models import Alert, Destination, Digest
from bot.core.thread import Escalation, ThreadReply
from bot.errors import DeliveryError

log = logging.getLogger(__name__)

T = TypeVar("T")

NONCE_LENGTH = 25
"""Discord accepts nonces of at most 25 characters."""
SEND_TIMEOUT_SECONDS = 10.0
"""The longest one send, edit or DM opening may take, rate-limit waits inside discord.py
included; a normal one takes well under a second."""


THREAD_EXISTS = 160004
"""Discord's error code for "a thread has already been created for this message"."""

HISTORY_LIMIT = 500
"""Most messages one ``find_posted`` reads, from the delivery's creation on (5 pages)."""
HISTORY_SKEW = timedelta(minutes=2)
"""Read from this long before the delivery was created, for a clock that differs from Discord's."""


def message_nonce(kind: str, item_id: str, destination: Destination) -> str:
    """The same string for the same (alert or digest, destination), different otherwise."""
    key = "\x1f".join((kind, item_id, destination.label, destination.workspace))
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()[:NONCE_LENGTH]


def allowed_mentions_for(user_ids: tuple[str, ...]) -> discord.AllowedMentions:
    """Pings allowed for one message: exactly these users, nobody else, never everyone."""
    users = [discord.Object(id=int(u)) for u in dict.fromkeys(user_ids) if u.isdigit()]
    return discord.AllowedMentions(
        everyone=False, roles=False, users=users or False, replied_user=False
    )


class DiscordNotifier:
    """Sends to channels by id and to people by user id (via their DM channel)."""

    platform = "discord"

    def __init__(
        self, client: discord.Client, *, send_timeout: float = SEND_TIMEOUT_SECONDS
    ) -> None:
        self._client = client
        self._timeout = send_timeout
        client.allowed_mentions = discord.AllowedMentions.none()
        self._reported: set[str] = set()
        """Destinations whose permanent failure has been logged already."""
        self._threads: set[str] = set()
        """Alerts (message ids) whose thread is known to exist."""

    def connected(self) -> bool:
        """The gateway connection is up (``/readyz``)."""
        return self._client.is_ready()

    async def send(self, destination: Destination, alert: Alert) -> str:
        forum = self._forum(destination)
        if forum is not None:
            # A forum takes posts, not messages: the alert opens the development's post.
            posted = await self._bounded(
                destination,
                forum.create_thread(
                    name=thread_name(alert.title, alert.story_id),
                    content=mention_line(alert.mentions),
                    embed=alert_embed(alert),
                    allowed_mentions=allowed_mentions_for(alert.mentions),
                ),
            )
            self._threads.add(str(posted.message.id))
            return str(posted.message.id)
        channel = await self._messageable(destination)
        message = await self._bounded(
            destination,
            channel.send(
                content=mention_line(alert.mentions),
                embed=alert_embed(alert),
                allowed_mentions=allowed_mentions_for(alert.mentions),
                nonce=message_nonce("alert", alert.story_id, destination),
            ),
        )
        return str(message.id)

    async def update(self, destination: Destination, message_id: str, alert: Alert) -> None:
        if not message_id.isdigit():
            raise DeliveryError(
                f"Discord message id {message_id!r} is not a number: the stored delivery is "
                "corrupt, nothing to update",
                permanent=True,
            )
        channel = await self._messageable(destination)
        if self._forum(destination) is not None:
            # A forum post's first message lives in the post (a thread of the same id).
            channel = self._in_thread(destination, message_id)
        await self._bounded(
            destination,
            channel.get_partial_message(int(message_id)).edit(
                content=mention_line(alert.mentions),
                embed=alert_embed(alert),
                allowed_mentions=allowed_mentions_for(alert.mentions),
            ),
            message_id=message_id,
        )

    async def send_digest(self, destination: Destination, digest: Digest) -> str:
        mentions = tuple(user for alert in digest.alerts for user in alert.mentions)
        channel = await self._messageable(destination)
        message = await self._bounded(
            destination,
            channel.send(
                content=mention_line(mentions),
                embed=digest_embed(digest),
                allowed_mentions=allowed_mentions_for(mentions),
                nonce=message_nonce("digest", digest.id, destination),
            ),
        )
        return str(message.id)

    async def reply_in_thread(
        self, destination: Destination, root_id: str, reply: ThreadReply
    ) -> str:
        """A reply in the thread started from the alert ``root_id`` (started by the first
        reply, named after the headline; in a forum the post is the thread already)."""
        if reply.opens:
            await self._open_thread(destination, root_id, reply.headline, reply.story_id)
        message = await self._bounded(
            destination,
            self._in_thread(destination, root_id).send(
                content=thread_reply_content(reply),
                allowed_mentions=discord.AllowedMentions.none(),
                nonce=message_nonce("reply", reply.id, destination),
            ),
        )
        return str(message.id)

    async def rebroadcast(
        self, destination: Destination, root_id: str, alert: Alert, escalation: Escalation
    ) -> str:
        """The alert again as a channel message linking its thread (in a forum, a message in
        the development's post, which brings the post back to the top)."""
        forum = self._forum(destination) is not None
        if escalation.opens and not forum:
            await self._open_thread(destination, root_id, alert.title, alert.story_id)
        thread = self._in_thread(destination, root_id)
        target = thread if forum else await self._messageable(destination)
        message = await self._bounded(
            destination,
            target.send(
                content=rebroadcast_content(escalation, thread.jump_url),
                embed=alert_embed(alert),
                allowed_mentions=discord.AllowedMentions.none(),
                nonce=message_nonce(
                    "escalation", f"{alert.story_id}:{escalation.kind}", destination
                ),
            ),
        )
        return str(message.id)

    async def find_posted(
        self, destination: Destination, alert: Alert, *, since: datetime | None = None
    ) -> str | None:
        """The id of a message this bot posted about ``alert``'s story since ``since``, if any:
        its footer names the story (``/talks why <id>``) or its title links the story's URL.

        A forum has no channel history to read (each post is a thread of its own): there it
        cannot tell, and a post a crash interrupted may be posted a second time."""
        if self._forum(destination) is not None:
            return None
        channel = await self._messageable(destination)
        me = self._client.user
        marker = why_command(alert.story_id)
        after = (
            discord.Object(id=discord.utils.time_snowflake(since - HISTORY_SKEW)) if since else None
        )

        async def scan() -> str | None:
            async for message in channel.history(limit=HISTORY_LIMIT, after=after):
                if me is not None and message.author.id != me.id:
                    continue
                for embed in message.embeds:
                    footer = embed.footer.text or ""
                    if footer.endswith(marker) or (alert.url and embed.url == alert.url):
                        return str(message.id)
            return None

        return await self._bounded(destination, scan())

    # -- plumbing --------------------------------------------------------------------------

    def _forum(self, destination: Destination) -> discord.ForumChannel | None:
        """The route's channel when it is a forum (known from the gateway's guild cache)."""
        if destination.direct or not destination.channel.isdigit():
            return None
        channel = self._client.get_channel(int(destination.channel))
        return channel if isinstance(channel, discord.ForumChannel) else None

    def _in_thread(self, destination: Destination, root_id: str) -> discord.PartialMessageable:
        """The thread of the alert ``root_id``: Discord gives a thread started from a message
        (and a forum post) the id of that message."""
        if not root_id.isdigit():
            raise DeliveryError(discord_bad_root(root_id), permanent=True)
        guild_id = int(destination.workspace) if destination.workspace.isdigit() else None
        if guild_id is None:
            parent = self._client.get_channel(int(destination.channel))
            guild = getattr(parent, "guild", None)
            guild_id = guild.id if guild is not None else None
        return self._client.get_partial_messageable(
            int(root_id), guild_id=guild_id, type=discord.ChannelType.public_thread
        )

    async def _open_thread(
        self, destination: Destination, root_id: str, headline: str, story_id: str
    ) -> None:
        """Start the thread on the alert ``root_id`` unless it is open already (this run
        opened it, Discord says it exists, e.g. when a crash came between starting it and
        recording the first reply, or the channel is a forum)."""
        if root_id in self._threads or self._forum(destination) is not None:
            return
        channel = await self._messageable(destination)
        parent = self._client.get_channel(channel.id)
        if not isinstance(parent, discord.TextChannel):
            parent = await self._bounded(destination, self._client.fetch_channel(channel.id))
        if not isinstance(parent, discord.TextChannel):
            raise DeliveryError(discord_no_threads(destination.channel), permanent=True)
        try:
            await self._bounded(
                destination,
                parent.get_partial_message(int(root_id)).create_thread(
                    name=thread_name(headline, story_id)
                ),
                message_id=root_id,
            )
        except DeliveryError as error:
            cause = error.__cause__
            if isinstance(cause, discord.Forbidden):
                refused = discord_thread_refused(destination.channel, _reason(cause))
                raise DeliveryError(refused, permanent=True) from cause
            if not (isinstance(cause, discord.HTTPException) and cause.code == THREAD_EXISTS):
                raise
        self._threads.add(root_id)

    async def _bounded(
        self, destination: Destination, call: Awaitable[T], *, message_id: str = ""
    ) -> T:
        """Await one REST call for at most ``self._timeout`` seconds; every failure, running
        over included, becomes a DeliveryError."""
        try:
            async with asyncio.timeout(self._timeout):
                return await call
        except TimeoutError as error:
            raise DeliveryError(discord_too_slow(destination.label, self._timeout)) from error
        except (discord.DiscordException, aiohttp.ClientError, OSError) as error:
            raise self._delivery_error(destination, error, message_id=message_id) from error

    async def _messageable(
        self, destination: Destination
    ) -> discord.PartialMessageable | discord.DMChannel:
        """The channel to post to, without a lookup request for plain channels."""
        if self._client.user is None:
            raise DeliveryError(
                "Discord is not logged in yet: the alert stays pending and is retried",
                permanent=False,
            )
        if not destination.channel.isdigit():
            what = "user" if destination.direct else "channel"
            raise DeliveryError(
                f"Discord {what} id {destination.channel!r} is not a number: check the route "
                "or subscription",
                permanent=True,
            )
        target = int(destination.channel)
        if not destination.direct:
            guild_id = int(destination.workspace) if destination.workspace.isdigit() else None
            return self._client.get_partial_messageable(target, guild_id=guild_id)
        return await self._bounded(destination, self._client.create_dm(discord.Object(id=target)))

    def _delivery_error(
        self, destination: Destination, error: BaseException, *, message_id: str = ""
    ) -> DeliveryError:
        if isinstance(error, discord.RateLimited):
            return DeliveryError(
                f"Discord rate limit on {destination.label} asks to wait "
                f"{error.retry_after:.0f}s: the alert is retried after that",
                permanent=False,
                retry_after=error.retry_after,
                unposted=True,
            )
        if isinstance(error, discord.Forbidden | discord.NotFound):
            failure = DeliveryError(_refusal(destination, error, message_id), permanent=True)
            if destination.label not in self._reported:
                self._reported.add(destination.label)
                log.warning("%s", failure)
            return failure
        if isinstance(error, discord.HTTPException) and error.status < 500:
            return DeliveryError(
                f"Discord rejected the message to {destination.label} "
                f"({error.status} {_reason(error)}): this is a bot bug, please report it",
                permanent=True,
            )
        if isinstance(error, discord.HTTPException):
            detail = f"{error.status} {_reason(error)}"
        else:
            detail = f"{type(error).__name__}: {error}".rstrip(": ")
        return DeliveryError(
            f"Discord did not take the message to {destination.label} ({detail}): "
            "it is retried later",
            permanent=False,
        )


def _reason(error: discord.HTTPException) -> str:
    return (error.text or "no reason given").splitlines()[0]


def _refusal(destination: Destination, error: discord.HTTPException, message_id: str) -> str:
    """One line naming what Discord refused and what the operator can do about it."""
    reason = _reason(error)
    if destination.direct:
        return (
            f"Discord user {destination.channel} cannot be sent direct messages ({reason}): "
            "they may have left the server or closed DMs from server members"
        )
    if message_id and isinstance(error, discord.NotFound) and error.code == 10008:
        return (
            f"Discord message {message_id} in channel {destination.channel} is gone ({reason}): "
            "it was deleted, so the alert is not updated"
        )
    if isinstance(error, discord.Forbidden) and error.code == 50013:
        return (
            f"The bot lacks a permission in Discord channel {destination.channel} ({reason}): "
            "allow it View Channel, Send Messages and Embed Links there"
        )
    if isinstance(error, discord.NotFound):
        return (
            f"Discord channel {destination.channel} does not exist ({reason}): "
            "check the route's channel id"
        )
    return (
        f"Discord channel {destination.channel} is not visible to the bot ({reason}): "
        "check the route's channel id and the bot's permissions"
    )
