"""One development reported by three outlets in three polls, then re-headlined: the scenario the
Slack and Discord thread tests drive through the real desk, store and courier."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from bot.config import load_config
from bot.core.desk import Desk, DeskSettings
from bot.core.models import Report, SourceHealth
from bot.core.ports import PollRecord
from bot.core.route import Route
from bot.courier import Courier, CourierReport
from bot.poller import take
from bot.store import SQLStore
from tests.core.helpers import report

T0 = datetime(2024, 5, 5, 9, 0, tzinfo=UTC)
TOPICS = load_config("config/default.toml", env_file=None).config.topic_models

LEAD = (
    "The Hamas delegation left Cairo on Sunday without a truce agreement after two days of talks "
    "with Egyptian and Qatari mediators."
)
LEVANT = report(
    "a1", "Hamas delegation leaves Cairo as cease-fire talks stall", LEAD, T0, source="levant"
)
NILE = report(
    "b7",
    "Hamas delegation leaves Cairo as ceasefire talks stall",
    LEAD + " Officials said.",
    T0 + timedelta(minutes=40),
    source="nile",
)
HARBOUR = report(
    "c3",
    "Hamas team leaves Cairo as cease-fire talks stall, no deal",
    LEAD + " Sources said.",
    T0 + timedelta(minutes=50),
    source="harbour",
)
NILE_REHEADLINED = report(
    "b7",
    "Hamas delegation quits Cairo as ceasefire talks collapse",
    LEAD + " Officials said.",
    T0 + timedelta(minutes=60),
    source="nile",
)


def make_desk(routes: Sequence[Route]) -> Desk:
    """The desk with the default topics; never "urgent", so the one escalation in the scenario
    is the corroboration (the second outlet)."""
    return Desk(TOPICS, routes, DeskSettings(urgent_score=1.01))


async def poll(desk: Desk, store: SQLStore, reports: Sequence[Report]) -> None:
    """One poll: the desk decides, the store saves (as ``bot.poller`` does)."""
    outcome = await take(desk, store, list(reports), now_of=lambda r: r.published)
    await store.commit_poll(
        PollRecord(
            SourceHealth("wire", "file:///feeds"),
            tuple(outcome.stories.values()),
            tuple(outcome.deliveries.values()),
        )
    )


def clock() -> datetime:
    return T0 + timedelta(hours=2)


async def polls_delivered(
    desk: Desk,
    store: SQLStore,
    courier: Callable[[], Courier],
    *polls: Sequence[Report],
) -> CourierReport:
    """Each of ``polls`` decided and saved, then delivered by a courier as a fresh start makes it
    (``courier()``); what the last delivery did."""
    delivered = CourierReport()
    for reports in polls:
        await poll(desk, store, reports)
        delivered = await courier().run_once()
    return delivered
