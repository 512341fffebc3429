"""The current schema: the tables queries are written against.

Tables (all created by migration 1, see ``migrations.py``):

``sources``        one row per configured feed: conditional-GET validators, polling health, its
                   publishing pace and what the ops channel was last told (migration 3), and
                   which replica holds it for a poll until when (lease_holder, lease_until:
                   migration 5).
``stories``        one row per development: best headline, lead, summary, topic scores (JSON),
                   and the change number of the commit that last wrote it (change_seq,
                   migration 5; on PostgreSQL drawn from the ``stories_change_seq`` sequence).
``reports``        one outlet's account, keyed (source, key), belonging to a story in ``position``
                   order, with why it joined (matched_key, similarity, reason) and the wire
                   agency it credits (credit, "" for none; added by migration 4).
``deliveries``     the outbox: one row per (story, destination) with the alert payload (JSON),
                   status, attempts, retry time and whether a sent message needs an edit;
                   the primary key is what makes a second row for one (story, destination)
                   impossible. lease_holder, lease_until (migration 5): the replica sending it.
``digests``        folded alerts, one row per (digest id, destination), the digest as JSON.
``subscriptions``  people or channels following a topic, per platform and workspace.
``mutes``          quiet-until times per platform, workspace and subject.
``meta``           small key/value state (last scheduled digest run...).
``leases``         named leader leases (one replica holds the Discord gateway...), migration 5.
``schema_version`` one row per applied migration (defined in ``migrations.py``).

A destination is stored as four columns (platform, workspace, channel, direct); datetimes are
``UTCDateTime``; JSON is kept as text written by ``codec.py``.

Changing the schema means two edits: change the tables here, and append a migration step that
makes the same change to existing databases. ``tests/store`` checks the two agree.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Sequence,
    String,
    Table,
    Text,
)

from bot.store.sqltypes import UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Explicit constraint names, so later migrations can drop or alter them on both backends."""

metadata = MetaData(naming_convention=NAMING)

sources = Table(
    "sources",
    metadata,
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
    Column("last_new_at", UTCDateTime),
    Column("pace_gaps", Integer, nullable=False, server_default="0"),
    Column("pace_log_mean", Float, nullable=False, server_default="0"),
    Column("pace_log_var", Float, nullable=False, server_default="0"),
    Column("pace_lull", Float, nullable=False, server_default="0"),
    Column("repeating_since", UTCDateTime),
    Column("announced", String, nullable=False, server_default=""),
    Column("announced_at", UTCDateTime),
    Column("lease_holder", String),
    Column("lease_until", UTCDateTime),
)

stories = Table(
    "stories",
    metadata,
    Column("id", String, primary_key=True),
    Column("title", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("published", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False, index=True),
    Column("scores", Text, nullable=False, server_default="[]"),
    Column("follows", Text, nullable=False, server_default=""),
    Column("change_seq", BigInteger, nullable=False, server_default="0", index=True),
)

story_changes = Sequence("stories_change_seq", metadata=metadata)
"""PostgreSQL: where ``stories.change_seq`` values come from (SQLite takes max + 1)."""

reports = Table(
    "reports",
    metadata,
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
    Column("credit", Text, nullable=False, server_default=""),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("story_id", String, primary_key=True),
    Column("platform", String, primary_key=True),
    Column("workspace", String, primary_key=True),
    Column("channel", String, primary_key=True),
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
    Column("lease_holder", String),
    Column("lease_until", UTCDateTime),
    Index("ix_deliveries_due", "status", "next_attempt"),
    Index("ix_deliveries_destination", "platform", "workspace", "channel", "direct", "created"),
)

digests = Table(
    "digests",
    metadata,
    Column("id", String, primary_key=True),
    Column("platform", String, primary_key=True),
    Column("workspace", String, primary_key=True),
    Column("channel", String, primary_key=True),
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

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("platform", String, primary_key=True),
    Column("workspace", String, primary_key=True),
    Column("subscriber", String, primary_key=True),
    Column("channel", Boolean, primary_key=True),
    Column("topic", String, primary_key=True),
    Column("mode", String, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Index("ix_subscriptions_topic", "topic"),
)

mutes = Table(
    "mutes",
    metadata,
    Column("platform", String, primary_key=True),
    Column("workspace", String, primary_key=True),
    Column("subject", String, primary_key=True),
    Column("until", UTCDateTime, nullable=False),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", Text, nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String, primary_key=True),
    Column("holder", String, nullable=False),
    Column("until", UTCDateTime, nullable=False),
)
