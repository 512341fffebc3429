"""The one path a feed document takes to the desk: fetch, parse, filter what the store already
holds, normalise, decide, commit.

``Poller.poll`` is one live poll of one source, judged at the poll's time; ``Poller.replay``
judges captured feeds, every source's items merged in published order and each judged at its own
published time, as the desk would have seen them live; ``Poller.cycle`` is one of either over a
list of sources. ``talks-bot run`` (live and ``--replay``), ``poll-once``, ``demo``, the
benchmarks and the evaluations all come through here. The poller decides and saves; delivering
is the courier's (``bot.courier``), woken through ``PollerHooks.saved`` and, in a replay, run
after every hour of decisions through ``PollerHooks.deliver``.

What a poll does to the source's health (validators, failures, next poll) is decided by the pure
rules of ``bot.core.health``; the poller only says what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Config, SourceConfig
from bot.core import health as rules
from bot.core import messages as say
from bot.core.backoff import Backoff
from bot.core.boilerplate import strip_boilerplate
from bot.core.desk import Desk, DeskContext, Outcome
from bot.core.models import ParsedFeed, RawItem, Report, SourceHealth, Verdict
from bot.core.normalize import (
    Identity,
    SourceInfo,
    canonical_url,
    dated_times,
    identify,
    normalize_item,
)
from bot.core.ports import PollRecord, Store
from bot.core.route import possible_destinations
from bot.core.schedule import PollBounds, poll_bounds
from bot.courier import CourierReport
from bot.errors import FeedError, FetchError, StoreError
from bot.ingest.article import fetch_article_text
from bot.ingest.feeds import parse_feed
from bot.ingest.fetch import Fetcher

__all__ = [
    "CYCLE_CONCURRENCY",
    "CycleSummary",
    "Parse",
    "PollSummary",
    "Poller",
    "PollerHooks",
    "PollerSettings",
    "load_desk",
    "resolve_url",
    "take",
]

log = logging.getLogger("talks_bot")

CYCLE_CONCURRENCY = 32
"""Polls in flight at once in a live cycle (``poll-once``). Network waits overlap well below
this; more only queues coroutines on the database and the outbox lock (1,000 at once ran 2x
slower)."""
STUB_CHARS = 160
"""A lead shorter than this is a stub: with ``full_text`` on, the article page is read instead."""
OFF_LOOP_BYTES = 1_000_000
"""Documents this big are parsed in a worker thread, so slash commands (Slack wants an answer
within 3 s) are answered while a huge feed is read; smaller ones cost less on the loop."""
ARTICLE_SLOTS = 4
"""Article pages read at once when ``full_text`` is on."""

Parse = Callable[..., ParsedFeed]
"""``parse_feed``'s shape: ``(body, *, url, content_type) -> ParsedFeed``."""


@dataclass(slots=True)
class PollSummary:
    """What one poll of one source did, for logs and the CLI."""

    source: str
    ok: bool
    not_modified: bool = False
    items: int = 0
    new_reports: int = 0
    new_stories: int = 0
    attached: int = 0
    """Reports that joined a story already known."""
    alerts: int = 0
    updates: int = 0
    error: str | None = None
    cache_max_age: float | None = None
    """The response's Cache-Control max-age (adaptive polling honours it)."""
    next_poll: datetime | None = None
    """When this source is due again (adaptive interval, or backoff after a failure)."""
    unsaved: bool = False
    """The poll crashed or its save failed: its items are decided again next time."""
    fetch_seconds: float | None = None
    """How long the fetch took (None: not fetched)."""
    seconds: float | None = None
    """How long the whole poll took (live polls)."""

    def failed(self, error: str) -> PollSummary:
        self.ok = False
        self.error = error
        return self


@dataclass(slots=True)
class CycleSummary:
    """One cycle over the sources: each poll, what the courier delivered during it (a replay
    delivers as it goes), and, in a replay, each hour's decisions."""

    polls: list[PollSummary] = field(default_factory=list)
    delivery: CourierReport = field(default_factory=CourierReport)
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> list[PollSummary]:
        return [p for p in self.polls if not p.ok]


