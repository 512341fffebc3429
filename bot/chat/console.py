"""The console notifier: readable alerts in a terminal, or JSON Lines for scripts and evaluations.

JSON Lines output has one line per decision a reader would see: ``event: "alert"`` for each push,
``event: "queued"`` for each story that went into a digest instead (flood control's, or the
background a route holds for its scheduled digest; ``digest`` names it) and ``event: "update"`` for
in-place updates, so an evaluation can tell a push from a digest line by the event alone.
"""

from __future__ import annotations

import itertools
import json
import sys
import textwrap
from collections.abc import Sequence
from datetime import tzinfo
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.core.headline_diff import Change, Segment
from bot.core.messages import (
    BACKGROUND_MARK,
    follows_line,
    outlets_line,
    sourcing_line,
    thread_corrected,
    thread_reheadlined,
)
from bot.core.models import Alert, Destination, Digest
from bot.core.replies import Reply
from bot.core.thread import Escalation, ThreadReply

_WIDTH = 100


class ConsoleNotifier:
    platform = "console"

    def __init__(
        self, out: TextIO | None = None, *, jsonl: bool = False, tz: tzinfo | None = None
    ) -> None:
        self.out = out or sys.stdout
        self.jsonl = jsonl
        self.tz = tz or ZoneInfo("UTC")
        self._ids = itertools.count(1)

    async def send(self, destination: Destination, alert: Alert) -> str:
        message_id = f"console-{next(self._ids)}"
        if self.jsonl:
            self._json("alert", destination, alert, message_id=message_id)
        else:
            self._text("BACKGROUND" if alert.tier == BACKGROUND_MARK else "ALERT", alert)
        return message_id

    async def update(self, destination: Destination, message_id: str, alert: Alert) -> None:
        if self.jsonl:
            self._json("update", destination, alert, message_id=message_id)
        else:
            self._text(f"UPDATE ({len(alert.outlets)} outlets now)", alert)

    async def send_digest(self, destination: Destination, digest: Digest) -> str:
        message_id = f"console-{next(self._ids)}"
        if self.jsonl:
            for alert in digest.alerts:
                self._json("queued", destination, alert, message_id=message_id, digest=digest.id)
            return message_id
        rule = "─" * 3
        self.out.write(f"\n{rule} DIGEST {digest.title or ''} [{digest.id}]\n")
        for alert in digest.alerts:
            when = alert.published.astimezone(self.tz).strftime("%d %b %H:%M")
            self.out.write(
                f"  • {alert.title} — {outlets_line(alert.outlets)} · {when} · {alert.url}\n"
            )
        self.out.flush()
        return message_id

    async def reply_in_thread(
        self, destination: Destination, root_id: str, reply: ThreadReply
    ) -> str:
        """Thread replies print indented under their alert's id (text output only: JSON Lines
        keeps one line per alert, queued story and update)."""
        message_id = f"console-{next(self._ids)}"
        if self.jsonl:
            return message_id
        lines = [f"   ↳ in thread of {root_id} ({reply.story_id})"]
        for line in reply.lines:
            when = line.published.astimezone(self.tz).strftime("%d %b %H:%M")
            if line.reheadline:
                label = (
                    thread_corrected(line.outlet)
                    if line.correction
                    else thread_reheadlined(line.outlet)
                )
                text = f"{label}: {_diff(line.diff)}"
            else:
                text = f"{line.outlet}: {line.title}"
            lines.append("     " + " · ".join(p for p in (text, when, line.url) if p))
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()
        return message_id

    async def rebroadcast(
        self, destination: Destination, root_id: str, alert: Alert, escalation: Escalation
    ) -> str:
        message_id = f"console-{next(self._ids)}"
        if not self.jsonl:
            self._text(f"⬆ {escalation.note}", alert)
        return message_id

    def reply(self, reply: Reply) -> None:
        self.out.write(reply.text + "\n")
        self.out.flush()

    def _text(self, label: str, alert: Alert) -> None:
        when = alert.published.astimezone(self.tz).strftime("%d %b %H:%M %Z")
        topics = ", ".join(alert.topics)
        lines = [
            "",
            f"━━ {label} · {topics} · score {alert.score:.2f}",
            alert.title,
        ]
        if alert.summary:
            lines.extend(textwrap.wrap(alert.summary, _WIDTH))
        source = sourcing_line(alert.outlets, alert.independent)
        lines.append(" · ".join(part for part in (source, when, alert.url) if part))
        if alert.follows_title:
            lines.append(
                " · ".join(p for p in (follows_line(alert.follows_title), alert.follows_url) if p)
            )
        hint = f"why: {alert.why_hint}  " if alert.why_hint else ""
        lines.append(f"{hint}[talks-bot why {alert.story_id}]")
        if alert.mentions:
            lines.append("for: " + ", ".join(alert.mentions))
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()

    def _json(
        self,
        event: str,
        destination: Destination,
        alert: Alert,
        *,
        message_id: str,
        digest: str | None = None,
    ) -> None:
        record = {
            "event": event,
            "story_id": alert.story_id,
            "title": alert.title,
            "url": alert.url,
            "source": alert.outlets[0] if alert.outlets else "",
            "outlets": list(alert.outlets),
            "published": alert.published.isoformat(),
            "topics": list(alert.topics),
            "score": alert.score,
            "summary": alert.summary,
            "matched_terms": list(alert.matched_terms),
            "why": alert.why_hint,
            "tier": alert.tier,
            "follows": alert.follows_title,
            "destination": destination.label,
            "message_id": message_id,
            "digest": digest,
        }
        self.out.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.out.flush()


def _diff(segments: Sequence[Segment]) -> str:
    """A word diff for a terminal: ``[-old words-] {+new words+}``."""
    marks = {Change.KEPT: "{}", Change.REMOVED: "[-{}-]", Change.ADDED: "{{+{}+}}"}
    return " ".join(marks[s.change].format(s.words) for s in segments)
