"""talks-bot against ``reader`` (a feed-reader library on feedparser + SQLite), 1,000 local feeds.

One static feed server runs in a child process (aiohttp, so its CPU is counted for neither tool) on
eight loopback addresses 127.0.0.1-8 sharing one port. Every feed carries 20 items, an ETag and a
Last-Modified date, and answers a conditional request for the version the client has with 304 Not
Modified. The first version's items are spread over the last 47.5 hours, so after the first cycle
the store holds a full 48-hour dedup window (20,000 stories on 1,000 feeds).

Each tool runs three cycles, each one whole process started by this script (start-up, imports and
configuration included, for both):
  first       every feed polled for the first time: 20,000 new items.
  grew        500 feeds (the even ones) published two items each: 1,000 new items; the other 500
              answer 304.
  unchanged   nothing changed: every feed answers 304.

talks-bot runs as the real CLI, ``talks-bot poll-once``, on a config of the 1,000 sources (8 hosts
x the default ``max_per_host = 4`` = 32 requests in flight) with the shipped topics and route, and
its own temporary SQLite database (alerts go to the console route, to a file). The checkout's
``bot/`` is byte-compiled first (untimed), as any installed package is, reader's included. reader runs as a
``python -c`` child that opens its own temporary SQLite database, adds the 1,000 feeds on the first
cycle (the counterpart of talks-bot reading its config), and calls
``update_feeds(workers=16, scheduled=False)``. Measured per process: wall time, CPU time (user +
system, the delta of ``getrusage(RUSAGE_CHILDREN)``) and peak RSS (``wait4``'s figure for that
child; this script stays small, about 22 MB, since a child's figure starts from its parent's
resident size at the fork). The server is reset between the two tools, so both see the same
documents.

The issue's key figure is talks-bot's ``unchanged`` cycle: ``poll-once`` over 1,000 unchanged feeds
with the full 48-hour window in the store, start-up included. Target: <= 2 s, and under half of
reader's time for the same cycle.

Run: .venv/bin/python bench/vs_reader.py [--feeds 1000] [--hosts 8] [--workers 16]
     [--only talks-bot|reader] [--bot CHECKOUT]
Needs the ``bench`` extra (``.venv/bin/pip install -e '.[bench]'``); prints ``skipped`` without it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from html import escape
from pathlib import Path

from common import ROOT, call, result_line, serve_forever
from poll import headline, write_config

CYCLES = ("first", "grew", "unchanged")
KEY_TARGET_S = 2.0
WINDOW = timedelta(hours=47, minutes=30)
"""The first version's items are spread over this span before the bench starts."""

READER_CHILD = r"""
import json, sys
from reader import make_reader

db, urls_file, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
reader = make_reader(db)
before = reader.get_entry_counts().total
urls = open(urls_file, encoding="utf-8").read().split()
if reader.get_feed_counts().total < len(urls):
    for url in urls:
        reader.add_feed(url, exist_ok=True)
reader.update_feeds(workers=workers, scheduled=False)
after = reader.get_entry_counts().total
broken = reader.get_feed_counts(broken=True).broken
print(json.dumps({"new": after - before, "entries": after, "broken": broken}))
reader.close()
"""


def item_time(feed: int, n: int, feeds: int, items: int, start: datetime) -> datetime:
    """When item ``n`` of ``feed`` was published: the first ``items`` spread evenly over WINDOW
    (feeds interleaved), later ones in the last half hour before the bench started."""
    if n < items:
        step = WINDOW / (items * feeds)
        return start + step * (n * feeds + feed)
    return start + WINDOW + timedelta(minutes=n - items)


def feed_document(
    feed: int, version: int, feeds: int, items: int, start: datetime
) -> tuple[bytes, str, str]:
    """(RSS body, ETag, Last-Modified) of ``feed`` after it grew ``version`` times by two."""
    newest = items + 2 * version
    parts = []
    for n in range(newest - 1, newest - 1 - items, -1):
        title, lead = headline(feed, n)
        when = item_time(feed, n, feeds, items, start)
        parts.append(
            f'<item><guid isPermaLink="false">f{feed}-{n}</guid><title>{escape(title)}</title>'
            f"<link>https://desk{feed}.example/{n}</link>"
            f"<description>{escape(f'<p>{lead}</p>')}</description>"
            f"<pubDate>{format_datetime(when)}</pubDate></item>"
        )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Desk {feed}</title><link>https://desk{feed}.example/</link>"
        f"<description>Desk {feed}</description>{''.join(parts)}</channel></rss>"
    ).encode()
    modified = item_time(feed, newest - 1, feeds, items, start)
    return body, f'"f{feed}-v{version}"', format_datetime(modified, usegmt=True)


