"""What the ops channel hears about sources: one message per change of a source's condition.

A source's condition (``bot.core.quiet.condition``: failing, stale, quiet or ok) is compared with
what the ops channel was last told (``SourceHealth.announced``, kept in the store, so a restart
neither repeats nor forgets an announcement). A change is announced once:

- a source that starts failing (the first failure in a row, the threshold ``status`` uses), goes
  stale or goes quiet: one warning;
- a source that was announced as any of those and is ok again: one "recovered";
- a source never announced that is ok: nothing (a new desk is not told that all is well).

Changes found in the same look of the same kind are folded into one message when more than
``FOLD_AT`` sources changed at once (a desk's own network trouble silences many feeds together;
one message says so instead of thirty). ``plan`` decides; the announcer (``bot.ops``) sends the
messages and records each source's new condition once its message went out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from bot.core import messages as say
from bot.core.models import SourceHealth
from bot.core.quiet import Condition, SourceState, condition, usual_gap

__all__ = ["FOLD_AT", "Change", "OpsMessage", "changes", "plan"]

FOLD_AT = 3
"""More than this many sources changing the same way in one look: one folded message."""


_TOLD = frozenset(c.value for c in Condition)


@dataclass(frozen=True, slots=True)
class Change:
    """A source whose condition differs from what the ops channel was told."""

    health: SourceHealth
    state: SourceState
    told: Condition | None
    """What the ops channel last heard (None: nothing yet)."""


@dataclass(frozen=True, slots=True)
class OpsMessage:
    """One message for the ops channel and the sources it announces."""

    text: str
    sources: tuple[tuple[str, Condition], ...]
    """(source name, the condition announced), recorded once the message was posted."""


def changes(healths: Iterable[SourceHealth], now: datetime) -> list[Change]:
    """The sources whose condition at ``now`` the ops channel has not been told."""
    found = []
    for health in healths:
        state = condition(health, now)
        told = Condition(health.announced) if health.announced in _TOLD else None
        if told is None and state.condition is Condition.OK:
            continue
        if told is not state.condition:
            found.append(Change(health, state, told))
    return found


def plan(found: Sequence[Change], now: datetime, tz: tzinfo = UTC) -> list[OpsMessage]:
    """The messages announcing ``found``: one per change, or one per kind when many."""
    messages: list[OpsMessage] = []
    for kind in (Condition.FAILING, Condition.STALE, Condition.QUIET, Condition.OK):
        group = [c for c in found if c.state.condition is kind]
        if not group:
            continue
        if len(group) > FOLD_AT:
            names = sorted(c.health.name for c in group)
            messages.append(
                OpsMessage(say.ops_folded(kind.value, names), tuple((n, kind) for n in names))
            )
            continue
        for change in sorted(group, key=lambda c: c.health.name):
            messages.append(OpsMessage(_text(change, now, tz), ((change.health.name, kind),)))
    return messages


def _text(change: Change, now: datetime, tz: tzinfo) -> str:
    health, state = change.health, change.state
    since = say.clock_time(state.since, now, tz) if state.since else "?"
    if state.condition is Condition.FAILING:
        return say.ops_failing(
            health.name, health.consecutive_failures, health.last_error or "unknown error"
        )
    if state.condition is Condition.STALE:
        return say.ops_stale(health.name, since)
    if state.condition is Condition.QUIET:
        return say.ops_quiet(health.name, since, usual_gap(health))
    return say.ops_recovered(health.name, change.told.value if change.told else "?")
