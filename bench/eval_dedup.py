"""How well deduplication groups reports, on labelled data.

1. UCI News Aggregator sample (../shared/data/uci-news-sample): 6,366 headlines in 87 Google-News
   story clusters. Rows go through ``StoryIndex`` in TIMESTAMP order as title-only reports.
   Clusters are broad stories (coarser than developments), so precision is what counts here.
   The title-only single-link baseline (rapidfuzz token_set_ratio >= 80 over all pairs) is
   computed in the same run for comparison.
2. tests/fixtures/developments.jsonl: a hand-written development-level set (headline + lead, and
   headline-only aggregator rewordings), where same-subject-different-development pairs must stay
   apart: no false merge allowed. It runs twice: alone, and inside a busy window (the UCI
   headlines spread over the same weeks as unrelated background news), because word rarity only
   counts once the window holds enough stories to tell rare words from common ones.
3. The precision/recall trade-off over the headline-only knobs (``rare_evidence`` and
   ``rare_threshold``, then the plain ``threshold``), so the chosen defaults can be seen in context.

Run: .venv/bin/python bench/eval_dedup.py [--no-baseline] [--no-curve] [--threshold 80]
     [--rare-threshold 50] [--rare-evidence 2.5] [--verbose]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path

from bot.core.dedup import DedupSettings, StoryIndex
from bot.core.models import Report

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
UCI = DATA / "uci-news-sample" / "uci-news-aggregator-sample.csv"
DEV = ROOT / "tests" / "fixtures" / "developments.jsonl"


def bcubed(pred: Sequence[Hashable], gold: Sequence[Hashable]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 of a clustering against gold labels."""
    pred_members: dict[Hashable, list[int]] = defaultdict(list)
    gold_members: dict[Hashable, list[int]] = defaultdict(list)
    for i, (p, g) in enumerate(zip(pred, gold, strict=True)):
        pred_members[p].append(i)
        gold_members[g].append(i)
    both: dict[tuple[Hashable, Hashable], int] = defaultdict(int)
    for p, g in zip(pred, gold, strict=True):
        both[(p, g)] += 1
    n = len(pred)
    precision = sum(both[(p, g)] / len(pred_members[p]) for p, g in zip(pred, gold, strict=True))
    recall = sum(both[(p, g)] / len(gold_members[g]) for p, g in zip(pred, gold, strict=True))
    precision, recall = precision / n, recall / n
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def pairwise(pred: Sequence[Hashable], gold: Sequence[Hashable]) -> tuple[float, float, int]:
    """Pairwise precision, recall, and the number of falsely merged pairs."""

    def pairs(labels: Sequence[Hashable]) -> set[tuple[int, int]]:
        groups: dict[Hashable, list[int]] = defaultdict(list)
        for i, label in enumerate(labels):
            groups[label].append(i)
        return {pair for members in groups.values() for pair in combinations(members, 2)}

    predicted, true = pairs(pred), pairs(gold)
    hit = len(predicted & true)
    precision = hit / len(predicted) if predicted else 1.0
    recall = hit / len(true) if true else 1.0
    return precision, recall, len(predicted - true)


def run_index(reports: Sequence[Report], settings: DedupSettings) -> tuple[list[str], float]:
    """Story id of each report's final story, and seconds spent, feeding in the given order."""
    index = StoryIndex(settings)
    story_of: dict[tuple[str, str], str] = {}
    start = time.perf_counter()
    last_expiry = reports[0].published if reports else None
    for report in reports:
        decision, _ = index.add(report)
        story_of[(report.source, report.key)] = decision.story_id
        if last_expiry is not None and report.published - last_expiry > settings.window / 4:
            index.expire(report.published)
            last_expiry = report.published
    elapsed = time.perf_counter() - start
    return [story_of[(r.source, r.key)] for r in reports], elapsed


def load_uci() -> tuple[list[Report], list[str]]:
    with UCI.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows.sort(key=lambda r: (int(r["TIMESTAMP"]), int(r["ID"])))
    reports = []
    for row in rows:
        when = datetime.fromtimestamp(int(row["TIMESTAMP"]) / 1000, tz=UTC)
        reports.append(
            Report(
                key=row["ID"],
                source="uci",
                outlet=row["PUBLISHER"],
                title=row["TITLE"],
                url=row["URL"],
                text="",
                published=when,
                first_seen=when,
            )
        )
    return reports, [row["STORY"] for row in rows]


_TITLES: list[str] = []


