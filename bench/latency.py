"""From a story appearing in a feed to the alert arriving in Slack, with `talks-bot run`.

The bot runs as a child process exactly as an operator starts it (``python -m bot run``), polling
``--feeds`` local feeds (a threaded HTTP server on 127.0.0.1 in this process) at a fixed 30-second
interval, and posting to the fake Slack Web API from tests/chat/slack/fake_slack.py through its
real Slack notifier (slack_sdk). To keep the bench from taking trials x 30 s, the feeds run their
trials concurrently (trials are dealt round-robin to feeds), and each trial adds its story at a
random offset within the poll interval, so waits spread over the interval as they would live.

Per trial:
  end to end   story added to the feed -> chat.postMessage received by the fake Slack.
  bot's own    the first request for the feed after the story was added -> chat.postMessage
               (fetch, parse, normalise, dedup, score, summarise, route, save, deliver).
The end-to-end figure is dominated by the wait for the next poll (on average half the interval);
the bot's own part is the one the target (< 1 s) is about. Baseline in the same run: the mean
wait for a poll that the interval alone implies (interval / 2), against the measured p50.

Channels: by default (``--channels own``) each feed's stories happen in one place of Gaza and the
config gives each place a topic routed to its own channel, as a desk with a channel per area
would, so trials do not queue behind each other. ``--channels shared`` routes every alert to one
channel: alerts found in the same poll round then wait their turn for the Slack notifier's pacing
(one message per second per channel, Slack's limit), which is real behaviour for a busy channel.

Run: .venv/bin/python bench/latency.py [--trials 20] [--feeds 10] [--interval 30]
     [--channels own|shared]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from common import ROOT, result_line

from tests.bot_process import BotProcess, bot_env, eventually, free_port, rss, write_config
from tests.chat.slack.fake_slack import FakeSlack
from tests.ingest.servers import FeedServer, SeenRequest

CHANNEL = "C-LATENCY"
"""The one channel of ``--channels shared``."""
PACE_GAP = 1.5
"""Seconds: a post this soon after another to the channel may have waited for Slack pacing."""
PLACES = (
    "Rafah",
    "Khan Younis",
    "Deir al-Balah",
    "Nuseirat",
    "Jabalia",
    "Beit Lahia",
    "Beit Hanoun",
    "Maghazi",
    "Bureij",
    "Zawaida",
    "Al-Mawasi",
    "Shati",
)
"""One place per feed: each feed's stories happen there, and with ``--channels own`` each place
has its own topic routed to its own channel, as a desk with a channel per area would have it."""


class TimedFeedServer(FeedServer):
    """The test feed server, also noting when each request arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[str, float]] = []

    def _record(self, request: SeenRequest) -> None:
        super()._record(request)
        self.arrivals.append((request.path, time.monotonic()))


def story(trial: int, place: str) -> tuple[str, str, str]:
    """(guid, headline, lead) of one trial's development: distinct numbers, so deduplication
    never folds two trials into one story."""
    count = 3 + trial * 7
    return (
        f"trial-{trial}",
        f"{count} hostages freed near {place} in exchange number {trial + 11}",
        f"Mediators said {count} hostages were handed over near {place} on day {trial + 40} of "
        f"the truce, the {trial + 11}th exchange under the Cairo-brokered deal.",
    )


def desk_config(folder: Path, config: Path, feeds: int, shared: bool) -> str:
    """The routes of the run; for ``own`` channels also a topic per place, written with the
    shipped topics into ``topics.toml`` that ``config`` takes its topics from."""
    if shared:
        return f'[[routes]]\nplatform = "slack"\nchannel = "{CHANNEL}"\n'
    shipped = (ROOT / "config" / "default.toml").read_text(encoding="utf-8")
    topics = [shipped[shipped.index("[[topics]]") :]]
    routes = []
    for f in range(feeds):
        topics.append(
            f'[[topics]]\nid = "area-{f}"\nname = "{PLACES[f]}"\nmin_score = 0.5\n'
            f'terms = [{{ text = "{PLACES[f]}", weight = 1.0, fuzzy = false }}]\n'
        )
        routes.append(
            f'[[routes]]\nplatform = "slack"\nchannel = "{channel_of(f)}"\ntopics = ["area-{f}"]\n'
        )
    (folder / "topics.toml").write_text("\n".join(topics), encoding="utf-8")
    text = config.read_text(encoding="utf-8").splitlines()
    text = ['topics_from = "topics.toml"' if t.startswith("topics_from") else t for t in text]
    config.write_text("\n".join(text) + "\n", encoding="utf-8")
    return "\n".join(routes)


def channel_of(feed: int) -> str:
    return f"C-AREA-{feed}"


