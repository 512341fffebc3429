"""PostgreSQL behind a link that goes silent (no FIN, no RST): every store call has a deadline,
dead connections are dropped, and the bot delivers what was pending once the link heals.

Reproduce::

    .venv/bin/pytest -s tests/faults/test_silent_database.py
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.app import TalksBot
from bot.config import load_config
from bot.errors import StoreError
from bot.store import SQLStore
from tests.bot_process import rss, write_config
from tests.faults.blackhole import SilentLink
from tests.ingest.servers import FeedServer

pytestmark = pytest.mark.postgres

DEADLINE = 1.5


@pytest.fixture
async def link(postgres_url: str) -> AsyncIterator[SilentLink]:
    url = make_url(postgres_url)
    async with SilentLink(url.host or "127.0.0.1", url.port or 5432) as proxy:
        yield proxy


def through(postgres_url: str, link: SilentLink) -> str:
    url = make_url(postgres_url).set(host="127.0.0.1", port=link.port)
    return url.render_as_string(hide_password=False)


async def test_a_store_call_on_a_silent_link_fails_within_the_deadline(
    postgres_url: str, link: SilentLink
) -> None:
    store = SQLStore(through(postgres_url, link), timeout=DEADLINE)
    await store.open()
    try:
        await asyncio.gather(*(store.set_meta(f"k{i}", "v") for i in range(3)))
        link.silence()
        started = time.monotonic()
        with pytest.raises(StoreError, match=r"no answer within 1\.5s"):
            await asyncio.wait_for(store.get_meta("k0"), DEADLINE * 4)
        assert time.monotonic() - started < DEADLINE + 0.5
    finally:
        await asyncio.wait_for(store.close(), DEADLINE * 3)


async def test_after_the_link_heals_the_next_calls_use_fresh_connections(
    postgres_url: str, link: SilentLink
) -> None:
    store = SQLStore(through(postgres_url, link), timeout=DEADLINE)
    await store.open()
    try:
        await asyncio.gather(*(store.set_meta(f"k{i}", "v") for i in range(4)))
        link.silence()
        failed = await asyncio.gather(
            *(asyncio.wait_for(store.get_meta("k0"), DEADLINE * 4) for _ in range(3)),
            return_exceptions=True,
        )
        assert all(isinstance(f, StoreError) for f in failed), failed
        link.heal()
        started = time.monotonic()
        values = await asyncio.gather(
            *(asyncio.wait_for(store.get_meta(f"k{i}"), DEADLINE * 4) for i in range(4))
        )
        assert values == ["v"] * 4
        assert time.monotonic() - started < 1.0, "no dead pooled connection was tried again"
        assert store.engine is not None
        assert store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await asyncio.wait_for(store.close(), DEADLINE * 3)


async def test_a_poll_stuck_past_its_interval_is_reported_once_not_per_tick(
    postgres_url: str,
    link: SilentLink,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with FeedServer() as feeds:
        feeds.serve("/levant.xml", rss("Levant Wire", []))
        config = write_config(
            tmp_path,
            {"levant": (feeds.url("/levant.xml"), "Levant Wire")},
            extra='[store]\ntimeout = "4s"\n\n[[routes]]\nplatform = "console"\nchannel = "desk"\n',
        )
        monkeypatch.setenv("TALKS_BOT_DATABASE_URL", through(postgres_url, link))
        settings = load_config(config, env_file=None)
        caplog.set_level(logging.INFO)
        async with TalksBot(settings, output="jsonl", out=io.StringIO()) as bot:
            stop = asyncio.Event()
            running = asyncio.create_task(bot.run(stop))
            while bot._scheduler is None:  # noqa: ASYNC110 -- silent once run() read the sources
                await asyncio.sleep(0.005)
            link.silence()
            await asyncio.sleep(3.5)  # the first poll is stuck; its 1s interval passed 3 times
            link.heal()
            stuck = [r.getMessage() for r in caplog.records if "stuck" in r.getMessage()]
            skipped = [r for r in caplog.records if "maximum number of running" in r.getMessage()]
            stop.set()
            await asyncio.wait_for(running, 20)
    assert len(stuck) == 1, stuck
    assert "poll of levant stuck" in stuck[0]
    assert "waiting for the database" in stuck[0]
    assert not skipped, "APScheduler's per-tick warnings are silenced for polls"
