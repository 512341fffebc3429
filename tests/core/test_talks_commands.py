"""``status`` opens with the talks card; ``since`` and ``why phase``, against a real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import load_config
from bot.core.commands import Commands
from bot.core.desk import Desk
from bot.core.models import SourceHealth
from bot.core.ports import PollRecord
from bot.core.replies import Caller
from bot.poller import take
from bot.store import SQLStore
from tests.core.helpers import report

NOW = datetime(2024, 5, 5, 12, 0, tzinfo=UTC)
TOPICS = load_config("config/default.toml", env_file=None).config.topic_models
EDITOR = Caller("slack", "T1", "U-EDITOR", "C-DESK")

REPORTS = [
    # (key, source, headline, lead, hours before NOW)
    ("a1", "wire", "Hamas delegation arrives in Cairo for cease-fire talks",
     "Egyptian mediators received the delegation for truce talks.", 30),
    ("a2", "nile", "Hamas negotiators land in Cairo as Egypt and Qatar mediate truce talks",
     "The negotiators came for a new round of cease-fire talks.", 29),
    ("b1", "wire", "Hamas delegation leaves Cairo without a truce deal",
     "The delegation left after two days of cease-fire talks.", 4),
    ("b2", "nile", "Cease-fire talks in Cairo end without agreement, Egyptian officials say",
     "Officials said the truce talks would resume next week.", 2),
    ("c1", "wire", "Israeli tanks push deeper into Rafah",
     "Tanks advanced into the east of Rafah on Sunday.", 1),
]  # fmt: skip
"""Dedup folds the delegation's arrival and departure into one story (their headlines share
nearly every word); the card still reads both steps, from the story's reports."""


async def seed(store: SQLStore) -> None:
    desk = Desk(TOPICS, [])
    outcome = await take(
        desk,
        store,
        [
            report(key, title, lead, NOW - timedelta(hours=hours), source=source)
            for key, source, title, lead, hours in REPORTS
        ],
        now_of=lambda r: r.published,
    )
    await store.commit_poll(
        PollRecord(
            SourceHealth("wire", "https://wire.example/feed", last_success=NOW),
            tuple(outcome.stories.values()),
        )
    )


def commands(store: SQLStore, tz: str = "UTC") -> Commands:
    return Commands(store, TOPICS, lambda: NOW, sources=["wire", "nile"], tz=ZoneInfo(tz))


async def test_status_opens_with_where_the_talks_stand(store: SQLStore) -> None:
    await seed(store)
    reply = await commands(store).handle(EDITOR, "status")
    lines = reply.text.splitlines()
    assert lines[:2] == ["Talks status — last 24h", "Where the talks stand"]
    assert lines[2].startswith("Phase: talks stalled in Cairo, no deal (since 08:00 UTC)")
    assert lines[3] == "Venue: Cairo · mediators: Egypt, Qatar"
    assert lines[4].startswith("Last confirmed step: ")
    assert "Open question: when the delegations return" in reply.text
    card_end = reply.text.index("Top developments:")
    assert reply.text.index("Where the talks stand") < card_end, "the card is its own block on top"
    assert reply.sections[0].title == "Where the talks stand"


async def test_since_lists_what_changed_newest_first_with_the_event(store: SQLStore) -> None:
    await seed(store)
    reply = await commands(store).handle(EDITOR, "since 6h")
    assert not reply.error
    lines = reply.text.splitlines()
    assert lines[0] == "Since 06:00 UTC: 2 developments, newest first"
    assert (
        lines[1] == "• 11:00 UTC · Israeli tanks push deeper into Rafah — Wire · military operation"
    )
    # The Cairo story began 30h ago: what changed is its newest report, the departure.
    assert lines[2].startswith("• 10:00 UTC · Cease-fire talks in Cairo end without agreement")
    assert lines[2].endswith("— Wire, Nile · delegation leaving")
    assert "arrives in Cairo" not in reply.text
    assert len(lines) == 3
    quiet = await commands(store).handle(EDITOR, "status since 30m")
    assert quiet.text == "Nothing new on the watched topics since 11:30 UTC."


async def test_a_time_of_day_is_read_in_the_desks_timezone(store: SQLStore) -> None:
    await seed(store)
    # 12:00 UTC is 15:00 in Jerusalem (summer time): 11:00 there is 08:00 UTC.
    reply = await commands(store, "Asia/Jerusalem").handle(EDITOR, "status since 11:00")
    lines = reply.text.splitlines()
    assert lines[0] == "Since 11:00 IDT: 2 developments, newest first"
    assert lines[1].startswith("• 14:00 IDT · Israeli tanks")
    # Asked at 12:00 UTC, "since 13:00" UTC is yesterday's 13:00: a whole day back.
    yesterday = await commands(store).handle(EDITOR, "since 13:00")
    assert yesterday.text.splitlines()[0] == "Since 13:00 UTC 04 May: 2 developments, newest first"


@pytest.mark.parametrize("value", ["", "yesterday", "25:00", "40d", "-2h", "9", "12:61"])
async def test_since_without_a_span_or_time_says_what_to_write(store: SQLStore, value: str) -> None:
    reply = await commands(store).handle(EDITOR, f"since {value}")
    assert reply.error
    assert "since needs a duration like 6h or a time like 09:00 (at most 30d back)" in reply.text
    assert "\n" not in reply.text


async def test_why_phase_names_the_rules_and_the_developments_behind_them(
    store: SQLStore,
) -> None:
    await seed(store)
    reply = await commands(store).handle(EDITOR, "why phase")
    assert not reply.error
    lines = reply.text.splitlines()
    assert lines[0] == "Why “talks stalled in Cairo, no deal”"
    fired = [x for x in lines if "→" in x]
    assert "talks convened → talks under way" in fired[0]
    assert "Hamas delegation arrives in Cairo" in fired[0] or "Hamas negotiators" in fired[0]
    assert "delegation left → talks paused" in fired[-1]
    assert (await commands(store).handle(EDITOR, "why talks")).text == reply.text


async def test_help_and_an_empty_store(store: SQLStore) -> None:
    talks = commands(store)
    assert "since 6h | since 09:00" in (await talks.handle(EDITOR, "help")).text
    assert talks.is_slow("since 6h")
    empty = await talks.handle(EDITOR, "status")
    assert "No confirmed negotiation step in the last 10 days." in empty.text
    nothing = await talks.handle(EDITOR, "since 2h")
    assert nothing.text == "Nothing new on the watched topics since 10:00 UTC."
