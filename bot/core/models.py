"""The newsroom's nouns, as plain immutable values.

Data flows one way through the bot: a feed yields ``RawItem``s, normalisation turns each into a
``Report`` (one outlet's account), deduplication groups reports of the same development into a
``Story``, scoring attaches ``TopicScore``s, and routing turns a story into ``Alert``s for
``Destination``s. Every stage is a function of these values; nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class RawItem:
    """One entry exactly as a feed wrote it: nothing cleaned, nothing guessed."""

    guid: str | None
    title: str | None
    link: str | None
    summary: str | None
    """Description, summary or content: may hold HTML and entities."""
    published: datetime | None
    """Timezone-aware when the feed's date could be read, else None."""
    outlet: str | None = None
    """The real outlet named by an aggregator (Google News ``<source>``), if any."""
    author: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed document read into items."""

    format: str
    """"rss", "rdf", "atom" or "json"."""
    title: str | None
    link: str | None
    items: tuple[RawItem, ...]
    warnings: tuple[str, ...] = ()
    """Problems that did not stop the parse (recovered XML, dropped items...)."""


@dataclass(frozen=True, slots=True)
class Report:
    """One outlet's account of something, cleaned: the unit deduplication works on."""

    key: str
    """Stable item key, unique within its source (guid, else canonical link, else a hash)."""
    source: str
    """Configured source name the report came through."""
    outlet: str
    """The outlet as readers know it; for aggregators the real publisher."""
    title: str
    url: str
    """Canonical URL (tracking parameters dropped); empty when the feed gave none."""
    text: str
    """Plain-text lead: HTML stripped, boilerplate removed."""
    published: datetime
    """UTC. The first-seen time when the feed gave no usable date (see ``dated``)."""
    first_seen: datetime
    dated: bool = True
    source_weight: float = 1.0


class Verdict(StrEnum):
    """What deduplication decided about an incoming report."""

    NEW = "new"
    """A development nobody has reported yet: a new story."""
    ATTACHED = "attached"
    """Another report of a known development: joins that story."""
    UPDATED = "updated"
    """A report we already hold, changed (e.g. re-headlined under the same guid)."""
    REPEAT = "repeat"
    """A report we already hold, unchanged: nothing to do."""


@dataclass(frozen=True, slots=True)
class StoryReport:
    """A report as a member of a story, with why it joined."""

    key: str
    source: str
    outlet: str
    title: str
    url: str
    published: datetime
    matched_key: str | None = None
    """The report it was matched against (None for the story's first report)."""
    similarity: float = 100.0
    """0..100 similarity to ``matched_key``."""
    reason: str = ""
    """How it matched, e.g. "same canonical url" or "headline+lead 91"."""
    credit: str = ""
    """The wire agency the report credits ("AP", "Reuters"; "" for none), read from its headline
    and lead when it arrived (``bot.core.corroborate.wire_credit``): the lead is not kept per
    report, so this is how corroboration still knows a copy later."""


@dataclass(frozen=True, slots=True)
class TermMatch:
    """One watched term found in a story, and what it contributed to the score."""

    term: str
    """The term as configured (its canonical spelling)."""
    matched: str
    """The text that matched (a variant, an alias, or a near-spelling)."""
    where: str
    """"title" or "body"."""
    weight: float
    similarity: float = 100.0
    contribution: float = 0.0


@dataclass(frozen=True, slots=True)
class TopicScore:
    """How strongly a story belongs to a topic, with the evidence."""

    topic: str
    score: float
    """0..1."""
    matches: tuple[TermMatch, ...] = ()
    outlets: int = 1
    source_weight: float = 1.0
    blocked: str | None = None
    """Why the score was forced to 0 (a negative term, a missing required group)."""
    notes: tuple[str, ...] = ()
    """Human-readable steps of the computation, for ``why``."""


