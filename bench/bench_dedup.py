"""Cost of deduplicating one report as the window grows: 1k, 10k and 100k stories held.

The window is synthesised from varied realistic text: headlines recombined from halves of the
UCI sample's headlines (../shared/data/uci-news-sample), with leads made of two more recombined
headlines and random numbers; without the data, from a generated vocabulary. Each window is
loaded through ``StoryIndex.load`` (as at start-up), then the same probe reports are added and
timed: half are rewordings of held stories (words dropped and shuffled), half are new.

Run: .venv/bin/python bench/bench_dedup.py [--probes 1000] [--sizes 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.core.dedup import StoryIndex, story_id_for
from bot.core.models import Report, Story, StoryReport

ROOT = Path(__file__).resolve().parents[1]
UCI = ROOT.parent / "shared" / "data" / "uci-news-sample" / "uci-news-aggregator-sample.csv"
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def headline_pool(rng: random.Random) -> list[list[str]]:
    """Headlines as word lists: the UCI sample's if present, else generated ones."""
    if UCI.exists():
        with UCI.open(newline="", encoding="utf-8") as handle:
            return [row["TITLE"].split() for row in csv.DictReader(handle)]
    syllables = ["ka", "lo", "mi", "ra", "tu", "sen", "dor", "vil", "pa", "qua", "zen", "bri"]
    vocabulary = [
        "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(20000)
    ]
    return [[rng.choice(vocabulary) for _ in range(rng.randint(5, 12))] for _ in range(6000)]


class Synth:
    """Recombined headlines and leads, reproducible from a seed."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.pool = headline_pool(self.rng)

    def headline(self) -> str:
        a, b = self.rng.choice(self.pool), self.rng.choice(self.pool)
        words = a[: max(1, len(a) // 2)] + b[len(b) // 2 :]
        if self.rng.random() < 0.3:
            words.insert(self.rng.randrange(len(words) + 1), str(self.rng.randint(2, 999)))
        return " ".join(words)

    def lead(self) -> str:
        return f"{self.headline()}, officials said on {self.rng.randint(1, 28)} March. {self.headline()}."

    def reword(self, title: str) -> str:
        words = title.split()
        if len(words) > 4:
            words.pop(self.rng.randrange(len(words)))
        i = self.rng.randrange(len(words))
        j = self.rng.randrange(len(words))
        words[i], words[j] = words[j], words[i]
        return " ".join(words)


def window(synth: Synth, size: int) -> list[Story]:
    """``size`` one-report stories spread over the 48 hours before NOW."""
    stories = []
    for n in range(size):
        when = NOW - timedelta(seconds=synth.rng.uniform(0, 47 * 3600))
        title, text = synth.headline(), synth.lead()
        report = Report(
            key=f"w{n}",
            source=f"feed{n % 50}",
            outlet=f"Outlet {n % 50}",
            title=title,
            url=f"https://example.org/w/{n}",
            text=text,
            published=when,
            first_seen=when,
        )
        stories.append(
            Story(
                id=story_id_for(report),
                title=title,
                url=report.url,
                text=text,
                summary="",
                published=when,
                updated=when,
                reports=(
                    StoryReport(report.key, report.source, report.outlet, title, report.url, when),
                ),
            )
        )
    return stories


def probes(synth: Synth, held: list[Story], count: int) -> list[Report]:
    """Half rewordings of held stories, half new headlines; all published at NOW."""
    out = []
    for n in range(count):
        if n % 2 == 0:
            story = held[synth.rng.randrange(len(held))]
            title, text = synth.reword(story.title), story.text
        else:
            title, text = synth.headline(), synth.lead()
        out.append(
            Report(
                key=f"p{n}",
                source="probe",
                outlet="Probe",
                title=title,
                url=f"https://example.org/p/{n}",
                text=text,
                published=NOW + timedelta(seconds=n),
                first_seen=NOW,
            )
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=1000)
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print("command: .venv/bin/python bench/bench_dedup.py")
    print(f"text source: {'UCI headlines recombined' if UCI.exists() else 'generated vocabulary'}")

    synth = Synth()
    biggest = window(synth, max(sizes))
    indexes: dict[int, StoryIndex] = {}
    for size in sizes:
        indexes[size] = StoryIndex()
        start = time.perf_counter()
        indexes[size].load(biggest[:size])
        print(f"window {size:>7} stories loaded in {time.perf_counter() - start:6.2f}s")

    # Rounds interleave the windows so that load from other processes on the machine falls on
    # all of them alike; CPU time (process_time) rather than wall time for the same reason.
    rounds = 5
    share = max(1, args.probes // rounds)
    timings: dict[int, list[float]] = {size: [] for size in sizes}
    attached: dict[int, int] = dict.fromkeys(sizes, 0)
    for round_no in range(rounds):
        for size in sizes:
            batch = probes(Synth(seed=100 + round_no), biggest[:size], share)
            batch = [
                replace(r, key=f"{r.key}-{round_no}", url=f"{r.url}-{round_no}") for r in batch
            ]
            index = indexes[size]
            start = time.process_time()
            for report in batch:
                decision, _ = index.add(report)
                attached[size] += decision.verdict.value == "attached"
            timings[size].append((time.process_time() - start) / len(batch))
    per_report = {size: statistics.median(values) for size, values in timings.items()}
    for size in sizes:
        print(
            f"window {size:>7} stories: {per_report[size] * 1e6:7.1f} us/report (median of "
            f"{rounds} rounds of {share}; {attached[size]} of {rounds * share} attached)"
        )

    smallest, largest = min(sizes), max(sizes)
    ratio = per_report[largest] / per_report[smallest]
    print(f"per-report cost, {largest} vs {smallest} stories: x{ratio:.2f} (target < 3)")
    parts = [f"us_per_report_{s // 1000}k={per_report[s] * 1e6:.1f}" for s in sizes]
    parts.append(f"ratio_{largest // 1000}k_{smallest // 1000}k={ratio:.3f}")
    print("result: " + " ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
