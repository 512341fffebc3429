"""Adaptive polling: busy sources are polled often, quiet ones rarely, always within bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.schedule import PollBounds, poll_bounds, poll_interval

NOW = datetime(2024, 2, 10, 12, 0, tzinfo=UTC)
BOUNDS = PollBounds(
    interval=timedelta(minutes=5), minimum=timedelta(minutes=1), maximum=timedelta(minutes=30)
)


def every(minutes: float, count: int, *, starting_ago: float = 0.0) -> list[datetime]:
    """``count`` publication times ``minutes`` apart, the newest ``starting_ago`` minutes ago."""
    return [NOW - timedelta(minutes=starting_ago + i * minutes) for i in range(count)]


@pytest.mark.parametrize(
    ("case", "published", "expected"),
    [
        # A wire filing every 2 minutes: as often as allowed.
        ("busy wire", every(2, 20), timedelta(minutes=1)),
        # One item every 10 minutes all day: poll every 5 (two polls per expected item).
        ("steady outlet", every(10, 150, starting_ago=5), timedelta(minutes=5)),
        # One item an hour: every 30 minutes, which is also the upper bound.
        ("slow outlet", every(60, 30, starting_ago=30), timedelta(minutes=30)),
        # Nothing in the last day: the upper bound.
        ("quiet blog", every(24 * 60, 5, starting_ago=2 * 24 * 60), timedelta(minutes=30)),
        # A burst of breaking news after a slow day: the 1-hour window wins.
        (
            "breaking burst",
            every(4, 12) + every(180, 10, starting_ago=90),
            timedelta(seconds=150),
        ),
    ],
)
def test_interval_follows_the_publishing_pace_of_the_feed(
    case: str, published: list[datetime], expected: timedelta
) -> None:
    assert poll_interval(BOUNDS, NOW, published=published) == expected, case


@pytest.mark.parametrize(
    ("case", "previous", "new_items", "expected"),
    [
        ("first poll of an undated feed", None, 0, timedelta(minutes=5)),
        ("undated feed changed", timedelta(minutes=20), 3, timedelta(minutes=5)),
        ("nothing new: slows down", timedelta(minutes=4), 0, timedelta(minutes=6)),
        (
            "nothing new, already slow: stays at the bound",
            timedelta(minutes=25),
            0,
            timedelta(minutes=30),
        ),
    ],
)
def test_without_dates_the_interval_grows_while_nothing_changes(
    case: str, previous: timedelta | None, new_items: int, expected: timedelta
) -> None:
    # published=None: a 304 (not modified); [] : a feed whose items carry no dates.
    for published in (None, []):
        got = poll_interval(
            BOUNDS, NOW, published=published, new_items=new_items, previous=previous
        )
        assert got == expected, case


@pytest.mark.parametrize(
    ("max_age", "expected"),
    [
        (None, timedelta(minutes=1)),
        (30.0, timedelta(minutes=1)),  # shorter than our own interval: changes nothing
        (600.0, timedelta(minutes=10)),  # polling sooner would only return the cached copy
        (86_400.0, timedelta(minutes=30)),  # the desk's upper bound wins over a day-long cache
    ],
)
def test_cache_max_age_delays_the_next_poll_up_to_the_upper_bound(
    max_age: float | None, expected: timedelta
) -> None:
    assert poll_interval(BOUNDS, NOW, published=every(2, 20), max_age=max_age) == expected


def test_fixed_bounds_poll_at_the_configured_interval_whatever_the_pace() -> None:
    fixed = PollBounds(timedelta(seconds=30), timedelta(seconds=30), timedelta(seconds=30))
    for published in (every(1, 30), every(24 * 60, 3, starting_ago=5000), None):
        assert poll_interval(fixed, NOW, published=published) == timedelta(seconds=30)


def test_bounds_with_maximum_below_minimum_are_refused() -> None:
    with pytest.raises(ValueError, match="minimum <= maximum"):
        PollBounds(timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=1))


def test_a_source_with_its_own_interval_keeps_to_it_and_the_others_adapt() -> None:
    desk = PollBounds(timedelta(minutes=5), timedelta(minutes=1), timedelta(minutes=30))
    assert poll_bounds(desk) == desk
    fixed = poll_bounds(desk, interval=timedelta(minutes=2))
    assert fixed == PollBounds(timedelta(minutes=2), timedelta(minutes=2), timedelta(minutes=2))
    # Its own interval with a bound of its own: it adapts from there, within that bound.
    loose = poll_bounds(desk, interval=timedelta(minutes=2), maximum=timedelta(hours=1))
    assert (loose.minimum, loose.maximum) == (timedelta(minutes=2), timedelta(hours=1))
    # A bound that excludes the interval is widened to take it in.
    odd = poll_bounds(desk, interval=timedelta(minutes=10), minimum=timedelta(minutes=20))
    assert odd.minimum == timedelta(minutes=10)


def test_a_busy_wire_keeping_only_its_latest_items_is_still_read_as_busy() -> None:
    # Twenty items over the last 38 minutes and nothing older: one every two minutes.
    assert poll_interval(BOUNDS, NOW, published=every(2, 20)) == timedelta(minutes=1)
    wide = PollBounds(timedelta(minutes=5), timedelta(seconds=10), timedelta(minutes=30))
    assert poll_interval(wide, NOW, published=every(2, 20)) == timedelta(seconds=57)
