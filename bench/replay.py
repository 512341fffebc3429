"""Replay two months of real feeds through the whole desk, and race a straightforward pipeline.

Data: ../shared/data/news-feeds-2023/entries-2023-10-11.jsonl.gz (87,808 entries from 54 feeds,
1 Oct - 30 Nov 2023). Entries are grouped per feed into poll periods (``--period`` hours, by
publication time); each poll rebuilds every feed's RSS document with that period's entries plus
the previous period's (feeds repeat recent items, so the "already held" path is exercised) and
writes it to a file behind a ``file://`` source; then the product's own poller replays them
(``bot.poller.Poller.replay``, as ``talks-bot poll-once --replay`` does): fetch, parse, drop
reports the store already holds, normalise, merge all feeds in publication order, the desk judging
each report at its own published time (dedup, score, summarise, route) hour by hour, each hour
saved in one transaction to a temporary SQLite store; each new alert is handed to a notifier that
drops it. Writing the documents is not timed; everything after is.

Pipelines:
  ours       the poller as shipped: ``parse_feed`` (lxml fast path), anchor-pair blocking.
  baseline   the same poller given feedparser as its parser (``parse_with_feedparser``: items
             mapped to the same ``RawItem`` as our recovery path does) and a dedup index that
             compares every report with every report held in the window (the same likeness
             function and thresholds, no blocking). Scoring, summaries and routing are the real
             ones, so the alerts are comparable.

The baseline is too slow for the full stream: both run on ``--baseline-days`` days from day
``--baseline-start`` + 1 (default 7-9 Oct, when the war began and alerts start), each from an empty
store, and their alerts are compared there. Ours also runs on the whole stream (or ``--days``):
throughput, peak memory, stories, developments, alerts per topic.

Run: .venv/bin/python bench/replay.py [--days N] [--baseline-start 6] [--baseline-days 3]
     [--period 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import json
import sqlite3
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from common import (
    ROOT,
    FeedEntry,
    NullNotifier,
    peak_rss_mb,
    result_line,
    rss_document,
    shared_data,
)

from bot.app import desk_settings
from bot.config import Settings, SourceConfig, load_config
from bot.core.blocking import Blocking
from bot.core.dedup import StoryIndex
from bot.core.desk import Desk
from bot.core.models import Destination, ParsedFeed
from bot.core.route import Route
from bot.ingest.feeds import parse_feed
from bot.ingest.fetch import Fetcher
from bot.ingest.recovery import parse_with_feedparser
from bot.poller import Parse, Poller, PollerSettings
from bot.store import open_store

DATA = "news-feeds-2023/entries-2023-10-11.jsonl.gz"


@dataclass(frozen=True, slots=True)
class Entry:
    feed: str
    title: str
    link: str
    description: str
    published: datetime | None
    day: date


def read_entries(path: Path) -> Iterator[Entry]:
    """The data set's entries one at a time, in file order (by crawl day)."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            published = None
            if row.get("date_published"):
                try:
                    published = datetime.fromisoformat(row["date_published"]).astimezone(UTC)
                except ValueError:
                    published = None
            yield Entry(
                feed=row["feed"],
                title=row.get("title") or "",
                link=row.get("link") or "",
                description=row.get("description") or "",
                published=published,
                day=date.fromisoformat(row["day_dir"]),
            )


@dataclass(slots=True)
class Poll:
    at: datetime
    documents: list[tuple[str, bytes]]
    entries: int