def serve(
    hosts: list[str],
    port_queue: multiprocessing.Queue,  # type: ignore[type-arg]
    feeds: int,
    items: int,
    start_iso: str,
) -> None:
    """The feed server (child process): GET /feed/N; POST /grow?feeds=K (the first K even feeds
    publish two items), POST /reset (every feed back to its first version); GET /stats (the
    counters since the last call, then zeroed)."""
    from aiohttp import web

    start = datetime.fromisoformat(start_iso)
    versions = [0] * feeds
    counters = {"requests": 0, "conditional": 0, "not_modified": 0}
    cache: dict[tuple[int, int], tuple[bytes, str, str]] = {}

    async def feed(request: web.Request) -> web.Response:
        number = int(request.match_info["n"])
        key = (number, versions[number])
        if key not in cache:
            cache[key] = feed_document(number, key[1], feeds, items, start)
        body, etag, modified = cache[key]
        headers = {"ETag": etag, "Last-Modified": modified}
        counters["requests"] += 1
        match = request.headers.get("If-None-Match")
        since = request.headers.get("If-Modified-Since")
        if match is not None or since is not None:
            counters["conditional"] += 1
            if match is not None:
                fresh = etag in [tag.strip() for tag in match.split(",")]
            else:
                try:
                    fresh = parsedate_to_datetime(modified) <= parsedate_to_datetime(since or "")
                except (TypeError, ValueError):
                    fresh = False
            if fresh:
                counters["not_modified"] += 1
                return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type="application/rss+xml", headers=headers)

    async def grow(request: web.Request) -> web.Response:
        count = int(request.query.get("feeds", "0"))
        for number in range(0, min(feeds, 2 * count), 2):
            versions[number] += 1
        return web.json_response({"grew": count})

    async def reset(request: web.Request) -> web.Response:
        versions[:] = [0] * feeds
        return web.json_response({"reset": feeds})

    async def stats(request: web.Request) -> web.Response:
        shown = dict(counters)
        for name in counters:
            counters[name] = 0
        return web.json_response(shown)

    serve_forever(
        [
            web.get("/feed/{n}", feed),
            web.post("/grow", grow),
            web.post("/reset", reset),
            web.get("/stats", stats),
        ],
        hosts,
        port_queue,
    )


@dataclass(frozen=True, slots=True)
class Run:
    """One measured process."""

    wall: float
    cpu: float
    rss_mb: float
    new: int
    """New items the tool reported (talks-bot: new reports; reader: new entries)."""
    requests: int
    not_modified: int
    exit: int = 0
    """The process's exit status (talks-bot: 1 when a source failed or a poll was not saved)."""
    summary: str = ""
    """talks-bot: its summary line."""


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(
    command: list[str], *, cwd: Path, env: dict[str, str], folder: Path, timeout: float
) -> tuple[float, float, float, str, str, int]:
    """Run ``command`` to its end: (wall s, CPU s, peak RSS MB, stdout, stderr, exit status)."""
    out_path, err_path = folder / "stdout.txt", folder / "stderr.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        cpu, wall = children_cpu(), time.perf_counter()
        child = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                child.kill()
                pid, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.005)
        wall, cpu = time.perf_counter() - wall, children_cpu() - cpu
        child.returncode = os.waitstatus_to_exitcode(status)
    stdout = out_path.read_text(encoding="utf-8", errors="replace")
    stderr = err_path.read_text(encoding="utf-8", errors="replace")
    return wall, cpu, usage.ru_maxrss / 1024, stdout, stderr, child.returncode


def summary_line(stderr: str) -> str:
    """poll-once's summary line ('1000 sources: ...; N new reports, ...'), or ''."""
    lines = [line for line in stderr.splitlines() if " new report" in line]
    return lines[-1] if lines else ""


