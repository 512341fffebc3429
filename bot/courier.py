"""The courier empties the outbox: pending deliveries go to chat, and what happened is recorded.

Deliveries are written as pending by the desk in the same transaction as the stories that caused
them. The courier sends them, then records the platform's message id. A chat outage leaves them
pending with backoff; a permanent refusal (channel gone, bot removed) marks them failed with the
reason, which ``status`` shows. Destinations are served concurrently, each in order, so one slow
or broken channel never holds up the others.

Nothing lost, nothing twice. The one window a crash can hit is between "the platform posted it" and
"the store knows": so every attempt is recorded (``attempts + 1``) *before* the message goes out. A
delivery still pending with ``attempts > 0`` may therefore already be in the channel; when it is
due again and the notifier can look (``find_posted``: Slack and Discord read the channel's history
since the delivery was created), the courier adopts the message it finds instead of posting a
second one. On Discord the message nonce, derived from (story, destination), covers the first
minutes as well: a resend inside them returns the message already created.

The desk and the courier both write deliveries. ``Courier.lock`` keeps them from overwriting each
other's newer state: the desk holds it from reading a delivery to committing its poll, the courier
while it reads and writes one, never while it waits on the network.

One slow channel never holds up the others. Each destination's turn runs as its own task; a round
waits for the turns at most ``patience`` seconds, and a turn still going after that (a channel slow
to answer) finishes by itself while later rounds leave that destination alone, so the next round's
alerts for everyone else go out at once. Notifiers never sleep on a rate limit: they raise a
``DeliveryError`` carrying the platform's Retry-After, and the courier defers that destination
alone (all its due deliveries get the same next attempt) until then. Every resend therefore goes
through the courier, which records the attempt and looks (``find_posted``) before posting again.

Threads. A channel alert whose route has threads is the root of one (``Delivery.thread``, what
it already shows). When such an alert is due for an update the courier edits the root if what
it shows changed, then posts what ``bot.core.thread.plan`` says the thread lacks: one reply for
every report not yet shown, then a re-broadcast per new escalation. The same rule holds as for
the root: each is recorded as being tried (``ThreadState.trying``) before it goes out, and a
notifier that can look (``find_in_thread``: Slack) is asked first when it was tried before; the
reports it shows are recorded right after, so a crash repeats at most that one reply.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from bot.core.backoff import Backoff
from bot.core.desk import BRIEFING, FOLD
from bot.core.messages import (
    digest_title,
    still_delivering,
    thread_reply_failed,
    thread_reply_found,
    turn_crashed,
    waits_for,
)
from bot.core.models import Alert, Delivery, DeliveryStatus, Destination, Digest
from bot.core.ports import Clock, DigestRecord, Notifier, Store, ThreadNotifier
from bot.core.thread import broadcast as broadcast_once
from bot.core.thread import escalation_mark, opened, replied, root_view
from bot.core.thread import plan as thread_plan
from bot.errors import DeliveryError

log = logging.getLogger(__name__)

DELIVERY_BACKOFF = Backoff(base=5.0, cap=30 * 60.0)
"""A turned-away message is tried again after 5 s, doubling up to half an hour."""

HOLD_RECHECK = timedelta(hours=1)
"""Background held for a scheduled digest is looked at again this often, not every round."""
HOLD_AHEAD = timedelta(days=7)
"""How far ahead a briefing round looks for held background (their next look is in the future)."""


class PostedFinder(Protocol):
    """A notifier that can tell whether an alert is already in a channel (Slack can)."""

    async def find_posted(
        self, destination: Destination, alert: Alert, *, since: datetime | None = None
    ) -> str | None:
        """The id of a message this bot already posted about ``alert``'s story, or None.

        ``since``: when the delivery was created; no message about it can be older, so the
        look-up need not read the channel further back than that."""


DELIVERED = ("sent", "updated", "folded", "digests")
"""What a round got to readers: the counts a run of rounds adds up."""


@dataclass(slots=True)
class CourierReport:
    sent: int = 0
    updated: int = 0
    folded: int = 0
    digests: int = 0
    retrying: int = 0
    failed: int = 0
    adopted: int = 0
    """Alerts found already posted (after a crash) and recorded instead of posted again."""
    left: int = 0
    """Deliveries left pending because the bot is stopping."""
    deferred: int = 0
    """Deliveries not tried because their destination asked to wait (a rate limit, an outage)."""
    replies: int = 0
    """Replies posted in alerts' threads."""
    broadcasts: int = 0
    """Alerts re-broadcast to their channel because the development escalated."""
    busy: list[Destination] = field(default_factory=list)
    """Destinations left out of this round: their turn from an earlier round is still going."""

    def add(self, other: CourierReport, names: Sequence[str] = DELIVERED) -> None:
        """Add ``other``'s counts of ``names`` to this report's (a run of rounds)."""
        for name in names:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def digest_id_for(destination: Destination, story_ids: Sequence[str]) -> str:
    """The same id for the same folded stories to the same place, so a resend is recognisable
    (Discord derives its message nonce from it)."""
    key = "\x1f".join([destination.label, destination.workspace, *sorted(story_ids)])
    return "d-" + hashlib.sha1(key.encode()).hexdigest()[:12]


