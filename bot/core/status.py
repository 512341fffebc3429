"""Where the talks stand: the values behind ``/talks status`` and the scheduled briefing.

``load_status`` reads the store once into a ``StatusView`` of typed values (the top stories
themselves, per-topic counts, source health, delivery problems); ``status_reply`` writes the
reply from it (wording from ``bot.core.messages``). The briefing takes ``view.top`` as stories,
so renaming a section of the reply can never break it, and no caller parses a reply back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from bot.core import messages as say
from bot.core.models import SourceHealth, Story, Topic
from bot.core.ports import Store, StoryFilter
from bot.core.quiet import Condition, SourceState, condition, usual_gap
from bot.core.replies import Caller, Item, Reply, Section

__all__ = ["StatusView", "TopicTrend", "load_status", "status_reply"]

LATEST_POOL = 50
"""With nothing relevant in the period, the latest development is looked for among this many
most recent stories."""


@dataclass(frozen=True, slots=True)
class TopicTrend:
    topic: Topic
    count: int
    """Stories alerting on the topic in the period."""
    previous: int
    """The same in the period before it."""


@dataclass(frozen=True, slots=True)
class StatusView:
    """The desk's view of the talks over ``period`` ending at ``now``."""

    now: datetime
    period: timedelta
    top: tuple[Story, ...]
    """The most relevant stories of the period, best first."""
    alerting: dict[str, tuple[str, ...]]
    """Story id -> the topics it reaches the bar of (for the stories shown)."""
    topics: tuple[TopicTrend, ...]
    latest: Story | None
    """The most recently updated relevant story (of the period, else of the recent ones)."""
    sources: int
    """Sources configured (or, with none given, known to the store)."""
    failing: tuple[SourceHealth, ...]
    never_polled: tuple[str, ...]
    undelivered: int
    """Alerts that could not be delivered in the period."""
    delivery_problems: tuple[tuple[str, str], ...]
    """(destination, its first error), one per destination."""
    subscriptions: tuple[str, ...] | None
    """The caller's topics; None when there is no chat caller (the console, a briefing)."""
    quiet: tuple[tuple[SourceHealth, SourceState], ...] = ()
    """Sources that answer but are quiet or stale (``bot.core.quiet``), by name."""
    tz: tzinfo = UTC
    """The zone times are shown in (``[bot] timezone``)."""

    @property
    def healthy(self) -> int:
        return self.sources - len(self.failing) - len(self.never_polled) - len(self.quiet)


async def load_status(
    store: Store,
    topics: Sequence[Topic],
    now: datetime,
    period: timedelta,
    *,
    caller: Caller | None = None,
    top: int = 5,
    sources: Sequence[str] = (),
    tz: tzinfo = UTC,
) -> StatusView:
    """Read what the status needs from the store."""
    current = await store.stories(StoryFilter(since=now - period, until=now + timedelta(seconds=1)))
    previous = await store.stories(StoryFilter(since=now - 2 * period, until=now - period))
    by_id = {t.id: t for t in topics}

    def alerting(story: Story) -> tuple[str, ...]:
        return tuple(
            s.topic
            for s in story.scores
            if s.topic in by_id and s.score > 0 and s.score >= by_id[s.topic].min_score
        )

    relevant = [s for s in current if alerting(s)]
    relevant.sort(key=lambda s: (-(s.best.score if s.best else 0), -len(s.outlets), s.id))
    shown = tuple(relevant[:top])
    trends = tuple(
        TopicTrend(
            topic,
            sum(1 for s in current if topic.id in alerting(s)),
            sum(1 for s in previous if topic.id in alerting(s)),
        )
        for topic in topics
    )
    pool = relevant
    if not pool:
        recent = await store.stories(StoryFilter(limit=LATEST_POOL))
        pool = [s for s in recent if alerting(s)]
    latest = max(pool, key=lambda s: s.updated) if pool else None
    health = await store.list_sources()
    configured = set(sources) if sources else {h.name for h in health}
    known = {h.name for h in health}
    failing = tuple(
        sorted((h for h in health if h.name in configured and not h.healthy), key=lambda h: h.name)
    )
    quiet = tuple(
        (h, state)
        for h in sorted(health, key=lambda h: h.name)
        if h.name in configured and h.healthy
        for state in (condition(h, now),)
        if state.condition is not Condition.OK
    )
    failed = await store.failed_deliveries(now - period)
    problems: dict[str, str] = {}
    for delivery in failed:
        problems.setdefault(delivery.destination.label, delivery.error or "failed")
    subscriptions = None
    if caller is not None and caller.platform != "console":
        subs = await store.subscriptions_of(caller.platform, caller.workspace, caller.user, False)
        subscriptions = tuple(s.topic for s in subs)
    return StatusView(
        now=now,
        period=period,
        top=shown,
        alerting={s.id: alerting(s) for s in shown},
        topics=trends,
        latest=latest,
        sources=len(configured),
        failing=failing,
        never_polled=tuple(sorted(configured - known)),
        undelivered=len(failed),
        delivery_problems=tuple(sorted(problems.items())),
        subscriptions=subscriptions,
        quiet=quiet,
        tz=tz,
    )


