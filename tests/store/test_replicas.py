"""What several replicas on one database coordinate through (issue 17): poll leases on sources,
send leases on deliveries, named leader leases and the stories' change numbers. Each behaviour
runs on SQLite and PostgreSQL; the races run on PostgreSQL with independent stores."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from bot.core.models import DeliveryStatus, SourceHealth
from bot.core.ports import PollRecord
from bot.store import SQLStore
from bot.store.migrations import MIGRATIONS
from bot.store.schema import deliveries
from tests.store.samples import DESK, DISCORD, T0, at, delivery, report, source, story

LEASE = timedelta(minutes=2)


def names(found: list[SourceHealth]) -> list[str]:
    return [s.name for s in found]


# leased polling --------------------------------------------------------------------------------


async def test_only_due_sources_are_claimed_never_polled_first(store: SQLStore) -> None:
    await store.save_sources(
        [
            source("later", next_poll_after=at(1)),
            source("overdue", next_poll_after=at(-5)),
            source("just-due", next_poll_after=at(0)),
            source("new"),
        ]
    )
    claimed = await store.claim_due_sources("replica-a", at(0), LEASE, 10)
    assert names(claimed) == ["new", "overdue", "just-due"]
    # a minute later: the others are still held, "later" has come due
    assert names(await store.claim_due_sources("replica-a", at(1), LEASE, 10)) == ["later"]


async def test_a_claimed_source_comes_back_whole(store: SQLStore) -> None:
    health = source(
        "wire",
        etag='"v7"',
        last_polled=at(-10),
        consecutive_failures=2,
        next_poll_after=at(-1),
        items_seen=41,
        pace_gaps=3,
        pace_log_mean=6.5,
    )
    await store.save_source(health)
    assert await store.claim_due_sources("replica-a", at(0), LEASE, 10) == [health]
    assert await store.get_source("wire") == health


async def test_a_held_source_is_claimed_by_nobody_until_its_lease_runs_out(
    store: SQLStore,
) -> None:
    await store.save_source(source("wire"))
    assert names(await store.claim_due_sources("replica-a", at(0), LEASE, 10)) == ["wire"]
    assert await store.claim_due_sources("replica-b", at(1), LEASE, 10) == []
    assert await store.claim_due_sources("replica-a", at(1), LEASE, 10) == []  # not twice
    # replica-a died holding it: once the lease has run out another replica polls it
    assert names(await store.claim_due_sources("replica-b", at(2), LEASE, 10)) == ["wire"]
    assert await store.claim_due_sources("replica-a", at(3), LEASE, 10) == []


async def test_saving_the_poll_with_the_holder_gives_the_lease_back(store: SQLStore) -> None:
    await store.save_sources([source("wire"), source("nile")])
    await store.claim_due_sources("replica-a", at(0), LEASE, 10)

    # a save that names no holder, or another holder, leaves the lease where it is
    await store.save_source(source("wire", last_polled=at(0)))
    await store.save_source(source("nile", last_polled=at(0)), holder="replica-b")
    assert await store.claim_due_sources("replica-b", at(1), LEASE, 10) == []

    await store.save_sources(
        [source("wire", last_polled=at(1)), source("nile", last_polled=at(1))], holder="replica-a"
    )
    claimed = await store.claim_due_sources("replica-b", at(1), LEASE, 10)
    assert names(claimed) == ["nile", "wire"]
    assert [s.last_polled for s in claimed] == [at(1), at(1)]


async def test_a_poll_result_saved_after_the_lease_moved_on_keeps_the_new_holders_lease(
    store: SQLStore,
) -> None:
    await store.save_source(source("wire"))
    await store.claim_due_sources("replica-a", at(0), LEASE, 10)
    await store.claim_due_sources("replica-b", at(3), LEASE, 10)  # replica-a was too slow
    await store.save_source(source("wire", last_polled=at(3)), holder="replica-a")
    assert await store.claim_due_sources("replica-c", at(4), LEASE, 10) == []


async def test_committing_a_poll_releases_the_leases_on_every_source_it_covers(
    store: SQLStore,
) -> None:
    await store.save_sources([source("wire"), source("nile"), source("levant")])
    await store.claim_due_sources("replica-a", at(0), LEASE, 10)
    s = story("s-cairo", report("w-1", "Cairo talks resume", source="wire"))
    await store.commit_poll(
        PollRecord(
            source("wire", next_poll_after=at(1)),
            (s,),
            others=(source("nile", next_poll_after=at(1)),),
            lease_holder="replica-a",
        )
    )
    assert names(await store.claim_due_sources("replica-b", at(1), LEASE, 10)) == ["nile", "wire"]


async def test_released_sources_can_be_claimed_at_once(store: SQLStore) -> None:
    await store.save_sources([source("wire"), source("nile")])
    await store.claim_due_sources("replica-a", at(0), LEASE, 10)
    await store.release_sources("replica-b", ["wire", "nile"])  # not its leases: nothing
    await store.release_sources("replica-a", ["wire"])
    assert names(await store.claim_due_sources("replica-b", at(0), LEASE, 10)) == ["wire"]


async def test_a_claim_takes_at_most_its_limit(store: SQLStore) -> None:
    await store.save_sources([source(f"feed-{i}") for i in range(5)])
    sizes = [len(await store.claim_due_sources("replica-a", at(0), LEASE, 2)) for _ in range(4)]
    assert sizes == [2, 2, 1, 0]
    assert await store.claim_due_sources("replica-a", at(0), LEASE, 0) == []


# leader leases --------------------------------------------------------------------------------


async def test_a_leader_lease_is_taken_renewed_refused_expired_and_dropped(
    store: SQLStore,
) -> None:
    ttl = timedelta(seconds=30)
    gateway = "discord-gateway"
    assert await store.lease_holder(gateway, T0) is None
    assert await store.take_lease(gateway, "replica-a", T0, ttl)
    assert await store.lease_holder(gateway, T0) == "replica-a"
    assert not await store.take_lease(gateway, "replica-b", T0 + timedelta(seconds=10), ttl)
    # renewed at 20 s: still replica-a's at 40 s, past the first lease's end
    assert await store.take_lease(gateway, "replica-a", T0 + timedelta(seconds=20), ttl)
    assert not await store.take_lease(gateway, "replica-b", T0 + timedelta(seconds=40), ttl)
    # not renewed: at 50 s it has run out and replica-b takes it over
    assert await store.lease_holder(gateway, T0 + timedelta(seconds=50)) is None
    assert await store.take_lease(gateway, "replica-b", T0 + timedelta(seconds=50), ttl)
    assert await store.lease_holder(gateway, T0 + timedelta(seconds=51)) == "replica-b"
    # only the holder can drop it; then anyone may take it at once
    assert not await store.drop_lease(gateway, "replica-a")
    assert await store.drop_lease(gateway, "replica-b")
    assert await store.take_lease(gateway, "replica-a", T0 + timedelta(seconds=52), ttl)


async def test_leader_leases_of_different_names_are_independent(store: SQLStore) -> None:
    ttl = timedelta(seconds=30)
    assert await store.take_lease("discord-gateway:bot-1", "replica-a", T0, ttl)
    assert await store.take_lease("discord-gateway:bot-2", "replica-b", T0, ttl)
    assert await store.lease_holder("discord-gateway:bot-1", T0) == "replica-a"


async def test_a_lease_must_last(store: SQLStore) -> None:
    with pytest.raises(ValueError, match="longer than zero"):
        await store.take_lease("discord-gateway", "replica-a", T0, timedelta(0))


# story change numbers -------------------------------------------------------------------------


async def test_stories_changed_since_returns_exactly_the_stories_written_after(
    store: SQLStore,
) -> None:
    assert await store.story_change_seq() == 0
    assert await store.stories_changed_since(0) == ([], 0)

    cairo = story("s-cairo", report("w-1", "Cairo talks resume", source="wire"))
    rafah = story("s-rafah", report("n-1", "Rafah crossing to reopen", source="nile"))
    await store.commit_poll(PollRecord(source("wire"), (cairo, rafah)))
    first = await store.story_change_seq()
    assert first > 0
    assert await store.stories_changed_since(0) == ([cairo, rafah], first)

    # a poll that changes nothing in the stories moves nothing
    await store.commit_poll(PollRecord(source("wire", items_seen=1)))
    assert await store.story_change_seq() == first

    grown = replace(
        cairo,
        reports=(*cairo.reports, report("l-1", "Talks resume in Cairo", source="levant")),
        updated=at(5),
    )
    hostages = story("s-hostages", report("l-2", "Hostage list handed over", source="levant"))
    await store.commit_poll(PollRecord(source("levant"), (grown, hostages)))
    second = await store.story_change_seq()
    assert second > first
    changed, seq = await store.stories_changed_since(first)
    assert seq == second
    assert sorted(changed, key=lambda s: s.id) == [grown, hostages]
    assert await store.stories_changed_since(second) == ([], second)


async def test_change_numbers_follow_the_order_of_the_commits(store: SQLStore) -> None:
    seen = []
    for i in range(4):
        s = story(f"s-{i}", report(f"w-{i}", f"Cairo round {i}", source="wire"))
        await store.commit_poll(PollRecord(source("wire"), (s,)))
        seen.append(await store.story_change_seq())
    assert seen == sorted(set(seen))
    changed, _ = await store.stories_changed_since(seen[1])
    assert [s.id for s in changed] == ["s-2", "s-3"]


# deliveries -----------------------------------------------------------------------------------


async def test_a_second_delivery_row_for_one_story_and_destination_is_impossible(
    store: SQLStore,
) -> None:
    s = story("s-cairo", report("w-1", "Cairo talks resume"))
    await store.commit_poll(PollRecord(source("wire"), (s,), (delivery(s.id),)))
    await store.commit_poll(PollRecord(source("wire"), (s,), (delivery(s.id, outlets=2),)))
    await store.save_delivery(delivery(s.id, outlets=3))
    assert store.engine is not None
    async with store.engine.connect() as conn:
        rows = await conn.scalar(select(func.count()).select_from(deliveries))
    assert rows == 1
    got = await store.get_delivery(s.id, DESK)
    assert got is not None
    assert got.outlets == 3

    async with store.engine.connect() as conn:
        with pytest.raises(IntegrityError):
            await conn.execute(
                deliveries.insert().values(
                    story_id=s.id,
                    platform=DESK.platform,
                    workspace=DESK.workspace,
                    channel=DESK.channel,
                    direct=DESK.direct,
                    status="pending",
                    attempts=0,
                    created=T0,
                    updated=T0,
                    outlets=1,
                    title="a second copy",
                    needs_update=False,
                )
            )
        await conn.rollback()


async def test_only_due_deliveries_are_claimed_oldest_first(store: SQLStore) -> None:
    for s in ("s-1", "s-2", "s-3", "s-4", "s-5"):
        await store.commit_poll(PollRecord(source("wire"), (story(s, report(s, "Talks")),)))
    await store.save_delivery(delivery("s-1", created=3))
    await store.save_delivery(delivery("s-2", created=1, status="sent", needs_update=True))
    await store.save_delivery(delivery("s-3", created=2, status="sent"))  # nothing to do
    await store.save_delivery(delivery("s-4", created=0, next_attempt=at(30)))  # backing off
    await store.save_delivery(delivery("s-5", DISCORD, created=2, status="failed"))
    claimed = await store.claim_due_deliveries("replica-a", at(5), LEASE, 10)
    assert [d.story_id for d in claimed] == ["s-2", "s-1"]
    assert claimed[0] == delivery("s-2", created=1, status="sent", needs_update=True)


async def test_a_held_delivery_is_sent_by_nobody_else_until_saved_or_expired(
    store: SQLStore,
) -> None:
    s = story("s-cairo", report("w-1", "Cairo talks resume"))
    await store.commit_poll(
        PollRecord(source("wire"), (s,), (delivery(s.id), delivery(s.id, DISCORD)))
    )
    assert len(await store.claim_due_deliveries("replica-a", at(1), LEASE, 10)) == 2
    assert await store.claim_due_deliveries("replica-b", at(1), LEASE, 10) == []

    # the desk updating the alert meanwhile neither frees nor steals the lease
    await store.commit_poll(PollRecord(source("nile"), (s,), (delivery(s.id, outlets=2),)))
    assert await store.claim_due_deliveries("replica-b", at(2), LEASE, 10) == []

    # replica-a records its failed attempt on Slack: that one is free again (and due)
    failed = delivery(s.id, outlets=2, attempts=1, error="rate limited", next_attempt=at(2))
    await store.save_delivery(failed, holder="replica-a")
    again = await store.claim_due_deliveries("replica-b", at(2), LEASE, 10)
    assert [(d.destination, d.attempts) for d in again] == [(DESK, 1)]

    # replica-a dies holding the Discord one: after its lease, replica-b sends it
    late = await store.claim_due_deliveries("replica-b", at(1) + LEASE, LEASE, 10)
    assert [d.destination for d in late] == [DISCORD]


async def test_released_deliveries_can_be_claimed_at_once(store: SQLStore) -> None:
    s = story("s-cairo", report("w-1", "Cairo talks resume"))
    await store.commit_poll(
        PollRecord(source("wire"), (s,), (delivery(s.id), delivery(s.id, DISCORD)))
    )
    await store.claim_due_deliveries("replica-a", at(1), LEASE, 10)
    await store.release_deliveries("replica-b", [(s.id, DESK)])  # not its lease: nothing
    await store.release_deliveries("replica-a", [(s.id, DISCORD)])
    claimed = await store.claim_due_deliveries("replica-b", at(1), LEASE, 10)
    assert [d.destination for d in claimed] == [DISCORD]
    assert len(await store.claim_due_deliveries("replica-b", at(1), LEASE, 1)) == 0


# races between replicas (PostgreSQL) ----------------------------------------------------------


async def _replicas(url: str, count: int) -> list[SQLStore]:
    opened = [SQLStore(url) for _ in range(count)]
    await asyncio.gather(*(s.open() for s in opened))
    return opened


@pytest.mark.postgres
async def test_replicas_claiming_at_once_split_the_due_sources_between_them(
    postgres_url: str,
) -> None:
    first, *others = stores = await _replicas(postgres_url, 3)
    try:
        await first.save_sources([source(f"feed-{i:03}") for i in range(200)])
        start = asyncio.Event()

        async def claim_all(replica: SQLStore, holder: str) -> list[str]:
            await start.wait()
            got: list[str] = []
            while batch := await replica.claim_due_sources(holder, at(0), LEASE, 7):
                got += names(batch)
            return got

        tasks = [asyncio.create_task(claim_all(s, f"replica-{i}")) for i, s in enumerate(stores)]
        await asyncio.sleep(0.05)
        start.set()
        shares = await asyncio.gather(*tasks)
        everything = [name for share in shares for name in share]
        assert len(everything) == len(set(everything)) == 200
        assert await first.claim_due_sources("late", at(1), LEASE, 500) == []
        # each lease is recorded for the replica that got it
        assert first.engine is not None
        async with first.engine.connect() as conn:
            held = dict((await conn.execute(text("SELECT name, lease_holder FROM sources"))).all())
        for i, share in enumerate(shares):
            assert {held[name] for name in share} <= {f"replica-{i}"}
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    assert others  # three independent engines took part


@pytest.mark.postgres
async def test_replicas_claiming_at_once_never_send_one_delivery_twice(postgres_url: str) -> None:
    first, *_ = stores = await _replicas(postgres_url, 3)
    try:
        made = [story(f"s-{i:03}", report(f"k-{i}", f"Talks round {i}")) for i in range(100)]
        await first.commit_poll(
            PollRecord(
                source("wire"),
                tuple(made),
                tuple(delivery(s.id, d) for s in made for d in (DESK, DISCORD)),
            )
        )

        async def claim_all(replica: SQLStore, holder: str) -> list[tuple[str, str]]:
            got: list[tuple[str, str]] = []
            while batch := await replica.claim_due_deliveries(holder, at(1), LEASE, 9):
                got += [(d.story_id, d.destination.platform) for d in batch]
            return got

        shares = await asyncio.gather(*(claim_all(s, f"replica-{i}") for i, s in enumerate(stores)))
        everything = [key for share in shares for key in share]
        assert len(everything) == len(set(everything)) == 200
    finally:
        await asyncio.gather(*(s.close() for s in stores))


@pytest.mark.postgres
async def test_one_replica_wins_a_free_leader_lease(postgres_url: str) -> None:
    stores = await _replicas(postgres_url, 3)
    try:
        won = await asyncio.gather(
            *(
                s.take_lease("discord-gateway", f"replica-{i}", T0, timedelta(seconds=15))
                for i, s in enumerate(stores)
            )
        )
        assert sorted(won) == [False, False, True]
        winner = f"replica-{won.index(True)}"
        assert await stores[0].lease_holder("discord-gateway", T0) == winner
    finally:
        await asyncio.gather(*(s.close() for s in stores))


@pytest.mark.postgres
async def test_a_replica_following_changes_misses_none_written_by_others_at_once(
    postgres_url: str,
) -> None:
    reader, *writers = stores = await _replicas(postgres_url, 4)
    try:

        async def write(replica: SQLStore, prefix: str) -> None:
            for i in range(40):
                s = story(f"{prefix}-{i:02}", report(f"{prefix}-k{i}", f"Cairo round {i}"))
                await replica.commit_poll(PollRecord(source(prefix), (s,)))

        seen: set[str] = set()
        seq = 0
        writing = asyncio.gather(*(write(w, f"r{i}") for i, w in enumerate(writers)))
        while not writing.done():
            changed, seq = await reader.stories_changed_since(seq)
            seen |= {s.id for s in changed}
            await asyncio.sleep(0)
        await writing
        changed, seq = await reader.stories_changed_since(seq)
        seen |= {s.id for s in changed}
        assert len(seen) == 120
        assert seq == await reader.story_change_seq()
    finally:
        await asyncio.gather(*(s.close() for s in stores))


# migration 5 ----------------------------------------------------------------------------------


async def test_a_database_from_before_replicas_keeps_its_rows_and_joins_in(
    database_url: str,
) -> None:
    before = SQLStore(database_url, migrations=MIGRATIONS[:4])
    await before.open()
    try:
        assert before.engine is not None
        async with before.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO sources (name, url, consecutive_failures, items_seen) "
                    "VALUES ('wire', 'https://wire.example/feed', 1, 41)"
                )
            )
            for story_id, minutes in (("s-late", 20), ("s-early", 10)):
                await conn.execute(
                    text(
                        "INSERT INTO stories (id, title, url, text, summary, published, updated) "
                        "VALUES (:id, 'Cairo talks stall', '', '', '', :at, :at)"
                    ),
                    {"id": story_id, "at": at(minutes)},
                )
                await conn.execute(
                    text(
                        "INSERT INTO reports (source, key, story_id, position, outlet, title, "
                        "url, published, similarity, reason) VALUES ('wire', :id, :id, 0, "
                        "'Wire Service', 'Cairo talks stall', '', :at, 100.0, 'first report')"
                    ),
                    {"id": story_id, "at": at(minutes)},
                )
            await conn.execute(
                text(
                    "INSERT INTO deliveries (story_id, platform, workspace, channel, direct, "
                    "status, attempts, created, updated, outlets, title, needs_update) VALUES "
                    "('s-early', 'slack', 'T0NEWS', 'C0DESK', :no, 'pending', 0, :at, :at, 1, "
                    "'Cairo talks stall', :no)"
                ),
                {"no": False, "at": at(10)},
            )
    finally:
        await before.close()

    after = SQLStore(database_url)
    await after.open()
    try:
        assert await after.schema_version() == 5
        kept = await after.get_source("wire")
        assert kept is not None
        assert (kept.consecutive_failures, kept.items_seen) == (1, 41)
        assert names(await after.claim_due_sources("replica-a", at(30), LEASE, 10)) == ["wire"]
        pending = await after.claim_due_deliveries("replica-a", at(30), LEASE, 10)
        assert [(d.story_id, d.status) for d in pending] == [("s-early", DeliveryStatus.PENDING)]

        # stories already stored are numbered in the order they were updated
        old, seq = await after.stories_changed_since(0)
        assert [s.id for s in old] == ["s-early", "s-late"]
        assert [len(s.reports) for s in old] == [1, 1]
        assert seq == await after.story_change_seq() == 2
        fresh = story("s-new", report("w-9", "Hostage list handed over"))
        await after.commit_poll(PollRecord(source("wire"), (fresh,)))
        assert await after.stories_changed_since(seq) == ([fresh], 3)
    finally:
        await after.close()