@dataclass(frozen=True, slots=True)
class PollerSettings:
    """The configuration the poller needs, read once (``PollerSettings.of``)."""

    backoff: Backoff
    """After a failed fetch (``[fetch] backoff_base`` / ``backoff_max``)."""
    default_bounds: PollBounds
    """Adaptive polling's desk-wide bounds (``[bot] poll_interval`` and its min / max)."""
    base_dir: Path = Path(".")
    """Relative ``file://`` sources resolve against this folder (the config file's project)."""
    replay: bool = False
    """Captured feeds: no conditional requests, each item judged at its published time."""
    full_text: bool = False
    full_text_allow: tuple[str, ...] = ()

    @classmethod
    def of(cls, config: Config, base_dir: Path, *, replay: bool = False) -> PollerSettings:
        bot, fetch = config.bot, config.fetch
        interval = bot.poll_interval
        return cls(
            backoff=Backoff(fetch.backoff_base.total_seconds(), fetch.backoff_max.total_seconds()),
            default_bounds=PollBounds(
                interval,
                min(bot.min_poll_interval, interval),
                max(bot.max_poll_interval, interval),
            ),
            base_dir=base_dir,
            replay=replay,
            full_text=bot.full_text,
            full_text_allow=tuple(bot.full_text_allow),
        )


@dataclass(slots=True)
class PollerHooks:
    """What the poller tells the rest of the bot. Every hook is optional."""

    saved: Callable[[], None] | None = None
    """A poll saved its decisions: wake the courier."""
    deliver: Callable[[], Awaitable[CourierReport]] | None = None
    """A replay's hour of decisions was saved: deliver it before the next hour is decided, so a
    later outlet's report edits a posted alert instead of being merged into it unseen."""
    doing: Callable[[str, str], None] | None = None
    """(source, what) a poll waits on now: ``database``, ``feed``, ``articles``, ``outbox``."""
    polled: Callable[[PollSummary, BaseException | None], None] | None = None
    """A poll ended (metrics): its summary, and the exception when it raised one instead."""
    cycled: Callable[[float], None] | None = None
    """A cycle over the sources ended after so many seconds (metrics)."""
    watch: Callable[[Sequence[SourceHealth], datetime], Awaitable[None]] | None = None
    """Sources' health was saved at a time (a poll, a replay's cycle): the ops announcer looks
    for sources that started failing, went quiet or stale, or recovered."""


