"""The seams between the pure core and the outside world.

The core decides; these Protocols are how the composition root (``bot/app.py``) plugs in the parts
that do I/O: the store, chat notifiers, the clock. Nothing in ``bot/core`` imports an
implementation of them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from bot.core.models import (
    Alert,
    Delivery,
    DeliveryStatus,
    Destination,
    Digest,
    Mute,
    SourceHealth,
    Story,
    Subscription,
)

if TYPE_CHECKING:
    from bot.core.desk import DeskContext
    from bot.core.thread import Escalation, ThreadReply

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware UTC."""


@dataclass(frozen=True, slots=True)
class PollRecord:
    """Everything one poll of one source decided, saved in one transaction.

    Saving stories and the deliveries they cause together is what makes alerts survive a crash:
    a delivery is pending in the store before any chat call is made.
    """

    source: SourceHealth
    stories: tuple[Story, ...] = ()
    """Stories created or changed by this poll (upserted with all their reports)."""
    deliveries: tuple[Delivery, ...] = ()
    """Deliveries created or changed (upserted on story id + destination)."""
    others: tuple[SourceHealth, ...] = ()
    """Other sources whose polls this one decision covered (a live cycle decides the reports
    of the polls that arrive together at once): their health is saved in the same
    transaction, so each source's health and the decision on its reports stay one commit."""
    lease_holder: str | None = None
    """The replica that claimed these sources (``Store.claim_due_sources``): the commit gives
    back the leases it still holds on them. ``None``: leases are left as they are."""


@dataclass(frozen=True, slots=True)
class DigestRecord:
    """A digest message for one destination, as the store keeps it."""

    digest: Digest
    destination: Destination
    status: str = DeliveryStatus.PENDING
    """A ``DeliveryStatus`` value: pending, sent or failed."""
    message_id: str | None = None
    error: str | None = None
    attempts: int = 0
    next_attempt: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoryFilter:
    """Which stories ``Store.stories`` returns."""

    since: datetime | None = None
    """Stories whose latest report is at or after this time."""
    until: datetime | None = None
    """Stories whose latest report is before this time (exclusive: windows do not overlap)."""
    limit: int | None = None
    ids: tuple[str, ...] = field(default_factory=tuple)


