"""Corroboration on real streams: how many alerts rest on one source, and which copies were folded.

Two data sets, each through the product's own poller (``bot.poller.Poller.replay``, as
``talks-bot poll-once --replay`` does) into a temporary SQLite store, with the default config's
topics and one console route taking every topic (flood control lifted, so every alert is counted):

- ``news-feeds``: ../shared/data/news-feeds-2023 (54 feeds, 1 Oct - 30 Nov 2023), rebuilt into
  poll periods exactly as ``bench/replay.py`` does (its ``polls``). Each feed's outlet is its
  site (``theguardian.com``, ``nbcnews.com``), so a site's three feeds are one outlet, as a desk
  would configure them.
- ``gaza-news``: ../shared/data/gaza-news (every row, labelled or not), one feed per publisher as
  ``bench/eval_desk.py`` rebuilds them (the title without its " - Publisher", pubDate the row's
  date at 12:00 UTC plus 30 s x its position that day), outlet = the publisher.

Figures per data set: alerts (stories pushed), of them single-source and confirmed by 2+ at their
first push and at the end of the replay; reports of the alerted stories (at the end) counted as
copies, by reason; and the same count over every story in the store. ``--show N`` prints N folded
copies of any stored story (a fixed random sample), each with the report it copies, for reading.

Run: .venv/bin/python bench/corroboration.py [--data news-feeds|gaza-news|both] [--days N]
     [--show 20] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import sqlite3
import sys
import tempfile
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from common import ROOT, FeedEntry, result_line, rss_document, shared_data
from eval_desk import _slug, strip_publisher
from replay import DATA, feed_file, polls

from bot.app import desk_settings
from bot.config import Settings, SourceConfig, load_config
from bot.core.corroborate import Corroboration, corroborate, headline_key, path_key
from bot.core.desk import Desk, DeskSettings
from bot.core.models import Destination, StoryReport
from bot.core.route import Route
from bot.ingest.fetch import Fetcher
from bot.poller import Poller, PollerSettings
from bot.store import open_store

GAZA = "gaza-news/gaza-news-dev.tsv"
_TWO_PART_SUFFIXES = {"co.uk", "com.ar", "co.in", "com.au", "co.jp", "com.sg"}


@dataclass(slots=True)
class Tally:
    name: str
    alerted: list[str] = field(default_factory=list)
    """Story ids in order of their first push."""
    first: dict[str, int] = field(default_factory=dict)
    """Independent outlets of each alerted story at its first push."""
    end: dict[str, Corroboration] = field(default_factory=dict)
    folded: dict[str, Corroboration] = field(default_factory=dict)
    """Every stored story with a copy (alerted or not)."""
    reports: dict[str, tuple[StoryReport, ...]] = field(default_factory=dict)
    all_reasons: Counter[str] = field(default_factory=Counter)
    all_reports: int = 0
    stories: int = 0


def site_of(feed_url: str) -> str:
    """A feed's site as an outlet name: the registered domain (``feeds.bbci.co.uk`` ->
    ``bbci.co.uk``, ``rss.nytimes.com`` -> ``nytimes.com``)."""
    labels = (urlsplit(feed_url).hostname or feed_url).lower().split(".")
    keep = 3 if ".".join(labels[-2:]) in _TWO_PART_SUFFIXES else 2
    return ".".join(labels[-keep:])


def _desk_factory(settings: Settings) -> tuple[Desk, DeskSettings]:
    cfg = settings.config
    routes = [Route(Destination("console", "desk"), ("*",))]
    tuned = replace(desk_settings(cfg), flood_max=10**6)
    return Desk(cfg.topic_models, routes, tuned), tuned


async def _run(
    tally: Tally, settings: Settings, cycles: Iterable[tuple[datetime, list[SourceConfig]]]
) -> None:
    """Replay each (clock, sources) cycle through one poller and store; count what alerted."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "corroboration.db"
        store = open_store(f"sqlite:///{db}")
        await store.open()
        fetcher = Fetcher(max_bytes=settings.config.fetch.max_bytes)
        at = datetime(2000, 1, 1, tzinfo=UTC)
        poller = Poller(
            store,
            fetcher,
            lambda: _desk_factory(settings)[0],
            PollerSettings.of(settings.config, Path(tmp), replay=True),
            clock=lambda: at,
        )
        for when, sources in cycles:
            at = when
            cycle = await poller.replay(sources)
            for outcome in cycle.outcomes:
                for decision in outcome.decisions:
                    if decision.alerted and decision.story_id not in tally.first:
                        alert = next(
                            d.alert
                            for d in outcome.deliveries.values()
                            if d.story_id == decision.story_id and d.alert is not None
                        )
                        tally.alerted.append(decision.story_id)
                        tally.first[decision.story_id] = alert.independent
        await fetcher.aclose()
        await store.close()
        _read_store(tally, db)


