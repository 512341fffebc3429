"""How often the ops channel would hear that a source went quiet, on two months of real feeds.

Data: ../shared/data/news-feeds-2023/entries-2023-10-11.jsonl.gz (87,808 entries from 54 feeds,
1 Oct - 30 Nov 2023), rebuilt into one RSS document per feed and poll period exactly as
``bench/replay.py`` does (``replay.polls``), and replayed through the product's poller
(``Poller.replay``), each item arriving at its published time. A feed with nothing in a period is
still polled, with an empty document (a live feed that has nothing new answers 304 or serves
nothing new; the capture only holds items, so quiet is what it can show). After each cycle the
poller hands the saved sources to the product's ops announcer (``bot.ops.OpsAnnouncer``, through
``PollerHooks.watch``), posting to a notifier that records each message.

Printed: every ops message with its time, the transitions per kind, how many were in a
desk-wide silence (more than ``ops.FOLD_AT`` sources changing in one look, which the announcer
folds into one message), and the feeds flagged on their own.

Stale cannot happen here: the capture holds items, not responses, so a feed never serves the
same items as new for a day (``stale=0`` by construction; ``tests/test_quiet_sources.py`` covers
it).

Run: .venv/bin/python bench/quiet.py [--days N] [--period 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import warnings
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import ROOT, result_line, rss_document, shared_data
from replay import DATA, feed_file, polls

from bot.app import desk_settings
from bot.config import SourceConfig, load_config
from bot.core import ops
from bot.core.desk import Desk
from bot.core.models import Alert, Destination, Digest
from bot.core.route import Route
from bot.ingest.fetch import Fetcher
from bot.ops import OpsAnnouncer
from bot.poller import Poller, PollerHooks, PollerSettings
from bot.store import open_store

OPS = Destination("console", "ops")


class Recorder:
    """The ops channel: keeps (time, text) of every message."""

    platform = "console"

    def __init__(self, clock: list[datetime]) -> None:
        self.clock = clock
        self.heard: list[tuple[datetime, str]] = []

    async def send(self, destination: Destination, alert: Alert) -> str:
        raise AssertionError("the ops announcer posts titled digests only")

    async def update(self, destination: Destination, message_id: str, alert: Alert) -> None:
        raise AssertionError("the ops announcer never edits")

    async def send_digest(self, destination: Destination, digest: Digest) -> str:
        self.heard.append((self.clock[0], digest.title))
        return f"ops-{len(self.heard)}"


async def run(days: int | None, period: timedelta) -> int:
    path = shared_data(DATA)
    if path is None:
        return 0
    warnings.simplefilter("ignore")
    cfg = load_config(ROOT / "config" / "default.toml", env_file=None).config
    tmp = tempfile.TemporaryDirectory()
    folder = Path(tmp.name)
    store = open_store(f"sqlite:///{folder / 'quiet.db'}")
    await store.open()
    fetcher = Fetcher(max_bytes=cfg.fetch.max_bytes)
    clock = [datetime(2000, 1, 1, tzinfo=UTC)]
    recorder = Recorder(clock)
    announcer = OpsAnnouncer(store, {"console": recorder}, OPS)
    changed: list[tuple[datetime, list[tuple[str, str]]]] = []
    """(time, [(source, condition announced)]) per cycle that announced anything."""
    routes = [Route(Destination("console", "desk"), ("*",))]
    poller = Poller(
        store,
        fetcher,
        lambda: Desk(cfg.topic_models, routes, desk_settings(cfg)),
        PollerSettings.of(cfg, folder, replay=True),
        clock=lambda: clock[0],
        hooks=PollerHooks(watch=announcer.watch),
    )
    sources: dict[str, SourceConfig] = {}
    announced: dict[str, str] = {}
    started = time.perf_counter()
    cycles = 0
    for poll in polls(path, period, days):
        shown = set()
        for feed, body in poll.documents:
            feed_file(folder, feed).write_bytes(body)
            shown.add(feed)
            if feed not in sources:
                sources[feed] = SourceConfig(name=feed, url=feed_file(folder, feed).as_uri())
        for feed in set(sources) - shown:
            feed_file(folder, feed).write_bytes(rss_document(feed, feed, []))
        clock[0] = poll.at
        before = len(recorder.heard)
        await poller.replay(list(sources.values()))
        cycles += 1
        if len(recorder.heard) > before:
            now = {h.name: h.announced for h in await store.list_sources()}
            diff = [(n, told) for n, told in now.items() if told != announced.get(n, "")]
            changed.append((poll.at, diff))
            announced = now
    seconds = time.perf_counter() - started
    await fetcher.aclose()
    await store.close()
    tmp.cleanup()

    kinds: Counter[str] = Counter()
    folded = alone = 0
    for _at, diff in changed:
        for _name, told in diff:
            kinds[told] += 1
        if len(diff) > ops.FOLD_AT:
            folded += len(diff)
        else:
            alone += len(diff)
    print(
        f"data: {path}; {len(sources)} feeds, {cycles} polls of {period} each, in {seconds:.0f} s"
    )
    print(f"ops messages: {len(recorder.heard)}")
    for at, text in recorder.heard:
        print(f"  {at:%d %b %H:%M} UTC  {text}")
    print(
        "transitions: "
        + ", ".join(f"{k} {kinds[k]}" for k in ("quiet", "stale", "failing", "ok"))
        + f"; {folded} in folded messages (desk-wide silences), {alone} announced on their own"
    )
    print(f"reproduce: .venv/bin/python bench/quiet.py --period {period.total_seconds() / 3600:g}")
    print(
        result_line(
            feeds=len(sources),
            messages=len(recorder.heard),
            quiet=kinds["quiet"],
            stale=kinds["stale"],
            recovered=kinds["ok"],
            folded=folded,
            alone=alone,
        )
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=None, help="replay only the first N days")
    parser.add_argument("--period", type=float, default=3.0, help="poll period in hours")
    args = parser.parse_args()
    return asyncio.run(run(args.days, timedelta(hours=args.period)))


if __name__ == "__main__":
    sys.exit(main())
