"""The operators' HTTP endpoints, inside the bot's own asyncio loop (aiohttp, one server):

* ``GET /metrics``: Prometheus' text format, from the bot's own registry (``bot.metrics``).
* ``GET /healthz``: 200 while the process runs its scheduler, else 503 (Docker's HEALTHCHECK
  through ``talks-bot healthcheck``, a Kubernetes liveness probe).
* ``GET /readyz``: 200 when the database answers a cheap query within ``READY_TIMEOUT_SECONDS``
  and, when a route posts to a chat, at least one chat connection is up; else 503 with
  ``{"ready": false, "reason": "..."}`` (a readiness probe, compose's ``service_healthy``).

Answers are small JSON or text; nothing in them is secret (reasons are redacted against the
configured secrets, as the log is).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from aiohttp import web

from bot.config import split_listen
from bot.core import messages as say
from bot.errors import StoreError, TalksBotError
from bot.metrics import CONTENT_TYPE, BotMetrics

if TYPE_CHECKING:
    from bot.app import TalksBot

log = logging.getLogger("talks_bot")

READY_TIMEOUT_SECONDS = 2.0
"""The longest /readyz waits for the database (a probe's own timeout is often 1-5 s)."""
PROBE_KEY = "readyz-probe"
"""A meta key read by /readyz: one indexed row that need not exist."""


class HealthServer:
    """/metrics, /healthz and /readyz for one bot. ``await start()``, ``await stop()``."""

    def __init__(self, bot: TalksBot, metrics: BotMetrics, address: str) -> None:
        self.bot = bot
        self.metrics = metrics
        self.host, self.port = split_listen(address)
        self._runner: web.AppRunner | None = None
        secrets = bot.settings.secrets.values()
        self._redact: Callable[[str], str] = lambda text: _redacted(text, secrets)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Listen; a TalksBotError naming the address and the fix when it cannot."""
        app = web.Application()
        app.add_routes(
            [
                web.get("/metrics", self._metrics),
                web.get("/healthz", self._healthz),
                web.get("/readyz", self._readyz),
            ]
        )
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as exc:
            await runner.cleanup()
            raise TalksBotError(say.metrics_cannot_listen(f"{self.host}:{self.port}", exc)) from exc
        self._runner = runner
        log.info("%s", say.metrics_listening(self.url))

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- handlers -----------------------------------------------------------------------------
    async def _metrics(self, request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                await self.metrics.count_pending(self.bot.store, self.bot.clock())
        except (StoreError, TimeoutError) as exc:
            self.metrics.store_failed("metrics")
            log.debug("%s", self._redact(say.pending_not_counted(exc)))
        return web.Response(body=self.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    async def _healthz(self, request: web.Request) -> web.Response:
        if self.bot.alive():
            return web.json_response({"alive": True})
        return web.json_response(
            {"alive": False, "reason": say.health_scheduler_stopped()}, status=503
        )

    async def _readyz(self, request: web.Request) -> web.Response:
        reason = await self.unready()
        if reason is None:
            return web.json_response({"ready": True})
        return web.json_response({"ready": False, "reason": self._redact(reason)}, status=503)

    async def unready(self) -> str | None:
        """Why the bot is not ready to do its work, or None when it is."""
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                await self.bot.store.get_meta(PROBE_KEY)
        except TimeoutError:
            self.metrics.store_failed("readiness")
            return say.ready_database_silent(READY_TIMEOUT_SECONDS)
        except StoreError as exc:
            self.metrics.store_failed("readiness")
            return say.ready_database_unreachable(_first_line(str(exc)))
        needed = sorted({r.destination.platform for r in self.bot.routes} - {"console"})
        if needed and not any(_connected(self.bot, platform) for platform in needed):
            return say.ready_no_chat(needed)
        return None


def _connected(bot: TalksBot, platform: str) -> bool:
    """A chat platform is up when its notifier is registered and, if it can tell (Discord's
    gateway), says it is connected. Slack's Web API needs no standing connection."""
    notifier = bot.notifiers.get(platform)
    if notifier is None:
        return False
    connected = getattr(notifier, "connected", None)
    return bool(connected()) if callable(connected) else True


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no reason given"


def _redacted(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
