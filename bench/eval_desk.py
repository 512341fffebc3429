"""Development-level evaluation of the desk on real headline streams, through the real CLI.

What a newsroom subscribing to an aggregator gets: headline-only items, one outlet each, many
outlets per development, every headline sharing the story's vocabulary. For each labelled window
of ``../shared/data/gaza-news`` (LABELS.md there says what the labels mean):

1. One RSS 2.0 feed per publisher is built from the window's rows: the title without its trailing
   " - Publisher", the row's link, pubDate = the row's date at 12:00 UTC plus 30 s x its position
   in the window (file order), no description. The feeds are served over HTTP on 127.0.0.1.
2. ``talks-bot poll-once --replay --output jsonl`` runs as a child process on a config with one
   source per publisher (outlet = the publisher), the default config's topics (``topics_from``)
   and one console route taking every topic, with a digest: exactly what ``config/default.toml``
   gives a desk, minus the real sources. Flood control is lifted here: the rebuilt pubDates put a
   whole day's rows within half an hour, which would fold alerts that live arrive hours apart.
3. Each ``alert`` (a push) is mapped back to its row by URL (query ignored) or title; ``queued``
   lines (held for the route's digest) are counted apart. The store the run leaves behind says
   which story every row joined, so each row gets the topics its story was delivered with.

Figures, per window and overall (counts pooled):

- alert precision: pushes on rows labelled with a topic (relevance >= 1) / pushes.
- development recall: developments with a relevance-2 row that got at least one push / such
  developments. (``covered`` also counts a digest line.)
- duplicate rate: pushes beyond the first per development / pushes.
- topic F1 per topic, over the window's rows: a row's predicted topics are those its story was
  delivered with (pushed or queued), none when its story never reached a reader.

The keyword baseline, computed in the same run on the same rows: a regular expression per topic on
the headline, and exact-title dedup (a headline already alerted is not alerted again). It is what an
editor could set up in a minute, and the floor the desk must never fall below.

Run: .venv/bin/python bench/eval_desk.py [--window A|B] [--show] [--check]
``--check`` exits 1 when, in any window or overall, development recall or alert precision is
below the keyword baseline's (CI runs it when ../shared/data is present). Ends with ``result:``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import functools
import http.server
import json
import re
import sys
import tempfile
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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
from bot.core.ports import StoryFilter  # noqa: E402
from bot.core.text import fold  # noqa: E402
from bot.store import open_store  # noqa: E402

TOPICS_FILE = ROOT / "config" / "default.toml"
WINDOWS = {
    "A": ("2024-02-01", "2024-02-14"),
    "B": ("2023-11-18", "2023-12-03"),
}
SCORED_TOPICS = ("rafah", "hostages", "cairo-delegation", "ceasefire-talks")
TARGET_TOPICS = ("rafah", "hostages", "ceasefire-talks")

KEYWORDS = {
    "rafah": re.compile(r"\brafah\b", re.I),
    "hostages": re.compile(r"\b(?:hostages?|captives?|abduct\w*)\b", re.I),
    "cairo-delegation": re.compile(
        r"\bcairo\b.*\b(?:talks|delegation|negotiat\w*|mediat\w*)|"
        r"\b(?:talks|delegation|negotiat\w*|mediat\w*)\b.*\bcairo\b",
        re.I,
    ),
    "ceasefire-talks": re.compile(
        r"\b(?:cease[- ]?fire|truce|pause|talks|negotiat\w*|mediat\w*|hostage deal)\b", re.I
    ),
}
"""The baseline: one regular expression per topic, on the headline."""


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    date: str
    publisher: str
    title: str
    """Without the aggregator's trailing " - Publisher"."""
    url: str
    topics: frozenset[str]
    story: str
    """The development id."""
    relevance: int
    published: datetime


@dataclass(slots=True)
class Delivered:
    """What the run showed readers: pushes (rows) and each row's delivered topics."""

    pushes: list[Row] = field(default_factory=list)
    queued: list[Row] = field(default_factory=list)
    topics: dict[int, frozenset[str]] = field(default_factory=dict)
    """Row line -> the topics its story reached readers with."""
    unmapped: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Figures:
    pushes: int
    precision: float
    developments: int
    recall: float
    covered: float
    duplicates: float
    f1: dict[str, float]
    missed: tuple[str, ...]
    repeated: tuple[tuple[str, int], ...]


