"""The command line tells the truth: ``poll-once``'s exit status and summary count failing and
backing-off sources, ``status`` says when a failing source is tried again, ``run`` logs a line
per round of polls, and the small things (``--version``, a closed pipe, ``discord-invite``)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import TalksBot
from bot.config import load_config
from bot.core import messages as say
from tests.bot_process import (
    BotProcess,
    bot_env,
    eventually,
    free_port,
    poll_once,
    rss,
    write_config,
)
from tests.ingest.servers import FeedServer

NOW = datetime.now(UTC).replace(microsecond=0)
ITEMS = [
    (
        "w-1",
        "Hamas delegation arrives in Cairo for cease-fire talks",
        "A Hamas delegation arrived in Cairo for talks with Egyptian mediators on a truce.",
        NOW - timedelta(minutes=20),
    )
]


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.serve("/wire.xml", rss("Levant Wire", ITEMS), "application/rss+xml")
        yield server


def talks_bot(
    folder: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = bot_env({"TALKS_BOT_DATABASE_URL": f"sqlite:///{folder / 'bot.db'}"})
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _summary(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if re.match(r"\d+ sources?: ", line)]
    assert len(lines) == 1, stderr
    return lines[0]


def _config(folder: Path, feeds: FeedServer) -> Path:
    """One healthy source and one whose port has nothing listening."""
    down = f"http://127.0.0.1:{free_port()}/down.xml"
    return write_config(
        folder,
        {"wire": (feeds.url("/wire.xml"), "Levant Wire"), "down": (down, "Down Daily")},
        interval="1h",
    )


def test_poll_once_exits_1_while_a_source_fails_and_counts_it_backing_off_next_time(
    tmp_path: Path, feeds: FeedServer
) -> None:
    config = str(_config(tmp_path, feeds))
    first = talks_bot(tmp_path, "poll-once", "--config", config)
    assert first.returncode == 1, first.stderr
    assert _summary(first.stderr).startswith("2 sources: 1 healthy, 1 failing;"), first.stderr
    assert any(line.startswith("source down: could not connect") for line in
               first.stderr.splitlines()), first.stderr  # fmt: skip
    assert "--ok-on-failing-sources" in first.stderr.splitlines()[-1]
    assert "Traceback" not in first.stderr

    # At once again: the source waits out its backoff; it is not counted as fine.
    second = talks_bot(tmp_path, "poll-once", "--config", config)
    assert second.returncode == 1, second.stderr
    summary = _summary(second.stderr)
    assert summary.startswith("2 sources: 1 healthy, 0 failing, 1 backing off after failing"), (
        summary
    )
    assert re.search(r"next try \d\d:\d\d UTC", summary), summary
    assert re.search(
        r"^source down: backing off until \d\d:\d\d UTC after 1 failure\(s\) \(last error: "
        r"could not connect",
        second.stderr,
        re.M,
    ), second.stderr

    tolerant = talks_bot(tmp_path, "poll-once", "--ok-on-failing-sources", "--config", config)
    assert tolerant.returncode == 0, tolerant.stderr
    assert "1 backing off" in _summary(tolerant.stderr)

    status = talks_bot(tmp_path, "status", "--config", config)
    assert status.returncode == 0, status.stderr
    assert "Sources: 1 of 2 healthy" in status.stdout
    [line] = [line for line in status.stdout.splitlines() if "down failing" in line]
    assert re.search(r"; backing off until \d\d:\d\d UTC( \d\d \w\w\w)?$", line), line


def test_poll_once_exits_0_when_every_source_is_healthy(tmp_path: Path, feeds: FeedServer) -> None:
    config = write_config(tmp_path, {"wire": (feeds.url("/wire.xml"), "Levant Wire")})
    done = talks_bot(tmp_path, "poll-once", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert _summary(done.stderr).startswith("1 source: 1 healthy, 0 failing;"), done.stderr


def test_a_run_whose_first_polls_bring_nothing_new_still_matches_stored_developments(
    tmp_path: Path, feeds: FeedServer
) -> None:
    """``poll-once`` reads the dedup window only when a source brings something new: a later
    outlet's report of a development stored by an earlier run joins it all the same."""
    feeds.serve("/second.xml", rss("Harbour Times", []), "application/rss+xml")
    config = write_config(
        tmp_path,
        {
            "wire": (feeds.url("/wire.xml"), "Levant Wire"),
            "second": (feeds.url("/second.xml"), "Harbour Times"),
        },
    )
    first = poll_once(tmp_path, config)
    assert first.returncode == 0, first.stderr
    [created] = [json.loads(line) for line in first.stdout.splitlines()]
    assert created["event"] == "alert", created

    unchanged = poll_once(tmp_path, config)
    assert unchanged.returncode == 0, unchanged.stderr
    assert unchanged.stdout == "", unchanged.stdout
    assert "0 new reports" in _summary(unchanged.stderr), unchanged.stderr

    later = (
        "h-1",
        "Hamas delegation arrives in Cairo for ceasefire talks",
        "A Hamas delegation arrived in Cairo for talks with Egyptian mediators on a truce.",
        NOW - timedelta(minutes=5),
    )
    feeds.serve("/second.xml", rss("Harbour Times", [later]), "application/rss+xml")
    joined = poll_once(tmp_path, config)
    assert joined.returncode == 0, joined.stderr
    [edit] = [json.loads(line) for line in joined.stdout.splitlines()]
    assert edit["event"] != "alert", edit  # no second alert: the alert is brought up to date
    assert edit["story_id"] == created["story_id"], (edit, created)
    assert edit["outlets"] == ["Levant Wire", "Harbour Times"], edit


