"""Quiet and stale sources, and what the ops channel is told: the rules as tables."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.core import ops, quiet
from bot.core.models import SourceHealth
from bot.core.quiet import Condition

T = datetime(2023, 11, 6, 23, 0, tzinfo=UTC)
"""The last new item of the sources below."""
MIN = timedelta(minutes=1)


def wire(times: list[datetime], name: str = "levant") -> SourceHealth:
    return quiet.learn(SourceHealth(name, f"https://{name}.example/feed"), times)


def every(gap: timedelta, count: int, last: datetime = T) -> list[datetime]:
    return [last - i * gap for i in range(count)]


def days_and_nights(days: int, last: datetime = T) -> list[datetime]:
    """Every 10 min from 06:00 to 23:00, nothing at night, for ``days`` days ending at ``last``."""
    out = []
    for day in range(days):
        end = last - timedelta(days=day)
        out += [end - i * 10 * MIN for i in range(17 * 6 + 1)]
    return out


def state(health: SourceHealth, after: timedelta) -> Condition:
    return quiet.condition(health, T + after).condition


TEN_MIN_WIRE = wire(every(10 * MIN, 60))
NIGHT_WIRE = wire(days_and_nights(7))


def batches(count: int) -> list[datetime]:
    """Five items three minutes apart, then one to three days of nothing: a weekly column desk."""
    rng, out, at = random.Random(7), [], T
    for _ in range(count):
        out += [at - i * 3 * MIN for i in range(5)]
        at -= timedelta(days=rng.uniform(1, 3))
    return out


IRREGULAR = wire(batches(12))
ALMOST_NEW = wire(every(10 * MIN, 10))


@pytest.mark.parametrize(
    ("name", "health", "after", "expected"),
    [
        ("a ten-minute wire, 5h59 of silence: under the 6h floor", TEN_MIN_WIRE, 359 * MIN, "ok"),
        ("a ten-minute wire, 6h of silence", TEN_MIN_WIRE, 6 * 60 * MIN, "quiet"),
        ("its usual night is no alarm", NIGHT_WIRE, timedelta(hours=7, minutes=10), "ok"),
        ("nor a night a little longer", NIGHT_WIRE, timedelta(hours=9, minutes=30), "ok"),
        ("but a morning without news is", NIGHT_WIRE, timedelta(hours=11), "quiet"),
        ("an irregular source is never quiet", IRREGULAR, timedelta(days=10), "ok"),
        ("nor one with too little history", ALMOST_NEW, timedelta(days=10), "ok"),
    ],
)
def test_quiet_rule(name: str, health: SourceHealth, after: timedelta, expected: str) -> None:
    assert state(health, after) == expected, name


def test_a_quiet_source_is_quiet_since_its_last_new_item() -> None:
    assert quiet.condition(TEN_MIN_WIRE, T + timedelta(hours=7)).since == T
    assert quiet.usual_gap(TEN_MIN_WIRE) == 10 * MIN


def test_a_burst_is_one_arrival_and_does_not_change_the_pace() -> None:
    bursty = every(10 * MIN, 60)
    bursty += [T - 100 * MIN + timedelta(seconds=s) for s in range(1, 40)]  # 39 items at once
    health = wire(bursty)
    assert health.pace_gaps == TEN_MIN_WIRE.pace_gaps
    assert quiet.usual_gap(health) == quiet.usual_gap(TEN_MIN_WIRE)
    assert quiet.steady(health)


def test_one_long_gap_does_not_make_a_regular_source_irregular() -> None:
    gaps = every(10 * MIN, 40, T - timedelta(hours=20)) + every(10 * MIN, 30)
    assert quiet.steady(wire(gaps))


def test_items_older_than_the_last_arrival_teach_nothing() -> None:
    again = quiet.learn(TEN_MIN_WIRE, every(10 * MIN, 5, T - MIN))
    assert again == TEN_MIN_WIRE


def served(health: SourceHealth, at: datetime, *, items: int, new: int) -> SourceHealth:
    return quiet.repeated(health, at, items=items, new=new)


def test_the_same_items_served_as_fresh_for_a_day_are_stale() -> None:
    health = served(TEN_MIN_WIRE, T + MIN, items=20, new=0)
    for hour in range(1, 25):
        health = served(health, T + timedelta(hours=hour), items=20, new=0)
    assert health.repeating_since == T + MIN
    assert state(health, timedelta(hours=23)) == "quiet"
    assert quiet.condition(health, T + timedelta(hours=25)) == quiet.SourceState(
        Condition.STALE, T + MIN
    )
    # A 304 (or an empty document) is the server saying honestly that nothing changed.
    honest = served(health, T + timedelta(hours=25), items=0, new=0)
    assert state(honest, timedelta(hours=25)) == "quiet"
    # Anything new ends it.
    assert served(health, T + timedelta(hours=25), items=20, new=1).repeating_since is None


def test_a_source_that_posts_twice_a_day_is_never_stale() -> None:
    slow = served(wire(every(timedelta(hours=12), 40)), T + MIN, items=20, new=0)
    assert quiet.stale_since(slow, T + timedelta(days=3)) is None


def test_failing_wins_over_quiet() -> None:
    failing = replace(TEN_MIN_WIRE, consecutive_failures=2, failing_since=T + MIN)
    assert quiet.condition(failing, T + timedelta(hours=8)) == quiet.SourceState(
        Condition.FAILING, T + MIN
    )


# --- what the ops channel is told ------------------------------------------------------------
LATER = T + timedelta(hours=8)


@pytest.mark.parametrize(
    ("told", "health", "expected"),
    [
        ("", TEN_MIN_WIRE, ["⚠ Source levant has gone quiet: nothing new since 23:00 UTC 06 Nov"]),
        ("quiet", TEN_MIN_WIRE, []),
        ("", wire(every(10 * MIN, 60, LATER)), []),
        ("quiet", wire(every(10 * MIN, 60, LATER)), ["✓ Source levant has recovered (was quiet)"]),
        (
            "quiet",
            replace(TEN_MIN_WIRE, consecutive_failures=1, last_error="HTTP 503"),
            ["⚠ Source levant is failing (1×): HTTP 503"],
        ),
        ("failing", replace(TEN_MIN_WIRE, consecutive_failures=3, last_error="HTTP 503"), []),
    ],
)
def test_the_ops_channel_hears_each_change_once(
    told: str, health: SourceHealth, expected: list[str]
) -> None:
    found = ops.changes([replace(health, announced=told)], LATER)
    texts = [m.text for m in ops.plan(found, LATER)]
    assert [t.split(" (it usually")[0] for t in texts] == expected


def test_many_sources_changing_at_once_are_one_message() -> None:
    names = ["agency", "broadcaster", "courier", "dispatch", "echo"]
    found = ops.changes([replace(TEN_MIN_WIRE, name=n) for n in names], LATER)
    [message] = ops.plan(found, LATER)
    assert message.text.startswith("⚠ 5 sources are quiet: agency, broadcaster, courier, dispatch")
    assert "+1 more" in message.text
    assert [n for n, _c in message.sources] == names
