"""``talks-bot check-config --connect``: reach everything the configuration names, change nothing.

One check per thing the bot will connect to, each ending in one line:

* the database: connect and run ``SELECT 1`` (no migration, no lock; a SQLite file that does
  not exist yet is not created, only its folder is checked to be writable);
* Slack: ``auth.test`` with the bot token and, in Socket Mode, ``apps.connections.open`` with
  the app token (which hands out a socket address and opens nothing);
* Discord: ``GET /users/@me`` with the bot token, at the configured API base.

Nothing is posted. Each check has its own deadline, they run at once, and error text passes
through the secrets scrubber, so a password or token never reaches the terminal.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.core import messages as say
from bot.errors import StoreError

CHECK_SECONDS = 10.0
"""Deadline of one check: long enough for a slow network, short enough for a script."""


@dataclass(frozen=True)
class Checked:
    """The outcome of one check: ``what`` was reached or not, and the line to show."""

    what: str
    ok: bool
    line: str


async def connect_checks(settings: Settings, *, seconds: float = CHECK_SECONDS) -> list[Checked]:
    """Every check the configuration calls for, in a stable order."""
    config, secrets = settings.config, settings.secrets
    pending: list[tuple[str, Awaitable[str]]] = [("database", _database(settings.database_url))]
    # ``load_config`` has refused a [slack] or [discord] table without its tokens already.
    slack, discord = config.slack, config.discord
    if slack is not None and secrets.slack_bot_token is not None:
        token = secrets.slack_bot_token.get_secret_value()
        pending.append(("Slack bot token", _slack_bot(token, slack.api_base_url)))
        if slack.mode == "socket" and secrets.slack_app_token is not None:
            app = secrets.slack_app_token.get_secret_value()
            pending.append(("Slack app token", _slack_app(app, slack.api_base_url)))
    if discord is not None and secrets.discord_token is not None:
        token = secrets.discord_token.get_secret_value()
        pending.append(("Discord token", _discord(token, discord.api_base_url)))
    scrub = [s for s in secrets.values() if len(s) >= 4]
    outcomes = await asyncio.gather(*(_run(what, job, seconds, scrub) for what, job in pending))
    return list(outcomes)


async def _run(what: str, job: Awaitable[str], seconds: float, scrub: Sequence[str]) -> Checked:
    started = time.monotonic()
    try:
        async with asyncio.timeout(seconds):
            detail = await job
    except Problem as exc:
        return Checked(what, False, _scrubbed(say.connect_failed(what, exc.what, exc.fix), scrub))
    except TimeoutError:
        problem, fix = say.connect_timed_out(seconds)
        return Checked(what, False, say.connect_failed(what, problem, fix))
    taken = time.monotonic() - started
    return Checked(what, True, _scrubbed(say.connect_ok(what, detail, taken), scrub))


def _scrubbed(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


class Problem(Exception):
    """A check that failed: what went wrong and what to do, for one line."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(what)
        self.what, self.fix = what, fix


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


# the database ----------------------------------------------------------------------------------
async def _database(location: str) -> str:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from bot.store.url import describe_url, is_memory, normalise_url

    try:
        url = normalise_url(location)
    except StoreError as exc:
        raise Problem(str(exc), say.connect_database_fix("url")) from None
    shown = describe_url(location)
    if url.get_backend_name() == "sqlite":
        if is_memory(url):
            return say.connect_database_memory()
        path, new = _sqlite_file(url.database or "")
        if new:
            return new
        # Read-only: checking must not create, lock or migrate anything.
        url = url.set(database=f"file:{path.resolve()}?mode=ro", query={"uri": "true"})
    connect_args = {"timeout": CHECK_SECONDS} if url.get_backend_name() == "postgresql" else {}
    engine = create_async_engine(url, connect_args=connect_args)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            version = conn.dialect.server_version_info or ()
    except Exception as exc:
        cause = exc.orig if hasattr(exc, "orig") and exc.orig is not None else exc
        raise Problem(
            say.connect_database_error(shown, _first_line(cause)),
            say.connect_database_fix(_database_trouble(cause)),
        ) from None
    finally:
        await engine.dispose()
    backend = "PostgreSQL" if url.get_backend_name() == "postgresql" else "SQLite"
    return say.connect_database_ok(backend, ".".join(str(v) for v in version[:2]), shown)


