"""Precision and recall of the default topics, and how many real feed entries each would flag.

1. Labelled set: tests/fixtures/headlines.jsonl, headlines and leads written for this project
   (our own set, so the figures say the topics fit what we expected, not how they do in the wild).
   Each line lists the topics the story should alert for (``topics``) and those that may go either
   way (``either``); every other topic should stay below its min_score.
2. Real stream (if ../shared/data/news-feeds-2023 exists): every entry is scored once; per topic
   the count flagged at min_score, plus 15 flagged and 15 near-miss headlines printed for a person
   to judge precision on data nobody tuned for. Nothing from it is stored.

Run: .venv/bin/python bench/eval_topics.py [--sample N] [--seed S]
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import random
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import load_config  # noqa: E402
from bot.core.boilerplate import strip_boilerplate  # noqa: E402
from bot.core.models import Topic  # noqa: E402
from bot.core.score import TopicMatcher  # noqa: E402
from bot.core.text import fold  # noqa: E402

TOPICS_FILE = ROOT / "config" / "default.toml"
LABELLED = ROOT / "tests" / "fixtures" / "headlines.jsonl"
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
STREAM = DATA / "news-feeds-2023"
NEAR_MISS_FLOOR = 0.25
_TAG = re.compile(r"<[^>]+>")


def load_topics(path: Path = TOPICS_FILE) -> list[Topic]:
    """The desk's topics, read by the real config loader."""
    return list(load_config(path, env_file=None).config.topic_models)


def eval_labelled(matcher: TopicMatcher, topics: list[Topic]) -> dict[str, dict[str, float]]:
    cases = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line]
    counts = {t.id: {"tp": 0, "fp": 0, "fn": 0, "tn": 0} for t in topics}
    mistakes: list[str] = []
    for case in cases:
        scores = matcher.score(case["title"], case["lead"])
        for topic, s in zip(topics, scores, strict=True):
            if topic.id in case.get("either", ()):
                continue
            want = topic.id in case["topics"]
            got = s.score >= topic.min_score
            key = ("tp" if got else "fn") if want else ("fp" if got else "tn")
            counts[topic.id][key] += 1
            if want != got:
                mistakes.append(
                    f"  {'missed' if want else 'false alert'} {topic.id} {s.score:.2f}"
                    f" [{case['id']}] {case['title']}" + (f" ({s.blocked})" if s.blocked else "")
                )
    print(f"Labelled set: {len(cases)} stories from {LABELLED.relative_to(ROOT)}")
    print(
        "(our own hand-written set: it shows the topics do what we meant, not real-world accuracy)"
    )
    print(f"{'topic':<18} {'precision':>9} {'recall':>7} {'tp':>4} {'fp':>4} {'fn':>4} {'tn':>4}")
    figures: dict[str, dict[str, float]] = {}
    for topic in topics:
        c = counts[topic.id]
        precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        figures[topic.id] = {"precision": precision, "recall": recall}
        print(
            f"{topic.id:<18} {precision:>9.3f} {recall:>7.3f}"
            f" {c['tp']:>4} {c['fp']:>4} {c['fn']:>4} {c['tn']:>4}"
        )
    if mistakes:
        print("Mistakes:")
        print("\n".join(mistakes))
    return figures


def measure_speed(matcher: TopicMatcher, topics: list[Topic]) -> dict[str, float]:
    """Scoring time per story against a naive baseline: one regex search per term form."""
    cases = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line]
    stories = [(c["title"], c["lead"]) for c in cases] * 20
    naive = [
        re.compile(rf"\b{re.escape(fold(form))}\b")
        for topic in topics
        for term in topic.terms
        for form in (term.text, *term.variants)
    ]

    def run_naive() -> None:
        for title, lead in stories:
            folded = (fold(title), fold(lead))
            for pattern in naive:
                for text in folded:
                    pattern.search(text)

    def run_matcher() -> None:
        for title, lead in stories:
            matcher.score(title, lead)

    timings = {}
    for name, fn in (("naive", run_naive), ("matcher", run_matcher)):
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - started)
        timings[name] = best
    per_story = 1e6 * timings["matcher"] / len(stories)
    ratio = timings["matcher"] / timings["naive"]
    print()
    print(
        f"Speed: {per_story:.0f} µs per story for {len(topics)} topics (exact + fuzzy, explanations);"
        f" naive exact-only baseline (one regex search per term form, {len(naive)} forms):"
        f" {1e6 * timings['naive'] / len(stories):.0f} µs; ratio {ratio:.2f}"
    )
    return {"score_us_per_story": per_story, "vs_naive_regex_ratio": ratio}


