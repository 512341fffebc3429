"""Who gets what: routes, subscriptions, mutes, urgent override, mention mode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.models import (
    Destination,
    Mute,
    Story,
    StoryReport,
    Subscription,
    Term,
    Topic,
    TopicScore,
)
from bot.core.route import Route, should_fold, targets_for

NOW = datetime(2024, 5, 5, 12, 0, tzinfo=UTC)
TOPICS = {
    t.id: t
    for t in (
        Topic("rafah", "Rafah", (Term("Rafah"),), min_score=0.5),
        Topic("hostages", "Hostages", (Term("hostage"),), min_score=0.6),
    )
}
DESK = Destination("slack", "C-DESK", "T1")
RAFAH_CH = Destination("slack", "C-RAFAH", "T1")


def story(**scores: float) -> Story:
    report = StoryReport("k", "wire", "Wire", "Headline", "https://x.example/a", NOW)
    return Story(
        id="s1",
        title="Headline",
        url="https://x.example/a",
        text="",
        summary="",
        published=NOW,
        updated=NOW,
        reports=(report,),
        scores=tuple(TopicScore(t, s) for t, s in scores.items()),
    )


def sub(user: str, topic: str, *, channel: bool = False, mode: str = "dm") -> Subscription:
    return Subscription("slack", "T1", user, topic, channel, mode)


def targets(s: Story, routes=(), subs=(), mutes=(), urgent=0.85):  # type: ignore[no-untyped-def]
    return targets_for(
        s,
        routes=list(routes),
        subscriptions=list(subs),
        mutes=list(mutes),
        topics=TOPICS,
        now=NOW,
        urgent_score=urgent,
    )


def test_route_receives_only_its_topics_above_threshold() -> None:
    routes = [Route(DESK), Route(RAFAH_CH, ("rafah",))]
    got = {t.destination: t.topics for t in targets(story(rafah=0.7, hostages=0.65), routes)}
    assert got == {DESK: ("rafah", "hostages"), RAFAH_CH: ("rafah",)}
    assert targets(story(rafah=0.4), routes) == []


def test_route_min_score_overrides_topic_threshold() -> None:
    strict = [Route(DESK, min_score=0.8)]
    assert targets(story(rafah=0.7), strict) == []
    assert [t.destination for t in targets(story(rafah=0.81), strict)] == [DESK]


def test_person_subscription_is_a_direct_message_once_whatever_the_topic_count() -> None:
    got = targets(story(rafah=0.9, hostages=0.9), subs=[sub("U1", "rafah"), sub("U1", "hostages")])
    assert len(got) == 1
    assert got[0].destination == Destination("slack", "U1", "T1", direct=True)
    assert set(got[0].topics) == {"rafah", "hostages"}


def test_mention_mode_rides_on_the_channel_alert_or_falls_back_to_dm() -> None:
    with_channel = targets(story(rafah=0.9), [Route(DESK)], [sub("U1", "rafah", mode="mention")])
    assert [(t.destination, t.mentions) for t in with_channel] == [(DESK, ("U1",))]
    alone = targets(story(rafah=0.9), [], [sub("U1", "rafah", mode="mention")])
    assert alone[0].destination.direct
    assert alone[0].mentions == ()


def test_channel_subscription_adds_that_channel() -> None:
    got = targets(story(hostages=0.7), subs=[sub("C-BEAT", "hostages", channel=True)])
    assert [t.destination for t in got] == [Destination("slack", "C-BEAT", "T1")]


def test_mutes_silence_people_and_channels_except_urgent_news() -> None:
    mutes = [
        Mute("slack", "T1", "U1", NOW + timedelta(hours=2)),
        Mute("slack", "T1", "C-DESK", NOW + timedelta(hours=2)),
    ]
    quiet = targets(story(rafah=0.7), [Route(DESK)], [sub("U1", "rafah")], mutes)
    assert quiet == []
    loud = targets(story(rafah=0.9), [Route(DESK)], [sub("U1", "rafah")], mutes)
    assert {t.destination.channel for t in loud} == {"C-DESK", "U1"}


def test_expired_mute_no_longer_silences() -> None:
    mutes = [Mute("slack", "T1", "U1", NOW - timedelta(minutes=1))]
    assert len(targets(story(rafah=0.7), subs=[sub("U1", "rafah")], mutes=mutes)) == 1


def test_route_without_workspace_still_carries_mentions_of_that_platform() -> None:
    route = Route(Destination("slack", "C-DESK"))
    got = targets(story(rafah=0.9), [route], [sub("U1", "rafah", mode="mention")])
    assert got[0].mentions == ("U1",)


def test_flood_folds_past_the_limit() -> None:
    assert not should_fold(4, 5)
    assert should_fold(5, 5)


def test_possible_destinations_cover_every_target_routes_and_subscriptions_can_name() -> None:
    from bot.core.route import possible_destinations

    desk = Destination("slack", "C0DESK", "T0")
    subs = [
        Subscription("slack", "T0", "U1", "rafah"),
        Subscription("slack", "T0", "C0WALL", "rafah", channel=True),
    ]
    assert possible_destinations([Route(desk)], subs) == {
        desk,
        Destination("slack", "U1", "T0", direct=True),
        Destination("slack", "C0WALL", "T0"),
    }
