"""Shared test pieces for the core: a recording chat platform and report builders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.core.models import Alert, Destination, Digest, Report
from bot.errors import DeliveryError


@dataclass
class RecordingPlatform:
    """A chat platform that keeps what it was sent; can be told to fail like a real one."""

    platform: str = "console"
    sent: list[tuple[Destination, Alert]] = field(default_factory=list)
    updated: list[tuple[Destination, str, Alert]] = field(default_factory=list)
    digests: list[tuple[Destination, Digest]] = field(default_factory=list)
    outage: int = 0
    """Fail this many calls with a transient error first."""
    gone: set[str] = field(default_factory=set)
    """Channel ids that answer as deleted (permanent error)."""

    def _check(self, destination: Destination) -> None:
        if destination.channel in self.gone:
            raise DeliveryError(f"channel {destination.channel} not found", permanent=True)
        if self.outage > 0:
            self.outage -= 1
            raise DeliveryError("server error 503", retry_after=0.0)

    async def send(self, destination: Destination, alert: Alert) -> str:
        self._check(destination)
        self.sent.append((destination, alert))
        return f"m{len(self.sent)}"

    async def update(self, destination: Destination, message_id: str, alert: Alert) -> None:
        self._check(destination)
        self.updated.append((destination, message_id, alert))

    async def send_digest(self, destination: Destination, digest: Digest) -> str:
        self._check(destination)
        self.digests.append((destination, digest))
        return f"d{len(self.digests)}"


def report(
    key: str,
    title: str,
    text: str,
    published: datetime,
    *,
    source: str = "wire",
    outlet: str | None = None,
    url: str | None = None,
) -> Report:
    return Report(
        key=key,
        source=source,
        outlet=outlet or source.title(),
        title=title,
        url=url if url is not None else f"https://{source}.example/{key}",
        text=text,
        published=published,
        first_seen=published,
    )
