"""Robustness and correctness of parse_feed over every file of ../shared/data/feed-corpus.

Every feed file goes through parse_feed under a per-file time guard. A ``FeedError`` is a clean
refusal; any other exception is a crash (must be 0); running past the guard is a hang.
Then titles, links, ids and dates are checked against the expected values shipped with the corpora:
- feed-rs: ``*.serde.json`` next to each fixture (entries[i].id, title.content, links, published
  or updated); ids feed-rs invented when the feed gave none (not found in the document) are not compared;
- rss-parser: ``test/output/*.json`` (items[i].title, link, guid or id, isoDate);
- feedparser-tests: the simple clauses of each file's ``Expect:`` expression that test
  ``entries[i]['title' | 'link' | 'id' | 'published_parsed' | 'updated_parsed'] == literal``;
  every other file there only counts for crash/hang.
feedparser itself is scored on the same expectations as the baseline.

Run: .venv/bin/python bench/corpus_check.py
"""

from __future__ import annotations

import ast
import io
import json
import re
import signal
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import feedparser

from bot.core.models import ParsedFeed
from bot.errors import FeedError
from bot.ingest.feeds import parse_feed

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "feed-corpus"
GUARD_SECONDS = 5.0
FEED_SUFFIXES = {".xml", ".rss", ".atom", ".json", ".rdf"}
_EXPECT = re.compile(r"Description:\s*(.*?)\s*Expect:\s*(.*?)\s*-->", re.DOTALL)
_HEADER = re.compile(r"^Header:\s*([^:]+):\s*(.*?)\s*$", re.MULTILINE)
_CLAUSE = re.compile(
    r"^entries\[(\d+)\]\[['\"](title|link|id|published_parsed|updated_parsed)['\"]\]\s*==\s*(.+)$",
    re.DOTALL,
)


class Hang(Exception):
    pass


@dataclass
class Check:
    """One expected value: field of item ``index`` should equal ``value``."""

    index: int
    field: str  # title | link | id | date
    value: Any


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang


