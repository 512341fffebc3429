"""On Slack an alert says how well it is confirmed, and the edit says so when it changes."""

from __future__ import annotations

import json

from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack.notifier import SlackNotifier
from bot.core.models import Destination
from tests.chat.corroboration import wire_story_alerts
from tests.chat.slack.fake_slack import FakeSlack

DESK = Destination(platform="slack", channel="C0DESK", workspace="T0NEWSDESK")


async def test_a_copied_wire_story_is_single_source_until_an_outlet_confirms_it(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    copied, confirmed = wire_story_alerts(DESK)
    notifier = SlackNotifier(client, pace_seconds=0.0)
    ts = await notifier.send(DESK, copied)
    await notifier.update(DESK, ts, confirmed)

    (posted,) = fake.calls_to("chat.postMessage")
    (edited,) = fake.calls_to("chat.update")
    assert "AP News, ABC News · single source" in _fields(posted.params["blocks"])
    assert "AP News, ABC News, Nile Courier · confirmed by 2 outlets" in _fields(
        edited.params["blocks"]
    )


def _fields(blocks: object) -> str:
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    assert isinstance(blocks, list)
    return "\n".join(f["text"] for b in blocks for f in b.get("fields", []))
