"""The desk: reports in, stories and deliveries out.

A batch of reports goes through deduplication, scoring and summarising (``Desk.sort``), then
routing, deliveries and flood control (``Desk.decide``); both are pure and await nothing. What
``decide`` needs from the store (subscriptions, mutes, the touched stories' deliveries, recent
deliveries for flood control) is named by ``Desk.needs`` and read by the caller in one batch
into a ``DeskContext`` (``bot.poller.take``). The outcome is what changed: the stories to save and
the deliveries to record as pending, saved by the caller in one transaction
(``Store.commit_poll``) before anything is sent, so a crash never loses or repeats an alert.
Time decisions use the reports' own clock (``now_of``), so a replay of old feeds behaves as it
did live.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bot.core.corroborate import corroborate
from bot.core.dedup import DedupSettings, StoryIndex
from bot.core.models import (
    Alert,
    AlertReport,
    DedupDecision,
    Delivery,
    DeliveryStatus,
    Destination,
    Mute,
    Report,
    Story,
    Subscription,
    ThreadState,
    Topic,
    TopicScore,
    Verdict,
)
from bot.core.ports import StoryFilter
from bot.core.route import Route, Target, should_fold, targets_for
from bot.core.score import TopicMatcher, why_hint
from bot.core.summarize import summarize
from bot.core.text import fold
from bot.core.thread import escalations_of
from bot.core.thread import plan as thread_plan
from bot.core.tier import Tier, story_tier

log = logging.getLogger(__name__)

EXPIRE_EVERY = timedelta(minutes=10)
"""How far the clock moves before stories that left the dedup window are dropped: expiry walks
the whole index, so it runs now and then, not for every report."""

FOLD = "fold"
"""``Delivery.digest_id`` of an alert flood control set aside for the destination's next digest."""

BRIEFING = "briefing"
"""``Delivery.digest_id`` of a background story held for the destination's scheduled digest."""

TOPIC_SUPPORT = 1 / 3
"""Share of a story's distinct headlines that must reach a topic for the story to carry it (the
story's own headline always counts for itself)."""

TOPIC_HEADLINES = 24
"""How many of a story's latest reports are read for topic support: bounds the cost of a big
story's rescoring."""


@dataclass(frozen=True, slots=True)
class DeskSettings:
    max_item_age: timedelta = timedelta(hours=24)
    """Stories first reported longer ago than this never alert (restarts, new sources)."""
    urgent_score: float = 0.85
    summary_chars: int = 280
    summary_sentences: int = 2
    flood_max: int = 5
    flood_per: timedelta = timedelta(minutes=10)
    dedup: DedupSettings = field(default_factory=DedupSettings)


@dataclass(frozen=True, slots=True)
class Decision:
    """What happened to one report, for logs and JSON Lines output."""

    report: Report
    dedup: DedupDecision
    story_id: str
    alerted: tuple[str, ...] = ()
    """Destination labels newly alerted (or folded)."""
    updated: tuple[str, ...] = ()


@dataclass(slots=True)
class Outcome:
    """What a batch changed: save all of it in one transaction."""

    stories: dict[str, Story] = field(default_factory=dict)
    deliveries: dict[tuple[str, Destination], Delivery] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Sorted:
    """One report after the dedup step (``Desk.sort``): what it is, and the story it made."""

    report: Report
    dedup: DedupDecision
    story: Story
    """The story as the report left it (rescored), or the held one for a repeat."""
    now: datetime
    fresh: bool
    """May alert: the story is young enough and the report is not a quiet one."""
    follows: Story | None = None
    """The earlier development the story follows, as held when the report came."""

    @property
    def repeat(self) -> bool:
        return self.dedup.verdict is Verdict.REPEAT


@dataclass(frozen=True, slots=True)
class DeskContext:
    """What a decision needs from the store, read in one batch by the caller (``needs`` says
    what): the decision itself reads nothing."""

    subscriptions: tuple[Subscription, ...] = ()
    """Subscriptions to the desk's topics."""
    mutes: tuple[Mute, ...] = ()
    """Mutes active at the batch's first ``now`` (each report filters those ended by its own)."""
    deliveries: Mapping[tuple[str, Destination], Delivery] = field(default_factory=dict)
    """Stored deliveries of the stories the batch touched."""
    recent: Mapping[Destination, tuple[datetime, ...]] = field(default_factory=dict)
    """Creation times of stored deliveries since ``Needs.recent_since``, for the destinations
    flood control has not read yet (``Desk.unremembered``)."""


