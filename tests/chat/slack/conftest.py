from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack.app import slack_client
from tests.chat.slack.fake_slack import FakeSlack


@pytest.fixture
def fake(fake_slack: FakeSlack) -> FakeSlack:
    """The shared fake Slack (``tests/conftest.py``), under the short name these tests use."""
    return fake_slack


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    """The real slack_sdk client, pointed at the fake."""
    return slack_client("xoxb-test-token", api_base_url=fake.base_url, timeout=5)
