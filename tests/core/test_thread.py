"""What a development's thread says next (``bot.core.thread``), from the alert as it grows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.core.headline_diff import Change
from bot.core.models import Alert, AlertReport
from bot.core.thread import CORROBORATED, URGENT, broadcast, opened, plan, replied

T0 = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)


def rep(key: str, outlet: str, title: str, minutes: int = 0) -> AlertReport:
    return AlertReport(
        key,
        outlet,
        title,
        f"https://{outlet.lower()}.example/{key}",
        T0 + timedelta(minutes=minutes),
    )


def alert(*reports: AlertReport, independent: int = 1, urgent: bool = False) -> Alert:
    return Alert(
        story_id="st-1",
        title=reports[0].title,
        url=reports[0].url,
        summary="",
        outlets=tuple(dict.fromkeys(r.outlet for r in reports)),
        published=T0,
        topics=("rafah",),
        score=0.9 if urgent else 0.7,
        reports=reports,
        independent=independent,
        urgent=urgent,
    )


LEVANT = rep("lw-1", "Levant", "Rafah crossing to reopen for aid convoys")
NILE = rep("nc-7", "Nile", "Egypt says Rafah crossing will reopen on Tuesday", 10)
LEVANT_LIVE = rep("lw-2", "Levant", "Live: aid trucks queue at Rafah", 20)


def test_the_root_shows_its_reports_so_nothing_is_due_at_once() -> None:
    first = alert(LEVANT)
    assert not plan(opened(first), first)


def test_each_report_the_thread_has_not_shown_is_one_line_of_one_reply() -> None:
    state = opened(alert(LEVANT))
    todo = plan(state, alert(LEVANT, NILE, LEVANT_LIVE))
    assert todo.reply is not None
    lines = todo.reply.lines
    assert [(line.outlet, line.title) for line in lines] == [
        ("Nile", NILE.title),
        ("Levant", LEVANT_LIVE.title),
    ], "a second report of an outlet already counted is shown too"
    assert not any(line.reheadline for line in lines)
    # Once posted, the same reports are not said again; a later one is.
    state = replied(state, todo.reply)
    assert not plan(state, alert(LEVANT, NILE, LEVANT_LIVE)).reply
    later = rep("hp-3", "Harbour", "First aid convoy crosses at Rafah", 30)
    again = plan(state, alert(LEVANT, NILE, LEVANT_LIVE, later)).reply
    assert again is not None
    assert [line.title for line in again.lines] == [later.title]
    assert state.replies == 1


def test_a_re_headline_is_a_diff_of_the_headline_the_thread_showed() -> None:
    state = opened(alert(LEVANT, NILE))
    changed = replace(NILE, title="Egypt says Rafah crossing will stay shut on Tuesday")
    todo = plan(state, alert(LEVANT, changed))
    assert todo.reply is not None
    [line] = todo.reply.lines
    assert line.reheadline
    assert line.old_title == NILE.title
    assert not line.correction
    assert [(s.change, s.words) for s in line.diff if s.change is not Change.KEPT] == [
        (Change.REMOVED, "reopen"),
        (Change.ADDED, "stay shut"),
    ]


def test_an_outlet_saying_correction_marks_the_re_headline_as_one() -> None:
    state = opened(alert(LEVANT))
    for title in (
        "Correction: Rafah crossing to reopen for medical evacuations",
        "Rafah crossing to reopen for aid convoys (corrected)",
        "Clarification: Rafah crossing reopening depends on Israeli approval",
    ):
        [line] = plan(state, alert(replace(LEVANT, title=title))).reply.lines  # type: ignore[union-attr]
        assert line.correction, title
    [plain] = plan(state, alert(replace(LEVANT, title="Rafah crossing reopens"))).reply.lines  # type: ignore[union-attr]
    assert not plain.correction


def test_reply_ids_are_stable_for_the_same_reports_and_differ_otherwise() -> None:
    state = opened(alert(LEVANT))
    one = plan(state, alert(LEVANT, NILE)).reply
    same = plan(state, alert(LEVANT, NILE)).reply
    other = plan(state, alert(LEVANT, NILE, LEVANT_LIVE)).reply
    assert one is not None
    assert same is not None
    assert other is not None
    assert one.id == same.id != other.id


def test_corroboration_escalates_once_and_never_again() -> None:
    state = opened(alert(LEVANT, independent=1))
    todo = plan(state, alert(LEVANT, NILE, independent=2))
    assert [e.kind for e in todo.escalations] == [CORROBORATED]
    assert "2 independent outlets" in todo.escalations[0].note
    state = broadcast(replied(state, todo.reply), CORROBORATED)  # type: ignore[arg-type]
    assert not plan(state, alert(LEVANT, NILE, independent=2)).escalations
    third = rep("hp-3", "Harbour", "Aid convoy crosses at Rafah", 30)
    assert not plan(state, alert(LEVANT, NILE, third, independent=3)).escalations


def test_turning_urgent_escalates_but_a_root_already_urgent_does_not() -> None:
    calm = opened(alert(LEVANT))
    assert [e.kind for e in plan(calm, alert(LEVANT, urgent=True)).escalations] == [URGENT]
    already = opened(alert(LEVANT, NILE, independent=2, urgent=True))
    assert not plan(already, alert(LEVANT, NILE, independent=2, urgent=True))


def test_wire_copies_counted_once_do_not_corroborate() -> None:
    """``independent`` is the corroboration engineer's count: two outlets carrying one wire
    story stay single-source, so the thread gets the reply but the channel no re-broadcast."""
    state = opened(alert(LEVANT, independent=1))
    copy = replace(NILE, copy_of="Levant")
    todo = plan(state, alert(LEVANT, copy, independent=1))
    assert todo.reply is not None
    assert not todo.escalations
