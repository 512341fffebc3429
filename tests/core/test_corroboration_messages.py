"""The words an alert and ``why`` use for corroboration."""

from __future__ import annotations

import pytest

from bot.core import messages as say


@pytest.mark.parametrize(
    ("outlets", "independent", "line"),
    [
        (("Reuters",), 1, "Reuters · single source"),
        (
            ("AP News", "ABC News", "PBS NewsHour"),
            1,
            "AP News, ABC News, PBS NewsHour · single source",
        ),
        (("Reuters", "BBC", "AP News", "CNN"), 3, "Reuters, BBC +2 · confirmed by 3 outlets"),
        (("Reuters", "BBC"), 0, "Reuters, BBC"),
        ((), 0, ""),
    ],
)
def test_sourcing_line(outlets: tuple[str, ...], independent: int, line: str) -> None:
    assert say.sourcing_line(outlets, independent) == line


@pytest.mark.parametrize(
    ("outlets", "reason", "origin", "line"),
    [
        (["AP News", "ABC News"], "same-headline", "AP", "AP News, ABC News: same headline as AP"),
        (["Yahoo"], "same-path", "Reuters", "Yahoo: same URL path as Reuters"),
        (["PBS NewsHour"], "credits", "AP", "PBS NewsHour: credits AP"),
    ],
)
def test_copied(outlets: list[str], reason: str, origin: str, line: str) -> None:
    assert say.copied(outlets, reason, origin) == line


def test_why_independent_names_the_outlets_and_counts_the_copies() -> None:
    assert say.why_independent(["AP"], 2) == "Single source: AP; 2 report(s) counted as copies:"
    assert (
        say.why_independent(["Reuters", "BBC"], 0)
        == "Confirmed by 2 independent outlets: Reuters, BBC; no report was counted as a copy."
    )
