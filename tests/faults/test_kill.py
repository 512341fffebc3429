"""SIGKILL the running bot again and again, at random moments and at the worst ones; every alert
still reaches every channel exactly once.

The worst moment is right after Slack has posted a message and before the bot hears back: the
fake kills the bot from inside its ``chat.postMessage`` handler, so the post exists and the bot's
store still says "pending". The restarted bot must find that message instead of posting again.

Reproduce (the seed and the number of kills can be changed)::

    TALKS_BOT_FAULT_SEED=7 TALKS_BOT_FAULT_KILLS=24 .venv/bin/pytest -s tests/faults/test_kill.py
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.faults.harness import (
    DEVELOPMENTS,
    Desk,
    FaultySlack,
    Newsroom,
    describe,
    desk_config,
    free_port,
    until_all_delivered,
)
from tests.ingest.servers import FeedServer

SEED = int(os.environ.get("TALKS_BOT_FAULT_SEED", "7"))
KILLS = int(os.environ.get("TALKS_BOT_FAULT_KILLS", "24"))

# Where a kill lands: after a random delay (start-up, polling, deciding, delivering), or exactly
# when Slack has handled a call the bot will never see answered.
KILL_POINTS = {
    "timer": 5,
    "chat.postMessage": 4,
    "chat.update": 1,
    "conversations.history": 1,
}


@pytest.fixture
async def slack() -> AsyncIterator[FaultySlack]:
    server = FaultySlack()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


async def kill_somewhere(
    desk: Desk, slack: FaultySlack, rng: random.Random, kinds: Counter[str]
) -> None:
    """One life of the bot, ended by SIGKILL at a point drawn from ``KILL_POINTS``."""
    bot = desk.start()
    assert bot.process is not None
    pid = bot.process.pid
    kind = rng.choices(list(KILL_POINTS), weights=list(KILL_POINTS.values()))[0]
    if kind == "timer":
        await asyncio.sleep(rng.uniform(0.0, 2.5))
        desk.kill(bot)
        kinds["timer"] += 1
        return
    nth = rng.randint(1, 3) if kind == "chat.postMessage" else 1
    seen = 0
    hit = asyncio.Event()

    def on_call(method: str) -> None:
        nonlocal seen
        if method == kind and not hit.is_set():
            seen += 1
            if seen == nth:
                os.kill(pid, 9)  # before the answer leaves: the post exists, the bot never knows
                hit.set()

    slack.on_call = on_call
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hit.wait(), rng.uniform(1.5, 3.5))
    finally:
        slack.on_call = None
    desk.kill(bot)
    kinds[kind if hit.is_set() else "timer (no call came)"] += 1


@pytest.mark.slow
async def test_sigkill_at_random_points_neither_loses_nor_repeats_an_alert(
    tmp_path: Path, slack: FaultySlack, record_property: Callable[[str, object], None]
) -> None:
    rng = random.Random(SEED)
    kinds: Counter[str] = Counter()
    with FeedServer() as feeds:
        newsroom = Newsroom(feeds, DEVELOPMENTS)
        config = desk_config(tmp_path, feeds, slack, port=free_port())
        desk = Desk(tmp_path, config, f"sqlite:///{tmp_path / 'desk.db'}")
        try:
            for _ in range(KILLS):
                if newsroom.remaining:
                    newsroom.publish(rng.choice([1, 1, 2]))
                await kill_somewhere(desk, slack, rng, kinds)
            newsroom.publish_all()
            final = desk.start()
            result = await until_all_delivered(slack, DEVELOPMENTS, final, timeout=60)
            exit_code = await final.terminate(timeout=8)
        finally:
            desk.close()

    figures = {
        "seed": SEED,
        "kill_points": sum(kinds.values()),
        **result.figures(),
        "found_after_restart": desk.logs("posted before a restart"),
    }
    print("\n" + describe("sigkill", figures), dict(kinds))
    for key, value in figures.items():
        record_property(key, value)
    record_property("kill_kinds", dict(kinds))
    assert result.lost == 0, f"alerts lost (channel, development): {result.missing()}"
    assert result.duplicated == 0, f"alerts posted twice: {result.doubled()}"
    assert not result.strays, f"messages about no single development: {result.strays}"
    assert exit_code == 0, desk.tail()
