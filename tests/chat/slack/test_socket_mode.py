"""Socket Mode against the fake's websocket: connect with the app token, answer ``/talks``, stop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.chat.slack.app import build_slack_app, run_socket_mode, socket_mode_handler
from bot.core.replies import Caller, Reply
from bot.errors import ConfigError
from tests.chat.slack.fake_slack import TEAM, FakeSlack

APP_TOKEN = "xapp-1-A0TALKS-1234-abcdef"


class Echo:
    """Commands stand-in for transport tests: repeats the caller and text back."""

    def __init__(self) -> None:
        self.callers: list[Caller] = []

    def is_slow(self, text: str) -> bool:
        return False

    async def handle(self, caller: Caller, text: str) -> Reply:
        self.callers.append(caller)
        return Reply(text=f"heard {text!r} at {datetime.now(UTC):%H}")


async def wait_until(check: Callable[[], bool]) -> None:
    for _ in range(100):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met within 5 s")


async def test_socket_mode_connects_with_app_token_answers_talks_and_stops_cleanly(
    fake: FakeSlack,
) -> None:
    echo = Echo()
    app = build_slack_app(echo, bot_token="xoxb-test-token", api_base_url=fake.base_url)
    running = asyncio.create_task(run_socket_mode(app, APP_TOKEN))
    await wait_until(lambda: bool(fake.calls_to("apps.connections.open")))
    opened = fake.calls_to("apps.connections.open")[0]
    assert opened.headers["Authorization"] == f"Bearer {APP_TOKEN}"

    await fake.send_envelope(
        {
            "envelope_id": "env-1",
            "type": "slash_commands",
            "accepts_response_payload": True,
            "payload": {
                "team_id": TEAM,
                "channel_id": "C0DESK",
                "user_id": "U0REPORTER",
                "user_name": "reporter",
                "command": "/talks",
                "text": "topics",
                "response_url": fake.response_url(),
                "trigger_id": "1.2.3",
            },
        }
    )
    ack = await asyncio.wait_for(fake.socket_acks.get(), 5)
    assert ack["envelope_id"] == "env-1"
    assert ack["payload"]["response_type"] == "ephemeral"
    assert ack["payload"]["text"].startswith("heard 'topics'")
    assert echo.callers[0] == Caller(
        platform="slack",
        workspace=TEAM,
        user="U0REPORTER",
        channel="C0DESK",
        is_admin=False,
        user_name="reporter",
    )

    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(running, 5)


async def test_socket_mode_handler_uses_the_app_token_and_the_apps_web_client(
    fake: FakeSlack,
) -> None:
    app = build_slack_app(Echo(), bot_token="xoxb-test-token", api_base_url=fake.base_url)
    handler = socket_mode_handler(app, APP_TOKEN)
    try:
        assert handler.app is app
        assert handler.client.app_token == APP_TOKEN
        assert handler.client.web_client.base_url == fake.base_url
    finally:
        await handler.client.aiohttp_client_session.close()


def test_bot_token_given_as_app_token_is_a_config_error(fake: FakeSlack) -> None:
    app = build_slack_app(Echo(), bot_token="xoxb-test-token", api_base_url=fake.base_url)
    with pytest.raises(ConfigError, match="xapp-"):
        socket_mode_handler(app, "xoxb-test-token")
