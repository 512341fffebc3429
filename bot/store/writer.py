"""One writing process per database: a second ``run`` or ``poll-once`` is refused, not doubled.

Two processes writing one database each keep their own desk (the dedup window lives in memory)
and their own courier: they split one development into two stories and send the same pending
delivery twice. That is what a rolling deploy's overlap or a cron ``poll-once`` beside ``run``
looks like, so every writing command holds a lock for as long as it runs and the second one to
start says so in one line and exits.

SQLite: an exclusive ``flock`` on ``<database>.lock`` beside the file (not on the database file
itself: closing any descriptor of a file drops the process's POSIX locks on it, which SQLite
relies on). The kernel releases it when the process ends, however it ends.

PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a connection of its own, held
open for the life of the process; the server releases it when that session ends. A restart or
``pg_terminate_backend`` ends it under a running bot, so ``check`` (every few seconds while the
bot runs) takes it again on a new session, or raises ``AnotherWriter`` when another process got
it in between: the bot then stops rather than write beside it.

Readers (``status``, ``why``) take no lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.core.messages import another_writer, writer_lock_failed
from bot.errors import StoreError
from bot.store.sql import session_dropped
from bot.store.url import describe_url, is_memory, normalise_url, secrets_of


class AnotherWriter(StoreError):
    """Another talks-bot process is writing to this database."""


class WriterLock(Protocol):
    async def acquire(self) -> None:
        """Take the lock or raise ``AnotherWriter`` (``StoreError`` if it cannot be asked)."""

    async def release(self) -> None:
        """Give the lock back; releasing a lock not held does nothing."""

    async def check(self) -> None:
        """Still held? Take it again if its session died; ``AnotherWriter`` if someone else
        holds it now; ``StoreError`` if the database cannot be asked (try again later)."""


class _NoLock:
    """An in-memory database belongs to its process: nothing to share, nothing to lock."""

    async def acquire(self) -> None:
        return None

    async def release(self) -> None:
        return None

    async def check(self) -> None:
        return None


class FileLock:
    """An exclusive ``flock`` on ``<database>.lock``; the holder's pid is written into it."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = database.with_name(database.name + ".lock")
        self._fd: int | None = None

    async def acquire(self) -> None:
        if self._fd is not None:
            return
        try:
            # The store creates a new database's folder; the lock beside it comes first.
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(writer_lock_failed(str(self.path), exc.strerror or str(exc))) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise AnotherWriter(another_writer(str(self.database), holder)) from None
        except OSError as exc:
            os.close(fd)
            raise StoreError(writer_lock_failed(str(self.path), exc.strerror or str(exc))) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    async def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)

    async def check(self) -> None:
        return None  # the kernel holds it for as long as the process lives


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(os.pread(fd, 32, 0).decode().strip() or "x")
    return None


ADVISORY_NAMESPACE = "talks-bot writer"
CHECK_TIMEOUT_SECONDS = 5.0
"""How long the lock's session may take to answer ``check`` before it counts as dead."""


def advisory_key(database: str) -> int:
    """A stable signed 64-bit key for this database's writer lock."""
    digest = hashlib.sha256(f"{ADVISORY_NAMESPACE}:{database}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLock:
    """A PostgreSQL session advisory lock on a connection kept for the purpose."""

    def __init__(self, url: str) -> None:
        self._url = normalise_url(url)
        self._shown = describe_url(url)
        self._secrets = secrets_of(self._url)
        self._engine: AsyncEngine | None = None
        self._conn: AsyncConnection | None = None

    async def acquire(self) -> None:
        if self._conn is not None:
            return
        engine = create_async_engine(self._url, poolclass=NullPool)
        key = advisory_key(self._url.database or "")
        try:
            conn = await engine.connect()
            try:
                got = (
                    await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
                ).scalar()
                holder = None
                if not got:
                    holder = (
                        await conn.execute(
                            text(
                                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND "
                                "granted AND objsubid = 1 AND classid::bigint = :high AND "
                                "objid::bigint = :low LIMIT 1"
                            ),
                            {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF},
                        )
                    ).scalar()
                await conn.commit()
            except BaseException:
                await conn.close()
                raise
        except Exception as exc:
            await engine.dispose()
            reason = self._scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise StoreError(
                writer_lock_failed(self._shown, reason, server=True), dropped=session_dropped(exc)
            ) from None
        if not got:
            await conn.close()
            await engine.dispose()
            raise AnotherWriter(another_writer(self._shown, None, session=holder))
        self._engine, self._conn = engine, conn

    async def check(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                await conn.execute(text("SELECT 1"))
                await conn.commit()
            return
        except Exception:  # the session is gone (or silent): the lock went with it
            await self.release()
        await self.acquire()

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        engine, self._engine = self._engine, None
        if conn is not None:
            # Closing the session releases the lock; a dead link releases it server-side too.
            with contextlib.suppress(Exception):
                await conn.close()
        if engine is not None:
            await engine.dispose()

    def _scrub(self, message: str) -> str:
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return message


def writer_lock(location: str) -> WriterLock:
    """The lock that keeps a second writing process off the database at ``location``."""
    url = normalise_url(location)
    if url.get_backend_name() == "postgresql":
        return AdvisoryLock(location)
    if is_memory(url):
        return _NoLock()
    return FileLock(Path(url.database or "").expanduser().absolute())