def new_reports(summary: str) -> int:
    """The new-report count from poll-once's summary line."""
    if " new report" not in summary:
        return -1
    head = summary.split(" new report")[0]
    return int(head.rsplit(" ", 1)[-1].replace(",", ""))


def stored(db: Path) -> tuple[int, int]:
    """(stories, reports) in a talks-bot SQLite database."""
    import sqlite3

    with sqlite3.connect(db) as connection:
        stories: int = connection.execute("SELECT count(*) FROM stories").fetchone()[0]
        reports: int = connection.execute("SELECT count(*) FROM reports").fetchone()[0]
    return stories, reports


def talks_bot_cycles(
    args: argparse.Namespace, base: str, config: Path, folder: Path
) -> tuple[list[Run], tuple[int, int]]:
    checkout = Path(args.bot).resolve() if args.bot else ROOT
    script = checkout / ".venv" / "bin" / "talks-bot"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot"]
    command += ["poll-once", "--config", str(config)]
    # An installed package (pip, the container) carries compiled bytecode, as reader's does; an
    # editable checkout run under PYTHONDONTWRITEBYTECODE would recompile every module of bot/
    # in every process. Compile it once, untimed, so both tools start the way an install does.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(checkout / "bot")],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    db = folder / "talks-bot.db"
    env = {**os.environ, "TALKS_BOT_DATABASE_URL": f"sqlite:///{db}"}
    runs = []
    for name in CYCLES:
        if name == "grew":
            call(f"{base}/grow?feeds={args.feeds // 2}", "POST")
        wall, cpu, rss, _, err, status = measure(
            command, cwd=checkout, env=env, folder=folder, timeout=args.timeout
        )
        served = call(f"{base}/stats")
        summary = summary_line(err)
        if status != 0:
            print(f"  talks-bot {name}: exit {status}; last lines:", file=sys.stderr)
            sys.stderr.write("".join(f"    {line}\n" for line in err.splitlines()[-6:]))
        runs.append(
            Run(
                wall,
                cpu,
                rss,
                new_reports(summary),
                served["requests"],
                served["not_modified"],
                status,
                summary,
            )
        )
    return runs, stored(db)


def reader_cycles(args: argparse.Namespace, base: str, urls: Path, folder: Path) -> list[Run]:
    db = folder / "reader.sqlite"
    command = [sys.executable, "-c", READER_CHILD, str(db), str(urls), str(args.workers)]
    runs = []
    for name in CYCLES:
        if name == "grew":
            call(f"{base}/grow?feeds={args.feeds // 2}", "POST")
        wall, cpu, rss, out, err, status = measure(
            command, cwd=folder, env=dict(os.environ), folder=folder, timeout=args.timeout
        )
        served = call(f"{base}/stats")
        if status != 0:
            sys.stderr.write(err[-4000:])
            raise SystemExit(f"reader's {name} cycle exited {status}")
        shown = json.loads(out.strip().splitlines()[-1])
        if shown["broken"]:
            print(f"  reader: {shown['broken']} feeds failed in the {name} cycle")
        runs.append(Run(wall, cpu, rss, shown["new"], served["requests"], served["not_modified"]))
    return runs


def run_line(tool: str, name: str, run: Run) -> str:
    return (
        f"  {tool:9s} {name:9s}  wall {run.wall:6.2f} s  CPU {run.cpu:6.2f} s  "
        f"peak RSS {run.rss_mb:5.0f} MB  new {run.new:6d}  "
        f"requests {run.requests:5d} (304: {run.not_modified})"
        + (f"  EXIT {run.exit}: {run.summary}" if run.exit else "")
    )


