"""Prometheus metrics: what the bot counts, and where the counts come from.

Every figure is read off a seam that already exists, so instrumenting costs a few lines
elsewhere: the poller's ``PollerHooks`` (each poll's ``PollSummary``, each cycle's length), the
notifiers (each chat call, wrapped by ``CountingNotifier``: sent, updated, refused and why), the
courier's ``CourierReport`` (deliveries failed) and the bot's own store-error branches. Pending
deliveries and each source's time since its last good poll are read when Prometheus scrapes.

One ``BotMetrics`` per bot, each with its own registry (never the library's global one), so
several bots can run in one process (tests). Labels carry source names, platforms and fixed
words, never a URL or a secret.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.core.models import Alert, DeliveryStatus, Destination, Digest, SourceHealth
from bot.core.ports import Notifier, Store
from bot.errors import DeliveryError, StoreError

if TYPE_CHECKING:
    from bot.app import TalksBot
    from bot.courier import CourierReport
    from bot.poller import PollSummary

__all__ = ["CONTENT_TYPE", "BotMetrics", "CountingNotifier", "chat_error_kind", "poll_outcome"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The text exposition format's content type."""

FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Seconds: a loopback fetch takes milliseconds, a slow outlet seconds, the deadline 30 s."""
POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CYCLE_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)
PENDING_AHEAD = timedelta(days=8)
"""Pending deliveries are counted however far off their next attempt is (a Retry-After is at
most a day, delivery backoff at most half an hour, held background a week)."""
PENDING_LIMIT = 10_000
"""The most pending deliveries one scrape reads; past that the gauge says 10,000."""

BACKING_OFF = "backing off"
"""``PollSummary.error`` of a poll the source's backoff held back (see ``bot.poller``)."""


def poll_outcome(summary: PollSummary, error: BaseException | None = None) -> str:
    """One word for how a poll ended: ``ok`` (read), ``not_modified`` (304), ``failed`` (the
    feed), ``backing_off`` (not polled), ``unsaved`` (the database), ``crashed`` (a bug)."""
    if error is not None:
        return "unsaved" if isinstance(error, StoreError) else "crashed"
    if summary.unsaved:
        return "unsaved"
    if not summary.ok:
        return "failed"
    if summary.error == BACKING_OFF:
        return "backing_off"
    return "not_modified" if summary.not_modified else "ok"


def chat_error_kind(error: DeliveryError) -> str:
    """``rate_limit`` (429: turned away, retried after its Retry-After), ``permanent`` (the
    channel is gone, the bot was removed: not retried) or ``transient`` (5xx, timeouts, the
    network: retried)."""
    if error.permanent:
        return "permanent"
    if error.unposted:
        return "rate_limit"
    return "transient"


