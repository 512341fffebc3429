"""Fixtures shared by the fault-injection tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.faults.harness import FaultySlack


@pytest.fixture
async def slack() -> AsyncIterator[FaultySlack]:
    """A fake Slack that can have outages and kill the bot mid-call."""
    server = FaultySlack()
    await server.start()
    try:
        yield server
    finally:
        await server.close()
