"""A source's health rules: what one poll's result does to what the bot knows about the source.

Pure functions from one ``SourceHealth`` to the next (the way Miniflux keeps these rules on its
feed model), so the poller only says what happened and the rules are tested without a network
or a database:

``configured``  the stored row, or a fresh one, for the address the operator configures now
``succeeded``   a feed that answered: validators kept, failures forgotten
``failed``      a feed that did not: failures counted, next poll after the backoff
``polled``      a poll that read items: first-poll time and items seen recorded
``next_poll``   a healthy source's next poll, from its publishing pace (``bot.core.schedule``)
``paced``       an answer's news: the source's pace learnt from new items' arrival, and the run of
                fresh responses repeating old items tracked (quiet and stale: ``bot.core.quiet``)
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from bot.core import quiet
from bot.core.backoff import Backoff
from bot.core.models import SourceHealth
from bot.core.schedule import PollBounds, poll_interval

__all__ = ["configured", "failed", "next_poll", "paced", "polled", "succeeded"]


def configured(stored: SourceHealth | None, name: str, url: str) -> SourceHealth:
    """The health of source ``name`` at ``url``: the stored row, with its validators dropped
    when the operator changed the address (they belong to the old one)."""
    if stored is None:
        return SourceHealth(name, url)
    if stored.url != url:
        return replace(stored, url=url, etag=None, last_modified=None)
    return stored


def succeeded(
    health: SourceHealth, now: datetime, etag: str | None, last_modified: str | None
) -> SourceHealth:
    """The feed answered (a document or Not Modified)."""
    return replace(
        health,
        etag=etag,
        last_modified=last_modified,
        last_polled=now,
        last_success=now,
        consecutive_failures=0,
        failing_since=None,
        next_poll_after=None,
    )


def failed(
    health: SourceHealth,
    error: str,
    now: datetime,
    backoff: Backoff,
    *,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> SourceHealth:
    """The feed did not answer usably: one more failure in a row, and no poll before the
    backoff (or the server's Retry-After) has passed."""
    failures = health.consecutive_failures + 1
    wait = backoff.wait(failures, retry_after, rng)
    return replace(
        health,
        last_polled=now,
        last_error=error,
        last_error_at=now,
        failing_since=health.failing_since or now,
        consecutive_failures=failures,
        next_poll_after=now + wait,
    )


def polled(health: SourceHealth, now: datetime, new_reports: int) -> SourceHealth:
    """A poll that read the feed's items: ``new_reports`` of them were new to the store."""
    return replace(
        health,
        first_polled=health.first_polled or now,
        items_seen=health.items_seen + new_reports,
    )


def next_poll(
    before: SourceHealth,
    health: SourceHealth,
    bounds: PollBounds,
    now: datetime,
    *,
    published: Iterable[datetime] | None,
    new_items: int,
    max_age: float | None,
) -> SourceHealth:
    """``health`` (after a successful poll) with ``next_poll_after`` set from the source's
    publishing pace; ``before`` is the health the poll started from (its interval is the
    previous one, unless it was a backoff)."""
    previous = None
    if before.consecutive_failures == 0 and before.next_poll_after and before.last_polled:
        previous = before.next_poll_after - before.last_polled
    interval = poll_interval(
        bounds, now, published=published, new_items=new_items, previous=previous, max_age=max_age
    )
    return replace(health, next_poll_after=now + interval)


def paced(
    health: SourceHealth,
    now: datetime,
    *,
    items: int,
    new: int,
    arrivals: Sequence[datetime],
) -> SourceHealth:
    """A feed that answered: ``items`` read (0 for Not Modified or an empty document), ``new``
    of them new, arriving at ``arrivals`` (a live poll: its own time, once, however many came; a
    replay: the new items' published times, none later than ``now``)."""
    health = quiet.learn(health, [min(at, now) for at in arrivals])
    return quiet.repeated(health, now, items=items, new=new)