class _SinceSuccess(Collector):
    """``talks_bot_source_seconds_since_success``, computed when scraped."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.last: dict[str, float] = {}

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        now = self.clock()
        for source, when in sorted(self.last.items()):
            family.add_metric([source], max(0.0, now - when))
        return [family]

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "talks_bot_source_seconds_since_success",
            "Seconds since the source's last good poll (read or 304); absent until it has one.",
            labels=["source"],
        )


class BotMetrics:
    """The bot's metrics, on a registry of their own."""

    def __init__(
        self, registry: CollectorRegistry | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.polls = Counter(
            "talks_bot_polls",
            "Polls that ended, by source and outcome.",
            ["source", "outcome"],
            registry=r,
        )
        self.fetch_seconds = Histogram(
            "talks_bot_fetch_duration_seconds",
            "Time to fetch one feed (every source together).",
            buckets=FETCH_BUCKETS,
            registry=r,
        )
        self.poll_seconds = Histogram(
            "talks_bot_poll_duration_seconds",
            "Time of one whole poll: fetch, parse, decide, save.",
            buckets=POLL_BUCKETS,
            registry=r,
        )
        self.cycle_seconds = Histogram(
            "talks_bot_poll_cycle_duration_seconds",
            "Time of one cycle over every source (poll-once, run --replay).",
            buckets=CYCLE_BUCKETS,
            registry=r,
        )
        self.items = Counter(
            "talks_bot_items_parsed", "Items read from feeds, by source.", ["source"], registry=r
        )
        self.reports = Counter(
            "talks_bot_reports_new",
            "Items the store did not hold yet (new or changed), by source.",
            ["source"],
            registry=r,
        )
        self.created = Counter(
            "talks_bot_stories_created",
            "Reports that started a new story, by source.",
            ["source"],
            registry=r,
        )
        self.attached = Counter(
            "talks_bot_stories_attached",
            "Reports that joined a known story, by source.",
            ["source"],
            registry=r,
        )
        self.alerts = Counter(
            "talks_bot_alerts_sent", "Alerts posted, by platform.", ["platform"], registry=r
        )
        self.updates = Counter(
            "talks_bot_updates_sent",
            "Posted alerts edited in place, by platform.",
            ["platform"],
            registry=r,
        )
        self.digests = Counter(
            "talks_bot_digests_sent",
            "Digests posted (folded floods, briefings), by platform.",
            ["platform"],
            registry=r,
        )
        self.chat_errors = Counter(
            "talks_bot_chat_api_errors",
            "Chat calls that failed, by platform and kind (rate_limit, transient, permanent).",
            ["platform", "kind"],
            registry=r,
        )
        self.failed = Counter(
            "talks_bot_deliveries_failed",
            "Deliveries given up for good (the reason is in status).",
            registry=r,
        )
        self.pending = Gauge(
            "talks_bot_deliveries_pending",
            "Deliveries not sent yet, by platform (read when scraped).",
            ["platform"],
            registry=r,
        )
        self.store_errors = Counter(
            "talks_bot_store_errors",
            "Database operations that failed, by what the bot was doing "
            "(poll, delivery, writer_lock, readiness, metrics).",
            ["during"],
            registry=r,
        )
        self._since = _SinceSuccess(clock)
        r.register(self._since)
        ProcessCollector(registry=r)  # process_*: memory, CPU, open files (Linux)
        PlatformCollector(registry=r)  # python_info
        self._platforms: set[str] = set()

    # --- updates ----------------------------------------------------------------------------
    def polled(self, summary: PollSummary, error: BaseException | None = None) -> None:
        """One poll ended (``PollerHooks.polled``): ``error`` when it raised instead."""
        source, outcome = summary.source, poll_outcome(summary, error)
        self.polls.labels(source, outcome).inc()
        if outcome == "unsaved":
            self.store_errors.labels("poll").inc()
        if summary.fetch_seconds is not None:
            self.fetch_seconds.observe(summary.fetch_seconds)
        if summary.seconds is not None:
            self.poll_seconds.observe(summary.seconds)
        if outcome in {"ok", "not_modified"}:
            self._since.last[source] = self._since.clock()
        if summary.items:
            self.items.labels(source).inc(summary.items)
        if summary.new_reports:
            self.reports.labels(source).inc(summary.new_reports)
        if summary.new_stories:
            self.created.labels(source).inc(summary.new_stories)
        if summary.attached:
            self.attached.labels(source).inc(summary.attached)

    def cycled(self, seconds: float) -> None:
        """One cycle over every source ended (``PollerHooks.cycled``)."""
        self.cycle_seconds.observe(seconds)

    def delivered(self, report: CourierReport) -> None:
        """A courier round ended."""
        if report.failed:
            self.failed.inc(report.failed)

    def store_failed(self, during: str) -> None:
        self.store_errors.labels(during).inc()

    def seed(self, healths: Iterable[SourceHealth]) -> None:
        """Each source's last good poll as the store remembers it (at start, before any poll)."""
        for health in healths:
            if health.last_success is not None and health.name not in self._since.last:
                self._since.last[health.name] = health.last_success.timestamp()

    def watch_platforms(self, platforms: Iterable[str]) -> None:
        """Platforms whose pending gauge shows 0 rather than nothing when none wait."""
        self._platforms.update(platforms)

    async def count_pending(self, store: Store, now: datetime) -> None:
        """Read the pending deliveries for ``talks_bot_deliveries_pending`` (at scrape time).
        StoreError propagates (counted by the caller); the previous values stay then."""
        due = await store.due_deliveries(now + PENDING_AHEAD, limit=PENDING_LIMIT)
        counts = dict.fromkeys(self._platforms, 0)
        for delivery in due:
            if delivery.status == DeliveryStatus.PENDING:
                platform = delivery.destination.platform
                counts[platform] = counts.get(platform, 0) + 1
        self.pending.clear()
        for platform, count in counts.items():
            self.pending.labels(platform).set(count)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)

    # --- wiring -----------------------------------------------------------------------------
    def instrument(self, bot: TalksBot) -> BotMetrics:
        """Hook these metrics into ``bot``'s poller and notifiers (those registered later go
        through ``counting``)."""
        bot.poller.hooks.polled = self.polled
        bot.poller.hooks.cycled = self.cycled
        for platform, notifier in list(bot.notifiers.items()):
            bot.notifiers[platform] = bot.courier.notifiers[platform] = self.counting(notifier)
        self.watch_platforms(r.destination.platform for r in bot.routes)
        return self

    def counting(self, notifier: Notifier) -> Notifier:
        if isinstance(notifier, CountingNotifier):
            return notifier
        return CountingNotifier(notifier, self)


class CountingNotifier:
    """A notifier that counts what its platform did with each call, and otherwise is the
    notifier it wraps (every other attribute, ``find_posted`` and ``connected`` included, is
    the wrapped one's, so the courier sees the same capabilities)."""

    def __init__(self, inner: Notifier, metrics: BotMetrics) -> None:
        self.inner = inner
        self.platform = inner.platform
        self._metrics = metrics

    async def send(self, destination: Destination, alert: Alert) -> str:
        with self._errors():
            message_id = await self.inner.send(destination, alert)
        self._metrics.alerts.labels(self.platform).inc()
        return message_id

    async def update(self, destination: Destination, message_id: str, alert: Alert) -> None:
        with self._errors():
            await self.inner.update(destination, message_id, alert)
        self._metrics.updates.labels(self.platform).inc()

    async def send_digest(self, destination: Destination, digest: Digest) -> str:
        with self._errors():
            message_id = await self.inner.send_digest(destination, digest)
        self._metrics.digests.labels(self.platform).inc()
        return message_id

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.inner, name)
        if name == "find_posted":

            async def find_posted(*args: Any, **kwargs: Any) -> Any:
                with self._errors():
                    return await value(*args, **kwargs)

            return find_posted
        return value

    def _errors(self) -> _CountErrors:
        return _CountErrors(self._metrics, self.platform)


class _CountErrors:
    """Counts a DeliveryError passing through (and lets it pass)."""

    __slots__ = ("metrics", "platform")

    def __init__(self, metrics: BotMetrics, platform: str) -> None:
        self.metrics = metrics
        self.platform = platform

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        if isinstance(error, DeliveryError):
            self.metrics.chat_errors.labels(self.platform, chat_error_kind(error)).inc()
