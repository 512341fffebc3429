"""``talks-bot status`` opens with the talks card; ``talks-bot since`` and ``status --since``
list what changed, through the real CLI over a store a real ``poll-once`` filled."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.bot_process import bot_env, rss, write_config
from tests.ingest.servers import FeedServer

NOW = datetime.now(UTC).replace(microsecond=0)
WIRE = [
    ("w-1", "Hamas rejects the three-phase truce proposal",
     "Hamas rejected the truce proposal handed over by mediators.", NOW - timedelta(hours=3)),
    ("w-2", "Israeli tanks push deeper into Rafah",
     "Tanks advanced in the east of Rafah.", NOW - timedelta(minutes=30)),
]  # fmt: skip
NILE = [
    ("n-1", "Hamas turns down hostage deal offer, demands full withdrawal",
     "The group turned down the hostage deal offer.", NOW - timedelta(hours=2)),
]  # fmt: skip


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    with FeedServer() as server:
        server.serve("/wire.xml", rss("Levant Wire", WIRE), "application/rss+xml")
        server.serve("/nile.xml", rss("Nile Courier", NILE), "application/rss+xml")
        path = write_config(
            tmp_path,
            {
                "wire": (server.url("/wire.xml"), "Levant Wire"),
                "nile": (server.url("/nile.xml"), "Nile Courier"),
            },
            interval="1h",
        )
        done = talks_bot(tmp_path, "poll-once", "--config", str(path))
        assert done.returncode == 0, done.stderr
        yield path


def talks_bot(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=folder,
        env=bot_env({"TALKS_BOT_DATABASE_URL": f"sqlite:///{folder / 'bot.db'}"}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_status_opens_with_the_card_and_since_lists_what_changed(
    tmp_path: Path, config: Path
) -> None:
    status = talks_bot(tmp_path, "status", "--config", str(config))
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[1] == "Where the talks stand"
    assert lines[2].startswith("Phase: Hamas rejected the latest terms; no deal, mediators")
    assert "Open question: whether mediators bring a new proposal" in status.stdout

    at = ("--at", (NOW + timedelta(minutes=1)).isoformat())  # both read at the same instant
    since = talks_bot(tmp_path, "since", "6h", *at, "--config", str(config))
    assert since.returncode == 0, since.stderr
    listed = since.stdout.splitlines()
    assert listed[0].startswith("Since "), listed
    assert "3 developments, newest first" in listed[0]
    assert "Israeli tanks push deeper into Rafah — Levant Wire · military operation" in listed[1]
    assert listed[2].endswith("— Nile Courier · rejection")
    assert listed[3].endswith("— Levant Wire · rejection")

    same = talks_bot(tmp_path, "status", "--since", "6h", *at, "--config", str(config))
    assert same.stdout == since.stdout

    why = talks_bot(tmp_path, "why", "phase", "--config", str(config))
    assert why.returncode == 0, why.stderr
    assert "a side rejected → rejected" in why.stdout
    assert "1 outlet, confirmed by" in why.stdout


def test_since_with_bad_input_says_what_to_write_and_exits_1(tmp_path: Path, config: Path) -> None:
    done = talks_bot(tmp_path, "since", "lunchtime", "--config", str(config))
    assert done.returncode == 1
    assert done.stdout.strip() == (
        "“lunchtime” is not a span: since needs a duration like 6h or a time like 09:00 "
        "(at most 30d back)."
    )
    assert "Traceback" not in done.stderr