def status_reply(view: StatusView) -> Reply:
    """The status as a reply: plain text first, with the same content in sections."""
    now, period = view.now, view.period
    lines = [say.status_heading(period)]
    sections: list[Section] = []

    stories = tuple(
        Item(
            say.status_story(
                story.title,
                len(story.outlets),
                say.format_age(now - story.published),
                story.best.score if story.best else 0.0,
                story.id,
            ),
            url=story.url,
        )
        for story in view.top
    )
    lines.append(say.status_top_heading(bool(stories)))
    lines.extend(f"• {i.text}" for i in stories)
    sections.append(Section("Top developments", stories, "stories"))

    topics = tuple(
        Item(say.status_topic(t.topic.name, t.count, t.previous, period)) for t in view.topics
    )
    lines.append("Topics:")
    lines.extend(f"• {i.text}" for i in topics)
    sections.append(Section("Topics", topics, "topics"))

    if view.latest is not None:
        latest = view.latest
        when = say.format_age(now - latest.updated)
        lines.append(say.status_latest(when, latest.title))
        sections.append(Section("Latest", (Item(latest.title, url=latest.url),), "text"))
    else:
        lines.append(say.status_latest(None, ""))

    stale = sum(1 for _h, state in view.quiet if state.condition is Condition.STALE)
    source_line = say.status_source_counts(
        view.healthy, view.sources, len(view.never_polled), len(view.quiet) - stale, stale
    )
    lines.append(source_line)
    source_items = [Item(source_line)]
    for h in view.failing:
        since = h.failing_since or h.last_error_at
        due = h.next_poll_after
        line = say.status_failing_source(
            h.name,
            say.format_age(now - since) if since else "?",
            h.consecutive_failures,
            h.last_error or "unknown error",
            retry=None if due is None else say.clock_time(due, now) if due > now else "",
        )
        lines.append(f"  ⚠ {line}")
        source_items.append(Item(line))
    for h, state in view.quiet:
        when = say.clock_time(state.since, now, view.tz) if state.since else "?"
        if state.condition is Condition.STALE:
            line = say.status_stale_source(h.name, when)
        else:
            silent = now - state.since if state.since else timedelta(0)
            line = say.status_quiet_source(h.name, when, silent, usual_gap(h) or silent)
        lines.append(f"  ⚠ {line}")
        source_items.append(Item(line))
    sections.append(Section("Sources", tuple(source_items), "sources"))

    if view.undelivered:
        lines.append(say.status_undelivered(view.undelivered))
        problems = []
        for destination, error in view.delivery_problems:
            lines.append(f"  ⚠ {destination}: {error}")
            problems.append(Item(f"{destination}: {error}"))
        sections.append(Section("Delivery problems", tuple(problems), "list"))

    if view.subscriptions is not None:
        lines.append(say.status_following(view.subscriptions))
        sections.append(
            Section(
                "Your subscriptions", tuple(Item(t) for t in view.subscriptions), "subscriptions"
            )
        )
    return Reply("\n".join(lines), title="Talks status", sections=tuple(sections))
