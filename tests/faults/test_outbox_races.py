"""The outbox under pressure, in process: the courier and the desk writing the same delivery at the
same moment, and a restart finding deliveries that may or may not have gone out.

Each test forces one bad interleaving or one crash leftover deterministically (gates, not sleeps)
and checks what a reader would see: one message per development, edited in place, none lost.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import TalksBot
from bot.config import load_config
from bot.core.desk import FOLD
from bot.core.models import Alert, Delivery, Destination, Digest
from bot.core.ports import DigestRecord
from bot.courier import Courier, digest_id_for
from bot.errors import DeliveryError
from bot.store import SQLStore
from tests.bot_process import write_config
from tests.faults.harness import DEVELOPMENTS, Newsroom
from tests.ingest.servers import FeedServer

NOW = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
DESK = Destination("slack", "C0DESK")


@dataclass
class Channel:
    """A chat platform as the courier sees it, recording what readers would see."""

    platform: str = "slack"
    posts: list[tuple[str, Alert]] = field(default_factory=list)
    edits: list[tuple[str, Alert]] = field(default_factory=list)
    digests: list[Digest] = field(default_factory=list)
    gate: asyncio.Event | None = None
    """When set up, ``send`` waits for it: the post is in flight."""
    sending: asyncio.Event = field(default_factory=asyncio.Event)
    history_error: DeliveryError | None = None

    async def send(self, destination: Destination, alert: Alert) -> str:
        self.sending.set()
        if self.gate is not None:
            await self.gate.wait()
        self.posts.append((f"m{len(self.posts) + 1}", alert))
        return self.posts[-1][0]

    async def update(self, destination: Destination, message_id: str, alert: Alert) -> None:
        self.edits.append((message_id, alert))

    async def send_digest(self, destination: Destination, digest: Digest) -> str:
        self.digests.append(digest)
        return f"g{len(self.digests)}"

    async def find_posted(
        self, destination: Destination, alert: Alert, *, since: datetime | None = None
    ) -> str | None:
        if self.history_error is not None:
            raise self.history_error
        for message_id, posted in self.posts:
            if posted.story_id == alert.story_id:
                return message_id
        for i, digest in enumerate(self.digests, 1):
            if any(a.story_id == alert.story_id for a in digest.alerts):
                return f"g{i}"
        return None


def alert(story_id: str) -> Alert:
    return Alert(
        story_id=story_id,
        title=f"Mediators meet again in Cairo ({story_id})",
        url=f"https://levantwire.example/news/{story_id}",
        summary="Egyptian mediators met the delegations.",
        outlets=("Levant Wire",),
        published=NOW,
        topics=("cairo-delegation",),
        score=0.9,
    )


def pending(story_id: str, *, attempts: int, digest_id: str | None = None) -> Delivery:
    return Delivery(
        story_id=story_id,
        destination=DESK,
        status="pending",
        alert=alert(story_id),
        attempts=attempts,
        digest_id=digest_id,
        created=NOW,
        updated=NOW,
        outlets=1,
        title=alert(story_id).title,
    )


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SQLStore]:
    store = SQLStore(f"sqlite:///{tmp_path / 'outbox.db'}")
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def test_alert_posted_just_before_a_crash_is_recorded_not_posted_again(
    sqlite_store: SQLStore,
) -> None:
    channel = Channel()
    channel.posts.append(("1714.0001", alert("s-posted")))  # it went out; the bot died
    await sqlite_store.save_delivery(pending("s-posted", attempts=1))
    await sqlite_store.save_delivery(pending("s-never", attempts=1))  # died before posting
    courier = Courier(sqlite_store, {"slack": channel}, lambda: NOW)
    report = await courier.run_once()
    assert [a.story_id for _id, a in channel.posts] == ["s-posted", "s-never"]
    assert (report.adopted, report.sent) == (1, 1)
    found = await sqlite_store.get_delivery("s-posted", DESK)
    assert found is not None
    assert (found.status, found.message_id) == ("sent", "1714.0001")
    assert await sqlite_store.due_deliveries(NOW + timedelta(hours=1)) == []


async def test_every_attempt_is_recorded_before_the_post_leaves(sqlite_store: SQLStore) -> None:
    channel = Channel(gate=asyncio.Event())
    await sqlite_store.save_delivery(pending("s-1", attempts=0))
    courier = Courier(sqlite_store, {"slack": channel}, lambda: NOW)
    round_ = asyncio.create_task(courier.run_once())
    await asyncio.wait_for(channel.sending.wait(), 5)
    in_flight = await sqlite_store.get_delivery("s-1", DESK)
    assert in_flight is not None
    assert (in_flight.status, in_flight.attempts) == ("pending", 1)
    assert channel.gate is not None
    channel.gate.set()
    await round_


async def test_when_history_cannot_be_read_the_alert_is_posted_rather_than_lost(
    sqlite_store: SQLStore,
) -> None:
    channel = Channel(history_error=DeliveryError("missing_scope", permanent=True))
    await sqlite_store.save_delivery(pending("s-1", attempts=2))
    report = await Courier(sqlite_store, {"slack": channel}, lambda: NOW).run_once()
    assert report.sent == 1
    assert len(channel.posts) == 1


async def test_outage_while_checking_history_keeps_the_alert_pending(
    sqlite_store: SQLStore,
) -> None:
    channel = Channel(history_error=DeliveryError("Slack is having trouble", retry_after=30))
    await sqlite_store.save_delivery(pending("s-1", attempts=1))
    report = await Courier(sqlite_store, {"slack": channel}, lambda: NOW).run_once()
    assert (report.retrying, channel.posts) == (1, [])
    kept = await sqlite_store.get_delivery("s-1", DESK)
    assert kept is not None
    assert kept.status == "pending"
    assert kept.next_attempt is not None


async def test_digest_cut_short_by_a_crash_is_found_and_the_rest_sent_once(
    sqlite_store: SQLStore,
) -> None:
    channel = Channel()
    earlier = Digest(id="d-old", alerts=(alert("f-1"), alert("f-2")), created=NOW, title="2 more")
    channel.digests.append(earlier)  # posted, then the bot died before recording it
    for story in ("f-1", "f-2"):
        await sqlite_store.save_delivery(pending(story, attempts=1, digest_id=FOLD))
    await sqlite_store.save_delivery(pending("f-3", attempts=0, digest_id=FOLD))
    report = await Courier(sqlite_store, {"slack": channel}, lambda: NOW).run_once(
        flush_digests=True
    )
    assert report.adopted == 2
    assert [[a.story_id for a in d.alerts] for d in channel.digests] == [["f-1", "f-2"], ["f-3"]]
    assert channel.digests[1].id == digest_id_for(DESK, ["f-3"]), "the same folds, the same id"
    for story in ("f-1", "f-2", "f-3"):
        saved = await sqlite_store.get_delivery(story, DESK)
        assert saved is not None
        assert saved.status == "folded"


async def test_digest_sent_and_recorded_before_a_crash_is_not_sent_again(
    sqlite_store: SQLStore,
) -> None:
    """The digest went out and was recorded; the bot died before marking its alerts folded.
    Even where the channel cannot be searched, the record is enough: nothing is sent twice."""
    channel = Channel(history_error=DeliveryError("no history scope", permanent=True))
    stories = ["f-1", "f-2"]
    for story in stories:
        await sqlite_store.save_delivery(pending(story, attempts=1, digest_id=FOLD))
    planned = digest_id_for(DESK, stories)
    sent = Digest(id=planned, alerts=tuple(alert(s) for s in stories), created=NOW, title="2")
    await sqlite_store.save_digest(
        DigestRecord(sent, DESK, status="sent", message_id="1714.0042", attempts=1)
    )
    report = await Courier(sqlite_store, {"slack": channel}, lambda: NOW).run_once(
        flush_digests=True
    )
    assert channel.digests == []
    assert report.adopted == 2
    for story in stories:
        saved = await sqlite_store.get_delivery(story, DESK)
        assert saved is not None
        assert (saved.status, saved.message_id) == ("folded", "1714.0042")


async def test_development_updated_while_its_alert_is_being_posted_is_posted_once_then_edited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The desk reads a pending delivery, the courier posts it, the desk saves its refresh: the
    desk's older copy must not turn the posted alert back into a pending one."""
    with FeedServer() as feeds:
        newsroom = Newsroom(feeds, DEVELOPMENTS[:1])  # d01: Levant first, Nile's echo later
        newsroom.publish(1)
        config = write_config(
            tmp_path,
            {"levant": (feeds.url("/levant.xml"), "Levant Wire"),
             "nile": (feeds.url("/nile.xml"), "Nile Courier")},
            extra='[[routes]]\nplatform = "console"\nchannel = "desk"\n',
        )  # fmt: skip
        monkeypatch.setenv("TALKS_BOT_DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
        channel = Channel(platform="console", gate=asyncio.Event())
        settings = load_config(config, env_file=None)
        async with TalksBot(settings, notifiers={"console": channel}) as bot:
            levant, nile = bot.sources
            await bot.poller.poll(levant)
            posting = asyncio.create_task(bot.courier.run_once())
            await asyncio.wait_for(channel.sending.wait(), 5)
            newsroom.publish(0)  # the second outlet's report of the same development

            real_commit = bot.store.commit_poll

            async def commit_after_the_post(record: object) -> None:
                # The post completes between the desk's decision and its save.
                assert channel.gate is not None
                channel.gate.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(posting), 1.0)
                await real_commit(record)  # type: ignore[arg-type]

            monkeypatch.setattr(bot.store, "commit_poll", commit_after_the_post)
            await bot.poller.poll(nile)
            await posting
            monkeypatch.setattr(bot.store, "commit_poll", real_commit)
            await bot.courier.run_once()
            await bot.courier.run_once()
    assert len(channel.posts) == 1, "the development was posted twice"
    assert len(channel.edits) == 1, "the second outlet should show by editing the alert"
    assert set(channel.edits[0][1].outlets) == {"Levant Wire", "Nile Courier"}
