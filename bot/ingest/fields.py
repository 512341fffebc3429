"""Small field helpers every feed reader shares (XML, JSON Feed, the feedparser fallback).

They live apart so the format modules can share them without importing one another: trimming a
field to ``None``, picking the richer of two summaries, a one-line error text, the absolute-URL
test.
"""

from __future__ import annotations

import re

__all__ = ["ABSOLUTE", "clean", "one_line", "richer"]

ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def clean(value: str | None) -> str | None:
    """The value stripped of surrounding whitespace; ``None`` when nothing is left."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def richer(first: str | None, second: str | None) -> str | None:
    """The longer of two texts (the lead source with more to say); the first on a tie."""
    if not second or not second.strip():
        return first if first and first.strip() else None
    if not first or not first.strip():
        return second
    return second if len(second.strip()) > len(first.strip()) else first


def one_line(text: str) -> str:
    """Text on one line (whitespace runs collapsed), at most 200 characters."""
    return " ".join(text.split())[:200]
