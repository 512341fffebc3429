"""Posting alerts to Slack: the ``Notifier`` port over slack_sdk's AsyncWebClient.

Slack allows about one message per second per channel, so posts to one channel are paced while
other channels go ahead. Nothing is retried here: slack_sdk's retry handlers are taken off the
client, because a handler that sleeps out a rate limit holds the courier inside the call, and one
that resends after a 5xx or a dropped connection can post twice when Slack posted but its answer
was lost. Every failure becomes a ``DeliveryError`` at once, saying whether trying again can help
and when (Retry-After); the courier defers that channel alone and, before resending, looks in the
channel (``find_posted``) for the message it may already have posted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack.render import (
    alert_blocks,
    digest_blocks,
    escape,
    rebroadcast_blocks,
    thread_reply_blocks,
)
from bot.core.backoff import retry_after_seconds
from bot.core.messages import slack_rate_limited
from bot.core.models import Alert, Destination, Digest
from bot.core.thread import Escalation, ThreadReply, escalation_mark
from bot.errors import DeliveryError

log = logging.getLogger(__name__)

TRANSIENT_RETRY_SECONDS = 30.0
"""Suggested wait before trying again after an outage or a rate limit without Retry-After."""

# Slack error code -> what to tell the operator (``{channel}`` is filled in). Retrying cannot help.
_PERMANENT: dict[str, str] = {
    "channel_not_found": "Slack channel {channel} not found: check the route's channel id, "
    "and invite the bot",
    "not_in_channel": "the bot is not in Slack channel {channel}: invite it with /invite @talks",
    "is_archived": "Slack channel {channel} is archived: unarchive it or change the route",
    "account_inactive": "the Slack bot token belongs to a deactivated account: reinstall the app",
    "invalid_auth": "the Slack bot token is invalid: check SLACK_BOT_TOKEN",
    "not_authed": "no Slack bot token was sent: set SLACK_BOT_TOKEN",
    "token_revoked": "the Slack bot token was revoked: reinstall the app and update "
    "SLACK_BOT_TOKEN",
    "token_expired": "the Slack bot token expired: reinstall the app and update SLACK_BOT_TOKEN",
    "msg_too_long": "Slack refused a too-long message for {channel}: report this as a bug",
    "invalid_blocks": "Slack refused the message blocks for {channel}: report this as a bug",
    "missing_scope": "the Slack app lacks a scope for {channel}: reinstall it from "
    "deploy/slack-app-manifest.yml",
    "restricted_action": "the workspace does not let the bot post in {channel}: ask a Slack admin",
    "user_not_found": "Slack user {channel} not found: check the subscription",
    "cannot_dm_bot": "cannot send direct messages to bot user {channel}",
    "message_not_found": "the alert to edit in {channel} is gone (deleted?)",
    "cant_update_message": "Slack will not let the bot edit its alert in {channel}",
    "edit_window_closed": "the alert in {channel} is too old to edit",
}
# Error codes Slack documents as passing troubles.
_TRANSIENT = {"ratelimited", "fatal_error", "internal_error", "service_unavailable",
              "request_timeout"}  # fmt: skip


def without_resends(client: AsyncWebClient) -> AsyncWebClient:
    """Take every retry handler off ``client`` (slack_sdk adds a connection-error one by default):
    a retry inside the SDK sleeps where the courier waits, or resends a post before anyone has
    looked whether the first one arrived."""
    client.retry_handlers = []
    return client


HISTORY_PAGE = 200
"""Messages per ``conversations.history`` page (Slack's advised page size)."""
HISTORY_PAGES = 10
"""Most pages one look-up reads: 2,000 messages since the delivery was created."""
THREAD_EVENT = "talks_thread"
"""Slack message metadata type on thread replies and re-broadcasts (its payload marks which)."""
HISTORY_SKEW = 120.0
"""Seconds read before the delivery's creation, for a clock that differs from Slack's."""


class SlackNotifier:
    """Posts alerts and digests to Slack channels and direct messages.

    One failing channel never blocks another: each channel has its own pacing lock, and a
    channel's failure is logged once (until it works again), then only raised to the caller.
    """

    platform = "slack"

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        pace_seconds: float = 1.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._client = without_resends(client)
        self._pace = pace_seconds
        self._clock = clock or (lambda: asyncio.get_running_loop().time())
        self._locks: dict[str, asyncio.Lock] = {}
        self._last_sent: dict[str, float] = {}
        self._dm_channels: dict[str, str] = {}
        self._reported: set[str] = set()
        self._bot_ids: tuple[str, str] | None = None

    # Notifier -----------------------------------------------------------------------------
    async def send(self, destination: Destination, alert: Alert) -> str:
        text, blocks = alert_blocks(alert)
        return await self._post(destination, text, blocks)

    async def update(self, destination: Destination, message_id: str, alert: Alert) -> None:
        text, blocks = alert_blocks(alert)
        channel = await self._channel(destination)
        async with self._paced(channel):
            await self._call(
                channel,
                self._client.chat_update(channel=channel, ts=message_id, text=text, blocks=blocks),
            )

    async def send_digest(self, destination: Destination, digest: Digest) -> str:
        text, blocks = digest_blocks(digest)
        return await self._post(destination, text, blocks)

    async def reply_in_thread(
        self, destination: Destination, root_id: str, reply: ThreadReply
    ) -> str:
        """A reply under the alert ``root_id`` (its ts is the thread's ``thread_ts``)."""
        text, blocks = thread_reply_blocks(reply)
        return await self._post(destination, text, blocks, thread_ts=root_id, mark=reply.id)

    async def rebroadcast(
        self, destination: Destination, root_id: str, alert: Alert, escalation: Escalation
    ) -> str:
        """The alert again in its thread, also sent to the channel (``reply_broadcast``)."""
        text, blocks = rebroadcast_blocks(alert, escalation)
        mark = escalation_mark(alert.story_id, escalation.kind)
        return await self._post(
            destination, text, blocks, thread_ts=root_id, mark=mark, broadcast=True
        )

    async def find_in_thread(self, destination: Destination, root_id: str, mark: str) -> str | None:
        """The ts of the bot's reply carrying ``mark`` in the thread of ``root_id``, if any: a
        reply (or re-broadcast) recorded as tried may have been posted before a crash."""
        channel = await self._channel(destination)
        bot_id, bot_user = await self._own_ids()
        query: dict[str, Any] = {
            "channel": channel, "ts": root_id, "limit": HISTORY_PAGE,
            "include_all_metadata": True,
        }  # fmt: skip
        for _ in range(HISTORY_PAGES):
            response = await self._call(channel, self._client.conversations_replies(**query))
            for message in response.get("messages") or []:
                if _is_own(message, bot_id, bot_user) and _mark(message) == mark:
                    return str(message["ts"])
            metadata = response.get("response_metadata") or {}
            cursor = metadata.get("next_cursor") if isinstance(metadata, dict) else None
            if not response.get("has_more") or not cursor:
                break
            query["cursor"] = cursor
        return None

    async def find_posted(
        self, destination: Destination, alert: Alert, *, since: datetime | None = None
    ) -> str | None:
        """The ts of a message this bot already posted about ``alert``'s story, if any.

        Looks for the story's link or its ``/talks why <id>`` hint in the bot's own messages:
        after a crash or a lost answer between posting and recording, the outbox asks this
        before posting again. The channel's history is read newest first, page by page, back to
        ``since`` (a little before the delivery was created: the message cannot be older), at
        most ``HISTORY_PAGES`` pages: a busy channel's later chatter does not hide the alert.
        """
        channel = await self._channel(destination)
        bot_id, bot_user = await self._own_ids()
        marks = [f"/talks why {escape(alert.story_id)}`"]
        if alert.url:
            marks += [alert.url, escape(alert.url)]
        query: dict[str, Any] = {"channel": channel, "limit": HISTORY_PAGE}
        if since is not None:
            # Never later than now: a clock running ahead must not hide what was just posted.
            oldest = min(since.timestamp(), time.time()) - HISTORY_SKEW
            query["oldest"] = f"{max(0.0, oldest):.6f}"
        for _ in range(HISTORY_PAGES):
            response = await self._call(channel, self._client.conversations_history(**query))
            for message in response.get("messages") or []:
                if not _is_own(message, bot_id, bot_user):
                    continue
                body = str(message.get("text", "")) + json.dumps(message.get("blocks", []))
                if any(mark in body for mark in marks):
                    return str(message["ts"])
            metadata = response.get("response_metadata") or {}
            cursor = metadata.get("next_cursor") if isinstance(metadata, dict) else None
            if not response.get("has_more") or not cursor:
                break
            query["cursor"] = cursor
        return None

    # plumbing -----------------------------------------------------------------------------
    async def _post(
        self,
        destination: Destination,
        text: str,
        blocks: list[dict[str, Any]],
        *,
        thread_ts: str | None = None,
        mark: str = "",
        broadcast: bool = False,
    ) -> str:
        """Post a message; in a thread when ``thread_ts`` is given, with ``mark`` in its
        metadata (what ``find_in_thread`` looks for)."""
        channel = await self._channel(destination)
        extra: dict[str, Any] = {}
        if thread_ts is not None:
            extra["thread_ts"] = thread_ts
            extra["reply_broadcast"] = broadcast
        if mark:
            extra["metadata"] = {"event_type": THREAD_EVENT, "event_payload": {"mark": mark}}
        async with self._paced(channel):
            response = await self._call(
                channel,
                self._client.chat_postMessage(
                    channel=channel, text=text, blocks=blocks, unfurl_links=False,
                    unfurl_media=False, **extra,
                ),
            )  # fmt: skip
        return str(response["ts"])

    async def _channel(self, destination: Destination) -> str:
        """The channel to post in: a DM channel is opened (once) for a direct destination."""
        if not destination.direct:
            return destination.channel
        user = destination.channel
        if user not in self._dm_channels:
            response = await self._call(user, self._client.conversations_open(users=user))
            self._dm_channels[user] = str(response["channel"]["id"])
        return self._dm_channels[user]

    @asynccontextmanager
    async def _paced(self, channel: str) -> AsyncIterator[None]:
        """Hold the channel's turn: at most one message per ``pace_seconds`` per channel."""
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            last = self._last_sent.get(channel)
            if last is not None:
                wait = last + self._pace - self._clock()
                if wait > 0:
                    await asyncio.sleep(wait)
            try:
                yield
            finally:
                self._last_sent[channel] = self._clock()

    async def _call(self, channel: str, request: Any) -> Mapping[str, Any]:
        """Await a Web API call, turning every failure into a one-line DeliveryError."""
        try:
            response = await request
        except SlackApiError as exc:
            raise self._failed(channel, _api_error(channel, exc)) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            reason = type(exc).__name__ if isinstance(exc, TimeoutError) else str(exc)
            error = DeliveryError(
                f"Slack unreachable for {channel} ({reason or type(exc).__name__}): "
                "will retry; check the network or api_base_url",
                retry_after=TRANSIENT_RETRY_SECONDS,
            )
            raise self._failed(channel, error) from exc
        self._reported.discard(channel)
        return response.data if isinstance(response.data, dict) else {}

    def _failed(self, channel: str, error: DeliveryError) -> DeliveryError:
        if channel not in self._reported:
            self._reported.add(channel)
            log.warning("%s", error)
        return error

    async def _own_ids(self) -> tuple[str, str]:
        if self._bot_ids is None:
            response = await self._call("auth.test", self._client.auth_test())
            self._bot_ids = (str(response.get("bot_id", "")), str(response.get("user_id", "")))
        return self._bot_ids


def _mark(message: Mapping[str, Any]) -> str:
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != THREAD_EVENT:
        return ""
    payload = metadata.get("event_payload")
    return str(payload.get("mark", "")) if isinstance(payload, dict) else ""


def _is_own(message: Mapping[str, Any], bot_id: str, bot_user: str) -> bool:
    by_bot = bool(bot_id) and message.get("bot_id") == bot_id
    return by_bot or (bool(bot_user) and message.get("user") == bot_user)


def _api_error(channel: str, exc: SlackApiError) -> DeliveryError:
    response = exc.response
    data = response.data if isinstance(response.data, dict) else {}
    code = str(data.get("error") or "")
    status = response.status_code
    retry_after = _retry_after(response.headers)
    wait = TRANSIENT_RETRY_SECONDS if retry_after is None else retry_after
    if status == 429 or code == "ratelimited":
        return DeliveryError(slack_rate_limited(channel, wait), retry_after=wait, unposted=True)
    if status >= 500 or code in _TRANSIENT:
        trouble = code or f"HTTP {status}"
        return DeliveryError(
            f"Slack is having trouble ({trouble}) with {channel}: will retry", retry_after=wait
        )
    template = _PERMANENT.get(code, "Slack refused the message for {channel} ({code})")
    return DeliveryError(template.format(channel=channel, code=code or status), permanent=True)


def _retry_after(headers: Any) -> float | None:
    """Seconds Slack asked to wait (None when it did not say, or said it unreadably)."""
    value = None
    for key, raw in dict(headers or {}).items():
        if str(key).lower() == "retry-after":
            value = raw[0] if isinstance(raw, list) and raw else raw
    return retry_after_seconds(value, datetime.now(UTC))