def _read_store(tally: Tally, db: Path) -> None:
    """Every stored story's reports, corroborated as ``why`` would (in SQL, not through the
    store: two months of stories are not loaded at once)."""
    members: dict[str, list[StoryReport]] = defaultdict(list)
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT story_id, key, source, outlet, title, url, published, credit FROM reports "
            "ORDER BY story_id, position"
        )
        for sid, key, source, outlet, title, url, published, credit in rows:
            when = datetime.fromisoformat(published) if isinstance(published, str) else published
            members[sid].append(StoryReport(key, source, outlet, title, url, when, credit=credit))
    alerted = set(tally.alerted)
    tally.stories = len(members)
    for sid, reports in members.items():
        found = corroborate(reports)
        tally.all_reports += len(reports)
        tally.all_reasons.update(c.reason for c in found.copies)
        if found.copies:
            tally.folded[sid] = found
            tally.reports[sid] = tuple(reports)
        if sid in alerted:
            tally.end[sid] = found
            tally.reports[sid] = tuple(reports)


# --- the two data sets ---------------------------------------------------------------------------


def news_feed_cycles(
    folder: Path, days: int | None
) -> Iterable[tuple[datetime, list[SourceConfig]]]:
    path = shared_data(DATA)
    if path is None:
        return
    sources: dict[str, SourceConfig] = {}
    for poll in polls(path, timedelta(hours=3), days):
        polled = []
        for feed, body in poll.documents:
            file = feed_file(folder, feed)
            file.write_bytes(body)
            if feed not in sources:
                sources[feed] = SourceConfig(name=feed, url=file.as_uri(), outlet=site_of(feed))
            polled.append(sources[feed])
        yield poll.at, polled


def gaza_cycles(folder: Path) -> Iterable[tuple[datetime, list[SourceConfig]]]:
    path = shared_data(GAZA)
    if path is None:
        return
    by_publisher: dict[str, list[FeedEntry]] = defaultdict(list)
    position: Counter[str] = Counter()
    latest = datetime(2000, 1, 1, tzinfo=UTC)
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            day = datetime.fromisoformat(row["date"]).replace(hour=12, tzinfo=UTC)
            when = day + timedelta(seconds=30 * position[row["date"]])
            position[row["date"]] += 1
            latest = max(latest, when)
            title = strip_publisher(row["title"], row["publisher"])
            by_publisher[row["publisher"]].append(
                FeedEntry(f"gaza-news-{row['line']}", title, row["url"], "", when)
            )
    taken: set[str] = set()
    sources = []
    for publisher, entries in sorted(by_publisher.items()):
        file = folder / f"{_slug(publisher, taken)}.xml"
        entries.sort(key=lambda e: e.published or latest, reverse=True)
        file.write_bytes(rss_document(publisher, "https://news.example/", entries))
        sources.append(SourceConfig(name=file.stem, url=file.as_uri(), outlet=publisher))
    yield latest + timedelta(hours=1), sources


# --- the report ----------------------------------------------------------------------------------