def _links(start: int, stop: int, cutoff: int) -> list[tuple[int, int]]:
    """Pairs (i, j), i in [start, stop), j > i, whose token_set_ratio reaches ``cutoff``."""
    from rapidfuzz import fuzz, process

    out = []
    for i in range(start, stop):
        later = _TITLES[i + 1 :]
        for _, _, j in process.extract(
            _TITLES[i],
            later,
            scorer=fuzz.token_set_ratio,
            processor=None,
            score_cutoff=cutoff,
            limit=None,
        ):
            out.append((i, i + 1 + j))
    return out


def baseline_single_link(titles: Sequence[str], cutoff: int = 80) -> list[int]:
    """Title-only single link over all pairs: token_set_ratio >= cutoff joins two headlines."""
    from concurrent.futures import ProcessPoolExecutor

    from rapidfuzz import utils

    _TITLES[:] = [utils.default_process(t) for t in titles]
    n = len(_TITLES)
    # Rows near the top compare with more titles: interleave small chunks over both cores.
    bounds = [(s, min(s + 200, n)) for s in range(0, n, 200)]
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    with ProcessPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(_links, s, e, cutoff) for s, e in bounds]
        for future in futures:
            for a, b in future.result():
                ra, rb = find(a), find(b)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
    return [find(i) for i in range(n)]


def load_dev() -> tuple[list[Report], list[str]]:
    entries = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line]
    reports = []
    for entry in entries:
        when = datetime.fromisoformat(entry["published"].replace("Z", "+00:00"))
        reports.append(
            Report(
                key=entry["key"],
                source=entry["source"],
                outlet=entry["outlet"],
                title=entry["title"],
                url=entry["url"],
                text=entry["text"],
                published=when,
                first_seen=when,
            )
        )
    order = sorted(range(len(reports)), key=lambda i: reports[i].published)
    return [reports[i] for i in order], [entries[i]["dev"] for i in order]


def background(reports: Sequence[Report]) -> list[Report]:
    """The UCI headlines re-dated evenly over the dev set's weeks: unrelated news in the window."""
    if not UCI.exists() or not reports:
        return []
    uci, _ = load_uci()
    start, end = reports[0].published, reports[-1].published
    step = (end - start) / max(len(uci), 1)
    return [
        replace(r, source="background", published=start + i * step, first_seen=start + i * step)
        for i, r in enumerate(uci)
    ]


def eval_dev(
    settings: DedupSettings, verbose: bool, *, busy: bool = False
) -> tuple[float, float, int]:
    reports, devs = load_dev()
    labels: list[str | None] = list(devs)
    if busy:
        noise = background(reports)
        merged = sorted(
            [(r, d) for r, d in zip(reports, labels, strict=True)] + [(r, None) for r in noise],
            key=lambda pair: pair[0].published,
        )
        reports, labels = [r for r, _ in merged], [d for _, d in merged]
    story_ids, _ = run_index(reports, settings)
    # One item per report (a re-headlined report is the same item): its final story.
    final: dict[tuple[str, str], tuple[str, str, str]] = {}
    for report, sid, dev in zip(reports, story_ids, labels, strict=True):
        if dev is not None:
            final[(report.source, report.key)] = (sid, dev, report.title)
    items = list(final.values())
    precision, recall, false = pairwise([i[0] for i in items], [i[1] for i in items])
    if verbose:
        by_story: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for sid, dev, title in items:
            by_story[sid].append((dev, title))
        for sid, members in by_story.items():
            mark = "MIXED " if len({d for d, _ in members}) > 1 else ""
            print(f"  {mark}{sid}: " + " | ".join(f"[{d}] {t}" for d, t in members))
    return precision, recall, false


CURVE: tuple[tuple[float, float, float], ...] = (
    # (threshold, rare_evidence, rare_threshold); rare_evidence 99 switches the rare path off.
    (82.0, 99.0, 100.0),
    (80.0, 99.0, 100.0),
    (78.0, 99.0, 100.0),
    (82.0, 2.0, 60.0),
    (82.0, 2.0, 50.0),
    (82.0, 2.5, 60.0),
    (82.0, 2.5, 50.0),
    (82.0, 2.5, 45.0),
    (82.0, 3.0, 50.0),
    (82.0, 3.0, 45.0),
    (82.0, 3.0, 40.0),
)