def files() -> Iterator[Path]:
    for path in sorted(DATA.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in FEED_SUFFIXES:
            continue
        rel = path.relative_to(DATA).as_posix()
        if path.name.endswith(".serde.json") or "/test/output/" in f"/{rel}":
            continue
        yield path


def read_text(body: bytes) -> str:
    for bom, name in (
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if body.startswith(bom):
            return body[len(bom) :].decode(name, errors="replace")
    if body[:4] in (b"\x00\x00\x00<", b"<\x00\x00\x00"):
        return body.decode("utf-32-be" if body[0] == 0 else "utf-32-le", errors="replace")
    if body[:2] in (b"\x00<", b"<\x00"):
        return body.decode("utf-16-be" if body[0] == 0 else "utf-16-le", errors="replace")
    return body.decode("utf-8", errors="replace")


def to_utc(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def expected_for(path: Path) -> tuple[list[Check], str | None]:
    """The expectations for a file, and the content type to hand both parsers."""
    rel = path.relative_to(DATA).as_posix()
    if rel.startswith("feed-rs/"):
        return feed_rs_checks(path), None
    if rel.startswith("rss-parser/"):
        return rss_parser_checks(path), None
    if rel.startswith("feedparser-tests/"):
        return feedparser_checks(path)
    return [], None


def feed_rs_checks(path: Path) -> list[Check]:
    expected = path.with_name(path.stem + ".serde.json")
    if not expected.exists():
        return []
    doc = json.loads(expected.read_text(encoding="utf-8"))
    source = read_text(path.read_bytes())
    checks: list[Check] = []
    for i, entry in enumerate(doc.get("entries", [])):
        if entry.get("title"):
            checks.append(Check(i, "title", entry["title"].get("content")))
        links = entry.get("links") or []
        if links:
            preferred = [x["href"] for x in links if x.get("rel") in (None, "alternate")]
            checks.append(Check(i, "link", set(preferred or [links[0]["href"]])))
        ident = entry.get("id") or ""
        if ident and ident in source:  # ids feed-rs invented are not in the file
            checks.append(Check(i, "id", ident))
        dates = {to_utc(entry.get("published")), to_utc(entry.get("updated"))} - {None}
        if dates:
            checks.append(Check(i, "date", dates))
    return checks


def rss_parser_checks(path: Path) -> list[Check]:
    expected = path.parents[1] / "output" / (path.stem + ".json")
    if not expected.exists():
        return []
    raw = expected.read_bytes()
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:  # one expected file is stored in Latin-1
        doc = json.loads(raw.decode("latin-1"))
    checks: list[Check] = []
    for i, item in enumerate(doc.get("feed", {}).get("items", [])):
        if isinstance(item.get("title"), str):
            checks.append(Check(i, "title", item["title"]))
        if isinstance(item.get("link"), str):
            checks.append(Check(i, "link", item["link"]))
        ident = item.get("guid") or item.get("id")
        if isinstance(ident, str):
            checks.append(Check(i, "id", ident))
        if isinstance(item.get("isoDate"), str):
            checks.append(Check(i, "date", {to_utc(item["isoDate"])}))
    return checks


def feedparser_checks(path: Path) -> tuple[list[Check], str | None]:
    text = read_text(path.read_bytes())
    match = _EXPECT.search(text)
    if match is None:
        return [], None
    headers = {k.strip().lower(): v for k, v in _HEADER.findall(text)}
    content_type = headers.get("content-type") if "http" in path.as_posix() else None
    checks: list[Check] = []
    for clause in re.split(r"\s+and\s+", match.group(2)):
        found = _CLAUSE.match(clause.strip())
        if found is None:
            continue
        index, field, literal = int(found.group(1)), found.group(2), found.group(3).strip()
        try:
            value = ast.literal_eval(literal)
        except (ValueError, SyntaxError):
            continue
        if field.endswith("_parsed"):
            if not isinstance(value, tuple) or len(value) < 6:
                continue
            year, month, day, hour, minute, second = (int(v) for v in value[:6])
            stamp = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
            checks.append(Check(index, "date", {stamp}))
        else:
            checks.append(Check(index, field, value))
    return checks, content_type


def ours_value(feed: ParsedFeed, check: Check) -> Any:
    if check.index >= len(feed.items):
        return None
    item = feed.items[check.index]
    return {"title": item.title, "link": item.link, "id": item.guid, "date": item.published}[
        check.field
    ]


def feedparser_value(result: Any, check: Check) -> Any:
    entries = result.get("entries") or []
    if check.index >= len(entries):
        return None
    entry = entries[check.index]
    if check.field == "date":
        for key in ("published_parsed", "updated_parsed"):
            if entry.get(key):
                year, month, day, hour, minute, second = entry[key][:6]
                return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        return None
    return entry.get(check.field)


def matches(check: Check, value: Any) -> bool:
    if value is None:
        return False
    if check.field == "date":
        return value.replace(microsecond=0) in {d.replace(microsecond=0) for d in check.value}
    if isinstance(value, str):
        value = value.strip()
    if isinstance(check.value, set):
        return value in check.value
    expected = check.value.strip() if isinstance(check.value, str) else check.value
    return bool(value == expected)


def main() -> int:
    if not DATA.is_dir():
        print(f"skipped: {DATA} not found (the shared data folder is not part of a clone)")
        print("result: skipped=1")
        return 0
    warnings.simplefilter("ignore")
    signal.signal(signal.SIGALRM, _alarm)
    counts: Counter[str] = Counter()
    ours_ok: Counter[str] = Counter()
    theirs_ok: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    per_corpus: Counter[str] = Counter()
    slowest = (0.0, "")
    started = time.perf_counter()
    for path in files():
        rel = path.relative_to(DATA).as_posix()
        corpus = rel.split("/", 1)[0]
        body = path.read_bytes()
        checks, content_type = expected_for(path)
        counts["files"] += 1
        feed: ParsedFeed | None = None
        signal.setitimer(signal.ITIMER_REAL, GUARD_SECONDS)
        t0 = time.perf_counter()
        try:
            feed = parse_feed(body, content_type=content_type)
            counts["parsed"] += 1
            counts["recovered"] += any("lenient" in w for w in feed.warnings)
        except FeedError:
            counts["feed_errors"] += 1
        except Hang:
            counts["hangs"] += 1
            print(f"  HANG  {rel}")
        except Exception as error:
            counts["crashes"] += 1
            print(f"  CRASH {rel}: {type(error).__name__}: {error}")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        took = time.perf_counter() - t0
        slowest = max(slowest, (took, rel))
        if not checks:
            continue
        headers = {"content-type": content_type} if content_type else {}
        result = feedparser.parse(io.BytesIO(body), response_headers=headers)
        for check in checks:
            key = f"{corpus}:{check.field}"
            totals[key] += 1
            per_corpus[corpus] += 1
            if feed is not None and matches(check, ours_value(feed, check)):
                ours_ok[key] += 1
            if matches(check, feedparser_value(result, check)):
                theirs_ok[key] += 1
    elapsed = time.perf_counter() - started

    print(f"corpus: {DATA}")
    print(
        f"files {counts['files']}: parsed {counts['parsed']} (lenient fallback {counts['recovered']}), "
        f"FeedError {counts['feed_errors']}, crashes {counts['crashes']}, hangs {counts['hangs']}"
    )
    print(f"slowest file {slowest[0] * 1000:.1f} ms ({slowest[1]}); whole run {elapsed:.1f} s")
    print(f"{'expectation':32s} {'checks':>7s} {'ours':>7s} {'feedparser':>11s}")
    for key in sorted(totals):
        print(f"{key:32s} {totals[key]:7d} {ours_ok[key]:7d} {theirs_ok[key]:11d}")
    total = sum(totals.values())
    ours_total = sum(ours_ok.values())
    theirs_total = sum(theirs_ok.values())
    print(f"{'all':32s} {total:7d} {ours_total:7d} {theirs_total:11d}")
    print("reproduce: .venv/bin/python bench/corpus_check.py")
    fields = " ".join(
        f"{key.replace(':', '_').replace('-', '_')}={ours_ok[key]}/{totals[key]}".split("/")[0]
        for key in sorted(totals)
    )
    print(
        f"result: files={counts['files']} crashes={counts['crashes']} hangs={counts['hangs']} "
        f"feed_errors={counts['feed_errors']} recovered={counts['recovered']} checks={total} "
        f"ours_match={ours_total} feedparser_match={theirs_total} "
        f"match_ratio={ours_total / max(theirs_total, 1):.3f} {fields}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