class Store(Protocol):
    """Persistent state. Every method is atomic; ``commit_poll`` is the unit of work of a poll.

    Implementations raise ``bot.errors.StoreError`` (with a one-line reason) when the database is
    unreachable or a write fails; callers keep their in-memory state and retry later.
    """

    async def open(self) -> None:
        """Connect and bring the schema up to date (migrations)."""

    async def close(self) -> None: ...

    # sources ----------------------------------------------------------------------------------
    async def get_source(self, name: str) -> SourceHealth | None: ...

    async def list_sources(self) -> list[SourceHealth]: ...

    async def save_source(self, health: SourceHealth, *, holder: str | None = None) -> None:
        """Save one source's health; with ``holder``, also give back that holder's lease."""

    async def save_sources(
        self, healths: Sequence[SourceHealth], *, holder: str | None = None
    ) -> None:
        """Save several sources' health in one transaction (a cycle's polls that brought nothing
        new, a replay's cycle); with ``holder``, also give back that holder's leases on them."""

    async def claim_due_sources(
        self, holder: str, now: datetime, lease: timedelta, limit: int
    ) -> list[SourceHealth]:
        """Lease to ``holder`` until ``now + lease`` at most ``limit`` sources due at ``now``
        (``next_poll_after`` unset or passed) that nobody holds or whose lease has run out, and
        return them, never polled first then longest overdue. Replicas claiming at once get
        disjoint sets (PostgreSQL: one statement, ``FOR UPDATE SKIP LOCKED``)."""

    async def release_sources(self, holder: str, names: Iterable[str]) -> None:
        """Give back ``holder``'s leases on ``names`` (a lease now held by another is kept)."""

    async def save_announced(self, name: str, announced: str, at: datetime) -> None:
        """Record what the ops channel was last told about source ``name`` (the only write of
        ``SourceHealth.announced``: saving a source's health leaves it as stored)."""

    # reports and stories ----------------------------------------------------------------------
    async def known_reports(self, source: str, keys: Iterable[str]) -> dict[str, str]:
        """Of ``keys``, those already stored for ``source``, mapped to their stored title."""

    async def known_reports_many(
        self, wanted: Mapping[str, Iterable[str]]
    ) -> dict[str, dict[str, str]]:
        """``known_reports`` for several sources in one read: by source, those of its keys
        already stored, mapped to their stored title (a source with none is left out)."""

    async def commit_poll(self, record: PollRecord) -> None:
        """Save a poll's source state, stories (with reports) and deliveries in one transaction."""

    async def get_story(self, story_id: str) -> Story | None:
        """A story by id; a unique id prefix of at least 4 characters also finds it."""

    async def stories(self, query: StoryFilter) -> list[Story]:
        """Stories by ``updated`` time, newest first."""

    async def story_change_seq(self) -> int:
        """The change number of the latest committed story write (0 for none): read it before
        loading a window of stories, then catch up from it with ``stories_changed_since``."""

    async def stories_changed_since(self, seq: int) -> tuple[list[Story], int]:
        """Every story a ``commit_poll`` wrote after change number ``seq``, oldest change first,
        and the number to ask from next time (``seq`` itself when nothing changed)."""

    # deliveries (the outbox) ------------------------------------------------------------------
    async def get_delivery(self, story_id: str, destination: Destination) -> Delivery | None: ...

    async def save_delivery(self, delivery: Delivery, *, holder: str | None = None) -> None:
        """Insert or replace the delivery for (story id, destination); there is never more than
        one. With ``holder``, also give back that holder's lease on it."""

    async def due_deliveries(self, now: datetime, limit: int = 100) -> list[Delivery]:
        """Pending deliveries and sent ones needing an update, whose next attempt is due."""

    async def claim_due_deliveries(
        self, holder: str, now: datetime, lease: timedelta, limit: int
    ) -> list[Delivery]:
        """``due_deliveries`` that nobody holds (or whose lease has run out), leased to
        ``holder`` until ``now + lease``, oldest first; replicas claiming at once get disjoint
        sets."""

    async def release_deliveries(
        self, holder: str, keys: Iterable[tuple[str, Destination]]
    ) -> None:
        """Give back ``holder``'s leases on the deliveries (story id, destination) ``keys``."""

    async def decision_context(
        self,
        topics: Sequence[str],
        story_ids: Sequence[str],
        mutes_at: datetime,
    ) -> DeskContext:
        """In one read: the subscriptions to ``topics``, the mutes active at ``mutes_at`` and
        every delivery of ``story_ids`` (what ``Desk.decide`` reads; ``Desk.needs`` names it)."""

    async def recent_deliveries(
        self, destinations: Collection[Destination], since: datetime
    ) -> dict[Destination, tuple[datetime, ...]]:
        """Creation times of each destination's deliveries since ``since`` (flood control's
        memory, read once per destination)."""

    async def failed_deliveries(self, since: datetime) -> list[Delivery]: ...

    async def save_digest(self, record: DigestRecord) -> None: ...

    async def get_digest(self, digest_id: str, destination: Destination) -> DigestRecord | None:
        """The digest of that id sent (or tried) to ``destination``, if any."""

    # subscriptions and mutes ------------------------------------------------------------------
    async def add_subscription(self, subscription: Subscription) -> bool:
        """False when an identical subscription already existed (mode is updated either way)."""

    async def remove_subscription(
        self, platform: str, workspace: str, subscriber: str, topic: str, channel: bool
    ) -> bool:
        """False when there was nothing to remove."""

    async def subscriptions_of(
        self, platform: str, workspace: str, subscriber: str, channel: bool
    ) -> list[Subscription]: ...

    async def subscriptions_to(self, topics: Sequence[str]) -> list[Subscription]:
        """Every subscription, on every platform, to any of ``topics``."""

    async def set_mute(self, mute: Mute) -> None: ...

    async def clear_mute(self, platform: str, workspace: str, subject: str) -> bool: ...

    async def active_mutes(self, now: datetime) -> list[Mute]: ...

    # small key/value state (scheduled digests' last run, ...) -------------------------------
    async def get_meta(self, key: str) -> str | None: ...

    async def set_meta(self, key: str, value: str) -> None: ...

    # leader leases (one replica holds the Discord gateway, ...) -----------------------------
    async def take_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Hold lease ``name`` until ``now + ttl``: True when it was free, had run out or was
        already ``holder``'s (then renewed); False while another holder's lease runs."""

    async def drop_lease(self, name: str, holder: str) -> bool:
        """Give lease ``name`` back if ``holder`` has it; False when it did not."""

    async def lease_holder(self, name: str, now: datetime) -> str | None:
        """Who holds lease ``name`` at ``now`` (``None``: nobody, or it has run out)."""


class Notifier(Protocol):
    """A chat platform as the core sees it. Adapters translate; they never decide.

    Methods raise ``bot.errors.DeliveryError``; its ``permanent`` flag says whether retrying can
    help (a rate limit or outage: no; a deleted channel: yes).
    """

    platform: str

    async def send(self, destination: Destination, alert: Alert) -> str:
        """Post an alert; return the platform's message id."""

    async def update(self, destination: Destination, message_id: str, alert: Alert) -> None:
        """Edit a posted alert in place (more outlets, a better headline)."""

    async def send_digest(self, destination: Destination, digest: Digest) -> str:
        """Post several folded alerts as one message; return its id."""


class ThreadNotifier(Notifier, Protocol):
    """A platform whose channel alerts can be the roots of threads (Slack, Discord, console).

    ``root_id`` is the id ``send`` returned for the alert. A notifier without these methods
    keeps every alert flat: later reports only edit it in place.
    """

    async def reply_in_thread(
        self, destination: Destination, root_id: str, reply: ThreadReply
    ) -> str:
        """Post ``reply`` in the thread of the alert ``root_id`` (opening the thread when it is
        the first reply); return the reply's message id."""

    async def rebroadcast(
        self, destination: Destination, root_id: str, alert: Alert, escalation: Escalation
    ) -> str:
        """Show the alert again to the whole channel, saying how it escalated, and linked to
        its thread; return the new message's id."""
