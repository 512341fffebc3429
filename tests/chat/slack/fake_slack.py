"""A fake Slack: a real aiohttp server on 127.0.0.1 speaking enough of the Web API for the adapter.

It records every call (method, parameters, headers, arrival time), keeps posted messages per
channel so ``conversations.history`` returns them, serves ``response_url`` endpoints, and a Socket
Mode websocket. Failures are scripted per method: ``fake.rate_limit("chat.postMessage")`` makes the
next call answer HTTP 429 with Retry-After, and so on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

TEAM = "T0NEWSDESK"
BOT_ID = "B0TALKS01"
BOT_USER = "U0TALKSBOT"


@dataclass
class Call:
    """One request the fake received."""

    method: str
    """Web API method ("chat.postMessage"), or "response_url"."""
    params: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


@dataclass
class Scripted:
    status: int = 200
    body: dict[str, Any] | str = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.history: dict[str, list[dict[str, Any]]] = defaultdict(list)
        """Channel id -> messages, oldest first (thread replies only when also broadcast)."""
        self.threads: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        """(channel id, root ts) -> the thread's replies, oldest first."""
        self.users: dict[str, dict[str, Any]] = {}
        self.socket_acks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._script: dict[str, list[Scripted]] = defaultdict(list)
        self._last_ts = 0.0
        self._socket: web.WebSocketResponse | None = None
        self._socket_ready = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/respond/{hook}", self._respond)
        app.router.add_get("/socket", self._socket_mode)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, hook: str = "hook1") -> str:
        return f"http://127.0.0.1:{self.port}/respond/{hook}"

    # scripting ----------------------------------------------------------------------------
    def script(self, method: str, *answers: Scripted) -> None:
        self._script[method].extend(answers)

    def rate_limit(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        answer = Scripted(
            429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)}
        )
        self.script(method, *[answer] * times)

    def server_error(self, method: str, *, status: int = 500, times: int = 1) -> None:
        self.script(method, *[Scripted(status, "upstream trouble")] * times)

    def fail(self, method: str, error: str, *, times: int = 1) -> None:
        self.script(method, *[Scripted(200, {"ok": False, "error": error})] * times)

    # inspection ---------------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def add_message(self, channel: str, **message: Any) -> str:
        # Slack's ts is the posting time (seconds.micros), unique within a channel.
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        ts = f"{self._last_ts:.6f}"
        self.history[channel].append({"type": "message", "ts": ts, **message})
        return ts

    async def send_envelope(self, envelope: dict[str, Any]) -> None:
        """Push a Socket Mode envelope to the connected app."""
        await asyncio.wait_for(self._socket_ready.wait(), 5)
        assert self._socket is not None
        await self._socket.send_str(json.dumps(envelope))

    # handlers -----------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await _params(request)
        self.calls.append(Call(method, params, dict(request.headers)))
        if self._script[method]:
            answer = self._script[method].pop(0)
            if isinstance(answer.body, str):
                return web.Response(status=answer.status, text=answer.body, headers=answer.headers)
            return web.json_response(answer.body, status=answer.status, headers=answer.headers)
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        body: dict[str, Any] = handler(params)
        return web.json_response(body)

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append(
            Call(
                "response_url", {"hook": request.match_info["hook"], **body}, dict(request.headers)
            )
        )
        return web.Response(text="ok")

    async def _socket_mode(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._socket = socket
        await socket.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        self._socket_ready.set()
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                await self.socket_acks.put(json.loads(message.data))
        return socket

    # Web API methods ----------------------------------------------------------------------
    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "team_id": TEAM,
            "team": "News desk",
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "user": "talks",
            "url": "https://newsdesk.slack.com/",
        }

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}

    def _chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        if channel.startswith("CGONE"):
            return {"ok": False, "error": "channel_not_found"}
        message = {
            "text": params.get("text", ""),
            "blocks": params.get("blocks", []),
            "bot_id": BOT_ID,
            "user": BOT_USER,
        }
        if params.get("metadata"):
            message["metadata"] = params["metadata"]
        root = str(params.get("thread_ts") or "")
        if not root:
            ts = self.add_message(channel, **message)
            return {"ok": True, "channel": channel, "ts": ts, "message": message}
        # A reply: Slack keeps it in the thread, out of the channel's history unless broadcast.
        if not any(m["ts"] == root for m in self.history.get(channel, [])):
            return {"ok": False, "error": "thread_not_found"}
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        ts = f"{self._last_ts:.6f}"
        reply = {"type": "message", "ts": ts, "thread_ts": root, **message}
        self.threads[(channel, root)].append(reply)
        if params.get("reply_broadcast") in (True, "true", "1", 1):
            self.history[channel].append({**reply, "subtype": "thread_broadcast"})
        return {"ok": True, "channel": channel, "ts": ts, "message": reply}

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, root = str(params.get("channel")), str(params.get("ts"))
        parent = [m for m in self.history.get(channel, []) if m["ts"] == root]
        if not parent:
            return {"ok": False, "error": "thread_not_found"}
        keep_metadata = params.get("include_all_metadata") in (True, "true", "1", 1)
        messages = [
            m if keep_metadata else {k: v for k, v in m.items() if k != "metadata"}
            for m in [*parent, *self.threads.get((channel, root), [])]
        ]
        return {"ok": True, "messages": messages, "has_more": False}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        for message in self.history.get(str(params.get("channel")), []):
            if message["ts"] == params.get("ts"):
                message.update(text=params.get("text", ""), blocks=params.get("blocks", []))
                return {"ok": True, "channel": params["channel"], "ts": message["ts"]}
        return {"ok": False, "error": "message_not_found"}

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("users", ""))
        return {"ok": True, "channel": {"id": "D" + user[1:]}}

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        messages = list(reversed(self.history.get(str(params.get("channel")), [])))
        if params.get("oldest"):
            messages = [m for m in messages if float(m["ts"]) >= float(params["oldest"])]
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 100)
        page, more = messages[start : start + limit], len(messages) > start + limit
        metadata = {"next_cursor": str(start + limit) if more else ""}
        return {"ok": True, "messages": page, "has_more": more, "response_metadata": metadata}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user", ""))
        profile = self.users.get(user, {"id": user, "name": user.lower()})
        return {"ok": True, "user": profile}


async def _params(request: web.Request) -> dict[str, Any]:
    """What the client sent (JSON body, form or query), with JSON-looking values decoded."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        params.update(await request.json())
    else:
        params.update((await request.post()).items())
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith(("[", "{")):
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)
    return params
