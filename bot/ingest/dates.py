"""Feed dates as written in the wild, read into aware UTC datetimes.

Feeds promise RFC 822 (RSS) or RFC 3339 (Atom, JSON Feed) and deliver many variants: missing
seconds or weekdays, two-digit years, named zones (``EST``, ``GMT``, ``Z``), full month names,
``T`` or a space between date and time, offsets with or without a colon. ``parse_date`` reads
those and returns ``None`` for anything it cannot read with confidence rather than guessing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

__all__ = ["parse_date"]

_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}

# Offsets in hours for the zone names RFC 822 allows plus the few others feeds commonly use.
_ZONES: dict[str, float] = {
    "ut": 0,
    "utc": 0,
    "gmt": 0,
    "z": 0,
    "est": -5,
    "edt": -4,
    "cst": -6,
    "cdt": -5,
    "mst": -7,
    "mdt": -6,
    "pst": -8,
    "pdt": -7,
    "akst": -9,
    "akdt": -8,
    "hst": -10,
    "ast": -4,
    "adt": -3,
    "bst": 1,
    "cet": 1,
    "cest": 2,
    "met": 1,
    "mest": 2,
    "eet": 2,
    "eest": 3,
    "wet": 0,
    "west": 1,
    "msk": 3,
    "idt": 3,
    "jst": 9,
    "kst": 9,
    "aest": 10,
    "aedt": 11,
    "nzst": 12,
    "nzdt": 13,
}
# Military single letters: A..I = +1..+9, K..M = +10..+12, N..Y = -1..-12, Z = 0.
for _i, _letter in enumerate("abcdefghi", start=1):
    _ZONES.setdefault(_letter, _i)
for _i, _letter in enumerate("klm", start=10):
    _ZONES.setdefault(_letter, _i)
for _i, _letter in enumerate("nopqrstuvwxy", start=1):
    _ZONES.setdefault(_letter, -_i)

_ISO = re.compile(
    r"""^\s*
    (?P<year>\d{4})-?(?P<month>\d{1,2})-?(?P<day>\d{1,2})
    (?:[T\s]+
      (?P<hour>\d{1,2}):?(?P<minute>\d{2})(?::?(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?
    )?
    \s*(?P<zone>Z|[+-]\d{2}(?::?\d{2})?|[A-Za-z]{1,5})?
    \s*$""",
    re.VERBOSE,
)

_RFC822 = re.compile(
    r"""^\s*
    (?:[A-Za-z]+\.?,?\s*)?                              # weekday, any spelling, maybe no comma
    (?P<day>\d{1,2})[\s\-/]+(?P<month>[A-Za-z]{3,})\.?[\s\-/,]+(?P<year>\d{2,4})
    (?:[\s,T]+
      (?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?
      \s*(?P<ampm>[AaPp][Mm])?
    )?
    \s*(?P<zone>[+-]\d{2}:?\d{2}|[A-Za-z]{1,5}(?:[+-]\d{1,2}(?::?\d{2})?)?)?
    \s*(?:\([^)]*\))?\s*$""",
    re.VERBOSE,
)

# The canonical RSS form, "Wed, 02 Oct 2002 13:00:00 GMT", read without the general machinery.
_RFC822_COMMON = re.compile(
    r"(?:[A-Za-z]{3}, )?(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) "
    r"([+-]\d{4}|[A-Za-z]{1,4})$"
)

# "January 5, 2024 10:30 AM EST" and "Jan 5 2024 10:30:00 GMT"
_MONTH_FIRST = re.compile(
    r"""^\s*
    (?:[A-Za-z]+\.?,?\s+)??
    (?P<month>[A-Za-z]{3,})\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})
    (?:[\s,T]+(?:at\s+)?
      (?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?
      \s*(?P<ampm>[AaPp][Mm])?
    )?
    \s*(?P<zone>[+-]\d{2}:?\d{2}|[A-Za-z]{1,5})?\s*$""",
    re.VERBOSE,
)


def parse_date(value: str | None) -> datetime | None:
    """Read a feed date; return it as an aware UTC datetime, or None when it cannot be read.

    A date without any zone is taken as UTC (what feed readers conventionally do).
    """
    if not value:
        return None
    text = value.strip()
    if not text or len(text) > 100:
        return None
    if text[:4].isdigit():
        try:
            stamp = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            if stamp.tzinfo is None:
                return stamp.replace(tzinfo=UTC)
            try:
                return stamp.astimezone(UTC)
            except (ValueError, OverflowError):
                return None
    fast = _RFC822_COMMON.match(text)
    if fast is not None:
        day, month_name, year, hour, minute, second, zone = fast.groups()
        month = _MONTHS.get(month_name.lower())
        offset_minutes: int | None
        if zone[0] in "+-":
            offset_minutes = int(zone[1:3]) * 60 + int(zone[3:5])
            if zone[0] == "-":
                offset_minutes = -offset_minutes
        else:
            hours_off = _ZONES.get(zone.lower())
            offset_minutes = None if hours_off is None else int(hours_off * 60)
        if month is not None and offset_minutes is not None:
            try:
                stamp = datetime(
                    int(year), month, int(day), int(hour), int(minute), int(second), tzinfo=UTC
                )
                return stamp - timedelta(minutes=offset_minutes) if offset_minutes else stamp
            except (ValueError, OverflowError):  # "31 Dec 9999 23:59:59 -1400" is year 10000
                return None
    match = _ISO.match(text)
    if match is not None:
        return _build(match.groupdict(), numeric_month=True)
    match = _RFC822.match(text)
    if match is None:
        match = _MONTH_FIRST.match(text)
    if match is not None:
        return _build(match.groupdict(), numeric_month=False)
    return None


def _build(parts: dict[str, str | None], *, numeric_month: bool) -> datetime | None:
    month_text = parts["month"] or ""
    if numeric_month:
        month = int(month_text)
    else:
        found = _MONTHS.get(month_text[:3].lower())
        if found is None:
            return None
        month = found
    year = int(parts["year"] or 0)
    if len(parts["year"] or "") == 2:
        # RFC 822 two-digit years: 70..99 -> 19xx, else 20xx (what mail readers do).
        year += 1900 if year >= 70 else 2000
    elif len(parts["year"] or "") == 3:
        return None
    hour = int(parts["hour"] or 0)
    minute = int(parts["minute"] or 0)
    second = int(parts["second"] or 0)
    ampm = (parts.get("ampm") or "").lower()
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    fraction = parts.get("fraction")
    micro = int((fraction + "000000")[:6]) if fraction else 0
    if second == 60:  # leap second: clamp rather than reject
        second = 59
    offset = _offset(parts.get("zone"))
    if offset is None:
        return None
    try:
        stamp = datetime(year, month, int(parts["day"] or 0), 0, 0, 0, micro, tzinfo=offset)
        # 24:00 means the end of the day; timedelta keeps that valid.
        stamp += timedelta(hours=hour, minutes=minute, seconds=second)
    except (ValueError, OverflowError):
        return None
    if hour > 24 or minute > 59:
        return None
    try:
        return stamp.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _offset(zone: str | None) -> timezone | None:
    """The tzinfo for a zone token; UTC when absent; None when unknown (date unreadable)."""
    if not zone:
        return UTC
    zone = zone.strip()
    sign_at = max(zone.rfind("+"), zone.rfind("-"))
    if sign_at > 0:  # "GMT+2", "UTC-05:00": the name is UTC-based, the suffix is the offset
        if zone[:sign_at].lower() not in ("gmt", "utc", "ut"):
            return None
        zone = zone[sign_at:]
        if len(zone.replace(":", "")) <= 3:  # "+2" -> "+02:00"
            zone = f"{zone[0]}{int(zone[1:]):02d}:00"
    if zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        if not digits.isdigit() or len(digits) not in (2, 4):
            return None
        hours = int(digits[:2])
        minutes = int(digits[2:] or 0)
        if hours > 23 or minutes > 59:
            return None
        delta = timedelta(hours=hours, minutes=minutes)
        return timezone(-delta if zone[0] == "-" else delta)
    hours_off = _ZONES.get(zone.lower())
    if hours_off is None:
        return None
    return timezone(timedelta(hours=hours_off))
