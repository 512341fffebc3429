"""One backoff policy for everything that tries again: a failing feed, a poll the database did
not save, a chat message turned away.

``Backoff.wait(failures)`` is exponential (``base``, 2 x ``base``, 4 x ``base`` ... up to ``cap``)
with "equal jitter": the wait is drawn between half the exponential step and the whole of it, and
never below ``base``. Jitter spreads out the retries of sources (or channels) that failed
together; keeping the lower half out keeps the growth real, so a source down for an hour is not
retried after a minute by the luck of the draw. A server's ``Retry-After`` is honoured when it
asks for longer, up to ``MAX_RETRY_AFTER``: a bad header must not park a source or a channel for
a week. Deterministic given a seeded ``rng``.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

__all__ = ["MAX_RETRY_AFTER", "Backoff", "retry_after_seconds"]

MAX_RETRY_AFTER = timedelta(hours=24)
"""A server's Retry-After is honoured up to this long."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long to wait after failures in a row."""

    base: float
    """Seconds after the first failure, and the least any retry waits."""
    cap: float
    """The longest the exponential part grows to (seconds)."""

    def seconds(self, failures: int, rng: random.Random | None = None) -> float:
        """The jittered exponential wait after ``failures`` failures in a row (0 for none)."""
        if failures <= 0:
            return 0.0
        step = min(self.cap, self.base * 2.0 ** min(failures - 1, 62))
        floor = min(self.base, step)
        return (rng or random).uniform(max(floor, step / 2), step)

    def wait(
        self,
        failures: int,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> timedelta:
        """The wait before trying again: the backoff, or the server's ``Retry-After`` (seconds)
        when that is longer, capped at ``MAX_RETRY_AFTER``."""
        delay = self.seconds(failures, rng)
        if retry_after is not None and not math.isnan(retry_after) and retry_after > 0:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER.total_seconds()))
        return timedelta(seconds=delay)


def retry_after_seconds(value: object, now: datetime) -> float | None:
    """A Retry-After header as seconds from ``now``: delta-seconds (``"90"``, and the ``"1.5"``
    some servers send) or an HTTP date; at most ``MAX_RETRY_AFTER``. None when the value is
    missing or unreadable (negative, "soon", a date without a zone): the caller then falls back
    on its own backoff."""
    if isinstance(value, bytes):
        value = value.decode("latin-1", "replace")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    if isinstance(value, str):
        text = value.strip()
        seconds = float(text) if _DELTA_SECONDS.fullmatch(text) else _seconds_until(text, now)
    else:
        seconds = float(value)
    if seconds is None or math.isnan(seconds) or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER.total_seconds())


_DELTA_SECONDS = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")
"""Delta-seconds as platforms send them: ``90``, ``1.5`` (not ``nan``, ``1e9``, ``-1``)."""


def _seconds_until(text: str, now: datetime) -> float | None:
    """An HTTP date as seconds from ``now`` (0 when it has passed); None when it is no date."""
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())
