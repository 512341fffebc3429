"""Quiet and stale sources: a feed that stopped without failing.

A feed that answers every poll but has stopped bringing news is worse than one that fails: nothing
says so. Two rules, both pure, both read from a source's ``SourceHealth``:

**Pace** (``learn``). Each arrival of new items is one event: a live poll that brought anything
new is one arrival at the poll's time (twenty items at once are one burst, not twenty arrivals);
a replay's items arrive at their published times, and those closer than ``BURST`` are one event.
Each gap between events updates an exponentially weighted mean and spread of the gap's logarithm
(``ALPHA``): logarithms, so a gap ten times the usual weighs as much as one ten times shorter and
a burst of seconds cannot drag the mean to zero. The spread's update clips a deviation at
``CLIP`` (a factor of about 20), so one long night cannot make a regular source look
irregular, while a source that mixes minutes and days (batches) still does.
Next to it, ``lull`` remembers the longest silence the source keeps: the longest gap, decaying
with a time constant of ``LULL_MEMORY`` (two weeks): the nightly pause of a wire that files every
ten minutes by day is seen again each night, so it stays in memory; a one-off outage fades.

**Steady** (``steady``): at least ``MIN_GAPS`` gaps seen and a spread of at most ``MAX_SPREAD``
(the spread of a Poisson stream, the most random a news wire is, is 1.28; a feed that posts a
batch a day and nothing for days measures far more). Irregular sources are never called quiet.

**Quiet** (``quiet_after``): a steady source with nothing new for longer than all of
  - ``QUIET_GAPS`` usual gaps (the usual gap: the geometric mean, exp of the mean log gap);
  - ``LULL_MARGIN`` times its remembered lull (so its own night or weekend is not an alarm);
  - ``QUIET_FLOOR`` of absolute silence (six hours: on two months of real feeds a
    shorter floor flagged ordinary evenings of busy feeds).
Quiet says "nothing new": 304s, empty documents and errors all count as nothing new.

**Stale** (``stale_since``): the server answered 200 with items, but none of them new, for
``STALE_AFTER`` (a day) — a cache or a CMS stuck on one document while it claims fresh content.
Only for a source that, by its pace, publishes several times a day (``MIN_GAPS`` gaps seen, usual
gap at most ``STALE_PACE``); a 304 or an empty document ends it (the server then says honestly that
nothing changed, which is quiet, not stale). Stale wins over quiet: it names the likelier fault.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.models import SourceHealth

__all__ = [
    "ALPHA",
    "BURST",
    "CLIP",
    "LULL_MARGIN",
    "LULL_MEMORY",
    "MAX_SPREAD",
    "MIN_GAPS",
    "QUIET_FLOOR",
    "QUIET_GAPS",
    "STALE_AFTER",
    "STALE_PACE",
    "Condition",
    "SourceState",
    "condition",
    "learn",
    "quiet_after",
    "repeated",
    "stale_since",
    "steady",
    "usual_gap",
]

BURST = timedelta(minutes=2)
"""Arrivals closer than this are one event (a batch published at once)."""
ALPHA = 0.1
"""Weight of the newest gap in the running mean and spread (about the last 20 gaps count)."""
CLIP = 3.0
"""Largest deviation of one log gap the spread takes in (a factor of e**3, about 20)."""
MIN_GAPS = 24
"""Gaps to see before a source's pace is trusted."""
MAX_SPREAD = 1.3
"""Largest spread (standard deviation of the log gap) of a steady source."""
QUIET_GAPS = 10.0
"""Usual gaps of silence before a steady source is quiet."""
LULL_MARGIN = 1.5
"""Silence beyond the source's own remembered lull, as a factor, before it is quiet."""
LULL_MEMORY = timedelta(days=14)
"""Time constant over which a remembered lull fades."""
QUIET_FLOOR = timedelta(hours=6)
"""Absolute silence before any source is quiet."""
STALE_AFTER = timedelta(hours=24)
"""How long the same items served as fresh responses make a source stale."""
STALE_PACE = timedelta(hours=6)
"""Only a source whose usual gap is at most this (several items a day) can be stale."""


