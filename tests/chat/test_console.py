"""The console shows the same outlets line as Slack and Discord."""

from __future__ import annotations

import io

from bot.chat.console import ConsoleNotifier
from bot.core.models import Destination
from tests.chat.corroboration import wire_story_alerts
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


async def test_console_alert_says_how_well_the_story_is_confirmed() -> None:
    out = io.StringIO()
    console = ConsoleNotifier(out)
    desk = Destination("console", "desk")
    copied, confirmed = wire_story_alerts(desk)
    await console.send(desk, copied)
    await console.update(desk, "m1", confirmed)
    text = out.getvalue()
    assert "AP News, ABC News · single source · " in text
    assert "AP News, ABC News, Nile Courier · confirmed by 2 outlets · " in text
