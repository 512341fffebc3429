"""One way to write a length of time, for the config file and for chat commands alike.

``90s``, ``5m``, ``2h``, ``1.5h``, ``2d`` (``sec``/``min``/``hr``/``day`` and their plurals too).
The config also takes a bare number as seconds; a chat command asks for the unit, since "mute 30"
could mean anything.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

_DURATION = re.compile(
    r"^\s*(-?\s*\d{1,9}(?:\.\d{1,6})?)\s*(s|sec|secs|m|min|mins|h|hr|hrs|d|day|days)?\s*$",
    re.I,
)
_SECONDS = {"s": 1, "sec": 1, "secs": 1, "m": 60, "min": 60, "mins": 60, "h": 3600, "hr": 3600}
_SECONDS |= {"hrs": 3600, "d": 86400, "day": 86400, "days": 86400}
LONGEST = timedelta(days=3650)
"""Anything longer is a typo, and would overflow the dates it is added to."""


def written_seconds(text: str, *, unit_required: bool = False) -> float | None:
    """The seconds ``text`` writes, zero and negative included; None when it is no duration."""
    match = _DURATION.match(text)
    if match is None or (unit_required and match.group(2) is None):
        return None
    amount = float(match.group(1).replace(" ", ""))
    return amount * _SECONDS[(match.group(2) or "s").lower()]


def read_duration(text: str, *, unit_required: bool = False) -> timedelta | None:
    """The duration ``text`` writes, or None when it is not one (or not above zero)."""
    seconds = written_seconds(text, unit_required=unit_required)
    if seconds is None or not math.isfinite(seconds) or not 0 < seconds <= LONGEST.total_seconds():
        return None
    return timedelta(seconds=seconds)