def _key_url(url: str) -> str:
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, "", ""))


def strip_publisher(title: str, publisher: str) -> str:
    suffix = f" - {publisher}"
    return title[: -len(suffix)].strip() if title.endswith(suffix) else title.strip()


def load_rows(folder: Path) -> dict[str, list[Row]]:
    """The labelled rows of each window, in file order, with their rebuilt publication times."""
    with (folder / "gaza-news-dev.tsv").open(encoding="utf-8", newline="") as f:
        table = {
            int(r["line"]): r for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        }
    labels = [json.loads(x) for x in (folder / "labels-dev.jsonl").read_text().splitlines() if x]
    windows: dict[str, list[Row]] = {name: [] for name in WINDOWS}
    for label in labels:
        raw = table[label["line"]]
        for name, (first, last) in WINDOWS.items():
            if first <= raw["date"] <= last:
                windows[name].append(_row(raw, label, len(windows[name])))
                break
    return windows


def _row(raw: dict[str, str], label: dict[str, object], position: int) -> Row:
    day = datetime.fromisoformat(raw["date"]).replace(hour=12, tzinfo=UTC)
    topics = label["topics"]
    assert isinstance(topics, list)
    return Row(
        line=int(raw["line"]),
        date=raw["date"],
        publisher=raw["publisher"],
        title=strip_publisher(raw["title"], raw["publisher"]),
        url=raw["url"],
        topics=frozenset(topics),
        story=str(label["story"]),
        relevance=int(str(label["relevance"])),
        published=day + timedelta(seconds=30 * position),
    )


# --- the product's run ---------------------------------------------------------------------------


