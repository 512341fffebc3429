"""What ``talks-bot run`` writes to its log, read as an operator or a log collector reads it.

The bot is a real child process; the feeds and Slack (its Web API and Socket Mode) are fakes on
127.0.0.1. Slack refuses the app token, as it does a token pasted wrong: the journal gets one
line about it, not a traceback every ten seconds. With ``TALKS_BOT_LOG_FORMAT=json`` every line
is one JSON object.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.logs import JsonFormatter
from tests.bot_process import BotProcess, bot_env, eventually, write_config
from tests.chat.slack.fake_slack import FakeSlack
from tests.ingest.servers import FeedServer

APP_TOKEN = "xapp-1-A0TALKS-9876-refusedrefused"
BOT_TOKEN = "xoxb-test-desk-0042"
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def refusing_slack(fake_slack: FakeSlack) -> FakeSlack:
    """The fake Slack refusing the app token, as Slack does a token pasted wrong."""
    fake_slack.fail("apps.connections.open", "invalid_auth", times=1000)
    return fake_slack


def socket_mode_config(folder: Path, feeds: FeedServer, fake: FakeSlack) -> Path:
    return write_config(
        folder,
        {"levant": (feeds.url("/levant.xml"), "Levant Wire")},
        extra=(
            f'[slack]\nmode = "socket"\napi_base_url = "{fake.base_url}"\n\n'
            '[[routes]]\nplatform = "slack"\nchannel = "C-DESK"\n'
        ),
    )


def secrets(**more: str) -> dict[str, str]:
    return bot_env(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "TALKS_BOT_DATABASE_URL": "sqlite:///desk.db",
            **more,
        }
    )


@pytest.mark.slow
async def test_a_refused_app_token_is_one_line_in_the_log_however_often_it_is_retried(
    tmp_path: Path, levant_feed: FeedServer, refusing_slack: FakeSlack
) -> None:
    fake = refusing_slack
    config = socket_mode_config(tmp_path, levant_feed, fake)
    with BotProcess(tmp_path, ["run", "--config", str(config)], secrets()) as bot:
        # slack_bolt retries every 10 s: wait for the third try.
        await eventually(
            lambda: len(fake.calls_to("apps.connections.open")) >= 3,
            timeout=40,
            what="Slack Socket Mode to be tried three times",
            bot=bot,
        )
        assert await bot.terminate(10) == 0
    lines = bot.stderr().splitlines()
    about_slack = [line for line in lines if "slack" in line.lower()]
    assert len(about_slack) == 1, "\n".join(lines)
    assert " WARNING " in about_slack[0]
    assert "invalid_auth" in about_slack[0]
    assert "SLACK_APP_TOKEN" in about_slack[0]
    assert "Traceback" not in bot.stderr()
    assert APP_TOKEN not in bot.stderr()
    # Start, first round, the Slack line, stop: nothing else (the library said ~40 lines per try).
    assert len(lines) <= 6, "\n".join(lines)


async def test_json_logs_are_one_object_per_line_with_structured_fields(
    tmp_path: Path, levant_feed: FeedServer, refusing_slack: FakeSlack
) -> None:
    fake = refusing_slack
    config = socket_mode_config(tmp_path, levant_feed, fake)
    env = secrets(TALKS_BOT_LOG_FORMAT="json")
    with BotProcess(tmp_path, ["run", "--config", str(config)], env) as bot:
        await eventually(
            lambda: "first round" in bot.stderr() and "Socket Mode" in bot.stderr(),
            timeout=30,
            what="the first round line and the Slack line",
            bot=bot,
        )
        assert await bot.terminate(10) == 0
    records = [json.loads(line) for line in bot.stderr().splitlines()]
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    assert all(r["time"].endswith("Z") for r in records)
    messages = [r["message"] for r in records]
    assert any(m.startswith("talks-bot running: 1 sources") for m in messages)
    assert any(m.startswith("first round: 1 poll of 1 source") for m in messages)
    (down,) = [r for r in records if r.get("connection") == "slack-socket-mode"]
    assert down["level"] == "WARNING"
    assert down["state"] == "down"
    assert down["retry_seconds"] == 10
    assert down["next_try"].endswith("Z")
    assert APP_TOKEN not in bot.stderr()
    assert BOT_TOKEN not in bot.stderr()


def test_a_bad_log_format_in_the_environment_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check-config"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=bot_env({"TALKS_BOT_LOG_FORMAT": "yaml"}),
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: TALKS_BOT_LOG_FORMAT='yaml' is not a log format: set it to `text` or `json`"
    )


def test_the_command_line_option_wins_over_the_environment(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text('[bot]\npoll_interval = "soon"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "status", "--config", "broken.toml", "--log-format", "text"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=bot_env({"TALKS_BOT_LOG_FORMAT": "yaml"}),
        timeout=60,
    )
    assert result.returncode == 2
    assert "poll_interval" in result.stderr


def _record(**fields: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "talks_bot", logging.ERROR, __file__, 1, "poll of %s", ("nile",), None
    )
    record.__dict__.update(fields)
    return record


def test_an_exception_is_one_string_field_and_odd_values_become_text() -> None:
    try:
        raise ValueError("feed said no\nsecond line")
    except ValueError:
        record = _record(exc_info=sys.exc_info(), source="nile", since=NOW, failures=3)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "poll of nile"
    assert parsed["level"] == "ERROR"
    assert parsed["source"] == "nile"
    assert parsed["failures"] == 3
    assert parsed["since"] == str(NOW)
    assert parsed["exception"].startswith("Traceback (most recent call last):")
    assert parsed["exception"].endswith("ValueError: feed said no\nsecond line")


def test_secrets_are_masked_in_structured_fields_too() -> None:
    from bot.__main__ import RedactSecrets

    record = _record(url=f"https://hooks.example/{BOT_TOKEN}", headers={"auth": BOT_TOKEN})
    assert RedactSecrets([BOT_TOKEN]).filter(record)
    parsed = json.loads(JsonFormatter().format(record))
    assert parsed["url"] == "https://hooks.example/***"
    assert BOT_TOKEN not in json.dumps(parsed)
