"""Where the talks stand: the values behind ``/talks status`` and the scheduled briefing.

``load_status`` reads the store once into a ``StatusView`` of typed values (the talks card,
the top stories themselves, per-topic counts, source health, delivery problems);
``status_reply`` writes the reply from it (wording from ``bot.core.messages``), the talks card
as its own block at the top. ``load_since``/``since_reply`` list what changed since a time, and
``why_phase_reply`` explains the card's phase. The briefing takes ``view.top`` as stories,
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
from bot.core.talks import Development, Heard, PhaseKind, Step, TalksCard, classify, talks_card

__all__ = [
    "SinceView",
    "StatusView",
    "TopicTrend",
    "load_since",
    "load_status",
    "load_talks",
    "since_reply",
    "status_reply",
    "talks_lines",
    "why_phase_reply",
]

TALKS_WINDOW = timedelta(days=10)
"""The talks card reads the developments of this many last days (a week's truce and the talks
that led to it)."""
TALKS_POOL = 3000
"""At most this many stories are read for the card (the newest)."""
SINCE_SHOWN = 25
"""Lines ``since`` lists before it counts the rest."""

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
    talks: TalksCard | None = None
    """Where the negotiation stands (the block the reply opens with)."""
    tz: tzinfo = UTC
    """The desk's timezone, for the times the reply shows."""
    quiet: tuple[tuple[SourceHealth, SourceState], ...] = ()
    """Sources that answer but are quiet or stale (``bot.core.quiet``), by name."""

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
        talks=await load_talks(store, topics, now),
        quiet=quiet,
        tz=tz,
    )


def _on_story(story: Story, by_id: dict[str, Topic]) -> bool:
    """The story reaches a watched topic's bar: the desk's own test of what is on the story."""
    return any(
        s.topic in by_id and s.score > 0 and s.score >= by_id[s.topic].min_score
        for s in story.scores
    )


def _development(story: Story) -> Development:
    return Development(
        story.id,
        story.title,
        story.published,
        story.outlets,
        story.url,
        tuple(Heard(r.outlet, r.title, r.published) for r in story.reports),
    )


async def load_talks(store: Store, topics: Sequence[Topic], now: datetime) -> TalksCard:
    """The talks card as of ``now``, from the developments of the last ``TALKS_WINDOW``."""
    stories = await store.stories(
        StoryFilter(since=now - TALKS_WINDOW, until=now + timedelta(seconds=1), limit=TALKS_POOL)
    )
    by_id = {t.id: t for t in topics}
    return talks_card((_development(s) for s in stories if _on_story(s, by_id)), now)


def status_reply(view: StatusView) -> Reply:
    """The status as a reply: plain text first, with the same content in sections."""
    now, period = view.now, view.period
    lines = [say.status_heading(period)]
    sections: list[Section] = []
    if view.talks is not None:
        card = talks_lines(view.talks, view.tz)
        lines.extend(card)
        lines.append("")
        sections.append(Section(say.talks_heading(), tuple(Item(x) for x in card[1:]), "list"))

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


# --- the talks card ------------------------------------------------------------------------------


def _when(moment: datetime, now: datetime, tz: tzinfo) -> str:
    return say.clock_time(moment, now, tz)


