"""How many pushes a desk gets a day on two months of real feeds, and what waits for the digest.

Data: ../shared/data/news-feeds-2023/entries-2023-10-11.jsonl.gz (87,808 entries from 50 feeds,
1 Oct - 30 Nov 2023: the war's first two months, the hostage releases and the truce). Each feed
becomes a folder of captured documents, one RSS 2.0 file per crawl day, read through ``file://``
sources; ``talks-bot poll-once --replay --output jsonl`` then judges every item at its own
published time with the default config's topics, flood control and route (``[[routes]]`` of the
checkout's ``config/default.toml``: every topic, its briefing twice a day, and background held
for it).

Counted per UTC day of the alert's publication: pushes (``event: "alert"`` lines that name no
digest), and digest lines (``event: "queued"``, or an ``alert`` naming a digest, as talks-bot
printed folded alerts before it had the ``queued`` event: so the same script measures an older
checkout). Nothing is dropped: every story that reached a topic is either pushed or in a digest.

Run: .venv/bin/python bench/pushes.py [--days N] [--bot PATH-TO-CHECKOUT]
``--bot`` runs another checkout's CLI (its own .venv) on the same documents, to compare.
Ends with a ``result:`` line.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import tempfile
import tomllib
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    FeedEntry,
    replay_jsonl,
    result_line,
    rss_document,
    shared_data,
    source_lines,
)

DATA = "news-feeds-2023/entries-2023-10-11.jsonl.gz"


def _slug(url: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", url.lower().split("://", 1)[-1]).strip("-")[:60]


def write_documents(path: Path, folder: Path, days: int | None) -> tuple[dict[str, Path], int]:
    """Per feed, a folder of one RSS document per crawl day; returns feed -> folder, entries."""
    by_feed_day: dict[tuple[str, str], list[FeedEntry]] = defaultdict(list)
    count = 0
    first_day: str | None = None
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            entry = json.loads(line)
            day = entry["day_dir"]
            first_day = first_day or day
            if (
                days is not None
                and (datetime.fromisoformat(day) - datetime.fromisoformat(first_day)).days >= days
            ):
                break
            published = entry.get("date_published")
            by_feed_day[(entry["feed"], day)].append(
                FeedEntry(
                    guid=entry.get("link") or entry.get("title") or "",
                    title=entry.get("title") or "",
                    link=entry.get("link") or "",
                    description=entry.get("description") or "",
                    published=datetime.fromisoformat(published) if published else None,
                )
            )
            count += 1
    folders: dict[str, Path] = {}
    for (feed, day), entries in by_feed_day.items():
        target = folders.setdefault(feed, folder / _slug(feed))
        target.mkdir(parents=True, exist_ok=True)
        (target / f"{day}.xml").write_bytes(rss_document(feed, feed, entries))
    return folders, count


def write_config(folder: Path, feeds: dict[str, Path], defaults_path: Path) -> Path:
    """The default config's topics, flood control and routes; these feeds as its sources."""
    defaults = tomllib.loads(defaults_path.read_text(encoding="utf-8"))
    lines = [
        f"topics_from = {json.dumps(str(defaults_path))}",
        "",
        "[bot]",
        f"database_url = {json.dumps('sqlite:///' + str(folder / 'pushes.db'))}",
        "",
        "[flood]",
    ]
    for key, value in defaults.get("flood", {}).items():
        lines.append(f"{key} = {json.dumps(value)}")
    for route in defaults.get("routes", []):
        lines += ["", "[[routes]]"]
        lines += [f"{key} = {json.dumps(value)}" for key, value in route.items()]
    lines += source_lines(
        (f"feed-{i}", feed.split("://", 1)[-1].split("/", 1)[0], path.as_uri())
        for i, (feed, path) in enumerate(sorted(feeds.items()))
    )
    config = folder / "pushes.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def per_day(events: Sequence[dict[str, object]]) -> tuple[Counter[str], Counter[str]]:
    pushes: Counter[str] = Counter()
    digests: Counter[str] = Counter()
    for event in events:
        day = str(event.get("published", ""))[:10]
        if event.get("event") == "alert" and not event.get("digest"):
            pushes[day] += 1
        elif event.get("event") in {"alert", "queued"}:
            digests[day] += 1
    return pushes, digests


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=None, help="only the first N crawl days")
    parser.add_argument("--bot", type=Path, default=ROOT, help="checkout whose CLI to run")
    parser.add_argument("--events", type=Path, default=None, help="also write the JSON lines here")
    args = parser.parse_args(argv)
    path = shared_data(DATA)
    if path is None:
        return 0
    print(f"command: .venv/bin/python bench/pushes.py {' '.join(sys.argv[1:])}".rstrip())
    with tempfile.TemporaryDirectory(prefix="talks-pushes-") as tmp:
        folder = Path(tmp)
        feeds, entries = write_documents(path, folder / "feeds", args.days)
        config = write_config(folder, feeds, args.bot.resolve() / "config" / "default.toml")
        bot = args.bot.resolve()
        events, seconds = replay_jsonl(config, python=str(bot / ".venv/bin/python"), cwd=bot)
    if args.events is not None:
        args.events.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    pushes, digests = per_day(events)
    days = sorted(set(pushes) | set(digests))
    counts = [pushes.get(d, 0) for d in days]
    print(f"{entries} entries from {len(feeds)} feeds; talks-bot at {args.bot}: {seconds:.0f} s")
    print(f"{'day':<11} {'pushes':>6} {'digest':>6}")
    for day in days:
        print(f"{day:<11} {pushes.get(day, 0):>6} {digests.get(day, 0):>6}")
    median = statistics.median(counts) if counts else 0
    print(
        f"pushes per day: median {median}, max {max(counts, default=0)}; "
        f"total pushes {sum(counts)}, digest lines {sum(digests.values())}"
    )
    print(
        result_line(
            entries=entries,
            days=len(days),
            pushes=sum(counts),
            digest_lines=sum(digests.values()),
            pushes_per_day_median=float(median),
            pushes_per_day_max=max(counts, default=0),
            seconds=round(seconds, 1),
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
