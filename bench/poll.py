"""One poll cycle over 1,000 feeds served on 127.0.0.1: wall time, CPU time, memory, 304 share.

A feed server runs in a child process (aiohttp, so its CPU is not counted as the bot's) on eight
loopback addresses 127.0.0.1-8, 125 feeds each: the bot's per-host limit (``[fetch]
max_per_host``, default 4) then allows 32 requests in flight, as 1,000 feeds spread over real
outlets would. Every feed carries 20 items and an ETag. Between cycles half the feeds publish two
new items (their ETag changes); the other half answer 304 Not Modified to the conditional request.

Cycles, all through the real ``Poller.cycle`` with a temporary SQLite database and the
shipped topics (alerts are recorded in the outbox; nothing is delivered):
  cold         the first poll of every feed (1,000 documents, 20,000 items).
  warm         half 304, half two new items: the steady state. This is the figure that counts.
  metrics      the same warm work again with Prometheus metrics on (``bot.metrics``), then once
               more with them off again: their cost is against the mean of the two cycles
               without (the second cycle of a run is faster than the first, the store larger).
  sequential   the baseline, in the same run: the same warm work, polling one feed at a time.

Run: .venv/bin/python bench/poll.py [--feeds 1000] [--hosts 8] [--items 20]
     [--profile | --profile-out FILE] [--skip-metrics] [--skip-sequential]
At 10,000 feeds (``--feeds 10000 --skip-metrics --skip-sequential``): the cold cycle stores 200,000
items; the sequential baseline alone would take longer than the rest of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from common import ROOT, call, cpu_seconds, peak_rss_mb, result_line, serve_forever

if TYPE_CHECKING:
    from bot.app import TalksBot

PLACES = "Rafah Khan-Younis Cairo Doha Gaza-City Jenin Nablus Amman Beirut Tel-Aviv Ashkelon Sderot"
SUBJECTS = (
    "aid convoy",
    "truce proposal",
    "hostage families",
    "border crossing",
    "fuel delivery",
    "hospital generator",
    "ministerial visit",
    "evacuation order",
    "water pipeline",
    "school shelter",
)
VERBS = ("reported near", "discussed in", "delayed outside", "announced for", "expected in")


def headline(feed: int, n: int) -> tuple[str, str]:
    places = PLACES.split()
    subject = SUBJECTS[(feed * 7 + n) % len(SUBJECTS)]
    place = places[(feed + n * 3) % len(places)].replace("-", " ")
    verb = VERBS[(feed + n) % len(VERBS)]
    title = f"Update {n} from desk {feed}: {subject} {verb} {place}"
    lead = (
        f"Desk {feed} filed note {n} on the {subject} {verb} {place}. Officials gave no "
        f"timetable, and local staff described item {n * 13 + feed} as routine."
    )
    return title, lead


def feed_body(
    feed: int, cycle: int, changing: bool, epoch: datetime, per_feed: int = 20
) -> tuple[bytes, str]:
    newest = per_feed + (2 * cycle if changing else 0)
    items = []
    for n in range(newest - 1, newest - 1 - per_feed, -1):
        title, lead = headline(feed, n)
        when = epoch + timedelta(minutes=n)
        items.append(
            f'<item><guid isPermaLink="false">f{feed}-{n}</guid><title>{escape(title)}</title>'
            f"<link>https://desk{feed}.example/{n}</link>"
            f"<description>{escape(f'<p>{lead}</p>')}</description>"
            f"<pubDate>{format_datetime(when)}</pubDate></item>"
        )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Desk {feed}</title><link>https://desk{feed}.example/</link>"
        f"<description>Desk {feed}</description>{''.join(items)}</channel></rss>"
    ).encode()
    return body, f'"f{feed}-{newest}"'


def serve(
    hosts: list[str],
    port_queue: multiprocessing.Queue,  # type: ignore[type-arg]
    epoch_iso: str,
    per_feed: int = 20,
) -> None:
    """The feed server (child process): GET /feed/N, POST /advance, GET /stats."""
    from aiohttp import web

    epoch = datetime.fromisoformat(epoch_iso)
    state = {"cycle": 0, "requests": 0, "conditional": 0, "not_modified": 0}
    cache: dict[tuple[int, int], tuple[bytes, str]] = {}

    async def feed(request: web.Request) -> web.Response:
        number = int(request.match_info["n"])
        changing = number % 2 == 0
        cycle = state["cycle"] if changing else 0
        key = (number, cycle)
        if key not in cache:
            cache[key] = feed_body(number, cycle, changing, epoch, per_feed)
        body, etag = cache[key]
        state["requests"] += 1
        if "If-None-Match" in request.headers:
            state["conditional"] += 1
            if request.headers["If-None-Match"] == etag:
                state["not_modified"] += 1
                return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, content_type="application/rss+xml", headers={"ETag": etag})

    async def advance(request: web.Request) -> web.Response:
        state["cycle"] += 1
        for counter in ("requests", "conditional", "not_modified"):
            state[counter] = 0
        return web.json_response(state)

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(state)

    serve_forever(
        [
            web.get("/feed/{n}", feed),
            web.post("/advance", advance),
            web.get("/stats", stats),
        ],
        hosts,
        port_queue,
    )


def write_config(folder: Path, feeds: int, hosts: list[str], port: int) -> Path:
    lines = ["[bot]\n", "[fetch]\nmax_per_host = 4\n"]
    for n in range(feeds):
        host = hosts[n % len(hosts)]
        lines.append(f'[[sources]]\nname = "desk{n}"\nurl = "http://{host}:{port}/feed/{n}"\n')
    default = (ROOT / "config" / "default.toml").read_text(encoding="utf-8")
    topics = default[default.index("[[topics]]") :]
    path = folder / "poll.toml"
    path.write_text("\n".join([*lines, topics]), encoding="utf-8")
    return path


async def cycle(bot: TalksBot, sequential: bool = False) -> tuple[float, float, int, int]:
    """(wall s, CPU s, polls ok, new reports) of one cycle."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    if sequential:
        polls = [await bot.poller.poll(s) for s in bot.sources]
    else:
        polls = (await bot.poller.cycle(bot.sources)).polls
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    return wall, cpu, sum(p.ok for p in polls), sum(p.new_reports for p in polls)


