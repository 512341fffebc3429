"""What a development's chat thread says next: pure decisions, no I/O.

A channel alert is the root of its thread. The thread remembers (``ThreadState``, kept on the
delivery) which reports it already shows and under which headline, and which escalations the
channel has already been told about. ``plan`` compares that with the alert as the desk holds it
now and says what is due: one ``ThreadReply`` for every report the thread has not shown (a
new outlet, another report of an outlet already counted, a re-headline, shown as a word diff),
and an ``Escalation`` for each step up that deserves a re-broadcast to the channel (the story
turned urgent, or a single-source story got corroborated). Reports that arrive between two
courier visits share one reply, one line each, so a big story never floods its thread.

The reports in the alert when the root went out are what the root itself shows (``opened``),
and an escalation already true then was announced by the root: neither is repeated.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime

from bot.core.headline_diff import Segment, word_diff
from bot.core.messages import escalated_corroborated, escalated_urgent
from bot.core.models import Alert, AlertReport, ThreadState

URGENT = "urgent"
"""The story's score crossed ``urgent_score``."""
CORROBORATED = "corroborated"
"""A second independent outlet confirmed a single-source story."""

CORROBORATED_AT = 2
"""Independent outlets a story needs to count as corroborated."""

_CORRECTION = re.compile(
    r"\b(correct(?:ed|ion|ions|s)?|clarif(?:ied|ies|y|ication)|retract(?:ed|ion|s)?"
    r"|an earlier version)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ReplyLine:
    """One report as a thread reply shows it; a re-headline carries the old headline's diff."""

    outlet: str
    title: str
    url: str
    published: datetime
    old_title: str = ""
    """The headline the thread showed before ("" for a report the thread has not shown)."""
    diff: tuple[Segment, ...] = ()
    correction: bool = False
    """The outlet says the change is a correction or clarification."""

    @property
    def reheadline(self) -> bool:
        return bool(self.old_title)


@dataclass(frozen=True, slots=True)
class ThreadReply:
    """One reply in a development's thread: every report it has not shown yet."""

    id: str
    """Stable for the same story and reports: a resend is recognisable (Discord's nonce)."""
    story_id: str
    headline: str
    """The story's headline (Discord names the thread after it when this reply opens it)."""
    lines: tuple[ReplyLine, ...]
    shows: tuple[tuple[str, str], ...]
    """(report id, headline) pairs the thread shows once this reply is posted."""
    opens: bool = False
    """The first message in the thread: where threads are started on demand (Discord), this
    one starts it."""


@dataclass(frozen=True, slots=True)
class Escalation:
    """A step up that re-broadcasts the root to the channel, once."""

    kind: str
    """``URGENT`` or ``CORROBORATED``."""
    note: str
    """The sentence shown above the re-broadcast alert."""
    opens: bool = False
    """Nothing is in the thread yet (see ``ThreadReply.opens``)."""


@dataclass(frozen=True, slots=True)
class ThreadPlan:
    reply: ThreadReply | None = None
    escalations: tuple[Escalation, ...] = ()

    def __bool__(self) -> bool:
        return self.reply is not None or bool(self.escalations)


def report_id(report: AlertReport) -> str:
    """A report's identity in its thread: its key, within its outlet (stable over re-headlines)."""
    return f"{report.outlet}\x1f{report.key}"


def escalation_mark(story_id: str, kind: str) -> str:
    """What marks the re-broadcast of escalation ``kind`` of a story (as ``ThreadReply.id``
    marks a reply): recorded before the post, looked for after a crash."""
    return f"{story_id}:{kind}"


def escalations_of(alert: Alert) -> tuple[str, ...]:
    """The escalations true of ``alert`` now."""
    found: list[str] = []
    if alert.urgent:
        found.append(URGENT)
    if alert.independent >= CORROBORATED_AT:
        found.append(CORROBORATED)
    return tuple(found)


def opened(alert: Alert) -> ThreadState:
    """The thread of a root just posted with ``alert``: it shows the alert's reports, and the
    channel has seen what the alert already was."""
    return ThreadState(
        shown=tuple((report_id(r), r.title) for r in alert.reports),
        escalations=escalations_of(alert),
        root=root_view(alert),
    )


def root_view(alert: Alert) -> str:
    """A fingerprint of what the root message shows of ``alert`` (everything but the list of
    reports, which is the thread's): equal fingerprints need no edit."""
    return hashlib.sha1(repr(replace(alert, reports=())).encode()).hexdigest()[:16]


def plan(state: ThreadState, alert: Alert) -> ThreadPlan:
    """What the thread should say now that the story is ``alert``."""
    shown = dict(state.shown)
    lines: list[ReplyLine] = []
    shows: list[tuple[str, str]] = []
    for report in alert.reports:
        rid = report_id(report)
        before = shown.get(rid)
        if before == report.title:
            continue
        shows.append((rid, report.title))
        shown[rid] = report.title
        if before is None:
            lines.append(ReplyLine(report.outlet, report.title, report.url, report.published))
            continue
        lines.append(
            ReplyLine(
                report.outlet,
                report.title,
                report.url,
                report.published,
                old_title=before,
                diff=word_diff(before, report.title),
                correction=bool(_CORRECTION.search(report.title)),
            )
        )
    reply = None
    if lines:
        reply = ThreadReply(
            _reply_id(alert.story_id, shows),
            alert.story_id,
            alert.title,
            tuple(lines),
            tuple(shows),
            opens=not state.open,
        )
    due = [kind for kind in escalations_of(alert) if kind not in state.escalations]
    first = not state.open and reply is None
    escalations = tuple(
        Escalation(kind, _note(kind, alert), opens=first and i == 0) for i, kind in enumerate(due)
    )
    return ThreadPlan(reply, escalations)


def replied(state: ThreadState, reply: ThreadReply) -> ThreadState:
    """The thread once ``reply`` is in it."""
    shown = dict(state.shown)
    shown.update(reply.shows)
    return replace(
        state, shown=tuple(shown.items()), replies=state.replies + 1, trying="", open=True
    )


def broadcast(state: ThreadState, kind: str) -> ThreadState:
    """The thread once escalation ``kind`` has been re-broadcast (never again)."""
    if kind in state.escalations:
        return state
    return replace(state, escalations=(*state.escalations, kind), trying="", open=True)


def _note(kind: str, alert: Alert) -> str:
    if kind == URGENT:
        return escalated_urgent(alert.score)
    return escalated_corroborated(alert.independent)


def _reply_id(story_id: str, shows: list[tuple[str, str]]) -> str:
    key = "\x1e".join([story_id, *(f"{rid}\x1f{title}" for rid, title in shows)])
    return "r-" + hashlib.sha1(key.encode()).hexdigest()[:12]
