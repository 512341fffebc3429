from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack.app import slack_client
from tests.chat.slack.fake_slack import FakeSlack


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    """The real slack_sdk client, pointed at the fake."""
    return slack_client("xoxb-test-token", api_base_url=fake.base_url, timeout=5)
