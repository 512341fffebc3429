"""Schema migrations: an ordered list of steps, applied once each, recorded in ``schema_version``.

``migrate`` runs inside the transaction ``SQLStore.open`` starts. On PostgreSQL it first takes a
transaction-scoped advisory lock, so several bot processes opening the same database at once
apply each step exactly once; on SQLite the write transaction (``BEGIN IMMEDIATE``) does the same.
DDL is transactional on both backends, so a failing step leaves the schema as it was.

Adding a step (for a later issue):

1. change the tables in ``schema.py``;
2. write ``def _v2_...(conn: Connection) -> None`` making the same change to an existing database
   (``op``-style DDL via ``sqlalchemy.schema`` / ``conn.execute(text(...))``; check
   ``conn.dialect.name`` where SQLite and PostgreSQL differ);
3. append ``Migration(2, "what it does", _v2_...)`` to ``MIGRATIONS``.

Never edit a step that has shipped: databases in the field have already run it. Step 1 therefore
keeps its own frozen copy of the first schema instead of using ``schema.metadata``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection

from bot.errors import StoreError
from bot.store.schema import NAMING
from bot.store.sqltypes import UTCDateTime

ADVISORY_LOCK_KEY = 0x74616C6B73  # "talks": any constant shared by every talks-bot process


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


_bookkeeping = MetaData(naming_convention=NAMING)

schema_version = Table(
    "schema_version",
    _bookkeeping,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
    Column("applied", UTCDateTime, nullable=False),
)


def _v1_initial(conn: Connection) -> None:
    """The first schema. Frozen: later changes are new steps."""
    md = MetaData(naming_convention=NAMING)
    Table(
        "sources",
        md,
        Column("name", String, primary_key=True),
        Column("url", Text, nullable=False),
        Column("etag", Text),
        Column("last_modified", Text),
        Column("last_polled", UTCDateTime),
        Column("last_success", UTCDateTime),
        Column("last_error", Text),
        Column("last_error_at", UTCDateTime),
        Column("failing_since", UTCDateTime),
        Column("consecutive_failures", Integer, nullable=False, server_default="0"),
        Column("next_poll_after", UTCDateTime),
        Column("first_polled", UTCDateTime),
        Column("items_seen", Integer, nullable=False, server_default="0"),
    )
    Table(
        "stories",
        md,
        Column("id", String, primary_key=True),
        Column("title", Text, nullable=False),
        Column("url", Text, nullable=False),
        Column("text", Text, nullable=False),
        Column("summary", Text, nullable=False),
        Column("published", UTCDateTime, nullable=False),
        Column("updated", UTCDateTime, nullable=False, index=True),
        Column("scores", Text, nullable=False, server_default="[]"),
    )
    Table(
        "reports",
        md,
        Column("source", String, primary_key=True),
        Column("key", String, primary_key=True),
        Column(
            "story_id",
            String,
            ForeignKey("stories.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        Column("position", Integer, nullable=False),
        Column("outlet", Text, nullable=False),
        Column("title", Text, nullable=False),
        Column("url", Text, nullable=False),
        Column("published", UTCDateTime, nullable=False),
        Column("matched_key", Text),
        Column("similarity", Float, nullable=False),
        Column("reason", Text, nullable=False),
    )
    destination = ("platform", "workspace", "channel")
    Table(
        "deliveries",
        md,
        Column("story_id", String, primary_key=True),
        *(Column(name, String, primary_key=True) for name in destination),
        Column("direct", Boolean, primary_key=True),
        Column("status", String, nullable=False),
        Column("message_id", Text),
        Column("digest_id", String),
        Column("error", Text),
        Column("attempts", Integer, nullable=False),
        Column("next_attempt", UTCDateTime),
        Column("created", UTCDateTime, nullable=False),
        Column("updated", UTCDateTime, nullable=False),
        Column("outlets", Integer, nullable=False),
        Column("title", Text, nullable=False),
        Column("alert", Text),
        Column("needs_update", Boolean, nullable=False),
        Column("extra", Text, nullable=False, server_default="{}"),
        Index("ix_deliveries_due", "status", "next_attempt"),
        Index("ix_deliveries_destination", *destination, "direct", "created"),
    )
    Table(
        "digests",
        md,
        Column("id", String, primary_key=True),
        *(Column(name, String, primary_key=True) for name in destination),
        Column("direct", Boolean, primary_key=True),
        Column("digest", Text, nullable=False),
        Column("created", UTCDateTime, nullable=False),
        Column("updated", UTCDateTime, nullable=False),
        Column("status", String, nullable=False),
        Column("message_id", Text),
        Column("error", Text),
        Column("attempts", Integer, nullable=False),
        Column("next_attempt", UTCDateTime),
        Index("ix_digests_due", "status", "next_attempt"),
    )
    Table(
        "subscriptions",
        md,
        Column("platform", String, primary_key=True),
        Column("workspace", String, primary_key=True),
        Column("subscriber", String, primary_key=True),
        Column("channel", Boolean, primary_key=True),
        Column("topic", String, primary_key=True),
        Column("mode", String, nullable=False),
        Column("created", UTCDateTime, nullable=False),
        Index("ix_subscriptions_topic", "topic"),
    )
    Table(
        "mutes",
        md,
        Column("platform", String, primary_key=True),
        Column("workspace", String, primary_key=True),
        Column("subject", String, primary_key=True),
        Column("until", UTCDateTime, nullable=False),
    )
    Table(
        "meta",
        md,
        Column("key", String, primary_key=True),
        Column("value", Text, nullable=False),
    )
    md.create_all(conn)


def _v2_story_follows(conn: Connection) -> None:
    """stories.follows: the earlier development a story probably follows ("" for none)."""
    conn.execute(text("ALTER TABLE stories ADD COLUMN follows TEXT NOT NULL DEFAULT ''"))


def _v3_source_pace(conn: Connection) -> None:
    """sources: the publishing pace (quiet sources), the run of repeated fresh responses (stale
    sources) and what the ops channel was last told about each source."""
    timestamp = "TIMESTAMP WITH TIME ZONE" if conn.dialect.name == "postgresql" else "DATETIME"
    number = "DOUBLE PRECISION" if conn.dialect.name == "postgresql" else "FLOAT"
    for column in (
        f"last_new_at {timestamp}",
        "pace_gaps INTEGER NOT NULL DEFAULT 0",
        f"pace_log_mean {number} NOT NULL DEFAULT 0",
        f"pace_log_var {number} NOT NULL DEFAULT 0",
        f"pace_lull {number} NOT NULL DEFAULT 0",
        f"repeating_since {timestamp}",
        "announced VARCHAR NOT NULL DEFAULT ''",
        f"announced_at {timestamp}",
    ):
        conn.execute(text(f"ALTER TABLE sources ADD COLUMN {column}"))


def _v4_report_credit(conn: Connection) -> None:
    """reports.credit: the wire agency a report credits ("" for none), for corroboration."""
    conn.execute(text("ALTER TABLE reports ADD COLUMN credit TEXT NOT NULL DEFAULT ''"))


def _v5_replicas(conn: Connection) -> None:
    """What several replicas on one database coordinate through: poll leases on sources, send
    leases on deliveries, named leader leases, and a change number on stories.

    Stories already stored are numbered 1, 2, 3... in the order they were last updated, so a
    replica reading "changed since 0" finds every one of them; on PostgreSQL the sequence then
    continues after the last number.
    """
    postgres = conn.dialect.name == "postgresql"
    timestamp = "TIMESTAMP WITH TIME ZONE" if postgres else "DATETIME"
    for table in ("sources", "deliveries"):
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN lease_holder VARCHAR"))
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN lease_until {timestamp}"))
    conn.execute(text("ALTER TABLE stories ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0"))
    conn.execute(
        text(
            "UPDATE stories SET change_seq = numbered.n FROM ("
            "SELECT id, row_number() OVER (ORDER BY updated, id) AS n FROM stories"
            ") AS numbered WHERE stories.id = numbered.id"
        )
    )
    conn.execute(text("CREATE INDEX ix_stories_change_seq ON stories (change_seq)"))
    if postgres:
        conn.execute(text("CREATE SEQUENCE stories_change_seq OWNED BY stories.change_seq"))
        conn.execute(
            text(
                "SELECT setval('stories_change_seq', max(change_seq)) FROM stories "
                "HAVING max(change_seq) > 0"
            )
        )
    conn.execute(
        text(
            "CREATE TABLE leases (name VARCHAR NOT NULL, holder VARCHAR NOT NULL, "
            f"until {timestamp} NOT NULL, CONSTRAINT pk_leases PRIMARY KEY (name))"
        )
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "sources, stories, reports, deliveries, digests, subscriptions, mutes, meta",
        _v1_initial,
    ),
    Migration(2, "stories.follows: the development a story probably follows", _v2_story_follows),
    Migration(
        3, "sources: publishing pace, repeated responses, ops announcements", _v3_source_pace
    ),
    Migration(4, "reports.credit: the wire agency a report credits", _v4_report_credit),
    Migration(
        5,
        "replicas: poll and send leases, leader leases, stories.change_seq",
        _v5_replicas,
    ),
)


def current_version(conn: Connection) -> int:
    """The highest applied step, 0 for an empty database."""
    if not inspect(conn).has_table(schema_version.name):
        return 0
    return int(conn.execute(select(func.max(schema_version.c.version))).scalar() or 0)


def migrate(conn: Connection, steps: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply the steps this database has not run yet, in order; return their versions.

    Runs in the caller's transaction. Raises ``StoreError`` when the database was written by a
    newer talks-bot than this one.
    """
    _check_order(steps)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    schema_version.create(conn, checkfirst=True)
    current = current_version(conn)
    latest = steps[-1].version if steps else 0
    if current > latest:
        raise StoreError(
            f"database schema is at version {current} but this talks-bot knows up to {latest}: "
            "upgrade talks-bot or point it at another database"
        )
    applied: list[int] = []
    for step in steps:
        if step.version <= current:
            continue
        step.apply(conn)
        conn.execute(
            insert(schema_version).values(
                version=step.version, description=step.description, applied=datetime.now(UTC)
            )
        )
        applied.append(step.version)
    return applied


def _check_order(steps: Sequence[Migration]) -> None:
    versions = [step.version for step in steps]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migration versions must be 1, 2, 3... in order, got {versions}")