class Condition(StrEnum):
    """What the ops channel is told about a source (stored as its value; "" = never told)."""

    OK = "ok"
    FAILING = "failing"
    QUIET = "quiet"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class SourceState:
    """A source's condition at a time, and since when (None for ``OK``)."""

    condition: Condition
    since: datetime | None = None


def learn(health: SourceHealth, arrivals: Iterable[datetime]) -> SourceHealth:
    """``health`` with its pace updated by new items arriving at ``arrivals`` (any order;
    those not after the last known arrival are ignored, bursts fold into one event)."""
    last = health.last_new_at
    gaps, mean, var = health.pace_gaps, health.pace_log_mean, health.pace_log_var
    lull = health.pace_lull
    for at in sorted(arrivals):
        if last is not None and at - last < BURST:
            continue
        if last is not None:
            gap = (at - last).total_seconds()
            lull = max(gap, lull * math.exp(-gap / LULL_MEMORY.total_seconds()))
            log_gap = math.log(gap)
            if gaps == 0:
                mean, var = log_gap, 0.0
            else:
                deviation = max(-CLIP, min(CLIP, log_gap - mean))
                mean += ALPHA * deviation
                var = (1 - ALPHA) * (var + ALPHA * deviation * deviation)
            gaps += 1
        last = at
    return replace(
        health,
        last_new_at=last,
        pace_gaps=gaps,
        pace_log_mean=mean,
        pace_log_var=var,
        pace_lull=lull,
    )


def repeated(health: SourceHealth, now: datetime, *, items: int, new: int) -> SourceHealth:
    """A successful poll read ``items`` items, ``new`` of them new (``items`` 0 for a 304 or an
    empty document): keeps ``repeating_since``, the first of an unbroken run of fresh responses
    that repeated old items."""
    if new or not items:
        return replace(health, repeating_since=None) if health.repeating_since else health
    if health.repeating_since is None:
        return replace(health, repeating_since=now)
    return health


def usual_gap(health: SourceHealth) -> timedelta | None:
    """The source's usual gap between arrivals, once any gap was seen."""
    if not health.pace_gaps:
        return None
    return timedelta(seconds=math.exp(health.pace_log_mean))


def steady(health: SourceHealth) -> bool:
    """Enough history, and regular enough, for silence to mean something."""
    return health.pace_gaps >= MIN_GAPS and math.sqrt(health.pace_log_var) <= MAX_SPREAD


def quiet_after(health: SourceHealth) -> timedelta | None:
    """How much silence makes this source quiet; None for a source never called quiet."""
    usual = usual_gap(health)
    if usual is None or not steady(health):
        return None
    return max(QUIET_GAPS * usual, timedelta(seconds=LULL_MARGIN * health.pace_lull), QUIET_FLOOR)


def stale_since(health: SourceHealth, now: datetime) -> datetime | None:
    """Since when the source serves the same items as fresh responses, once that is stale."""
    since = health.repeating_since
    usual = usual_gap(health)
    if since is None or usual is None or health.pace_gaps < MIN_GAPS or usual > STALE_PACE:
        return None
    return since if now - since >= STALE_AFTER else None


def condition(health: SourceHealth, now: datetime) -> SourceState:
    """The source's condition at ``now``: failing (as ``status`` counts it: any failure in a
    row), else stale, else quiet (since its last new item), else ok."""
    if not health.healthy:
        return SourceState(Condition.FAILING, health.failing_since or health.last_error_at)
    stale = stale_since(health, now)
    if stale is not None:
        return SourceState(Condition.STALE, stale)
    after, last = quiet_after(health), health.last_new_at
    if after is not None and last is not None and now - last >= after:
        return SourceState(Condition.QUIET, last)
    return SourceState(Condition.OK)
