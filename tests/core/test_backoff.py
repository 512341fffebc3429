"""The one backoff policy: feeds, unsaved polls and chat deliveries all wait by it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.backoff import MAX_RETRY_AFTER, Backoff, retry_after_seconds

FEED = Backoff(base=60, cap=3600)


def test_waits_grow_exponentially_and_never_fall_back_below_half_the_step() -> None:
    rng = random.Random(7)
    waits = [FEED.seconds(n, rng) for n in range(1, 12)]
    assert waits[0] == 60  # the first retry waits exactly the base
    assert 60 <= waits[1] <= 120
    assert 120 <= waits[2] <= 240
    assert 240 <= waits[3] <= 480
    # A source down for a long time is not retried after a minute by the luck of the draw.
    assert all(1800 <= w <= 3600 for w in waits[6:])
    assert FEED.seconds(0) == 0


def test_waits_are_deterministic_with_a_seeded_rng_and_spread_across_sources() -> None:
    assert len({FEED.seconds(5, random.Random(1)) for _ in range(3)}) == 1
    rng = random.Random(2)
    assert len({round(FEED.seconds(5, rng), 3) for _ in range(20)}) > 15


@pytest.mark.parametrize(
    ("failures", "retry_after", "least", "most"),
    [
        (1, None, 60, 60),
        (1, 300.0, 300, 300),  # the server asks for longer: honoured
        (5, 30.0, 480, 960),  # the backoff is already longer
        (1, 10 * 86_400.0, 86_400, 86_400),  # an absurd Retry-After is capped at a day
        (1, float("nan"), 60, 60),  # an unreadable one is ignored
        (1, -5.0, 60, 60),
    ],
)
def test_wait_honours_retry_after_up_to_a_day(
    failures: int, retry_after: float | None, least: float, most: float
) -> None:
    wait = FEED.wait(failures, retry_after, random.Random(3))
    assert timedelta(seconds=least) <= wait <= timedelta(seconds=most)


def test_a_small_cap_bounds_the_wait_even_below_the_base() -> None:
    tiny = Backoff(base=60, cap=10)
    assert tiny.seconds(1) == 10
    assert tiny.seconds(9) == 10


NOW = datetime(2023, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("90", 90.0),
        ("1.5", 1.5),
        ("Fri, 24 Nov 2023 12:02:00 GMT", 120.0),
        ("Fri, 24 Nov 2023 11:00:00 GMT", 0.0),  # a date that has passed: go now
        ("9999999999", MAX_RETRY_AFTER.total_seconds()),
        ("soon", None),
        ("-1", None),
        ("", None),
    ],
)
def test_retry_after_headers_are_read_as_seconds_from_now(
    header: str, seconds: float | None
) -> None:
    assert retry_after_seconds(header, NOW) == seconds
