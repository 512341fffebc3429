"""CPU per feed of the fetch and parse half of a warm poll cycle, against bare baselines.

The feed server of ``bench/poll.py`` (a child process, so its CPU is not counted) serves 1,000
feeds on eight loopback hosts; after one cold pass records every ETag, the server advances once:
half the feeds then answer 304 to the conditional request and half send 20 items (two new). Each
round runs the same warm pass twice, in turn:

  ours       ``Fetcher.fetch`` (per-host limit 4, deadline, body cap, conditional request) for
             every feed at once, then ``parse_feed`` on each body, as the poller does.
  baseline   a bare ``httpx.AsyncClient.get`` per feed with the same ETag header and the same
             per-host limit, on a client with httpx's defaults (no deadline, no cap, no
             redirects by hand), and feedparser on the bodies ours fetched.

CPU is this process's user + system time; the parse share is measured around the parse calls.

Run: .venv/bin/python bench/fetch_parse.py [--feeds 1000] [--hosts 8] [--rounds 5] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import feedparser
import httpx
from common import cpu_seconds, result_line
from poll import call, serve

from bot.ingest.feeds import parse_feed
from bot.ingest.fetch import Fetcher


async def ours(
    fetcher: Fetcher, urls: list[str], etags: dict[str, str | None]
) -> tuple[float, float, list[bytes]]:
    """(total CPU s, parse CPU s, bodies) of one warm pass through Fetcher and parse_feed."""
    parse_cpu = 0.0
    bodies: list[bytes] = []

    async def one(url: str) -> None:
        nonlocal parse_cpu
        result = await fetcher.fetch(url, etag=etags.get(url))
        for document in result.documents:
            before = time.process_time()
            parse_feed(document.body, url=result.url, content_type=document.content_type)
            parse_cpu += time.process_time() - before
            bodies.append(document.body)

    cpu = cpu_seconds()
    await asyncio.gather(*(one(url) for url in urls))
    return cpu_seconds() - cpu, parse_cpu, bodies


async def bare(client: httpx.AsyncClient, urls: list[str], etags: dict[str, str | None]) -> float:
    """CPU s of one warm pass of plain httpx GETs, four per host at a time."""
    slots: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(4))

    async def one(url: str) -> None:
        etag = etags.get(url)
        async with slots[httpx.URL(url).host]:
            response = await client.get(url, headers={"If-None-Match": etag} if etag else None)
            if response.status_code not in (200, 304):
                raise RuntimeError(f"{url}: HTTP {response.status_code}")

    cpu = cpu_seconds()
    await asyncio.gather(*(one(url) for url in urls))
    return cpu_seconds() - cpu


def feedparser_cpu(bodies: list[bytes]) -> float:
    before = time.process_time()
    for body in bodies:
        feedparser.parse(io.BytesIO(body))
    return time.process_time() - before


async def main_async(args: argparse.Namespace) -> int:
    hosts = [f"127.0.0.{i + 1}" for i in range(args.hosts)]
    epoch = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    ports: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    server = multiprocessing.Process(
        target=serve, args=(hosts, ports, epoch.isoformat()), daemon=True
    )
    server.start()
    try:
        port = ports.get(timeout=20)
        base = f"http://{hosts[0]}:{port}"
        urls = [f"http://{hosts[n % len(hosts)]}:{port}/feed/{n}" for n in range(args.feeds)]
        async with (
            Fetcher(max_per_host=4) as fetcher,
            httpx.AsyncClient(timeout=15, trust_env=False) as client,
        ):
            etags: dict[str, str | None] = {}
            for result in await asyncio.gather(*(fetcher.fetch(url) for url in urls)):
                etags[result.url] = result.etag
            call(f"{base}/advance", "POST")
            await ours(fetcher, urls, etags)  # settle connections and caches
            await bare(client, urls, etags)
            totals = {"ours": 0.0, "parse": 0.0, "bare": 0.0, "feedparser": 0.0}
            documents = 0
            profile = None
            if args.profile:
                import cProfile

                profile = cProfile.Profile()
            for _ in range(args.rounds):
                if profile is not None:
                    profile.enable()
                total, parse, bodies = await ours(fetcher, urls, etags)
                if profile is not None:
                    profile.disable()
                totals["ours"] += total
                totals["parse"] += parse
                totals["bare"] += await bare(client, urls, etags)
                totals["feedparser"] += feedparser_cpu(bodies)
                documents += len(bodies)
            if profile is not None:
                import pstats

                pstats.Stats(profile).sort_stats(args.profile_sort).print_stats(args.profile_lines)
    finally:
        server.kill()
        server.join(5)

    polls = args.feeds * args.rounds
    ms = {key: 1000 * value / polls for key, value in totals.items()}
    fetch_ms = ms["ours"] - ms["parse"]
    parse_per_doc = 1000 * totals["parse"] / max(1, documents)
    feedparser_per_doc = 1000 * totals["feedparser"] / max(1, documents)
    print(
        f"{args.feeds} feeds on {len(hosts)} loopback hosts, {args.rounds} warm rounds "
        f"({documents // args.rounds} of {args.feeds} feeds changed per round, the rest 304)"
    )
    print(f"  fetch + parse   CPU {ms['ours']:.2f} ms per feed")
    print(f"    fetch         CPU {fetch_ms:.2f} ms per feed")
    print(f"    parse         CPU {ms['parse']:.2f} ms per feed ({parse_per_doc:.2f} ms per body)")
    print(f"  bare httpx GET  CPU {ms['bare']:.2f} ms per feed (baseline for the fetch)")
    print(f"  feedparser      CPU {feedparser_per_doc:.2f} ms per body (baseline for the parse)")
    fetch_ratio = fetch_ms / ms["bare"] if ms["bare"] else 0.0
    parse_ratio = feedparser_per_doc / parse_per_doc if parse_per_doc else 0.0
    print(f"  fetch CPU / bare httpx: {fetch_ratio:.2f}; feedparser / parse: {parse_ratio:.1f}x")
    print(
        f"reproduce: .venv/bin/python bench/fetch_parse.py --feeds {args.feeds} "
        f"--hosts {args.hosts} --rounds {args.rounds}"
    )
    print(
        result_line(
            feeds=args.feeds,
            rounds=args.rounds,
            fetch_parse_cpu_ms=ms["ours"],
            fetch_cpu_ms=fetch_ms,
            parse_cpu_ms=ms["parse"],
            bare_httpx_cpu_ms=ms["bare"],
            fetch_vs_bare=fetch_ratio,
            parse_ms_per_body=parse_per_doc,
            feedparser_ms_per_body=feedparser_per_doc,
            parse_speedup_vs_feedparser=parse_ratio,
        )
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile our warm passes")
    parser.add_argument("--profile-lines", type=int, default=30)
    parser.add_argument("--profile-sort", default="tottime")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
