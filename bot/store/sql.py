"""``SQLStore``: the ``Store`` port on SQLite or PostgreSQL, through SQLAlchemy 2 async Core.

One class serves both backends; the differences are confined to engine setup (SQLite pragmas and
transaction control, PostgreSQL connect options) and to choosing the dialect's ``INSERT ... ON
CONFLICT`` for upserts. Every public method runs in one transaction and turns driver errors into
``StoreError`` with one line that names the database (password masked) and what to check.

Every transaction has a deadline (``timeout``, the ``[store] timeout`` setting): connecting, waiting
for a pooled connection, each statement and the commit all happen within it, or the transaction
fails with ``StoreError``. A database that stops answering without closing the connection (a link
that drops packets, a frozen server) would otherwise hold the caller forever. On expiry the
connection in use and every idle pooled one are cut at once: they crossed the same silent link,
and a pre-ping on a dead connection would itself hang until the next deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import socket
import sqlite3
import weakref
from collections.abc import AsyncIterator, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    delete,
    event,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.engine import URL, RowMapping
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool
from sqlalchemy.util import await_only

from bot.core.desk import DeskContext
from bot.core.models import (
    Alert,
    Delivery,
    DeliveryStatus,
    Destination,
    Digest,
    Mute,
    SourceHealth,
    Story,
    StoryReport,
    Subscription,
    ThreadState,
    TopicScore,
)
from bot.core.ports import Clock, DigestRecord, PollRecord, StoryFilter
from bot.errors import StoreError
from bot.store import codec
from bot.store.migrations import MIGRATIONS, Migration, current_version, migrate
from bot.store.schema import (
    deliveries,
    digests,
    leases,
    meta,
    mutes,
    reports,
    sources,
    stories,
    story_changes,
    subscriptions,
)
from bot.store.url import describe_url, is_memory, normalise_url, secrets_of

T = TypeVar("T")

CHUNK = 500
"""Most values bound in one IN list: well under SQLite's variable limit on every version."""

DEFAULT_TIMEOUT_S = 15.0
"""The deadline of one store transaction unless the configuration sets another."""
SQLITE_BUSY_TIMEOUT_MS = 5000
"""Longest wait for SQLite's write lock (shorter when the deadline is shorter)."""
WAL_SWITCH_ATTEMPTS = 100
POOL_RECYCLE_S = 1800
"""Pooled PostgreSQL connections older than this are replaced: a firewall or NAT that forgets
idle flows after a while then never gets to strand one."""
MIGRATION_TIMEOUT_S = 120.0
"""Schema changes may take longer than ordinary work (and wait for another bot's migration)."""
STORY_CHANGES_LOCK_KEY = 0x74616C6B7363  # "talksc": the commits that write stories, one at a time
"""PostgreSQL: a commit that writes stories takes this transaction lock before drawing its
change number, so numbers become visible in the order they were drawn: a replica that has read
every change up to N never later meets an older number committed behind it."""
_LATEST_CHANGE = select(func.max(stories.c.change_seq))
_LOCKED_NEXT_CHANGE = text(
    "WITH locked AS MATERIALIZED (SELECT pg_advisory_xact_lock(:key)) "
    f"SELECT nextval('{story_changes.name}') FROM locked"
)

_DRIVER_ERRORS = (SQLAlchemyError, OSError, TimeoutError)

_DROPPED_STATES = frozenset({"57P01", "57P02", "57P03", "08003", "08006"})
"""SQLSTATEs of a session the server ended or would not start yet: admin shutdown (what
``pg_terminate_backend`` and a restart send), crash shutdown, "the database system is starting
up", connection does not exist, connection failure. asyncpg's ``InternalClientError`` ("cannot
switch to state ...") is what a session cut in the middle of an operation can leave behind."""
_DROPPED_TYPES = frozenset(
    {"ConnectionDoesNotExistError", "AdminShutdownError", "CrashShutdownError",
     "CannotConnectNowError", "ConnectionResetError", "BrokenPipeError",
     "InternalClientError"}
)  # fmt: skip


def session_dropped(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) says the server ended the session, as opposed to a
    refusal that trying again cannot fix (credentials, a missing database)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if type(current).__name__ in _DROPPED_TYPES:
            return True
        if getattr(current, "sqlstate", None) in _DROPPED_STATES:
            return True
        orig = getattr(current, "orig", None)
        todo += [
            orig if isinstance(orig, BaseException) else None,
            current.__cause__,
            current.__context__,
        ]
    return False


_READ_ONLY = "talks_read_only"
_CLASS_PREFIX = re.compile(r"^<class '[^']+'>:\s*")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def open_store(
    url: str, *, clock: Clock | None = None, timeout: float = DEFAULT_TIMEOUT_S
) -> SQLStore:
    """A store for ``url`` (a file path, ``sqlite:///...`` or ``postgresql://...``), not yet open.

    ``await store.open()`` connects and migrates; ``await store.close()`` releases connections.
    ``timeout`` (seconds) is the deadline of every transaction.
    """
    return SQLStore(url, clock=clock, timeout=timeout)