def run_bench(args: argparse.Namespace) -> int:
    hosts = [f"127.0.0.{i + 1}" for i in range(args.hosts)]
    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = datetime.now(UTC).replace(microsecond=0) - WINDOW - timedelta(minutes=30)
    ports: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    server = multiprocessing.Process(
        target=serve,
        args=(hosts, ports, args.feeds, args.items, start.isoformat()),
        daemon=True,
    )
    server.start()
    ours: list[Run] = []
    theirs: list[Run] = []
    stories = reports = 0
    try:
        port = ports.get(timeout=30)
        base = f"http://{hosts[0]}:{port}"
        with tempfile.TemporaryDirectory(prefix="vs-reader-") as name:
            folder = Path(name)
            config = write_config(folder, args.feeds, hosts, port)
            urls = folder / "urls.txt"
            urls.write_text(
                "\n".join(
                    f"http://{hosts[n % len(hosts)]}:{port}/feed/{n}" for n in range(args.feeds)
                ),
                encoding="utf-8",
            )
            if args.only in (None, "talks-bot"):
                ours, (stories, reports) = talks_bot_cycles(args, base, config, folder)
                call(f"{base}/reset", "POST")
            if args.only in (None, "reader"):
                theirs = reader_cycles(args, base, urls, folder)
    finally:
        server.kill()
        server.join(5)

    print(
        f"{args.feeds} feeds x {args.items} items on {len(hosts)} loopback hosts; talks-bot "
        f"poll-once (max_per_host 4: {4 * len(hosts)} in flight) vs reader "
        f"update_feeds(workers={args.workers}, scheduled=False); each cycle one whole process "
        f"(peak RSS floor: this script's own {floor:.0f} MB)"
    )
    for name, run in zip(CYCLES, ours, strict=False):
        print(run_line("talks-bot", name, run))
    for name, run in zip(CYCLES, theirs, strict=False):
        print(run_line("reader", name, run))
    figures: dict[str, float | int | str] = {"feeds": args.feeds}
    for tool, runs in (("bot", ours), ("reader", theirs)):
        for name, run in zip(CYCLES, runs, strict=False):
            figures[f"{tool}_{name}_wall_s"] = run.wall
            figures[f"{tool}_{name}_cpu_s"] = run.cpu
            figures[f"{tool}_{name}_rss_mb"] = run.rss_mb
            if run.exit:
                figures[f"{tool}_{name}_exit"] = run.exit
    if ours and theirs:
        print("  reader / talks-bot (higher: talks-bot faster or smaller):")
        for name, a, b in zip(CYCLES, ours, theirs, strict=True):
            wall, cpu, rss = b.wall / a.wall, b.cpu / a.cpu, b.rss_mb / a.rss_mb
            print(f"    {name:9s}  wall {wall:5.2f}x  CPU {cpu:5.2f}x  peak RSS {rss:5.2f}x")
            figures[f"{name}_wall_ratio"] = wall
            figures[f"{name}_cpu_ratio"] = cpu
    if ours:
        key = ours[-1]
        half = theirs[-1].wall / 2 if theirs else float("nan")
        met = key.exit == 0 and key.wall <= KEY_TARGET_S and (not theirs or key.wall < half)
        print(
            f"  key figure: poll-once over {args.feeds} unchanged feeds with {reports:,} reports in "
            f"{stories:,} stories (a full 48 h window) in the store, start-up included: {key.wall:.2f} s wall, "
            f"{key.cpu:.2f} s CPU (target <= {KEY_TARGET_S:g} s"
            + (f" and < half of reader's {theirs[-1].wall:.2f} s" if theirs else "")
            + f"): {'met' if met else 'NOT met'}"
        )
        figures["stories"] = stories
        figures["reports"] = reports
        figures["key_wall_s"] = key.wall
        figures["key_cpu_s"] = key.cpu
        figures["key_target_met"] = int(met)
    shown = " ".join(
        f"--{k} {v}"
        for k, v in (("feeds", args.feeds), ("hosts", args.hosts), ("workers", args.workers))
    )
    extra = (f" --only {args.only}" if args.only else "") + (
        f" --bot {args.bot}" if args.bot else ""
    )
    print(f"reproduce: .venv/bin/python bench/vs_reader.py {shown}{extra}")
    print(result_line(**figures))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20, help="items per feed")
    parser.add_argument("--hosts", type=int, default=8, help="loopback addresses serving feeds")
    parser.add_argument("--workers", type=int, default=16, help="reader's update_feeds workers")
    parser.add_argument("--only", choices=("talks-bot", "reader"), help="measure one tool")
    parser.add_argument("--bot", help="another checkout whose .venv/bin/talks-bot to measure")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per process")
    args = parser.parse_args()
    if args.only != "talks-bot" and importlib.util.find_spec("reader") is None:
        print("skipped: reader is not installed (.venv/bin/pip install -e '.[bench]')")
        print("result: skipped=1")
        return 0
    return run_bench(args)


if __name__ == "__main__":
    sys.exit(main())
