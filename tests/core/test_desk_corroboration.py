"""The desk counts independent outlets on every alert: wire copies fold into their origin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config import load_config
from bot.core.desk import Desk, DeskContext
from bot.core.models import Alert, Destination, Report
from bot.core.route import Route
from tests.core.helpers import report

T0 = datetime(2024, 5, 5, 9, 0, tzinfo=UTC)
TOPICS = load_config("config/default.toml", env_file=None).config.topic_models
DESK = Destination("console", "desk")

HEADLINE = "Hamas delegation leaves Cairo as cease-fire talks stall"
LEAD = (
    "CAIRO (AP) — The Hamas delegation left Cairo on Sunday without a truce agreement after two "
    "days of talks with Egyptian and Qatari mediators."
)
AP = report("ap-1", HEADLINE, LEAD, T0, source="ap", outlet="The Associated Press")
ABC = report("abc-1", HEADLINE, LEAD, T0 + timedelta(minutes=5), source="abc", outlet="ABC News")
PBS = report(
    "pbs-1", HEADLINE, LEAD, T0 + timedelta(minutes=7), source="pbs", outlet="PBS NewsHour"
)
NILE = report(
    "n7",
    "Hamas delegation quits Cairo as cease-fire talks stall",
    "Hamas negotiators left Cairo on Sunday without a truce agreement after two days of talks.",
    T0 + timedelta(minutes=20),
    source="nile",
    outlet="Nile Courier",
)


def alerts_of(reports: list[Report]) -> list[Alert]:
    """The alert for the route after each report, as the desk would record it."""
    desk = Desk(TOPICS, [Route(DESK)])
    seen = []
    for item in desk.sort(reports, now_of=lambda r: r.published):
        outcome = desk.decide([item], DeskContext())
        seen.extend(d.alert for d in outcome.deliveries.values() if d.alert is not None)
    return seen


def test_wire_copies_under_other_outlets_count_once() -> None:
    *_, alert = alerts_of([AP, ABC, PBS])
    assert alert.outlets == ("The Associated Press", "ABC News", "PBS NewsHour")
    assert alert.independent == 1
    assert [(r.outlet, r.copy_of) for r in alert.reports] == [
        ("The Associated Press", ""),
        ("ABC News", "The Associated Press"),
        ("PBS NewsHour", "The Associated Press"),
    ]


def test_an_outlet_in_its_own_words_confirms_the_story() -> None:
    first, *_, last = alerts_of([AP, ABC, NILE])
    assert first.independent == 1
    assert last.independent == 2
    assert [r.copy_of for r in last.reports] == ["", "The Associated Press", ""]


def test_the_credit_is_kept_on_the_story_for_later_counts() -> None:
    desk = Desk(TOPICS, [Route(DESK)])
    *_, last = desk.sort([AP, ABC, NILE], now_of=lambda r: r.published)
    assert [(r.outlet, r.credit) for r in last.story.reports] == [
        ("The Associated Press", "AP"),
        ("ABC News", "AP"),
        ("Nile Courier", ""),
    ]
