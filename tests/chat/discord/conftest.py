"""A fake Discord on 127.0.0.1 and the real bot started against it, as in production."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.chat.discord import endpoints
from bot.chat.discord.client import TalksDiscordClient
from bot.core.commands import Commands
from bot.core.models import Term, Topic
from bot.store import SQLStore, open_store
from tests.chat.discord.fake_discord import GUILD_ID, FakeDiscord

TOKEN = "fake-token"

TOPICS = (
    Topic(
        "hostages",
        "Hostages",
        (Term("hostage", variants=("hostages", "captives")), Term("prisoner exchange")),
        aliases=("captives",),
        description="Hostage releases and exchanges",
    ),
    Topic("rafah", "Rafah crossing", (Term("Rafah"),), description="The Rafah crossing"),
    Topic(
        "cairo-talks",
        "Cairo talks",
        (Term("Cairo"), Term("delegation")),
        aliases=("cairo",),
        description="Delegations in Cairo",
    ),
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    try:
        yield server
    finally:
        await server.close()
        endpoints.restore_defaults()


@pytest.fixture
async def desk_store(tmp_path: Path) -> AsyncIterator[SQLStore]:
    store = open_store(str(tmp_path / "talks.db"))
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def commands(desk_store: SQLStore) -> Commands:
    return Commands(desk_store, TOPICS, lambda: datetime.now(UTC))


async def start_bot(fake: FakeDiscord, commands: Commands, **options: Any) -> TalksDiscordClient:
    """``client.start(token)`` as production does it; returns once READY has been handled."""
    options.setdefault("guilds", [GUILD_ID])
    options.setdefault("api_base_url", fake.api_base)
    options.setdefault("gateway_url", fake.gateway_url)
    client = TalksDiscordClient(commands, guild_ready_timeout=0.05, **options)
    task = asyncio.create_task(client.start(TOKEN))
    client.running = task  # type: ignore[attr-defined]
    async with asyncio.timeout(5):
        while not client.is_ready():
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    return client


async def stop_bot(client: TalksDiscordClient) -> None:
    await client.close()
    await client.running  # type: ignore[attr-defined]


@pytest.fixture
async def bot(fake: FakeDiscord, commands: Commands) -> AsyncIterator[TalksDiscordClient]:
    client = await start_bot(fake, commands)
    try:
        yield client
    finally:
        await stop_bot(client)
