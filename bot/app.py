"""Composition root: configuration in, a running desk out.

``TalksBot`` wires the parts and schedules them: the store, the fetcher, the poller (the one
path from a feed to a saved decision, ``bot.poller``), the courier (the outbox, ``bot.courier``),
the commands and the notifiers; then ``run`` polls each source on its own adaptive schedule,
delivers as polls save alerts, sends scheduled briefings, and keeps the writer lock. A poll that
crashes or is not saved comes back after the one backoff policy's wait; one source never stops
the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO
from zoneinfo import ZoneInfo

from bot import sdnotify
from bot.chat.console import ConsoleNotifier
from bot.config import Config, Settings, SourceConfig
from bot.core import messages as say
from bot.core.backoff import Backoff
from bot.core.commands import Commands
from bot.core.dedup import DedupSettings
from bot.core.desk import Desk, DeskSettings
from bot.core.models import Destination, Digest
from bot.core.ports import Notifier
from bot.core.route import Route
from bot.courier import DELIVERED, Courier, CourierReport
from bot.errors import DeliveryError, StoreError, TalksBotError
from bot.ingest.fetch import DEFAULT_USER_AGENT, Fetcher
from bot.poller import CycleSummary, Poller, PollerHooks, PollerSettings, PollSummary
from bot.store import open_store
from bot.store.writer import AnotherWriter, writer_lock

if TYPE_CHECKING:
    # Imported where used: prometheus_client only when [metrics] is on, the ops announcer only
    # with an [ops] channel, so one-shot commands start without them.
    from bot.metrics import BotMetrics

log = logging.getLogger("talks_bot")

SCHEDULER_LOGGER = "apscheduler.scheduler"

WRITER_CHECK_SECONDS = 5.0
"""How often a running bot makes sure it still holds the writer lock."""
OPEN_PATIENCE_SECONDS = 30.0
"""How long start-up waits for a database server that ends its sessions (restarting)."""
BRIEFING_TOP = 8
"""Developments in a scheduled briefing."""
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


BACKING_OFF = "backing off"
"""``PollSummary.error`` of a poll held back by the source's backoff (``Poller.poll``): the source
was not polled; its last poll failed."""


def held_back(poll: PollSummary) -> bool:
    """The source was not polled: it is waiting out the backoff of earlier failures."""
    return poll.ok and poll.error == BACKING_OFF


ROUND_LOG_SECONDS = 60.0
"""``run`` logs one INFO line per this many seconds about the polls that ended in them."""


@dataclass(slots=True)
class PollTally:
    """The polls that ended since ``run``'s last round line (``messages.poll_round``)."""

    since: float
    """Loop time the period began."""
    polls: int = 0
    sources: set[str] = field(default_factory=set)
    failing: list[str] = field(default_factory=list)
    backing_off: list[str] = field(default_factory=list)
    new_reports: int = 0
    alerts: int = 0
    updates: int = 0
    sent: int = 0
    slowest: float = 0.0
    slowest_source: str = ""

    def add(self, source: str, summary: PollSummary | None, seconds: float) -> None:
        """One poll that ended: ``summary`` None when it crashed or was not saved."""
        self.polls += 1
        self.sources.add(source)
        if summary is None or not summary.ok:
            if source not in self.failing:
                self.failing.append(source)
        elif held_back(summary) and source not in self.backing_off:
            self.backing_off.append(source)
        if summary is not None:
            self.new_reports += summary.new_reports
            self.alerts += summary.alerts
            self.updates += summary.updates
        if seconds >= self.slowest:
            self.slowest, self.slowest_source = seconds, source


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
        preload: bool | None = None,
    ) -> None:
        """``writer``: this process polls and posts (``run``, ``poll-once``), so it holds the
        database's writer lock while open and refuses to start beside another writer.
        ``preload`` (default: ``writer``): read the dedup window into the desk on opening, so a
        long run's first decision does not wait for it; a one-off run (``poll-once``) and the
        read-only commands leave it to the poller, which loads it before its first decision and
        only if one is needed (a cycle of unchanged feeds never reads it)."""
        self.settings = settings
        self.preload = writer if preload is None else preload
        self.config = settings.config
        self.replay = replay
        self.clock = clock
        self.rng = rng or random.Random()
        self._crashes: dict[str, int] = {}
        """Polls in a row that crashed or were not saved, per source (for their backoff)."""
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
                threads=r.threads,
            )
            for r in cfg.routes
        ]
        self.courier = Courier(
            self.store, self.notifiers, self.clock, flood_per=cfg.flood.per, rng=self.rng
        )
        self._wake = asyncio.Event()
        """Set when there is something for the courier: a poll saved alerts, a turn ended."""
        weights = {s.name: s.weight for s in self.sources}
        self.poller = Poller(
            self.store,
            self.fetcher,
            lambda: Desk(self.topics, self.routes, desk_settings(cfg), weights),
            PollerSettings.of(cfg, settings.base_dir, replay=replay),
            outbox=self.courier.lock,
            clock=self.clock,
            rng=self.rng,
            hooks=PollerHooks(saved=self._wake.set, deliver=self.deliver, doing=self._doing),
        )
        ops_channel = cfg.ops.destination
        if ops_channel is not None:
            from bot.ops import OpsAnnouncer

            self.ops = OpsAnnouncer(self.store, self.notifiers, ops_channel, tz=self.tz)
            self.poller.hooks.watch = self.ops.watch
        self.commands = Commands(
            self.store,
            self.topics,
            self.clock,
            urgent_score=cfg.bot.urgent_score,
            status_top=cfg.bot.status_top,
            sources=[s.name for s in self.sources],
            tz=self.tz,
        )
        # A destination's turn that outlasted its round ends: its alerts that came meanwhile go.
        self.courier.on_free = self._wake.set
        self._briefings_due: set[Destination] = set()
        """Destinations whose scheduled digest is due: the courier's next round sends them the
        background held for it."""
        self._scheduler: Any = None
        """The running APScheduler (set by ``run``): each poll moves its own next run."""
        self._polls: dict[str, PollWatch] = {}
        """Scheduled polls running now, by source."""
        self._intervals: dict[str, float] = {}
        """Seconds from the end of each source's last scheduled poll to its next run."""
        self.round_log_seconds = ROUND_LOG_SECONDS
        self._tally: PollTally | None = None
        """The polls since ``run``'s last round line (set by ``run``)."""
        self._first_round = True
        """No round line yet: the first comes once every source has been polled."""
        self._first_done = asyncio.Event()
        """Set when the first round's line was said (``_round_log``'s periods start then)."""
        self.metrics: BotMetrics | None = None
        if settings.metrics_listen:
            from bot.metrics import BotMetrics

            self.metrics = BotMetrics().instrument(self)
        """Prometheus metrics, served with /healthz and /readyz by ``run`` (``[metrics]``)."""

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
        if not self.preload:
            return
        try:
            loaded = await self.poller.start()
        except StoreError as exc:
            # A database that answered the migrations and then dropped the connection: start
            # anyway; the poller loads the desk before its first decision.
            log.warning("%s", say.stories_not_loaded(exc))
            return
        log.debug("loaded %d recent stories into the dedup window", loaded)

    async def close(self) -> None:
        await self.fetcher.aclose()
        try:
            await self.store.close()
        finally:
            if self._writer is not None:
                await self._writer.release()

    def add_notifier(self, notifier: Notifier) -> None:
        """Deliver to ``notifier.platform`` from now on (chat adapters register at start-up)."""
        if self.metrics is not None:
            notifier = self.metrics.counting(notifier)
        self.notifiers[notifier.platform] = notifier
        self.courier.notifiers[notifier.platform] = notifier

    def alive(self) -> bool:
        """``run`` is running its scheduler (``/healthz``)."""
        return self._scheduler is not None and bool(self._scheduler.running)

    async def deliver(self, *, flush_digests: bool = False) -> CourierReport:
        return await self.courier.run_once(flush_digests=flush_digests)

    async def poll_once(self) -> CycleSummary:
        """``talks-bot poll-once``: one cycle, deliver everything (digests included), return."""
        cycle = await self.poller.cycle(self.sources)
        # A courier round reads a bounded batch: keep going until a round has nothing left to
        # do, or only deliveries that must wait (a chat outage), so none is left behind.
        for _ in range(ONCE_MAX_ROUNDS):
            final = await self.deliver(flush_digests=True)
            cycle.delivery.add(final, (*DELIVERED, "retrying", "failed"))
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
        view = await self.commands.status_view(now, period, top=BRIEFING_TOP)
        alerts = tuple(
            self.poller.desk.alert_for(s, [x.topic for x in s.scores if x.score > 0][:3])
            for s in view.top
        )
        notifier = self.notifiers.get(route.destination.platform)
        if notifier is None or not alerts:
            return
        digest = Digest(
            id=f"briefing-{now:%Y%m%d%H%M}",
            alerts=alerts,
            created=now,
            title=say.briefing_title(period),
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
        endpoints = None
        if self.metrics is not None:
            from bot.healthserver import HealthServer

            self.metrics.seed(stored.values())
            endpoints = HealthServer(self, self.metrics, self.settings.metrics_listen)
            await endpoints.start()
        if self.replay and self.sources:
            # A replay judges every source's items together in published order, each at its
            # own time (``Poller.replay``), as ``poll-once --replay`` does: live per-source polls
            # below would judge yesterday's captured feeds at today's time and alert nothing.
            every = min(self.poller.bounds(s).interval for s in self.sources)
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
                IntervalTrigger(seconds=self.poller.bounds(source).maximum.total_seconds()),
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
        self._tally = PollTally(loop.time())
        self._first_round = True
        self._first_done = asyncio.Event()
        tasks.append(asyncio.create_task(self._round_log(stop), name="round log"))
        log.info("%s", say.running(len(self.sources), len(self.topics), len(self.routes)))
        # systemd (Type=notify, WatchdogSec=): started; alive while the scheduler runs; stopping.
        sdnotify.notify("READY=1")
        watch = sdnotify.keep_watch(lambda: bool(scheduler.running), stop)
        tasks.append(asyncio.create_task(watch, name="watchdog"))
        try:
            await stop.wait()
        finally:
            sdnotify.notify("STOPPING=1")
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
            if endpoints is not None:
                await endpoints.stop()

    async def _replay_job(self) -> None:
        """``run --replay``: one replay cycle over every source; a failure is logged, and the
        next cycle tries again (what was saved is held, so nothing alerts twice)."""
        started = asyncio.get_running_loop().time()
        try:
            # A failing source is logged where it fails (``Poller._failed``).
            cycle = await self.poller.cycle(self.sources)
            seconds = asyncio.get_running_loop().time() - started
            for poll in cycle.polls:
                self._tallied(poll.source, poll, seconds)
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
            interval = self.poller.bounds(source).interval.total_seconds()
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

    def _doing(self, source: str, what: str) -> None:
        """Note what a scheduled poll of ``source`` waits on now, for a stuck report."""
        watch = self._polls.get(source)
        if watch is not None:
            watch.doing = what

    async def _poll_and_reschedule(self, source: SourceConfig) -> None:
        summary: PollSummary | None = None
        unsaved = False
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            summary = await self.poller.poll(source)
        except StoreError as exc:
            unsaved = True
            log.error("%s", say.poll_not_saved(source.name, exc))
        except Exception:
            log.exception("%s", say.poll_crashed(source.name))
        self._tallied(source.name, summary, loop.time() - started)
        due = summary.next_poll if summary else None
        if summary is None:
            # A poll that crashed backs off like a failing fetch, so a source that breaks every
            # poll is not hammered at its interval. One the database did not save is not the
            # source's fault: its reports wait to be decided again, so it comes back soon (the
            # source's own interval, doubling while the database stays away).
            crashes = self._crashes[source.name] = self._crashes.get(source.name, 0) + 1
            interval = self.poller.bounds(source).interval.total_seconds()
            backoff = self.poller.settings.backoff
            if unsaved:
                backoff = Backoff(min(interval, backoff.base), backoff.cap)
            delay = backoff.seconds(crashes, self.rng)
            due = self.clock() + timedelta(seconds=max(interval, delay))
        else:
            self._crashes.pop(source.name, None)
        self._schedule_next(source, due)
        if summary is None:
            return
        if summary.alerts or summary.updates:
            log.info(
                "%s",
                say.poll_found(source.name, summary.new_reports, summary.alerts, summary.updates),
            )

    # --- the round line ------------------------------------------------------------------------
    def _tallied(self, source: str, summary: PollSummary | None, seconds: float) -> None:
        """Count a poll that ended into the next round line; the first line is said as soon as
        every source has been polled once, so a start shows at once how the sources are."""
        tally = self._tally
        if tally is None:
            return
        tally.add(source, summary, seconds)
        if self._first_round and tally.sources >= {s.name for s in self.sources}:
            self._log_round(first=True)
            self._first_done.set()

    async def _round_log(self, stop: asyncio.Event) -> None:
        """One INFO line per ``round_log_seconds`` about the polls that ended in them; none
        when no poll ended. The periods start after the first round's line (or, should that
        round take longer than a period, a slow or stuck first poll, after the first period)."""
        waits = [asyncio.ensure_future(e.wait()) for e in (stop, self._first_done)]
        try:
            await asyncio.wait(
                waits, timeout=self.round_log_seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for wait in waits:
                wait.cancel()
        if self._first_round:
            self._first_round = False
            self._log_round(first=False)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.round_log_seconds)
            self._log_round(first=False)

    def _log_round(self, *, first: bool) -> None:
        tally = self._tally
        if tally is None:
            return
        now = asyncio.get_running_loop().time()
        self._first_round = False
        if tally.polls:
            log.info(
                "%s",
                say.poll_round(
                    seconds=now - tally.since,
                    first=first,
                    polls=tally.polls,
                    sources=len(tally.sources),
                    failing=tally.failing,
                    backing_off=tally.backing_off,
                    new_reports=tally.new_reports,
                    alerts=tally.alerts,
                    updates=tally.updates,
                    sent=tally.sent,
                    slowest=tally.slowest,
                    slowest_source=tally.slowest_source,
                ),
            )
        self._tally = PollTally(now)

    def _schedule_next(self, source: SourceConfig, due: datetime | None) -> None:
        """Move the source's job to when it is due (plus jitter); the configured interval after
        a poll that set no time (it crashed, or was not saved)."""
        from apscheduler.jobstores.base import JobLookupError
        from apscheduler.schedulers import SchedulerNotRunningError

        scheduler = self._scheduler
        if scheduler is None:
            return
        if due is None:
            due = self.clock() + self.poller.bounds(source).interval
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
                if self.metrics is not None:
                    self.metrics.store_failed("writer_lock")
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
                if self._tally is not None:
                    self._tally.sent += report.sent + report.folded
                if self.metrics is not None:
                    self.metrics.delivered(report)
                # A briefing for a destination still busy with an earlier turn waits for it.
                self._briefings_due |= briefings & set(report.busy)
            except StoreError as exc:
                self._briefings_due |= briefings
                if self.metrics is not None:
                    self.metrics.store_failed("delivery")
                log.error("%s", say.outbox_unreachable(exc))
            except Exception:
                self._briefings_due |= briefings
                log.exception("%s", say.delivery_round_crashed())
            if stop.is_set():
                return
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=5)
