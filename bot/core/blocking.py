"""Finding the few held reports worth comparing with a new one, without looking at all of them.

Two reports of the same development share at least two informative words of their headline or
lead opening (names, places, numbers, content words). The index therefore keys each report by
every *pair* of its anchor words: a pair like ("hostage", "rafah") is far rarer than either word,
so its postings stay short however many stories the window holds. Each posting list keeps only
its most recent ``max_postings`` reports: for very common pairs the recent reports are the likely
matches, and this bound is what keeps the cost per report nearly flat as the window grows from a
thousand stories to a hundred thousand.

Posting lists are plain lists trimmed from the front, not ``deque(maxlen=...)``: most pairs are
held by a single report, and an empty deque already takes about 600 bytes against 64 for a
one-item list (a 48-hour window of real feeds holds some 350,000 pairs: 140 MB as deques). A pair
held by one report keeps that report's serial itself, not a list of one: the serial is one object
shared by all its pairs, so such a pair costs only its key (about 80 bytes saved per pair, some
15 MB of a replay's window).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from itertools import chain, combinations


def _keys(anchors: tuple[str, ...]) -> Iterable[str]:
    if len(anchors) < 2:
        return anchors
    return (f"{a}\x1f{b}" if a < b else f"{b}\x1f{a}" for a, b in combinations(anchors, 2))


class Blocking:
    """An inverted index from anchor-word pairs to report serial numbers."""

    def __init__(self, *, max_postings: int = 48, max_candidates: int = 40) -> None:
        self._max_postings = max_postings
        self._max_candidates = max_candidates
        self._postings: dict[str, int | list[int]] = {}
        """Anchor pair -> the serial of the one report holding it, or the serials of several,
        oldest first."""
        self._live: set[int] = set()
        self._dead = 0
        """Reports forgotten since the last sweep: their serials still sit in posting lists."""

    def __len__(self) -> int:
        return len(self._live)

    def add(self, serial: int, anchors: tuple[str, ...]) -> None:
        """Index report ``serial`` (serials must grow: they order recency)."""
        self._live.add(serial)
        postings = self._postings
        limit = self._max_postings
        for key in _keys(anchors):
            bucket = postings.get(key)
            if bucket is None or limit <= 1:
                postings[key] = serial
            elif isinstance(bucket, int):
                postings[key] = [bucket, serial]
            else:
                if len(bucket) >= limit:
                    del bucket[0]  # keep the most recent ``max_postings``
                bucket.append(serial)

    def held(self) -> list[int]:
        """Every report held, newest first (a baseline that compares with all of them)."""
        return sorted(self._live, reverse=True)

    def discard(self, serial: int) -> None:
        """Forget a report (expired, or replaced by its re-headlined version)."""
        if serial in self._live:
            self._live.remove(serial)
            self._dead += 1

    def candidates(self, anchors: tuple[str, ...]) -> list[int]:
        """Held reports sharing the most anchor pairs with ``anchors``, best first.

        Ties go to the most recent report, so the order is deterministic.
        """
        postings = self._postings
        lists: list[list[int]] = []
        single: list[int] = []
        for key in _keys(anchors):
            bucket = postings.get(key)
            if bucket is None:
                continue
            if isinstance(bucket, int):
                single.append(bucket)
            else:
                lists.append(bucket)
        hits = Counter(chain.from_iterable(lists))  # counted in C: the hot loop
        hits.update(single)
        live = self._live
        for serial in [s for s in hits if s not in live]:
            del hits[serial]
        # Newest first, then (a stable sort keeps that order among equals) most pairs first.
        ranked = sorted(hits, reverse=True)
        ranked.sort(key=hits.__getitem__, reverse=True)
        return ranked[: self._max_candidates]

    def compact(self, *, force: bool = False) -> None:
        """Drop forgotten reports from the posting lists (after an expiry sweep).

        A sweep walks every posting list, so it runs only once forgotten reports outnumber the
        live ones: ``candidates`` already skips forgotten serials, and this keeps the lists at
        most about twice their live size while the sweeps cost O(1) per forgotten report.
        """
        if not force and self._dead <= max(len(self._live), 1024):
            return
        self._dead = 0
        live = self._live
        postings = self._postings
        for key in list(postings):
            bucket = postings[key]
            if isinstance(bucket, int):
                if bucket not in live:
                    del postings[key]
                continue
            kept = [s for s in bucket if s in live]
            if not kept:
                del postings[key]
            elif len(kept) == 1:
                postings[key] = kept[0]
            elif len(kept) != len(bucket):
                postings[key] = kept
