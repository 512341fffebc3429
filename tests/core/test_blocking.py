"""Blocking finds the held reports sharing anchor pairs with a new one, most shared first."""

from __future__ import annotations

from bot.core.blocking import Blocking


def test_candidates_rank_by_shared_pairs_then_recency() -> None:
    blocking = Blocking()
    blocking.add(1, ("hamas", "cairo", "delegation"))
    blocking.add(2, ("hamas", "cairo", "truce"))
    blocking.add(3, ("rafah", "crossing"))
    blocking.add(4, ("hamas", "cairo", "delegation", "arrive"))
    # 4 shares three pairs, 1 three, 2 one (hamas-cairo); 3 none.
    assert blocking.candidates(("hamas", "cairo", "delegation")) == [4, 1, 2]
    assert blocking.candidates(("rafah", "crossing")) == [3]
    assert blocking.candidates(("jenin", "raid")) == []


def test_single_anchor_reports_are_found_by_that_anchor() -> None:
    blocking = Blocking()
    blocking.add(1, ("gaza",))
    blocking.add(2, ("gaza",))
    assert blocking.candidates(("gaza",)) == [2, 1]


def test_each_pair_keeps_its_most_recent_reports() -> None:
    blocking = Blocking(max_postings=2)
    for serial in (1, 2, 3):
        blocking.add(serial, ("truce", "extended"))
    assert blocking.candidates(("truce", "extended")) == [3, 2]


def test_forgotten_reports_are_never_candidates_and_compaction_keeps_the_rest() -> None:
    blocking = Blocking()
    blocking.add(1, ("truce", "extended"))
    blocking.add(2, ("truce", "extended", "qatar"))
    blocking.add(3, ("hostages", "freed"))
    blocking.discard(2)
    blocking.discard(3)
    assert blocking.candidates(("truce", "extended", "qatar")) == [1]
    blocking.compact(force=True)
    assert len(blocking) == 1
    assert blocking.candidates(("truce", "extended", "qatar")) == [1]
    assert blocking.candidates(("hostages", "freed")) == []
    blocking.add(4, ("truce", "extended"))
    assert blocking.candidates(("truce", "extended")) == [4, 1]


def test_max_candidates_bounds_the_answer() -> None:
    blocking = Blocking(max_candidates=2)
    for serial in range(1, 6):
        blocking.add(serial, ("aid", "convoy"))
    assert blocking.candidates(("aid", "convoy")) == [5, 4]
