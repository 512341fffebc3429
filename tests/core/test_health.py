"""A source's health rules, table by table, with no network and no database."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from bot.core import health as rules
from bot.core.backoff import Backoff
from bot.core.models import SourceHealth
from bot.core.schedule import PollBounds

NOW = datetime(2023, 11, 24, 12, 0, tzinfo=UTC)
BACKOFF = Backoff(base=60, cap=3600)
BOUNDS = PollBounds(timedelta(minutes=5), timedelta(minutes=1), timedelta(minutes=30))


def test_a_new_source_and_a_moved_one_start_without_validators() -> None:
    assert rules.configured(None, "wire", "https://a.example/feed") == SourceHealth(
        "wire", "https://a.example/feed"
    )
    stored = SourceHealth("wire", "https://a.example/feed", etag='"v1"', last_modified="x")
    assert rules.configured(stored, "wire", "https://a.example/feed") is stored
    moved = rules.configured(stored, "wire", "https://b.example/feed")
    assert (moved.url, moved.etag, moved.last_modified) == ("https://b.example/feed", None, None)


def test_failures_count_up_back_off_and_one_success_forgets_them() -> None:
    health = SourceHealth("wire", "https://a.example/feed")
    rng = random.Random(1)
    first = rules.failed(health, "HTTP 503", NOW, BACKOFF, rng=rng)
    assert first.consecutive_failures == 1
    assert first.next_poll_after == NOW + timedelta(seconds=60)
    later = NOW + timedelta(minutes=5)
    second = rules.failed(first, "HTTP 503", later, BACKOFF, rng=rng)
    assert second.consecutive_failures == 2
    assert second.failing_since == NOW  # since the first failure, not the latest
    assert second.next_poll_after is not None
    assert second.next_poll_after >= later + timedelta(seconds=60)
    asked = rules.failed(second, "HTTP 429", later, BACKOFF, retry_after=7200, rng=rng)
    assert asked.next_poll_after == later + timedelta(hours=2)
    back = rules.succeeded(asked, later, '"v2"', None)
    assert (back.consecutive_failures, back.failing_since, back.next_poll_after) == (0, None, None)
    assert (back.etag, back.last_success, back.last_error) == ('"v2"', later, "HTTP 429")


def test_the_next_poll_follows_the_feeds_pace_and_the_first_poll_is_recorded() -> None:
    before = SourceHealth("wire", "https://a.example/feed")
    health = rules.polled(rules.succeeded(before, NOW, None, None), NOW, 20)
    assert (health.first_polled, health.items_seen) == (NOW, 20)
    assert rules.polled(health, NOW + timedelta(hours=1), 2).first_polled == NOW
    busy = [NOW - timedelta(minutes=2 * i) for i in range(20)]  # one item every two minutes
    nxt = rules.next_poll(before, health, BOUNDS, NOW, published=busy, new_items=20, max_age=None)
    assert nxt.next_poll_after == NOW + timedelta(minutes=1)
    old = [NOW - timedelta(days=3)]  # nothing in the last day: a quiet source
    quiet = rules.next_poll(before, health, BOUNDS, NOW, published=old, new_items=0, max_age=None)
    assert quiet.next_poll_after == NOW + timedelta(minutes=30)
    undated = rules.next_poll(before, health, BOUNDS, NOW, published=[], new_items=1, max_age=None)
    assert undated.next_poll_after == NOW + timedelta(minutes=5)  # no pace known: the interval