async def main_async(args: argparse.Namespace) -> int:
    # Imported here: bench/vs_reader.py imports this module's feed helpers and must stay small
    # (a child's peak RSS, as wait4 reports it, starts from its parent's).
    from bot.app import TalksBot
    from bot.config import load_config
    from bot.metrics import BotMetrics

    hosts = [f"127.0.0.{i + 1}" for i in range(args.hosts)]
    epoch = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    ports: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    server = multiprocessing.Process(
        target=serve, args=(hosts, ports, epoch.isoformat(), args.items), daemon=True
    )
    server.start()
    try:
        port = ports.get(timeout=20)
        base = f"http://{hosts[0]}:{port}"
        with tempfile.TemporaryDirectory() as folder:
            import os

            os.environ["TALKS_BOT_DATABASE_URL"] = f"sqlite:///{folder}/poll.db"
            settings = load_config(
                write_config(Path(folder), args.feeds, hosts, port), env_file=None
            )
            async with TalksBot(settings, out=io.StringIO()) as bot:
                cold = await cycle(bot)
                cold_rss = peak_rss_mb()
                call(f"{base}/advance", "POST")
                profiling = args.profile or args.profile_out
                if profiling:
                    import cProfile
                    import pstats

                    profile = cProfile.Profile()
                    profile.enable()
                warm = await cycle(bot)
                if profiling:
                    profile.disable()
                    if args.profile_out:
                        profile.dump_stats(args.profile_out)
                    if args.profile:
                        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
                warm_stats = call(f"{base}/stats")
                warm_rss = peak_rss_mb()
                measured = after = seq = None
                scraped = 0
                if not args.skip_metrics:
                    call(f"{base}/advance", "POST")
                    metrics = BotMetrics().instrument(bot)
                    measured = await cycle(bot)
                    scraped = len(metrics.exposition())
                    bot.poller.hooks.polled = bot.poller.hooks.cycled = None  # off again
                    call(f"{base}/advance", "POST")
                    after = await cycle(bot)
                if not args.skip_sequential:
                    call(f"{base}/advance", "POST")
                    seq = await cycle(bot, sequential=True)
    finally:
        server.kill()
        server.join(5)

    share = warm_stats["conditional"] / max(1, warm_stats["requests"])
    unchanged = warm_stats["not_modified"] / max(1, warm_stats["requests"])
    print(
        f"{args.feeds} feeds x {args.items} items on {len(hosts)} loopback hosts, max_per_host 4 "
        f"({4 * len(hosts)} requests in flight at most); temporary SQLite store"
    )
    runs = (
        ("cold", cold),
        ("warm", warm),
        ("metrics", measured),
        ("warm again", after),
        ("sequential", seq),
    )
    for name, run in runs:
        if run is None:
            continue
        wall, cpu, ok, new = run
        print(
            f"  {name:11s} wall {wall:6.2f} s  CPU {cpu:6.2f} s  polls ok {ok}  new reports {new}"
        )
    print(
        f"  warm cycle: {warm_stats['requests']} requests, {100 * share:.0f}% conditional, "
        f"{100 * unchanged:.0f}% answered 304"
    )
    print(f"  peak RSS after cold cycle {cold_rss:.0f} MB, after warm cycle {warm_rss:.0f} MB")
    figures: dict[str, float | int | str] = {
        "feeds": args.feeds,
        "items": args.items,
        "hosts": len(hosts),
        "cold_wall_s": cold[0],
        "cold_cpu_s": cold[1],
        "cold_rss_mb": cold_rss,
        "warm_wall_s": warm[0],
        "warm_cpu_s": warm[1],
    }
    if measured is not None and after is not None:
        without = (warm[0] + after[0]) / 2
        overhead = measured[0] / without - 1 if without else 0.0
        print(
            f"  warm cycle with metrics on: {100 * overhead:+.1f}% wall against the mean of the "
            f"two without ({scraped:,} bytes in one scrape of {args.feeds} sources)"
        )
        figures |= {
            "metrics_wall_s": measured[0],
            "metrics_cpu_s": measured[1],
            "warm_again_wall_s": after[0],
            "metrics_overhead": overhead,
        }
    if seq is not None:
        ratio = seq[0] / warm[0] if warm[0] else 0.0
        print(f"  concurrent warm cycle vs sequential: {ratio:.1f}x faster (target: cycle < 10 s)")
        figures |= {"sequential_wall_s": seq[0], "concurrency_ratio": ratio}
    if args.profile_out:
        print(f"  warm cycle profile written to {args.profile_out} (python -m pstats FILE)")
    flags = "".join(
        f" {flag}"
        for flag, on in (
            ("--skip-metrics", args.skip_metrics),
            ("--skip-sequential", args.skip_sequential),
        )
        if on
    )
    print(
        f"reproduce: .venv/bin/python bench/poll.py --feeds {args.feeds} --hosts {args.hosts} "
        f"--items {args.items}{flags}"
    )
    figures |= {
        "conditional_share": share,
        "not_modified_share": unchanged,
        "peak_rss_mb": warm_rss,
        "warm_new_reports": warm[3],
    }
    print(result_line(**figures))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--items", type=int, default=20, help="items per feed")
    parser.add_argument("--profile", action="store_true", help="cProfile the warm cycle")
    parser.add_argument("--profile-out", metavar="FILE", help="write the warm cycle's pstats")
    parser.add_argument(
        "--skip-metrics", action="store_true", help="no metrics-on and warm-again cycles"
    )
    parser.add_argument(
        "--skip-sequential", action="store_true", help="no sequential baseline cycle"
    )
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
