"""A TCP proxy that can go silent: the database link that stops forwarding, with no FIN or RST.

``SilentLink`` listens on 127.0.0.1 (a random port) and forwards every connection to an upstream
server. ``silence()`` kills every connection open at that moment for good, the way a router, NAT
or firewall that loses a flow's state does: the sockets stay open, whatever either side sends is
read and dropped, nothing is ever forwarded or closed again. Connections opened while silent get
the same treatment (the TCP handshake with the proxy succeeds, nothing more). ``heal()`` makes
new connections work again; the dead ones stay dead, so a client that keeps them hangs forever
unless it gives up on them itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field


@dataclass(eq=False)
class _Flow:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter | None = None
    dead: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class SilentLink:
    """A proxy from 127.0.0.1:``port`` to ``upstream_host``:``upstream_port``."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.silent = False
        self.port = 0
        self.dropped = 0
        """Bytes read and thrown away by dead connections."""
        self._flows: set[_Flow] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> SilentLink:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def silence(self) -> None:
        """Stop forwarding: every open connection is dead from now on, and so is every new one."""
        self.silent = True
        for flow in self._flows:
            flow.dead = True

    def heal(self) -> None:
        """New connections are forwarded again; the ones that died stay dead."""
        self.silent = False

    @property
    def open_flows(self) -> int:
        return sum(1 for flow in self._flows if not flow.dead)

    async def close(self) -> None:
        """Stop listening and abort every connection (dead ones included), then wait for the
        pumps to notice."""
        if self._server is not None:
            self._server.close()
        tasks = [task for flow in self._flows for task in flow.tasks]
        for flow in list(self._flows):
            for writer in (flow.client, flow.server):
                if writer is not None:
                    writer.transport.abort()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        self._flows.clear()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def __aenter__(self) -> SilentLink:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        flow = _Flow(writer, dead=self.silent)
        self._flows.add(flow)
        if flow.dead:
            flow.tasks.append(asyncio.current_task())  # type: ignore[arg-type]
            await self._pump(reader, None, flow)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            self._flows.discard(flow)
            return
        flow.server = up_writer
        flow.tasks.append(asyncio.create_task(self._pump(up_reader, writer, flow)))
        flow.tasks.append(asyncio.current_task())  # type: ignore[arg-type]
        await self._pump(reader, up_writer, flow)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None, flow: _Flow
    ) -> None:
        """Copy ``reader`` to ``writer`` while the flow lives; once dead, read and drop."""
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if flow.dead or writer is None:
                    self.dropped += len(data)
                    continue
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        if flow.dead:
            return  # a dead link never passes the end of a connection on, in either direction
        for end in (flow.client, flow.server):
            if end is not None:
                end.transport.abort()
        self._flows.discard(flow)
