"""Composition root: configuration in, a running desk out.

``TalksBot`` wires the parts: the store, the fetcher, the desk (dedup, score, summarise, route),
the courier (the outbox) and the notifiers. ``poll_source`` is the whole story of one poll:
fetch, parse, normalise, decide, save in one transaction; the courier then delivers. One failing
source is recorded in its health row and never stops the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import signal
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from bot.chat.console import ConsoleNotifier
from bot.config import Config, Settings, SourceConfig
from bot.core import messages as say
from bot.core.boilerplate import strip_boilerplate
from bot.core.commands import Commands, build_status
from bot.core.courier import Courier, CourierReport
from bot.core.dedup import DedupSettings
from bot.core.desk import Desk, DeskSettings, Outcome
from bot.core.models import Destination, Digest, RawItem, Report, SourceHealth, Verdict
from bot.core.normalize import (
    Identity,
    SourceInfo,
    canonical_url,
    dated_times,
    identify,
    normalize_item,
)
from bot.core.ports import Notifier, PollRecord
from bot.core.route import Route
from bot.core.schedule import PollBounds, poll_interval, retry_delay
from bot.errors import DeliveryError, FeedError, FetchError, StoreError, TalksBotError
from bot.ingest.article import fetch_article_text
from bot.ingest.feeds import parse_feed
from bot.ingest.fetch import DEFAULT_USER_AGENT, Fetcher, backoff_delay
from bot.store import open_store
from bot.store.writer import AnotherWriter, writer_lock

log = logging.getLogger("talks_bot")

CYCLE_CONCURRENCY = 32
"""Polls in flight at once in a ``poll-once`` cycle. Network waits overlap well below this; more
only queues coroutines on the database and the outbox lock (1,000 at once ran 2x slower)."""

STUB_CHARS = 160
"""A lead shorter than this is a stub: with ``full_text`` on, the article page is read instead."""

SCHEDULER_LOGGER = "apscheduler.scheduler"

WRITER_CHECK_SECONDS = 5.0
"""How often a running bot makes sure it still holds the writer lock."""
OPEN_PATIENCE_SECONDS = 30.0
"""How long start-up waits for a database server that ends its sessions (restarting)."""
BRIEFING_ATTEMPTS = 4
"""Tries of one scheduled briefing turned away by a rate limit, before it is given up."""
BRIEFING_MAX_WAIT = 300.0
"""The longest wait between those tries (a bad Retry-After must not hold the job for a day)."""
ROUND_PATIENCE_SECONDS = 2.0
"""The longest a delivery round waits for one destination; a slower one finishes on its own."""
STOP_GRACE_SECONDS = 3.0
"""At stop, how long destinations still taking their messages get before they are cut off."""


def desk_settings(config: Config) -> DeskSettings:
    """The desk's tuning, as the configuration sets it."""
    return DeskSettings(
        max_item_age=config.bot.max_item_age,
        urgent_score=config.bot.urgent_score,
        summary_chars=config.bot.summary_max_chars,
        summary_sentences=config.bot.summary_sentences,
        flood_max=config.flood.max_alerts,
        flood_per=config.flood.per,
        dedup=DedupSettings(window=config.bot.dedup_window),
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


def resolve_url(url: str, base_dir: Path) -> str:
    """``file://relative/path`` resolves against the project folder of the config file."""
    if url.startswith("file://") and not url.startswith("file:///"):
        return (base_dir / url.removeprefix("file://")).resolve().as_uri()
    return url


@dataclass(slots=True)
class PollSummary:
    """What one poll of one source did, for logs and the CLI."""

    source: str
    ok: bool
    not_modified: bool = False
    items: int = 0
    new_reports: int = 0
    new_stories: int = 0
    alerts: int = 0
    updates: int = 0
    error: str | None = None
    cache_max_age: float | None = None
    """The response's Cache-Control max-age (adaptive polling honours it)."""
    next_poll: datetime | None = None
    """When this source is due again (adaptive interval, or backoff after a failure)."""
    unsaved: bool = False
    """The poll crashed or its save failed: its items are decided again next time."""


@dataclass(slots=True)
class PollWatch:
    """A scheduled poll in progress: since when (loop time), what it is doing, whether it was
    reported stuck."""

    started: float
    doing: str = "database"
    """``database``, ``feed``, ``articles`` or ``outbox`` (see ``messages.poll_stuck``)."""
    stuck: bool = False


class QuietSkips(logging.Filter):
    """Drops APScheduler's warning that a poll job was skipped because its last run is still
    going: it would repeat at every tick for as long as the poll hangs. The bot reports such a
    poll itself, once, naming the source and what it waits on (``TalksBot._report_stuck``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "maximum number of running instances" not in str(record.msg):
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        job_id = str(getattr(args[0], "id", "")) if args else ""
        return not job_id.startswith("poll:")


@dataclass(slots=True)
class CycleSummary:
    polls: list[PollSummary] = field(default_factory=list)
    delivery: CourierReport = field(default_factory=CourierReport)

    @property
    def failed(self) -> list[PollSummary]:
        return [p for p in self.polls if not p.ok]


OFF_LOOP_BYTES = 1_000_000
"""Documents this big are parsed in a worker thread, so slash commands (Slack wants an answer
within 3 s) are answered while a huge feed is read; smaller ones cost less on the loop."""

ONCE_MAX_ROUNDS = 1000
"""``poll-once`` delivers in rounds until nothing is left: a bound, not a target."""


class TalksBot:
    """The running bot. Use as ``async with TalksBot(settings) as bot:``."""

    def __init__(
        self,
        settings: Settings,
        *,
        output: str = "text",
        out: TextIO | None = None,
        replay: bool = False,
        clock: Any = utcnow,
        notifiers: dict[str, Notifier] | None = None,
        rng: random.Random | None = None,
        writer: bool = False,
    ) -> None:
        """``writer``: this process polls and posts (``run``, ``poll-once``), so it holds the
        database's writer lock while open and refuses to start beside another writer."""
        self.settings = settings
        self.config = settings.config
        self.replay = replay
        self.clock = clock
        self.rng = rng or random.Random()
        self._crashes: dict[str, int] = {}
        """Polls in a row that crashed or were not saved, per source (for their backoff)."""
        self._parse_warned: set[tuple[str, str]] = set()
        """(source, warning) already logged: a feed's standing quirk is said once, not per poll."""
        cfg = self.config
        self.sources = [s for s in cfg.sources if s.enabled]
        self.topics = cfg.topic_models
        self.store = open_store(settings.database_url, timeout=cfg.store.timeout.total_seconds())
        self._writer = writer_lock(settings.database_url) if writer else None
        self.lost_writer = False
        """Set when another process took the writer lock while this one ran (it then stops)."""
        self.fetcher = Fetcher(
            timeout=cfg.fetch.timeout.total_seconds(),
            deadline=cfg.fetch.deadline.total_seconds(),
            max_bytes=cfg.fetch.max_bytes,
            max_redirects=cfg.fetch.max_redirects,
            user_agent=cfg.fetch.user_agent or DEFAULT_USER_AGENT,
            max_per_host=cfg.fetch.max_per_host,
        )
        self.tz = ZoneInfo(cfg.bot.timezone)
        self.console = ConsoleNotifier(out, jsonl=output == "jsonl", tz=self.tz)
        self.notifiers: dict[str, Notifier] = {"console": self.console}
        if notifiers:
            self.notifiers.update(notifiers)
        self.routes = [
            Route(
                Destination(r.platform, r.channel, r.workspace),
                tuple(r.topics),
                r.min_score,
                r.style,
                r.digest,
                r.push,
            )
            for r in cfg.routes
        ]
        self.desk = Desk(
            self.store,
            self.topics,
            self.routes,
            desk_settings(cfg),
            source_weights={s.name: s.weight for s in self.sources},
        )
        self.courier = Courier(
            self.store, self.notifiers, self.clock, flood_per=cfg.flood.per, rng=self.rng
        )
        self.commands = Commands(
            self.store,
            self.topics,
            self.clock,
            urgent_score=cfg.bot.urgent_score,
            status_top=cfg.bot.status_top,
            sources=[s.name for s in self.sources],
        )
        self._wake = asyncio.Event()
        # A destination's turn that outlasted its round ends: its alerts that came meanwhile go.
        self.courier.on_free = self._wake.set
        self._briefings_due: set[Destination] = set()
        """Destinations whose scheduled digest is due: the courier's next round sends them the
        background held for it."""
        self._desk_loaded = False
        self._scheduler: Any = None
        """The running APScheduler (set by ``run``): each poll moves its own next run."""
        self._article_slots = asyncio.Semaphore(4)
        self._polls: dict[str, PollWatch] = {}
        """Scheduled polls running now, by source."""
        self._intervals: dict[str, float] = {}
        """Seconds from the end of each source's last scheduled poll to its next run."""

    async def __aenter__(self) -> TalksBot:
        await self.open()
        return self

    async def _connect(self) -> None:
        """Take the writer lock and open the store. A server that ends the session while the
        bot starts (a restart, a failover) is waited for, up to ``OPEN_PATIENCE_SECONDS``, one
        line per try; any other refusal (credentials, a missing database) fails at once."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + OPEN_PATIENCE_SECONDS
        pause = 0.5
        while True:
            try:
                if self._writer is not None:
                    await self._writer.acquire()
                try:
                    await self.store.open()
                except BaseException:
                    if self._writer is not None:
                        await self._writer.release()
                    raise
                return
            except StoreError as exc:
                if not exc.dropped or loop.time() + pause > give_up:
                    raise
                log.warning("%s", say.database_not_ready(exc, pause))
            await asyncio.sleep(pause)
            pause = min(pause * 2, 4.0)

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        await self._connect()
        try:
            loaded = await self.desk.start(self.clock())
        except StoreError as exc:
            # A database that answered the migrations and then dropped the connection: start
            # anyway; the desk is loaded before its first decision (``_ready_desk``).
            log.warning(
                "recent stories not loaded yet, trying again before the first poll: %s", exc
            )
            return
        self._desk_loaded = True
        log.debug("loaded %d recent stories into the dedup window", loaded)

    async def _ready_desk(self) -> None:
        """Reload the desk's memory from the store if a failed save made it untrustworthy."""
        if not self._desk_loaded:
            await self.desk.start(self.clock())
            self._desk_loaded = True

    async def close(self) -> None:
        await self.fetcher.aclose()
        try:
            await self.store.close()
        finally:
            if self._writer is not None:
                await self._writer.release()

    def add_notifier(self, notifier: Notifier) -> None:
        """Deliver to ``notifier.platform`` from now on (chat adapters register at start-up)."""
        self.notifiers[notifier.platform] = notifier
        self.courier.notifiers[notifier.platform] = notifier

    # --- polling -------------------------------------------------------------------------------
    def _info(self, source: SourceConfig) -> SourceInfo:
        return SourceInfo(source.name, source.outlet, source.weight, source.aggregator)

    async def _fetch_items(
        self, source: SourceConfig, health: SourceHealth, now: datetime
    ) -> tuple[SourceHealth, list[RawItem] | None, PollSummary]:
        """Fetch and parse one source. Returns (health, items or None when unchanged, summary)."""
        summary = PollSummary(source.name, ok=True)
        url = resolve_url(source.url, self.settings.base_dir)
        try:
            result = await self.fetcher.fetch(
                url,
                etag=None if self.replay else health.etag,
                last_modified=None if self.replay else health.last_modified,
            )
        except FetchError as exc:
            return (
                self._failed(health, str(exc), now, exc.retry_after),
                None,
                summary_error(summary, str(exc)),
            )
        summary.cache_max_age = result.cache_max_age
        if result.not_modified:
            summary.not_modified = True
            return self._succeeded(health, now, result.etag, result.last_modified), None, summary
        raws: list[RawItem] = []
        problems: list[str] = []
        for document in result.documents:
            try:
                if len(document.body) >= OFF_LOOP_BYTES:
                    kind = document.content_type
                    parsed = await asyncio.to_thread(
                        parse_feed, document.body, url=result.url, content_type=kind
                    )
                else:
                    parsed = parse_feed(
                        document.body, url=result.url, content_type=document.content_type
                    )
            except FeedError as exc:
                name = f"{document.name}: " if len(result.documents) > 1 else ""
                problems.append(f"{name}{exc}")
                continue
            raws.extend(parsed.items)
            for warning in parsed.warnings:
                if (source.name, warning) not in self._parse_warned:
                    self._parse_warned.add((source.name, warning))
                    log.warning("%s", say.feed_quirk(source.name, warning))
        if problems and not raws:
            message = problems[0] + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
            return self._failed(health, message, now, None), None, summary_error(summary, message)
        for problem in problems:
            log.warning("source %s: %s", source.name, problem)
        summary.items = len(raws)
        health = self._succeeded(health, now, result.etag, result.last_modified)
        return health, raws, summary

    def _succeeded(
        self, health: SourceHealth, now: datetime, etag: str | None, last_modified: str | None
    ) -> SourceHealth:
        return replace(
            health,
            etag=etag,
            last_modified=last_modified,
            last_polled=now,
            last_success=now,
            consecutive_failures=0,
            failing_since=None,
            next_poll_after=None,
        )

    def _failed(
        self, health: SourceHealth, error: str, now: datetime, retry_after: float | None
    ) -> SourceHealth:
        failures = health.consecutive_failures + 1
        fetch = self.config.fetch
        delay = backoff_delay(
            failures,
            base=fetch.backoff_base.total_seconds(),
            cap=fetch.backoff_max.total_seconds(),
            rng=self.rng,
        )
        wait = retry_delay(delay, retry_after)
        log.warning("source %s failed (%d in a row): %s", health.name, failures, error)
        return replace(
            health,
            last_polled=now,
            last_error=error,
            last_error_at=now,
            failing_since=health.failing_since or now,
            consecutive_failures=failures,
            next_poll_after=now + wait,
        )

    def poll_bounds(self, source: SourceConfig) -> PollBounds:
        """The adaptive-polling bounds of a source (see ``bot.core.schedule``).

        A source with its own ``interval`` is polled at that fixed interval unless it also sets
        ``min_interval`` / ``max_interval``; the others adapt between the ``[bot]`` bounds.
        """
        bot_cfg = self.config.bot
        if source.interval is not None:
            interval = source.interval
            low, high = source.min_interval or interval, source.max_interval or interval
        else:
            interval = bot_cfg.poll_interval
            low = source.min_interval or min(bot_cfg.min_poll_interval, interval)
            high = source.max_interval or max(bot_cfg.max_poll_interval, interval)
        low = min(low, interval)
        return PollBounds(interval, low, max(high, interval))

    def _reschedule(
        self,
        source: SourceConfig,
        before: SourceHealth,
        health: SourceHealth,
        summary: PollSummary,
        items: Sequence[RawItem] | None,
        new_items: int,
        now: datetime,
    ) -> SourceHealth:
        """``health`` with ``next_poll_after`` set from the source's publishing pace."""
        previous = None
        if before.consecutive_failures == 0 and before.next_poll_after and before.last_polled:
            previous = before.next_poll_after - before.last_polled
        interval = poll_interval(
            self.poll_bounds(source),
            now,
            published=None if items is None else dated_times(items, now),
            new_items=new_items,
            previous=previous,
            max_age=summary.cache_max_age,
        )
        return replace(health, next_poll_after=now + interval)

    async def _health(self, source: SourceConfig) -> SourceHealth:
        stored = await self.store.get_source(source.name)
        url = source.url
        if stored is None:
            return SourceHealth(source.name, url)
        if stored.url != url:
            # The operator changed the address: forget the old validators.
            return replace(stored, url=url, etag=None, last_modified=None)
        return stored

    async def _new_reports(
        self, source: SourceConfig, items: Sequence[RawItem], now: datetime
    ) -> list[Report]:
        """The items the store does not already hold unchanged (most of every poll), as reports.

        Identities (key and headline) are compared first, so held items never pay for HTML and
        boilerplate cleaning. Items that share a guid but not a link are told apart (see
        ``_distinct_keys``); a true repeat (same guid, same link) keeps its first copy.
        """
        info = self._info(source)
        found = _distinct_keys(source.name, _identified(source.name, items, info))
        untitled = [
            _normalized(source.name, raw, info, now) for raw, ident in found if ident is None
        ]
        keys = [i.key for _raw, i in found if i] + [r.key for r in untitled if r]
        known = await self.store.known_reports(source.name, keys)
        reports: dict[str, Report] = {}
        seen: set[str] = set()
        for raw, ident in found:
            if ident is None or ident.key in seen:
                continue
            seen.add(ident.key)
            if known.get(ident.key) != ident.title:
                report = _normalized(source.name, raw, info, now, ident)
                if report is not None:
                    reports[report.key] = report
        for untitled_report in untitled:
            if untitled_report is None or untitled_report.key in seen:
                continue
            seen.add(untitled_report.key)
            if known.get(untitled_report.key) != untitled_report.title:
                reports[untitled_report.key] = untitled_report
        fresh = list(reports.values())
        if self.config.bot.full_text:
            self._doing(source, "articles")
            fresh = list(await asyncio.gather(*(self._with_full_text(r) for r in fresh)))
            self._doing(source, "database")
        return fresh

    async def _with_full_text(self, report: Report) -> Report:
        """A stub lead (a headline-only feed) replaced by the article page's own text."""
        if len(report.text) >= STUB_CHARS or not report.url.startswith(("http://", "https://")):
            return report
        async with self._article_slots:
            try:
                text = await fetch_article_text(
                    report.url, self.fetcher, allow_private=self.config.bot.full_text_allow
                )
            except FetchError as exc:
                log.info("no full text for %s: %s", report.url, exc)
                return report
        if not text:
            return report
        # Boilerplate patterns work line by line: strip first, then join the lines.
        lead = " ".join(strip_boilerplate(text).split())[:4000]
        return replace(report, text=lead) if len(lead) > len(report.text) else report

    async def poll_source(self, source: SourceConfig, *, force: bool = False) -> PollSummary:
        """One live poll: fetch, decide with the clock's time, save, wake the courier."""
        now = self.clock()
        self._doing(source, "database")
        before = await self._health(source)
        # Only a failing source's backoff holds a poll back here; the scheduler times the rest,
        # so ``poll-once`` always polls a healthy source.
        due = before.next_poll_after
        if not force and before.consecutive_failures and due is not None and now < due:
            return PollSummary(source.name, ok=True, error="backing off", next_poll=due)
        self._doing(source, "feed")
        health, items, summary = await self._fetch_items(source, before, now)
        self._doing(source, "database")
        if items is None:
            if summary.ok:
                health = self._reschedule(source, before, health, summary, None, 0, now)
            summary.next_poll = health.next_poll_after
            await self.store.save_source(health)
            return summary
        first_poll = health.first_polled is None
        fresh = await self._new_reports(source, items, now)
        fresh.sort(key=lambda r: (r.published, r.key))
        # Decided and saved under the outbox lock: the courier cannot record a send in between
        # and have it overwritten by the desk's older copy of the delivery.
        self._doing(source, "outbox")
        async with self.courier.lock, self._deciding():
            self._doing(source, "database")
            await self._ready_desk()
            # A source's first poll records undated items as seen: their age is unknown.
            outcome = await self.desk.take(
                fresh, now_of=lambda _r: now, quiet=lambda r: first_poll and not r.dated
            )
            health = replace(
                health,
                first_polled=health.first_polled or now,
                items_seen=health.items_seen + len(fresh),
            )
            health = self._reschedule(source, before, health, summary, items, len(fresh), now)
            summary.next_poll = health.next_poll_after
            await self._commit(health, outcome)
        self._summarise(summary, outcome, len(fresh))
        self._wake.set()
        return summary

    async def poll_all(self) -> CycleSummary:
        """One cycle over every source. With ``replay`` the items of all sources are merged and
        judged in published order, each at its own published time."""
        cycle = CycleSummary()
        if not self.replay:
            slots = asyncio.Semaphore(CYCLE_CONCURRENCY)

            async def one(source: SourceConfig) -> PollSummary:
                async with slots:
                    try:
                        return await self.poll_source(source)
                    except StoreError as exc:
                        log.error("poll of %s not saved: %s", source.name, exc)
                        return PollSummary(
                            source.name, ok=False, error=f"not saved: {exc}", unsaved=True
                        )
                    except Exception as exc:  # one source's crash never costs another
                        log.exception("poll of %s crashed; the other sources go on", source.name)
                        return PollSummary(
                            source.name, ok=False, error=f"crashed: {exc!r}", unsaved=True
                        )

            cycle.polls = list(await asyncio.gather(*(one(s) for s in self.sources)))
            return cycle
        now = self.clock()
        batch: list[Report] = []
        healths: list[SourceHealth] = []
        for source in self.sources:
            health = await self._health(source)
            health, items, summary = await self._fetch_items(source, health, now)
            cycle.polls.append(summary)
            if items:
                fresh = await self._new_reports(source, items, now)
                batch.extend(fresh)
                summary.new_reports = len(fresh)
                health = replace(
                    health,
                    first_polled=health.first_polled or now,
                    items_seen=health.items_seen + len(fresh),
                )
            healths.append(health)
        batch.sort(key=lambda r: (r.published, r.source, r.key))
        for health in healths:
            await self.store.save_source(health)
        by_source = {p.source: p for p in cycle.polls}
        # Hour by hour of published time: decide, save, deliver — as the desk would have seen it
        # live, so a later outlet's report updates an alert in place rather than being pre-merged.
        for chunk in _by_hour(batch):
            async with self.courier.lock, self._deciding():
                await self._ready_desk()
                # An undated item has no time to be judged at in a replay: it joins, never alerts.
                outcome = await self.desk.take(
                    chunk, now_of=lambda r: r.published, quiet=lambda r: not r.dated
                )
                if healths:
                    await self._commit(healths[-1], outcome)
            for decision in outcome.decisions:
                poll = by_source.get(decision.report.source)
                if poll is not None:
                    poll.alerts += len(decision.alerted)
                    poll.updates += len(decision.updated)
                    poll.new_stories += decision.dedup.verdict is Verdict.NEW
            if outcome.deliveries:
                report = await self.deliver()
                cycle.delivery.sent += report.sent
                cycle.delivery.updated += report.updated
                cycle.delivery.folded += report.folded
                cycle.delivery.digests += report.digests
        return cycle

    async def _commit(self, health: SourceHealth, outcome: Outcome) -> None:
        record = PollRecord(
            source=health,
            stories=tuple(outcome.stories.values()),
            deliveries=tuple(outcome.deliveries.values()),
        )
        await self.store.commit_poll(record)

    @contextlib.asynccontextmanager
    async def _deciding(self) -> AsyncIterator[None]:
        """Around a decision and its save: when anything fails in between (a store error or an
        exception nobody foresaw), the decision was not saved, so it is forgotten in memory too
        and the next poll decides those reports again. A fresh desk, reloaded from the store
        before its next decision: the old one holds the unsaved stories and would call their
        reports repeats."""
        try:
            yield
        except BaseException:
            old = self.desk
            self.desk = Desk(old.store, old.topics, old.routes, old.settings, old.source_weights)
            self._desk_loaded = False
            raise

    @staticmethod
    def _summarise(summary: PollSummary, outcome: Outcome, new_reports: int) -> None:
        summary.new_reports = new_reports
        for decision in outcome.decisions:
            summary.alerts += len(decision.alerted)
            summary.updates += len(decision.updated)
            summary.new_stories += decision.dedup.verdict is Verdict.NEW

    async def deliver(self, *, flush_digests: bool = False) -> CourierReport:
        return await self.courier.run_once(flush_digests=flush_digests)

    async def poll_once(self) -> CycleSummary:
        """``talks-bot poll-once``: one cycle, deliver everything (digests included), return."""
        cycle = await self.poll_all()
        # A courier round reads a bounded batch: keep going until a round has nothing left to
        # do, or only deliveries that must wait (a chat outage), so none is left behind.
        for _ in range(ONCE_MAX_ROUNDS):
            final = await self.deliver(flush_digests=True)
            for name in ("sent", "updated", "folded", "digests", "retrying", "failed"):
                setattr(cycle.delivery, name, getattr(cycle.delivery, name) + getattr(final, name))
            if not (final.sent or final.updated or final.folded or final.failed or final.adopted):
                break
        return cycle

    # --- scheduled digests ---------------------------------------------------------------------
    async def send_briefing(self, route: Route, period: timedelta = timedelta(hours=12)) -> None:
        """A scheduled briefing to one route: the top developments, from the same data as status;
        then the background the route held for it, from the courier's own round (one round at a
        time: two could post the same delivery twice)."""
        try:
            await self._send_top(route, period)
        finally:
            self._briefings_due.add(route.destination)
            self._wake.set()

    async def _send_top(self, route: Route, period: timedelta) -> None:
        now = self.clock()
        reply = await build_status(self.store, self.topics, None, now, period, top=8)
        stories = []
        for section in reply.sections:
            if section.kind == "stories":
                ids = [item.fields.get("id", "") for item in section.items]
                for story_id in ids:
                    story = await self.store.get_story(story_id)
                    if story is not None:
                        stories.append(story)
        alerts = tuple(
            self.desk.alert_for(s, [x.topic for x in s.scores if x.score > 0][:3]) for s in stories
        )
        notifier = self.notifiers.get(route.destination.platform)
        if notifier is None or not alerts:
            return
        digest = Digest(
            id=f"briefing-{now:%Y%m%d%H%M}",
            alerts=alerts,
            created=now,
            title=f"Briefing: the talks in the last {int(period.total_seconds() // 3600)}h",
        )
        label = route.destination.label
        for attempt in range(1, BRIEFING_ATTEMPTS + 1):
            try:
                await notifier.send_digest(route.destination, digest)
                return
            except DeliveryError as exc:
                # Only a message the platform turned away (a rate limit) is sent again: after a
                # 5xx or a lost answer it may have been posted, and a briefing twice is noise.
                if not exc.unposted or exc.permanent or attempt == BRIEFING_ATTEMPTS:
                    log.error("%s", say.briefing_failed(label, exc))
                    return
                wait = min(max(exc.retry_after or 0.0, 1.0), BRIEFING_MAX_WAIT)
                log.warning("%s", say.briefing_waits(label, wait, attempt, BRIEFING_ATTEMPTS))
                await asyncio.sleep(wait)
            except TalksBotError as exc:
                log.error("%s", say.briefing_failed(label, exc))
                return

    # --- running -------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None, extra_tasks: Sequence[Any] = ()) -> None:
        """Poll on schedule and deliver until ``stop`` is set (SIGINT/SIGTERM set it)."""
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        bot_cfg = self.config.bot
        quiet = QuietSkips()
        scheduler_log = logging.getLogger(SCHEDULER_LOGGER)
        scheduler = AsyncIOScheduler(timezone=UTC, logger=scheduler_log)
        start = self.clock()
        stored = {h.name: h for h in await self.store.list_sources()}
        self._scheduler = scheduler
        if self.replay and self.sources:
            # A replay judges every source's items together in published order, each at its
            # own time (``poll_all``), as ``poll-once --replay`` does: the live per-source polls
            # below would judge yesterday's captured feeds at today's time and alert nothing.
            every = min(self.poll_bounds(s).interval for s in self.sources)
            scheduler.add_job(
                self._replay_job,
                IntervalTrigger(seconds=every.total_seconds()),
                id="replay",
                next_run_time=start,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=int(bot_cfg.misfire_grace.total_seconds()),
            )
        for i, source in enumerate([] if self.replay else self.sources):
            # Stagger the first polls so a restart does not hit every host at once; a failing
            # source keeps its backoff (and the server's Retry-After) across the restart.
            first = start + timedelta(seconds=min(i * 0.5, 30))
            health = stored.get(source.name)
            if health and health.consecutive_failures and health.next_poll_after:
                first = max(first, health.next_poll_after)
            scheduler.add_job(
                self._poll_job,
                # Each poll moves its own next run (adaptive interval, backoff); the trigger's
                # interval is only the safety net should a poll fail to.
                IntervalTrigger(seconds=self.poll_bounds(source).maximum.total_seconds()),
                args=[source],
                id=f"poll:{source.name}",
                next_run_time=first,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=int(bot_cfg.misfire_grace.total_seconds()),
            )
        for route in self.routes:
            if route.digest_cron:
                scheduler.add_job(
                    self.send_briefing,
                    CronTrigger.from_crontab(route.digest_cron, timezone=self.tz),
                    args=[route],
                    id=f"briefing:{route.destination.label}",
                    coalesce=True,
                    max_instances=1,
                    misfire_grace_time=int(bot_cfg.misfire_grace.total_seconds()),
                )
        scheduler_log.addFilter(quiet)
        scheduler.start()
        courier = asyncio.create_task(self._courier_loop(stop), name="courier")
        tasks = [courier, *extra_tasks]
        if self._writer is not None:
            tasks.append(asyncio.create_task(self._hold_writer(stop), name="writer lock"))
        log.info(
            "talks-bot running: %d sources, %d topics, %d routes; Ctrl-C to stop",
            len(self.sources),
            len(self.topics),
            len(self.routes),
        )
        try:
            await stop.wait()
        finally:
            log.info("stopping: finishing deliveries in flight")
            scheduler.shutdown(wait=False)
            scheduler_log.removeFilter(quiet)
            self._wake.set()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.gather(courier, return_exceptions=True), 10)
            # A destination still taking its messages gets a moment; what it has not sent stays
            # pending (its attempt is recorded, so the next start looks before posting again).
            await self.courier.settle(STOP_GRACE_SECONDS)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _replay_job(self) -> None:
        """``run --replay``: one replay cycle over every source; a failure is logged, and the
        next cycle tries again (what was saved is held, so nothing alerts twice)."""
        try:
            await self.poll_all()  # a failing source is logged where it fails (``_failed``)
        except StoreError as exc:
            log.error("%s", say.replay_not_saved(exc))
        except Exception:
            log.exception("%s", say.replay_crashed())

    async def _poll_job(self, source: SourceConfig) -> None:
        """A scheduled poll, watched: still running when its next run is due, it is reported
        once (``_report_stuck``), and once more when it ends."""
        loop = asyncio.get_running_loop()
        watch = self._polls[source.name] = PollWatch(loop.time())
        interval = self._intervals.get(source.name)
        if interval is None:
            interval = self.poll_bounds(source).interval.total_seconds()
        timer = loop.call_later(interval, self._report_stuck, source.name, watch, interval)
        try:
            await self._poll_and_reschedule(source)
        finally:
            timer.cancel()
            if self._polls.get(source.name) is watch:
                del self._polls[source.name]
            if watch.stuck:
                log.info(say.poll_unstuck(source.name, loop.time() - watch.started))

    def _report_stuck(self, source: str, watch: PollWatch, interval: float) -> None:
        watch.stuck = True
        running = asyncio.get_running_loop().time() - watch.started
        log.warning(say.poll_stuck(source, running, interval, watch.doing))

    def _doing(self, source: SourceConfig, what: str) -> None:
        """Note what a scheduled poll of ``source`` waits on now, for a stuck report."""
        watch = self._polls.get(source.name)
        if watch is not None:
            watch.doing = what

    async def _poll_and_reschedule(self, source: SourceConfig) -> None:
        summary: PollSummary | None = None
        unsaved = False
        try:
            summary = await self.poll_source(source)
        except StoreError as exc:
            unsaved = True
            log.error("poll of %s not saved: %s", source.name, exc)
        except Exception:
            log.exception("poll of %s crashed; the other sources go on", source.name)
        due = summary.next_poll if summary else None
        if summary is None:
            # A poll that crashed backs off like a failing fetch, so a source that breaks every
            # poll is not hammered at its interval. One the database did not save is not the
            # source's fault: its reports wait to be decided again, so it comes back soon (the
            # source's own interval, doubling while the database stays away).
            crashes = self._crashes[source.name] = self._crashes.get(source.name, 0) + 1
            fetch = self.config.fetch
            interval = self.poll_bounds(source).interval.total_seconds()
            delay = backoff_delay(
                crashes,
                base=min(interval, fetch.backoff_base.total_seconds())
                if unsaved
                else fetch.backoff_base.total_seconds(),
                cap=fetch.backoff_max.total_seconds(),
                rng=self.rng,
            )
            due = self.clock() + timedelta(seconds=max(interval, delay))
        else:
            self._crashes.pop(source.name, None)
        self._schedule_next(source, due)
        if summary is None:
            return
        if summary.alerts or summary.updates:
            log.info(
                "%s: %d new reports, %d alerts, %d updates",
                source.name,
                summary.new_reports,
                summary.alerts,
                summary.updates,
            )

    def _schedule_next(self, source: SourceConfig, due: datetime | None) -> None:
        """Move the source's job to when it is due (plus jitter); the configured interval after
        a poll that set no time (it crashed, or was not saved)."""
        from apscheduler.jobstores.base import JobLookupError
        from apscheduler.schedulers import SchedulerNotRunningError

        scheduler = self._scheduler
        if scheduler is None:
            return
        if due is None:
            due = self.clock() + self.poll_bounds(source).interval
        jitter = self.config.bot.poll_jitter.total_seconds()
        when = due + timedelta(seconds=self.rng.uniform(0, jitter))
        self._intervals[source.name] = max((when - self.clock()).total_seconds(), 0.1)
        with contextlib.suppress(JobLookupError, SchedulerNotRunningError):
            scheduler.modify_job(f"poll:{source.name}", next_run_time=when)

    async def _hold_writer(self, stop: asyncio.Event) -> None:
        """Keep the writer lock while running: a PostgreSQL restart ends the lock's session, and
        another process may take it then. Taken back at once when free; when someone else has
        it, this bot stops (two writers would post every alert twice)."""
        assert self._writer is not None
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), WRITER_CHECK_SECONDS)
            if stop.is_set():
                return
            try:
                await self._writer.check()
            except AnotherWriter as exc:
                log.error("%s", say.writer_lost(exc))
                self.lost_writer = True
                stop.set()
            except StoreError as exc:
                log.warning("%s", say.writer_unchecked(exc))

    async def _courier_loop(self, stop: asyncio.Event) -> None:
        while True:
            # Cleared before the round, not after: a poll that saves alerts while this round is
            # sending wakes the next round at once instead of waiting out the timeout.
            self._wake.clear()
            briefings, self._briefings_due = self._briefings_due, set()
            try:
                # Once stopping, no new message is started: the rest stays pending for next time.
                # A destination slow to answer is not waited for beyond ROUND_PATIENCE_SECONDS:
                # it finishes by itself while the next rounds serve everyone else.
                report = await self.courier.run_once(
                    stop=stop, briefings=briefings, patience=ROUND_PATIENCE_SECONDS
                )
                # A briefing for a destination still busy with an earlier turn waits for it.
                self._briefings_due |= briefings & set(report.busy)
            except StoreError as exc:
                self._briefings_due |= briefings
                log.error("outbox not reachable, retrying: %s", exc)
            except Exception:
                self._briefings_due |= briefings
                log.exception("delivery round crashed; retrying")
            if stop.is_set():
                return
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=5)


