"""Start the chat connections the configuration asks for (Slack, Discord), beside the console."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app import TalksBot


async def connect_chats(bot: TalksBot) -> list[asyncio.Task[None]]:
    """Register chat notifiers on ``bot`` and return the tasks that keep them connected."""
    return []
