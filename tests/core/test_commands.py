"""The neutral /talks commands, against a real store."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import load_config
from bot.config import parse_duration as config_duration
from bot.core import messages as say
from bot.core.commands import Commands, parse_duration
from bot.core.desk import Desk
from bot.core.models import SourceHealth
from bot.core.ports import PollRecord
from bot.core.replies import Caller
from bot.errors import UserError
from bot.poller import take
from bot.store import SQLStore
from tests.core.helpers import report

NOW = datetime(2024, 5, 5, 12, 0, tzinfo=UTC)
TOPICS = load_config("config/default.toml", env_file=None).config.topic_models
ANNA = Caller("slack", "T1", "U-ANNA", "C-DESK", user_name="anna")
ADMIN = Caller("slack", "T1", "U-BOSS", "C-DESK", is_admin=True)


def commands(store: SQLStore) -> Commands:
    return Commands(store, TOPICS, lambda: NOW, sources=["wire", "nile"])


async def test_subscribe_is_idempotent_and_says_so(store: SQLStore) -> None:
    talks = commands(store)
    first = await talks.handle(ANNA, "subscribe Hostages")
    assert not first.error
    assert "You now follow Hostages" in first.text
    assert first.ephemeral
    again = await talks.handle(ANNA, "subscribe hostage")  # an alias, other case
    assert "already follow" in again.text
    subs = await talks.handle(ANNA, "subscriptions")
    assert "Hostages" in subs.text
    gone = await talks.handle(ANNA, "unsubscribe hostages")
    assert "no longer follow" in gone.text
    assert "were not following" in (await talks.handle(ANNA, "unsubscribe hostages")).text


async def test_unknown_topic_suggests_the_closest(store: SQLStore) -> None:
    reply = await commands(store).handle(ANNA, "subscribe rafha")
    assert reply.error
    assert reply.suggestions[0] == "rafah"
    assert "rafha" in reply.text
    assert "topics" in reply.text


async def test_unknown_command_points_to_help(store: SQLStore) -> None:
    reply = await commands(store).handle(ANNA, "stauts")
    assert reply.error
    assert "`status`" in reply.text
    assert "help" in reply.text


async def test_hostile_input_is_clipped_and_cleaned_before_it_is_echoed(store: SQLStore) -> None:
    reply = await commands(store).handle(ANNA, "subscribe " + "\u202e<!channel>\x07" + "x" * 900)
    assert reply.error
    assert "\u202e" not in reply.text
    assert "\x07" not in reply.text
    assert len(reply.text) < 300


async def test_channel_subscription_needs_an_admin(store: SQLStore) -> None:
    talks = commands(store)
    refused = await talks.handle(ANNA, "subscribe rafah channel")
    assert refused.error
    assert "admin" in refused.text
    done = await talks.handle(ADMIN, "subscribe rafah channel")
    assert not done.error
    assert not done.ephemeral, "the channel sees its own change"
    listed = await talks.handle(ANNA, "subscriptions channel")
    assert "Rafah" in listed.text


async def test_mode_mention_applies_to_existing_and_new_subscriptions(store: SQLStore) -> None:
    talks = commands(store)
    await talks.handle(ANNA, "subscribe rafah")
    assert "mentions" in (await talks.handle(ANNA, "mode mention")).text
    await talks.handle(ANNA, "subscribe hostages")
    subs = await store.subscriptions_of("slack", "T1", "U-ANNA", False)
    assert {s.mode for s in subs} == {"mention"}
    assert (await talks.handle(ANNA, "mode loud")).error


async def test_mute_and_unmute(store: SQLStore) -> None:
    talks = commands(store)
    muted = await talks.handle(ANNA, "mute 2h")
    assert "muted until" in muted.text
    assert "0.85" in muted.text
    assert [m.subject for m in await store.active_mutes(NOW)] == ["U-ANNA"]
    assert (await talks.handle(ANNA, "mute forever")).error
    assert (await talks.handle(ANNA, "mute 30d")).error
    assert "again" in (await talks.handle(ANNA, "unmute")).text
    assert await store.active_mutes(NOW) == []
    assert (await talks.handle(ANNA, "mute 1h channel")).error


async def seed_story(store: SQLStore) -> str:
    desk = Desk(TOPICS, [])
    outcome = await take(
        desk,
        store,
        [
            report(
                "a1",
                "Hamas delegation leaves Cairo as cease-fire talks stall",
                "The Hamas delegation left Cairo without a truce deal.",
                NOW - timedelta(hours=2),
            ),
            report(
                "r9",
                "Israeli tanks push deeper into Rafah",
                "Tanks advanced in Rafah on Sunday.",
                NOW - timedelta(hours=30),
            ),
        ],
        now_of=lambda r: r.published,
    )
    await store.commit_poll(
        PollRecord(
            SourceHealth("wire", "https://wire.example/feed", last_success=NOW),
            tuple(outcome.stories.values()),
        )
    )
    await store.save_source(
        SourceHealth(
            "nile",
            "https://nile.example/rss",
            last_error="HTTP 503",
            last_error_at=NOW - timedelta(minutes=5),
            failing_since=NOW - timedelta(hours=1),
            consecutive_failures=3,
        )
    )
    return next(s.id for s in outcome.stories.values() if "Cairo" in s.title)


async def test_why_explains_terms_places_and_the_dedup_group(store: SQLStore) -> None:
    story_id = await seed_story(store)
    reply = await commands(store).handle(ANNA, f"why {story_id[:6]}")
    assert not reply.error
    assert "Cairo delegation" in reply.text
    assert "headline" in reply.text
    assert "first report" in reply.text
    assert (await commands(store).handle(ANNA, "why zzzzzz")).error


async def test_status_gives_top_developments_topics_latest_and_source_health(
    store: SQLStore,
) -> None:
    await seed_story(store)
    await commands(store).handle(ANNA, "subscribe hostages")
    reply = await commands(store).handle(ANNA, "status")
    text = reply.text
    assert "Hamas delegation leaves Cairo" in text
    assert "Israeli tanks push deeper into Rafah" not in text.split("Topics:")[0], "outside 24h"
    assert "Cairo delegation: 1" in text
    assert "Latest development: 2h ago" in text
    assert "Sources: 1 of 2 healthy" in text
    assert "nile failing for 1h" in text
    assert "HTTP 503" in text
    assert "You follow: hostages" in text
    kinds = {s.kind for s in reply.sections}
    assert {"stories", "topics", "sources"} <= kinds
    wider = await commands(store).handle(ANNA, "status 2d")
    assert "Israeli tanks push deeper into Rafah" in wider.text
    assert (await commands(store).handle(ANNA, "status yesterday")).error


async def test_topics_help_and_slow_commands(store: SQLStore) -> None:
    talks = commands(store)
    topics = await talks.handle(ANNA, "topics")
    assert all(t.id in topics.text for t in TOPICS)
    assert "subscribe TOPIC" in (await talks.handle(ANNA, "help")).text
    assert talks.is_slow("status 6h")
    assert not talks.is_slow("subscribe rafah")
    assert talks.complete_topic("host")[0][0] == "hostages"
    assert talks.complete_topic("")[:1] == [(TOPICS[0].id, TOPICS[0].name)]


@pytest.mark.parametrize(
    ("written", "period"),
    [("90s", timedelta(seconds=90)), ("45m", timedelta(minutes=45)),
     ("1.5h", timedelta(minutes=90)), ("2d", timedelta(days=2))],
)  # fmt: skip
async def test_commands_read_durations_as_the_config_does(
    store: SQLStore, written: str, period: timedelta
) -> None:
    """One grammar: what ``poll_interval = "90s"`` accepts, ``status 90s`` accepts too."""
    assert parse_duration(written) == period == config_duration(written)
    assert not (await commands(store).handle(ANNA, f"status {written}")).error
    assert not (await commands(store).handle(ANNA, f"mute {written}")).error


async def test_a_duration_in_chat_needs_its_unit_and_says_the_limit(store: SQLStore) -> None:
    talks = commands(store)
    bare = await talks.handle(ANNA, "mute 30")
    assert bare.error
    assert "`30m`" in bare.text
    assert "at most 7d" in bare.text
    too_long = await talks.handle(ANNA, "status 40d")
    assert too_long.error
    assert "at most 30d" in too_long.text


# --- the one entry point: every failure becomes a reply ------------------------------------


async def test_bad_input_is_raised_as_a_user_error_and_answered_in_one_line(
    store: SQLStore,
) -> None:
    """The handlers raise ``UserError``; ``handle`` turns it into the reply, suggestions kept."""
    talks = commands(store)
    with pytest.raises(UserError) as raised:
        await talks._run(ANNA, "subscribe rafha", NOW)
    reply = await talks.handle(ANNA, "subscribe rafha")
    assert reply.error
    assert reply.ephemeral
    assert reply.text == str(raised.value)
    assert "\n" not in reply.text
    assert reply.suggestions == raised.value.suggestions
    assert reply.suggestions[0] == "rafah"


async def test_a_store_outage_is_answered_with_try_again_and_a_warning(
    store: SQLStore, caplog: pytest.LogCaptureFixture
) -> None:
    talks = commands(store)
    await store.close()
    with caplog.at_level(logging.WARNING, logger="bot.core.commands"):
        reply = await talks.handle(ANNA, "subscribe hostages")
    assert reply.error
    assert reply.ephemeral
    assert reply.text == say.store_unavailable()
    [logged] = [r for r in caplog.records if r.name == "bot.core.commands"]
    assert logged.levelno == logging.WARNING
    assert "/talks subscribe hostages for slack user U-ANNA" in logged.getMessage()
    assert "the store is not open" in logged.getMessage()
    assert logged.exc_info is None, "an outage is one line, not a traceback"
    await store.open()  # the fixture checks the pool when the test ends


async def test_an_unexpected_error_is_logged_with_its_traceback_and_answered_politely(
    store: SQLStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object) -> None:
        raise KeyError("mode")

    monkeypatch.setattr(store, "get_meta", broken)
    with caplog.at_level(logging.ERROR, logger="bot.core.commands"):
        reply = await commands(store).handle(ANNA, "subscribe hostages")
    assert reply.error
    assert reply.text == say.command_failed()
    assert "KeyError" not in reply.text
    [logged] = [r for r in caplog.records if r.name == "bot.core.commands"]
    assert logged.getMessage() == "/talks subscribe hostages failed for slack user U-ANNA; " + (
        "they got an apology"
    )
    assert "KeyError: 'mode'" in (logged.exc_text or "")


async def test_cancellation_is_not_turned_into_a_reply(
    store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command cancelled (the platform gave up) stops; it is no failure to apologise for."""

    async def cancelled(*args: object) -> None:
        raise asyncio.CancelledError

    monkeypatch.setattr(store, "subscriptions_of", cancelled)
    with pytest.raises(asyncio.CancelledError):
        await commands(store).handle(ANNA, "subscriptions")


async def test_the_status_view_gives_the_briefing_stories_not_text(store: SQLStore) -> None:
    cairo = await seed_story(store)
    view = await commands(store).status_view(NOW, timedelta(hours=24))
    assert [s.id for s in view.top] == [cairo]
    assert view.top[0].reports, "the stories themselves, with their reports"
    assert view.alerting[cairo]
    assert (view.sources, view.healthy, [h.name for h in view.failing]) == (2, 1, ["nile"])
    assert view.subscriptions is None  # no chat caller: nobody to list topics for
    empty = await commands(store).status_view(NOW + timedelta(days=30), timedelta(hours=1))
    assert empty.top == ()
    assert empty.latest is not None
    assert empty.latest.id == cairo
