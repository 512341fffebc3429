"""The desk and the courier together: one alert per development, kept up to date, never a flood."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config import load_config
from bot.core.desk import Desk, DeskSettings
from bot.core.models import Destination, Subscription
from bot.core.ports import PollRecord, StoryFilter
from bot.core.route import Route
from bot.courier import Courier
from bot.poller import load_desk, take
from bot.store import SQLStore
from tests.core.helpers import RecordingPlatform, report

T0 = datetime(2024, 5, 5, 9, 0, tzinfo=UTC)
TOPICS = load_config("config/default.toml", env_file=None).config.topic_models
DESK = Destination("console", "desk")

LEAVES = (
    "Hamas delegation leaves Cairo as cease-fire talks stall",
    "The Hamas delegation left Cairo on Sunday without a truce agreement after two days of talks "
    "with Egyptian and Qatari mediators.",
)


async def decide(desk: Desk, store: SQLStore, reports: list) -> None:  # type: ignore[type-arg]
    outcome = await take(desk, store, reports, now_of=lambda r: r.published)
    from bot.core.models import SourceHealth

    await store.commit_poll(
        PollRecord(
            SourceHealth("wire", "file:///x"),
            tuple(outcome.stories.values()),
            tuple(outcome.deliveries.values()),
        )
    )


def make(store: SQLStore, **settings: object) -> tuple[Desk, Courier, RecordingPlatform]:
    desk = Desk(TOPICS, [Route(DESK)], DeskSettings(**settings))  # type: ignore[arg-type]
    platform = RecordingPlatform()
    courier = Courier(store, {"console": platform}, lambda: T0 + timedelta(days=1))
    return desk, courier, platform


async def test_second_report_of_development_updates_in_place_not_alerts(store: SQLStore) -> None:
    desk, courier, platform = make(store)
    await decide(desk, store, [report("a1", *LEAVES, T0, source="levant")])
    await courier.run_once()
    assert len(platform.sent) == 1
    alert = platform.sent[0][1]
    assert "cairo-delegation" in alert.topics
    assert alert.outlets == ("Levant",)

    await decide(
        desk,
        store,
        [
            report(
                "b7",
                "Hamas delegation leaves Cairo as ceasefire talks stall",
                "The Hamas delegation left Cairo on Sunday without a truce agreement after two "
                "days of talks with Egyptian and Qatari mediators, officials said.",
                T0 + timedelta(minutes=40),
                source="nile",
            )
        ],
    )
    await courier.run_once()
    assert len(platform.sent) == 1, "the same development must not alert twice"
    assert len(platform.updated) == 1
    _dest, message_id, updated = platform.updated[0]
    assert message_id == "m1"
    assert updated.outlets == ("Levant", "Nile")


async def test_unrelated_story_does_not_alert(store: SQLStore) -> None:
    desk, courier, platform = make(store)
    await decide(
        desk, store, [report("n1", "Rafael Nadal wins in Madrid", "Nadal beat his rival.", T0)]
    )
    await courier.run_once()
    assert platform.sent == []


async def test_old_story_is_recorded_but_never_alerted(store: SQLStore) -> None:
    desk, _courier, _platform = make(store)
    old = report("o1", *LEAVES, T0 - timedelta(days=3))
    outcome = await take(desk, store, [old], now_of=lambda _r: T0)
    assert outcome.stories
    assert not outcome.deliveries


async def test_flood_of_alerts_folds_the_rest_into_one_digest(store: SQLStore) -> None:
    desk, _courier, platform = make(store, flood_max=3)
    clock = [T0 + timedelta(minutes=10)]
    courier = Courier(store, {"console": platform}, lambda: clock[0])
    places = [
        "Rafah",
        "Khan Younis",
        "Deir al-Balah",
        "Jabalia",
        "Nuseirat",
        "Beit Hanoun",
        "Zawaida",
    ]
    reports = [
        report(
            f"f{i}",
            f"Hostage release talks: {place} families wait for news of day {i}",
            f"Families in {place} wait as Hamas and Israel discuss hostage release number {i}.",
            T0 + timedelta(minutes=i),
        )
        for i, place in enumerate(places)
    ]
    await decide(desk, store, reports)
    await courier.run_once()
    assert len(platform.sent) == 3
    assert len(platform.digests) == 1
    assert len(platform.digests[0][1].alerts) == len(places) - 3, "nothing is dropped"

    # More news inside the same flood window waits for the window, then comes as one digest.
    await decide(
        desk,
        store,
        [
            report(
                "g1",
                "Egypt reopens Rafah crossing for aid convoys",
                "Egyptian officials reopened the Rafah crossing into Gaza on Sunday.",
                T0 + timedelta(minutes=11),
            ),
        ],
    )
    clock[0] = T0 + timedelta(minutes=12)
    await courier.run_once()
    assert len(platform.digests) == 1
    assert len(platform.sent) == 3
    clock[0] = T0 + timedelta(minutes=21)
    await courier.run_once()
    assert len(platform.digests) == 2


async def test_outage_keeps_alerts_pending_and_permanent_error_marks_failed(
    store: SQLStore,
) -> None:
    desk = Desk(TOPICS, [Route(DESK), Route(Destination("console", "gone"))])
    platform = RecordingPlatform(outage=1, gone={"gone"})
    clock = [T0]
    courier = Courier(store, {"console": platform}, lambda: clock[0])
    await decide(desk, store, [report("a1", *LEAVES, T0)])
    first = await courier.run_once()
    assert (first.sent, first.retrying, first.failed) == (0, 1, 1)
    clock[0] = T0 + timedelta(hours=1)
    second = await courier.run_once()
    assert second.sent == 1
    assert len(platform.sent) == 1
    third = await courier.run_once()
    assert third.sent == 0, "a sent alert is never sent again"
    failed = await store.failed_deliveries(T0 - timedelta(days=1))
    assert [d.destination.channel for d in failed] == ["gone"]
    assert "not found" in (failed[0].error or "")


async def test_subscriber_gets_a_direct_message(store: SQLStore) -> None:
    await store.add_subscription(Subscription("console", "", "U9", "cairo-delegation"))
    desk, courier, platform = make(store)
    await decide(desk, store, [report("a1", *LEAVES, T0)])
    await courier.run_once()
    destinations = {d for d, _a in platform.sent}
    assert Destination("console", "U9", "", direct=True) in destinations
    assert DESK in destinations


async def test_restart_keeps_the_dedup_window(store: SQLStore) -> None:
    desk, courier, _platform = make(store)
    await decide(desk, store, [report("a1", *LEAVES, T0)])
    await courier.run_once()
    fresh_desk, _c, _p = make(store)
    await load_desk(fresh_desk, store, T0 + timedelta(hours=1))
    outcome = await take(
        fresh_desk, store, [report("a1", *LEAVES, T0)], now_of=lambda _r: T0 + timedelta(hours=1)
    )
    assert outcome.deliveries == {}, "a restarted bot must not alert a held story again"


async def test_compact_route_gets_headline_without_summary(store: SQLStore) -> None:
    compact = Destination("console", "wall")
    desk = Desk(TOPICS, [Route(DESK), Route(compact, style="compact")])
    platform = RecordingPlatform()
    courier = Courier(store, {"console": platform}, lambda: T0 + timedelta(days=1))
    await decide(desk, store, [report("a1", *LEAVES, T0)])
    await courier.run_once()
    by_channel = {d.channel: a for d, a in platform.sent}
    assert by_channel["desk"].summary
    assert by_channel["wall"].summary == ""
    assert by_channel["wall"].title == by_channel["desk"].title


async def test_a_story_carries_the_topics_its_headlines_share_not_one_outliers(
    store: SQLStore,
) -> None:
    """Six outlets on the truce's end, one of them also naming the hostages: the story is about
    the talks, and a hostages-only desk is not pinged for it."""
    desk, courier, platform = make(store)
    collapse = [
        "Truce ends as Israel resumes strikes on Gaza",
        "Truce ends as Israel resumes strikes on Gaza",
        "Truce ends as Israel resumes air strikes on Gaza",
        "Israel resumes strikes on Gaza as truce ends",
        "Truce ends as Israel resumes strikes on Gaza after Hamas rockets",
        "Truce ends as Israel resumes strikes on Gaza, no word on the hostages",
    ]
    await decide(
        desk,
        store,
        [
            report(f"c{i}", title, "", T0 + timedelta(minutes=i), source=f"outlet{i}")
            for i, title in enumerate(collapse)
        ],
    )
    await courier.run_once()
    assert len(platform.sent) == 1, [a.title for _d, a in platform.sent]
    (story,) = [s for s in await store.stories(StoryFilter()) if len(s.reports) == 6]
    carried = {s.topic for s in story.scores if s.score >= 0.5}
    assert "ceasefire-talks" in carried
    assert "hostages" not in carried


async def test_one_outlet_naming_the_topic_is_enough_for_a_small_story(store: SQLStore) -> None:
    """Two outlets, one writing only "over the top", the other "presses for a pause": the
    pause is the talks, and the story is about them."""
    desk, courier, _platform = make(store)
    await decide(
        desk,
        store,
        [
            report("b1", "Biden says the Gaza offensive is over the top", "", T0, source="one"),
            report(
                "b2",
                "Biden says the Gaza offensive is over the top, presses for a pause",
                "",
                T0 + timedelta(minutes=3),
                source="two",
            ),
        ],
    )
    await courier.run_once()
    stories = [s for s in await store.stories(StoryFilter()) if len(s.reports) == 2]
    assert stories, "the two reports are one story"
    assert stories[0].score_for("ceasefire-talks") >= 0.5
