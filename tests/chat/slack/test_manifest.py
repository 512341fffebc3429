"""The app manifest operators paste into Slack grants what the adapter uses, and nothing more."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack.app import AdminRoles
from bot.chat.slack.notifier import SlackNotifier
from bot.core.models import Alert, Destination
from tests.chat.slack.fake_slack import TEAM, FakeSlack

MANIFEST = Path(__file__).resolve().parents[3] / "deploy" / "slack-app-manifest.yml"

SCOPE_OF = {
    "auth.test": set(),
    "chat.postMessage": {"chat:write"},
    "chat.update": {"chat:write"},
    "conversations.open": {"im:write"},
    "conversations.history": {"channels:history", "groups:history", "im:history"},
    "users.info": {"users:read"},
}
"""Bot scopes each Web API method needs (public, private and DM channels alike)."""


def manifest_bot_scopes() -> set[str]:
    text = MANIFEST.read_text(encoding="utf-8")
    block = re.search(r"^    bot:\n((?:      - \S+\n)+)", text, re.M)
    assert block, "no oauth_config.scopes.bot list in the manifest"
    return set(re.findall(r"- (\S+)", block.group(1)))


async def test_manifest_grants_every_scope_the_adapter_uses_and_no_more(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    notifier = SlackNotifier(client, pace_seconds=0)
    alert = Alert(
        story_id="0badf00d",
        title="Truce extended by two days, mediators say",
        url="https://news.example.org/truce-extended",
        summary="",
        outlets=("Wire One",),
        published=datetime(2024, 5, 8, tzinfo=UTC),
        topics=("hostages",),
        score=0.7,
    )
    desk = Destination("slack", "C0DESK", TEAM)
    dm = Destination("slack", "U0EDITOR", TEAM, direct=True)
    ts = await notifier.send(desk, alert)
    await notifier.update(desk, ts, alert)
    await notifier.send(dm, alert)
    await notifier.find_posted(desk, alert)
    await AdminRoles().is_admin(client, TEAM, "U0EDITOR")

    used = {call.method for call in fake.calls}
    assert used <= set(SCOPE_OF), f"scope unknown for {used - set(SCOPE_OF)}"
    needed = set().union(*(SCOPE_OF[m] for m in used)) | {"commands"}
    assert manifest_bot_scopes() == needed


def test_manifest_declares_the_talks_command_in_socket_mode() -> None:
    text = MANIFEST.read_text(encoding="utf-8")
    assert re.search(r"^    - command: /talks$", text, re.M)
    assert re.search(r"^      usage_hint: .*subscribe TOPIC", text, re.M)
    assert re.search(r"^  socket_mode_enabled: true$", text, re.M)
    assert "event_subscriptions" not in text
