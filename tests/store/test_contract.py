"""The storage contract: every test runs against SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.core.models import Digest, Mute, Subscription
from bot.core.ports import DigestRecord, PollRecord, StoryFilter
from bot.errors import StoreError
from bot.store import SQLStore
from tests.store.samples import (
    DESK,
    DISCORD,
    EDITOR_DM,
    T0,
    alert_for,
    at,
    delivery,
    rafah_score,
    report,
    source,
    story,
)

# sources --------------------------------------------------------------------------------------


async def test_unknown_source_is_none(store: SQLStore) -> None:
    assert await store.get_source("wire") is None
    assert await store.list_sources() == []


async def test_source_health_round_trips_every_field(store: SQLStore) -> None:
    health = source(
        "wire",
        etag='W/"5f2-abc"',
        last_modified="Mon, 06 May 2024 08:55:00 GMT",
        last_polled=at(0),
        last_success=at(-5),
        last_error="HTTP 503 from feeds.example",
        last_error_at=at(0),
        failing_since=at(-2),
        consecutive_failures=2,
        next_poll_after=at(4),
        first_polled=at(-600),
        items_seen=341,
        last_new_at=at(-7),
        pace_gaps=58,
        pace_log_mean=6.3969,
        pace_log_var=0.8125,
        pace_lull=25_200.5,
        repeating_since=at(-3),
    )
    await store.save_source(health)
    assert await store.get_source("wire") == health


async def test_what_the_ops_channel_was_told_survives_later_saves_of_the_source(
    store: SQLStore,
) -> None:
    # A poll reads the source, the ops announcer records "quiet", then the poll saves what it
    # read: the announcement must stay recorded, or the ops channel would hear it twice.
    read_by_poll = source("wire", items_seen=3)
    await store.save_source(read_by_poll)
    await store.save_announced("wire", "quiet", at(1))
    await store.save_source(replace(read_by_poll, items_seen=4))
    await store.commit_poll(PollRecord(source=replace(read_by_poll, items_seen=5)))
    await store.save_sources([replace(read_by_poll, items_seen=6)])
    saved = await store.get_source("wire")
    assert saved is not None
    assert (saved.announced, saved.announced_at, saved.items_seen) == ("quiet", at(1), 6)
    [listed] = await store.list_sources()
    assert listed.announced == "quiet"
    # A new source starts untold.
    await store.save_source(source("agency"))
    fresh = await store.get_source("agency")
    assert fresh is not None
    assert (fresh.announced, fresh.announced_at) == ("", None)


async def test_source_recovering_clears_its_failure(store: SQLStore) -> None:
    failing = source("wire", consecutive_failures=3, last_error="timeout", failing_since=at(0))
    await store.save_source(failing)
    await store.save_source(replace(failing, consecutive_failures=0, failing_since=None))
    saved = await store.get_source("wire")
    assert saved is not None
    assert saved.healthy
    assert saved.failing_since is None
    assert saved.last_error == "timeout"


async def test_sources_are_listed_by_name(store: SQLStore) -> None:
    for name in ("wire", "agency", "broadcaster"):
        await store.save_source(source(name))
    assert [s.name for s in await store.list_sources()] == ["agency", "broadcaster", "wire"]


async def test_several_sources_are_saved_at_once_and_updated_in_place(store: SQLStore) -> None:
    await store.save_sources([source("wire"), source("agency", consecutive_failures=2)])
    await store.save_sources([source("agency"), source("broadcaster", items_seen=7)])
    await store.save_sources([])
    saved = {s.name: s for s in await store.list_sources()}
    assert sorted(saved) == ["agency", "broadcaster", "wire"]
    assert saved["agency"].healthy  # the second save replaced the first
    assert saved["broadcaster"].items_seen == 7


# polls, stories and reports -------------------------------------------------------------------

CAIRO = "Hamas delegation heads to Cairo for new round of truce talks"
CAIRO_UPDATE = "Hamas delegation arrives in Cairo as truce talks resume"


async def test_poll_saves_new_stories_with_reports_and_scores(store: SQLStore) -> None:
    first = story(
        "a1b2c3d4e5",
        report("g-1", CAIRO, minutes=0),
        report(
            "g-7",
            CAIRO,
            source="agency",
            outlet="Agency",
            minutes=3,
            matched_key="g-1",
            similarity=93.5,
            reason="headline+lead 93",
        ),
        scores=(rafah_score(),),
    )
    await store.commit_poll(PollRecord(source=source("wire", items_seen=2), stories=(first,)))

    assert await store.get_story("a1b2c3d4e5") == first
    saved_source = await store.get_source("wire")
    assert saved_source is not None
    assert saved_source.items_seen == 2


async def test_second_report_attaches_to_existing_story(store: SQLStore) -> None:
    lone = story("a1b2c3d4e5", report("g-1", CAIRO, minutes=0))
    await store.commit_poll(PollRecord(source=source(), stories=(lone,)))

    joined = replace(
        lone,
        reports=(*lone.reports, report("n-9", CAIRO, source="agency", outlet="Agency", minutes=8)),
        updated=at(8),
    )
    await store.commit_poll(PollRecord(source=source("agency"), stories=(joined,)))

    saved = await store.get_story("a1b2c3d4e5")
    assert saved is not None
    assert [r.key for r in saved.reports] == ["g-1", "n-9"]
    assert saved.outlets == ("Wire Service", "Agency")
    assert saved.updated == at(8)


async def test_better_headline_replaces_story_title_and_report_title(store: SQLStore) -> None:
    before = story("a1b2c3d4e5", report("g-1", CAIRO))
    await store.commit_poll(PollRecord(source=source(), stories=(before,)))

    reheadlined = report("g-1", CAIRO_UPDATE, minutes=20)
    after = replace(before, title=CAIRO_UPDATE, reports=(reheadlined,), updated=at(20))
    await store.commit_poll(PollRecord(source=source(), stories=(after,)))

    assert await store.get_story("a1b2c3d4e5") == after
    assert await store.known_reports("wire", ["g-1"]) == {"g-1": CAIRO_UPDATE}


async def test_report_moves_when_a_story_is_split(store: SQLStore) -> None:
    merged = story("aaaa0001", report("g-1", CAIRO), report("g-2", "Rafah crossing reopens"))
    await store.commit_poll(PollRecord(source=source(), stories=(merged,)))

    kept = replace(merged, reports=merged.reports[:1])
    split_off = story("bbbb0002", report("g-2", "Rafah crossing reopens"))
    await store.commit_poll(PollRecord(source=source(), stories=(kept, split_off)))

    first, second = await store.get_story("aaaa0001"), await store.get_story("bbbb0002")
    assert first is not None
    assert second is not None
    assert [r.key for r in first.reports] == ["g-1"]
    assert [r.key for r in second.reports] == ["g-2"]


async def test_report_dropped_from_a_story_is_forgotten(store: SQLStore) -> None:
    both = story("aaaa0001", report("g-1", CAIRO), report("g-2", "Unrelated market report"))
    await store.commit_poll(PollRecord(source=source(), stories=(both,)))
    await store.commit_poll(
        PollRecord(source=source(), stories=(replace(both, reports=both.reports[:1]),))
    )
    assert await store.known_reports("wire", ["g-1", "g-2"]) == {"g-1": CAIRO}


async def test_poll_with_hundreds_of_reports_is_saved_whole(store: SQLStore) -> None:
    big = tuple(report(f"k{i:04d}", f"Live: talks update {i}", minutes=i) for i in range(1200))
    await store.commit_poll(PollRecord(source=source(), stories=(story("bigstory", *big),)))

    saved = await store.get_story("bigstory")
    assert saved is not None
    assert [r.key for r in saved.reports] == [r.key for r in big]
    known = await store.known_reports("wire", [r.key for r in big])
    assert len(known) == 1200


async def test_known_reports_are_per_source(store: SQLStore) -> None:
    s = story(
        "a1b2c3d4e5",
        report("g-1", CAIRO),
        report("g-1", "Agency copy of the same guid", source="agency"),
    )
    await store.commit_poll(PollRecord(source=source(), stories=(s,)))
    assert await store.known_reports("wire", ["g-1", "never-seen"]) == {"g-1": CAIRO}
    assert await store.known_reports("agency", iter(["g-1"])) == {
        "g-1": "Agency copy of the same guid"
    }
    assert await store.known_reports("wire", []) == {}


async def test_failed_poll_saves_nothing(store: SQLStore) -> None:
    s = story("a1b2c3d4e5", report("g-1", CAIRO))
    naive = delivery("a1b2c3d4e5", created=0, next_attempt=datetime(2024, 5, 6, 9, 0))
    with pytest.raises(StoreError, match="naive datetime"):
        await store.commit_poll(PollRecord(source=source(), stories=(s,), deliveries=(naive,)))
    assert await store.get_story("a1b2c3d4e5") is None
    assert await store.get_source("wire") is None


# finding stories ------------------------------------------------------------------------------


async def _stories(store: SQLStore, *ids: str, minutes: list[float]) -> None:
    made = tuple(
        story(sid, report(f"k-{sid}", f"Story {sid}"), updated=m)
        for sid, m in zip(ids, minutes, strict=True)
    )
    await store.commit_poll(PollRecord(source=source(), stories=made))


async def test_story_found_by_unique_prefix(store: SQLStore) -> None:
    await _stories(store, "7f3a91c2", "7f3b0000", minutes=[0, 1])
    found = await store.get_story("7f3a")
    assert found is not None
    assert found.id == "7f3a91c2"


async def test_ambiguous_or_short_prefix_finds_nothing(store: SQLStore) -> None:
    await _stories(store, "7f3a91c2", "7f3a0000", minutes=[0, 1])
    assert await store.get_story("7f3a") is None
    assert await store.get_story("7f3") is None
    assert await store.get_story("") is None


async def test_exact_id_wins_over_longer_ids_sharing_it(store: SQLStore) -> None:
    await _stories(store, "7f3a", "7f3a91c2", minutes=[0, 1])
    found = await store.get_story("7f3a")
    assert found is not None
    assert found.id == "7f3a"


async def test_prefix_is_literal_not_a_pattern(store: SQLStore) -> None:
    await _stories(store, "ab_cdef", "abxcdef", minutes=[0, 1])
    found = await store.get_story("ab_c")
    assert found is not None
    assert found.id == "ab_cdef"


async def test_stories_newest_first_with_their_own_reports(store: SQLStore) -> None:
    await _stories(store, "s1", "s2", "s3", minutes=[10, 30, 20])
    listed = await store.stories(StoryFilter())
    assert [s.id for s in listed] == ["s2", "s3", "s1"]
    assert [[r.key for r in s.reports] for s in listed] == [["k-s2"], ["k-s3"], ["k-s1"]]


async def test_stories_window_is_since_inclusive_until_exclusive(store: SQLStore) -> None:
    await _stories(store, "s1", "s2", "s3", "s4", minutes=[0, 10, 20, 30])
    window = StoryFilter(since=at(10), until=at(30))
    assert [s.id for s in await store.stories(window)] == ["s3", "s2"]
    assert [s.id for s in await store.stories(StoryFilter(since=at(20), limit=1))] == ["s4"]


async def test_stories_by_ids_respect_window_and_limit(store: SQLStore) -> None:
    await _stories(store, "s1", "s2", "s3", minutes=[0, 10, 20])
    picked = StoryFilter(ids=("s1", "s3", "missing"))
    assert [s.id for s in await store.stories(picked)] == ["s3", "s1"]
    assert [s.id for s in await store.stories(replace(picked, since=at(5)))] == ["s3"]
    assert [s.id for s in await store.stories(replace(picked, limit=1))] == ["s3"]


async def test_a_window_read_in_several_batches_gives_every_story_as_saved(
    store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.store.sql.STREAM_ROWS", 2)
    quiet = replace(rafah_score(), score=0.0, matches=(), notes=("no watched term found",))
    made = tuple(
        story(
            f"s{i}",
            report(f"k-{i}", f"Story {i}", source="wire" if i % 2 else "agency"),
            report(f"c-{i}", f"Copy of story {i}", source="copies", minutes=1),
            updated=i,
            scores=(quiet,) if i % 3 else (rafah_score(),),
        )
        for i in range(7)
    )
    await store.commit_poll(PollRecord(source=source(), stories=made))

    listed = await store.stories(StoryFilter(since=at(0)))
    assert listed == sorted(made, key=lambda s: s.updated, reverse=True)


# deliveries (the outbox) ----------------------------------------------------------------------


async def test_delivery_round_trips_with_its_alert(store: SQLStore) -> None:
    s = story("a1b2c3d4e5", report("g-1", CAIRO))
    d = delivery(
        s.id,
        EDITOR_DM,
        alert=alert_for(s),
        planned_digest="digest-9f2c",
        next_attempt=at(2),
        attempts=1,
        error="rate limited",
    )
    await store.commit_poll(PollRecord(source=source(), stories=(s,), deliveries=(d,)))
    assert await store.get_delivery(s.id, EDITOR_DM) == d
    assert await store.get_delivery(s.id, DESK) is None


async def test_saving_a_delivery_again_replaces_it_but_keeps_when_it_was_created(
    store: SQLStore,
) -> None:
    await store.save_delivery(delivery("s1", created=0))
    sent = delivery("s1", status="sent", created=45, message_id="1715.22", attempts=1)
    await store.save_delivery(sent)

    saved = await store.get_delivery("s1", DESK)
    assert saved == replace(sent, created=at(0))


async def test_delivery_without_times_gets_the_store_clock(database_url: str) -> None:
    store = SQLStore(database_url, clock=lambda: at(7))
    await store.open()
    try:
        await store.save_delivery(replace(delivery("s1"), created=None, updated=None))
        saved = await store.get_delivery("s1", DESK)
    finally:
        await store.close()
    assert saved is not None
    assert (saved.created, saved.updated) == (at(7), at(7))


async def test_due_deliveries_pending_and_edits_oldest_first(store: SQLStore) -> None:
    await store.save_delivery(delivery("late", created=5))
    await store.save_delivery(delivery("early", created=1))
    await store.save_delivery(delivery("edit", status="sent", created=3, needs_update=True))
    await store.save_delivery(delivery("done", status="sent", created=0))
    await store.save_delivery(delivery("gave-up", status="failed", created=0))
    await store.save_delivery(delivery("folded", status="folded", created=0))
    await store.save_delivery(delivery("backoff", created=0, next_attempt=at(11)))
    await store.save_delivery(delivery("retry", created=2, next_attempt=at(10)))

    due = await store.due_deliveries(now=at(10))
    assert [d.story_id for d in due] == ["early", "retry", "edit", "late"]
    assert [d.story_id for d in await store.due_deliveries(now=at(10), limit=2)] == [
        "early",
        "retry",
    ]
    assert "backoff" in [d.story_id for d in await store.due_deliveries(now=at(11))]


async def test_recent_deliveries_count_each_destination_apart(store: SQLStore) -> None:
    await store.save_delivery(delivery("s1", DESK, created=0))
    await store.save_delivery(delivery("s2", DESK, created=10))
    await store.save_delivery(delivery("s3", DISCORD, created=10))
    await store.save_delivery(delivery("s4", replace(DESK, direct=True), created=10))
    await store.save_delivery(delivery("s5", DESK, created=20, status="folded"))

    recent = await store.recent_deliveries([DESK], at(10))
    assert recent == {DESK: (at(10), at(20))}


async def test_failed_deliveries_newest_first(store: SQLStore) -> None:
    await store.save_delivery(delivery("old", status="failed", created=0))
    await store.save_delivery(
        delivery("s1", status="failed", created=10, error="channel_not_found")
    )
    await store.save_delivery(delivery("s2", status="failed", created=20, error="missing_scope"))
    await store.save_delivery(delivery("s3", status="sent", created=20))

    failed = await store.failed_deliveries(at(5))
    assert [(d.story_id, d.error) for d in failed] == [
        ("s2", "missing_scope"),
        ("s1", "channel_not_found"),
    ]


# digests --------------------------------------------------------------------------------------


def _digest(digest_id: str, minutes: float) -> Digest:
    a = alert_for(story("a1b2c3d4e5", report("g-1", CAIRO)))
    b = alert_for(story("f9e8d7c6b5", report("g-2", "Aid trucks queue at Kerem Shalom")))
    return Digest(id=digest_id, alerts=(a, b), created=at(minutes), title="2 more developments")


async def test_digest_round_trips_per_destination_and_keeps_its_last_state(
    store: SQLStore,
) -> None:
    tried = DigestRecord(digest=_digest("d1", 0), destination=DESK)
    await store.save_digest(tried)
    assert await store.get_digest("d1", DESK) == tried
    assert await store.get_digest("d1", DISCORD) is None
    assert await store.get_digest("d9", DESK) is None
    sent = replace(tried, status="sent", message_id="1715.9", attempts=1)
    await store.save_digest(sent)
    assert await store.get_digest("d1", DESK) == sent


# subscriptions and mutes ----------------------------------------------------------------------


def _sub(subscriber: str = "U0EDITOR", topic: str = "rafah", **changes: object) -> Subscription:
    values: dict[str, object] = {
        "platform": "slack",
        "workspace": "T0NEWS",
        "subscriber": subscriber,
        "topic": topic,
        "created": T0,
    }
    values.update(changes)
    return Subscription(**values)  # type: ignore[arg-type]


async def test_subscribing_twice_reports_existing_and_updates_mode(store: SQLStore) -> None:
    assert await store.add_subscription(_sub()) is True
    assert await store.add_subscription(_sub(mode="mention", created=at(9))) is False
    assert await store.subscriptions_of("slack", "T0NEWS", "U0EDITOR", False) == [
        _sub(mode="mention")
    ]


async def test_person_and_channel_subscriptions_are_separate(store: SQLStore) -> None:
    await store.add_subscription(_sub("C0DESK", "hostages", channel=True))
    await store.add_subscription(_sub("C0DESK", "rafah"))
    await store.add_subscription(_sub("U0EDITOR", "cairo-talks"))

    as_channel = await store.subscriptions_of("slack", "T0NEWS", "C0DESK", True)
    as_person = await store.subscriptions_of("slack", "T0NEWS", "C0DESK", False)
    assert [s.topic for s in as_channel] == ["hostages"]
    assert [s.topic for s in as_person] == ["rafah"]
    assert await store.subscriptions_of("slack", "T1OTHER", "C0DESK", True) == []


async def test_unsubscribing_removes_only_that_topic(store: SQLStore) -> None:
    await store.add_subscription(_sub(topic="rafah"))
    await store.add_subscription(_sub(topic="hostages"))
    assert await store.remove_subscription("slack", "T0NEWS", "U0EDITOR", "rafah", False) is True
    assert await store.remove_subscription("slack", "T0NEWS", "U0EDITOR", "rafah", False) is False
    remaining = await store.subscriptions_of("slack", "T0NEWS", "U0EDITOR", False)
    assert [s.topic for s in remaining] == ["hostages"]


async def test_subscriptions_to_topics_span_platforms(store: SQLStore) -> None:
    await store.add_subscription(_sub("U0EDITOR", "rafah"))
    await store.add_subscription(_sub("555", "rafah", platform="discord", workspace="900"))
    await store.add_subscription(_sub("U0NIGHT", "hostages"))
    await store.add_subscription(_sub("U0SPORT", "football"))

    found = await store.subscriptions_to(["rafah", "hostages"])
    assert [(s.platform, s.subscriber, s.topic) for s in found] == [
        ("slack", "U0NIGHT", "hostages"),
        ("discord", "555", "rafah"),
        ("slack", "U0EDITOR", "rafah"),
    ]
    assert await store.subscriptions_to([]) == []


async def test_mutes_set_replace_expire_and_clear(store: SQLStore) -> None:
    night = Mute("slack", "T0NEWS", "C0DESK", until=at(60))
    await store.set_mute(night)
    await store.set_mute(replace(night, until=at(120)))
    await store.set_mute(Mute("discord", "900", "1200", until=at(5)))

    assert await store.active_mutes(at(10)) == [replace(night, until=at(120))]
    assert await store.active_mutes(at(120)) == []
    assert await store.clear_mute("slack", "T0NEWS", "C0DESK") is True
    assert await store.clear_mute("slack", "T0NEWS", "C0DESK") is False
    assert await store.active_mutes(at(0)) == [Mute("discord", "900", "1200", until=at(5))]


async def test_meta_values_are_kept_and_overwritten(store: SQLStore) -> None:
    assert await store.get_meta("digest:last_run") is None
    await store.set_meta("digest:last_run", "2024-05-06T09:00:00+00:00")
    await store.set_meta("digest:last_run", "2024-05-06T18:00:00+00:00")
    assert await store.get_meta("digest:last_run") == "2024-05-06T18:00:00+00:00"


# time -----------------------------------------------------------------------------------------


async def test_every_datetime_comes_back_aware_utc(store: SQLStore) -> None:
    cairo_time = timezone(timedelta(hours=3))
    local = T0.astimezone(cairo_time)
    s = replace(story("a1b2c3d4e5", report("g-1", CAIRO)), published=local, updated=local)
    await store.commit_poll(
        PollRecord(
            source=source(last_polled=local, next_poll_after=local),
            stories=(s,),
            deliveries=(delivery(s.id, created=0, next_attempt=local),),
        )
    )
    await store.add_subscription(_sub())
    await store.set_mute(Mute("slack", "T0NEWS", "C0DESK", until=local + timedelta(hours=1)))

    saved_story = await store.get_story(s.id)
    saved_source = await store.get_source("wire")
    saved_delivery = await store.get_delivery(s.id, DESK)
    assert saved_story is not None
    assert saved_source is not None
    assert saved_delivery is not None
    values = [
        saved_story.published,
        saved_story.updated,
        *(r.published for r in saved_story.reports),
        saved_source.last_polled,
        saved_source.next_poll_after,
        saved_delivery.created,
        saved_delivery.updated,
        saved_delivery.next_attempt,
        *(sub.created for sub in await store.subscriptions_to(["rafah"])),
        *(m.until for m in await store.active_mutes(T0)),
    ]
    assert all(
        v is not None and v.tzinfo is not None and v.utcoffset() == timedelta(0) for v in values
    )
    assert saved_story.published == T0
    assert saved_story.published.tzinfo == UTC


async def test_a_decisions_context_is_read_in_one_go(store: SQLStore) -> None:
    await store.add_subscription(_sub(topic="hostages"))
    await store.add_subscription(_sub("U-BEN", "rafah"))
    await store.set_mute(Mute("slack", "T0NEWS", "U-ANNA", until=at(60)))
    await store.set_mute(Mute("slack", "T0NEWS", "U-BEN", until=at(5)))
    await store.save_delivery(delivery("s1", DESK, created=0))
    await store.save_delivery(delivery("s1", DISCORD, created=12))
    await store.save_delivery(delivery("s2", DESK, created=15))
    context = await store.decision_context(["hostages"], ["s1", "gone"], at(10))
    assert [s.topic for s in context.subscriptions] == ["hostages"]
    assert [m.subject for m in context.mutes] == ["U-ANNA"]  # U-BEN's ended before
    assert set(context.deliveries) == {("s1", DESK), ("s1", DISCORD)}
    recent = await store.recent_deliveries([DESK, DISCORD, replace(DESK, direct=True)], at(10))
    assert recent == {DISCORD: (at(12),), DESK: (at(15),), replace(DESK, direct=True): ()}