@dataclass(frozen=True, slots=True)
class Story:
    """A development: every report of the same news, grouped."""

    id: str
    title: str
    """Best headline so far."""
    url: str
    """Link of the report the headline came from."""
    text: str
    """Best lead text so far."""
    summary: str
    published: datetime
    """When the development was first reported (earliest report)."""
    updated: datetime
    """When the latest report joined."""
    reports: tuple[StoryReport, ...]
    scores: tuple[TopicScore, ...] = ()
    follows: str = ""
    """The id of the earlier development this one probably follows, when dedup was not sure
    enough to merge them ("" when it is unrelated or was merged)."""

    @property
    def outlets(self) -> tuple[str, ...]:
        """Distinct outlets in order of reporting."""
        seen: dict[str, None] = {}
        for report in self.reports:
            seen.setdefault(report.outlet, None)
        return tuple(seen)

    @property
    def best(self) -> TopicScore | None:
        """The highest topic score, or None when nothing scored."""
        scored = [s for s in self.scores if s.score > 0]
        return max(scored, key=lambda s: s.score) if scored else None

    def score_for(self, topic: str) -> float:
        for s in self.scores:
            if s.topic == topic:
                return s.score
        return 0.0


@dataclass(frozen=True, slots=True)
class DedupDecision:
    """Deduplication's verdict on one report, and its evidence."""

    verdict: Verdict
    story_id: str
    matched_key: str | None = None
    similarity: float = 100.0
    reason: str = ""
    follows: str | None = None
    """For a new story: the earlier one it probably follows (see ``Story.follows``)."""


@dataclass(frozen=True, slots=True)
class Term:
    """A watched word or phrase, with the other ways it is written."""

    text: str
    weight: float = 1.0
    variants: tuple[str, ...] = ()
    """Aliases and spelling variants, counted as the term itself."""
    fuzzy: bool = True
    """Allow near-spellings (typos, transliterations) of the term and its variants."""


@dataclass(frozen=True, slots=True)
class Topic:
    """Something the desk watches, e.g. ``rafah`` or ``hostages``."""

    id: str
    name: str
    terms: tuple[Term, ...]
    aliases: tuple[str, ...] = ()
    """Other names people may type for the topic itself (``subscribe hostage``)."""
    negative: tuple[str, ...] = ()
    """Terms that rule a story out (``Nadal`` for Rafah, ``film festival`` for Cairo)."""
    require: tuple[tuple[str, ...], ...] = ()
    """Groups that must all co-occur: at least one term of every group must match."""
    min_score: float = 0.5
    description: str = ""


@dataclass(frozen=True, slots=True)
class Destination:
    """Where an alert goes: a channel, or one person's direct messages."""

    platform: str
    """"console", "slack" or "discord"."""
    channel: str
    """Channel id, or user id when ``direct``."""
    workspace: str = ""
    """Slack workspace (team) id or Discord guild id; empty when not known."""
    direct: bool = False

    @property
    def label(self) -> str:
        kind = "dm" if self.direct else "channel"
        return f"{self.platform}:{kind}:{self.channel}"


@dataclass(frozen=True, slots=True)
class AlertReport:
    """One report of an alert's story as a thread reply shows it."""

    key: str
    """The report's key within its source (stable across re-headlines)."""
    outlet: str
    title: str
    url: str
    published: datetime
    copy_of: str = ""
    """The outlet whose story this report copies (a wire copy), "" when independent."""


@dataclass(frozen=True, slots=True)
class Alert:
    """What a chat message about a story says, independent of platform."""

    story_id: str
    title: str
    url: str
    summary: str
    outlets: tuple[str, ...]
    published: datetime
    topics: tuple[str, ...]
    """Topic ids the story alerted for, best first."""
    score: float
    matched_terms: tuple[str, ...] = ()
    why_hint: str = ""
    """One line saying why it fired, e.g. "Rafah (headline), hostages (lead) · 3 outlets"."""
    mentions: tuple[str, ...] = ()
    """User ids the bot itself chose to mention (subscribers in mention mode)."""
    tier: str = "development"
    """"development" (a concrete step) or "background" (analysis, explainer, warning): a
    background alert that is pushed all the same says so."""
    follows_title: str = ""
    """The headline of the earlier development this one probably follows ("" when none)."""
    follows_url: str = ""
    reports: tuple[AlertReport, ...] = ()
    """The story's reports in order of reporting (a thread's replies are made from them)."""
    independent: int = 0
    """Independent outlets: copies of one wire story count once (0: not counted)."""
    urgent: bool = False
    """The story's score reached ``urgent_score``."""


