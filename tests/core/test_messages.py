"""Sentences people read, as ``bot.core.messages`` writes them for every platform."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core import messages as say


@pytest.mark.parametrize(
    ("outlets", "line"),
    [
        ((), ""),
        (("Wire One",), "Wire One"),
        (("Wire One", "Daily Ledger"), "Wire One, Daily Ledger"),
        (("Wire One", "Daily Ledger", "Coast Radio"), "Wire One, Daily Ledger, Coast Radio"),
        (("A", "B", "C", "D"), "A, B +2"),
        (("A", "B", "C", "D", "E"), "A, B +3"),
    ],
)
def test_outlets_line_names_two_counts_the_rest_and_never_says_plus_one(
    outlets: tuple[str, ...], line: str
) -> None:
    assert say.outlets_line(outlets) == line


def test_every_platform_uses_the_one_outlets_line() -> None:
    from bot.chat import console
    from bot.chat.discord import render as discord_render
    from bot.chat.slack import render as slack_render

    for module in (console, discord_render, slack_render):
        assert module.outlets_line is say.outlets_line


@pytest.mark.parametrize(
    ("longest", "written"),
    [
        (timedelta(days=7), "7d"),
        (timedelta(days=30), "30d"),
        (timedelta(hours=36), "36h"),
        (timedelta(minutes=90), "90m"),
        (timedelta(seconds=45), "45s"),
    ],
)
def test_a_bad_duration_names_the_limit_it_was_checked_against(
    longest: timedelta, written: str
) -> None:
    assert say.bad_duration("forever", longest=longest) == (
        f"“forever” is not a duration: write e.g. `90s`, `30m`, `2h` or `1d` (at most {written})."
    )


@pytest.mark.parametrize("line", [say.working(), say.store_unavailable(), say.command_failed()])
def test_failure_replies_are_one_line_and_name_no_internals(line: str) -> None:
    assert "\n" not in line
    assert "Error" not in line
    assert "Traceback" not in line


def test_log_lines_clean_what_the_user_typed() -> None:
    line = say.command_crashed("why \x1b[31m\u202eabc" + "x" * 200, "slack user U1")
    assert "\x1b" not in line
    assert "\u202e" not in line
    assert len(line) < 150
