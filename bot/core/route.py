"""Who gets what: routes, subscriptions, mutes and flood control, as pure functions.

Given a scored story and what the desk has configured (routes) and people have asked for
(subscriptions, mutes), decide the destinations that should hear about it. Nothing here knows a
chat platform; adapters only render what is decided here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from bot.core.models import Destination, Mute, Story, Subscription, Topic

ALL_TOPICS = "*"


@dataclass(frozen=True, slots=True)
class Route:
    """A standing alert from the config: these topics, at this score, to this channel."""

    destination: Destination
    topics: tuple[str, ...] = (ALL_TOPICS,)
    min_score: float | None = None
    """None: each topic's own ``min_score``."""
    style: str = "full"
    digest_cron: str = ""
    push: str = "developments"
    """"developments" or "all": see ``holds_background``."""
    threads: bool = True
    """Later reports of a development go in its alert's thread (``bot.core.thread``); False:
    they only edit the alert in place."""


PUSH_DEVELOPMENTS = "developments"
PUSH_ALL = "all"


@dataclass(frozen=True, slots=True)
class Target:
    """A destination that should receive a story, and why."""

    destination: Destination
    topics: tuple[str, ...]
    """Topics the story qualified for at this destination, best first."""
    mentions: tuple[str, ...] = ()
    """People to mention on this (channel) alert: subscribers who chose ``mode mention``."""
    reasons: tuple[str, ...] = ()
    style: str = "full"
    """"full" (with the summary) or "compact" (headline, outlets and link only)."""
    holds_background: bool = False
    """Background stories wait for this destination's scheduled digest instead of a push (a
    route with ``push = "developments"`` and a digest)."""
    threads: bool = False
    """The alert is the root of a thread of later reports: channels, unless their route says
    ``threads = false``; direct messages never are."""


def qualifying_topics(
    story: Story, topics: Mapping[str, Topic], wanted: Iterable[str], min_score: float | None
) -> tuple[str, ...]:
    """Topics of ``wanted`` the story scores high enough for, best first."""
    wanted_set = set(wanted)
    every = ALL_TOPICS in wanted_set
    hits = []
    for score in story.scores:
        topic = topics.get(score.topic)
        if topic is None or (not every and score.topic not in wanted_set):
            continue
        threshold = topic.min_score if min_score is None else min_score
        if score.score > 0 and score.score >= threshold:
            hits.append(score)
    hits.sort(key=lambda s: (-s.score, s.topic))
    return tuple(s.topic for s in hits)


def same_workspace(a: str, b: str) -> bool:
    """Workspaces match when equal, or when either is unknown (a route configured by channel id
    alone, in a single-workspace install)."""
    return a == b or not a or not b


def is_muted(
    mutes: Iterable[Mute], platform: str, workspace: str, subject: str, now: datetime
) -> bool:
    return any(
        m.platform == platform
        and same_workspace(m.workspace, workspace)
        and m.subject == subject
        and m.until > now
        for m in mutes
    )


def possible_destinations(
    routes: Sequence[Route], subscriptions: Sequence[Subscription]
) -> set[Destination]:
    """Every destination ``targets_for`` can name with these routes and subscriptions."""
    found = {route.destination for route in routes}
    for sub in subscriptions:
        if sub.channel:
            found.add(Destination(sub.platform, sub.subscriber, sub.workspace))
        else:
            found.add(Destination(sub.platform, sub.subscriber, sub.workspace, direct=True))
    return found


def targets_for(
    story: Story,
    *,
    routes: Sequence[Route],
    subscriptions: Sequence[Subscription],
    mutes: Sequence[Mute],
    topics: Mapping[str, Topic],
    now: datetime,
    urgent_score: float,
) -> list[Target]:
    """Every destination that should hear about ``story`` now.

    Order of precedence: configured routes, then channels subscribed from chat, then people.
    A person in ``mention`` mode is mentioned on a channel alert of the same workspace when there
    is one; otherwise they get a direct message, so a choice of style never costs an alert.
    Mutes silence a person or channel unless the story is urgent (best score >= ``urgent_score``).
    """
    best = story.best
    urgent = best is not None and best.score >= urgent_score
    found: dict[Destination, Target] = {}

    def add(
        dest: Destination,
        hits: tuple[str, ...],
        reason: str,
        style: str = "full",
        holds: bool = False,
        threads: bool = True,
    ) -> None:
        if not hits:
            return
        if not urgent and is_muted(mutes, dest.platform, dest.workspace, dest.channel, now):
            return
        old = found.get(dest)
        if old is None:
            found[dest] = Target(dest, hits, (), (reason,), style, holds, threads)
        else:
            merged = old.topics + tuple(t for t in hits if t not in old.topics)
            found[dest] = replace(
                old,
                topics=merged,
                reasons=(*old.reasons, reason),
                holds_background=old.holds_background and holds,
            )

    for route in routes:
        hits = qualifying_topics(story, topics, route.topics, route.min_score)
        holds = route.push == PUSH_DEVELOPMENTS and bool(route.digest_cron)
        add(route.destination, hits, "route", route.style, holds, route.threads)

    for sub in subscriptions:
        if not sub.channel:
            continue
        dest = Destination(sub.platform, sub.subscriber, sub.workspace)
        add(
            dest,
            qualifying_topics(story, topics, [sub.topic], None),
            f"channel follows {sub.topic}",
        )

    # People: one target per person, whatever number of topics they follow.
    people: dict[tuple[str, str, str], list[Subscription]] = {}
    for sub in subscriptions:
        if not sub.channel:
            people.setdefault((sub.platform, sub.workspace, sub.subscriber), []).append(sub)
    for (platform, workspace, user), subs in sorted(people.items()):
        hits = qualifying_topics(story, topics, [s.topic for s in subs], None)
        if not hits:
            continue
        if not urgent and is_muted(mutes, platform, workspace, user, now):
            continue
        wants_mention = any(s.mode == "mention" for s in subs)
        channel = _channel_in(found, platform, workspace) if wants_mention else None
        if channel is not None:
            old = found[channel]
            if user not in old.mentions:
                found[channel] = replace(old, mentions=(*old.mentions, user))
            continue
        dest = Destination(platform, user, workspace, direct=True)
        found[dest] = Target(dest, hits, (), (f"{user} follows {', '.join(hits)}",))

    return sorted(found.values(), key=lambda t: (t.destination.direct, t.destination.label))


def _channel_in(
    found: Mapping[Destination, Target], platform: str, workspace: str
) -> Destination | None:
    for dest in sorted(found, key=lambda d: d.label):
        if (
            not dest.direct
            and dest.platform == platform
            and same_workspace(dest.workspace, workspace)
        ):
            return dest
    return None


def should_fold(recent_alerts: int, max_alerts: int) -> bool:
    """Flood control: past ``max_alerts`` recent alerts to one destination, fold into a digest."""
    return recent_alerts >= max_alerts
