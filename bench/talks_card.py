"""The talks card on real headlines: what ``/talks status`` opens with at chosen instants.

Data: ../shared/data/gaza-news/gaza-news-dev.tsv (8,832 Google-News "Gaza" headlines, Oct 2023 -
Jun 2024). For each instant the stream is rebuilt into one RSS 2.0 feed per publisher, as
``bench/eval_desk.py`` does (title without its trailing " - Publisher", the row's link, no
description), holding the rows of the ``--days`` days up to the instant. Publication times: the
row's date at 00:00 UTC plus an equal share of the day per row of that date, in file order (the
``date`` column is a day's resolution, and often runs a day ahead of the event). The product's
own poller replays the feeds (``bot.poller.Poller.replay``, as ``talks-bot poll-once --replay``
does) into a temporary SQLite store with the default config's topics and desk, each report
judged at its own time; then the product's status code answers ``status`` as of the instant
(``Commands.handle``), and the card it opens with is printed (``--why`` adds ``why phase``).

Run: .venv/bin/python bench/talks_card.py [--at 2023-11-26T23:00Z ...] [--days 10] [--why]
Ends with a ``result:`` line: the phase at each instant.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import re
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import FeedEntry, result_line, rss_document, shared_data  # noqa: E402
from bot.app import desk_settings  # noqa: E402
from bot.config import Settings, SourceConfig, load_config  # noqa: E402
from bot.core.commands import Commands  # noqa: E402
from bot.core.desk import Desk  # noqa: E402
from bot.core.models import Destination  # noqa: E402
from bot.core.replies import Caller  # noqa: E402
from bot.core.route import Route  # noqa: E402
from bot.core.status import load_talks, phase_text  # noqa: E402
from bot.core.text import fold  # noqa: E402
from bot.ingest.fetch import Fetcher  # noqa: E402
from bot.poller import Poller, PollerSettings  # noqa: E402
from bot.store import open_store  # noqa: E402

DATA = "gaza-news/gaza-news-dev.tsv"
INSTANTS = (
    "2023-11-26T23:00Z",  # during the November 2023 truce (it began on 24 Nov)
    "2023-12-03T23:00Z",  # after its collapse on 1 Dec
    "2024-02-10T23:00Z",  # the February 2024 round (Cairo, Hamas's 135-day answer)
    "2024-02-27T23:00Z",  # after the Paris talks of late February
    "2024-03-07T23:00Z",  # the Cairo round before Ramadan
    "2024-06-02T23:00Z",  # after Biden set out the Israeli proposal (31 May)
)
CONSOLE = Caller("console", "", "console", "console")


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    publisher: str
    title: str
    url: str
    published: datetime


def load_rows(path: Path) -> list[Row]:
    """Every row, with its rebuilt publication time."""
    with path.open(encoding="utf-8", newline="") as f:
        raw = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    by_date: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in raw:
        by_date[r["date"]].append(r)
    rows = []
    for date, items in by_date.items():
        day = datetime.fromisoformat(date).replace(tzinfo=UTC)
        share = timedelta(days=1) / len(items)
        for i, r in enumerate(items):
            suffix = f" - {r['publisher']}"
            title = r["title"][: -len(suffix)] if r["title"].endswith(suffix) else r["title"]
            rows.append(
                Row(int(r["line"]), r["publisher"], title.strip(), r["url"], day + i * share)
            )
    rows.sort(key=lambda r: (r.published, r.line))
    return rows


def write_feeds(rows: Sequence[Row], folder: Path) -> list[SourceConfig]:
    """One RSS file per publisher; the sources that read them (outlet = the publisher)."""
    by_publisher: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_publisher[row.publisher].append(row)
    sources = []
    for n, (publisher, items) in enumerate(sorted(by_publisher.items())):
        slug = re.sub(r"[^a-z0-9]+", "-", fold(publisher)).strip("-")[:40] or "outlet"
        name = f"{n:03d}-{slug}"
        entries = [
            FeedEntry(f"gaza-news-{r.line}", r.title, r.url, "", r.published)
            for r in sorted(items, key=lambda r: r.published, reverse=True)
        ]
        file = folder / f"{name}.xml"
        file.write_bytes(rss_document(publisher, "https://news.example/", entries))
        sources.append(SourceConfig(name=name, url=file.as_uri(), outlet=publisher))
    return sources


async def card_at(
    settings: Settings, rows: Sequence[Row], at: datetime, days: int, why: bool
) -> tuple[str, str, str, float]:
    """Replay the ``days`` up to ``at`` and read the card: (phase, card text, why text, s)."""
    cfg = settings.config
    window = [r for r in rows if at - timedelta(days=days) < r.published <= at]
    with tempfile.TemporaryDirectory(prefix="talks-card-") as tmp:
        folder = Path(tmp)
        sources = write_feeds(window, folder)
        store = open_store(f"sqlite:///{folder / 'card.db'}")
        await store.open()
        fetcher = Fetcher(max_bytes=cfg.fetch.max_bytes)
        routes = [Route(Destination("console", "desk"), ("*",))]
        try:
            poller = Poller(
                store,
                fetcher,
                lambda: Desk(cfg.topic_models, routes, desk_settings(cfg)),
                PollerSettings.of(cfg, folder, replay=True),
                clock=lambda: at,
            )
            started = time.perf_counter()
            await poller.replay(sources)
            seconds = time.perf_counter() - started
            commands = Commands(
                store, cfg.topic_models, lambda: at, sources=[s.name for s in sources]
            )
            status = await commands.handle(CONSOLE, "status 24h", now=at)
            explained = await commands.handle(CONSOLE, "why phase", now=at) if why else None
            phase = phase_text(await load_talks(store, cfg.topic_models, at))
        finally:
            await fetcher.aclose()
            await store.close()
    card = status.text.split("\n\n", 1)[0]
    return phase, card, explained.text if explained else "", seconds


async def main_async(args: argparse.Namespace) -> int:
    path = shared_data(DATA)
    if path is None:
        return 0
    warnings.simplefilter("ignore")
    settings = load_config(ROOT / "config" / "default.toml", env_file=None)
    rows = load_rows(path)
    print(f"data: {path} ({len(rows)} rows); {args.days} days replayed up to each instant")
    print(f"reproduce: .venv/bin/python bench/talks_card.py --days {args.days}")
    phases = {}
    for text in args.at or INSTANTS:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
        phase, card, why, seconds = await card_at(settings, rows, at, args.days, args.why)
        phases[at.strftime("%Y-%m-%d")] = phase
        print(f"\n━━ as of {at:%Y-%m-%d %H:%M} UTC (replayed in {seconds:.1f} s)")
        print(card)
        if why:
            print(f"\n{why}")
    print()
    print(result_line(**{k.replace("-", ""): v.replace(" ", "_") for k, v in phases.items()}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--at", action="append", help="an instant (ISO), may be repeated")
    parser.add_argument("--days", type=int, default=10, help="days replayed up to each instant")
    parser.add_argument("--why", action="store_true", help="also print `why phase`")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
