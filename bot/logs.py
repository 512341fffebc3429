"""Log output for people and for log collectors: the text lines of a terminal or the journal, or
one JSON object per line (``--log-format json`` / ``TALKS_BOT_LOG_FORMAT=json``).

A JSON line holds ``time`` (UTC, ISO 8601 with milliseconds), ``level``, ``logger`` and
``message``, then any structured fields the code passed (``log.info(..., extra={...})``, or set
on the record by a filter), then ``exception`` (the whole traceback as one string) when there is
one. Values that JSON cannot hold are written as their text. Secrets are taken out of every
field before formatting (``RedactSecrets`` in ``bot.__main__`` runs first, on the handler).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from bot.core import messages as say
from bot.errors import ConfigError

FORMATS = ("text", "json")
ENV_FORMAT = "TALKS_BOT_LOG_FORMAT"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_STANDARD = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName"}
)
"""Attributes every LogRecord has: anything else on a record is a structured field."""


def extra_fields(record: logging.LogRecord) -> Iterator[tuple[str, Any]]:
    """The structured fields the code attached to ``record`` (``extra=``), in their order."""
    for key, value in vars(record).items():
        if key not in _STANDARD and not key.startswith("_"):
            yield key, value


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in extra_fields(record):
            line.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def log_format(chosen: str | None, env: Mapping[str, str] = os.environ) -> str:
    """The format asked for: ``--log-format``, else ``TALKS_BOT_LOG_FORMAT``, else text."""
    value = chosen or env.get(ENV_FORMAT, "").strip().lower() or "text"
    if value not in FORMATS:
        raise ConfigError([say.bad_log_format(ENV_FORMAT, value, FORMATS)])
    return value


def formatter(name: str) -> logging.Formatter:
    return JsonFormatter() if name == "json" else logging.Formatter(TEXT_FORMAT)
