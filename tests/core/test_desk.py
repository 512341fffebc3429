"""The desk's decision, table by table, with no store: what it is given is all it reads.

Each case sorts a few reports (``Desk.sort``), hands ``Desk.decide`` the context a poller would
have read for them, and checks who hears about what. The desk with the courier and a real store
is tested in tests/test_desk_and_courier.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import load_config
from bot.core.desk import BRIEFING, FOLD, Desk, DeskContext, DeskSettings, Outcome
from bot.core.models import (
    Delivery,
    DeliveryStatus,
    Destination,
    Mute,
    Report,
    Subscription,
    Verdict,
)
from bot.core.route import Route
from tests.core.helpers import report

T0 = datetime(2024, 5, 5, 9, 0, tzinfo=UTC)
TOPICS = load_config("config/default.toml", env_file=None).config.topic_models
DESK = Destination("console", "desk")
ANNA = Destination("console", "U-ANNA", "", direct=True)

LEAVES = report(
    "a1",
    "Hamas delegation leaves Cairo as cease-fire talks stall",
    "The Hamas delegation left Cairo on Sunday without a truce agreement after two days of talks "
    "with Egyptian and Qatari mediators.",
    T0,
    source="levant",
)
LEAVES_AGAIN = report(
    "n7",
    "Hamas delegation quits Cairo as cease-fire talks stall",
    "Hamas negotiators left Cairo on Sunday without a truce agreement after two days of talks.",
    T0 + timedelta(minutes=20),
    source="nile",
)
FOLLOWS_ANNA = Subscription("console", "", "U-ANNA", "cairo-delegation")


def desk(**settings: object) -> Desk:
    return Desk(TOPICS, [Route(DESK)], DeskSettings(**settings))  # type: ignore[arg-type]


def decide(d: Desk, reports: list[Report], context: DeskContext | None = None) -> Outcome:
    batch = d.sort(reports, now_of=lambda r: r.published)
    return d.decide(batch, context or DeskContext())


def labels(outcome: Outcome) -> list[tuple[str, str | None]]:
    return sorted((d.destination.label, d.digest_id) for d in outcome.deliveries.values())


def test_a_new_development_alerts_the_route_once() -> None:
    outcome = decide(desk(), [LEAVES])
    assert labels(outcome) == [(DESK.label, None)]
    [delivery] = outcome.deliveries.values()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.alert is not None
    assert "cairo-delegation" in delivery.alert.topics
    [decision] = outcome.decisions
    assert decision.alerted == (DESK.label,)


def test_a_second_outlet_updates_the_sent_alert_instead_of_alerting_again() -> None:
    d = desk()
    first = decide(d, [LEAVES])
    [(key, pending)] = first.deliveries.items()
    sent = replace(pending, status=DeliveryStatus.SENT, message_id="m1")
    second = decide(d, [LEAVES_AGAIN], DeskContext(deliveries={key: sent}))
    [decision] = second.decisions
    assert decision.alerted == ()
    assert decision.updated == (DESK.label,)
    [edited] = second.deliveries.values()
    assert edited.needs_update
    assert edited.outlets == 2


def test_without_its_stored_delivery_the_desk_would_alert_again() -> None:
    """The context is the desk's only memory of deliveries: the poller must load them."""
    d = desk()
    decide(d, [LEAVES])
    again = decide(d, [LEAVES_AGAIN])
    assert again.decisions[0].alerted == (DESK.label,)


def test_the_same_report_twice_is_a_repeat_and_changes_nothing() -> None:
    d = desk()
    decide(d, [LEAVES])
    outcome = decide(d, [LEAVES])
    assert outcome.deliveries == {}
    assert outcome.stories == {}


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (DeskContext(subscriptions=(FOLLOWS_ANNA,)), [(DESK.label, None), (ANNA.label, None)]),
        (
            DeskContext(
                subscriptions=(FOLLOWS_ANNA,),
                mutes=(Mute("console", "", "U-ANNA", T0 + timedelta(hours=2)),),
            ),
            [(DESK.label, None)],
        ),
        (
            # A mute that ended before the report came does not hold it back.
            DeskContext(
                subscriptions=(FOLLOWS_ANNA,),
                mutes=(Mute("console", "", "U-ANNA", T0 - timedelta(minutes=1)),),
            ),
            [(DESK.label, None), (ANNA.label, None)],
        ),
    ],
)
def test_subscribers_get_a_direct_message_unless_muted(
    context: DeskContext, expected: list[tuple[str, str | None]]
) -> None:
    # (No story is urgent here: an urgent one breaks through a mute, tested in test_route.)
    assert labels(decide(desk(urgent_score=1.5), [LEAVES], context)) == expected


@pytest.mark.parametrize(
    ("recent", "expected"),
    [
        ((), None),  # a quiet channel: pushed
        ((T0 - timedelta(minutes=3),), None),  # one earlier alert: still under the limit
        ((T0 - timedelta(minutes=3), T0 - timedelta(minutes=2)), FOLD),  # at the limit: folded
        ((T0 - timedelta(hours=1), T0 - timedelta(minutes=50)), None),  # outside the window
    ],
)
def test_flood_control_folds_alerts_beyond_the_limit(
    recent: tuple[datetime, ...], expected: str | None
) -> None:
    outcome = decide(
        desk(flood_max=2, flood_per=timedelta(minutes=10)),
        [LEAVES],
        DeskContext(recent={DESK: recent}),
    )
    assert labels(outcome) == [(DESK.label, expected)]


