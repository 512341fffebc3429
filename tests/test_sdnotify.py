"""The bot tells systemd it is ready, alive and stopping, over a real unix datagram socket.

The test plays systemd: it binds the notification socket (a file, or an abstract name written
``@name``), passes it as ``NOTIFY_SOCKET`` with a watchdog interval, and reads what arrives.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import sdnotify
from tests.bot_process import BotProcess, bot_env, eventually, rss, write_config
from tests.ingest.servers import FeedServer


class Systemd:
    """The receiving end of ``NOTIFY_SOCKET``: every datagram that arrived, in order."""

    def __init__(self, address: str, bind_to: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(bind_to)
        self.sock.setblocking(False)
        self.received: list[tuple[float, str]] = []

    def drain(self) -> list[str]:
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                break
            self.received.append((time.monotonic(), data.decode()))
        return [text for _, text in self.received]

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def systemd_file(tmp_path: Path) -> Iterator[Systemd]:
    path = str(tmp_path / "notify.sock")
    receiver = Systemd(path, path)
    yield receiver
    receiver.close()


@pytest.fixture
def systemd_abstract() -> Iterator[Systemd]:
    name = f"talks-bot-test-{secrets.token_hex(6)}"
    receiver = Systemd(f"@{name}", f"\0{name}")
    yield receiver
    receiver.close()


def test_a_message_reaches_a_socket_file(systemd_file: Systemd) -> None:
    env = {"NOTIFY_SOCKET": systemd_file.address}
    assert sdnotify.notify("READY=1", "STATUS=polling 3 sources", env=env)
    assert systemd_file.drain() == ["READY=1\nSTATUS=polling 3 sources"]


def test_a_message_reaches_an_abstract_socket(systemd_abstract: Systemd) -> None:
    assert sdnotify.notify("STOPPING=1", env={"NOTIFY_SOCKET": systemd_abstract.address})
    assert systemd_abstract.drain() == ["STOPPING=1"]


def test_outside_systemd_nothing_is_sent() -> None:
    assert not sdnotify.notify("READY=1", env={})


def test_a_socket_gone_is_one_warning_and_the_bot_runs_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sdnotify, "_warned", False)
    env = {"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}
    assert not sdnotify.notify("WATCHDOG=1", env=env)
    assert not sdnotify.notify("WATCHDOG=1", env=env)
    warnings = [r for r in caplog.records if r.name == "bot.sdnotify"]
    assert len(warnings) == 1
    assert "could not tell systemd WATCHDOG=1" in warnings[0].getMessage()


def test_the_watchdog_interval_is_for_this_process_only() -> None:
    assert sdnotify.watchdog_seconds({"WATCHDOG_USEC": "20000000"}) == 20.0
    mine = {"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid())}
    assert sdnotify.watchdog_seconds(mine) == 20.0
    assert sdnotify.watchdog_seconds({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}) is None
    assert sdnotify.watchdog_seconds({"WATCHDOG_USEC": "soon"}) is None
    assert sdnotify.watchdog_seconds({}) is None


async def test_pings_come_at_half_the_interval_and_only_while_alive(
    systemd_file: Systemd,
) -> None:
    env = {"NOTIFY_SOCKET": systemd_file.address, "WATCHDOG_USEC": "200000"}  # 0.2 s
    alive = True
    stop = asyncio.Event()
    watch = asyncio.create_task(sdnotify.keep_watch(lambda: alive, stop, env=env))
    await asyncio.sleep(0.55)
    pings_alive = len(systemd_file.drain())
    alive = False  # the scheduler died: no more pings, so systemd restarts the bot
    await asyncio.sleep(0.05)
    before = len(systemd_file.drain())
    await asyncio.sleep(0.4)
    after = len(systemd_file.drain())
    stop.set()
    await asyncio.wait_for(watch, 1)
    assert 3 <= pings_alive <= 7  # every 0.1 s (fewer on a busy machine, never more)
    assert after == before
    assert set(systemd_file.drain()) == {"WATCHDOG=1"}


async def test_run_says_ready_then_pings_then_stopping(
    tmp_path: Path, systemd_file: Systemd
) -> None:
    with FeedServer() as feeds:
        feeds.serve("/levant.xml", rss("Levant Wire", []))
        config = write_config(tmp_path, {"levant": (feeds.url("/levant.xml"), "Levant Wire")})
        env = bot_env(
            {
                "NOTIFY_SOCKET": systemd_file.address,
                "WATCHDOG_USEC": "1000000",  # 1 s: a ping every 0.5 s
                "TALKS_BOT_DATABASE_URL": "sqlite:///desk.db",
            }
        )
        with BotProcess(tmp_path, ["run", "--config", str(config)], env) as bot:
            await eventually(
                lambda: systemd_file.drain().count("WATCHDOG=1") >= 3,
                timeout=30,
                what="three watchdog pings",
                bot=bot,
            )
            assert await bot.terminate(10) == 0
    received = systemd_file.drain()
    assert received[0] == "READY=1"
    assert received[-1] == "STOPPING=1"
    assert set(received[1:-1]) == {"WATCHDOG=1"}
    times = [at for at, text in systemd_file.received if text == "WATCHDOG=1"]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(0.2 < gap < 1.2 for gap in gaps), gaps  # 0.5 s apart, give or take load