def trade_off(reports: Sequence[Report], gold: Sequence[str], chosen: DedupSettings) -> None:
    """Print UCI B-cubed precision and recall, and dev false merges, over the knobs tried."""
    print("trade-off (UCI B-cubed P/R; dev recall and false merges alone | in a busy window):")
    print("  threshold rare_evidence rare_threshold |  P      R      F1   | dev R  false")
    for threshold, evidence, rare_bar in CURVE:
        settings = replace(
            chosen, threshold=threshold, rare_evidence=evidence, rare_threshold=rare_bar
        )
        ids, _ = run_index(reports, settings)
        p, r, f = bcubed(ids, gold)
        _, dev_r, dev_false = eval_dev(settings, False)
        _, busy_r, busy_false = eval_dev(settings, False, busy=True)
        mark = (
            " <- chosen"
            if (threshold, evidence, rare_bar)
            == (chosen.threshold, chosen.rare_evidence, chosen.rare_threshold)
            else ""
        )
        rare = "off" if evidence >= 99 else f"{evidence:.1f}"
        bar = "-" if evidence >= 99 else f"{rare_bar:.0f}"
        print(
            f"  {threshold:9.0f} {rare:>13} {bar:>14} | {p:.3f}  {r:.3f}  {f:.3f} | "
            f"{dev_r:.2f}/{busy_r:.2f}  {dev_false}/{busy_false}{mark}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--lead-threshold", type=float, default=None)
    parser.add_argument("--rare-threshold", type=float, default=None)
    parser.add_argument("--rare-evidence", type=float, default=None)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--no-curve", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    settings = DedupSettings()
    if args.threshold is not None:
        settings = replace(settings, threshold=args.threshold)
    if args.lead_threshold is not None:
        settings = replace(settings, lead_threshold=args.lead_threshold)
    if args.rare_threshold is not None:
        settings = replace(settings, rare_threshold=args.rare_threshold)
    if args.rare_evidence is not None:
        settings = replace(settings, rare_evidence=args.rare_evidence)

    print("command: .venv/bin/python bench/eval_dedup.py")
    print(
        f"settings: threshold={settings.threshold} lead_threshold={settings.lead_threshold} "
        f"rare_evidence={settings.rare_evidence} rare_threshold={settings.rare_threshold} "
        f"window={settings.window}"
    )
    dev_p, dev_r, dev_false = eval_dev(settings, args.verbose)
    print(
        f"dev set ({DEV.name}): pair precision {dev_p:.3f} recall {dev_r:.3f} false merges {dev_false}"
    )
    if UCI.exists():
        busy_p, busy_r, busy_false = eval_dev(settings, args.verbose, busy=True)
        print(
            f"dev set in a busy window (+{len(background(load_dev()[0]))} UCI headlines as "
            f"background): pair precision {busy_p:.3f} recall {busy_r:.3f} "
            f"false merges {busy_false}"
        )
        dev_r = min(dev_r, busy_r)
        dev_p = min(dev_p, busy_p)
        dev_false = max(dev_false, busy_false)

    if not UCI.exists():
        print(f"skipped UCI: {UCI} not found (it lives in ../shared/data next to the repo)")
        print(
            f"result: dev_pair_precision={dev_p:.4f} dev_pair_recall={dev_r:.4f} dev_false_merges={dev_false}"
        )
        return 0

    reports, gold = load_uci()
    story_ids, seconds = run_index(reports, settings)
    bp, br, bf = bcubed(story_ids, gold)
    pp, pr, _ = pairwise(story_ids, gold)
    print(
        f"UCI ({len(reports)} headlines, {len(set(gold))} stories): "
        f"{len(set(story_ids))} predicted stories in {seconds:.2f}s "
        f"({seconds / len(reports) * 1e6:.0f} us/report)"
    )
    print(
        f"  StoryIndex: B-cubed P {bp:.3f} R {br:.3f} F1 {bf:.3f}; pairwise P {pp:.3f} R {pr:.3f}"
    )
    if not args.no_curve:
        trade_off(reports, gold, settings)
    base_p = base_r = base_f = float("nan")
    if not args.no_baseline:
        start = time.perf_counter()
        base = baseline_single_link([r.title for r in reports])
        base_p, base_r, base_f = bcubed(base, gold)
        base_pp, base_pr, _ = pairwise(base, gold)
        print(
            f"  baseline (token_set_ratio>=80 single link, all pairs, "
            f"{time.perf_counter() - start:.1f}s): B-cubed P {base_p:.3f} R {base_r:.3f} "
            f"F1 {base_f:.3f}; pairwise P {base_pp:.3f} R {base_pr:.3f}"
        )
    print(
        f"result: uci_bcubed_precision={bp:.4f} uci_bcubed_recall={br:.4f} uci_bcubed_f1={bf:.4f} "
        f"uci_pair_precision={pp:.4f} uci_pair_recall={pr:.4f} "
        f"baseline_bcubed_precision={base_p:.4f} baseline_bcubed_recall={base_r:.4f} "
        f"dev_pair_precision={dev_p:.4f} dev_pair_recall={dev_r:.4f} dev_false_merges={dev_false}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