@dataclass(slots=True)
class Stream:
    """What the reader saw: entries read, and entries that arrived after their period's poll
    had been built (they join the oldest open period, as a late item joins the next poll)."""

    read: int = 0
    late: int = 0


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def polls(
    path: Path, period: timedelta, days: int | None, skip: int = 0, stream: Stream | None = None
) -> Iterator[Poll]:
    """Every feed's rebuilt document per period, oldest period first, for ``days`` days after
    skipping the first ``skip``; read lazily.

    The file is ordered by crawl day and an entry is published on its crawl day (checked on this
    data set: 0 to 24 h before the end of ``day_dir``), so when the crawl day reaches D no
    period ending by D can gain entries: those periods are built and handed out, and only the
    open periods (about a day of entries) are held.
    """
    stream = stream if stream is not None else Stream()
    origin: datetime | None = None
    start = last = None
    open_buckets: dict[int, dict[str, list[Entry]]] = defaultdict(lambda: defaultdict(list))
    flushed = 0
    """Periods before this one have been handed out."""
    previous: dict[str, list[Entry]] = {}

    def close_until(until: datetime | None) -> Iterator[Poll]:
        nonlocal flushed, previous
        assert origin is not None
        assert start is not None
        for n in sorted(open_buckets):
            at = origin + (n + 1) * period
            if until is not None and at > until:
                break
            feeds = open_buckets.pop(n)
            flushed = n + 1
            if at > start:
                yield build(at, feeds, previous)
            previous = feeds

    for e in read_entries(path):
        stream.read += 1
        if origin is None:
            origin = _midnight(e.day)
            start = origin + timedelta(days=skip)
            last = start + timedelta(days=days) if days else None
        assert start is not None
        crawl_day = _midnight(e.day)
        for poll in close_until(crawl_day):
            if last is not None and poll.at > last:
                return
            yield poll
        if last is not None and crawl_day >= last:
            return
        when = e.published or crawl_day + timedelta(hours=12)
        n = max(0, int((when - origin) / period))
        if n < flushed:
            stream.late += 1
            n = flushed
        open_buckets[n][e.feed].append(e)
    if origin is not None:
        for poll in close_until(None):
            if last is not None and poll.at > last:
                return
            yield poll


def build(at: datetime, feeds: dict[str, list[Entry]], previous: dict[str, list[Entry]]) -> Poll:
    """This period's poll: each feed's document shows its new entries and the previous ones."""
    documents = []
    for feed in sorted(set(feeds) | set(previous)):
        shown = sorted(
            [*feeds.get(feed, []), *previous.get(feed, [])],
            key=lambda e: e.published or at,
            reverse=True,
        )
        items = [
            FeedEntry(e.link or e.title, e.title, e.link, e.description, e.published) for e in shown
        ]
        documents.append((feed, rss_document(feed, feed, items)))
    return Poll(at, documents, sum(len(v) for v in feeds.values()))


class AllPairs(Blocking):
    """No blocking once ``on``: every held report is a candidate, newest first. Before that (the
    warm-up) it indexes as ours does, so both desks enter the race holding the same window."""

    on = False

    def candidates(self, anchors: tuple[str, ...]) -> list[int]:
        if not self.on:
            return super().candidates(anchors)
        return self.held()


def feedparser_parse(body: bytes, **_where: object) -> ParsedFeed:
    """The baseline parser, in ``parse_feed``'s shape."""
    return parse_with_feedparser(body)


@dataclass(slots=True)
class Run:
    name: str
    entries: int = 0
    seconds: float = 0.0
    reports: int = 0
    stories: int = 0
    developments: int = 0
    alerts: set[tuple[str, str]] = field(default_factory=set)
    per_topic: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    folded: int = 0
    late: int = 0
    held: int = 0
    """Stories in the desk's dedup window at the end."""
    peak_rss_mb: float = 0.0
    """Peak RSS of the process when the run ended (before counting stories)."""

    @property
    def rate(self) -> float:
        return self.entries / self.seconds if self.seconds else 0.0


def feed_file(folder: Path, feed: str) -> Path:
    return folder / f"{hashlib.sha1(feed.encode()).hexdigest()[:16]}.xml"


