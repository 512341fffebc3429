"""When to poll a source next: often while it publishes, rarely while it is quiet.

A wire that files every few minutes is polled at the lower bound, a weekly newsletter at the upper
one; most sources sit in between. The estimate comes from the feed itself: the publication times of
the items it carries now. No history needs storing, and a source's first poll already knows its
pace.

``poll_interval``
    1. Publishing rate: for each look-back window (1 h, 6 h, 24 h) the dated items published in it,
       divided by the time they cover: the window, or less when the feed reaches back less far
       (a busy wire that keeps only its latest 20 items shows 40 minutes, not an hour; at least
       ``MIN_HORIZON``). The fastest window wins, so a burst of breaking news speeds polling up
       at once instead of being averaged away over a day.
    2. Interval: half the mean gap between items (``POLLS_PER_ITEM`` = 2 polls per expected item,
       so a new item waits a quarter of the gap on average).
    3. Nothing in the last 24 hours: the upper bound (a quiet source).
    4. Not modified (a 304), or no dated items: the rate cannot be read from the feed, so the
       previous interval grows by ``QUIET_GROWTH`` when nothing new came, and falls back to the
       configured interval when new items came (an undated feed that changes).
    5. Clamped to [minimum, maximum]; then ``Cache-Control: max-age`` raises it (polling sooner
       only returns the cached copy) but never above the maximum: the desk's bound wins.

``poll_bounds``
    A source with its own ``interval`` is polled at that fixed interval unless it also sets
    ``min_interval`` / ``max_interval``; the others adapt between the desk-wide bounds.

The wait after a failure is ``bot.core.backoff``'s, the one backoff policy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "LOOKBACKS",
    "MIN_HORIZON",
    "POLLS_PER_ITEM",
    "QUIET_GROWTH",
    "PollBounds",
    "poll_bounds",
    "poll_interval",
]

LOOKBACKS = (timedelta(hours=1), timedelta(hours=6), timedelta(hours=24))
"""Windows over which the publishing rate is read; the fastest one wins."""
POLLS_PER_ITEM = 2.0
"""Polls per expected new item: the interval is the mean gap between items divided by this."""
QUIET_GROWTH = 1.5
"""How much the interval grows after a poll that brought nothing and told us no rate."""
MIN_HORIZON = timedelta(minutes=1)
"""The shortest time a feed's items are taken to cover (a feed dumped all at once)."""


@dataclass(frozen=True, slots=True)
class PollBounds:
    """The configured interval of a source and the bounds adaptive polling keeps to."""

    interval: timedelta
    """The configured interval: the starting point, and the fallback when no rate is known."""
    minimum: timedelta
    maximum: timedelta

    def __post_init__(self) -> None:
        if self.minimum <= timedelta(0) or self.maximum < self.minimum:
            raise ValueError(f"poll bounds must satisfy 0 < minimum <= maximum, got {self}")

    def clamp(self, value: timedelta) -> timedelta:
        return max(self.minimum, min(self.maximum, value))


def poll_bounds(
    default: PollBounds,
    interval: timedelta | None = None,
    minimum: timedelta | None = None,
    maximum: timedelta | None = None,
) -> PollBounds:
    """A source's bounds from its own settings (``interval``, ``min_interval``,
    ``max_interval``, each optional) and the desk-wide ``default``: a source with its own
    interval keeps to it unless it also sets a bound; the others adapt between the defaults."""
    if interval is not None:
        low, high = minimum or interval, maximum or interval
    else:
        interval = default.interval
        low = minimum or min(default.minimum, interval)
        high = maximum or max(default.maximum, interval)
    return PollBounds(interval, min(low, interval), max(high, interval))


def poll_interval(
    bounds: PollBounds,
    now: datetime,
    *,
    published: Iterable[datetime] | None,
    new_items: int = 0,
    previous: timedelta | None = None,
    max_age: float | None = None,
) -> timedelta:
    """How long to wait before the next poll of a source (see the module doc).

    ``published``: publication times of the dated items the feed carries now, or None when the
    poll read nothing (not modified). ``new_items``: reports this poll had not seen before.
    ``previous``: the interval the last poll chose (None on the first poll). ``max_age``: the
    response's Cache-Control max-age in seconds.
    """
    rate = _rate(published, now) if published is not None else None
    if rate is not None:
        interval = timedelta(seconds=1 / (rate * POLLS_PER_ITEM)) if rate > 0 else bounds.maximum
    elif new_items > 0 or previous is None:
        interval = bounds.interval
    else:
        interval = previous * QUIET_GROWTH
    interval = bounds.clamp(interval)
    if max_age is not None and max_age > 0:
        # Compared in seconds first: a server's "max-age=99999999999999" is no timedelta.
        interval = max(interval, timedelta(seconds=min(max_age, bounds.maximum.total_seconds())))
    return interval


def _rate(published: Iterable[datetime], now: datetime) -> float | None:
    """Items per second at the fastest look-back window; 0.0 when none is recent; None when the
    feed has no dated items at all."""
    ages = [(now - p).total_seconds() for p in published]
    if not ages:
        return None
    horizon = max(max(ages), MIN_HORIZON.total_seconds())
    best = 0.0
    for window in LOOKBACKS:
        span = window.total_seconds()
        count = sum(1 for age in ages if age <= span)
        best = max(best, count / min(span, horizon))
    return best