def describe(tally: Tally) -> dict[str, int]:
    alerts = len(tally.alerted)
    first_single = sum(1 for s in tally.alerted if tally.first[s] == 1)
    end_single = sum(
        1 for s in tally.alerted if s in tally.end and len(tally.end[s].independent) == 1
    )
    end_known = sum(1 for s in tally.alerted if s in tally.end)
    reasons: Counter[str] = Counter()
    alerted_reports = 0
    for sid, found in tally.end.items():
        reasons.update(c.reason for c in found.copies)
        alerted_reports += len(tally.reports[sid])
    print(f"{tally.name}:")
    print(f"  {tally.stories} stories, {tally.all_reports} reports in the store")
    print(
        f"  alerts {alerts}: at first push {first_single} single-source, "
        f"{alerts - first_single} confirmed by 2+; at the end {end_single} single-source, "
        f"{end_known - end_single} confirmed by 2+"
    )
    print(
        f"  reports of alerted stories {alerted_reports}, folded as copies {sum(reasons.values())}"
        f" ({_reasons(reasons)})"
    )
    print(
        f"  every story: folded as copies {sum(tally.all_reasons.values())} of "
        f"{tally.all_reports} reports ({_reasons(tally.all_reasons)})"
    )
    return {
        "alerts": alerts,
        "single_first": first_single,
        "confirmed_first": alerts - first_single,
        "single_end": end_single,
        "confirmed_end": end_known - end_single,
        "copies_alerted": sum(reasons.values()),
        **{f"copies_alerted_{k.replace('-', '_')}": v for k, v in sorted(reasons.items())},
        "copies_all": sum(tally.all_reasons.values()),
        **{f"copies_all_{k.replace('-', '_')}": v for k, v in sorted(tally.all_reasons.items())},
    }


def _reasons(reasons: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) or "none"


def _origin_report(
    reports: Sequence[StoryReport], outlet: str, copy: StoryReport
) -> StoryReport | None:
    """The report of ``outlet`` that ``copy`` shares its headline or path with, else its first."""
    theirs = [r for r in reports if r.outlet == outlet]
    headline, path = headline_key(copy.title), path_key(copy.url)
    for r in theirs:
        if (headline and headline_key(r.title) == headline) or (path and path_key(r.url) == path):
            return r
    return theirs[0] if theirs else None


def show(tally: Tally, count: int, seed: int) -> None:
    """``count`` folded copies (of any stored story; alerted ones marked), each beside the
    report it copies."""
    pairs: list[tuple[StoryReport, StoryReport | None, str]] = []
    alerted = set(tally.alerted)
    for sid, found in sorted(tally.folded.items()):
        reports = tally.reports[sid]
        for copy in found.copies:
            mine = next(r for r in reports if (r.source, r.key) == (copy.source, copy.key))
            origin = _origin_report(reports, copy.copy_of, mine)
            mark = "alerted, " if sid in alerted else ""
            pairs.append((mine, origin, f"{mark}{copy.reason} {copy.copy_of}"))
    random.Random(seed).shuffle(pairs)
    print(f"  {min(count, len(pairs))} of {len(pairs)} folded copies (seed {seed}):")
    for mine, origin, why in sorted(pairs[:count], key=lambda p: p[2]):
        print(f"  - [{why}] {mine.outlet}: {mine.title[:110]}")
        print(f"      {mine.url[:130]}  credit={mine.credit or '-'}")
        if origin is not None:
            print(f"    = {origin.outlet}: {origin.title[:110]}")
            print(f"      {origin.url[:130]}")
        else:
            print("    = (the wire itself is not among the story's outlets)")


async def main_async(args: argparse.Namespace) -> int:
    warnings.simplefilter("ignore")
    settings = load_config(ROOT / "config" / "default.toml", env_file=None)
    figures: dict[str, int] = {}
    for name in ("news-feeds", "gaza-news") if args.data == "both" else (args.data,):
        tally = Tally(name)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            cycles = (
                news_feed_cycles(folder, args.days) if name == "news-feeds" else gaza_cycles(folder)
            )
            await _run(tally, settings, cycles)
        prefix = name.replace("-", "_")
        figures.update({f"{prefix}_{k}": v for k, v in describe(tally).items()})
        if args.show:
            show(tally, args.show, args.seed)
    print(f"reproduce: .venv/bin/python bench/corroboration.py {' '.join(sys.argv[1:])}".rstrip())
    print(result_line(**figures))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=("news-feeds", "gaza-news", "both"), default="both")
    parser.add_argument("--days", type=int, default=None, help="news-feeds: the first N days only")
    parser.add_argument("--show", type=int, default=0, help="print N folded copies to read")
    parser.add_argument("--seed", type=int, default=7)
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