def test_status_says_when_a_failing_source_is_tried_again() -> None:
    now = datetime(2024, 5, 5, 22, 0, tzinfo=UTC)
    assert say.clock_time(now + timedelta(minutes=41), now) == "22:41 UTC"
    assert say.clock_time(now + timedelta(hours=3), now) == "01:00 UTC 06 May"
    line = say.status_failing_source("down", "5 min", 2, "HTTP 503", retry="22:41 UTC")
    assert line == "down failing for 5 min (2×): HTTP 503; backing off until 22:41 UTC"
    assert say.status_failing_source("down", "5 min", 2, "HTTP 503", retry="").endswith(
        "retried at its next poll"
    )


async def test_run_logs_one_line_per_round_of_polls(tmp_path: Path, feeds: FeedServer) -> None:
    """Without -v, as systemd starts it: the first line once every source was polled."""
    config = _config(tmp_path, feeds)
    env = bot_env({"TALKS_BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"})
    with BotProcess(tmp_path, ["run", "--config", str(config)], env) as bot:
        line = await eventually(
            lambda: next((x for x in bot.stderr().splitlines() if "first round:" in x), None),
            timeout=20,
            what="the first round line",
            bot=bot,
        )
        assert await bot.terminate() == 0
    assert " INFO talks_bot: first round: 2 polls of 2 sources, 1 failing (down); " in line, line
    assert "1 new reports, 1 alerts, 0 updates" in line, line
    assert re.search(r"slowest poll [\d.]+s \((wire|down)\)", line), line


async def test_run_says_nothing_in_a_period_where_no_poll_ended(
    tmp_path: Path,
    feeds: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="talks_bot")

    def configured(folder: Path, interval: str) -> Path:
        folder.mkdir()
        monkeypatch.setenv("TALKS_BOT_DATABASE_URL", f"sqlite:///{folder / 'bot.db'}")
        down = f"http://127.0.0.1:{free_port()}/down.xml"
        return write_config(
            folder,
            {"wire": (feeds.url("/wire.xml"), "Levant Wire"), "down": (down, "Down Daily")},
            interval=interval,
        )

    async def rounds(config: Path, seconds: float) -> list[str]:
        caplog.clear()
        stop = asyncio.Event()
        async with TalksBot(load_config(config, env_file=None), writer=True) as bot:
            bot.round_log_seconds = 1.0
            task = asyncio.create_task(bot.run(stop))
            await asyncio.sleep(seconds)
            stop.set()
            await task
        messages = [r.getMessage() for r in caplog.records]
        return [m for m in messages if m.startswith(("first round: ", "last "))]

    # Polled every second: a line per period after the first round.
    lines = await rounds(configured(tmp_path / "busy", "1s"), 4.0)
    assert lines[0].startswith("first round: 2 polls of 2 sources, 1 failing (down); "), lines
    assert len(lines) >= 3, lines
    assert all(re.match(r"last \d", x) for x in lines[1:]), lines
    # Polled hourly (and the failing one backing off): the first round, then silence.
    lines = await rounds(configured(tmp_path / "quiet", "1h"), 3.0)
    assert len(lines) == 1, lines
    assert lines[0].startswith("first round: 2 polls of 2 sources"), lines


def test_version_is_the_installed_package_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    done = talks_bot(tmp_path, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"talks-bot {version('talks-bot')}"


def test_why_into_a_closed_pipe_ends_quietly(tmp_path: Path, feeds: FeedServer) -> None:
    """``talks-bot why X | head``: the reader went away; no traceback for the operator."""
    config = write_config(tmp_path, {"wire": (feeds.url("/wire.xml"), "Levant Wire")})
    assert talks_bot(tmp_path, "poll-once", "--config", str(config)).returncode == 0
    story = talks_bot(tmp_path, "status", "--config", str(config)).stdout
    [story_id] = re.findall(r"\[([0-9a-f]{4,})\]", story)
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bot", "why", story_id, "--config", str(config)],
            cwd=tmp_path,
            env=bot_env({"TALKS_BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"}),
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)
    assert done.stderr == "", done.stderr
    assert done.returncode == 1


def test_discord_invite_needs_no_token(tmp_path: Path) -> None:
    config = tmp_path / "talks.toml"
    config.write_text('[discord]\napplication_id = "123456789012345678"\n', encoding="utf-8")
    done = talks_bot(tmp_path, "discord-invite", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        "https://discord.com/oauth2/authorize?client_id=123456789012345678"
    )
    assert "permissions=309237664768" in done.stdout

    # No [discord] table yet: the id from the environment is enough.
    bare = tmp_path / "bare.toml"
    bare.write_text("", encoding="utf-8")
    env = {"DISCORD_APPLICATION_ID": "42424242"}
    done = talks_bot(tmp_path, "discord-invite", "--config", str(bare), env=env)
    assert done.returncode == 0, done.stderr
    assert "client_id=42424242" in done.stdout

    done = talks_bot(tmp_path, "discord-invite", "--config", str(bare))
    assert done.returncode == 2
    assert "discord.application_id is not set" in done.stderr
    assert "DISCORD_APPLICATION_ID" in done.stderr
