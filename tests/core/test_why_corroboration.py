"""``/talks why`` says which reports were counted as copies, of whom and why, from the store
(SQLite and PostgreSQL): a wire credit read when the report arrived survives the round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
T0 = NOW - timedelta(hours=2)
TOPICS = load_config("config/default.toml", env_file=None).config.topic_models
ANNA = Caller("slack", "T1", "U-ANNA", "C-DESK", user_name="anna")

HEADLINE = "Hamas delegation leaves Cairo as cease-fire talks stall"
WIRE_LEAD = "CAIRO (AP) — The Hamas delegation left Cairo on Sunday without a truce agreement."
PATH = "/world/2024/05/05/hamas-delegation-leaves-cairo-talks-stall"


async def seed(store: SQLStore) -> str:
    reports = [
        report("ap-1", HEADLINE, WIRE_LEAD, T0, source="ap", outlet="AP News"),
        report("abc-1", HEADLINE, "", T0 + timedelta(minutes=3), source="abc", outlet="ABC News"),
        report(
            "pbs-1",
            "Cairo talks stall as Hamas delegation heads home",
            WIRE_LEAD,
            T0 + timedelta(minutes=5),
            source="pbs",
            outlet="PBS NewsHour",
        ),
        report(
            "rt-1",
            "Hamas team walks out of Cairo as ceasefire talks stall",
            "Hamas negotiators left Cairo on Sunday.",
            T0 + timedelta(minutes=8),
            source="levant",
            outlet="Levant Wire",
            url=f"https://levantwire.example{PATH}",
        ),
        report(
            "yh-1",
            "Hamas team exits Cairo, ceasefire talks stalled",
            "Hamas negotiators left Cairo on Sunday.",
            T0 + timedelta(minutes=9),
            source="yahoo",
            outlet="Yahoo",
            url=f"https://news.yahoo.example{PATH}",
        ),
    ]
    outcome = await take(Desk(TOPICS, []), store, reports, now_of=lambda r: r.published)
    await store.commit_poll(
        PollRecord(
            SourceHealth("ap", "https://ap.example/feed", last_success=NOW),
            tuple(outcome.stories.values()),
        )
    )
    (story,) = {s.id: s for s in outcome.stories.values()}.values()
    assert len(story.reports) == 5, "the five reports must make one story for this test"
    return story.id


async def test_why_lists_copies_by_origin_and_reason(store: SQLStore) -> None:
    story_id = await seed(store)
    reply = await Commands(store, TOPICS, lambda: NOW).handle(ANNA, f"why {story_id}")
    assert not reply.error
    lines = reply.text.splitlines()
    assert (
        "Confirmed by 2 independent outlets: AP News, Levant Wire; 3 report(s) counted as copies:"
        in lines
    )
    assert "  ABC News: same headline as AP News" in lines
    assert "  PBS NewsHour: credits AP News" in lines
    assert "  Yahoo: same URL path as Levant Wire" in lines
    (section,) = [s for s in reply.sections if s.title == "Corroboration"]
    assert [i.fields.get("copy_of") for i in section.items[1:]] == [
        "AP News",
        "AP News",
        "Levant Wire",
    ]


async def test_why_of_a_story_in_its_own_words_has_no_copies(store: SQLStore) -> None:
    reports = [
        report("a1", HEADLINE, "The Hamas delegation left Cairo without a truce deal.", T0),
    ]
    outcome = await take(Desk(TOPICS, []), store, reports, now_of=lambda r: r.published)
    await store.commit_poll(
        PollRecord(
            SourceHealth("wire", "https://wire.example/feed"), tuple(outcome.stories.values())
        )
    )
    (story_id,) = outcome.stories
    reply = await Commands(store, TOPICS, lambda: NOW).handle(ANNA, f"why {story_id}")
    assert "Single source: Wire; no report was counted as a copy." in reply.text.splitlines()
