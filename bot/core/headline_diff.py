"""A word diff of two headlines, for the thread reply that shows an outlet's re-headline.

Pure: a list of segments, each a run of words that were kept, removed or added, in reading
order (a removed run comes before the added run that replaced it). Renderers turn them into
each platform's strike-through and bold. Words are compared case-sensitively as written, since
"Truce" becoming "truce" is no news but "deal" becoming "no deal" is.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from enum import StrEnum


class Change(StrEnum):
    KEPT = "kept"
    REMOVED = "removed"
    ADDED = "added"


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of words: ``words`` as one string, joined by single spaces."""

    change: Change
    words: str


def word_diff(old: str, new: str) -> tuple[Segment, ...]:
    """Segments turning headline ``old`` into ``new``, word by word."""
    before, after = old.split(), new.split()
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    out: list[Segment] = []
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            _add(out, Change.KEPT, before[a1:a2])
            continue
        _add(out, Change.REMOVED, before[a1:a2])
        _add(out, Change.ADDED, after[b1:b2])
    return tuple(out)


def _add(out: list[Segment], change: Change, words: list[str]) -> None:
    if not words:
        return
    if out and out[-1].change is change:
        out[-1] = Segment(change, f"{out[-1].words} {' '.join(words)}")
        return
    out.append(Segment(change, " ".join(words)))
