"""The ``/talks`` slash command on Slack, over slack-bolt, in Socket Mode or HTTP mode.

Slack drops a command that is not acknowledged within 3 seconds. Quick commands are answered in
the acknowledgement itself; slow ones (``commands.is_slow``), and any command that takes longer
than ``ACK_BUDGET_SECONDS``, are acknowledged with "Working on it…" and answered through the
command's ``response_url`` (the timing is ``bot.core.answering``'s, shared with Discord).
Personal replies are ephemeral; a reply meant for the channel is posted ``in_channel``.

This module translates only: who may do what is the core's decision, from ``Caller.is_admin``,
which the adapter fills from the configured admins or Slack's own roles, and so is every answer
to a command that failed (``Commands.handle`` never raises).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack import outage
from bot.chat.slack.notifier import without_resends
from bot.chat.slack.render import reply_blocks
from bot.core import messages as say
from bot.core.answering import ANSWER_DEADLINE, CommandHandler, answer_in_time
from bot.core.replies import Caller, Reply
from bot.errors import ConfigError

log = logging.getLogger(__name__)

COMMAND = "/talks"
EVENTS_PATH = "/slack/events"
ACK_BUDGET_SECONDS = ANSWER_DEADLINE
"""Longest a command may run before it is acknowledged and answered later (Slack allows 3 s)."""
ROLE_CACHE_SECONDS = 600.0
WORKING = say.working()
"""The acknowledgement of a command answered later through its ``response_url``."""


def slack_client(
    bot_token: str, *, api_base_url: str | None = None, timeout: int = 30
) -> AsyncWebClient:
    """A Web API client pointed at ``api_base_url`` (proxy, Grid gateway, tests), with no retry
    handlers: a retry belongs to the courier, which looks for an earlier post before resending
    (``bot.chat.slack.notifier``)."""
    base = api_base_url or AsyncWebClient.BASE_URL
    client = AsyncWebClient(
        token=bot_token, base_url=base.rstrip("/") + "/", timeout=timeout, retry_handlers=[]
    )
    return without_resends(client)


def reply_payload(reply: Reply) -> dict[str, Any]:
    """A Reply as a slash-command response body."""
    text, blocks = reply_blocks(reply)
    return {
        "text": text,
        "blocks": blocks,
        "response_type": "ephemeral" if reply.ephemeral else "in_channel",
    }


class AdminRoles:
    """Decides ``Caller.is_admin``: a configured admin, or a Slack workspace admin/owner."""

    def __init__(self, admins: Iterable[str] = (), *, ttl: float = ROLE_CACHE_SECONDS) -> None:
        self._admins = frozenset(admins)
        self._ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, bool]] = {}
        self._warned = False

    async def is_admin(self, client: AsyncWebClient, team: str, user: str) -> bool:
        if user in self._admins:
            return True
        cached = self._cache.get((team, user))
        if cached and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        try:
            response = await client.users_info(user=user)
        except SlackApiError as exc:
            if not self._warned:
                self._warned = True
                log.warning(
                    "Slack users.info failed (%s): only configured [slack] admins count as "
                    "admins; add the users:read scope",
                    exc.response.get("error") if isinstance(exc.response.data, dict) else exc,
                )
            return False
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            # Slack did not answer: this command runs as a non-admin's (a configured admin is
            # still one), and the next asks again, since nothing was cached.
            reason = str(exc) if str(exc) else type(exc).__name__
            log.warning("%s", say.slack_roles_unreachable(user, reason))
            return False
        profile = response.get("user") or {}
        admin = any(bool(profile.get(k)) for k in ("is_admin", "is_owner", "is_primary_owner"))
        self._cache[(team, user)] = (time.monotonic(), admin)
        return admin


def build_slack_app(
    commands: CommandHandler,
    *,
    bot_token: str,
    signing_secret: str | None = None,
    api_base_url: str | None = None,
    admins: Iterable[str] = (),
    client: AsyncWebClient | None = None,
    ack_budget: float = ACK_BUDGET_SECONDS,
    logger: logging.Logger | None = None,
) -> AsyncApp:
    """A bolt app answering ``/talks`` through ``commands``.

    ``signing_secret`` is required for HTTP mode (requests are verified, stale ones refused); in
    Socket Mode Slack authenticates the socket with the app token instead.
    """
    web_client = client or slack_client(bot_token, api_base_url=api_base_url)
    _quiet_token_notice(logger or logging.getLogger("slack_bolt.AsyncApp"))
    app = AsyncApp(
        client=web_client,
        signing_secret=signing_secret or "",
        logger=logger,
        name="talks-bot",
        process_before_response=False,
    )
    roles = AdminRoles(admins)

    @app.command(COMMAND)
    async def talks(
        ack: Any, respond: Any, command: dict[str, Any], client: AsyncWebClient
    ) -> None:
        async def in_ack(reply: Reply) -> None:
            await ack(**reply_payload(reply))

        async def working() -> None:
            await ack(text=WORKING, response_type="ephemeral")

        async def later(reply: Reply) -> None:
            await respond(**reply_payload(reply))

        await answer_in_time(
            commands,
            _caller(command, client, roles),
            str(command.get("text") or "").strip(),
            answer=in_ack,
            acknowledge=working,
            follow_up=later,
            deadline=ack_budget,
        )

    return app


class _SameTokenNotice(logging.Filter):
    """Drops bolt's "`token` will be unused" warning.

    bolt gives it at every start when SLACK_BOT_TOKEN is in the environment (where the bot reads it
    from) and a client is passed; the client holds that very token, so the warning only alarms.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "will be unused" not in record.getMessage()