def _by_hour(reports: Sequence[Report]) -> list[list[Report]]:
    """Consecutive runs of (published-sorted) reports within the same clock hour."""
    chunks: list[list[Report]] = []
    for report in reports:
        hour = report.published.replace(minute=0, second=0, microsecond=0)
        if chunks and chunks[-1][0].published.replace(minute=0, second=0, microsecond=0) == hour:
            chunks[-1].append(report)
        else:
            chunks.append([report])
    return chunks


def summary_error(summary: PollSummary, error: str) -> PollSummary:
    summary.ok = False
    summary.error = error
    return summary


def _distinct_keys(
    source: str, found: list[tuple[RawItem, Identity | None]]
) -> list[tuple[RawItem, Identity | None]]:
    """Items of one document that share a guid but not a link (a feed that gives every item
    guid "1") are different items: each later one gets the guid plus a digest of its link (or
    headline) as its key, and the source gets one warning. Keys stay stable across polls."""
    links: dict[str, str] = {}
    shared: set[str] = set()
    out: list[tuple[RawItem, Identity | None]] = []
    for raw, ident in found:
        if ident is None:
            out.append((raw, ident))
            continue
        link = canonical_url(raw.link) or ident.title
        first = links.setdefault(ident.key, link)
        if first != link:
            shared.add(ident.key)
            digest = hashlib.sha1(link.encode("utf-8", "replace")).hexdigest()[:12]
            ident = replace(ident, key=f"{ident.key[:480]}#{digest}")
        out.append((raw, ident))
    if shared:
        log.warning(
            "source %s: %d guid(s) given to several items (e.g. %r); told apart by their links, "
            "nothing dropped",
            source,
            len(shared),
            sorted(shared)[0][:60],
        )
    return out


def _identified(
    source: str, items: Sequence[RawItem], info: SourceInfo
) -> list[tuple[RawItem, Identity | None]]:
    """Each item with its identity; an item that breaks the reading is skipped with a warning
    naming the source, and costs no other item anything."""
    out: list[tuple[RawItem, Identity | None]] = []
    for raw in items:
        try:
            out.append((raw, identify(raw, info)))
        except Exception as exc:  # one bad item must never cost the rest of the feed
            _skip(source, raw, exc)
    return out


def _normalized(
    source: str,
    raw: RawItem,
    info: SourceInfo,
    now: datetime,
    identity: Identity | None = None,
) -> Report | None:
    try:
        return normalize_item(raw, info, now, identity)
    except Exception as exc:  # one bad item must never cost the rest of the feed
        _skip(source, raw, exc)
        return None


def _skip(source: str, raw: RawItem, exc: Exception) -> None:
    log.warning(
        "source %s: skipped one item (%s: %s); the others are read",
        source,
        type(exc).__name__,
        str(exc)[:200],
    )
