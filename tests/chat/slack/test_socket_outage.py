"""A Socket Mode outage is one log line, not a traceback every retry.

The real slack_sdk Socket Mode client runs against the fake Slack: its app token refused for a
while, or handed a WebSocket address nothing listens on. What an operator reads in the log is
counted: one WARNING naming the problem, its fix and the next try, one INFO when it is back.
"""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from bot.chat.slack.app import build_slack_app, run_socket_mode
from tests.bot_process import free_port
from tests.chat.slack.fake_slack import TEAM, FakeSlack, Scripted
from tests.chat.slack.test_socket_mode import APP_TOKEN, Echo, wait_until

RETRY = 0.3
"""Seconds between the client's tries in these tests (slack_bolt's default is 10 s)."""


def slack_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(("slack_bolt", "slack_sdk"))]


async def talks_answered(fake: FakeSlack) -> str:
    await fake.send_envelope(
        {
            "envelope_id": "env-after-outage",
            "type": "slash_commands",
            "accepts_response_payload": True,
            "payload": {
                "team_id": TEAM,
                "channel_id": "C0DESK",
                "user_id": "U0REPORTER",
                "user_name": "reporter",
                "command": "/talks",
                "text": "status",
                "response_url": fake.response_url(),
                "trigger_id": "1.2.3",
            },
        }
    )
    ack = await asyncio.wait_for(fake.socket_acks.get(), 5)
    return str(ack["payload"]["text"])


async def test_a_refused_app_token_is_one_warning_then_one_line_when_it_works_again(
    fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    refusals = 6
    fake.fail("apps.connections.open", "invalid_auth", times=refusals)
    app = build_slack_app(Echo(), bot_token="xoxb-test-token", api_base_url=fake.base_url)
    running = asyncio.create_task(run_socket_mode(app, APP_TOKEN, retry_seconds=RETRY))
    try:
        await wait_until(lambda: len(fake.calls_to("apps.connections.open")) > refusals)
        await wait_until(lambda: any("connected again" in r.getMessage() for r in caplog.records))
        assert (await talks_answered(fake)).startswith("heard 'status'")
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

    lines = slack_lines(caplog)
    assert [r.levelname for r in lines] == ["WARNING", "INFO"], [r.getMessage() for r in lines]
    down, back = (r.getMessage() for r in lines)
    assert "invalid_auth" in down
    assert "SLACK_APP_TOKEN" in down
    assert re.search(r"next try \d\d:\d\d:\d\d UTC", down)
    assert f"({refusals} failed tries)" in back
    assert not any(r.exc_info or r.exc_text for r in lines)
    assert APP_TOKEN not in caplog.text


async def test_an_unreachable_socket_address_is_one_line_however_many_tries(
    fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    nowhere = f"ws://127.0.0.1:{free_port()}/socket"
    fake.script("apps.connections.open", Scripted(200, {"ok": True, "url": nowhere}))
    app = build_slack_app(Echo(), bot_token="xoxb-test-token", api_base_url=fake.base_url)
    running = asyncio.create_task(run_socket_mode(app, APP_TOKEN, retry_seconds=RETRY))
    await asyncio.sleep(RETRY * 8)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running

    lines = slack_lines(caplog)
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].levelname == "WARNING"
    assert "Cannot connect to host 127.0.0.1" in lines[0].getMessage()
    assert "Retrying every 0.3s" in lines[0].getMessage()
    assert "Traceback" not in caplog.text


async def test_a_first_connection_is_one_line_and_routine_reconnects_none(
    fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    app = build_slack_app(Echo(), bot_token="xoxb-test-token", api_base_url=fake.base_url)
    running = asyncio.create_task(run_socket_mode(app, APP_TOKEN, retry_seconds=RETRY))
    try:
        assert (await talks_answered(fake)).startswith("heard 'status'")
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    assert [r.getMessage() for r in slack_lines(caplog)] == [
        "Slack Socket Mode connected: answering /talks"
    ]


async def test_at_debug_nothing_is_folded(
    fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.fail("apps.connections.open", "invalid_auth", times=3)
    app = build_slack_app(Echo(), bot_token="xoxb-test-token", api_base_url=fake.base_url)
    running = asyncio.create_task(run_socket_mode(app, APP_TOKEN, retry_seconds=RETRY))
    try:
        await wait_until(lambda: len(fake.calls_to("apps.connections.open")) > 3)
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    failed = [r for r in slack_lines(caplog) if r.getMessage().startswith("Failed to connect")]
    assert len(failed) >= 3
    assert all(r.exc_info for r in failed)
