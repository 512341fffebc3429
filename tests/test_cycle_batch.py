"""A live cycle (``poll-once``) over real HTTP: the polls that bring nothing new are saved
together at the end of the cycle, the ones with news alert as before, and a failed batched save
costs nothing but a fuller fetch next time."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import TalksBot
from bot.config import Settings
from bot.core.models import SourceHealth
from bot.errors import StoreError
from tests.bot_process import rss
from tests.ingest.servers import FeedServer
from tests.test_adaptive_polling import settings_for as adaptive_settings

ROOT = Path(__file__).resolve().parents[1]
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
STORIES = (
    ("Aid convoy of forty trucks enters Rafah after a two-day wait", "Trucks crossed at dawn."),
    ("Hamas delegation lands in Cairo for a new round of talks", "Egyptian mediators host it."),
    ("Hostage families march to the Knesset demanding a deal", "Thousands joined in Jerusalem."),
    ("Egypt reopens the Rafah crossing for wounded patients", "Ambulances lined up at the gate."),
    ("Qatar delivers a revised truce proposal to Hamas leaders", "Doha gave both sides a week."),
    (
        "Red Cross visits three released hostages in a Tel Aviv hospital",
        "Doctors call them stable.",
    ),
    ("Israeli negotiators leave Cairo without agreement on a ceasefire", "Talks resume next week."),
    (
        "Shelling near Tal al-Sultan forces families out of Rafah schools",
        "Hundreds left overnight.",
    ),
    ("Hostage swap talks stall over the number of Palestinian prisoners", "Officials blame both."),
    ("Egyptian intelligence chief hosts Israeli delegation in Cairo", "Abbas Kamel chaired it."),
    ("Philadelphi corridor dispute blocks the ceasefire draft", "Israel wants troops to stay."),
    ("Bring Them Home rally fills Hostages Square in Tel Aviv", "Families read the names aloud."),
)
"""Distinct developments: desk d's item n is story 3d + n, so each is a story of its own."""


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def desk_items(desk: int, count: int) -> list[tuple]:  # type: ignore[type-arg]
    """The first ``count`` items of one desk, newest first."""
    out = []
    for n in range(count):
        title, lead = STORIES[3 * desk + n]
        when = START - timedelta(minutes=30) + timedelta(minutes=n)
        out.append((f"d{desk}-{n}", title, f"{lead} Desk {desk} filed note {n}.", when))
    return out[::-1]


