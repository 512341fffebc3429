"""Slack Socket Mode outages as one log line each, instead of a traceback every retry.

slack_sdk's Socket Mode client reconnects by itself, every ``ping_interval`` seconds, forever,
and logs each failed try as an ERROR with a full traceback (plus "Failed to retrieve WSS URL",
"seems to be stale", "abandoned" lines around it): with a refused app token or Slack out of
reach that is hundreds of lines an hour that bury everything else in the journal.
``FoldOutages`` sits on the client's logger and turns an outage into one WARNING (what failed,
what to do, when the next try is) and one INFO when the connection is back; the chatter in
between is dropped. Anything else the library logs at WARNING or above (a listener that
crashed) passes untouched, traceback included. A logger set to DEBUG (to study the library)
is not folded.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from bot.core import messages as say

FAILED = ("Failed to connect (error:", "Failed to check the current session")
"""Messages of a failed connection try: each starts or continues an outage."""
CHATTER = (
    "Failed to retrieve WSS URL",
    "Failed to send a ping message",
    "Failed to close the old session",
    "Failed to receive or enqueue a message",
    "The session (",
    "The old session (",
    "The aiohttp client session is closed",
    "Received CLOSE event",
    "Rate limited. Retrying",
)
"""Reconnect chatter around a failed try: said by the outage line already."""
CONNECTED = "A new session ("
REFUSED = ("invalid_auth", "not_authed", "account_inactive", "token_revoked", "not_allowed_token")


class FoldOutages(logging.Filter):
    """A logging filter for the Socket Mode client's logger (see the module docstring).

    ``retry_seconds`` is the client's ``ping_interval``: how long it waits between tries.
    """

    def __init__(self, retry_seconds: float) -> None:
        super().__init__()
        self.retry_seconds = retry_seconds
        self.down_since: float | None = None
        self.tries = 0
        self._connected_once = False

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if message.startswith(FAILED):
            return self._failed(record)
        if message.startswith(CONNECTED):
            return self._connected(record)
        if message.startswith(CHATTER):
            return False
        return record.levelno >= logging.WARNING

    def _failed(self, record: logging.LogRecord) -> bool:
        self.tries += 1
        if self.down_since is not None:
            return False
        self.down_since = record.created
        reason = _reason(record)
        refused = any(code in reason for code in REFUSED)
        fix = say.slack_socket_refused_fix() if refused else say.slack_socket_unreachable_fix()
        # To the second: the tries are seconds apart. UTC, as the journal's other times.
        next_try = datetime.fromtimestamp(record.created + self.retry_seconds, UTC)
        _rewrite(
            record,
            logging.WARNING,
            say.slack_socket_down(reason, fix, self.retry_seconds, f"{next_try:%H:%M:%S} UTC"),
            connection="slack-socket-mode",
            state="down",
            retry_seconds=self.retry_seconds,
            next_try=next_try.isoformat(timespec="seconds").replace("+00:00", "Z"),
        )
        return True

    def _connected(self, record: logging.LogRecord) -> bool:
        if self.down_since is None:
            if self._connected_once:
                return False  # a routine reconnect (Slack rotates its sockets): nothing to say
            self._connected_once = True
            _rewrite(
                record,
                logging.INFO,
                say.slack_socket_connected(),
                connection="slack-socket-mode",
                state="up",
            )
            return True
        down_for = record.created - self.down_since
        _rewrite(
            record,
            logging.INFO,
            say.slack_socket_back(self.tries, down_for),
            connection="slack-socket-mode",
            state="up",
            failed_tries=self.tries,
            down_seconds=round(down_for, 1),
        )
        self._connected_once = True
        self.down_since, self.tries = None, 0
        return True


def _reason(record: logging.LogRecord) -> str:
    """What went wrong, in one line: Slack's error code, or the connection error's first line."""
    exc = record.exc_info[1] if record.exc_info else None
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            code = response.get("error")
        except AttributeError:
            code = None
        if code:
            return f"Slack answered {code}"
    text = str(exc) if exc is not None else record.getMessage()
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first[:200]


def _rewrite(record: logging.LogRecord, level: int, message: str, **fields: object) -> None:
    """Make ``record`` say ``message`` at ``level``, without a traceback; ``fields`` become its
    structured fields (the JSON log format writes them out)."""
    record.__dict__.update(fields)
    record.msg, record.args = message, None
    record.exc_info, record.exc_text, record.stack_info = None, None, None
    record.levelno, record.levelname = level, logging.getLevelName(level)


def install(logger: logging.Logger, retry_seconds: float) -> tuple[FoldOutages, int] | None:
    """Fold ``logger``'s outage chatter; returns what ``uninstall`` needs, or None at DEBUG.

    The logger is opened to INFO (the filter drops what it does not rewrite below WARNING), so
    the "connected again" line can be said.
    """
    if logger.getEffectiveLevel() <= logging.DEBUG:
        return None
    fold = FoldOutages(retry_seconds)
    level = logger.level
    logger.addFilter(fold)
    logger.setLevel(logging.INFO)
    return fold, level


def uninstall(logger: logging.Logger, installed: tuple[FoldOutages, int] | None) -> None:
    if installed is not None:
        fold, level = installed
        logger.removeFilter(fold)
        logger.setLevel(level)