async def replay(
    name: str,
    settings: Settings,
    path: Path,
    *,
    period: timedelta,
    days: int | None,
    parse: Parse,
    all_pairs: bool,
    skip: int = 0,
    warmup: int = 0,
    trace: int = 0,
) -> Run:
    """Replay ``days`` days after ``skip``; the ``warmup`` days before them are taken first by
    our pipeline, untimed and uncounted, to fill the dedup window as a running desk has it."""
    run = Run(name)
    cfg = settings.config
    tmp = tempfile.TemporaryDirectory()
    folder = Path(tmp.name)
    db = folder / "replay.db"
    store = open_store(f"sqlite:///{db}")
    await store.open()
    fetcher = Fetcher(max_bytes=cfg.fetch.max_bytes)
    routes = [Route(Destination("console", "desk"), ("*",))]
    blocking = AllPairs() if all_pairs else None
    dedup = desk_settings(cfg).dedup

    def new_desk() -> Desk:
        index = StoryIndex(dedup, blocking=blocking) if blocking is not None else None
        return Desk(cfg.topic_models, routes, desk_settings(cfg), index=index)

    at = datetime(2000, 1, 1, tzinfo=UTC)
    poller = Poller(
        store,
        fetcher,
        new_desk,
        PollerSettings.of(cfg, folder, replay=True),
        clock=lambda: at,
    )
    notifier = NullNotifier()
    sources: dict[str, SourceConfig] = {}
    stream = Stream()
    warmup = min(warmup, skip)
    origin: datetime | None = None
    total = days + warmup if days is not None else None
    for poll in polls(path, period, total, skip - warmup, stream):
        origin = origin or poll.at - period
        warming = poll.at <= origin + timedelta(days=warmup)
        if blocking is not None and not warming:
            blocking.on = True
        poller.parse = parse_feed if warming else parse
        polled = []
        for feed, body in poll.documents:
            file = feed_file(folder, feed)
            file.write_bytes(body)
            source = sources.get(feed)
            if source is None:
                source = sources[feed] = SourceConfig(name=feed, url=file.as_uri())
            polled.append(source)
        at = poll.at
        started = time.perf_counter()
        cycle = await poller.replay(polled)
        if warming:
            continue
        for outcome in cycle.outcomes:
            for decision in outcome.decisions:
                if not decision.alerted:
                    continue
                for delivery in outcome.deliveries.values():
                    if delivery.story_id != decision.story_id or delivery.alert is None:
                        continue
                    run.alerts.add((delivery.story_id, delivery.alert.title))
                    run.per_topic.update(delivery.alert.topics)
                    if delivery.digest_id is None:
                        await notifier.send(delivery.destination, delivery.alert)
                    else:
                        run.folded += 1
        run.seconds += time.perf_counter() - started
        run.entries += poll.entries
        run.reports += sum(p.new_reports for p in cycle.polls)
    run.late = stream.late
    run.held = len(poller.desk.index)
    run.peak_rss_mb = peak_rss_mb()
    if trace:
        show_memory(trace)
    run.sent = notifier.sent
    await fetcher.aclose()
    await store.close()
    run.stories, run.developments = count_stories(db)
    tmp.cleanup()
    return run


def count_stories(db: Path) -> tuple[int, int]:
    """Stories and developments (stories with more than one report) in a replay's SQLite file,
    counted in SQL so the count does not load two months of stories into the bench."""
    with sqlite3.connect(db) as conn:
        (stories,) = conn.execute("SELECT count(*) FROM stories").fetchone()
        (developments,) = conn.execute(
            "SELECT count(*) FROM (SELECT story_id FROM reports GROUP BY story_id "
            "HAVING count(*) > 1)"
        ).fetchone()
    return int(stories), int(developments)


def show_memory(top: int) -> None:
    """The lines holding the most memory still allocated (``--trace-memory``)."""
    snapshot = tracemalloc.take_snapshot().filter_traces(
        (tracemalloc.Filter(False, tracemalloc.__file__),)
    )
    traced, peak = tracemalloc.get_traced_memory()
    print(f"  tracemalloc: {traced / 2**20:.0f} MB held now, {peak / 2**20:.0f} MB at peak")
    for stat in snapshot.statistics("lineno")[:top]:
        frame = stat.traceback[0]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        print(f"    {stat.size / 2**20:7.1f} MB {stat.count:9d} blocks  {where}")


def describe(run: Run) -> None:
    topics = ", ".join(f"{t} {n}" for t, n in sorted(run.per_topic.items()))
    print(
        f"  {run.name:9s} {run.entries:6d} entries in {run.seconds:7.1f} s = "
        f"{run.rate:8.1f} entries/s; {run.reports} new reports, {run.stories} stories, "
        f"{run.developments} developments, {len(run.alerts)} alerts ({run.folded} folded)"
        f"{'; per topic: ' + topics if topics else ''}"
    )


