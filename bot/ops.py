"""The ops announcer: posts ``bot.core.ops``'s messages to the ``[ops] channel``.

Called by the poller after each saved poll (``PollerHooks.watch``). A message goes out through
the ordinary notifier of the channel's platform (as a titled digest with no stories: one line),
under its own deadline; only once it is posted is each source's new condition recorded in the
store (``Store.save_announced``), so a failed post is tried again after the source's next poll
and a restart neither repeats nor loses an announcement. The ops channel's trouble is logged and
never raised: alerts do not wait for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, tzinfo

from bot.core import messages as say
from bot.core import ops
from bot.core.models import Destination, Digest, SourceHealth
from bot.core.ports import Notifier, Store

log = logging.getLogger("talks_bot")

SEND_DEADLINE = 20.0
"""Seconds one ops message may take to post before it is given up until the next look."""


class OpsAnnouncer:
    """Tells ``destination`` when sources start failing, go quiet or stale, or recover."""

    def __init__(
        self,
        store: Store,
        notifiers: Mapping[str, Notifier],
        destination: Destination,
        *,
        tz: tzinfo = UTC,
        deadline: float = SEND_DEADLINE,
    ) -> None:
        self.store = store
        self.notifiers = notifiers
        self.destination = destination
        self.tz = tz
        self.deadline = deadline
        self._lock = asyncio.Lock()
        """One look at a time: two polls ending together must not announce one change twice."""

    async def watch(self, healths: Sequence[SourceHealth], now: datetime) -> None:
        """Announce what changed among ``healths`` (as just saved) at ``now``."""
        try:
            async with self._lock:
                found = ops.changes(healths, now)
                if found:
                    # What was told is re-read: another look may have announced it meanwhile.
                    current = [await self.store.get_source(c.health.name) for c in found]
                    told = {h.name: h.announced for h in current if h is not None}
                    fresh = [c.health for c in found if c.health.name in told]
                    found = ops.changes([replace(h, announced=told[h.name]) for h in fresh], now)
                for message in ops.plan(found, now, self.tz):
                    if not await self._post(message.text, now):
                        return
                    for name, condition in message.sources:
                        await self.store.save_announced(name, condition.value, now)
        except Exception as exc:  # the ops channel never costs a poll anything
            log.warning("%s", say.ops_not_sent(self.destination.label, exc))

    async def _post(self, text: str, now: datetime) -> bool:
        notifier = self.notifiers.get(self.destination.platform)
        if notifier is None:
            log.warning(
                "%s", say.ops_no_notifier(self.destination.label, self.destination.platform)
            )
            return False
        digest_id = "ops-" + hashlib.sha1(f"{now.isoformat()} {text}".encode()).hexdigest()[:10]
        try:
            await asyncio.wait_for(
                notifier.send_digest(self.destination, Digest(digest_id, (), now, title=text)),
                self.deadline,
            )
        except Exception as exc:  # a chat outage, a refused channel, a timeout
            log.warning(
                "%s", say.ops_not_sent(self.destination.label, str(exc) or type(exc).__name__)
            )
            return False
        return True
