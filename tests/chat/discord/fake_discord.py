"""A small Discord on 127.0.0.1: the REST API and the gateway, over real HTTP and WebSocket.

discord.py talks to it exactly as it talks to Discord (after ``endpoints`` points it here), so a
test fails when the bytes on the wire would be wrong. It serves what the bot uses (login,
command sync, messages, DMs, interaction callbacks and webhooks), records every request, can be
scripted to answer with Discord's errors (429 with its rate-limit headers, 403 Missing Access,
404 Unknown Channel, 5xx), and pushes gateway events (READY, GUILD_CREATE, INTERACTION_CREATE)
shaped as Discord sends them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web
from discord.utils import time_snowflake

API_PREFIX = "/api/v10"

APP_ID = 710000000000000001
BOT_ID = 710000000000000002
GUILD_ID = 720000000000000001
NEWSROOM_CHANNEL = 720000000000000010
"""#hostage-talks, a text channel the bot can post to."""
FORUM_CHANNEL = 720000000000000011
"""#developments, a forum channel: one post per development."""
EDITORS_ROLE = 720000000000000020
"""A role named "Desk editors" (configured as an admin role in some tests)."""

VIEW_AND_SEND = (1 << 10) | (1 << 11)
MANAGE_CHANNELS = 1 << 4

Json = dict[str, Any]


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    """Path below the API prefix, e.g. ``/channels/123/messages``."""
    query: dict[str, str]
    json: Any
    headers: dict[str, str]


@dataclass
class Scripted:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: Json
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


def _user(user_id: int, name: str, *, bot: bool = False) -> Json:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": name.title(),
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


def _now() -> str:
    return datetime.now(UTC).isoformat()