async def main_async(args: argparse.Namespace) -> int:
    path = shared_data(DATA)
    if path is None:
        return 0
    warnings.simplefilter("ignore")
    settings = load_config(ROOT / "config" / "default.toml", env_file=None)
    period = timedelta(hours=args.period)
    print(f"data: {path} (read lazily, one period's entries held at a time)")
    print(f"store: a temporary SQLite file; poll period {args.period:g} h")
    started_rss = peak_rss_mb()
    if args.trace_memory:
        tracemalloc.start()

    full = await replay(
        "ours",
        settings,
        path,
        period=period,
        days=args.days,
        parse=parse_feed,
        all_pairs=False,
        trace=args.trace_memory,
    )
    if args.trace_memory:
        tracemalloc.stop()
    print(f"whole stream{f' (first {args.days} days)' if args.days else ''}:")
    describe(full)
    print(
        f"  peak RSS {full.peak_rss_mb:.0f} MB (target < 300 MB; {started_rss:.0f} MB before the "
        f"replay: interpreter and imports); {full.held} stories in the dedup window at the end; "
        f"{full.late} entries arrived after their period's poll"
    )
    if args.baseline_days == 0:
        print("race skipped (--baseline-days 0)")
        ours = base = Run("skipped")
    else:
        warm = min(args.warmup_days, args.baseline_start)
        print(
            f"days {args.baseline_start + 1}-{args.baseline_start + args.baseline_days}, both "
            f"pipelines, after taking the {warm} days before untimed (same window for both; "
            "stories counted include them):"
        )
        ours = await replay(
            "ours",
            settings,
            path,
            period=period,
            days=args.baseline_days,
            parse=parse_feed,
            all_pairs=False,
            skip=args.baseline_start,
            warmup=args.warmup_days,
        )
        describe(ours)
        base = await replay(
            "baseline",
            settings,
            path,
            period=period,
            days=args.baseline_days,
            parse=feedparser_parse,
            all_pairs=True,
            skip=args.baseline_start,
            warmup=args.warmup_days,
        )
        describe(base)
    ratio = ours.rate / base.rate if base.rate else 0.0
    same = ours.alerts == base.alerts
    only_ours = sorted(ours.alerts - base.alerts)
    only_base = sorted(base.alerts - ours.alerts)
    if args.baseline_days:
        print(f"throughput ratio (ours / baseline): {ratio:.1f}x (target >= 20x)")
        print(
            f"alerts identical: {same} (both {len(ours.alerts & base.alerts)}, only ours "
            f"{len(only_ours)}, only baseline {len(only_base)})"
        )
    for sid, title in only_ours[:5]:
        print(f"    only ours     {sid} {title[:90]}")
    for sid, title in only_base[:5]:
        print(f"    only baseline {sid} {title[:90]}")
    command = " ".join(sys.argv[1:])
    print(f"reproduce: .venv/bin/python bench/replay.py {command}".rstrip())
    print(
        result_line(
            entries=full.entries,
            seconds=full.seconds,
            entries_per_s=full.rate,
            peak_rss_mb=full.peak_rss_mb,
            stories=full.stories,
            developments=full.developments,
            alerts=len(full.alerts),
            **{f"alerts_{t}": n for t, n in sorted(full.per_topic.items())},
            race_start_day=args.baseline_start + 1,
            race_days=args.baseline_days,
            race_warmup_days=min(args.warmup_days, args.baseline_start),
            race_entries=ours.entries,
            race_ours_entries_per_s=ours.rate,
            race_baseline_entries_per_s=base.rate,
            speed_ratio=ratio,
            alerts_identical=int(same),
            alerts_only_ours=len(only_ours),
            alerts_only_baseline=len(only_base),
        )
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=None, help="replay only the first N days")
    parser.add_argument(
        "--baseline-days", type=int, default=3, help="days in the race with the baseline (0: none)"
    )
    parser.add_argument(
        "--baseline-start", type=int, default=6, help="days skipped before the race (7 Oct)"
    )
    parser.add_argument(
        "--warmup-days",
        type=int,
        default=2,
        help="days before the race both desks take untimed, to enter it with a full window",
    )
    parser.add_argument("--period", type=float, default=3.0, help="poll period in hours")
    parser.add_argument(
        "--trace-memory",
        type=int,
        default=0,
        metavar="N",
        help="trace allocations in the main run and print the N lines holding most at its end",
    )
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
