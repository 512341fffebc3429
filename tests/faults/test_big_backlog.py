"""``poll-once`` under a backlog bigger than one courier round: nothing left pending on exit.

The courier reads a bounded batch of due deliveries per round. A cron ``poll-once`` that meets
more than that (a first poll of a busy feed, or a long chat outage just healed) must keep
delivering until nothing is due, or the rest waits for the next cron tick at best.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.bot_process import ROOT, poll_once, rss
from tests.ingest.servers import FeedServer

NOW = datetime.now(UTC).replace(microsecond=0)
COUNT = 1_150
"""More than one courier round reads (1,000)."""


def _items() -> list[tuple[str, str, str, datetime]]:
    # Each headline counts a different block and toll: the numbers keep them apart in dedup.
    return [
        (
            f"b{i}",
            f"Strike on Rafah block {i + 7} kills {i + 1_003} as talks stall",
            "",
            NOW - timedelta(seconds=COUNT - i),
        )
        for i in range(COUNT)
    ]


def _events(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_poll_once_delivers_a_backlog_larger_than_one_round(tmp_path: Path) -> None:
    with FeedServer() as feeds:
        feeds.serve("/wire.xml", rss("Levant Wire", _items()), "application/rss+xml")
        config = tmp_path / "talks.toml"
        config.write_text(
            f'topics_from = "{ROOT / "config" / "default.toml"}"\n'
            f'[bot]\ndatabase_url = "sqlite:///{tmp_path / "talks.db"}"\nmax_item_age = "7d"\n'
            '[[routes]]\nplatform = "console"\nchannel = "console"\ntopics = ["*"]\n'
            'push = "all"\n'
            f'[[sources]]\nname = "wire"\nurl = "{feeds.url("/wire.xml")}"\n'
            'outlet = "Levant Wire"\n',
            encoding="utf-8",
        )
        first = poll_once(tmp_path, config, timeout=300)
        assert first.returncode == 0, first.stderr[-2000:]
        shown = [e for e in _events(first.stdout) if e.get("event") in {"alert", "queued"}]
        assert len(shown) == COUNT, f"{len(shown)} of {COUNT} shown; {first.stderr[-500:]}"

        # Nothing was left pending for later: a second run has nothing to deliver.
        second = poll_once(tmp_path, config, timeout=300)
        assert second.returncode == 0, second.stderr[-2000:]
        assert [e for e in _events(second.stdout) if e.get("event") != "digest"] == []