class Courier:
    def __init__(
        self,
        store: Store,
        notifiers: Mapping[str, Notifier],
        clock: Clock,
        *,
        flood_per: timedelta = timedelta(minutes=10),
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.notifiers = dict(notifiers)
        self.clock = clock
        self.flood_per = flood_per
        self.hold = min(flood_per / 5, timedelta(minutes=2))
        """How long folded alerts gather before their digest goes out."""
        self.rng = rng or random.Random()
        self.lock = asyncio.Lock()
        """Held while a delivery is read and written; the desk holds it while it decides."""
        self.on_free: Callable[[], None] | None = None
        """Called when a turn that outlasted its round ends (the bot wakes its next round)."""
        self._turns: dict[Destination, asyncio.Task[None]] = {}
        """Each destination's turn while it runs."""
        self._unwatched: set[asyncio.Task[None]] = set()
        """Turns that outlasted their round: nobody awaits them, their end is logged instead."""
        self._resume: dict[Destination, datetime] = {}
        """Destinations that asked to wait (Retry-After, an outage): not tried before then."""

    async def run_once(
        self,
        *,
        flush_digests: bool = False,
        stop: asyncio.Event | None = None,
        briefings: Collection[Destination] = (),
        patience: float | None = None,
    ) -> CourierReport:
        """Send everything due now. ``flush_digests`` sends folded alerts without waiting, and the
        background held for scheduled digests too; ``briefings``: the destinations whose
        scheduled digest is due now, which get their held background.

        ``patience``: the longest this round waits for a destination's turn. A turn still going
        after that goes on by itself; until it ends, rounds leave its destination out (listed in
        ``CourierReport.busy``) so no two turns ever send the same delivery. None waits for every
        turn, earlier rounds' included (``poll-once``, tests).

        Once ``stop`` is set no new message is started: what is not yet sent stays pending for
        the next start.
        """
        if patience is None:
            await self._await_turns()
        report = CourierReport()
        now = self.clock()
        ahead = now + HOLD_AHEAD if flush_digests or briefings else now
        due = await self.store.due_deliveries(ahead, limit=1000)
        by_destination: dict[Destination, list[Delivery]] = {}
        for delivery in due:
            held = delivery.digest_id == BRIEFING and delivery.status == DeliveryStatus.PENDING
            if not held and delivery.next_attempt is not None and delivery.next_attempt > now:
                continue  # seen only because a briefing round looks ahead
            by_destination.setdefault(delivery.destination, []).append(delivery)
        briefed = set(briefings)
        turns: dict[asyncio.Task[None], Destination] = {}
        for dest, items in by_destination.items():
            if dest in self._turns:
                report.busy.append(dest)
                continue
            brief = flush_digests or dest in briefed
            turn = asyncio.create_task(
                self._serve(dest, items, report, now, flush_digests, stop, brief),
                name=f"courier:{dest.label}",
            )
            self._turns[dest] = turn
            turn.add_done_callback(partial(self._turn_ended, dest))
            turns[turn] = dest
        if not turns:
            return report
        # Every turn this round waits for finishes before a store error is raised; one it stops
        # waiting for keeps its destination out of later rounds until it ends, so no two turns
        # ever race over the same alerts.
        try:
            done, late = await asyncio.wait(turns, timeout=patience)
        except asyncio.CancelledError:
            self._unwatched.update(t for t in turns if not t.done())
            raise
        for turn in late:
            self._unwatched.add(turn)
            log.info("%s", still_delivering(turns[turn].label, patience or 0))
        errors = [t.exception() for t in turns if t in done and not t.cancelled()]
        for error in errors:
            if error is not None:
                raise error
        return report

    async def settle(self, timeout: float) -> None:  # noqa: ASYNC109 -- a grace period at stop
        """At stop: give the turns still going up to ``timeout`` seconds, then cancel the rest.
        Nothing is lost: an attempt is recorded before its post, so the next start looks first."""
        turns = list(self._turns.values())
        if not turns:
            return
        _, late = await asyncio.wait(turns, timeout=timeout)
        for turn in late:
            turn.cancel()
        await asyncio.gather(*turns, return_exceptions=True)

    async def _await_turns(self) -> None:
        """Wait for the turns earlier rounds left running (their errors were logged)."""
        if self._turns:
            await asyncio.gather(*self._turns.values(), return_exceptions=True)

    def _turn_ended(self, destination: Destination, turn: asyncio.Task[None]) -> None:
        if self._turns.get(destination) is turn:
            del self._turns[destination]
        if turn not in self._unwatched:
            return  # its round awaits it and raises what it raised
        self._unwatched.discard(turn)
        if not turn.cancelled() and (error := turn.exception()) is not None:
            log.error("%s", turn_crashed(destination.label), exc_info=error)
        if self.on_free is not None:
            self.on_free()

    async def _serve(
        self,
        destination: Destination,
        items: Sequence[Delivery],
        report: CourierReport,
        now: datetime,
        flush: bool,
        stop: asyncio.Event | None,
        brief: bool = False,
    ) -> None:
        notifier = self.notifiers.get(destination.platform)
        folded = [d for d in items if d.status == DeliveryStatus.PENDING and d.digest_id == FOLD]
        held = [d for d in items if d.status == DeliveryStatus.PENDING and d.digest_id == BRIEFING]
        deferred = 0
        for delivery in items:
            if delivery.digest_id in {FOLD, BRIEFING} and delivery.status == DeliveryStatus.PENDING:
                continue
            if stop is not None and stop.is_set():
                report.left += 1
                continue
            if notifier is None:
                await self._fail(delivery, f"no {destination.platform} connection is configured")
                report.failed += 1
                continue
            if await self._defer(delivery, now):
                deferred += 1
                continue
            await self._one(notifier, delivery, report, now)
        if held and not brief:
            for delivery in held:
                await self._write(delivery, next_attempt=now + HOLD_RECHECK)
            held = []
        for batch, background, flush_batch in ((folded, False, flush), (held, True, True)):
            if not batch:
                continue
            if stop is not None and stop.is_set():
                report.left += len(batch)
                continue
            if notifier is None:
                for delivery in batch:
                    await self._fail(
                        delivery, f"no {destination.platform} connection is configured"
                    )
                    report.failed += 1
                continue
            if destination in self._resume and self._resume[destination] > now:
                for delivery in batch:
                    await self._defer(delivery, now)
                deferred += len(batch)
                continue
            await self._digest(notifier, destination, batch, report, now, flush_batch, background)
        report.deferred += deferred
        if deferred:
            wait = (self._resume[destination] - now).total_seconds()
            log.info("%s", waits_for(destination.label, wait, deferred))

    async def _defer(self, delivery: Delivery, now: datetime) -> bool:
        """Put ``delivery`` off, untried, while its destination asks to wait; False if not."""
        resume = self._resume.get(delivery.destination)
        if resume is None or resume <= now:
            return False
        if delivery.next_attempt != resume:
            await self._write(delivery, next_attempt=resume)
        return True

    async def _one(
        self, notifier: Notifier, delivery: Delivery, report: CourierReport, now: datetime
    ) -> None:
        if delivery.alert is None:
            await self._fail(delivery, "the stored alert is missing")
            report.failed += 1
            return
        if delivery.status == DeliveryStatus.SENT:
            await self._edit(notifier, delivery, report, now)
            return
        finder = _finder(notifier)
        tried_before = delivery.attempts > 0
        # Recorded before posting: if we die after the post, the next start knows to look.
        delivery = await self._write(delivery, attempts=delivery.attempts + 1, updated=now)
        if delivery.status != DeliveryStatus.PENDING or delivery.alert is None:
            return  # changed while it waited its turn
        try:
            if tried_before and finder is not None:
                found = await _look(
                    finder, delivery.destination, delivery.alert, since=delivery.created
                )
                if found:
                    log.info(
                        "alert %s was already in %s (posted before a restart): recorded it",
                        delivery.story_id,
                        delivery.destination.label,
                    )
                    await self._posted(delivery, found, now)
                    report.adopted += 1
                    return
            message_id = await notifier.send(delivery.destination, delivery.alert)
        except DeliveryError as exc:
            await self._setback(delivery, exc, now, report)
            return
        await self._posted(delivery, message_id, now)
        report.sent += 1

    async def _edit(
        self, notifier: Notifier, delivery: Delivery, report: CourierReport, now: datetime
    ) -> None:
        """Bring a posted alert up to date in place, and its thread. Never posts it again."""
        alert = delivery.alert
        assert alert is not None
        if not delivery.needs_update:
            return
        if not delivery.message_id:
            await self._write(delivery, needs_update=False, updated=now)
            return
        threads = _threads(notifier) if delivery.thread is not None else None
        view = root_view(alert)
        try:
            if threads is None or delivery.thread is None or delivery.thread.root != view:
                await notifier.update(delivery.destination, delivery.message_id, alert)
                if delivery.thread is not None:
                    delivery = await self._write(
                        delivery, thread=replace(delivery.thread, root=view)
                    )
            if threads is not None:
                delivery = await self._thread(threads, delivery, alert, report)
        except DeliveryError as exc:
            if exc.permanent:
                # The message is gone (deleted, channel archived): keep the record, stop editing.
                await self._write(delivery, needs_update=False, error=str(exc), updated=now)
                report.failed += 1
                return
            await self._setback(delivery, exc, now, report, count=True)
            return
        async with self.lock:
            current = await self._current(delivery)
            # A newer version arrived while we were editing: leave needs_update for it.
            newer = current.alert != alert
            if threads is not None and current.thread is not None and current.alert is not None:
                newer = newer or bool(thread_plan(current.thread, current.alert))
            await self.store.save_delivery(
                replace(current, needs_update=newer, error=None, next_attempt=None, updated=now)
            )
        report.updated += 1

    async def _thread(
        self, notifier: ThreadNotifier, delivery: Delivery, alert: Alert, report: CourierReport
    ) -> Delivery:
        """Post what the alert's thread has not said yet: one reply for the reports it has not
        shown, then a re-broadcast per new escalation. Each is recorded as being tried before
        it goes out and as done right after, so a crash in between repeats at most that one
        reply (or broadcast), never loses it; a resend inside Discord's nonce window returns
        the message already posted. A thread refused for good (locked, archived, no
        permission) makes the alert flat: it is still edited in place."""
        assert delivery.thread is not None
        assert delivery.message_id is not None
        root, state = delivery.message_id, delivery.thread
        todo = thread_plan(state, alert)
        finder = _thread_finder(notifier)
        try:
            if todo.reply is not None:
                mark = todo.reply.id
                found = None
                if state.trying == mark and finder is not None:
                    found = await _look_thread(finder, delivery.destination, root, mark)
                if found:
                    log.info("%s", thread_reply_found(alert.story_id, delivery.destination.label))
                    report.adopted += 1
                else:
                    delivery = await self._write(delivery, thread=replace(state, trying=mark))
                    await notifier.reply_in_thread(delivery.destination, root, todo.reply)
                    report.replies += 1
                state = replied(state, todo.reply)
                delivery = await self._write(delivery, thread=state)
            for escalation in todo.escalations:
                mark = escalation_mark(alert.story_id, escalation.kind)
                found = None
                if state.trying == mark and finder is not None:
                    found = await _look_thread(finder, delivery.destination, root, mark)
                if found:
                    log.info("%s", thread_reply_found(alert.story_id, delivery.destination.label))
                    report.adopted += 1
                else:
                    delivery = await self._write(delivery, thread=replace(state, trying=mark))
                    await notifier.rebroadcast(delivery.destination, root, alert, escalation)
                    report.broadcasts += 1
                state = broadcast_once(state, escalation.kind)
                delivery = await self._write(delivery, thread=state)
        except DeliveryError as exc:
            if not exc.permanent:
                raise
            log.warning("%s", thread_reply_failed(delivery.destination.label, exc))
            delivery = await self._write(delivery, thread=None)
        return delivery

    async def _digest(
        self,
        notifier: Notifier,
        destination: Destination,
        folded: Sequence[Delivery],
        report: CourierReport,
        now: datetime,
        flush: bool,
        background: bool = False,
    ) -> None:
        meta_key = f"digest-last:{destination.label}"
        last = await self.store.get_meta(meta_key)
        if not flush:
            # Gather a flood for a short while, then send at most one digest per flood window.
            oldest = min((d.created or now) for d in folded)
            ready = oldest + self.hold
            if last:
                ready = max(ready, datetime.fromisoformat(last) + self.flood_per)
            if ready > now:
                for delivery in folded:
                    if delivery.next_attempt != ready:
                        await self._write(delivery, next_attempt=ready)
                return
        finder = _finder(notifier)
        tried = {d.story_id for d in folded if d.attempts > 0}
        planned = digest_id_for(destination, [d.story_id for d in folded])
        recorded: list[Delivery] = []
        for delivery in folded:
            written = await self._write(
                delivery, attempts=delivery.attempts + 1, planned_digest=planned, updated=now
            )
            if written.status == DeliveryStatus.PENDING and written.alert is not None:
                recorded.append(written)
        remaining: list[Delivery] = list(recorded)
        try:
            for delivery in recorded:
                if finder is None or delivery.story_id not in tried or delivery.alert is None:
                    continue
                found = await _look(finder, destination, delivery.alert, since=delivery.created)
                if found:
                    await self._folded(delivery, delivery.planned_digest or planned, found, now)
                    remaining.remove(delivery)
                    report.adopted += 1
            if not remaining:
                return
            digest_id = digest_id_for(destination, [d.story_id for d in remaining])
            sent = await self.store.get_digest(digest_id, destination)
            if sent is not None and sent.status == DeliveryStatus.SENT and sent.message_id:
                # Sent and recorded, then the bot died before marking its alerts folded.
                for delivery in remaining:
                    await self._folded(delivery, digest_id, sent.message_id, now)
                report.adopted += len(remaining)
                return
            digest = Digest(
                id=digest_id,
                alerts=tuple(d.alert for d in remaining if d.alert is not None),
                created=now,
                title=digest_title(len(remaining), background=background),
            )
            message_id = await notifier.send_digest(destination, digest)
        except DeliveryError as exc:
            for delivery in remaining:
                await self._setback(delivery, exc, now, report)
            return
        await self.store.save_digest(
            DigestRecord(
                digest, destination, status=DeliveryStatus.SENT, message_id=message_id, attempts=1
            )
        )
        for delivery in remaining:
            await self._folded(delivery, digest_id, message_id, now)
        await self.store.set_meta(meta_key, now.isoformat())
        report.folded += len(remaining)
        report.digests += 1

    # --- recording -----------------------------------------------------------------------------
    async def _current(self, delivery: Delivery) -> Delivery:
        stored = await self.store.get_delivery(delivery.story_id, delivery.destination)
        return stored or delivery

    async def _write(self, delivery: Delivery, **changes: Any) -> Delivery:
        """Apply ``changes`` to the stored delivery as it is now (the desk may have refreshed
        its alert meanwhile) and save it; returns what was saved."""
        async with self.lock:
            merged = replace(await self._current(delivery), **changes)
            await self.store.save_delivery(merged)
            return merged

    async def _posted(self, delivery: Delivery, message_id: str, now: datetime) -> None:
        async with self.lock:
            current = await self._current(delivery)
            # The desk may have refreshed the alert while it was being posted: edit it next.
            stale = current.alert != delivery.alert
            # The root shows the alert as posted: later reports and escalations are the thread's.
            thread = current.thread
            if thread is not None and delivery.alert is not None:
                thread = opened(delivery.alert)
            await self.store.save_delivery(
                replace(
                    current,
                    status=DeliveryStatus.SENT,
                    message_id=message_id,
                    thread=thread,
                    needs_update=stale,
                    error=None,
                    next_attempt=None,
                    updated=now,
                )
            )

    async def _folded(
        self, delivery: Delivery, digest_id: str, message_id: str, now: datetime
    ) -> None:
        await self._write(
            delivery,
            status=DeliveryStatus.FOLDED,
            digest_id=digest_id,
            message_id=message_id,
            error=None,
            next_attempt=None,
            updated=now,
        )

    async def _setback(
        self,
        delivery: Delivery,
        exc: DeliveryError,
        now: datetime,
        report: CourierReport,
        *,
        count: bool = False,
    ) -> None:
        """Record a failed try: failed for good when permanent, else due again after backoff.

        Posting attempts are counted before they are made; ``count`` counts one here (edits).
        """
        if exc.permanent:
            await self._fail(delivery, str(exc))
            report.failed += 1
            return
        attempts = delivery.attempts + 1 if count else max(delivery.attempts, 1)
        delay = DELIVERY_BACKOFF.wait(attempts, exc.retry_after, self.rng)
        # The whole destination waits, not just this delivery: its other alerts are not tried
        # (into the same rate limit or outage) before then, and nobody else waits at all.
        resume = self._resume.get(delivery.destination)
        if resume is None or resume < now + delay:
            self._resume[delivery.destination] = now + delay
        log.warning(
            "delivery to %s failed (attempt %d), retrying in %ds: %s",
            delivery.destination.label,
            attempts,
            delay.total_seconds(),
            exc,
        )
        await self._write(
            delivery, attempts=attempts, next_attempt=now + delay, error=str(exc), updated=now
        )
        report.retrying += 1

    async def _fail(self, delivery: Delivery, reason: str) -> None:
        log.error("delivery to %s failed for good: %s", delivery.destination.label, reason)
        await self._write(
            delivery, status=DeliveryStatus.FAILED, error=reason, updated=self.clock()
        )


async def _look(
    finder: PostedFinder, destination: Destination, alert: Alert, *, since: datetime | None
) -> str | None:
    """``find_posted``, where a permanent refusal (say, no history scope) means "cannot tell":
    the alert is posted then, as losing it would be worse than a rare second copy."""
    try:
        return await finder.find_posted(destination, alert, since=since)
    except DeliveryError as exc:
        if not exc.permanent:
            raise
        log.warning("cannot check %s for an earlier post, posting: %s", destination.label, exc)
        return None


def _threads(notifier: Notifier) -> ThreadNotifier | None:
    """``notifier`` when it can thread replies under an alert (else alerts stay flat)."""
    can = all(
        callable(getattr(notifier, name, None)) for name in ("reply_in_thread", "rebroadcast")
    )
    return notifier if can else None  # type: ignore[return-value]


class ThreadFinder(Protocol):
    """A notifier that can tell whether a thread reply is already posted (Slack can)."""

    async def find_in_thread(self, destination: Destination, root_id: str, mark: str) -> str | None:
        """The id of the bot's reply carrying ``mark`` in the thread of ``root_id``, or None."""


async def _look_thread(
    finder: ThreadFinder, destination: Destination, root_id: str, mark: str
) -> str | None:
    """``find_in_thread``, where a permanent refusal means "cannot tell": post again then."""
    try:
        return await finder.find_in_thread(destination, root_id, mark)
    except DeliveryError as exc:
        if not exc.permanent:
            raise
        return None


def _thread_finder(notifier: Notifier) -> ThreadFinder | None:
    finder = getattr(notifier, "find_in_thread", None)
    return notifier if callable(finder) else None  # type: ignore[return-value]


def _finder(notifier: Notifier) -> PostedFinder | None:
    finder = getattr(notifier, "find_posted", None)
    return notifier if callable(finder) else None  # type: ignore[return-value]
