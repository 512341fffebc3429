"""The console shows the same outlets line as Slack and Discord."""

from __future__ import annotations

import io

from bot.chat.console import ConsoleNotifier
from bot.core.models import Destination
from tests.chat.discord.samples import alert


async def test_console_alert_names_three_outlets_and_counts_beyond() -> None:
    out = io.StringIO()
    console = ConsoleNotifier(out)
    desk = Destination("console", "desk")
    await console.send(desk, alert(outlets=("Wire One", "Daily Ledger", "Coast Radio")))
    await console.send(desk, alert(outlets=("Wire One", "Daily Ledger", "C", "D", "E")))
    text = out.getvalue()
    assert "Wire One, Daily Ledger, Coast Radio · " in text
    assert "Wire One, Daily Ledger +3 · " in text
    assert "+1" not in text