async def main_async(args: argparse.Namespace) -> int:
    if args.feeds > len(PLACES):
        print(f"--feeds: at most {len(PLACES)} (one place each)", file=sys.stderr)
        return 2
    shared = args.channels == "shared"
    rng = random.Random(args.seed)
    fake = FakeSlack()
    await fake.start()
    feeds = TimedFeedServer().start()
    now = datetime.now(UTC).replace(microsecond=0)
    items: dict[int, list[tuple[str, str, str, datetime]]] = {}
    for f in range(args.feeds):
        items[f] = [
            (
                f"old-{f}",
                f"Weather desk {f}: a mild week ahead on the coast",
                "Forecasters expect clear skies and light winds through the weekend.",
                now - timedelta(hours=3),
            )
        ]
        feeds.serve(f"/f{f}.xml", rss(f"Wire {f}", items[f]))
    latencies: list[float] = []
    own: list[float] = []
    posted: list[tuple[str, float]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            port = free_port()
            config = write_config(
                folder,
                {f"wire{f}": (feeds.url(f"/f{f}.xml"), f"Wire {f}") for f in range(args.feeds)},
                interval=f"{args.interval:g}s",
            )
            routes = desk_config(folder, config, args.feeds, shared)
            with config.open("a", encoding="utf-8") as out:
                out.write(
                    "[flood]\nmax_alerts = 100\n\n"
                    f'[slack]\nmode = "http"\nport = {port}\napi_base_url = "{fake.base_url}"\n\n'
                    f"{routes}"
                )
            env = bot_env(
                {
                    "SLACK_BOT_TOKEN": "xoxb-latency-bench",
                    "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef",
                    "TALKS_BOT_DATABASE_URL": f"sqlite:///{folder / 'bot.db'}",
                }
            )
            with BotProcess(folder, ["run", "--config", str(config)], env) as bot:
                await eventually(
                    lambda: all(feeds.count(f"/f{f}.xml") for f in range(args.feeds)),
                    timeout=60,
                    what="the first poll of every feed",
                    bot=bot,
                )

                async def trial(n: int, f: int) -> None:
                    guid, title, lead = story(n, PLACES[f])
                    channel = CHANNEL if shared else channel_of(f)
                    await asyncio.sleep(rng.uniform(0, args.interval))
                    items[f].insert(0, (guid, title, lead, datetime.now(UTC)))
                    feeds.serve(f"/f{f}.xml", rss(f"Wire {f}", items[f]))
                    added = time.monotonic()

                    def arrived() -> float | None:
                        for call in fake.calls_to("chat.postMessage"):
                            if call.params.get("channel") == channel and title in str(
                                call.params.get("text", "")
                            ) + str(call.params.get("blocks", "")):
                                return call.at
                        return None

                    at = await eventually(
                        arrived, timeout=args.interval * 3 + 30, what=f"trial {n}", bot=bot
                    )
                    fetched = min(
                        t for path, t in list(feeds.arrivals) if path == f"/f{f}.xml" and t > added
                    )
                    latencies.append(at - added)
                    own.append(at - fetched)
                    posted.append((channel, at))

                async def lane(f: int) -> None:
                    for n in range(f, args.trials, args.feeds):
                        await trial(n, f)

                await asyncio.gather(*(lane(f) for f in range(args.feeds)))
                await bot.terminate(timeout=15)
    finally:
        feeds.stop()
        await fake.close()

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    p50, p95 = pct(latencies, 0.5), pct(latencies, 0.95)
    own50, own95 = pct(own, 0.5), pct(own, 0.95)
    # The Slack notifier paces posts to one channel (about one a second, Slack's limit): an alert
    # whose poll round also found other trials' stories waits its turn. Alone = no other post in
    # the PACE_GAP before it.
    alone = [
        o
        for o, (channel, at) in zip(own, posted, strict=True)
        if not any(c == channel and at - PACE_GAP <= t < at for c, t in posted)
    ]
    alone50 = pct(alone, 0.5) if alone else float("nan")
    alone95 = pct(alone, 0.95) if alone else float("nan")
    expected_wait = args.interval / 2
    gaps = [
        b - a
        for f in range(args.feeds)
        for a, b in pairwise([t for path, t in feeds.arrivals if path == f"/f{f}.xml"])
    ]
    gap = statistics.mean(gaps) if gaps else float("nan")
    where = "one shared channel" if shared else "each feed's own channel"
    print(
        f"{len(latencies)} trials on {args.feeds} feeds polled every {args.interval:g} s by "
        f"`talks-bot run` (child process), alerts posted to {where} of a fake Slack via slack_sdk"
    )
    print(
        f"  end to end : p50 {p50:6.2f} s  p95 {p95:6.2f} s  mean {statistics.mean(latencies):.2f} s"
    )
    print(f"  bot's own  : p50 {own50:6.3f} s  p95 {own95:6.3f} s  max {max(own):.3f} s")
    print(
        f"    of which {len(alone)} alerts not queued behind another post to the channel: "
        f"p50 {alone50:.3f} s  p95 {alone95:.3f} s (target < 1 s); the other "
        f"{len(own) - len(alone)} waited for Slack pacing (1 message/s per channel)"
    )
    print(
        f"  baseline: the poll interval alone implies a mean wait of {expected_wait:g} s; "
        f"end-to-end p50 / that = {p50 / expected_wait:.2f}; measured time between two polls "
        f"of a feed: mean {gap:.1f} s"
    )
    print(
        "reproduce: .venv/bin/python bench/latency.py "
        f"--trials {args.trials} --feeds {args.feeds} --interval {args.interval:g} "
        f"--seed {args.seed} --channels {args.channels}"
    )
    print(
        result_line(
            trials=len(latencies),
            channels=1 if shared else args.feeds,
            interval_s=args.interval,
            p50_s=p50,
            p95_s=p95,
            own_p50_s=own50,
            own_p95_s=own95,
            own_max_s=max(own),
            alone_trials=len(alone),
            own_alone_p50_s=alone50,
            own_alone_p95_s=alone95,
            p50_vs_half_interval_ratio=p50 / expected_wait,
            poll_gap_mean_s=gap,
        )
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--feeds", type=int, default=10)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument(
        "--channels",
        choices=("own", "shared"),
        default="own",
        help="own: each feed's stories go to their own channel; shared: all to one channel",
    )
    args = parser.parse_args()
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
