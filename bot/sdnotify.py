"""Telling systemd how the bot is doing: the sd_notify protocol, without a library.

Under ``Type=notify`` systemd passes ``NOTIFY_SOCKET``, a unix datagram socket (a path, or an
abstract name written with a leading ``@``), and waits for ``READY=1`` before it counts the
service as started. With ``WatchdogSec=`` it also passes ``WATCHDOG_USEC`` (and
``WATCHDOG_PID``) and restarts the service when no ``WATCHDOG=1`` arrives within that time.

``keep_watch`` sends ``WATCHDOG=1`` at half the interval from the event loop, and only while
``alive()`` says so (the scheduler is running): a blocked loop or a dead scheduler stops the
pings, and systemd restarts a bot that no longer polls instead of leaving it hung. Outside
systemd (no ``NOTIFY_SOCKET``) every call does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Mapping

from bot.core import messages as say

log = logging.getLogger(__name__)
_warned = False


def socket_address(env: Mapping[str, str] = os.environ) -> str | None:
    """Where to send notifications, as ``socket.connect`` takes it; None outside systemd."""
    address = env.get("NOTIFY_SOCKET", "")
    if not address:
        return None
    if address.startswith("@"):  # an abstract socket: its name starts with a NUL byte
        return "\0" + address[1:]
    return address if address.startswith("/") else None


def notify(*fields: str, env: Mapping[str, str] = os.environ) -> bool:
    """Send ``fields`` (``READY=1``, ``STATUS=...``) as one datagram; True if it was sent.

    A failure is logged at WARNING once per process (a watchdog ping fails again every few
    seconds) and costs nothing else: the bot runs on.
    """
    global _warned
    address = socket_address(env)
    if address is None:
        return False
    payload = "\n".join(fields).encode("utf-8")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.setblocking(False)
            sock.connect(address)
            sock.send(payload)
    except OSError as exc:
        if not _warned:
            _warned = True
            log.warning("%s", say.sd_notify_failed(fields[0] if fields else "", exc))
        return False
    return True


def watchdog_seconds(env: Mapping[str, str] = os.environ) -> float | None:
    """The watchdog interval systemd expects pings within, or None when there is none (or
    it is meant for another process: ``WATCHDOG_PID``)."""
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if usec <= 0 or (pid and pid != str(os.getpid())):
        return None
    return usec / 1_000_000


async def keep_watch(
    alive: Callable[[], bool],
    stop: asyncio.Event,
    *,
    env: Mapping[str, str] = os.environ,
) -> None:
    """Ping the watchdog at half its interval while ``alive()``, until ``stop`` is set."""
    interval = watchdog_seconds(env)
    if interval is None or socket_address(env) is None:
        return
    while not stop.is_set():
        if alive():
            notify("WATCHDOG=1", env=env)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval / 2)
