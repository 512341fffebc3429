"""``talks-bot run`` with a Slack app in HTTP mode, as an operator starts it, against a fake Slack.

The bot is a real child process reading a real config file and its secrets from the environment;
the feeds, the Slack Web API and the person typing ``/talks`` are on 127.0.0.1 in this process.
What is checked is what the desk sees in Slack: one Block Kit alert per development, edited in place
when another outlet reports it, slash commands answered, a subscriber's direct message, and a clean
stop on SIGTERM.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from slack_sdk.signature import SignatureVerifier

from bot.chat.slack.app import WORKING
from tests.bot_process import BotProcess, bot_env, eventually, free_port, rss, write_config
from tests.chat.slack.fake_slack import TEAM, Call, FakeSlack
from tests.ingest.servers import FeedServer

BOT_TOKEN = "xoxb-test-desk-0001"
SIGNING_SECRET = "d41d8cd98f00b204e9800998ecf8427e"
DESK = "C-DESK"
REPORTER = "U0REPORTER"

NOW = datetime.now(UTC).replace(microsecond=0)
CAIRO = (
    "lw-101",
    "Hamas delegation arrives in Cairo for new round of truce talks",
    "Egyptian mediators met the delegation on Monday evening to push for a truce in Gaza.",
    NOW - timedelta(minutes=40),
)
CAIRO_AGAIN = (
    "nc-201",
    "Hamas delegation arrives in Cairo for a new round of truce talks",
    "The delegation was received by Egyptian mediators on Monday to discuss a truce in Gaza.",
    NOW - timedelta(minutes=25),
)
FOOTBALL = (
    "nc-202",
    "Cairo derby ends goalless as Al Ahly keep top spot",
    "Al Ahly and Zamalek drew 0-0 in front of a full stadium.",
    NOW - timedelta(minutes=30),
)
HOSTAGES = (
    "lw-102",
    "Red Cross hands four freed hostages to Israeli forces at Gaza border",
    "Four hostages released by Hamas were taken to an Israeli hospital after the handover.",
    NOW - timedelta(minutes=5),
)


@pytest.fixture
def fake(fake_slack: FakeSlack) -> FakeSlack:
    """The fake Slack Web API (``fake_slack``), by the short name every test here uses."""
    return fake_slack


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.serve("/levant.xml", rss("Levant Wire", [CAIRO]))
        server.serve("/nile.xml", rss("Nile Courier", [FOOTBALL]))
        yield server


def slack_config(folder: Path, feeds: FeedServer, fake: FakeSlack, port: int) -> Path:
    return write_config(
        folder,
        {
            "levant": (feeds.url("/levant.xml"), "Levant Wire"),
            "nile": (feeds.url("/nile.xml"), "Nile Courier"),
        },
        extra=(
            f'[slack]\nmode = "http"\nport = {port}\napi_base_url = "{fake.base_url}"\n\n'
            f'[[routes]]\nplatform = "slack"\nchannel = "{DESK}"\n'
        ),
    )


def posts_to(fake: FakeSlack, channel: str) -> list[Call]:
    return [c for c in fake.calls_to("chat.postMessage") if c.params.get("channel") == channel]


def shown(params: dict[str, Any]) -> str:
    """Everything a reader could see in a message: fallback text and blocks."""
    return str(params.get("text", "")) + json.dumps(params.get("blocks", []), ensure_ascii=False)


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


async def slash(
    port: int, fake: FakeSlack, text: str, *, secret: str = SIGNING_SECRET
) -> dict[str, Any]:
    """``/talks TEXT`` POSTed to the bot as Slack sends it, signed with the signing secret."""
    body = urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM,
            "team_domain": "newsdesk",
            "channel_id": DESK,
            "channel_name": "live-desk",
            "user_id": REPORTER,
            "user_name": "reporter",
            "command": "/talks",
            "text": text,
            "api_app_id": "A0TALKS",
            "response_url": fake.response_url(),
            "trigger_id": "4242.1717.cafe",
        }
    )
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": SignatureVerifier(secret).generate_signature(
            timestamp=stamp, body=body
        )
        or "",
    }
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session,
        session.post(f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers) as resp,
    ):
        assert resp.status == 200, await resp.text()
        answer: dict[str, Any] = await resp.json(content_type=None)
        return answer


async def test_run_posts_edits_answers_and_direct_messages_on_slack(
    tmp_path: Path, fake: FakeSlack, feeds: FeedServer
) -> None:
    port = free_port()
    config = slack_config(tmp_path, feeds, fake, port)
    env = bot_env(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "TALKS_BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'desk.db'}",
        }
    )
    # ``-v`` before the command counts too (talks-bot -v run), as --help shows it.
    with BotProcess(tmp_path, ["-v", "run", "--config", str(config)], env) as bot:
        # The routed alert: one chat.postMessage to the desk channel, in Block Kit.
        [alert] = await eventually(
            lambda: posts_to(fake, DESK), what="the Cairo alert in C-DESK", bot=bot
        )
        assert CAIRO[1] in alert.params["text"]
        blocks = alert.params["blocks"]
        assert isinstance(blocks, list), "an alert is Block Kit, not bare text"
        assert blocks, "an alert is Block Kit, not bare text"
        assert {b["type"] for b in blocks} >= {"section"}
        assert "https://levantwire.example/news/lw-101" in shown(alert.params)
        assert alert.headers.get("Authorization") == f"Bearer {BOT_TOKEN}"
        [posted] = fake.history[DESK]

        # A second outlet reports the same development: the same message is edited in place.
        feeds.serve("/nile.xml", rss("Nile Courier", [FOOTBALL, CAIRO_AGAIN]))
        [edit] = await eventually(
            lambda: fake.calls_to("chat.update"), what="the alert edited in place", bot=bot
        )
        assert edit.params["channel"] == DESK
        assert edit.params["ts"] == posted["ts"]
        assert "Nile Courier" in shown(edit.params)
        assert "Levant Wire" in shown(edit.params)
        roots = [c for c in posts_to(fake, DESK) if not c.params.get("thread_ts")]
        assert len(roots) == 1, "a second outlet must not cause a second alert"
        # ...it is a reply in the alert's thread, and the now corroborated alert is re-broadcast
        # (tests/chat/slack/test_threads.py has the detail); waited for, so the stop is clean.
        await eventually(
            lambda: len(fake.threads[(DESK, posted["ts"])]) == 2,
            what="the thread reply and the re-broadcast",
            bot=bot,
        )
        assert "Al Ahly" not in json.dumps(fake.history), "the football story is not for the desk"

        # Slash commands over HTTP mode, signed with the real algorithm.
        await eventually(lambda: listening(port), what=f"the bot listening on {port}", bot=bot)
        assert f"Slack HTTP mode listening on 0.0.0.0:{port}/slack/events" in bot.stderr()
        subscribed = await slash(port, fake, "subscribe hostages")
        assert subscribed["response_type"] == "ephemeral"
        assert "You now follow Hostages" in subscribed["text"]

        status = await slash(port, fake, "status")
        assert status == {"text": WORKING, "response_type": "ephemeral"}
        [answer] = await eventually(
            lambda: fake.calls_to("response_url"), what="the status answer", bot=bot
        )
        assert "Talks status" in answer.params["text"]
        assert CAIRO[1] in shown(answer.params)

        # The subscriber gets a direct message about a new hostages story.
        feeds.serve("/levant.xml", rss("Levant Wire", [CAIRO, HOSTAGES]))
        opened = await eventually(
            lambda: fake.calls_to("conversations.open"), what="a DM to the subscriber", bot=bot
        )
        assert opened[0].params["users"] == REPORTER
        dm_channel = "D" + REPORTER[1:]
        [dm] = await eventually(lambda: posts_to(fake, dm_channel), what="the DM itself", bot=bot)
        assert HOSTAGES[1] in dm.params["text"]
        assert dm.params["blocks"]

        assert await bot.terminate(timeout=5) == 0
    assert bot.problems() == [], "a clean run logs no warning or error"


async def test_poll_once_from_cron_posts_to_slack_and_run_does_not_repost(
    tmp_path: Path, fake: FakeSlack, feeds: FeedServer
) -> None:
    """``poll-once`` (cron) delivers chat routes too; the alert is neither lost nor doubled."""
    port = free_port()
    config = slack_config(tmp_path, feeds, fake, port)
    env = bot_env(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "TALKS_BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'desk.db'}",
        }
    )
    with BotProcess(tmp_path, ["poll-once", "--config", str(config)], env) as once:
        assert await once.finished() == 0, once.output()
    assert once.problems() == [], "a clean run logs no warning or error"
    [alert] = posts_to(fake, DESK)
    assert CAIRO[1] in alert.params["text"]
    assert "1 alerts sent" in once.stderr(), once.stderr()
    assert not listening(port), "poll-once posts only; it does not serve slash commands"

    # The next cron run hears of the same development from a second outlet: edited in place.
    feeds.serve("/nile.xml", rss("Nile Courier", [FOOTBALL, CAIRO_AGAIN]))
    with BotProcess(tmp_path, ["poll-once", "--config", str(config)], env) as again:
        assert await again.finished() == 0, again.output()
    [edit] = fake.calls_to("chat.update")
    assert edit.params["ts"] == fake.history[DESK][0]["ts"]
    assert len([c for c in posts_to(fake, DESK) if not c.params.get("thread_ts")]) == 1
