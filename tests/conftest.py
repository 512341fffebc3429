"""Shared database fixtures: every storage test runs on SQLite and on PostgreSQL.

``store``            an open ``SQLStore`` on an empty database, parametrised ``sqlite`` and
                     ``postgres``; closed after the test, failing it if a connection leaked.
``database_url``     a fresh empty database URL, parametrised the same way (not opened).
``postgres_url``     a fresh empty PostgreSQL database for one test, dropped afterwards; tests
                     using it should carry ``@pytest.mark.postgres``.
``postgres_server``  (session) the server URL, from ``TALKS_BOT_TEST_POSTGRES_URL`` (default
                     ``postgresql://postgres@127.0.0.1:5432/postgres``).

When no server answers, PostgreSQL cases are skipped with the reason shown under ``pytest -ra``;
with ``TALKS_BOT_REQUIRE_POSTGRES=1`` (CI) they fail instead.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bot.store import SQLStore, describe_url
from bot.store.schema import metadata
from bot.store.url import normalise_url
from tests.bot_process import rss
from tests.chat.slack.fake_slack import FakeSlack
from tests.ingest.servers import FeedServer

T = TypeVar("T")

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run admin work on its own loop in a worker thread (safe inside async fixtures too)."""
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, coro).result()


def _driver_dsn(url: str) -> str:
    """``url`` as asyncpg wants it (no ``+asyncpg`` driver suffix)."""
    return normalise_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def _execute(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(_driver_dsn(url), timeout=5)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def _unreachable_reason(url: str) -> str | None:
    try:
        _run(_execute(url, "SELECT 1"))
    except ConnectionRefusedError:
        return "connection refused"
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        password = make_url(url).password
        return reason.replace(str(password), "***") if password else reason
    return None


def _start_local_cluster(url: str) -> bool:
    """Try once to start an installed but stopped local cluster; True when a start succeeded."""
    host = make_url(_driver_dsn(url)).host or "localhost"
    clusters = Path("/etc/postgresql")
    if host not in {"127.0.0.1", "localhost", "::1"} or not shutil.which("pg_ctlcluster"):
        return False
    if not clusters.is_dir():
        return False
    started = False
    for version in sorted(p.name for p in clusters.iterdir()):
        command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"]
        try:
            done = subprocess.run(command, capture_output=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        started = started or done.returncode == 0
    return started


@pytest.fixture(scope="session")
def postgres_server() -> str:
    url = os.environ.get("TALKS_BOT_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    reason = _unreachable_reason(url)
    if reason is not None and _start_local_cluster(url):
        for _ in range(20):
            reason = _unreachable_reason(url)
            if reason is None:
                break
            time.sleep(0.5)
    if reason is not None:
        message = (
            f"PostgreSQL not reachable at {describe_url(url)}: {reason}; "
            "set TALKS_BOT_TEST_POSTGRES_URL or start a server"
        )
        if os.environ.get("TALKS_BOT_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return url


def _fresh_database(server: str) -> str:
    name = f"talks_test_{os.getpid()}_{secrets.token_hex(4)}"
    _run(_execute(server, f'CREATE DATABASE "{name}"'))
    return name


def _drop_database(server: str, name: str) -> None:
    _run(_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    name = _fresh_database(postgres_server)
    try:
        yield _with_database(postgres_server, name)
    finally:
        _drop_database(postgres_server, name)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'talks.db'}"


@pytest.fixture(scope="session")
def _postgres_store_database(postgres_server: str) -> Iterator[str]:
    """One migrated database shared by every ``store[postgres]`` test, emptied before each."""
    name = _fresh_database(postgres_server)
    url = _with_database(postgres_server, name)

    async def migrate() -> None:
        store = SQLStore(url)
        await store.open()
        await store.close()

    try:
        _run(migrate())
        yield url
    finally:
        _drop_database(postgres_server, name)


@pytest.fixture(params=BACKENDS)
def _store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'talks.db'}"
    url = str(request.getfixturevalue("_postgres_store_database"))
    tables = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    _run(_execute(url, f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return url


@pytest.fixture
async def store(_store_url: str) -> AsyncIterator[SQLStore]:
    opened = SQLStore(_store_url)
    await opened.open()
    try:
        yield opened
        engine = opened.engine
        if engine is not None:
            leaked = engine.pool.checkedout()  # type: ignore[attr-defined]
            assert leaked == 0, f"{leaked} database connection(s) left checked out"
    finally:
        await opened.close()


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """The fake Slack Web API on 127.0.0.1, for any test that posts to Slack."""
    server = FakeSlack()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


LEVANT_CAIRO = (
    "lw-cairo-1",
    "Hamas delegation arrives in Cairo for new round of truce talks",
    "Egyptian mediators met the delegation on Monday evening to push for a truce in Gaza.",
)


@pytest.fixture
def levant_feed() -> Iterator[FeedServer]:
    """One local feed, ``/levant.xml`` from "Levant Wire", holding one Cairo-talks report
    published half an hour ago: the smallest desk a ``talks-bot run`` test can watch."""
    published = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    with FeedServer() as server:
        server.serve("/levant.xml", rss("Levant Wire", [(*LEVANT_CAIRO, published)]))
        yield server
