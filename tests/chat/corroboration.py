"""Alerts the real desk makes for a wire story copied by a second outlet, then confirmed by a third
in its own words: what the platforms' corroboration tests post and edit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config import load_config
from bot.core.desk import Desk, DeskContext
from bot.core.models import Alert, Destination
from bot.core.route import Route
from tests.core.helpers import report

T0 = datetime(2024, 5, 5, 9, 0, tzinfo=UTC)
HEADLINE = "Hamas delegation leaves Cairo as cease-fire talks stall"
LEAD = "CAIRO (AP) — The Hamas delegation left Cairo on Sunday without a truce agreement."


def wire_story_alerts(destination: Destination) -> tuple[Alert, Alert]:
    """(the alert after the AP story and ABC's copy of it, the alert once Nile Courier confirmed
    it in its own words)."""
    topics = load_config("config/default.toml", env_file=None).config.topic_models
    desk = Desk(topics, [Route(destination)])
    reports = [
        report("ap-1", HEADLINE, LEAD, T0, source="ap", outlet="AP News"),
        report("abc-1", HEADLINE, LEAD, T0 + timedelta(minutes=4), source="abc", outlet="ABC News"),
        report(
            "n7",
            "Hamas delegation quits Cairo as cease-fire talks stall",
            "Hamas negotiators left Cairo on Sunday without a truce agreement.",
            T0 + timedelta(minutes=20),
            source="nile",
            outlet="Nile Courier",
        ),
    ]
    alerts = []
    for item in desk.sort(reports, now_of=lambda r: r.published):
        outcome = desk.decide([item], DeskContext())
        alerts.extend(d.alert for d in outcome.deliveries.values() if d.alert is not None)
    assert [a.independent for a in alerts] == [1, 1, 2]
    return alerts[1], alerts[2]