class _KnownReports:
    """``Store.known_reports`` for the polls of a cycle: the requests that arrive while a read
    is under way wait for it to end and go together in the next one, so polls in flight at once
    share one query instead of paying a transaction each."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._queued: list[tuple[str, list[str], asyncio.Future[dict[str, str]]]] = []
        self._reader: asyncio.Task[None] | None = None

    async def get(self, source: str, keys: Sequence[str]) -> dict[str, str]:
        """Of ``keys``, those stored for ``source``, mapped to their stored title."""
        future: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        self._queued.append((source, list(keys), future))
        if self._reader is None:
            self._reader = asyncio.create_task(self._read())
        return await future

    async def _read(self) -> None:
        batch: list[tuple[str, list[str], asyncio.Future[dict[str, str]]]] = []
        try:
            while self._queued:
                await asyncio.sleep(0)  # the polls ready in this turn of the loop join in
                batch, self._queued = self._queued, []
                wanted: dict[str, list[str]] = {}
                for source, keys, _future in batch:
                    wanted.setdefault(source, []).extend(keys)
                try:
                    found = await self._store.known_reports_many(wanted)
                except Exception as exc:
                    for _source, _keys, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for source, keys, future in batch:
                    if not future.done():
                        held = found.get(source, {})
                        future.set_result({k: held[k] for k in keys if k in held})
        finally:
            self._reader = None
            for _source, _keys, future in [*batch, *self._queued]:
                if not future.done():  # the reader itself was cancelled
                    future.cancel()


@dataclass(frozen=True, slots=True)
class _News:
    """One poll's new reports, waiting for the cycle's next decision."""

    source: SourceConfig
    health: SourceHealth
    reports: Sequence[Report]
    now: datetime
    first_poll: bool


class _Decisions:
    """The decisions of a live cycle: the polls whose news arrives while the desk is deciding
    wait for it and are decided together in the next decision, one desk pass and one commit
    (their sources' health included) instead of one each. Each report is still judged at its
    own poll's time. When a shared decision fails (its save, most often), each poll in it is
    decided again on its own at once, so one source's trouble never costs another its alert;
    a poll whose own decision fails is decided again at its next poll, as before."""

    def __init__(self, decide: Callable[[Sequence[_News]], Awaitable[Outcome]]) -> None:
        self._decide = decide
        self._queued: list[tuple[_News, asyncio.Future[Outcome]]] = []
        self._decider: asyncio.Task[None] | None = None

    async def decide(self, news: _News) -> Outcome:
        """The outcome of the decision that covered ``news`` (holding other polls' too)."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queued.append((news, future))
        if self._decider is None:
            self._decider = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        batch: list[tuple[_News, asyncio.Future[Outcome]]] = []
        try:
            while self._queued:
                await asyncio.sleep(0)  # the polls ready in this turn of the loop join in
                batch, self._queued = self._queued, []
                try:
                    outcome = await self._decide([news for news, _ in batch])
                except Exception as exc:
                    if len(batch) == 1:
                        _settle(batch[0][1], exc)
                        continue
                    for news, future in batch:  # one by one: only the poll at fault fails
                        try:
                            _settle(future, await self._decide([news]))
                        except Exception as own:
                            _settle(future, own)
                    continue
                for _news, future in batch:
                    _settle(future, outcome)
        finally:
            self._decider = None
            for _news, future in [*batch, *self._queued]:
                if not future.done():  # the decider itself was cancelled
                    future.cancel()


def _settle(future: asyncio.Future[Outcome], result: Outcome | Exception) -> None:
    """Give a waiting poll its decision's outcome, or the exception its decision raised."""
    if future.done():
        return
    if isinstance(result, Exception):
        future.set_exception(result)
    else:
        future.set_result(result)


@dataclass(slots=True)
class _Cycle:
    """What the polls of one live cycle share."""

    stored: dict[str, SourceHealth] | None
    """Every source's health as read at the start (None: each poll reads its own)."""
    known: _KnownReports
    decisions: _Decisions


class Poller:
    """Polls sources into the desk. One per process; the desk's memory lives here."""

    def __init__(
        self,
        store: Store,
        fetcher: Fetcher,
        new_desk: Callable[[], Desk],
        settings: PollerSettings,
        *,
        outbox: asyncio.Lock | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        parse: Parse = parse_feed,
        hooks: PollerHooks | None = None,
    ) -> None:
        """``new_desk`` makes the desk (and a fresh one after a decision that was not saved).
        ``outbox``: held around each decision and its save, so the courier cannot record a send
        in between and have it overwritten by the desk's older copy of the delivery."""
        self.store = store
        self.fetcher = fetcher
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        self.parse = parse
        self.hooks = hooks or PollerHooks()
        self._new_desk = new_desk
        self.desk = new_desk()
        self._desk_loaded = False
        self._outbox = outbox or asyncio.Lock()
        self._article_slots = asyncio.Semaphore(ARTICLE_SLOTS)
        self._parse_warned: set[tuple[str, str]] = set()
        """(source, warning) already logged: a feed's standing quirk is said once, not per poll."""

    async def start(self) -> int:
        """Load the stories inside the dedup window into the desk; how many it holds."""
        loaded = await load_desk(self.desk, self.store, self.clock())
        self._desk_loaded = True
        return loaded

    def bounds(self, source: SourceConfig) -> PollBounds:
        """The adaptive-polling bounds of a source (see ``bot.core.schedule.poll_bounds``)."""
        return poll_bounds(
            self.settings.default_bounds, source.interval, source.min_interval, source.max_interval
        )

    # --- one live poll -------------------------------------------------------------------------
    async def poll(
        self, source: SourceConfig, *, at: datetime | None = None, force: bool = False
    ) -> PollSummary:
        """One live poll of ``source``, its reports judged at ``at`` (default: now). A failing
        source's backoff holds it back unless ``force``; the scheduler times the rest."""
        summary, _ = await self._observed(source, at, force)
        return summary

    async def _observed(
        self,
        source: SourceConfig,
        at: datetime | None,
        force: bool,
        cycle: _Cycle | None = None,
    ) -> tuple[PollSummary, SourceHealth | None]:
        """A poll, told to ``hooks.polled`` when it ends; in a ``cycle``, a poll with nothing
        to decide leaves its health to the cycle's batched save (returned), and the cycle tells
        ``hooks.polled`` once that save is done."""
        if self.hooks.polled is None:
            return await self._poll(source, at, force, cycle)
        started = asyncio.get_running_loop().time()
        try:
            summary, later = await self._poll(source, at, force, cycle)
        except Exception as exc:
            self.hooks.polled(PollSummary(source.name, ok=False, unsaved=True), exc)
            raise
        summary.seconds = asyncio.get_running_loop().time() - started
        if later is None:
            self.hooks.polled(summary, None)
        return summary, later

    async def _poll(
        self, source: SourceConfig, at: datetime | None, force: bool, cycle: _Cycle | None
    ) -> tuple[PollSummary, SourceHealth | None]:
        """One poll: (summary, the health left for the cycle to save, or None when saved)."""
        now = at or self.clock()
        self._doing(source, "database")
        if cycle is not None and cycle.stored is not None:
            before = rules.configured(cycle.stored.get(source.name), source.name, source.url)
        else:
            before = await self.health(source)
        due = before.next_poll_after
        if not force and before.consecutive_failures and due is not None and now < due:
            return PollSummary(source.name, ok=True, error="backing off", next_poll=due), None
        self._doing(source, "feed")
        health, items, summary = await self._fetch(source, before, now)
        self._doing(source, "database")
        if items is None:
            if summary.ok:
                health = self._next_poll(source, before, health, summary, None, 0, now)
                health = rules.paced(health, now, items=0, new=0, arrivals=())
            summary.next_poll = health.next_poll_after
            if cycle is not None:
                return summary, health
            await self.store.save_source(health)
            await self._watched([health], now)
            return summary, None
        first_poll = health.first_polled is None
        fresh = await self._fresh(source, items, now, cycle)
        fresh.sort(key=lambda r: (r.published, r.key))
        health = rules.polled(health, now, len(fresh))
        health = rules.paced(
            health, now, items=len(items), new=len(fresh), arrivals=[now] if fresh else []
        )
        health = self._next_poll(source, before, health, summary, items, len(fresh), now)
        summary.next_poll = health.next_poll_after
        if cycle is not None and not fresh:
            # Only items already held: no decision, so the health waits for the cycle's save.
            return summary, health
        if cycle is not None:
            outcome = await cycle.decisions.decide(_News(source, health, fresh, now, first_poll))
        else:
            # A source's first poll records undated items as seen: their age is unknown.
            outcome = await self._decide(
                source,
                health,
                fresh,
                now_of=lambda _r: now,
                quiet=lambda r: first_poll and not r.dated,
            )
        _count({source.name: summary}, outcome)
        summary.new_reports = len(fresh)
        if self.hooks.saved is not None:
            self.hooks.saved()
        await self._watched([health], now)
        return summary, None

    async def cycle(self, sources: Sequence[SourceConfig]) -> CycleSummary:
        """One poll of every source: a replay (``settings.replay``), or live polls side by
        side, where one source's crash or unsaved poll never costs another."""
        started = asyncio.get_running_loop().time()
        if self.settings.replay:
            cycle = await self.replay(sources)
        else:
            cycle = await self._live_cycle(sources)
        if self.hooks.cycled is not None:
            self.hooks.cycled(asyncio.get_running_loop().time() - started)
        return cycle

    async def _live_cycle(self, sources: Sequence[SourceConfig]) -> CycleSummary:
        """Live polls side by side. Every source's health is read once for the cycle; a poll
        with new reports saves its decision and health together as usual, while the polls that
        brought nothing new (a 304, only items already held, a failed fetch) are saved together
        at the end, in one transaction."""
        slots = asyncio.Semaphore(CYCLE_CONCURRENCY)
        try:
            stored: dict[str, SourceHealth] | None = {
                h.name: h for h in await self.store.list_sources()
            }
        except StoreError:
            stored = None  # each poll reads its own, and says so if that fails too
        cycle = _Cycle(stored, _KnownReports(self.store), _Decisions(self._decide_news))
        later: list[tuple[SourceHealth, PollSummary]] = []

        async def one(source: SourceConfig) -> PollSummary:
            async with slots:
                try:
                    summary, health = await self._observed(source, None, False, cycle)
                except StoreError as exc:
                    log.error("%s", say.poll_not_saved(source.name, exc))
                    return PollSummary(
                        source.name, ok=False, error=f"not saved: {exc}", unsaved=True
                    )
                except Exception as exc:  # one source's crash never costs another
                    log.exception("%s", say.poll_crashed(source.name))
                    return PollSummary(
                        source.name, ok=False, error=f"crashed: {exc!r}", unsaved=True
                    )
                if health is not None:
                    later.append((health, summary))
                return summary

        polls = list(await asyncio.gather(*(one(s) for s in sources)))
        await self._save_later(later)
        return CycleSummary(polls=polls)

    async def _save_later(self, later: Sequence[tuple[SourceHealth, PollSummary]]) -> None:
        """The cycle's batched save of the polls that had nothing to decide. When it fails, one
        line says so and those polls count as unsaved: nothing of theirs is lost, as their next
        poll asks for the whole feed again and finds its items held."""
        if not later:
            return
        healths = [health for health, _ in later]
        error: StoreError | None = None
        try:
            await self.store.save_sources(healths)
        except StoreError as exc:
            error = exc
            log.error("%s", say.cycle_health_not_saved(len(healths), exc))
            for _, summary in later:
                summary.unsaved = True
        if self.hooks.polled is not None:
            for _, summary in later:
                self.hooks.polled(summary, error)
        if error is None:
            await self._watched(healths, self.clock())

    # --- a replay --------------------------------------------------------------------------------
    async def replay(self, sources: Sequence[SourceConfig]) -> CycleSummary:
        """Captured feeds: every source's new items merged and judged in published order, each
        at its own published time, hour by hour (decide, save, deliver), as the desk would have
        seen them live."""
        cycle = CycleSummary()
        now = self.clock()
        batch: list[Report] = []
        healths: list[SourceHealth] = []
        # Read and saved once per cycle, not per source: a replay's cycle is many sources.
        stored = {h.name: h for h in await self.store.list_sources()}
        for source in sources:
            before = rules.configured(stored.get(source.name), source.name, source.url)
            health, items, summary = await self._fetch(source, before, now)
            cycle.polls.append(summary)
            fresh: list[Report] = []
            if items:
                fresh = await self._fresh(source, items, now)
                batch.extend(fresh)
                summary.new_reports = len(fresh)
                health = rules.polled(health, now, len(fresh))
            if summary.ok:
                # A replay's items arrive at their published times, not at the replay's clock.
                health = rules.paced(
                    health,
                    now,
                    items=len(items or ()),
                    new=summary.new_reports,
                    arrivals=[r.published for r in fresh],
                )
            healths.append(health)
        batch.sort(key=lambda r: (r.published, r.source, r.key))
        await self.store.save_sources(healths)
        by_source = {p.source: p for p in cycle.polls}
        for chunk in _by_hour(batch):
            # An undated item has no time to be judged at in a replay: it joins, never alerts.
            outcome = await self._decide(
                None,
                healths[-1] if healths else None,
                chunk,
                now_of=lambda r: r.published,
                quiet=lambda r: not r.dated,
            )
            cycle.outcomes.append(outcome)
            _count(by_source, outcome)
            if outcome.deliveries and self.hooks.deliver is not None:
                cycle.delivery.add(await self.hooks.deliver())
        if self.hooks.polled is not None:
            for summary in cycle.polls:
                self.hooks.polled(summary, None)
        await self._watched(healths, now)
        return cycle

    # --- the hops --------------------------------------------------------------------------------
    async def health(self, source: SourceConfig) -> SourceHealth:
        """What the store knows about ``source`` (a fresh row for a new one)."""
        return rules.configured(await self.store.get_source(source.name), source.name, source.url)

    async def _fetch(
        self, source: SourceConfig, health: SourceHealth, now: datetime
    ) -> tuple[SourceHealth, list[RawItem] | None, PollSummary]:
        """Fetch and parse one source: (health, its items or None when there are none to read,
        summary). A document that does not parse costs only itself; the source fails only when
        none of its documents parse."""
        summary = PollSummary(source.name, ok=True)
        url = resolve_url(source.url, self.settings.base_dir)
        replay = self.settings.replay
        started = asyncio.get_running_loop().time()
        try:
            result = await self.fetcher.fetch(
                url,
                etag=None if replay else health.etag,
                last_modified=None if replay else health.last_modified,
            )
        except FetchError as exc:
            summary.fetch_seconds = asyncio.get_running_loop().time() - started
            return (
                self._failed(health, str(exc), now, exc.retry_after),
                None,
                summary.failed(str(exc)),
            )
        summary.fetch_seconds = asyncio.get_running_loop().time() - started
        summary.cache_max_age = result.cache_max_age
        if result.not_modified:
            summary.not_modified = True
            return rules.succeeded(health, now, result.etag, result.last_modified), None, summary
        raws: list[RawItem] = []
        problems: list[str] = []
        for document in result.documents:
            try:
                if len(document.body) >= OFF_LOOP_BYTES:
                    parsed = await asyncio.to_thread(
                        self.parse,
                        document.body,
                        url=result.url,
                        content_type=document.content_type,
                    )
                else:
                    parsed = self.parse(
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
            return self._failed(health, message, now, None), None, summary.failed(message)
        for problem in problems:
            log.warning("%s", say.document_unreadable(source.name, problem))
        summary.items = len(raws)
        return rules.succeeded(health, now, result.etag, result.last_modified), raws, summary

    def _failed(
        self, health: SourceHealth, error: str, now: datetime, retry_after: float | None
    ) -> SourceHealth:
        failed = rules.failed(
            health, error, now, self.settings.backoff, retry_after=retry_after, rng=self.rng
        )
        log.warning("%s", say.source_failed(health.name, failed.consecutive_failures, error))
        return failed

    def _next_poll(
        self,
        source: SourceConfig,
        before: SourceHealth,
        health: SourceHealth,
        summary: PollSummary,
        items: Sequence[RawItem] | None,
        new_items: int,
        now: datetime,
    ) -> SourceHealth:
        return rules.next_poll(
            before,
            health,
            self.bounds(source),
            now,
            published=None if items is None else dated_times(items, now),
            new_items=new_items,
            max_age=summary.cache_max_age,
        )

    async def _fresh(
        self,
        source: SourceConfig,
        items: Sequence[RawItem],
        now: datetime,
        cycle: _Cycle | None = None,
    ) -> list[Report]:
        """The items the store does not already hold unchanged (most of every poll), as reports.

        Identities (key and headline) are compared first, so held items never pay for HTML and
        boilerplate cleaning. Items that share a guid but not a link are told apart (see
        ``_distinct_keys``); a true repeat (same guid, same link) keeps its first copy.
        """
        info = SourceInfo(source.name, source.outlet, source.weight, source.aggregator)
        found = _distinct_keys(source.name, _identified(source.name, items, info))
        untitled = [
            _normalized(source.name, raw, info, now) for raw, ident in found if ident is None
        ]
        keys = [i.key for _raw, i in found if i] + [r.key for r in untitled if r]
        if cycle is not None:
            known = await cycle.known.get(source.name, keys)
        else:
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
        if self.settings.full_text:
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
                    report.url, self.fetcher, allow_private=self.settings.full_text_allow
                )
            except FetchError as exc:
                log.info("%s", say.no_full_text(report.url, exc))
                return report
        if not text:
            return report
        # Boilerplate patterns work line by line: strip first, then join the lines.
        lead = " ".join(strip_boilerplate(text).split())[:4000]
        return replace(report, text=lead) if len(lead) > len(report.text) else report

    async def _decide_news(self, news: Sequence[_News]) -> Outcome:
        """One decision on several polls' new reports (a live cycle's ``_Decisions``): each
        report judged at its own poll's time, every source's health saved with the decision."""
        polled_at = {(n.source.name, r.key): n.now for n in news for r in n.reports}
        # A source's first poll records undated items as seen: their age is unknown.
        first = {n.source.name for n in news if n.first_poll}
        return await self._decide(
            [n.source for n in news],
            news[0].health,
            [r for n in news for r in n.reports],
            now_of=lambda r: polled_at[(r.source, r.key)],
            quiet=lambda r: r.source in first and not r.dated,
            others=[n.health for n in news[1:]],
        )

    async def _decide(
        self,
        source: SourceConfig | Sequence[SourceConfig] | None,
        health: SourceHealth | None,
        reports: Sequence[Report],
        *,
        now_of: Callable[[Report], datetime],
        quiet: Callable[[Report], bool],
        others: Sequence[SourceHealth] = (),
    ) -> Outcome:
        """Decide on ``reports`` and save the decision with ``health`` (and ``others``, the
        health of the other sources whose reports are in it), in one transaction, under the
        outbox lock."""
        polled = [] if source is None else [source] if isinstance(source, SourceConfig) else source
        for each in polled:
            self._doing(each, "outbox")
        async with self._outbox, self._deciding():
            for each in polled:
                self._doing(each, "database")
            if not reports:
                # Nothing new (a 304, or only items already held): no decision to make, so
                # no desk to load either; a cron run of unchanged feeds never reads the window.
                outcome = Outcome()
            else:
                if not self._desk_loaded:
                    await self.start()
                outcome = await take(self.desk, self.store, reports, now_of=now_of, quiet=quiet)
            if health is not None:
                await self.store.commit_poll(
                    PollRecord(
                        source=health,
                        stories=tuple(outcome.stories.values()),
                        deliveries=tuple(outcome.deliveries.values()),
                        others=tuple(others),
                    )
                )
        return outcome

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
            self.desk = self._new_desk()
            self._desk_loaded = False
            raise

    async def _watched(self, healths: Sequence[SourceHealth], now: datetime) -> None:
        """Tell ``hooks.watch`` (the ops announcer) about sources whose health was just saved;
        the announcer's own trouble is its own (it never fails a poll)."""
        if self.hooks.watch is not None and healths:
            await self.hooks.watch(healths, now)

    def _doing(self, source: SourceConfig, what: str) -> None:
        if self.hooks.doing is not None:
            self.hooks.doing(source.name, what)


async def load_desk(desk: Desk, store: Store, now: datetime) -> int:
    """Fill ``desk``'s dedup window from the store (at start, and after a decision not saved)."""
    return desk.load(await store.stories(desk.window(now)), now)


async def take(
    desk: Desk,
    store: Store,
    reports: Sequence[Report],
    *,
    now_of: Callable[[Report], datetime],
    quiet: Callable[[Report], bool] = lambda _r: False,
) -> Outcome:
    """One desk decision on ``reports``: dedup (pure), one batched read of what the decision
    needs, then routing and deliveries (pure). The caller saves the outcome."""
    batch = desk.sort(reports, now_of=now_of, quiet=quiet)
    needs = desk.needs(batch)
    if needs.since is None or needs.recent_since is None:
        return desk.decide(batch, DeskContext())
    context = await store.decision_context(
        [t.id for t in desk.topics], needs.story_ids, needs.since
    )
    unread = desk.unremembered(possible_destinations(desk.routes, context.subscriptions))
    if unread:
        recent = await store.recent_deliveries(unread, needs.recent_since)
        context = replace(context, recent=recent)
    return desk.decide(batch, context)


def resolve_url(url: str, base_dir: Path) -> str:
    """``file://relative/path`` resolves against the project folder of the config file."""
    if url.startswith("file://") and not url.startswith("file:///"):
        return (base_dir / url.removeprefix("file://")).resolve().as_uri()
    return url


def _count(polls: Mapping[str, PollSummary], outcome: Outcome) -> None:
    """Add each decision of ``outcome`` to the poll of its report's source."""
    for decision in outcome.decisions:
        summary = polls.get(decision.report.source)
        if summary is not None:
            summary.alerts += len(decision.alerted)
            summary.updates += len(decision.updated)
            summary.new_stories += decision.dedup.verdict is Verdict.NEW
            summary.attached += decision.dedup.verdict is Verdict.ATTACHED


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
        log.warning("%s", say.guids_shared(source, len(shared), sorted(shared)[0][:60]))
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
    log.warning("%s", say.item_skipped(source, type(exc).__name__, str(exc)[:200]))
