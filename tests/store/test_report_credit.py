"""The wire agency a report credits is kept with the report (``reports.credit``, migration 4), on
SQLite and PostgreSQL, and databases written before it read as crediting nobody."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import text

from bot.core.ports import PollRecord
from bot.store import SQLStore
from bot.store.migrations import MIGRATIONS
from tests.store.samples import T0, report, source, story


async def test_a_reports_credit_survives_the_round_trip(store: SQLStore) -> None:
    copied = replace(
        report("abc-1", "Cairo talks stall", source="abc", outlet="ABC News"), credit="AP"
    )
    own = report("nile-1", "Cairo round ends without a deal", source="nile", outlet="Nile Courier")
    await store.commit_poll(PollRecord(source("abc"), (story("s-credit", copied, own),)))

    held = await store.get_story("s-credit")
    assert held is not None
    assert [(r.outlet, r.credit) for r in held.reports] == [
        ("ABC News", "AP"),
        ("Nile Courier", ""),
    ]


async def test_reports_stored_before_credits_were_kept_read_as_crediting_none(
    database_url: str,
) -> None:
    before = SQLStore(database_url, migrations=MIGRATIONS[:3])
    await before.open()
    try:
        assert before.engine is not None
        async with before.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO stories (id, title, url, text, summary, published, updated) "
                    "VALUES ('s-old', 'Cairo talks stall', '', '', '', :at, :at)"
                ),
                {"at": T0},
            )
            await conn.execute(
                text(
                    "INSERT INTO reports (source, key, story_id, position, outlet, title, url, "
                    "published, similarity, reason) VALUES ('abc', 'abc-1', 's-old', 0, "
                    "'ABC News', 'Cairo talks stall', '', :at, 100.0, 'first report')"
                ),
                {"at": T0},
            )
    finally:
        await before.close()

    after = SQLStore(database_url)
    await after.open()
    try:
        assert await after.schema_version() == MIGRATIONS[-1].version
        held = await after.get_story("s-old")
        assert held is not None
        assert [(r.outlet, r.credit) for r in held.reports] == [("ABC News", "")]
    finally:
        await after.close()