def _quiet_token_notice(framework_logger: logging.Logger) -> None:
    if not any(isinstance(f, _SameTokenNotice) for f in framework_logger.filters):
        framework_logger.addFilter(_SameTokenNotice())


async def _caller(command: Mapping[str, Any], client: AsyncWebClient, roles: AdminRoles) -> Caller:
    team = str(command.get("team_id") or "")
    user = str(command.get("user_id") or "")
    return Caller(
        platform="slack",
        workspace=team,
        user=user,
        channel=str(command.get("channel_id") or ""),
        is_admin=await roles.is_admin(client, team, user),
        user_name=str(command.get("user_name") or ""),
    )


# run modes ------------------------------------------------------------------------------------
def socket_mode_handler(app: AsyncApp, app_token: str) -> AsyncSocketModeHandler:
    """Socket Mode connection for ``app`` (an ``xapp-`` app-level token with connections:write).

    Call it inside the running event loop: the handler opens its aiohttp session at once.
    """
    if not app_token.startswith("xapp-"):
        raise ConfigError(
            ["SLACK_APP_TOKEN must be an app-level token starting with xapp- (Basic Information → "
             "App-Level Tokens, scope connections:write)"]
        )  # fmt: skip
    return AsyncSocketModeHandler(app, app_token)


async def run_socket_mode(
    app: AsyncApp, app_token: str, *, retry_seconds: float | None = None
) -> None:
    """Serve ``/talks`` over Socket Mode until cancelled. The client reconnects by itself every
    ``retry_seconds`` (its ping interval; slack_bolt's 10 s by default); each outage is logged
    in one line (``bot.chat.slack.outage``)."""
    handler = socket_mode_handler(app, app_token)
    if retry_seconds is not None:
        handler.client.ping_interval = retry_seconds
    client_log: logging.Logger = handler.client.logger
    folded = outage.install(client_log, float(handler.client.ping_interval))
    try:
        await handler.start_async()  # type: ignore[no-untyped-call]
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
        outage.uninstall(client_log, folded)


def http_application(app: AsyncApp, *, path: str = EVENTS_PATH) -> web.Application:
    """An aiohttp application serving bolt at ``path`` (POST), refusing unsigned requests."""
    if not getattr(app, "_signing_secret", ""):
        raise ConfigError(
            ["Slack HTTP mode needs a signing secret: set SLACK_SIGNING_SECRET (Basic Information "
             "→ App Credentials)"]
        )  # fmt: skip

    async def events(request: web.Request) -> web.Response:
        bolt_response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    web_app = web.Application()
    web_app.router.add_post(path, events)
    return web_app


HTTP_MAX_CONNECTIONS = 256
"""Open connections the HTTP-mode endpoint keeps; a newcomer beyond closes the oldest. Slack's
requests take well under a second, so the oldest are the idle or half-sent ones: a flood of
half-open connections cannot use up the process's files and starve ``/talks``."""
HTTP_IDLE_SECONDS = 10.0
"""A connection that has not sent a whole request (or a next one) within this is closed."""


class _BoundedConnections:
    """Protocol factory over aiohttp's server that keeps at most ``limit`` connections."""

    def __init__(self, server: web.Server, limit: int) -> None:
        self._server = server
        self._limit = limit
        self._warned = False

    def __call__(self) -> asyncio.BaseProtocol:
        live = self._server.connections
        if len(live) >= self._limit:
            if not self._warned:
                self._warned = True
                log.warning("%s", say.slack_http_crowded(self._limit))
            for handler in live[: len(live) - self._limit + 1]:
                handler.force_close()
        return self._server()


class _OnceAboutFiles(logging.Filter):
    """asyncio logs a traceback for every failed accept when the process is out of files: let
    the first through as one line, and drop the repeats (the connection cap prevents the rest)."""

    def __init__(self) -> None:
        super().__init__()
        self._seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("socket.accept() out of system resource"):
            return True
        if self._seen:
            return False
        self._seen = True
        record.msg, record.args, record.exc_info = say.slack_http_out_of_files(), (), None
        return True


async def run_http_mode(
    app: AsyncApp,
    port: int,
    host: str = "0.0.0.0",
    *,
    path: str = EVENTS_PATH,
    on_started: Callable[[int], None] | None = None,
    max_connections: int = HTTP_MAX_CONNECTIONS,
    idle_seconds: float = HTTP_IDLE_SECONDS,
) -> None:
    """Serve Slack's requests at ``http://host:port/slack/events`` until cancelled.

    ``on_started`` receives the bound port (useful with ``port=0``). At most
    ``max_connections`` stay open (the oldest give way) and each must send its request within
    ``idle_seconds``.
    """
    runner = web.AppRunner(
        http_application(app, path=path), access_log=None, keepalive_timeout=idle_seconds
    )
    await runner.setup()
    assert runner.server is not None
    quiet = _OnceAboutFiles()
    logging.getLogger("asyncio").addFilter(quiet)
    server: asyncio.Server | None = None
    try:
        factory = _BoundedConnections(runner.server, max_connections)
        try:
            server = await asyncio.get_running_loop().create_server(factory, host, port)
        except OSError as exc:
            raise ConfigError(
                [f"cannot listen on {host}:{port} for Slack ({exc.strerror}): change [slack] port"]
            ) from exc
        bound = int(server.sockets[0].getsockname()[1]) if server.sockets else port
        log.info("Slack HTTP mode listening on %s:%s%s", host, bound, path)
        if on_started is not None:
            on_started(bound)
        await asyncio.Event().wait()
    finally:
        if server is not None:
            server.close()
        logging.getLogger("asyncio").removeFilter(quiet)
        await runner.cleanup()
