"""``talks-bot run`` with Discord, as an operator starts it, against a fake Discord.

The fake serves the REST API and the gateway on 127.0.0.1 in this process. The bot is a real child
process: discord.py logs in over REST, syncs ``/talks`` for the configured server, opens the
gateway and receives interactions from it. One test runs Slack and Discord from one config in one
process; one runs ``poll-once`` as cron would.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bot_process import BotProcess, bot_env, eventually, free_port, rss, write_config
from tests.chat.discord.fake_discord import GUILD_ID, NEWSROOM_CHANNEL, FakeDiscord, Recorded
from tests.chat.slack.fake_slack import FakeSlack
from tests.ingest.servers import FeedServer
from tests.test_run_slack import CAIRO, CAIRO_AGAIN, FOOTBALL, HOSTAGES, listening

TOKEN = "fake-token"
"""The token the fake Discord accepts."""
EDITOR = 740000000000000001
"""The member ``FakeDiscord.command`` sends interactions as."""
DESK_MESSAGES = rf"/channels/{NEWSROOM_CHANNEL}/messages"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.serve("/levant.xml", rss("Levant Wire", [CAIRO]))
        server.serve("/nile.xml", rss("Nile Courier", [FOOTBALL]))
        yield server


def sources(feeds: FeedServer) -> dict[str, tuple[str, str]]:
    return {
        "levant": (feeds.url("/levant.xml"), "Levant Wire"),
        "nile": (feeds.url("/nile.xml"), "Nile Courier"),
    }


def discord_tables(fake: FakeDiscord) -> str:
    return (
        f'[discord]\nguilds = [{GUILD_ID}]\napi_base_url = "{fake.api_base}"\n'
        f'gateway_url = "{fake.gateway_url}"\n\n'
        f'[[routes]]\nplatform = "discord"\nchannel = "{NEWSROOM_CHANNEL}"\n'
        f'workspace = "{GUILD_ID}"\n'
    )


def embed_text(request: Recorded) -> str:
    return json.dumps(request.json.get("embeds", []), ensure_ascii=False)


def assert_pings_nobody(request: Recorded) -> None:
    """The message itself forbids @everyone, @here, role and user pings."""
    mentions = request.json["allowed_mentions"]
    assert mentions["parse"] == [], mentions
    assert not mentions.get("users"), mentions
    assert not mentions.get("roles"), mentions


async def test_run_posts_edits_and_answers_on_discord(
    tmp_path: Path, fake: FakeDiscord, feeds: FeedServer
) -> None:
    config = write_config(tmp_path, sources(feeds), extra=discord_tables(fake))
    env = bot_env(
        {"DISCORD_TOKEN": TOKEN, "TALKS_BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'desk.db'}"}
    )
    with BotProcess(tmp_path, ["run", "-v", "--config", str(config)], env) as bot:
        # /talks is registered for the configured server at start-up.
        [sync] = await eventually(
            lambda: fake.calls("PUT", rf"/applications/\d+/guilds/{GUILD_ID}/commands"),
            what="/talks registered for the server",
            bot=bot,
        )
        assert [c["name"] for c in sync.json] == ["talks"]

        # The routed alert: one embed in the desk channel that can ping nobody.
        [alert] = await eventually(
            lambda: fake.calls("POST", DESK_MESSAGES), what="the Cairo alert", bot=bot
        )
        assert CAIRO[1] in embed_text(alert)
        assert "https://levantwire.example/news/lw-101" in embed_text(alert)
        assert_pings_nobody(alert)
        [message_id] = [m for m, body in fake.messages.items() if body.get("nonce")]

        # A second outlet reports the same development: the message is edited, not reposted.
        feeds.serve("/nile.xml", rss("Nile Courier", [FOOTBALL, CAIRO_AGAIN]))
        [edit] = await eventually(
            lambda: fake.calls("PATCH", rf"{DESK_MESSAGES}/{message_id}"),
            what="the alert edited in place",
            bot=bot,
        )
        assert "Nile Courier" in embed_text(edit)
        assert "Levant Wire" in embed_text(edit)
        assert_pings_nobody(edit)
        # ...and the report goes in the alert's thread (tests/chat/discord/test_threads.py).
        await eventually(
            lambda: fake.in_thread(message_id), what="the reply in the alert's thread", bot=bot
        )
        posts = fake.calls("POST", DESK_MESSAGES)
        roots = [c for c in posts if "Follow the thread" not in (c.json.get("content") or "")]
        assert len(roots) == 1, "a second outlet must not cause a second alert"
        assert "Al Ahly" not in json.dumps(fake.messages), "the football story is not for the desk"

        # /talks subscribe, pushed through the gateway as Discord does, answered over REST.
        await eventually(lambda: fake.identifies, what="the gateway IDENTIFY", bot=bot)
        interaction = fake.command("subscribe", {"topic": "hostages"})
        await fake.dispatch("INTERACTION_CREATE", interaction)
        [callback] = await eventually(
            lambda: fake.calls("POST", rf"/interactions/{interaction['id']}/[\w-]+/callback"),
            what="the answer to /talks subscribe",
            bot=bot,
        )
        answer: dict[str, Any] = callback.json["data"]
        assert answer["content"] == "You now follow Hostages; alerts reach you by direct message."
        assert answer["flags"] & 64, "the answer is visible only to the editor"

        # The subscriber gets a direct message about a new hostages story.
        feeds.serve("/levant.xml", rss("Levant Wire", [CAIRO, HOSTAGES]))
        [opened] = await eventually(
            lambda: fake.calls("POST", r"/users/@me/channels"), what="the DM channel", bot=bot
        )
        assert opened.json["recipient_id"] in (EDITOR, str(EDITOR))
        dm_channel = EDITOR + 1_000_000
        [dm] = await eventually(
            lambda: fake.calls("POST", rf"/channels/{dm_channel}/messages"),
            what="the DM itself",
            bot=bot,
        )
        assert HOSTAGES[1] in embed_text(dm)
        assert_pings_nobody(dm)

        assert await bot.terminate(timeout=5) == 0
    assert bot.problems() == [], "a clean run logs no warning or error"


async def test_one_process_alerts_slack_and_discord_from_one_config(
    tmp_path: Path, fake: FakeDiscord, feeds: FeedServer
) -> None:
    slack = FakeSlack()
    await slack.start()
    try:
        port = free_port()
        extra = discord_tables(fake) + (
            f'\n[slack]\nmode = "http"\nport = {port}\n'
            f'api_base_url = "{slack.base_url}"\n\n'
            '[[routes]]\nplatform = "slack"\nchannel = "C-DESK"\n'
        )
        config = write_config(tmp_path, sources(feeds), extra=extra)
        env = bot_env(
            {
                "DISCORD_TOKEN": TOKEN,
                "SLACK_BOT_TOKEN": "xoxb-both-desks-0002",
                "SLACK_SIGNING_SECRET": "both-desks-signing-secret",
                "TALKS_BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'desk.db'}",
            }
        )
        with BotProcess(tmp_path, ["run", "-v", "--config", str(config)], env) as bot:
            [on_discord] = await eventually(
                lambda: fake.calls("POST", DESK_MESSAGES), what="the Discord alert", bot=bot
            )
            [on_slack] = await eventually(
                lambda: slack.calls_to("chat.postMessage"), what="the Slack alert", bot=bot
            )
            assert CAIRO[1] in embed_text(on_discord)
            assert on_slack.params["channel"] == "C-DESK"
            assert CAIRO[1] in on_slack.params["text"]
            # Both stay connected: Discord's gateway and Slack's HTTP endpoint side by side.
            await eventually(lambda: fake.identifies, what="the gateway IDENTIFY", bot=bot)
            await eventually(lambda: listening(port), what="Slack's endpoint", bot=bot)
            assert await bot.terminate(timeout=5) == 0
        assert "connection stopped" not in bot.output(), bot.output()
        assert bot.problems() == [], "a clean run logs no warning or error"
    finally:
        await slack.close()


async def test_poll_once_from_cron_posts_to_discord_over_rest_alone(
    tmp_path: Path, fake: FakeDiscord, feeds: FeedServer
) -> None:
    """``poll-once`` logs in and posts over REST: no gateway session, no command sync."""
    config = write_config(tmp_path, sources(feeds), extra=discord_tables(fake))
    env = bot_env(
        {"DISCORD_TOKEN": TOKEN, "TALKS_BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'desk.db'}"}
    )
    with BotProcess(tmp_path, ["poll-once", "--config", str(config)], env) as once:
        assert await once.finished() == 0, once.output()
    assert once.problems() == [], "a clean run logs no warning or error"
    [alert] = fake.calls("POST", DESK_MESSAGES)
    assert CAIRO[1] in embed_text(alert)
    assert_pings_nobody(alert)
    assert "1 alerts sent" in once.stderr(), once.stderr()
    assert fake.identifies == [], "a one-shot poll opens no gateway session"
    assert fake.calls("PUT", r"/applications/.*") == []