def settings_for(tmp_path: Path, urls: Sequence[str]) -> Settings:
    """Sources desk0, desk1, ... on ``urls``, with the shipped topics."""
    return adaptive_settings(tmp_path, {f"desk{n}": url for n, url in enumerate(urls)}, "")


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test on SQLite and on PostgreSQL."""
    monkeypatch.setenv("TALKS_BOT_DATABASE_URL", database_url)


def serve(server: FeedServer, desk: int, count: int) -> str:
    route = server.serve(f"/desk{desk}.xml", rss(f"Desk {desk}", desk_items(desk, count)))
    assert route.etag is not None
    return route.etag


async def test_a_cycle_of_304s_saves_every_sources_next_poll_and_validators(
    tmp_path: Path, server: FeedServer
) -> None:
    etags = [serve(server, desk, 3) for desk in range(4)]
    clock = Clock()
    settings = settings_for(tmp_path, [server.url(f"/desk{d}.xml") for d in range(4)])
    async with TalksBot(settings, clock=clock, out=io.StringIO()) as bot:
        await bot.poller.cycle(bot.sources)
        clock.now = START + timedelta(minutes=7)
        cycle = await bot.poller.cycle(bot.sources)
        stored = {h.name: h for h in await bot.store.list_sources()}
        clock.now = START + timedelta(minutes=14)
        third = await bot.poller.cycle(bot.sources)

    assert all(p.ok and p.not_modified and not p.unsaved for p in cycle.polls)
    for n, poll in enumerate(cycle.polls):
        health = stored[f"desk{n}"]
        assert health.last_polled == START + timedelta(minutes=7)
        assert health.next_poll_after == poll.next_poll
        assert poll.next_poll is not None
        assert poll.next_poll > clock.now - timedelta(minutes=7)
        assert health.etag == etags[n]
    # The third cycle still asks conditionally, with the validators the 304 cycle saved.
    assert all(p.not_modified for p in third.polls)
    assert all(server.conditional_count(f"/desk{d}.xml") == 2 for d in range(4))


async def test_a_cycle_with_new_items_alerts_each_once(tmp_path: Path, server: FeedServer) -> None:
    for desk in range(4):
        serve(server, desk, 2)
    clock = Clock()
    settings = settings_for(tmp_path, [server.url(f"/desk{d}.xml") for d in range(4)])
    async with TalksBot(settings, clock=clock, out=io.StringIO()) as bot:
        await bot.poller.cycle(bot.sources)
        # Desks 0 and 1 publish one new item each; 2 changes its ETag only; 3 is unchanged.
        serve(server, 0, 3)
        serve(server, 1, 3)
        server.serve("/desk2.xml", rss("Desk 2", desk_items(2, 2)), etag='"reissued"')
        clock.now = START + timedelta(minutes=5)
        busy = await bot.poller.cycle(bot.sources)
        clock.now = START + timedelta(minutes=10)
        calm = await bot.poller.cycle(bot.sources)
        desk2 = await bot.store.get_source("desk2")

    by_source = {p.source: p for p in busy.polls}
    assert [by_source[f"desk{d}"].new_reports for d in range(4)] == [1, 1, 0, 0]
    assert by_source["desk0"].alerts == 1
    assert by_source["desk1"].alerts == 1
    assert by_source["desk2"].alerts == 0
    assert by_source["desk3"].not_modified
    assert sum(p.alerts + p.updates for p in calm.polls) == 0
    assert all(p.not_modified for p in calm.polls)
    assert desk2 is not None
    assert desk2.etag == '"reissued"'


async def test_a_failed_batched_save_loses_nothing(
    tmp_path: Path, server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    for desk in range(3):
        serve(server, desk, 2)
    clock = Clock()
    settings = settings_for(tmp_path, [server.url(f"/desk{d}.xml") for d in range(3)])
    async with TalksBot(settings, clock=clock, out=io.StringIO()) as bot:
        await bot.poller.cycle(bot.sources)
        before = {h.name: h for h in await bot.store.list_sources()}

        real = bot.store.save_sources

        async def refused(healths: Sequence[SourceHealth]) -> None:
            raise StoreError("disk full")

        # Desk 0 publishes (its decision commits with its health, as always); 1 re-issues the
        # same items under a new ETag; 2 is unchanged: both are left to the batched save.
        serve(server, 0, 3)
        server.serve("/desk1.xml", rss("Desk 1", desk_items(1, 2)), etag='"reissued"')
        bot.store.save_sources = refused  # type: ignore[method-assign]
        clock.now = START + timedelta(minutes=5)
        with caplog.at_level(logging.ERROR, logger="talks_bot"):
            failed = await bot.poller.cycle(bot.sources)
        bot.store.save_sources = real  # type: ignore[method-assign]
        unsaved = {h.name: h for h in await bot.store.list_sources()}

        # Then desks 1 and 2 publish: the next cycle reads them whole and alerts.
        serve(server, 1, 3)
        serve(server, 2, 3)
        clock.now = START + timedelta(minutes=10)
        after = await bot.poller.cycle(bot.sources)
        saved = {h.name: h for h in await bot.store.list_sources()}

    polls = {p.source: p for p in failed.polls}
    assert polls["desk0"].alerts == 1
    assert not polls["desk0"].unsaved
    assert polls["desk1"].unsaved
    assert polls["desk2"].unsaved
    lines = [r.getMessage() for r in caplog.records if "not saved" in r.getMessage()]
    assert len(lines) == 1
    assert "2 sources" in lines[0]
    assert "disk full" in lines[0]
    # Nothing of the failed save reached the store; desk 0's own commit did.
    assert unsaved["desk1"] == before["desk1"]
    assert unsaved["desk2"] == before["desk2"]
    assert unsaved["desk0"].last_polled == START + timedelta(minutes=5)

    again = {p.source: p for p in after.polls}
    assert again["desk0"].not_modified
    assert again["desk0"].alerts == 0
    assert [again[f"desk{d}"].new_reports for d in (1, 2)] == [1, 1]
    assert [again[f"desk{d}"].alerts for d in (1, 2)] == [1, 1]
    assert all(not p.unsaved for p in after.polls)
    assert all(saved[f"desk{d}"].last_polled == clock.now for d in range(3))


async def test_a_single_poll_saves_its_own_health(tmp_path: Path, server: FeedServer) -> None:
    """The live scheduler's per-source poll: nothing is left for a cycle to save."""
    serve(server, 0, 2)
    clock = Clock()
    settings = settings_for(tmp_path, [server.url("/desk0.xml")])
    async with TalksBot(settings, clock=clock, out=io.StringIO()) as bot:
        [source] = bot.sources
        await bot.poller.poll(source)
        clock.now = START + timedelta(minutes=3)
        summary = await bot.poller.poll(source)
        health = await bot.store.get_source("desk0")
    assert summary.not_modified
    assert health is not None
    assert health.last_polled == START + timedelta(minutes=3)
    assert health.next_poll_after == summary.next_poll
