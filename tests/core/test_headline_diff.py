"""The word diff a re-headline reply shows, as a table: what a reader sees struck and added."""

from __future__ import annotations

import pytest

from bot.core.headline_diff import Change, Segment, word_diff

K, R, A = Change.KEPT, Change.REMOVED, Change.ADDED


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "Truce talks resume in Cairo",
            "Truce talks resume in Cairo",
            [(K, "Truce talks resume in Cairo")],
        ),
        (
            "Hamas delegation arrives in Cairo",
            "Hamas delegation leaves Cairo",
            [(K, "Hamas delegation"), (R, "arrives in"), (A, "leaves"), (K, "Cairo")],
        ),
        (
            "Israel agrees to truce",
            "Israel agrees to truce, officials say",
            [(K, "Israel agrees to"), (R, "truce"), (A, "truce, officials say")],
        ),
        (
            "Deal reached on hostages",
            "No deal reached on hostages",
            [(R, "Deal"), (A, "No deal"), (K, "reached on hostages")],
        ),
        (
            "Four hostages freed at Rafah",
            "Four hostages freed",
            [(K, "Four hostages freed"), (R, "at Rafah")],
        ),
        ("", "Rafah crossing reopens", [(A, "Rafah crossing reopens")]),
        ("Rafah crossing reopens", "", [(R, "Rafah crossing reopens")]),
        (
            "Talks  stall   in Doha",
            "Talks stall in Doha",
            [(K, "Talks stall in Doha")],
        ),
    ],
)
def test_word_diff(old: str, new: str, expected: list[tuple[Change, str]]) -> None:
    assert word_diff(old, new) == tuple(Segment(c, w) for c, w in expected)


def test_the_new_headline_reads_back_from_kept_and_added_words() -> None:
    old = "Egypt says Hamas accepts outline of Gaza truce deal"
    new = "Egypt says Hamas has not yet accepted outline of truce deal, officials say"
    segments = word_diff(old, new)
    assert " ".join(s.words for s in segments if s.change != R) == new
    assert " ".join(s.words for s in segments if s.change != A) == old