class FakeDiscord:
    """Start with ``await fake.start()``; point the bot at ``api_base`` and ``gateway_url``."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.messages: dict[int, Json] = {}
        self.identifies: list[Json] = []
        self.gateway_queries: list[dict[str, str]] = []
        self.channels: dict[int, Json] = {
            NEWSROOM_CHANNEL: self._text_channel(NEWSROOM_CHANNEL, "hostage-talks"),
            FORUM_CHANNEL: {
                **self._text_channel(FORUM_CHANNEL, "developments"),
                "type": 15,
                "available_tags": [],
                "default_reaction_emoji": None,
                "default_sort_order": None,
                "default_forum_layout": 0,
                "flags": 0,
            },
        }
        self.threads: dict[int, Json] = {}
        """Threads by id (a thread started from a message has that message's id)."""
        self._scripts: list[Scripted] = []
        self._nonces: dict[tuple[int, str], int] = {}
        self._ids = itertools.count(730000000000000001)
        self._last_message = 0
        self._sockets: list[web.WebSocketResponse] = []
        self._sequence = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Condition()
        self.port = 0
        self.bot_user = _user(BOT_ID, "talks-bot", bot=True)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # -- scripting ----------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        code: int = 0,
        message: str = "",
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Json | None = None,
    ) -> None:
        """Answer the next ``times`` requests to ``method`` + regex ``path`` with an error."""
        self._scripts.append(
            Scripted(
                method,
                re.compile(path),
                status,
                body if body is not None else {"message": message, "code": code},
                headers or {},
                times,
            )
        )

    def rate_limit(
        self, method: str, path: str, *, retry_after: float, is_global: bool = False
    ) -> None:
        """One 429 exactly as Discord sends it (headers and JSON body)."""
        headers = {
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{datetime.now(UTC).timestamp() + retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": "fake-bucket-" + path,
            "X-RateLimit-Scope": "shared" if not is_global else "global",
            "Via": "1.1 google",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": is_global,
        }
        self.fail(method, path, 429, headers=headers, body=body)

    # -- inspection ----------------------------------------------------------------------------

    def calls(self, method: str, path: str) -> list[Recorded]:
        """Recorded requests whose path matches regex ``path`` entirely."""
        pattern = re.compile(path)
        return [r for r in self.requests if r.method == method and pattern.fullmatch(r.path)]

    async def wait_for(self, method: str, path: str, *, count: int = 1) -> list[Recorded]:
        """The matching requests once there are ``count`` of them (at most 5 s)."""
        async with asyncio.timeout(5), self._changed:
            await self._changed.wait_for(lambda: len(self.calls(method, path)) >= count)
        return self.calls(method, path)

    # -- gateway events ------------------------------------------------------------------------

    async def dispatch(self, event: str, data: Json) -> None:
        """Send a DISPATCH (op 0) event to every connected bot."""
        frame = {"op": 0, "t": event, "s": next(self._sequence), "d": data}
        for ws in list(self._sockets):
            await ws.send_json(frame)

    def command(
        self,
        subcommand: str,
        options: dict[str, str] | None = None,
        *,
        user_id: int = 740000000000000001,
        permissions: int = VIEW_AND_SEND,
        roles: tuple[int, ...] = (),
        focused: str | None = None,
    ) -> Json:
        """An INTERACTION_CREATE for ``/talks <subcommand>``: type 4 when ``focused`` is named."""
        interaction_id = next(self._ids)
        sub_options = [
            {
                "name": name,
                "type": 3,
                "value": value,
                **({"focused": True} if name == focused else {}),
            }
            for name, value in (options or {}).items()
        ]
        member = {
            "user": _user(user_id, f"editor{user_id % 1000}"),
            "roles": [str(r) for r in roles],
            "joined_at": "2024-01-15T08:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "premium_since": None,
            "permissions": str(permissions),
        }
        return {
            "id": str(interaction_id),
            "application_id": str(APP_ID),
            "type": 4 if focused else 2,
            "token": f"interaction-token-{interaction_id}",
            "version": 1,
            "guild_id": str(GUILD_ID),
            "guild": {"id": str(GUILD_ID), "locale": "en-US", "features": []},
            "channel_id": str(NEWSROOM_CHANNEL),
            "channel": self.channels[NEWSROOM_CHANNEL],
            "member": member,
            "data": {
                "id": "750000000000000001",
                "name": "talks",
                "type": 1,
                "guild_id": str(GUILD_ID),
                "options": [{"name": subcommand, "type": 1, "options": sub_options}],
            },
            "app_permissions": str(VIEW_AND_SEND | (1 << 14)),
            "locale": "en-GB",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(GUILD_ID)},
            "context": 0,
            "attachment_size_limit": 10485760,
        }

    # -- REST ------------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw else None
        async with self._changed:
            self.requests.append(
                Recorded(request.method, path, dict(request.query), body, dict(request.headers))
            )
            self._changed.notify_all()
        # Interaction callbacks and webhooks are authorised by their token in the path.
        webhook = path.startswith(("/interactions/", "/webhooks/"))
        if not webhook and request.headers.get("Authorization") != "Bot fake-token":
            return _error(401, 0, "401: Unauthorized")
        for script in self._scripts:
            if (
                script.times > 0
                and script.method == request.method
                and script.pattern.fullmatch(path)
            ):
                script.times -= 1
                return _json(script.body, script.status, script.headers)
        for method, pattern, handler in self._routes():
            match = pattern.fullmatch(path)
            if method == request.method and match:
                given = dict(request.query) if request.method == "GET" else body
                return await handler(given, *match.groups())
        return _error(404, 0, "404: Not Found")

    def _routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Any]]]:
        table: list[tuple[str, str, Callable[..., Any]]] = [
            ("GET", r"/users/@me", self._me),
            ("GET", r"/oauth2/applications/@me", self._application),
            ("GET", r"/gateway/bot", self._gateway_bot),
            ("PUT", r"/applications/(\d+)/commands", self._overwrite_commands),
            ("PUT", r"/applications/(\d+)/guilds/(\d+)/commands", self._overwrite_commands),
            ("POST", r"/channels/(\d+)/messages", self._create_message),
            ("PATCH", r"/channels/(\d+)/messages/(\d+)", self._edit_message),
            ("GET", r"/channels/(\d+)/messages", self._history),
            ("GET", r"/channels/(\d+)", self._get_channel),
            ("POST", r"/channels/(\d+)/messages/(\d+)/threads", self._thread_from_message),
            ("POST", r"/channels/(\d+)/threads", self._forum_post),
            ("POST", r"/users/@me/channels", self._create_dm),
            ("POST", r"/interactions/(\d+)/([\w-]+)/callback", self._interaction_callback),
            ("POST", r"/webhooks/(\d+)/([\w-]+)", self._followup),
            ("PATCH", r"/webhooks/(\d+)/([\w-]+)/messages/(@original|\d+)", self._edit_followup),
        ]
        return [(m, re.compile(p), h) for m, p, h in table]

    async def _me(self, _body: Any) -> web.Response:
        return _ok(self.bot_user)

    async def _application(self, _body: Any) -> web.Response:
        return _ok(
            {
                "id": str(APP_ID),
                "name": "talks-bot",
                "description": "Cease-fire talks alerts",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": _user(740000000000000099, "deskchief"),
                "verify_key": "0" * 64,
                "flags": 0,
                "team": None,
            }
        )

    async def _gateway_bot(self, _body: Any) -> web.Response:
        return _ok(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    async def _overwrite_commands(self, body: Any, app_id: str, guild_id: str = "") -> web.Response:
        created = []
        for command in body:
            created.append(
                {
                    **command,
                    "id": str(next(self._ids)),
                    "application_id": app_id,
                    "version": "1",
                    **({"guild_id": guild_id} if guild_id else {}),
                }
            )
        return _ok(created)

    async def _create_message(self, body: Json, channel_id: str) -> web.Response:
        channel = int(channel_id)
        if channel not in self.channels:
            return _error(404, 10003, "Unknown Channel")
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            existing = self._nonces.get((channel, str(nonce)))
            if existing is not None:
                return _ok(self.messages[existing])
        message = self._message(channel, body)
        if nonce is not None:
            self._nonces[(channel, str(nonce))] = int(message["id"])
        return _ok(message)

    async def _get_channel(self, _body: Any, channel_id: str) -> web.Response:
        channel = self.channels.get(int(channel_id))
        if channel is None:
            return _error(404, 10003, "Unknown Channel")
        return _ok(channel)

    async def _thread_from_message(
        self, body: Json, channel_id: str, message_id: str
    ) -> web.Response:
        """A public thread started from a message: Discord gives it the message's id."""
        message = self.messages.get(int(message_id))
        if message is None or message["channel_id"] != channel_id:
            return _error(404, 10008, "Unknown Message")
        if int(message_id) in self.threads:
            return _error(400, 160004, "A thread has already been created for this message")
        return _ok(self._thread(int(message_id), int(channel_id), body["name"]))

    async def _forum_post(self, body: Json, channel_id: str) -> web.Response:
        """A forum post: a thread and its first message, sharing one id."""
        forum = self.channels.get(int(channel_id))
        if forum is None or forum["type"] != 15:
            return _error(400, 0, "Invalid Form Body")
        thread_id = self._last_message = max(
            self._last_message + 1, time_snowflake(datetime.now(UTC))
        )
        thread = self._thread(thread_id, int(channel_id), body["name"])
        message = self._message(thread_id, body.get("message") or {}, message_id=thread_id)
        return _ok({**thread, "message": message})

    def _thread(self, thread_id: int, parent: int, name: str) -> Json:
        thread = {
            "id": str(thread_id),
            "type": 11,
            "guild_id": str(GUILD_ID),
            "parent_id": str(parent),
            "owner_id": str(BOT_ID),
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": _now(),
                "locked": False,
            },
        }
        self.threads[thread_id] = thread
        self.channels[thread_id] = thread
        return thread

    def in_thread(self, thread_id: int | str) -> list[Json]:
        """Messages posted in a thread, oldest first."""
        return [m for i, m in sorted(self.messages.items()) if m["channel_id"] == str(thread_id)]

    async def _history(self, query: dict[str, str], channel_id: str) -> web.Response:
        """A channel's messages, newest first, between ``after`` and ``before`` (ids)."""
        after, before = int(query.get("after", 0)), int(query.get("before", 1 << 63))
        limit = min(int(query.get("limit", 50)), 100)
        found = [
            m
            for i, m in sorted(self.messages.items(), reverse=True)
            if m["channel_id"] == channel_id and after < i < before
        ]
        if "after" in query and "before" not in query:
            found = found[-limit:]  # Discord pages up from ``after``: the oldest ``limit`` first
        return _ok(found[:limit])

    async def _edit_message(self, body: Json, channel_id: str, message_id: str) -> web.Response:
        message = self.messages.get(int(message_id))
        if message is None or message["channel_id"] != channel_id:
            return _error(404, 10008, "Unknown Message")
        message.update({k: v for k, v in body.items() if k in ("content", "embeds")})
        message["edited_timestamp"] = _now()
        return _ok(message)

    async def _create_dm(self, body: Json) -> web.Response:
        recipient = int(body["recipient_id"])
        channel_id = recipient + 1_000_000
        self.channels[channel_id] = {
            "id": str(channel_id),
            "type": 1,
            "last_message_id": None,
            "recipients": [_user(recipient, f"editor{recipient % 1000}")],
        }
        return _ok(self.channels[channel_id])

    async def _interaction_callback(
        self, body: Json, interaction_id: str, _token: str
    ) -> web.Response:
        kind = body["type"]
        data = body.get("data") or {}
        result: Json = {
            "interaction": {
                "id": interaction_id,
                "type": 2,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(data.get("flags", 0) & 64),
            }
        }
        if kind in (4, 5):
            message = self._message(NEWSROOM_CHANNEL, data, author=self.bot_user)
            result["interaction"]["response_message_id"] = message["id"]
            result["resource"] = {"type": kind, "message": message}
        return _ok(result)

    async def _followup(self, body: Json, _app_id: str, _token: str) -> web.Response:
        return _ok(self._message(NEWSROOM_CHANNEL, body))

    async def _edit_followup(
        self, body: Json, _app_id: str, _token: str, _message_id: str
    ) -> web.Response:
        return _ok(self._message(NEWSROOM_CHANNEL, body))

    def _message(
        self, channel: int, body: Json, *, author: Json | None = None, message_id: int = 0
    ) -> Json:
        if not message_id:
            # A snowflake of the posting time, as Discord's are (history pages by them).
            self._last_message = max(self._last_message + 1, time_snowflake(datetime.now(UTC)))
            message_id = self._last_message
        message = {
            "id": str(message_id),
            "channel_id": str(channel),
            "type": 0,
            "content": body.get("content") or "",
            "embeds": body.get("embeds") or [],
            "author": author or self.bot_user,
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "pinned": False,
            "flags": body.get("flags", 0),
            "components": [],
        }
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        self.messages[message_id] = message
        return message

    @staticmethod
    def _text_channel(channel_id: int, name: str) -> Json:
        return {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(GUILD_ID),
            "name": name,
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": "Cease-fire and hostage talks desk",
            "last_message_id": None,
            "rate_limit_per_user": 0,
        }

    # -- gateway ---------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.gateway_queries.append(dict(request.query))
        self._sockets.append(ws)
        await ws.send_json({"op": 10, "s": None, "t": None, "d": {"heartbeat_interval": 41250}})
        try:
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    continue
                payload = json.loads(frame.data)
                if payload["op"] == 1:
                    await ws.send_json({"op": 11, "s": None, "t": None, "d": None})
                elif payload["op"] == 2:
                    async with self._changed:
                        self.identifies.append(payload["d"])
                        self._changed.notify_all()
                    await self.dispatch("READY", self._ready())
                    await self.dispatch("GUILD_CREATE", self._guild())
        finally:
            self._sockets.remove(ws)
        return ws

    def _ready(self) -> Json:
        return {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
            "session_id": "fake-session-1",
            "resume_gateway_url": self.gateway_url,
            "shard": [0, 1],
            "application": {"id": str(APP_ID), "flags": 0},
        }

    def _guild(self) -> Json:
        everyone = {"id": str(GUILD_ID), "name": "@everyone", "permissions": str(VIEW_AND_SEND)}
        editors = {"id": str(EDITORS_ROLE), "name": "Desk editors", "permissions": "0"}
        roles = [
            {
                "color": 0,
                "hoist": False,
                "position": i,
                "managed": False,
                "mentionable": False,
                "flags": 0,
                **role,
            }
            for i, role in enumerate((everyone, editors))
        ]
        return {
            "id": str(GUILD_ID),
            "name": "Newsroom",
            "icon": None,
            "owner_id": "740000000000000099",
            "roles": roles,
            "channels": [
                {k: v for k, v in channel.items() if k != "guild_id"}
                for channel in self.channels.values()
                if channel["type"] in (0, 15)
            ],
            "members": [
                {
                    "user": self.bot_user,
                    "roles": [],
                    "joined_at": "2024-01-15T08:00:00+00:00",
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                }
            ],
            "member_count": 3,
            "features": [],
            "emojis": [],
            "stickers": [],
            "voice_states": [],
            "presences": [],
            "threads": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "large": False,
            "unavailable": False,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "joined_at": "2024-01-15T08:00:00+00:00",
        }


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON exactly as Discord labels it: discord.py only parses ``application/json`` bare."""
    return web.Response(
        body=json.dumps(payload).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _ok(payload: Any) -> web.Response:
    return _json(
        payload,
        headers={
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "4",
            "X-RateLimit-Reset-After": "1.000",
            "X-RateLimit-Reset": f"{datetime.now(UTC).timestamp() + 1:.3f}",
        },
    )


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"message": message, "code": code}, status)