@dataclass(frozen=True, slots=True)
class Needs:
    """What to read for a ``DeskContext``."""

    story_ids: tuple[str, ...]
    since: datetime | None
    """The batch's first ``now`` (mutes active then); None when nothing can alert or update."""
    recent_since: datetime | None
    """Deliveries created since then count for flood control."""


class Desk:
    """Holds the window of recent stories in memory and decides what each new report causes.

    A decision is three steps, only the middle one reading the store (``bot.poller`` does it):
    ``sort`` (dedup and rescore, pure), the caller's one batched read of what ``needs`` names
    into a ``DeskContext``, and ``decide`` (routing, deliveries, flood control; pure)."""

    def __init__(
        self,
        topics: Sequence[Topic],
        routes: Sequence[Route],
        settings: DeskSettings | None = None,
        source_weights: Mapping[str, float] | None = None,
        *,
        index: StoryIndex | None = None,
    ) -> None:
        """``index``: the dedup window to decide with (default: an empty one, with the
        settings' dedup tuning; ``load`` fills it)."""
        self.topics = tuple(topics)
        self.topics_by_id: Mapping[str, Topic] = {t.id: t for t in self.topics}
        self.routes = tuple(routes)
        self.settings = settings or DeskSettings()
        self.source_weights = dict(source_weights or {})
        self.index = index if index is not None else StoryIndex(self.settings.dedup)
        self.matcher = TopicMatcher(self.topics)
        self._expired_at: datetime | None = None
        self._recent: dict[Destination, list[datetime]] = {}
        """Creation times of recent deliveries per destination (flood control), newest last."""

    def window(self, now: datetime) -> StoryFilter:
        """The stories ``load`` wants at ``now``: the dedup window, and the headlines of the
        last ``vocabulary_days`` for the dedup vocabulary."""
        dedup = self.settings.dedup
        return StoryFilter(
            since=min(now - dedup.window, now - timedelta(days=dedup.vocabulary_days))
        )

    def load(self, stories: Sequence[Story], now: datetime) -> int:
        """Hold the ``stories`` (read by ``window``) still inside the dedup window and learn the
        vocabulary of the older ones; returns how many stories are held."""
        window_start = now - self.settings.dedup.window
        held = [s for s in stories if s.updated >= window_start]
        self.index.learn(s for s in stories if s.updated < window_start)
        self.index.load(reversed(held))
        return len(held)

    def sort(
        self,
        reports: Sequence[Report],
        *,
        now_of: Callable[[Report], datetime],
        quiet: Callable[[Report], bool] = lambda _r: False,
    ) -> list[Sorted]:
        """Dedup and rescore ``reports`` in order, each at ``now_of(report)``. ``quiet``
        reports may join stories but never alert."""
        out: list[Sorted] = []
        for report in reports:
            now = now_of(report)
            if self._expired_at is None or now - self._expired_at >= EXPIRE_EVERY:
                self.index.expire(now)
                self._expired_at = now
            decision, story = self.index.add(report, in_story=self.matcher.mentions(report.title))
            if decision.verdict is Verdict.REPEAT:
                out.append(Sorted(report, decision, story, now, fresh=False))
                continue
            joined = decision.verdict is not Verdict.NEW
            story = self.rescore(story, report.title if joined else None)
            self.index.put(story)
            fresh = now - story.published <= self.settings.max_item_age and not quiet(report)
            follows = self.index.get(story.follows) if story.follows else None
            out.append(Sorted(report, decision, story, now, fresh, follows))
        return out

    def unremembered(self, destinations: Iterable[Destination]) -> set[Destination]:
        """Of ``destinations``, those whose recent deliveries flood control has not read yet:
        ``DeskContext.recent`` must carry them (read once; the desk keeps count after)."""
        return {d for d in destinations if d not in self._recent}

    def needs(self, batch: Sequence[Sorted]) -> Needs:
        """What ``decide`` will look at for ``batch``."""
        live = [s for s in batch if not s.repeat]
        if not live:
            return Needs((), None, None)
        first = live[0].now
        # New stories too: an expired story's id comes back when its first report is re-sent.
        return Needs(
            tuple(dict.fromkeys(s.story.id for s in live)),
            first,
            min(s.now for s in live) - self.settings.flood_per,
        )

    def decide(self, batch: Sequence[Sorted], context: DeskContext) -> Outcome:
        """Who hears about each sorted report, and what is recorded for them to be sent."""
        outcome = Outcome()
        for item in batch:
            if item.repeat:
                outcome.decisions.append(Decision(item.report, item.dedup, item.story.id))
                continue
            story, now = item.story, item.now
            outcome.stories[story.id] = story
            targets = targets_for(
                story,
                routes=self.routes,
                subscriptions=context.subscriptions,
                mutes=[m for m in context.mutes if m.until > now],
                topics=self.topics_by_id,
                now=now,
                urgent_score=self.settings.urgent_score,
            )
            alerted, updated = self._deliver(item, targets, context, outcome)
            outcome.decisions.append(Decision(item.report, item.dedup, story.id, alerted, updated))
        return outcome

    def rescore(self, story: Story, headline: str | None = None) -> Story:
        """Score a story against every topic and write its summary.

        ``headline``: a report that just joined, under a headline other than the story's. A
        development is about a topic when its outlets' headlines say so: one writes "pause" where
        another writes only "Biden calls the response over the top", so each topic takes the best
        score among the story's headlines, provided at least ``TOPIC_SUPPORT`` of them reach
        the topic's bar. One live page among twenty reports of the truce's collapse that also
        names the hostages does not make the collapse a hostages story.

        Only a story that scores on some topic can reach a reader, so only such a story gets a
        summary: most of a general news stream scores nothing, and is rescored (and summarised)
        again if a later report makes it relevant.
        """
        weight = max((self.source_weights.get(r.source, 1.0) for r in story.reports), default=1.0)
        outlets = len(story.outlets)
        scores = self.matcher.score(story.title, story.text, outlets=outlets, source_weight=weight)
        if headline is not None or len(story.reports) > 1:
            scores = self._supported(story, scores, outlets, weight)
        terms: list[str] = []
        for score in scores:
            if score.score > 0:
                terms.extend(m.matched for m in score.matches)
        if not terms:
            return replace(story, scores=scores, summary="")
        summary = summarize(
            story.title,
            story.text,
            terms,
            max_sentences=self.settings.summary_sentences,
            max_chars=self.settings.summary_chars,
        )
        return replace(story, scores=scores, summary=summary)

    def alert_for(
        self,
        story: Story,
        topics: Sequence[str],
        mentions: Sequence[str] = (),
        *,
        compact: bool = False,
        follows: Story | None = None,
    ) -> Alert:
        """The alert for ``story`` to readers of ``topics``; ``follows``: the development it
        follows (default: as the desk holds it now)."""
        best = max((story.score_for(t) for t in topics), default=0.0)
        tier, _ = story_tier(story)
        if follows is None and story.follows:
            follows = self.index.get(story.follows)
        matched: list[str] = []
        for score in story.scores:
            if score.topic in topics:
                for m in score.matches:
                    if m.term not in matched:
                        matched.append(m.term)
        hint = why_hint([s for s in story.scores if s.topic in topics], self.topics)
        outlets = len(story.outlets)
        if outlets > 1 and "outlet" not in hint:
            hint = f"{hint} · {outlets} outlets" if hint else f"{outlets} outlets"
        corroboration = corroborate(story.reports)
        return Alert(
            story_id=story.id,
            title=story.title,
            url=story.url,
            summary="" if compact else story.summary,
            outlets=story.outlets,
            published=story.published,
            topics=tuple(topics),
            score=round(best, 3),
            matched_terms=tuple(matched),
            why_hint=hint,
            mentions=tuple(mentions),
            tier=tier.value,
            follows_title=follows.title if follows else "",
            follows_url=follows.url if follows else "",
            reports=tuple(
                AlertReport(r.key, r.outlet, r.title, r.url, r.published, corroboration.copy_of(r))
                for r in story.reports
            ),
            independent=len(corroboration.independent),
            urgent=best >= self.settings.urgent_score,
        )

    def _supported(
        self, story: Story, scores: tuple[TopicScore, ...], outlets: int, weight: float
    ) -> tuple[TopicScore, ...]:
        """Per topic, the best score among the story's distinct headlines when enough of them
        reach the topic's bar on their own words (``TOPIC_SUPPORT``; one outlet each, so the
        story's coverage lifts no single headline over it), else the story headline's own."""
        headlines: dict[str, str] = {fold(story.title): story.title}
        for report in story.reports[-TOPIC_HEADLINES:]:
            headlines.setdefault(fold(report.title), report.title)
        if len(headlines) < 2:
            return scores
        texts = list(headlines.values())
        named = [self.matcher.mentions(h) for h in texts]
        if not any(named):
            return scores  # general news: no headline of it names a watched term
        # A headline naming no watched term scores on the lead alone, the same for all of them.
        lead_only: tuple[TopicScore, ...] | None = None
        alone: list[tuple[TopicScore, ...]] = []
        for headline, names in zip(texts, named, strict=True):
            if names:
                alone.append(self.matcher.score(headline, story.text, source_weight=weight))
                continue
            if lead_only is None:
                lead_only = self.matcher.score("", story.text, source_weight=weight)
            alone.append(lead_only)
        full: dict[int, tuple[TopicScore, ...]] = {0: scores}
        out: list[TopicScore] = []
        for i, own in enumerate(scores):
            topic = self.topics_by_id.get(own.topic)
            bar = topic.min_score if topic is not None else 0.5
            reaching = sum(1 for each in alone if each[i].score > 0 and each[i].score >= bar)
            if not reaching or reaching < TOPIC_SUPPORT * len(texts):
                out.append(own)
                continue
            best = max(range(len(texts)), key=lambda k: alone[k][i].score)
            if best not in full:
                full[best] = self.matcher.score(
                    texts[best], story.text, outlets=outlets, source_weight=weight
                )
            out.append(max(own, full[best][i], key=lambda c: c.score))
        return tuple(out)

    def _deliver(
        self,
        item: Sorted,
        targets: Sequence[Target],
        context: DeskContext,
        out: Outcome,
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        story, now = item.story, item.now
        alerted: list[str] = []
        updated: list[str] = []
        for target in targets:
            key = (story.id, target.destination)
            existing = out.deliveries.get(key) or context.deliveries.get(key)
            alert = self.alert_for(
                story,
                target.topics,
                target.mentions,
                compact=target.style == "compact",
                follows=item.follows,
            )
            if existing is not None:
                changed = self._refresh(existing, alert, now)
                if changed is not None:
                    out.deliveries[key] = changed
                    if changed.status == DeliveryStatus.SENT:
                        updated.append(target.destination.label)
                continue
            if not item.fresh:
                continue
            if alert.tier == Tier.BACKGROUND and target.holds_background:
                digest_id: str | None = BRIEFING
            else:
                recent = self._recent_times(target.destination, now, context)
                digest_id = FOLD if should_fold(len(recent), self.settings.flood_max) else None
                recent.append(now)
            out.deliveries[key] = Delivery(
                story_id=story.id,
                destination=target.destination,
                status=DeliveryStatus.PENDING,
                alert=alert,
                digest_id=digest_id,
                created=now,
                updated=now,
                outlets=len(story.outlets),
                title=story.title,
                thread=ThreadState() if target.threads else None,
            )
            alerted.append(target.destination.label)
        return tuple(alerted), tuple(updated)

    def _refresh(self, existing: Delivery, alert: Alert, now: datetime) -> Delivery | None:
        """A delivery brought up to date with its story, or None when readers would see no change.

        Sent alerts are edited in place (``needs_update``) when the outlets or the headline
        changed, and, for an alert with a thread, when a report the thread has not shown joined
        (even from an outlet already counted), a report was re-headlined or the story escalated
        (``bot.core.thread.plan``); folded ones stay in their digest.
        """
        if existing.status in {DeliveryStatus.FAILED, DeliveryStatus.FOLDED}:
            return None
        if (
            existing.status == DeliveryStatus.PENDING
            and existing.digest_id == BRIEFING
            and alert.tier == Tier.DEVELOPMENT
        ):
            # A development joined a background story held for the digest: push it now.
            return replace(
                existing,
                alert=alert,
                digest_id=None,
                next_attempt=None,
                outlets=len(alert.outlets),
                title=alert.title,
                updated=now,
            )
        same = len(alert.outlets) == existing.outlets and alert.title == existing.title
        if same and not self._thread_news(existing, alert):
            return None
        return replace(
            existing,
            alert=replace(alert, mentions=existing.alert.mentions if existing.alert else ()),
            outlets=len(alert.outlets),
            title=alert.title,
            updated=now,
            needs_update=existing.status == DeliveryStatus.SENT and existing.digest_id is None,
        )

    @staticmethod
    def _thread_news(existing: Delivery, alert: Alert) -> bool:
        """Whether ``alert`` gives the delivery's thread something to say: against what the
        thread shows once the alert is sent, against the pending alert's reports before."""
        if existing.thread is None or existing.digest_id is not None:
            return False
        if existing.status == DeliveryStatus.SENT:
            return bool(thread_plan(existing.thread, alert))
        before = existing.alert
        return before is None or (before.reports, escalations_of(before)) != (
            alert.reports,
            escalations_of(alert),
        )

    def _recent_times(
        self, destination: Destination, now: datetime, context: DeskContext
    ) -> list[datetime]:
        """Creation times of the destination's deliveries within ``flood_per`` of ``now``: read
        from the context the first time the desk meets the destination, then kept here."""
        since = now - self.settings.flood_per
        times = self._recent.get(destination)
        if times is None:
            times = sorted(context.recent.get(destination, ()))
            self._recent[destination] = times
        while times and times[0] < since:
            times.pop(0)
        return times