def test_a_report_older_than_the_age_limit_joins_nothing_to_anyone() -> None:
    old = replace(LEAVES, published=T0 - timedelta(days=2))
    d = desk()
    batch = d.sort([old], now_of=lambda _r: T0)
    outcome = d.decide(batch, DeskContext())
    assert outcome.deliveries == {}
    assert len(outcome.stories) == 1, "recorded as a story, so its repeats stay quiet"


def test_quiet_reports_are_recorded_but_never_alert() -> None:
    d = desk()
    batch = d.sort([LEAVES], now_of=lambda r: r.published, quiet=lambda _r: True)
    assert d.decide(batch, DeskContext()).deliveries == {}


def test_needs_names_the_stories_and_times_the_poller_must_read() -> None:
    d = desk(flood_per=timedelta(minutes=10))
    batch = d.sort([LEAVES, LEAVES_AGAIN], now_of=lambda r: r.published)
    needs = d.needs(batch)
    assert needs.story_ids == (batch[0].story.id,)  # both reports are one development
    assert needs.since == T0
    assert needs.recent_since == T0 - timedelta(minutes=10)
    repeat = d.sort([LEAVES], now_of=lambda r: r.published)
    assert d.needs(repeat).since is None  # nothing can alert: nothing to read


def test_background_held_for_the_briefing_is_pushed_when_a_development_joins() -> None:
    d = Desk(TOPICS, [Route(DESK, digest_cron="0 7 * * *")], DeskSettings())
    held = Delivery(
        story_id="x",
        destination=DESK,
        status=DeliveryStatus.PENDING,
        digest_id=BRIEFING,
        created=T0,
        outlets=1,
        title="",
    )
    batch = d.sort([LEAVES], now_of=lambda r: r.published)
    key = (batch[0].story.id, DESK)
    outcome = d.decide(batch, DeskContext(deliveries={key: replace(held, story_id=key[0])}))
    [pushed] = outcome.deliveries.values()
    assert pushed.digest_id is None, "a development is pushed, not kept for the digest"


EXPLAINER = report(
    "e1",
    "Explainer: what is in the hostage deal being negotiated in Doha?",
    "",
    T0,
    source="gulf",
)


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        (Route(DESK, digest_cron="0 7 * * *"), BRIEFING),  # held for the route's briefing
        (Route(DESK), None),  # no digest to hold it for: pushed
    ],
)
def test_background_waits_for_the_briefing_on_a_route_with_a_digest(
    route: Route, expected: str | None
) -> None:
    d = Desk(TOPICS, [route], DeskSettings())
    outcome = decide(d, [EXPLAINER])
    [delivery] = outcome.deliveries.values()
    assert delivery.alert is not None
    assert delivery.alert.tier == "background"
    assert delivery.digest_id == expected


def places(*minutes: int) -> list[Report]:
    """One distinct hostage-release development per minute after T0."""
    names = ["Rafah", "Khan Younis", "Deir al-Balah", "Jabalia", "Nuseirat", "Beit Hanoun"]
    return [
        report(
            f"f{m}",
            f"Hostage release talks: {names[m % 6]} families wait for news of day {m}",
            f"Families in {names[m % 6]} wait as Hamas and Israel discuss hostage release {m}.",
            T0 + timedelta(minutes=m),
        )
        for m in minutes
    ]


def at(*minutes: float) -> tuple[datetime, ...]:
    return tuple(T0 + timedelta(minutes=m) for m in minutes)


@pytest.mark.parametrize(
    ("batches", "expected"),
    [
        # One decision: the batch's own alerts count; the third within 10 minutes is folded.
        ([(places(0, 1, 2), ())], [[None, None, FOLD]]),
        # The stored alerts count the first time the desk meets the destination.
        ([(places(0, 1), at(-1))], [[None, FOLD]]),
        # Stored alerts older than flood_per do not count.
        ([(places(0, 1), at(-30, -20))], [[None, None]]),
        # Then the desk counts its own alerts, whatever a later context says: it read the
        # destination's stored alerts once (an alert stored since by someone else is not seen).
        ([(places(0, 1), ()), (places(2), ())], [[None, None], [FOLD]]),
        ([(places(0), ()), (places(2), at(0, 1))], [[None], [None]]),
        # Once flood_per has passed since the last alerts, pushes go out again.
        ([(places(0, 1), ()), (places(15), at(0, 1))], [[None, None], [None]]),
    ],
)
def test_flood_control_counts_stored_alerts_once_then_the_desks_own(
    batches: list[tuple[list[Report], tuple[datetime, ...]]],
    expected: list[list[str | None]],
) -> None:
    d = desk(flood_max=2, flood_per=timedelta(minutes=10))
    got = []
    for reports, stored in batches:
        outcome = decide(d, reports, DeskContext(recent={DESK: stored}))
        assert all(x.dedup.verdict is Verdict.NEW for x in outcome.decisions)
        by_story = {key[0]: v.digest_id for key, v in outcome.deliveries.items()}
        got.append([by_story[x.story_id] for x in outcome.decisions])
    assert got == expected