def _sqlite_file(database: str) -> tuple[Path, str]:
    """The SQLite file, and the line to show when it does not exist yet (else ``""``)."""
    path = Path(database).expanduser()
    if path.is_dir():
        raise Problem(*say.connect_sqlite_is_folder(str(path)))
    if path.exists():
        return path, ""
    folder = path.parent.resolve()
    while not folder.exists():  # the bot creates missing folders on the way
        folder = folder.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise Problem(*say.connect_sqlite_folder(str(path), str(folder)))
    return path, say.connect_sqlite_new(str(path))


def _database_trouble(exc: BaseException) -> str:
    """Which advice fits: the server out of reach, the login refused, the database missing."""
    name = type(exc).__name__
    text = str(exc).lower()
    if "password" in text or "authentication" in text or name == "InvalidPasswordError":
        return "login"
    if "does not exist" in text or name == "InvalidCatalogNameError":
        return "missing"
    if isinstance(exc, OSError | TimeoutError) or "connect" in text:
        return "unreachable"
    return "other"


# Slack -----------------------------------------------------------------------------------------
async def _slack_bot(token: str, api_base_url: str) -> str:
    from bot.chat.slack.app import slack_client

    client = slack_client(token, api_base_url=api_base_url or None, timeout=int(CHECK_SECONDS))
    try:
        answer = await client.auth_test()
    except Exception as exc:
        raise _slack_problem(exc, "SLACK_BOT_TOKEN") from None
    finally:
        await _close_session(client)
    return say.connect_slack_ok(str(answer.get("team") or "?"), str(answer.get("user") or "?"))


async def _slack_app(token: str, api_base_url: str) -> str:
    from bot.chat.slack.app import slack_client

    if not token.startswith("xapp-"):
        raise Problem(*say.connect_slack_app_not_xapp())
    client = slack_client(token, api_base_url=api_base_url or None, timeout=int(CHECK_SECONDS))
    try:
        await client.apps_connections_open(app_token=token)
    except Exception as exc:
        raise _slack_problem(exc, "SLACK_APP_TOKEN") from None
    finally:
        await _close_session(client)
    return say.connect_slack_app_ok()


def _slack_problem(exc: Exception, variable: str) -> Problem:
    response = getattr(exc, "response", None)
    code = response.get("error") if response is not None else None
    if code:
        return Problem(*say.connect_slack_refused(variable, str(code)))
    return Problem(*say.connect_unreachable("Slack", _first_line(exc)))


async def _close_session(client: object) -> None:
    session = getattr(client, "session", None)
    if session is not None and not session.closed:
        await session.close()


# Discord ---------------------------------------------------------------------------------------
async def _discord(token: str, api_base_url: str) -> str:
    import httpx

    from bot.chat.discord.endpoints import DISCORD_API_BASE, check_api_base

    base = check_api_base(api_base_url) if api_base_url else DISCORD_API_BASE
    try:
        async with httpx.AsyncClient(timeout=CHECK_SECONDS) as http:
            answer = await http.get(
                f"{base}/users/@me",
                headers={"Authorization": f"Bot {token}", "User-Agent": "talks-bot check-config"},
            )
    except httpx.HTTPError as exc:
        raise Problem(*say.connect_unreachable("Discord", _first_line(exc))) from None
    if answer.status_code == 401:
        raise Problem(*say.connect_discord_refused(answer.status_code))
    if answer.status_code != 200:
        raise Problem(*say.connect_discord_status(answer.status_code))
    me = answer.json()
    return say.connect_discord_ok(str(me.get("username") or "?"), str(me.get("id") or "?"))