def _slug(publisher: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", fold(publisher)).strip("-")[:40] or "outlet"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


def write_feeds(rows: Sequence[Row], folder: Path) -> dict[str, str]:
    """One RSS file per publisher in ``folder``; returns publisher -> file name."""
    by_publisher: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_publisher[row.publisher].append(row)
    taken: set[str] = set()
    names = {}
    for publisher, items in by_publisher.items():
        slug = _slug(publisher, taken)
        entries = [
            FeedEntry(f"gaza-news-{r.line}", r.title, r.url, "", r.published)
            for r in sorted(items, key=lambda r: r.published, reverse=True)
        ]
        (folder / f"{slug}.xml").write_bytes(
            rss_document(publisher, "https://news.example/", entries)
        )
        names[publisher] = f"{slug}.xml"
    return names


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def write_config(folder: Path, base_url: str, feeds: dict[str, str]) -> Path:
    lines = [
        f"topics_from = {_toml(str(TOPICS_FILE))}",
        "",
        "[bot]",
        f"database_url = {_toml('sqlite:///' + str(folder / 'eval.db'))}",
        "",
        "[flood]",
        "max_alerts = 100",
        'per = "1m"',
        "",
        "[[routes]]",
        'platform = "console"',
        'channel = "console"',
        'topics = ["*"]',
        'digest = "0 7,19 * * *"',
    ]
    lines += source_lines(
        (
            (f"outlet-{i}", publisher, base_url + name)
            for i, (publisher, name) in enumerate(sorted(feeds.items()))
        ),
        interval="30m",
    )
    path = folder / "eval.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def run_desk(rows: Sequence[Row]) -> Delivered:
    """Serve the window's feeds, run ``talks-bot poll-once --replay --output jsonl``, read back."""
    with tempfile.TemporaryDirectory(prefix="talks-eval-") as tmp:
        folder = Path(tmp)
        feeds_dir = folder / "feeds"
        feeds_dir.mkdir()
        feeds = write_feeds(rows, feeds_dir)
        server, base = serve(feeds_dir)
        try:
            config = write_config(folder, base, feeds)
            events, seconds = replay_jsonl(config, cwd=folder, timeout=600)
        finally:
            server.shutdown()
            server.server_close()
        members = asyncio.run(_members(folder / "eval.db"))
    delivered = _read_events(rows, events, members)
    delivered.seconds = seconds
    return delivered


async def _members(db: Path) -> dict[str, list[tuple[str, str]]]:
    """Story id -> (url, title) of every report it holds, from the store the run left."""
    store = open_store(f"sqlite:///{db}")
    await store.open()
    try:
        stories = await store.stories(StoryFilter())
    finally:
        await store.close()
    return {s.id: [(r.url, r.title) for r in s.reports] for s in stories}


class _RowIndex:
    def __init__(self, rows: Iterable[Row]) -> None:
        self.by_url: dict[str, Row] = {}
        self.by_title: dict[str, Row] = {}
        for row in rows:
            self.by_url.setdefault(_key_url(row.url), row)
            self.by_title.setdefault(fold(row.title), row)

    def find(self, url: str, title: str) -> Row | None:
        return self.by_url.get(_key_url(url)) or self.by_title.get(fold(title))


def _read_events(
    rows: Sequence[Row], events: list[dict[str, object]], members: dict[str, list[tuple[str, str]]]
) -> Delivered:
    index = _RowIndex(rows)
    out = Delivered()
    story_topics: dict[str, frozenset[str]] = {}
    for event in events:
        kind = event.get("event")
        story_id = str(event.get("story_id", ""))
        topics = event.get("topics") or []
        assert isinstance(topics, list)
        story_topics[story_id] = frozenset(str(t) for t in topics)
        if kind not in {"alert", "queued"}:
            continue
        row = index.find(str(event.get("url", "")), str(event.get("title", "")))
        if row is None:
            out.unmapped.append(str(event.get("title", "")))
            continue
        (out.pushes if kind == "alert" else out.queued).append(row)
    for story_id, reports in members.items():
        topics = story_topics.get(story_id, frozenset())
        for url, title in reports:
            row = index.find(url, title)
            if row is not None:
                out.topics[row.line] = topics
    return out


# --- the keyword baseline ------------------------------------------------------------------------


def run_baseline(rows: Sequence[Row]) -> Delivered:
    out = Delivered()
    alerted: dict[str, frozenset[str]] = {}
    for row in sorted(rows, key=lambda r: r.published):
        topics = frozenset(t for t, rx in KEYWORDS.items() if rx.search(row.title))
        title = fold(row.title)
        if title in alerted:
            out.topics[row.line] = alerted[title]
            continue
        out.topics[row.line] = topics
        if topics:
            alerted[title] = topics
            out.pushes.append(row)
    return out


# --- figures -------------------------------------------------------------------------------------


def figures(rows: Sequence[Row], got: Delivered) -> Figures:
    pushes = got.pushes
    on_topic = sum(1 for r in pushes if r.relevance >= 1)
    wanted = {r.story for r in rows if r.relevance == 2}
    pushed = Counter(r.story for r in pushes)
    shown = set(pushed) | {r.story for r in got.queued}
    hit = wanted & set(pushed)
    extra = sum(n - 1 for n in pushed.values() if n > 1)
    f1 = {}
    for topic in SCORED_TOPICS:
        tp = fp = fn = 0
        for row in rows:
            want = topic in row.topics
            have = topic in got.topics.get(row.line, frozenset())
            tp += want and have
            fp += have and not want
            fn += want and not have
        f1[topic] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    first = {}
    for row in rows:
        first.setdefault(row.story, row)
    missed = tuple(f"{s}  «{first[s].title}»" for s in sorted(wanted - hit))
    repeated = tuple((s, n) for s, n in sorted(pushed.items()) if n > 1)
    return Figures(
        pushes=len(pushes),
        precision=on_topic / len(pushes) if pushes else 1.0,
        developments=len(wanted),
        recall=len(hit) / len(wanted) if wanted else 1.0,
        covered=len(wanted & shown) / len(wanted) if wanted else 1.0,
        duplicates=extra / len(pushes) if pushes else 0.0,
        f1=f1,
        missed=missed,
        repeated=repeated,
    )


def _pool(parts: Sequence[tuple[Sequence[Row], Delivered]]) -> tuple[list[Row], Delivered]:
    rows: list[Row] = []
    pooled = Delivered()
    for window_rows, got in parts:
        rows.extend(window_rows)
        pooled.pushes.extend(got.pushes)
        pooled.queued.extend(got.queued)
        pooled.topics.update(got.topics)
        pooled.unmapped.extend(got.unmapped)
        pooled.seconds += got.seconds
    return rows, pooled


def _line(name: str, f: Figures) -> str:
    topics = " / ".join(f"{f.f1[t]:.2f}" for t in TARGET_TOPICS)
    return (
        f"  {name:<9} pushes {f.pushes:>4}  precision {f.precision:.3f}  recall {f.recall:.3f}"
        f" ({f.developments} developments, covered {f.covered:.3f})  duplicates"
        f" {f.duplicates:.3f}  F1 rafah/hostages/ceasefire-talks {topics}"
        f"  cairo {f.f1['cairo-delegation']:.2f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--window", choices=sorted(WINDOWS), action="append")
    parser.add_argument("--show", action="store_true", help="also list every push")
    parser.add_argument("--topic-errors", action="store_true", help="list rows tagged wrongly")
    parser.add_argument("--check", action="store_true", help="exit 1 below the baseline")
    args = parser.parse_args(argv)
    folder = shared_data("gaza-news")
    if folder is None:
        return 0
    windows = load_rows(folder)
    names = args.window or sorted(WINDOWS)
    print(f"command: .venv/bin/python bench/eval_desk.py {' '.join(sys.argv[1:])}".rstrip())
    results: dict[str, tuple[Figures, Figures]] = {}
    parts_desk, parts_base = [], []
    for name in names:
        rows = windows[name]
        desk = run_desk(rows)
        base = run_baseline(rows)
        parts_desk.append((rows, desk))
        parts_base.append((rows, base))
        fd, fb = figures(rows, desk), figures(rows, base)
        results[name] = (fd, fb)
        first, last = WINDOWS[name]
        print(f"\nwindow {name} ({first}..{last}, {len(rows)} rows, {desk.seconds:.1f} s)")
        print(_line("talks-bot", fd))
        print(_line("keywords", fb))
        print(f"  digest lines {len(desk.queued)}; events not mapped to a row {len(desk.unmapped)}")
        for missed in fd.missed:
            print(f"  missed    {missed}")
        for story, n in fd.repeated:
            titles = [r.title for r in desk.pushes if r.story == story]
            print(f"  repeated  {story} x{n}: " + " | ".join(f"«{t}»" for t in titles))
        if args.show:
            for row in desk.pushes:
                print(f"  push      {row.relevance} {row.story}  «{row.title}»")
        if args.topic_errors:
            for row in rows:
                got = desk.topics.get(row.line, frozenset())
                for topic in TARGET_TOPICS:
                    if (topic in got) != (topic in row.topics):
                        kind = "extra" if topic in got else "missing"
                        print(f"  {kind:<9} {topic:<15} {row.line} «{row.title}»")
    if len(names) > 1:
        rows_d, pooled_d = _pool(parts_desk)
        rows_b, pooled_b = _pool(parts_base)
        results["all"] = (figures(rows_d, pooled_d), figures(rows_b, pooled_b))
        print("\noverall")
        print(_line("talks-bot", results["all"][0]))
        print(_line("keywords", results["all"][1]))
    line: dict[str, float | int | str] = {}
    failures = []
    for name, (fd, fb) in results.items():
        line[f"{name}_precision"] = round(fd.precision, 3)
        line[f"{name}_recall"] = round(fd.recall, 3)
        line[f"{name}_duplicates"] = round(fd.duplicates, 3)
        for topic in TARGET_TOPICS:
            line[f"{name}_f1_{topic}"] = round(fd.f1[topic], 3)
        line[f"{name}_baseline_recall"] = round(fb.recall, 3)
        line[f"{name}_baseline_precision"] = round(fb.precision, 3)
        if fd.recall < fb.recall:
            failures.append(f"{name}: recall {fd.recall:.3f} < baseline {fb.recall:.3f}")
        if fd.precision < fb.precision:
            failures.append(f"{name}: precision {fd.precision:.3f} < baseline {fb.precision:.3f}")
    for failure in failures:
        print(f"below the keyword baseline: {failure}")
    print(result_line(**line))
    return 1 if args.check and failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
