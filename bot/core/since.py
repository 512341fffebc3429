"""What ``since`` reads: a span back from now (``6h``, ``90m``) or a time of day (``09:00``).

A time of day is read in the desk's configured timezone and means its latest occurrence at or
before now: asked at 08:00, ``since 09:00`` is yesterday's 09:00. A date and time
(``2024-02-10T09:00``, in the same zone unless it names its own) is taken as written.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta, tzinfo

from bot.core.duration import read_duration

__all__ = ["read_since"]

_CLOCK = re.compile(r"^\s*([01]?\d|2[0-3])[:.h]([0-5]\d)\s*$", re.I)


def read_since(text: str, now: datetime, tz: tzinfo, *, longest: timedelta) -> datetime | None:
    """The instant ``text`` names, at most ``longest`` before ``now``; None when it names none
    (or one in the future, or too far back)."""
    text = text.strip()
    if not text:
        return None
    span = read_duration(text, unit_required=True)
    if span is not None:
        return now - span if span <= longest else None
    when = _clock(text, now, tz) or _stamp(text, tz)
    if when is None or when > now or now - when > longest:
        return None
    return when


def _clock(text: str, now: datetime, tz: tzinfo) -> datetime | None:
    match = _CLOCK.match(text)
    if match is None:
        return None
    local = now.astimezone(tz)
    at = time(int(match.group(1)), int(match.group(2)))
    when = datetime.combine(local.date(), at, tzinfo=tz)
    if when > local:
        when = datetime.combine(local.date() - timedelta(days=1), at, tzinfo=tz)
    return when


def _stamp(text: str, tz: tzinfo) -> datetime | None:
    if not re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}", text):
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=tz)
