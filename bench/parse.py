"""Parse throughput of bot.ingest.feeds.parse_feed against feedparser, on real-site feeds.

Corpus: ../shared/data/feed-corpus: rss-parser/test/input/* and feed-rs/fixture/** (xml, json; the
expected-output *.serde.json files excluded). Both parsers read the same bytes in the same run; the
script also compares title, link, id and date item by item (lightly normalised: entities decoded,
whitespace collapsed) and reports how often the two agree.

Run: .venv/bin/python bench/parse.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import html
import io
import re
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser

from bot.errors import FeedError
from bot.ingest.feeds import parse_feed

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "feed-corpus"
_TAGS = re.compile(r"<[^>]+>")


def corpus() -> list[tuple[str, bytes]]:
    files = sorted((DATA / "rss-parser" / "test" / "input").glob("*"))
    for path in sorted((DATA / "feed-rs").rglob("fixture/**/*")):
        if path.suffix in (".xml", ".json") and not path.name.endswith(".serde.json"):
            files.append(path)
    return [(str(p.relative_to(DATA)), p.read_bytes()) for p in files if p.is_file()]


def ours(body: bytes) -> Any:
    try:
        return parse_feed(body)
    except FeedError:
        return None


def theirs(body: bytes) -> Any:
    return feedparser.parse(io.BytesIO(body))


def race(docs: list[bytes], seconds: float) -> tuple[float, int, float, int]:
    """Docs/s for both parsers, measured in alternating rounds so machine noise hits both alike.

    Each round runs one feedparser pass over the corpus, then parse_feed passes for as long.
    Returns (ours docs/s, ours passes, feedparser docs/s, feedparser passes).
    """
    ours_time = theirs_time = 0.0
    ours_passes = theirs_passes = 0
    while theirs_time < seconds:
        started = time.perf_counter()
        for body in docs:
            theirs(body)
        round_time = time.perf_counter() - started
        theirs_time += round_time
        theirs_passes += 1
        spent = 0.0
        while spent < round_time:
            started = time.perf_counter()
            for body in docs:
                ours(body)
            spent += time.perf_counter() - started
            ours_passes += 1
        ours_time += spent
    n = len(docs)
    return ours_passes * n / ours_time, ours_passes, theirs_passes * n / theirs_time, theirs_passes


def norm(text: str | None) -> str:
    if not text:
        return ""
    return " ".join(html.unescape(_TAGS.sub("", html.unescape(text))).split())


def fp_date(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        value = entry.get(key)
        if value:
            year, month, day, hour, minute, second = value[:6]
            return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="minimum feedparser time")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"skipped: {DATA} not found (the shared data folder is not part of a clone)")
        print("result: skipped=1")
        return 0
    warnings.simplefilter("ignore")
    docs = corpus()
    bodies = [body for _, body in docs]
    print(f"corpus: {len(docs)} documents, {sum(map(len, bodies)) / 1e6:.2f} MB from {DATA}")

    agree = {"title": 0, "link": 0, "id": 0, "date": 0}
    compared = items_ours = items_theirs = 0
    recovered = refused = 0
    for name, body in docs:
        mine, fp = ours(body), theirs(body)
        if mine is None:
            refused += 1
            print(f"  FeedError on {name}")
            continue
        recovered += any("lenient" in w for w in mine.warnings)
        items_ours += len(mine.items)
        items_theirs += len(fp.entries)
        for item, entry in zip(mine.items, fp.entries, strict=False):
            compared += 1
            agree["title"] += norm(item.title) == norm(entry.get("title"))
            agree["link"] += (item.link or "") == (entry.get("link") or "")
            agree["id"] += (item.guid or "") == (entry.get("id") or "")
            mine_date = item.published.replace(microsecond=0) if item.published else None
            agree["date"] += mine_date == fp_date(entry)

    ours_rate, ours_passes, fp_rate, fp_passes = race(bodies, args.seconds)
    ours_items = ours_rate * items_ours / len(docs)
    fp_items = fp_rate * items_theirs / len(docs)
    ratio = ours_rate / fp_rate
    print(f"items: ours {items_ours}, feedparser {items_theirs}; compared pairwise {compared}")
    print(f"fast path refused {refused} documents, lenient fallback used for {recovered}")
    for key, value in agree.items():
        print(f"  {key:5s} agree {value}/{compared} ({100 * value / max(compared, 1):.1f}%)")
    print(f"parse_feed : {ours_rate:9.1f} docs/s {ours_items:10.0f} items/s ({ours_passes} passes)")
    print(f"feedparser : {fp_rate:9.1f} docs/s {fp_items:10.0f} items/s ({fp_passes} passes)")
    print(f"speed ratio (ours / feedparser): {ratio:.1f}x  (target >= 20x)")
    print("reproduce: .venv/bin/python bench/parse.py")
    print(
        f"result: docs={len(docs)} items={items_ours} ours_docs_per_s={ours_rate:.1f} "
        f"feedparser_docs_per_s={fp_rate:.1f} ours_items_per_s={ours_items:.0f} "
        f"feedparser_items_per_s={fp_items:.0f} speed_ratio={ratio:.1f} compared={compared} "
        f"title_agree={agree['title']} link_agree={agree['link']} id_agree={agree['id']} "
        f"date_agree={agree['date']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
