"""On Discord an alert says how well it is confirmed, and the edit says so when it changes."""

from __future__ import annotations

from bot.chat.discord.client import TalksDiscordClient
from bot.chat.discord.notifier import DiscordNotifier
from bot.core.models import Destination
from tests.chat.corroboration import wire_story_alerts
from tests.chat.discord.fake_discord import GUILD_ID, NEWSROOM_CHANNEL, FakeDiscord

NEWSROOM = Destination("discord", str(NEWSROOM_CHANNEL), str(GUILD_ID))
MESSAGES = rf"/channels/{NEWSROOM_CHANNEL}/messages"


async def test_a_copied_wire_story_is_single_source_until_an_outlet_confirms_it(
    bot: TalksDiscordClient, fake: FakeDiscord
) -> None:
    copied, confirmed = wire_story_alerts(NEWSROOM)
    notifier = DiscordNotifier(bot)
    message_id = await notifier.send(NEWSROOM, copied)
    await notifier.update(NEWSROOM, message_id, confirmed)

    [posted] = fake.calls("POST", MESSAGES)
    [edited] = fake.calls("PATCH", rf"{MESSAGES}/{message_id}")
    assert _outlets(posted.json) == "AP News, ABC News · single source"
    assert _outlets(edited.json) == "AP News, ABC News, Nile Courier · confirmed by 2 outlets"


def _outlets(payload: dict[str, object]) -> str:
    [embed] = payload["embeds"]  # type: ignore[misc]
    return next(f["value"] for f in embed["fields"] if f["name"] == "Outlets")
