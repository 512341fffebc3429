"""The composition root: scheduled briefings built from the same data as status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import TalksBot
from bot.chat.slack.app import slack_client
from bot.chat.slack.notifier import SlackNotifier
from bot.config import load_config
from bot.core.models import SourceHealth
from bot.core.ports import PollRecord
from bot.poller import take
from tests.bot_process import write_config
from tests.chat.slack.fake_slack import FakeSlack
from tests.core.helpers import RecordingPlatform, report
from tests.ingest.servers import FeedServer

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2024, 5, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TALKS_BOT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    path = tmp_path / "config.toml"
    path.write_text(
        f'topics_from = "{ROOT / "config" / "default.toml"}"\n'
        '[[routes]]\nplatform = "console"\nchannel = "desk"\ndigest = "0 7,19 * * *"\n',
        encoding="utf-8",
    )
    return load_config(path, env_file=None)


async def _store_developments(bot: TalksBot) -> None:
    outcome = await take(
        bot.poller.desk,
        bot.store,
        [
            report(
                "a1",
                "Hamas delegation leaves Cairo as cease-fire talks stall",
                "The Hamas delegation left Cairo without a truce deal.",
                NOW - timedelta(hours=3),
            ),
            report(
                "b1",
                "Egypt reopens Rafah crossing for aid convoys",
                "Egyptian officials reopened the Rafah crossing on Sunday.",
                NOW - timedelta(hours=2),
            ),
            report(
                "c1",
                "Heatwave grips the Nile delta",
                "Temperatures rose to 44C.",
                NOW - timedelta(hours=1),
            ),
        ],
        now_of=lambda r: r.published,
    )
    await bot.store.commit_poll(
        PollRecord(SourceHealth("wire", "x"), tuple(outcome.stories.values()))
    )


async def test_briefing_lists_the_top_developments_of_the_period(settings) -> None:  # type: ignore[no-untyped-def]
    platform = RecordingPlatform()
    async with TalksBot(settings, clock=lambda: NOW, notifiers={"console": platform}) as bot:
        await _store_developments(bot)
        [route] = bot.routes
        assert route.digest_cron == "0 7,19 * * *"
        await bot.send_briefing(route)
    [(destination, digest)] = platform.digests
    assert destination.channel == "desk"
    titles = [a.title for a in digest.alerts]
    assert len(titles) == 2
    assert "Heatwave grips the Nile delta" not in titles
    assert digest.title.startswith("Briefing")


@pytest.mark.parametrize("cron", ["every morning", "99 * * * *"])
def test_a_bad_cron_expression_is_a_config_error(tmp_path: Path, cron: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'[[routes]]\ndigest = "{cron}"\n', encoding="utf-8")
    from bot.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        load_config(path, env_file=None)
    assert any(p.startswith("routes[0].digest:") for p in caught.value.problems)


async def test_a_rate_limited_briefing_is_sent_after_the_wait(  # type: ignore[no-untyped-def]
    settings, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack answers the briefing's post with 429 Retry-After 1: the desk still gets it, once."""
    notifier = SlackNotifier(slack_client("xoxb-test", api_base_url=fake_slack.base_url))
    fake_slack.rate_limit("chat.postMessage", retry_after=1)
    async with TalksBot(settings, clock=lambda: NOW, notifiers={"console": notifier}) as bot:
        await _store_developments(bot)
        [route] = bot.routes
        await bot.send_briefing(route)
    posts = fake_slack.calls_to("chat.postMessage")
    assert len(posts) == 2
    assert len(fake_slack.history["desk"]) == 1
    assert "Briefing" in str(fake_slack.history["desk"][0].get("text", ""))
    assert "rate limited: sending it again in 1s" in caplog.text


async def test_a_briefing_slack_may_have_posted_is_not_sent_twice(  # type: ignore[no-untyped-def]
    settings, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """A 500 may come after Slack posted: the briefing is not resent, and the log says so."""
    notifier = SlackNotifier(slack_client("xoxb-test", api_base_url=fake_slack.base_url))
    fake_slack.server_error("chat.postMessage")
    async with TalksBot(settings, clock=lambda: NOW, notifiers={"console": notifier}) as bot:
        await _store_developments(bot)
        [route] = bot.routes
        await bot.send_briefing(route)
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert "briefing to console:channel:desk failed" in caplog.text


async def test_a_feeds_standing_quirk_is_logged_once_not_every_poll(  # type: ignore[no-untyped-def]
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A feed that declares an encoding nobody knows is still read; the desk hears of it once."""
    body = (
        b'<?xml version="1.0" encoding="x-newsroom-7"?><rss version="2.0"><channel>'
        b"<title>Quirky Wire</title><item><guid>q1</guid><title>Truce talks resume in Doha"
        b"</title><link>https://quirky.example/q1</link></item></channel></rss>"
    )
    with FeedServer() as feeds:
        feeds.serve("/quirky.xml", body, "application/rss+xml")
        config = write_config(tmp_path, {"quirky": (feeds.url("/quirky.xml"), "Quirky Wire")})
        monkeypatch.setenv("TALKS_BOT_DATABASE_URL", f"sqlite:///{tmp_path / 'q.db'}")
        async with TalksBot(load_config(config, env_file=None)) as bot:
            first = await bot.poll_once()
            await bot.poll_once()
    assert first.polls[0].items == 1
    quirks = [r.getMessage() for r in caplog.records if "x-newsroom-7" in r.getMessage()]
    assert len(quirks) == 1
    assert quirks[0].startswith("source quirky: unknown encoding")
