"""Opening, migrating, restarting and failing: what an operator sees of the store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection

from bot.core.models import Subscription
from bot.core.ports import PollRecord
from bot.errors import StoreError
from bot.store import SQLStore, open_store
from bot.store.migrations import MIGRATIONS, Migration, schema_version
from bot.store.schema import metadata
from tests.store.samples import T0, at, delivery, report, source, story

LATEST = MIGRATIONS[-1].version


async def _version_rows(store: SQLStore) -> list[int]:
    assert store.engine is not None
    async with store.engine.connect() as conn:
        result = await conn.execute(select(schema_version.c.version).order_by("version"))
        return list(result.scalars())


async def test_open_records_schema_version_and_reopening_changes_nothing(database_url: str) -> None:
    for _ in range(2):
        store = open_store(database_url)
        await store.open()
        try:
            assert await store.schema_version() == LATEST
            assert await _version_rows(store) == list(range(1, LATEST + 1))
        finally:
            await store.close()


async def test_opening_an_open_store_is_harmless(store: SQLStore) -> None:
    await store.set_meta("k", "v")
    await store.open()
    assert await store.get_meta("k") == "v"


async def test_later_step_runs_once_when_the_bot_is_upgraded(database_url: str) -> None:
    runs: list[str] = []

    def add_desk_notes(conn: Connection) -> None:
        runs.append("ran")
        conn.execute(text("CREATE TABLE desk_notes (id INTEGER PRIMARY KEY, note TEXT)"))

    upgraded = (*MIGRATIONS, Migration(LATEST + 1, "desk notes", add_desk_notes))
    old = open_store(database_url)
    await old.open()
    await old.close()
    for _ in range(2):
        new = SQLStore(database_url, migrations=upgraded)
        await new.open()
        try:
            assert await new.schema_version() == LATEST + 1
        finally:
            await new.close()
    assert runs == ["ran"]


async def test_failed_step_leaves_the_schema_as_it_was(database_url: str) -> None:
    def half_done(conn: Connection) -> None:
        conn.execute(text("CREATE TABLE half_done (id INTEGER PRIMARY KEY)"))
        conn.execute(text("ALTER TABLE no_such_table ADD COLUMN x INTEGER"))

    broken = SQLStore(
        database_url, migrations=(*MIGRATIONS, Migration(LATEST + 1, "broken", half_done))
    )
    with pytest.raises(StoreError, match="could not update the schema"):
        await broken.open()
    assert broken.engine is None

    store = open_store(database_url)
    await store.open()
    try:
        assert store.engine is not None
        async with store.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert "half_done" not in tables
        assert await store.schema_version() == LATEST
    finally:
        await store.close()


async def test_database_from_a_newer_bot_is_refused(database_url: str) -> None:
    newer = SQLStore(
        database_url,
        migrations=(*MIGRATIONS, Migration(LATEST + 1, "from the future", lambda c: None)),
    )
    await newer.open()
    await newer.close()

    with pytest.raises(StoreError, match=f"schema is at version {LATEST + 1}.*upgrade talks-bot"):
        await open_store(database_url).open()


async def test_two_bots_opening_one_database_at_once_migrate_it_once(database_url: str) -> None:
    first, second = open_store(database_url), open_store(database_url)
    await asyncio.gather(first.open(), second.open())
    try:
        assert await _version_rows(first) == list(range(1, LATEST + 1))
        await first.set_meta("seen-by", "first")
        assert await second.get_meta("seen-by") == "first"
    finally:
        await asyncio.gather(first.close(), second.close())


async def test_migrated_database_has_exactly_the_current_tables(database_url: str) -> None:
    store = open_store(database_url)
    await store.open()
    try:
        assert store.engine is not None
        async with store.engine.connect() as conn:
            found = await conn.run_sync(
                lambda c: {
                    name: {col["name"] for col in inspect(c).get_columns(name)}
                    for name in inspect(c).get_table_names()
                }
            )
    finally:
        await store.close()
    expected = {
        table.name: {col.name for col in table.columns} for table in metadata.tables.values()
    }
    expected[schema_version.name] = {col.name for col in schema_version.columns}
    assert found == expected


async def test_everything_survives_a_restart(database_url: str) -> None:
    s = story("a1b2c3d4e5", report("g-1", "Talks resume in Cairo"))
    sub = Subscription("slack", "T0NEWS", "U0EDITOR", "hostages", created=T0)
    before = open_store(database_url)
    await before.open()
    try:
        await before.commit_poll(
            PollRecord(source=source(items_seen=1), stories=(s,), deliveries=(delivery(s.id),))
        )
        await before.add_subscription(sub)
    finally:
        await before.close()

    after = open_store(database_url)
    await after.open()
    try:
        assert await after.get_story(s.id) == s
        assert [d.story_id for d in await after.due_deliveries(at(1))] == [s.id]
        assert await after.subscriptions_to(["hostages"]) == [sub]
    finally:
        await after.close()


async def test_sqlite_file_uses_wal_and_enforces_foreign_keys(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "desk" / "talks.db"))
    await store.open()
    try:
        assert store.engine is not None
        async with store.engine.connect() as conn:
            mode = await conn.scalar(text("PRAGMA journal_mode"))
            keys = await conn.scalar(text("PRAGMA foreign_keys"))
            orphans = await conn.scalar(
                select(func.count()).select_from(metadata.tables["reports"])
            )
        assert (mode, keys, orphans) == ("wal", 1, 0)
    finally:
        await store.close()
    assert (tmp_path / "desk" / "talks.db").exists()


# failures -------------------------------------------------------------------------------------


async def test_unreachable_postgres_is_one_line_without_the_password() -> None:
    store = open_store("postgresql://talks:s3cret-pw@127.0.0.1:1/talks")
    with pytest.raises(StoreError) as caught:
        await store.open()
    message = str(caught.value)
    assert message == (
        "database unreachable at postgresql://talks:***@127.0.0.1:1/talks: connection refused"
        " — is PostgreSQL running and listening there?"
    )
    assert store.engine is None


async def test_sqlite_path_that_is_a_folder_is_reported(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=f"database path {tmp_path} is a folder"):
        await open_store(str(tmp_path)).open()


async def test_closed_store_says_to_open_it(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "talks.db"))
    with pytest.raises(StoreError, match="not open: call open"):
        await store.get_meta("k")


async def test_sources_saved_before_migration_3_keep_their_health_and_start_without_a_pace(
    database_url: str,
) -> None:
    before = SQLStore(database_url, migrations=MIGRATIONS[:2])
    await before.open()
    assert before.engine is not None
    async with before.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO sources (name, url, consecutive_failures, items_seen) "
                "VALUES ('wire', 'https://wire.example/feed', 2, 41)"
            )
        )
    await before.close()
    after = open_store(database_url)
    await after.open()
    try:
        saved = await after.get_source("wire")
        assert saved is not None
        assert (saved.consecutive_failures, saved.items_seen) == (2, 41)
        assert (saved.last_new_at, saved.pace_gaps, saved.pace_lull) == (None, 0, 0.0)
        assert (saved.repeating_since, saved.announced) == (None, "")
        await after.save_source(source("wire", pace_gaps=3, pace_log_var=0.5))
        again = await after.get_source("wire")
        assert again is not None
        assert (again.pace_gaps, again.pace_log_var) == (3, 0.5)
    finally:
        await after.close()
