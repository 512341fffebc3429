"""The fetcher's sockets: httpcore's network interface on plain asyncio streams.

httpcore's default backend runs every read and write through anyio (a cancel scope and an
exception map per call) and answers "has the server closed this idle connection?", asked of each
pooled connection whenever a request takes one, by rebuilding anyio's table of socket attributes
(a ``getpeername`` system call among them). On a warm cycle, where half the answers are bodiless
304s, that bookkeeping cost more CPU than the HTTP itself. The event loop already owns the socket
and its buffer, so this backend asks it directly: a read is one ``StreamReader.read`` under an
``asyncio.timeout``, a write one ``drain``, TLS the loop's own ``start_tls``.

Errors keep httpcore's types (``ConnectError``, ``ReadTimeout``...), so the transport above maps
them to httpx's exactly as it would for the default backend.
"""

# ruff: noqa: ASYNC109  (the ``timeout`` parameters are httpcore's interface, not ours)

from __future__ import annotations

import asyncio
import contextlib
import select
import ssl
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore

__all__ = ["LoopSockets"]

HAPPY_EYEBALLS_DELAY = 0.25
"""Seconds before the next address of a host is tried beside a connection attempt that has not
answered yet (RFC 8305's default): a host whose IPv6 route is broken still connects over IPv4."""


@contextlib.contextmanager
def _mapped(timeout_error: type[Exception], other: type[Exception]) -> Iterator[None]:
    """Raise httpcore's ``timeout_error`` for a timeout and ``other`` for a socket failure."""
    try:
        yield
    except TimeoutError:
        raise timeout_error("timed out") from None
    except OSError as error:  # ssl.SSLError and ConnectionError among them
        raise other(str(error) or type(error).__name__) from error


class _LoopStream(httpcore.AsyncNetworkStream):
    """One connection: an asyncio reader/writer pair (upgraded in place by ``start_tls``)."""

    __slots__ = ("_poller", "_reader", "_writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._poller: select.poll | None = None
        """Watches the socket for readability; made at the first question, kept for the next."""

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _mapped(httpcore.ReadTimeout, httpcore.ReadError):
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        with _mapped(httpcore.WriteTimeout, httpcore.WriteError):
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()

    async def aclose(self) -> None:
        # Closing never waits for the peer: a server that stopped reading must not hold a poll.
        self._writer.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
                async with asyncio.timeout(timeout):
                    await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except BaseException:
            self._writer.close()
            raise
        return self

    def get_extra_info(self, info: str) -> Any:
        writer = self._writer
        if info == "is_readable":
            return self._closed_by_peer()
        if info == "ssl_object":
            return writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return writer.get_extra_info("sockname")
        if info == "server_addr":
            return writer.get_extra_info("peername")
        if info == "socket":
            return writer.get_extra_info("socket")
        return None

    def _closed_by_peer(self) -> bool:
        """True when an idle connection has anything to read: the peer's close (or bytes it had
        no business sending), which makes the connection unfit for the next request.

        The loop reads the socket eagerly into the reader's buffer, so an end of stream already
        seen shows there; bytes still in the kernel show as a readable descriptor."""
        if self._reader.at_eof() or self._writer.is_closing():
            return True
        if self._poller is None:
            sock = self._writer.get_extra_info("socket")
            fd = sock.fileno() if sock is not None else -1
            if fd < 0:
                return True
            self._poller = select.poll()
            self._poller.register(fd, select.POLLIN)
        return bool(self._poller.poll(0))


class LoopSockets(httpcore.AsyncNetworkBackend):
    """Connections for httpcore's pool, opened by the running asyncio loop."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    local_addr=(local_address, 0) if local_address else None,
                    happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY,
                )
        sock = writer.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return _LoopStream(reader, writer)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_unix_connection(path)
        return _LoopStream(reader, writer)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