@dataclass(frozen=True, slots=True)
class Digest:
    """Several alerts folded into one message by flood control."""

    id: str
    alerts: tuple[Alert, ...]
    created: datetime
    title: str = ""


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """What the bot knows about polling one source."""

    name: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_polled: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    failing_since: datetime | None = None
    consecutive_failures: int = 0
    next_poll_after: datetime | None = None
    """Backoff: do not poll before this time."""
    first_polled: datetime | None = None
    items_seen: int = 0
    last_new_at: datetime | None = None
    """When new items last arrived (their pace: ``bot.core.quiet``)."""
    pace_gaps: int = 0
    """Gaps between arrivals seen so far."""
    pace_log_mean: float = 0.0
    """Running mean of the log of the gap between arrivals, in log seconds."""
    pace_log_var: float = 0.0
    """Running variance of that log gap (clipped: see ``bot.core.quiet``)."""
    pace_lull: float = 0.0
    """The longest silence the source keeps, in seconds, fading over a week."""
    repeating_since: datetime | None = None
    """First of an unbroken run of fresh (200) responses bringing nothing new."""
    announced: str = ""
    """The condition the ops channel was last told of ("" = never told; ``Condition``)."""
    announced_at: datetime | None = None

    @property
    def healthy(self) -> bool:
        return self.consecutive_failures == 0


@dataclass(frozen=True, slots=True)
class Subscription:
    """A person or a channel following a topic, made from chat."""

    platform: str
    workspace: str
    subscriber: str
    """User id, or channel id when ``channel`` is True."""
    topic: str
    channel: bool = False
    mode: str = "dm"
    """"dm" (direct message) or "mention" (mentioned on the channel alert)."""
    created: datetime | None = None


@dataclass(frozen=True, slots=True)
class Mute:
    """Quiet hours for a person or a channel, until a time."""

    platform: str
    workspace: str
    subject: str
    until: datetime


class DeliveryStatus(StrEnum):
    """Where one alert to one destination stands (stored as its value)."""

    PENDING = "pending"
    """Waiting for the courier: not yet posted, or due again after a failure."""
    SENT = "sent"
    """Posted as its own message (edited in place when the story grows)."""
    FOLDED = "folded"
    """Part of a digest message instead of a message of its own."""
    FAILED = "failed"
    """Refused for good (a missing channel, a revoked scope); shown in ``status``."""


@dataclass(frozen=True, slots=True)
class ThreadState:
    """What a channel alert's thread already shows (see ``bot.core.thread``)."""

    shown: tuple[tuple[str, str], ...] = ()
    """(report id, headline) of every report the root or a reply shows, as last shown."""
    escalations: tuple[str, ...] = ()
    """Escalations the channel has been told about ("urgent", "corroborated"): the root said
    so when it went out, or a re-broadcast did. Each is broadcast at most once."""
    trying: str = ""
    """The reply or broadcast being posted, recorded before the post goes out."""
    replies: int = 0
    """Replies posted in the thread so far."""
    open: bool = False
    """A reply or re-broadcast is in the thread: it exists (Discord starts it on the first)."""
    root: str = ""
    """What the root message shows now (``bot.core.thread.root_view``): a report that changes
    only the thread leaves the root unedited."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One alert to one destination, as recorded in the store."""

    story_id: str
    destination: Destination
    status: DeliveryStatus
    message_id: str | None = None
    digest_id: str | None = None
    error: str | None = None
    created: datetime | None = None
    updated: datetime | None = None
    outlets: int = 0
    title: str = ""
    attempts: int = 0
    planned_digest: str | None = None
    """The digest a folded alert is being sent in, recorded before the send: after a crash,
    the courier looks for that digest in the channel before sending it again."""
    alert: Alert | None = None
    """What to post (or edit the posted message into): the outbox keeps the payload."""
    needs_update: bool = False
    """A sent message whose story changed: edit it in place when next due."""
    next_attempt: datetime | None = None
    """Do not try again before this time (retry backoff); None means now."""
    thread: ThreadState | None = None
    """The alert's thread, for a channel alert whose route has threads; None: flat (DMs,
    ``threads = false``), later reports only edit the message in place."""
