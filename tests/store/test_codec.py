"""The JSON kept in single columns reads back as the same values."""

from __future__ import annotations

import json

from bot.core.models import Alert, Digest, TermMatch, TopicScore
from bot.store.codec import from_json, from_plain, many_from_json, many_to_json, plain, to_json
from tests.store.samples import T0, alert_for, rafah_score, report, story


def test_topic_scores_with_term_matches_round_trip() -> None:
    scores = (
        rafah_score(),
        TopicScore(topic="hostages", score=0.0, blocked="negative term: film festival"),
    )
    assert many_from_json(many_to_json(scores), TopicScore) == scores


def test_alert_round_trips_with_its_times_and_tuples() -> None:
    alert = alert_for(story("a1b2c3d4e5", report("g-1", "Hostage deal framework on the table")))
    back = from_json(to_json(alert), Alert)
    assert back == alert
    assert isinstance(back.outlets, tuple)
    assert back.published.tzinfo is not None


def test_digest_round_trips_its_alerts() -> None:
    a = alert_for(story("a1", report("g-1", "Crossing reopens for aid")))
    digest = Digest(id="d-1", alerts=(a, a), created=T0, title="Overnight: 2 developments")
    assert from_json(to_json(digest), Digest) == digest


def test_old_rows_missing_new_fields_read_with_defaults() -> None:
    stored = json.loads(to_json(TermMatch("Rafah", "Rafah", "title", 1.0)))
    del stored["contribution"]
    stored["from_a_newer_bot"] = True
    assert from_json(json.dumps(stored), TermMatch) == TermMatch("Rafah", "Rafah", "title", 1.0)


def test_non_ascii_text_survives() -> None:
    match = TermMatch("Rafah", "رفح", "title", 1.0, similarity=100.0, contribution=0.5)
    assert from_json(to_json(match), TermMatch) == match


def test_plain_values_are_the_json_read_back_and_round_trip() -> None:
    alert = alert_for(story("a1b2c3d4e5", report("g-1", "Hostage deal framework on the table")))
    assert plain(alert) == json.loads(to_json(alert))
    assert from_plain(plain(alert), Alert) == alert
