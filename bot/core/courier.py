"""The courier empties the outbox: pending deliveries go to chat, and what happened is recorded.

Deliveries are written as pending by the desk in the same transaction as the stories that caused
them. The courier sends them, then records the platform's message id. A chat outage leaves them
pending with backoff; a permanent refusal (channel gone, bot removed) marks them failed with the
reason, which ``status`` shows. Destinations are served concurrently, each in order, so one slow
or broken channel never holds up the others.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.core.desk import FOLD
from bot.core.models import Delivery, Destination, Digest
from bot.core.ports import Clock, DigestRecord, Notifier, Store
from bot.errors import DeliveryError

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=30)


@dataclass(slots=True)
class CourierReport:
    sent: int = 0
    updated: int = 0
    folded: int = 0
    digests: int = 0
    retrying: int = 0
    failed: int = 0


def retry_delay(attempts: int, retry_after: float | None, rng: random.Random) -> timedelta:
    """Exponential backoff with jitter, never sooner than the platform asked (Retry-After)."""
    base = min(MAX_BACKOFF.total_seconds(), 5.0 * 2 ** max(0, attempts - 1))
    delay = base * (0.5 + rng.random() / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return timedelta(seconds=delay)


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

    async def run_once(self, *, flush_digests: bool = False) -> CourierReport:
        """Send everything due now. ``flush_digests`` sends folded alerts without waiting."""
        report = CourierReport()
        now = self.clock()
        due = await self.store.due_deliveries(now, limit=1000)
        by_destination: dict[Destination, list[Delivery]] = {}
        for delivery in due:
            by_destination.setdefault(delivery.destination, []).append(delivery)
        await asyncio.gather(
            *(
                self._serve(dest, items, report, now, flush_digests)
                for dest, items in by_destination.items()
            )
        )
        return report

    async def _serve(
        self,
        destination: Destination,
        items: Sequence[Delivery],
        report: CourierReport,
        now: datetime,
        flush: bool,
    ) -> None:
        notifier = self.notifiers.get(destination.platform)
        folded = [d for d in items if d.status == "pending" and d.digest_id == FOLD]
        for delivery in items:
            if delivery.digest_id == FOLD and delivery.status == "pending":
                continue
            if notifier is None:
                await self._fail(delivery, f"no {destination.platform} connection is configured")
                report.failed += 1
                continue
            await self._one(notifier, delivery, report, now)
        if folded:
            if notifier is None:
                for delivery in folded:
                    await self._fail(
                        delivery, f"no {destination.platform} connection is configured"
                    )
                    report.failed += 1
                return
            await self._digest(notifier, destination, folded, report, now, flush)

    async def _one(
        self, notifier: Notifier, delivery: Delivery, report: CourierReport, now: datetime
    ) -> None:
        if delivery.alert is None:
            await self._fail(delivery, "the stored alert is missing")
            report.failed += 1
            return
        updating = delivery.status == "sent" and delivery.needs_update
        try:
            if updating and delivery.message_id:
                await notifier.update(delivery.destination, delivery.message_id, delivery.alert)
                await self.store.save_delivery(
                    replace(delivery, needs_update=False, updated=now, error=None)
                )
                report.updated += 1
                return
            message_id = await notifier.send(delivery.destination, delivery.alert)
        except DeliveryError as exc:
            if updating and exc.permanent:
                # The message is gone (deleted, channel archived): keep the record, stop editing.
                await self.store.save_delivery(
                    replace(delivery, needs_update=False, error=str(exc), updated=now)
                )
                report.failed += 1
                return
            await self._setback(delivery, exc, now, report)
            return
        await self.store.save_delivery(
            replace(
                delivery,
                status="sent",
                message_id=message_id,
                attempts=delivery.attempts + 1,
                needs_update=False,
                error=None,
                next_attempt=None,
                updated=now,
            )
        )
        report.sent += 1

    async def _digest(
        self,
        notifier: Notifier,
        destination: Destination,
        folded: Sequence[Delivery],
        report: CourierReport,
        now: datetime,
        flush: bool,
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
                        await self.store.save_delivery(replace(delivery, next_attempt=ready))
                return
        alerts = tuple(d.alert for d in folded if d.alert is not None)
        digest_id = (
            "d-"
            + hashlib.sha1(f"{destination.label}\x1f{now.isoformat()}".encode()).hexdigest()[:10]
        )
        digest = Digest(
            id=digest_id,
            alerts=alerts,
            created=now,
            title=f"{len(alerts)} more developments",
        )
        try:
            message_id = await notifier.send_digest(destination, digest)
        except DeliveryError as exc:
            for delivery in folded:
                await self._setback(delivery, exc, now, report)
            return
        await self.store.save_digest(
            DigestRecord(digest, destination, status="sent", message_id=message_id, attempts=1)
        )
        for delivery in folded:
            await self.store.save_delivery(
                replace(
                    delivery,
                    status="folded",
                    digest_id=digest_id,
                    message_id=message_id,
                    attempts=delivery.attempts + 1,
                    next_attempt=None,
                    updated=now,
                )
            )
        await self.store.set_meta(meta_key, now.isoformat())
        report.folded += len(folded)
        report.digests += 1

    async def _setback(
        self, delivery: Delivery, exc: DeliveryError, now: datetime, report: CourierReport
    ) -> None:
        if exc.permanent:
            await self._fail(delivery, str(exc))
            report.failed += 1
            return
        attempts = delivery.attempts + 1
        delay = retry_delay(attempts, exc.retry_after, self.rng)
        log.warning(
            "delivery to %s failed (attempt %d), retrying in %ds: %s",
            delivery.destination.label,
            attempts,
            delay.total_seconds(),
            exc,
        )
        await self.store.save_delivery(
            replace(
                delivery, attempts=attempts, next_attempt=now + delay, error=str(exc), updated=now
            )
        )
        report.retrying += 1

    async def _fail(self, delivery: Delivery, reason: str) -> None:
        log.error("delivery to %s failed for good: %s", delivery.destination.label, reason)
        await self.store.save_delivery(
            replace(delivery, status="failed", error=reason, updated=self.clock())
        )