class SQLStore:
    """Persistent state for talks-bot; implements ``bot.core.ports.Store``.

    Orderings: ``stories`` newest ``updated`` first; ``due_deliveries`` oldest ``created``
    first; ``failed_deliveries`` newest ``updated`` first; ``recent_deliveries`` oldest first;
    subscriptions by topic then subscriber. A delivery keeps the ``created`` time of its first
    save (flood control counts from it); ``updated`` is the delivery's own value or now.

    Replicas on one database: ``claim_due_sources`` and ``claim_due_deliveries`` lease rows to
    one holder until a time (another holder may claim them once it has passed); saving with
    ``holder=`` (or ``PollRecord.lease_holder``) or ``release_*`` gives them back. Saving never
    touches a lease otherwise. ``take_lease`` / ``drop_lease`` are named leader leases. Every
    ``commit_poll`` that writes stories stamps them with a new change number, which
    ``stories_changed_since`` reads back.
    """

    def __init__(
        self,
        url: str,
        *,
        clock: Clock | None = None,
        migrations: Sequence[Migration] = MIGRATIONS,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        if not timeout > 0:
            raise StoreError(f"the store timeout must be longer than zero (got {timeout!r})")
        self._timeout = float(timeout)
        self._location = url
        self._url = normalise_url(url)
        self._secrets = secrets_of(self._url)
        self._clock = clock or _utcnow
        self._migrations = tuple(migrations)
        self._engine: AsyncEngine | None = None
        self._reader: AsyncEngine | None = None
        self._idle: weakref.WeakSet[Any] = weakref.WeakSet()
        """PostgreSQL driver connections resting in the pool (cut when a deadline expires)."""
        self._upserts: dict[tuple[str, tuple[str, ...]], Any] = {}
        self._last_change: int | None = None
        """SQLite: the story change number this store drew last (read from the table once)."""

    # lifecycle ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The configured location with any password masked."""
        return describe_url(self._location)

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._url.get_backend_name()

    @property
    def timeout(self) -> float:
        """The deadline of one transaction, in seconds."""
        return self._timeout

    @property
    def engine(self) -> AsyncEngine | None:
        """The engine while open (tests check its pool for leaked connections)."""
        return self._engine

    async def open(self) -> None:
        """Connect and apply pending migrations. Opening an open store does nothing."""
        if self._engine is not None:
            return
        engine = self._create_engine()
        self._engine = engine
        self._reader = engine.execution_options(**{_READ_ONLY: True})
        try:
            if self.backend == "sqlite" and not is_memory(self._url):
                await self._use_wal(engine)
            limit = max(self._timeout, MIGRATION_TIMEOUT_S)
            async with self._transaction("update the schema", limit=limit) as conn:
                if self.backend == "postgresql":
                    await conn.exec_driver_sql(f"SET LOCAL statement_timeout = {_ms(limit)}")
                await conn.run_sync(migrate, self._migrations)
        except BaseException:
            self._engine = self._reader = None
            await engine.dispose()
            raise

    async def close(self) -> None:
        """Release every connection. Pooled connections that do not answer the goodbye within
        the deadline are cut instead, so closing never hangs on a silent database."""
        engine, self._engine, self._reader = self._engine, None, None
        if engine is None:
            return
        # Goodbyes all at once, each within the deadline (asyncpg aborts the socket of one that
        # gets no answer), so the pool's own one-by-one close finds them closed already.
        idle, self._idle = list(self._idle), weakref.WeakSet()
        await asyncio.gather(
            *(driver.close(timeout=self._timeout) for driver in idle), return_exceptions=True
        )
        try:
            async with asyncio.timeout(self._timeout):
                await engine.dispose()
        except TimeoutError:
            self._cut_idle()
            await engine.dispose(close=False)

    async def schema_version(self) -> int:
        async with self._transaction("read the schema version", write=False) as conn:
            return await conn.run_sync(current_version)

    # sources -----------------------------------------------------------------------------------
    async def get_source(self, name: str) -> SourceHealth | None:
        async with self._transaction("read a source", write=False) as conn:
            query = select(*HEALTH_COLUMNS).where(sources.c.name == name)
            row = (await conn.execute(query)).first()
        return SourceHealth(**row._mapping) if row else None

    async def list_sources(self) -> list[SourceHealth]:
        async with self._transaction("read sources", write=False) as conn:
            rows = await conn.execute(select(*HEALTH_COLUMNS).order_by(sources.c.name))
            return [SourceHealth(**row._mapping) for row in rows]

    async def save_source(self, health: SourceHealth, *, holder: str | None = None) -> None:
        await self.save_sources([health], holder=holder)

    async def save_sources(
        self, healths: Sequence[SourceHealth], *, holder: str | None = None
    ) -> None:
        if not healths:
            return
        what = "save a source" if len(healths) == 1 else f"save {len(healths)} sources"
        async with self._transaction(what) as conn:
            await self._upsert(conn, sources, [_source_row(h) for h in healths], keep=SOURCE_KEEP)
            if holder is not None:
                await _release_sources(conn, holder, [h.name for h in healths])

    async def claim_due_sources(
        self, holder: str, now: datetime, lease: timedelta, limit: int
    ) -> list[SourceHealth]:
        if limit <= 0:
            return []
        c = sources.c
        picked = (
            select(c.name)
            .where(_due_to_poll(now), _lease_free(sources, now))
            .order_by(c.next_poll_after.asc().nulls_first(), c.name)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claim = (
            update(sources)
            .where(c.name.in_(picked))
            .values(lease_holder=holder, lease_until=now + lease)
            .returning(*HEALTH_COLUMNS)
        )
        async with self._transaction(f"claim due sources for {holder}") as conn:
            claimed = [SourceHealth(**row._mapping) for row in await conn.execute(claim)]
        claimed.sort(key=_poll_order)
        return claimed

    async def release_sources(self, holder: str, names: Iterable[str]) -> None:
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return
        async with self._transaction(f"release sources held by {holder}") as conn:
            await _release_sources(conn, holder, wanted)

    async def save_announced(self, name: str, announced: str, at: datetime) -> None:
        async with self._transaction(f"record what the ops channel heard of {name}") as conn:
            await conn.execute(
                update(sources)
                .where(sources.c.name == name)
                .values(announced=announced, announced_at=at)
            )

    # reports and stories -----------------------------------------------------------------------
    async def known_reports(self, source: str, keys: Iterable[str]) -> dict[str, str]:
        return (await self.known_reports_many({source: keys})).get(source, {})

    async def known_reports_many(
        self, wanted: Mapping[str, Iterable[str]]
    ) -> dict[str, dict[str, str]]:
        by_source = {source: list(dict.fromkeys(keys)) for source, keys in wanted.items()}
        found: dict[str, dict[str, str]] = {}
        c = reports.c
        async with self._transaction("read known reports", write=False) as conn:
            # One statement per chunk of (source, keys) pairs, each an index search.
            for chunk in _source_chunks(by_source):
                clause = or_(*(and_(c.source == s, c.key.in_(keys)) for s, keys in chunk))
                for row in await conn.execute(select(c.source, c.key, c.title).where(clause)):
                    found.setdefault(row.source, {})[row.key] = row.title
        return found

    async def commit_poll(self, record: PollRecord) -> None:
        now = self._clock()
        polled = (record.source, *record.others)
        what = f"save the poll of {record.source.name}" + (
            f" and {len(record.others)} more" if record.others else ""
        )
        async with self._transaction(what) as conn:
            # The change number first: on PostgreSQL it waits for the lock before any row lock
            # is taken, so two commits never hold what the other waits for.
            change = await self._next_change(conn) if record.stories else 0
            await self._upsert(conn, sources, [_source_row(h) for h in polled], keep=SOURCE_KEEP)
            if record.lease_holder is not None:
                await _release_sources(conn, record.lease_holder, [h.name for h in polled])
            if record.stories:
                rows = [_story_row(s) | {"change_seq": change} for s in record.stories]
                await self._upsert(conn, stories, rows)
                await self._replace_memberships(conn, record.stories)
            if record.deliveries:
                rows = [_delivery_row(d, now) for d in record.deliveries]
                await self._upsert(conn, deliveries, rows, keep=DELIVERY_KEEP)

    async def get_story(self, story_id: str) -> Story | None:
        async with self._transaction("read a story", write=False) as conn:
            rows = (await conn.execute(select(stories).where(stories.c.id == story_id))).all()
            if not rows and len(story_id) >= 4:
                prefix = func.substr(stories.c.id, 1, len(story_id)) == story_id
                rows = (await conn.execute(select(stories).where(prefix).limit(2))).all()
            if len(rows) != 1:
                return None
            return (await self._with_reports(conn, [rows[0]._mapping]))[0]

    async def stories(self, query: StoryFilter) -> list[Story]:
        base = select(stories)
        if query.since is not None:
            base = base.where(stories.c.updated >= query.since)
        if query.until is not None:
            base = base.where(stories.c.updated < query.until)
        newest_first = (stories.c.updated.desc(), stories.c.id)
        async with self._transaction("read stories", write=False) as conn:
            if query.ids:
                found: list[RowMapping] = []
                for chunk in _chunks(list(dict.fromkeys(query.ids))):
                    result = await conn.execute(base.where(stories.c.id.in_(chunk)))
                    found.extend(result.mappings())
                found.sort(key=lambda row: row["id"])
                found.sort(key=lambda row: row["updated"], reverse=True)
                rows = found[: query.limit] if query.limit is not None else found
                return await self._with_reports(conn, rows)
            ordered = base.order_by(*newest_first)
            if query.limit is not None:
                ordered = ordered.limit(query.limit)
            # A window of stories is streamed: each row's scores are read as it arrives and its
            # JSON dropped, rather than every row held while the stories are made from them.
            shared = _Shared()
            streamed = await conn.stream(ordered.execution_options(yield_per=STREAM_ROWS))
            heads = [shared.head(row) async for row in streamed.mappings()]
            return await self._assemble(conn, heads, shared)

    async def story_change_seq(self) -> int:
        async with self._transaction("read the latest story change", write=False) as conn:
            latest = await conn.scalar(_LATEST_CHANGE)
        return int(latest or 0)

    async def stories_changed_since(self, seq: int) -> tuple[list[Story], int]:
        query = (
            select(stories)
            .where(stories.c.change_seq > seq)
            .order_by(stories.c.change_seq, stories.c.id)
        )
        async with self._transaction("read changed stories", write=False) as conn:
            rows = list((await conn.execute(query)).mappings())
            changed = await self._with_reports(conn, rows)
        return changed, max((int(row["change_seq"]) for row in rows), default=seq)

    # deliveries --------------------------------------------------------------------------------
    async def get_delivery(self, story_id: str, destination: Destination) -> Delivery | None:
        async with self._transaction("read a delivery", write=False) as conn:
            where = and_(deliveries.c.story_id == story_id, _at(deliveries, destination))
            row = (await conn.execute(select(deliveries).where(where))).mappings().first()
        return _delivery(row) if row else None

    async def save_delivery(self, delivery: Delivery, *, holder: str | None = None) -> None:
        row = _delivery_row(delivery, self._clock())
        async with self._transaction("save a delivery") as conn:
            await self._upsert(conn, deliveries, [row], keep=DELIVERY_KEEP)
            if holder is not None:
                await _release_deliveries(conn, holder, [(delivery.story_id, delivery.destination)])

    async def due_deliveries(self, now: datetime, limit: int = 100) -> list[Delivery]:
        c = deliveries.c
        query = (
            select(deliveries)
            .where(_due_to_send(now))
            .order_by(c.created, c.story_id, c.platform, c.channel)
            .limit(limit)
        )
        return await self._deliveries(query)

    async def claim_due_deliveries(
        self, holder: str, now: datetime, lease: timedelta, limit: int
    ) -> list[Delivery]:
        if limit <= 0:
            return []
        c = deliveries.c
        order = (c.created, c.story_id, c.platform, c.workspace, c.channel, c.direct)
        picked = (
            select(*(getattr(c, name) for name in DELIVERY_KEY))
            .where(_due_to_send(now), _lease_free(deliveries, now))
            .order_by(*order)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        key = tuple_(*(getattr(c, name) for name in DELIVERY_KEY))
        claim = (
            update(deliveries)
            .where(key.in_(picked))
            .values(lease_holder=holder, lease_until=now + lease)
            .returning(*deliveries.columns)
        )
        async with self._transaction(f"claim due deliveries for {holder}") as conn:
            rows = list((await conn.execute(claim)).mappings())
        rows.sort(key=lambda r: tuple(r[column.name] for column in order))
        return [_delivery(row) for row in rows]

    async def release_deliveries(
        self, holder: str, keys: Iterable[tuple[str, Destination]]
    ) -> None:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return
        async with self._transaction(f"release deliveries held by {holder}") as conn:
            await _release_deliveries(conn, holder, wanted)

    async def failed_deliveries(self, since: datetime) -> list[Delivery]:
        c = deliveries.c
        query = (
            select(deliveries)
            .where(c.status == DeliveryStatus.FAILED, c.updated >= since)
            .order_by(c.updated.desc(), c.story_id)
        )
        return await self._deliveries(query)

    async def save_digest(self, record: DigestRecord) -> None:
        row = {
            "id": record.digest.id,
            **_destination_row(record.destination),
            "digest": codec.to_json(record.digest),
            "created": record.digest.created,
            "updated": self._clock(),
            "status": record.status,
            "message_id": record.message_id,
            "error": record.error,
            "attempts": record.attempts,
            "next_attempt": record.next_attempt,
        }
        async with self._transaction("save a digest") as conn:
            await self._upsert(conn, digests, [row])

    async def get_digest(self, digest_id: str, destination: Destination) -> DigestRecord | None:
        async with self._transaction("read a digest", write=False) as conn:
            where = and_(digests.c.id == digest_id, _at(digests, destination))
            row = (await conn.execute(select(digests).where(where))).mappings().first()
        return _digest_record(row) if row else None

    # subscriptions and mutes -------------------------------------------------------------------
    async def add_subscription(self, subscription: Subscription) -> bool:
        row = {
            "platform": subscription.platform,
            "workspace": subscription.workspace,
            "subscriber": subscription.subscriber,
            "channel": subscription.channel,
            "topic": subscription.topic,
            "mode": subscription.mode,
            "created": subscription.created or self._clock(),
        }
        async with self._transaction("save a subscription") as conn:
            added = await conn.execute(
                self._insert(subscriptions).values(row).on_conflict_do_nothing()
            )
            if added.rowcount == 1:
                return True
            c = subscriptions.c
            await conn.execute(
                update(subscriptions)
                .where(
                    c.platform == subscription.platform,
                    c.workspace == subscription.workspace,
                    c.subscriber == subscription.subscriber,
                    c.channel == subscription.channel,
                    c.topic == subscription.topic,
                )
                .values(mode=subscription.mode)
            )
            return False

    async def remove_subscription(
        self, platform: str, workspace: str, subscriber: str, topic: str, channel: bool
    ) -> bool:
        c = subscriptions.c
        async with self._transaction("remove a subscription") as conn:
            result = await conn.execute(
                delete(subscriptions).where(
                    c.platform == platform,
                    c.workspace == workspace,
                    c.subscriber == subscriber,
                    c.channel == channel,
                    c.topic == topic,
                )
            )
            return result.rowcount > 0

    async def subscriptions_of(
        self, platform: str, workspace: str, subscriber: str, channel: bool
    ) -> list[Subscription]:
        c = subscriptions.c
        query = (
            select(subscriptions)
            .where(
                c.platform == platform,
                c.workspace == workspace,
                c.subscriber == subscriber,
                c.channel == channel,
            )
            .order_by(c.topic)
        )
        async with self._transaction("read subscriptions", write=False) as conn:
            return [Subscription(**row) for row in (await conn.execute(query)).mappings()]

    async def decision_context(
        self,
        topics: Sequence[str],
        story_ids: Sequence[str],
        mutes_at: datetime,
    ) -> DeskContext:
        # One transaction for the three reads: a decision runs per poll (and per replayed hour),
        # and each transaction is a round trip to the database (a thread hop for SQLite).
        async with self._transaction("read what the desk needs", write=False) as conn:
            subs = await _subscriptions_to(conn, topics)
            muted = await _active_mutes(conn, mutes_at)
            stored: list[Delivery] = []
            for chunk in _chunks(list(dict.fromkeys(story_ids))):
                query = select(deliveries).where(deliveries.c.story_id.in_(chunk))
                stored.extend(_delivery(row) for row in (await conn.execute(query)).mappings())
        return DeskContext(
            subscriptions=tuple(subs),
            mutes=tuple(muted),
            deliveries={(d.story_id, d.destination): d for d in stored},
        )

    async def recent_deliveries(
        self, destinations: Collection[Destination], since: datetime
    ) -> dict[Destination, tuple[datetime, ...]]:
        c = deliveries.c
        found: dict[Destination, tuple[datetime, ...]] = {}
        async with self._transaction("read recent deliveries", write=False) as conn:
            for destination in sorted(destinations, key=lambda d: d.label):
                query = select(c.created).where(_at(deliveries, destination), c.created >= since)
                times = sorted(row.created for row in await conn.execute(query))
                found[destination] = tuple(times)
        return found

    async def subscriptions_to(self, topics: Sequence[str]) -> list[Subscription]:
        async with self._transaction("read subscriptions", write=False) as conn:
            return await _subscriptions_to(conn, topics)

    async def set_mute(self, mute: Mute) -> None:
        row = {
            "platform": mute.platform,
            "workspace": mute.workspace,
            "subject": mute.subject,
            "until": mute.until,
        }
        async with self._transaction("save a mute") as conn:
            await self._upsert(conn, mutes, [row])

    async def clear_mute(self, platform: str, workspace: str, subject: str) -> bool:
        c = mutes.c
        async with self._transaction("clear a mute") as conn:
            result = await conn.execute(
                delete(mutes).where(
                    c.platform == platform, c.workspace == workspace, c.subject == subject
                )
            )
            return result.rowcount > 0

    async def active_mutes(self, now: datetime) -> list[Mute]:
        async with self._transaction("read mutes", write=False) as conn:
            return await _active_mutes(conn, now)

    # meta --------------------------------------------------------------------------------------
    async def get_meta(self, key: str) -> str | None:
        async with self._transaction("read state", write=False) as conn:
            value = await conn.scalar(select(meta.c.value).where(meta.c.key == key))
        return None if value is None else str(value)

    async def set_meta(self, key: str, value: str) -> None:
        async with self._transaction("save state") as conn:
            await self._upsert(conn, meta, [{"key": key, "value": value}])

    # leader leases -----------------------------------------------------------------------------
    async def take_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        if ttl <= timedelta(0):
            raise ValueError(f"a lease must last longer than zero (got {ttl})")
        insert = self._insert(leases).values(name=name, holder=holder, until=now + ttl)
        take = insert.on_conflict_do_update(
            index_elements=[leases.c.name],
            set_={"holder": insert.excluded.holder, "until": insert.excluded.until},
            where=or_(leases.c.until <= now, leases.c.holder == holder),
        ).returning(leases.c.name)
        async with self._transaction(f"take the {name} lease for {holder}") as conn:
            return (await conn.execute(take)).first() is not None

    async def drop_lease(self, name: str, holder: str) -> bool:
        async with self._transaction(f"drop the {name} lease of {holder}") as conn:
            result = await conn.execute(
                delete(leases).where(leases.c.name == name, leases.c.holder == holder)
            )
            return result.rowcount > 0

    async def lease_holder(self, name: str, now: datetime) -> str | None:
        query = select(leases.c.holder).where(leases.c.name == name, leases.c.until > now)
        async with self._transaction(f"read the {name} lease", write=False) as conn:
            holder = await conn.scalar(query)
        return None if holder is None else str(holder)

    # internals ---------------------------------------------------------------------------------
    def _create_engine(self) -> AsyncEngine:
        if self.backend == "postgresql":
            return self._create_postgres_engine()
        url, memory = self._url, is_memory(self._url)
        if not memory:
            url = url.set(database=str(self._sqlite_path(url)))
        engine = (
            create_async_engine(url, poolclass=StaticPool) if memory else (create_async_engine(url))
        )
        busy_ms = min(SQLITE_BUSY_TIMEOUT_MS, int(self._timeout * 800))
        _configure_sqlite(engine, wal=not memory, busy_timeout_ms=max(busy_ms, 1))
        return engine

    def _create_postgres_engine(self) -> AsyncEngine:
        """The engine, with a deadline at every layer the transaction deadline cannot reach.

        The client deadline (``_transaction``) is the sure one. The rest make the other side
        and the kernel give up too: the server cancels a statement or an abandoned transaction
        (and frees its locks) after the same time; the driver bounds connect and every command,
        including the rollback of a connection handed back to the pool; TCP keepalive on both
        ends notices a dead peer under an idle pooled connection.
        """
        seconds = self._timeout
        keepalive = _keepalive(seconds)
        engine = create_async_engine(
            self._url,
            pool_pre_ping=True,
            pool_timeout=seconds,
            pool_recycle=POOL_RECYCLE_S,
            connect_args={
                "timeout": seconds,
                "command_timeout": seconds,
                "server_settings": {
                    "application_name": "talks-bot",
                    "statement_timeout": str(_ms(seconds)),
                    "idle_in_transaction_session_timeout": str(_ms(seconds)),
                    "tcp_keepalives_idle": str(keepalive.idle),
                    "tcp_keepalives_interval": str(keepalive.interval),
                    "tcp_keepalives_count": str(keepalive.count),
                },
            },
        )
        idle = self._idle

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            _set_keepalive(dbapi_connection.driver_connection, keepalive, seconds)

        @event.listens_for(engine.sync_engine, "checkin")
        def _on_checkin(dbapi_connection: Any, _record: Any) -> None:
            if dbapi_connection is not None and dbapi_connection.driver_connection is not None:
                idle.add(dbapi_connection.driver_connection)

        @event.listens_for(engine.sync_engine, "checkout")
        def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            idle.discard(dbapi_connection.driver_connection)

        return engine

    def _expire(self, held: Sequence[Any]) -> None:
        """A transaction's deadline: cut the connection it holds, if any, and the idle ones."""
        self._cut_idle(*held)

    def _cut_idle(self, *also: Any) -> None:
        """Abort the sockets of every idle pooled connection (and of ``also``) without a word to
        the server: closing politely would wait for an answer that is not coming. The pool finds
        them closed at the next checkout and connects afresh."""
        for driver in [*self._idle, *also]:
            terminate = getattr(driver, "terminate", None)
            if terminate is not None:
                with contextlib.suppress(Exception):
                    terminate()
        self._idle.clear()

    async def _use_wal(self, engine: AsyncEngine) -> None:
        """Switch the file to write-ahead logging (persistent), so readers never block writers.

        Done once per open, outside any transaction. The switch needs a moment of exclusive
        access and SQLite does not wait for it, so a bot starting beside another one retries.
        """
        try:
            async with engine.connect() as conn:
                raw = (await conn.get_raw_connection()).driver_connection
                assert raw is not None, "aiosqlite connection expected"
                for attempt in itertools.count(1):
                    try:
                        cursor = await raw.execute("PRAGMA journal_mode = WAL")
                        await cursor.close()
                        return
                    except sqlite3.OperationalError as exc:
                        if "locked" not in str(exc) or attempt >= WAL_SWITCH_ATTEMPTS:
                            raise
                        await asyncio.sleep(0.05)
        except (*_DRIVER_ERRORS, sqlite3.Error) as exc:
            raise self._unreachable(exc) from exc

    def _sqlite_path(self, url: URL) -> Path:
        path = Path(url.database or "").expanduser()
        if path.is_dir():
            raise StoreError(
                f"database path {path} is a folder, not a SQLite file — "
                "give a file path such as data/talks.db"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder for the SQLite database {path}: {exc.strerror} — "
                "choose a writable path"
            ) from exc
        return path

    @asynccontextmanager
    async def _transaction(
        self, action: str, *, write: bool = True, limit: float | None = None
    ) -> AsyncIterator[AsyncConnection]:
        """One transaction, all of it (checkout, statements, commit) within ``limit`` seconds
        (default: the store's timeout), or ``StoreError``.

        On expiry the task is cancelled where it waits; SQLAlchemy invalidates a connection
        interrupted that way, so it never returns to the pool. At the same instant its socket,
        and those of the idle pooled connections, are aborted (``_cut_idle``), which spares the
        invalidation its polite close to a server that will not answer. An in-memory SQLite
        database has no deadline: it cannot go silent, and invalidating its only connection would
        wipe it.
        """
        engine = self._engine if write else self._reader
        if engine is None:
            raise StoreError("the store is not open: call open() before using it")
        seconds = limit or self._timeout
        postgres = self.backend == "postgresql"
        held: list[Any] = []
        loop = asyncio.get_running_loop()
        scope = asyncio.timeout(None if is_memory(self._url) else seconds)
        try:
            async with scope:
                when = scope.when()
                cut = (
                    None if when is None or not postgres else loop.call_at(when, self._expire, held)
                )
                try:
                    try:
                        conn = await engine.connect()
                    except _DRIVER_ERRORS as exc:
                        raise self._unreachable(exc) from exc
                    try:
                        if cut is not None:
                            held.append((await conn.get_raw_connection()).driver_connection)
                        async with conn.begin():
                            yield conn
                    except StoreError:
                        raise
                    except _DRIVER_ERRORS as exc:
                        reason = self._reason(exc)
                        raise StoreError(
                            f"could not {action} in the database at {self.url}: {reason}",
                            dropped=session_dropped(exc),
                        ) from exc
                    finally:
                        await conn.close()
                finally:
                    if cut is not None:
                        cut.cancel()
        except (TimeoutError, StoreError) as exc:
            if scope.expired():
                raise self._silent(action, seconds) from exc
            raise

    def _silent(self, action: str, seconds: float) -> StoreError:
        return StoreError(
            f"could not {action} in the database at {self.url}: no answer within {seconds:g}s "
            "(store.timeout); its connections were dropped and the next attempt opens new ones "
            "— check that the database server is up and the network path to it"
        )

    def _unreachable(self, exc: BaseException) -> StoreError:
        cause = getattr(exc, "orig", None) or exc
        if self.backend == "postgresql" and session_dropped(exc):
            return StoreError(
                f"database unreachable at {self.url}: {self._reason(exc)} — the server ended "
                "the session (a restart or a failover?)",
                dropped=True,
            )
        if self.backend == "postgresql":
            if isinstance(cause, socket.gaierror):
                hint = "check the host name in the URL"
            elif isinstance(cause, OSError):
                hint = "is PostgreSQL running and listening there?"
            else:
                hint = "check the user, password and database name in the URL"
        else:
            hint = "check the path is a writable SQLite file"
        return StoreError(f"database unreachable at {self.url}: {self._reason(exc)} — {hint}")

    def _reason(self, exc: BaseException) -> str:
        """One line from a driver error, with any secret of the URL masked."""
        cause = getattr(exc, "orig", None) or exc
        if isinstance(cause, ConnectionRefusedError):
            reason = "connection refused"
        elif isinstance(cause, TimeoutError):
            reason = "connection timed out"
        elif isinstance(cause, socket.gaierror):
            reason = f"host name not found ({cause.strerror})"
        elif isinstance(cause, OSError) and cause.strerror:
            reason = cause.strerror[:1].lower() + cause.strerror[1:]
        else:
            lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
            reason = _CLASS_PREFIX.sub("", lines[0]) if lines else type(cause).__name__
        for secret in self._secrets:
            reason = reason.replace(secret, "***")
        return reason[:300]

    async def _next_change(self, conn: AsyncConnection) -> int:
        """The change number of this transaction's story writes: above every committed one."""
        if self.backend == "postgresql":
            # One round trip: the materialised CTE is scanned (the lock taken) before the row
            # that draws the number is computed.
            drawn = await conn.scalar(_LOCKED_NEXT_CHANGE, {"key": STORY_CHANGES_LOCK_KEY})
            return int(drawn or 0)
        # SQLite: one writing process per file (the writer lock), and its write transactions
        # (BEGIN IMMEDIATE) run one at a time, so the table's highest number is read once and
        # counted on in memory rather than asked again by every commit.
        # A rolled-back commit leaves a gap, which is allowed: numbers only have to grow.
        if self._last_change is None:
            self._last_change = int(await conn.scalar(_LATEST_CHANGE) or 0)
        self._last_change += 1
        return self._last_change

    def _insert(self, table: Table) -> Any:
        """The dialect's INSERT, which knows ``ON CONFLICT``. Each dialect is imported by the store
        that uses it: PostgreSQL's costs a SQLite process tens of milliseconds of start-up."""
        if self.backend == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(table)
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)

    async def _upsert(
        self,
        conn: AsyncConnection,
        table: Table,
        rows: Sequence[Mapping[str, Any]],
        *,
        keep: Sequence[str] = (),
    ) -> None:
        """Insert ``rows`` or overwrite them by primary key, in one batched statement.

        Columns in ``keep`` are written on insert only. Rows repeating a key: the last one wins.
        """
        if not rows:
            return
        keys = [column.name for column in table.primary_key.columns]
        unique = {tuple(row[k] for k in keys): row for row in rows}
        await conn.execute(self._upsert_statement(table, tuple(keep)), list(unique.values()))

    def _upsert_statement(self, table: Table, keep: tuple[str, ...]) -> Any:
        """The upsert of ``table`` (built once per table and ``keep``: building one costs more
        than running it)."""
        stmt = self._upserts.get((table.name, keep))
        if stmt is None:
            keys = [column.name for column in table.primary_key.columns]
            insert = self._insert(table)
            changed = {
                column.name: insert.excluded[column.name]
                for column in table.columns
                if column.name not in keys and column.name not in keep
            }
            stmt = insert.on_conflict_do_update(index_elements=keys, set_=changed)
            self._upserts[(table.name, keep)] = stmt
        return stmt

    async def _replace_memberships(self, conn: AsyncConnection, changed: Sequence[Story]) -> None:
        """Make the stored reports of ``changed`` stories exactly their ``reports`` tuples.

        A report listed under a story is moved to it; a report a story no longer lists is deleted
        (its story changed its mind about it, e.g. a split). One read, one delete, one upsert.
        """
        wanted = {(r.source, r.key) for story in changed for r in story.reports}
        stale: list[dict[str, str]] = []
        for chunk in _chunks([story.id for story in changed]):
            query = select(reports.c.source, reports.c.key).where(reports.c.story_id.in_(chunk))
            for row in await conn.execute(query):
                if (row.source, row.key) not in wanted:
                    stale.append({"old_source": row.source, "old_key": row.key})
        if stale:
            await conn.execute(
                delete(reports).where(
                    reports.c.source == bindparam("old_source"),
                    reports.c.key == bindparam("old_key"),
                ),
                stale,
            )
        rows = [
            _report_row(story.id, i, r) for story in changed for i, r in enumerate(story.reports)
        ]
        await self._upsert(conn, reports, rows)

    async def _with_reports(
        self, conn: AsyncConnection, rows: Sequence[RowMapping | Mapping[str, Any]]
    ) -> list[Story]:
        """Stories for ``rows``, their reports loaded in one query per chunk of stories."""
        shared = _Shared()
        return await self._assemble(conn, [shared.head(row) for row in rows], shared)

    async def _assemble(
        self, conn: AsyncConnection, heads: Sequence[_Head], shared: _Shared
    ) -> list[Story]:
        """Stories for ``heads`` (``_Shared.head``), with their reports."""
        once = shared.once
        members: dict[str, list[StoryReport]] = {head[0]: [] for head in heads}
        for chunk in _chunks(list(members)):
            query = (
                select(reports)
                .where(reports.c.story_id.in_(chunk))
                .order_by(reports.c.story_id, reports.c.position)
            )
            for r in (await conn.execute(query)).mappings():
                members[r["story_id"]].append(
                    StoryReport(
                        key=r["key"],
                        source=once(r["source"]),
                        outlet=once(r["outlet"]),
                        title=r["title"],
                        url=r["url"],
                        published=r["published"],
                        matched_key=r["matched_key"],
                        similarity=r["similarity"],
                        reason=once(r["reason"]),
                        credit=once(r["credit"]),
                    )
                )
        return [
            Story(
                id=story_id,
                title=title,
                url=url,
                text=text,
                summary=summary,
                published=published,
                updated=updated,
                reports=tuple(members[story_id]),
                scores=scores,
                follows=follows,
            )
            for story_id, title, url, text, summary, published, updated, scores, follows in heads
        ]

    async def _deliveries(self, query: Any) -> list[Delivery]:
        async with self._transaction("read deliveries", write=False) as conn:
            return [_delivery(row) for row in (await conn.execute(query)).mappings()]


STREAM_ROWS = 1000
"""Story rows fetched at a time when a window is read."""

_Head = tuple[str, str, str, str, str, datetime, datetime, tuple[TopicScore, ...], str]
"""A story row read, scores decoded: (id, title, url, text, summary, published, updated, scores,
follows)."""


class _Shared:
    """Equal values read in one load, kept once. A window of stories repeats itself: most
    stories score alike on most topics (stored as the same JSON), and their reports share
    sources, outlets and reasons; all of them are immutable, so one copy can serve them all."""

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}
        self._read: dict[str, tuple[TopicScore, ...]] = {}
        self._scores: dict[TopicScore, TopicScore] = {}

    def once(self, text: str) -> str:
        return self._texts.setdefault(text, text)

    def scores(self, text: str) -> tuple[TopicScore, ...]:
        found = self._read.get(text)
        if found is None:
            decoded = codec.many_from_json(text, TopicScore)
            found = tuple(self._scores.setdefault(s, s) for s in decoded)
            self._read[text] = found
        return found

    def head(self, row: RowMapping | Mapping[str, Any]) -> _Head:
        return (
            row["id"],
            row["title"],
            row["url"],
            row["text"],
            row["summary"],
            row["published"],
            row["updated"],
            self.scores(row["scores"]),
            row["follows"],
        )


async def _subscriptions_to(conn: AsyncConnection, topics: Sequence[str]) -> list[Subscription]:
    found: list[Subscription] = []
    for chunk in _chunks(list(dict.fromkeys(topics))):
        query = select(subscriptions).where(subscriptions.c.topic.in_(chunk))
        found.extend(Subscription(**row) for row in (await conn.execute(query)).mappings())
    found.sort(key=lambda s: (s.topic, s.platform, s.workspace, s.subscriber, s.channel))
    return found


async def _active_mutes(conn: AsyncConnection, now: datetime) -> list[Mute]:
    query = select(mutes).where(mutes.c.until > now).order_by(mutes.c.until, mutes.c.subject)
    return [Mute(**row) for row in (await conn.execute(query)).mappings()]


async def _release_sources(conn: AsyncConnection, holder: str, names: Sequence[str]) -> None:
    c = sources.c
    for chunk in _chunks(names):
        await conn.execute(
            update(sources)
            .where(c.name.in_(chunk), c.lease_holder == holder)
            .values(lease_holder=None, lease_until=None)
        )


async def _release_deliveries(
    conn: AsyncConnection, holder: str, keys: Sequence[tuple[str, Destination]]
) -> None:
    c = deliveries.c
    release = (
        update(deliveries)
        .where(
            *(getattr(c, name) == bindparam(f"k_{name}") for name in DELIVERY_KEY),
            c.lease_holder == bindparam("k_holder"),
        )
        .values(lease_holder=None, lease_until=None)
    )
    params = [
        {
            "k_story_id": story_id,
            **{f"k_{name}": value for name, value in _destination_row(destination).items()},
            "k_holder": holder,
        }
        for story_id, destination in keys
    ]
    await conn.execute(release, params)


def _lease_free(table: Table, now: datetime) -> ColumnElement[bool]:
    """Nobody holds the row, or its holder's lease has run out."""
    return or_(table.c.lease_until.is_(None), table.c.lease_until <= now)


def _due_to_poll(now: datetime) -> ColumnElement[bool]:
    c = sources.c
    return or_(c.next_poll_after.is_(None), c.next_poll_after <= now)


def _due_to_send(now: datetime) -> ColumnElement[bool]:
    """Pending deliveries and sent ones needing an edit, whose next attempt is due."""
    c = deliveries.c
    return and_(
        or_(
            c.status == DeliveryStatus.PENDING,
            and_(c.status == DeliveryStatus.SENT, c.needs_update),
        ),
        or_(c.next_attempt.is_(None), c.next_attempt <= now),
    )


def _poll_order(health: SourceHealth) -> tuple[bool, datetime, str]:
    """Never polled first, then the longest overdue, then by name (the claim's own order)."""
    due = health.next_poll_after
    return (due is not None, due or datetime.min.replace(tzinfo=UTC), health.name)


# rows <-> values -------------------------------------------------------------------------------
def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _source_chunks(
    by_source: Mapping[str, Sequence[str]], size: int = CHUNK
) -> Iterator[list[tuple[str, Sequence[str]]]]:
    """(source, keys) pairs in groups binding at most ``size`` values each (every source's
    name and keys), a source with more keys than that split over groups."""
    group: list[tuple[str, Sequence[str]]] = []
    bound = 0
    for source, keys in by_source.items():
        start = 0
        while start < len(keys):
            room = size - bound - 1
            if room < 1:
                yield group
                group, bound = [], 0
                continue
            part = keys[start : start + room]
            group.append((source, part))
            bound += 1 + len(part)
            start += len(part)
    if group:
        yield group


ANNOUNCED_COLUMNS = ("announced", "announced_at")
"""Written by ``save_announced`` only: a poll that read its health before an announcement was
made must not save the old value over it (the ops channel would hear the news twice)."""
LEASE_COLUMNS = ("lease_holder", "lease_until")
"""Written by the claims and releases only: saving a source's health or a delivery never takes
or gives back a lease another replica holds."""
SOURCE_KEEP = (*ANNOUNCED_COLUMNS, *LEASE_COLUMNS)
DELIVERY_KEEP = ("created", *LEASE_COLUMNS)
HEALTH_COLUMNS = tuple(column for column in sources.columns if column.name not in LEASE_COLUMNS)
"""The columns of ``SourceHealth`` (a source's lease is not part of its health)."""
DELIVERY_KEY = ("story_id", "platform", "workspace", "channel", "direct")


def _source_row(health: SourceHealth) -> dict[str, Any]:
    return {column.name: getattr(health, column.name) for column in HEALTH_COLUMNS}


def _story_row(story: Story) -> dict[str, Any]:
    return {
        "id": story.id,
        "title": story.title,
        "url": story.url,
        "text": story.text,
        "summary": story.summary,
        "published": story.published,
        "updated": story.updated,
        "scores": codec.many_to_json(story.scores),
        "follows": story.follows,
    }


def _report_row(story_id: str, position: int, report: StoryReport) -> dict[str, Any]:
    return {
        "source": report.source,
        "key": report.key,
        "story_id": story_id,
        "position": position,
        "outlet": report.outlet,
        "title": report.title,
        "url": report.url,
        "published": report.published,
        "matched_key": report.matched_key,
        "similarity": report.similarity,
        "reason": report.reason,
        "credit": report.credit,
    }


def _destination_row(destination: Destination) -> dict[str, Any]:
    return {
        "platform": destination.platform,
        "workspace": destination.workspace,
        "channel": destination.channel,
        "direct": destination.direct,
    }


def _destination(row: Mapping[Any, Any]) -> Destination:
    return Destination(
        platform=row["platform"],
        channel=row["channel"],
        workspace=row["workspace"],
        direct=bool(row["direct"]),
    )


def _at(table: Table, destination: Destination) -> ColumnElement[bool]:
    c = table.c
    return and_(
        c.platform == destination.platform,
        c.workspace == destination.workspace,
        c.channel == destination.channel,
        c.direct == destination.direct,
    )


def _delivery_row(delivery: Delivery, now: datetime) -> dict[str, Any]:
    return {
        "story_id": delivery.story_id,
        **_destination_row(delivery.destination),
        "status": delivery.status,
        "message_id": delivery.message_id,
        "digest_id": delivery.digest_id,
        "error": delivery.error,
        "attempts": delivery.attempts,
        "next_attempt": delivery.next_attempt,
        "created": delivery.created or now,
        "updated": delivery.updated or now,
        "outlets": delivery.outlets,
        "title": delivery.title,
        "alert": codec.to_json(delivery.alert) if delivery.alert is not None else None,
        "needs_update": delivery.needs_update,
        # The ``extra`` column keeps small per-delivery notes as JSON (no migration per note).
        "extra": _delivery_extra(delivery),
    }


def _delivery_extra(delivery: Delivery) -> str:
    """The ``extra`` notes: the digest being sent, and the alert's thread (what it shows)."""
    extra: dict[str, Any] = {}
    if delivery.planned_digest:
        extra["digest"] = delivery.planned_digest
    if delivery.thread is not None:
        extra["thread"] = codec.plain(delivery.thread)
    return json.dumps(extra, ensure_ascii=False, sort_keys=True)


def _delivery(row: Mapping[Any, Any]) -> Delivery:
    alert = row["alert"]
    extra = json.loads(row["extra"] or "{}")
    thread = extra.get("thread")
    return Delivery(
        story_id=row["story_id"],
        destination=_destination(row),
        status=DeliveryStatus(row["status"]),
        message_id=row["message_id"],
        digest_id=row["digest_id"],
        error=row["error"],
        created=row["created"],
        updated=row["updated"],
        outlets=row["outlets"],
        title=row["title"],
        attempts=row["attempts"],
        planned_digest=extra.get("digest"),
        alert=codec.from_json(alert, Alert) if alert is not None else None,
        needs_update=bool(row["needs_update"]),
        next_attempt=row["next_attempt"],
        thread=codec.from_plain(thread, ThreadState) if thread is not None else None,
    )


def _digest_record(row: Mapping[Any, Any]) -> DigestRecord:
    return DigestRecord(
        digest=codec.from_json(row["digest"], Digest),
        destination=_destination(row),
        status=row["status"],
        message_id=row["message_id"],
        error=row["error"],
        attempts=row["attempts"],
        next_attempt=row["next_attempt"],
    )


# PostgreSQL connection setup -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Keepalive:
    idle: int
    """Seconds of silence before the first probe."""
    interval: int
    """Seconds between probes."""
    count: int
    """Unanswered probes before the peer is declared dead."""


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _keepalive(deadline: float) -> _Keepalive:
    """Probes that declare a silent peer dead about two deadlines after it went quiet."""
    return _Keepalive(idle=max(1, round(deadline)), interval=max(1, round(deadline / 3)), count=3)


def _set_keepalive(driver: Any, keepalive: _Keepalive, deadline: float) -> None:
    """TCP keepalive, and a limit on unacknowledged data, on a new asyncpg connection's socket.

    asyncpg has no option for it, so the socket is taken from its transport; when a future
    asyncpg hides it, the connection simply goes without (the transaction deadline still holds).
    ``TCP_USER_TIMEOUT`` (Linux) makes the kernel drop a connection whose sent data goes
    unacknowledged for a deadline: a write into a dead link fails instead of waiting.
    """
    transport = getattr(driver, "_transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    options = [
        (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
        (socket.IPPROTO_TCP, getattr(socket, "TCP_KEEPIDLE", None), keepalive.idle),
        (socket.IPPROTO_TCP, getattr(socket, "TCP_KEEPINTVL", None), keepalive.interval),
        (socket.IPPROTO_TCP, getattr(socket, "TCP_KEEPCNT", None), keepalive.count),
        (socket.IPPROTO_TCP, getattr(socket, "TCP_USER_TIMEOUT", None), _ms(deadline)),
    ]
    for level, option, value in options:
        if option is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(level, option, value)


# SQLite connection setup -----------------------------------------------------------------------
def _configure_sqlite(engine: AsyncEngine, *, wal: bool, busy_timeout_ms: int) -> None:
    """Pragmas on every new connection, and BEGIN under our control (WAL is set by ``open``).

    Python's sqlite3 module starts transactions lazily and not before DDL, which would let a
    migration half-apply. We switch that off and emit BEGIN ourselves: ``BEGIN IMMEDIATE`` for
    writes, so a writer waits (busy_timeout) for the write lock up front instead of failing when
    it upgrades a read lock; plain ``BEGIN`` for reads, which WAL never blocks.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if wal:
            cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL, much faster
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        sql = "BEGIN" if read_only else "BEGIN IMMEDIATE"
        # Straight to the driver: one trip to aiosqlite's thread instead of a statement's
        # three (cursor, execute, close), on every transaction.
        try:
            await_only(conn.connection.driver_connection.execute(sql))
        except sqlite3.Error as exc:
            raise OperationalError(sql, None, exc) from exc