def plain(description: str) -> str:
    return strip_boilerplate(html.unescape(_TAG.sub(" ", description or "")))


def eval_stream(
    matcher: TopicMatcher, topics: list[Topic], sample: int, seed: int
) -> dict[str, float]:
    files = sorted(STREAM.glob("*.jsonl.gz"))
    flagged: dict[str, list[tuple[float, str]]] = {t.id: [] for t in topics}
    near: dict[str, list[tuple[float, str]]] = {t.id: [] for t in topics}
    seen_titles: set[str] = set()
    unblocked = TopicMatcher([replace(t, negative=(), require=()) for t in topics])
    entries = unique = 0
    started = time.perf_counter()
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                entry = json.loads(line)
                entries += 1
                title = (entry.get("title") or "").strip()
                if not title or title in seen_titles:
                    continue
                seen_titles.add(title)
                unique += 1
                lead = plain(entry.get("description") or "")
                scores = matcher.score(title, lead)
                for topic, s in zip(topics, scores, strict=True):
                    if s.score >= topic.min_score:
                        flagged[topic.id].append((s.score, title))
                    elif s.blocked and s.matches:
                        # Blocked: a near miss only if it would have alerted without the block.
                        i = topics.index(topic)
                        would = unblocked.score(title, lead)[i].score
                        if would >= topic.min_score:
                            near[topic.id].append((would, f"{title} [{s.blocked}]"))
                    elif s.score >= NEAR_MISS_FLOOR:
                        near[topic.id].append((s.score, title))
    elapsed = time.perf_counter() - started
    print()
    print(f"Real stream: {entries} entries, {unique} distinct headlines in {STREAM}")
    print(f"scored in {elapsed:.1f}s (incl. reading and HTML stripping)")
    rng = random.Random(seed)
    figures: dict[str, float] = {"entries": entries, "unique": unique}
    for topic in topics:
        hits = flagged[topic.id]
        figures[topic.id] = len(hits)
        print()
        print(
            f"== {topic.id}: {len(hits)} flagged ({100 * len(hits) / max(1, unique):.2f}% of"
            f" distinct headlines), {len(near[topic.id])} near misses"
        )
        print(f"-- {min(sample, len(hits))} flagged (random):")
        for score, title in sorted(rng.sample(hits, min(sample, len(hits))), reverse=True):
            print(f"  {score:.2f}  {title}")
        misses = near[topic.id]
        print(
            f"-- {min(sample, len(misses))} near misses (random; scored {NEAR_MISS_FLOOR}"
            f"..{topic.min_score}, or blocked but would have alerted, score shown unblocked):"
        )
        for score, title in sorted(rng.sample(misses, min(sample, len(misses))), reverse=True):
            print(f"  {score:.2f}  {title}")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=15, help="headlines to print per list")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    topics = load_topics()
    matcher = TopicMatcher(topics)
    print(
        "command: .venv/bin/python bench/eval_topics.py" + (" " + " ".join(sys.argv[1:])).rstrip()
    )
    figures = eval_labelled(matcher, topics)
    result = {f"{tid.replace('-', '_')}_{k}": v for tid, f in figures.items() for k, v in f.items()}
    result.update(measure_speed(matcher, topics))
    if STREAM.is_dir():
        stream = eval_stream(matcher, topics, args.sample, args.seed)
        result["stream_entries"] = stream["entries"]
        result["stream_unique"] = stream["unique"]
        for topic in topics:
            result[f"{topic.id.replace('-', '_')}_flagged"] = stream[topic.id]
    else:
        print(f"\nReal stream skipped: {STREAM} not found (it lives outside the repository).")
        result["stream_skipped"] = 1
    print(
        "result: "
        + " ".join(
            f"{k}={v:.3f}" if isinstance(v, float) and not v.is_integer() else f"{k}={int(v)}"
            for k, v in result.items()
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