def _day(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%d %b")


def phase_text(card: TalksCard, tz: tzinfo = UTC) -> str:
    """The phase in words (the first line of the card)."""
    phase = card.phase
    day = 0
    end = ""
    if phase.kind is PhaseKind.TRUCE and phase.truce_started is not None:
        day = (card.now - phase.truce_started).days + 1
        if phase.truce_days:
            end = _day(phase.truce_started + timedelta(days=phase.truce_days), tz)
    return say.talks_phase(
        phase.kind.value,
        party=phase.party,
        proposal=phase.proposal,
        venue=phase.venue or card.venue,
        truce_day=day,
        truce_end=end,
        extensions=phase.extensions,
    )


def talks_lines(card: TalksCard, tz: tzinfo = UTC) -> list[str]:
    """The card as lines: heading, phase, venue and mediators, last step, open question."""
    lines = [say.talks_heading()]
    phase = card.phase
    if phase.kind is PhaseKind.NONE:
        lines.append(say.talks_quiet(TALKS_WINDOW.days))
        return lines
    since = _when(phase.since, card.now, tz) if phase.since else ""
    lines.append(say.talks_phase_line(phase_text(card, tz), since))
    lines.append(say.talks_venue_line(phase.venue or card.venue, card.mediators))
    if card.last_step is not None:
        lines.append(_step_line(card.last_step, card.now, tz))
    venue = phase.venue or card.venue
    lines.append(
        say.talks_open_line(
            say.talks_open_question(phase.kind.value, party=phase.party, venue=venue)
        )
    )
    lines.append(say.talks_why_hint())
    return lines


def _step_line(step: Step, now: datetime, tz: tzinfo) -> str:
    d = step.development
    return say.talks_last_step_line(
        d.title, d.outlets, _when(d.published, now, tz), step.event.value
    )


def why_phase_reply(card: TalksCard, tz: tzinfo = UTC) -> Reply:
    """``why phase``: the rules of the phase machine that fired and the developments behind
    them, then what was not counted and why."""
    now = card.now
    title = say.why_phase_heading(phase_text(card, tz))
    lines = [title]
    fired = []
    for t in card.transitions:
        d = t.step.development
        evidence = say.why_phase_evidence(len(d.outlets), t.step.confirmed_by)
        fired.append(
            Item(
                say.why_phase_transition(
                    t.rule, _when(d.published, now, tz), d.title, t.step.finding.rule, evidence
                ),
                url=d.url,
                fields={"id": d.id, "event": t.step.event.value},
            )
        )
    lines.append(say.why_phase_rules_heading(len(fired)))
    lines.extend(f"  {i.text}" for i in fired)
    sections = [Section("Rules that fired", tuple(fired), "list")]
    for heading, steps, name in (
        (say.why_phase_outweighed_heading, card.outweighed, "Overruled"),
        (say.why_phase_unconfirmed_heading, card.unconfirmed, "Not counted"),
    ):
        if not steps:
            continue
        items = tuple(
            Item(
                say.why_phase_step(
                    _when(s.when, now, tz), s.development.title, s.event.value, s.finding.rule
                ),
                url=s.development.url,
            )
            for s in steps[-10:]
        )
        lines.append(heading(len(steps)))
        lines.extend(f"  {i.text}" for i in items)
        sections.append(Section(name, items, "list"))
    return Reply("\n".join(lines), title=title, sections=tuple(sections))


# --- since ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SinceView:
    """What changed on the watched topics between ``since`` and ``now``, newest first."""

    now: datetime
    since: datetime
    stories: tuple[Story, ...]
    tz: tzinfo = UTC


async def load_since(
    store: Store, topics: Sequence[Topic], since: datetime, now: datetime, *, tz: tzinfo = UTC
) -> SinceView:
    stories = await store.stories(StoryFilter(since=since, until=now + timedelta(seconds=1)))
    by_id = {t.id: t for t in topics}
    shown = sorted(
        (s for s in stories if _on_story(s, by_id)), key=lambda s: (s.updated, s.id), reverse=True
    )
    return SinceView(now, since, tuple(shown), tz)


def _what_changed(story: Story, since: datetime) -> str:
    """The story's headline, or, for a story older than the span, its newest report's: what is
    new is that report (a delegation that arrived yesterday and left this morning)."""
    if story.published >= since or not story.reports:
        return story.title
    return max(story.reports, key=lambda r: r.published).title


def since_reply(view: SinceView) -> Reply:
    """One line per development: time, headline, outlets, and its negotiation event if any."""
    label = _when(view.since, view.now, view.tz)
    lines = [say.since_heading(label, len(view.stories))]
    items = []
    for story in view.stories[:SINCE_SHOWN]:
        headline = _what_changed(story, view.since)
        event = classify(headline).event
        items.append(
            Item(
                say.since_line(
                    _when(story.updated, view.now, view.tz),
                    headline,
                    story.outlets,
                    event.value if event else "",
                ),
                url=story.url,
                fields={"id": story.id, "event": event.value if event else ""},
            )
        )
    lines.extend(f"• {i.text}" for i in items)
    if len(view.stories) > SINCE_SHOWN:
        lines.append(say.since_more(len(view.stories) - SINCE_SHOWN))
    return Reply(
        "\n".join(lines), title=lines[0], sections=(Section("Since", tuple(items), "stories"),)
    )
