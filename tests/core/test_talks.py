"""The talks card's rules: headline events (with hedges and negations) and the phase machine.

Every headline here is invented for the test, in the vocabulary wire desks use.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.status import phase_text, talks_lines
from bot.core.talks import Development, Event, Heard, PhaseKind, classify, talks_card

T0 = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headline", "event", "party"),
    [
        # the truce
        ("Ceasefire takes effect across the strip at dawn", Event.TRUCE_START, ""),
        ("Six-day truce begins as first convoys roll in", Event.TRUCE_START, ""),
        ("Mediators: truce extended by two more days", Event.TRUCE_EXTENSION, ""),
        (
            "Israel and Hamas agree to extend the pause for a third time",
            Event.TRUCE_EXTENSION,
            "Israel",
        ),
        ("Truce collapses as rockets fly again", Event.TRUCE_COLLAPSE, ""),
        ("Air raids pound Khan Younis as the truce ends", Event.TRUCE_COLLAPSE, ""),
        ("Fighting resumes in the north after week of calm", Event.TRUCE_COLLAPSE, ""),
        # the deal
        ("Hostage deal reached after marathon night in Doha", Event.AGREEMENT, ""),
        ("Israeli cabinet approves the hostage and truce deal", Event.AGREEMENT, "Israel"),
        ("Israel says it agrees to the cease-fire terms", Event.ACCEPTANCE, "Israel"),
        ("Hamas accepts Egyptian proposal for phased truce", Event.ACCEPTANCE, "Hamas"),
        # proposals, answers, refusals
        ("Hamas rejects latest truce offer, demands full withdrawal", Event.REJECTION, "Hamas"),
        ("Netanyahu rebuffs Hamas counter-offer on hostages", Event.REJECTION, "Israel"),
        ("Hamas delivers its response to the three-phase plan", Event.RESPONSE, "Hamas"),
        ("Hamas studying new truce framework drafted by mediators", Event.PROPOSAL, "Hamas"),
        ("New hostage proposal handed to Hamas by Qatari envoys", Event.PROPOSAL, "Hamas"),
        ("Israel offers Hamas a two-month pause for all captives", Event.PROPOSAL, "Hamas"),
        # delegations and rounds
        ("Hamas delegation arrives in Cairo for truce talks", Event.DELEGATION_ARRIVING, "Hamas"),
        ("Israeli negotiators leave Doha without agreement", Event.DELEGATION_LEAVING, "Israel"),
        ("Cease-fire talks resume in Doha with CIA chief present", Event.TALKS, ""),
        ("Truce talks end inconclusively as gaps remain", Event.STALL, ""),
        ("No deal yet on the hostage framework, officials say", Event.STALL, ""),
        ("Negotiations on the truce stall over withdrawal map", Event.STALL, ""),
        # what happens around the talks
        ("Hamas frees 12 captives in fourth swap", Event.RELEASE, "Hamas"),
        ("Israeli tanks push deeper into Rafah", Event.OPERATION, "Israel"),
    ],
)
def test_a_headline_reports_its_event(headline: str, event: Event, party: str) -> None:
    found = classify(headline)
    assert found.event is event, found
    if party:
        assert found.party == party


@pytest.mark.parametrize(
    "headline",
    [
        # speculation, warnings and calls are not steps
        "Truce could collapse within hours, officials warn",
        "Hamas says an assault on Rafah would end the talks",
        "Lawmakers call for a cease-fire and hostage deal",
        "Hopes rise for a truce before the holiday",
        "Will the hostage deal hold? What we know",
        "Mediators seek to extend the pause by a day",
        "Families urge government to accept the framework",
        # commentary, other forums, other talks
        "Readers respond to our coverage of the war",
        "Security Council vote on cease-fire resolution delayed",
        "Talks held on reopening a border crossing to aid",
        "City council rejects budget plan after long debate",
    ],
)
def test_speculation_comment_and_other_forums_fire_nothing(headline: str) -> None:
    assert classify(headline).event is None


def test_a_negated_deal_is_a_stall_and_a_venue_and_mediators_are_read() -> None:
    found = classify("Cairo talks end without a deal, Egyptian and Qatari mediators say")
    assert found.event in {Event.STALL, Event.DELEGATION_LEAVING}
    assert found.venue == "Cairo"
    assert set(found.mediators) == {"Egypt", "Qatar"}
    assert classify("Talks in Doha make no breakthrough").event is Event.STALL


def dev(
    n: int, title: str, hours: float, outlets: int = 2, *, also: tuple[str, ...] = ()
) -> Development:
    """A development ``hours`` after T0, reported by ``outlets`` outlets."""
    names = tuple(f"Outlet {chr(65 + i)}" for i in range(outlets))
    when = T0 + timedelta(hours=hours)
    heard = tuple(Heard(name, title, when) for name in names)
    heard += tuple(Heard(names[0], other, when) for other in also)
    return Development(f"d{n:03d}", title, when, names, reports=heard)


def card_after(developments: list[Development], hours: float):  # type: ignore[no-untyped-def]
    return talks_card(developments, T0 + timedelta(hours=hours))


# The phase machine, as a table: (what happened, in order) -> the phase a reader would state.
SCENARIOS: list[tuple[str, list[Development], float, PhaseKind, str]] = [
    (
        "a proposal put to Hamas",
        [dev(1, "Hamas receives new three-phase truce proposal from mediators", 0)],
        5,
        PhaseKind.PROPOSAL_PENDING,
        "awaiting Hamas's response to Israel's proposal",
    ),
    (
        "a proposal drafted in Paris, studied by Hamas",
        [
            dev(1, "Negotiators head to Paris for hostage talks", 0),
            dev(2, "Hamas studying Paris truce framework", 30),
        ],
        40,
        PhaseKind.PROPOSAL_PENDING,
        "awaiting Hamas's response to the Paris framework",
    ),
    (
        "Hamas answers; Israel's answer awaited",
        [
            dev(1, "Hamas weighs new hostage deal proposal", 0),
            dev(2, "Hamas responds to truce plan, mediators say", 20),
        ],
        30,
        PhaseKind.RESPONDED,
        "Hamas has responded to Israel's proposal; awaiting Israel's answer",
    ),
    (
        "Israel rejects Hamas's answer",
        [
            dev(1, "Hamas responds to truce plan with 90-day counterproposal", 0),
            dev(2, "Netanyahu rejects Hamas terms for a cease-fire", 12),
        ],
        20,
        PhaseKind.REJECTED,
        "Israel rejected Hamas's response; no deal, mediators pressing on",
    ),
    (
        "a delegation arrives in Cairo",
        [dev(1, "Hamas delegation arrives in Cairo for cease-fire talks", 0)],
        3,
        PhaseKind.TALKS,
        "talks under way in Cairo",
    ),
    (
        "the delegation leaves without a deal",
        [
            dev(1, "Hamas delegation arrives in Cairo for cease-fire talks", 0),
            dev(2, "Hamas delegation leaves Cairo without a truce deal", 40),
        ],
        45,
        PhaseKind.STALLED,
        "talks stalled in Cairo, no deal",
    ),
    (
        "a truce in force, extended",
        [
            dev(1, "Israel and Hamas agree to four-day truce", 0),
            dev(2, "Four-day truce takes effect at dawn", 24),
            dev(3, "Truce extended by two days, Qatar says", 96),
            dev(4, "Hamas frees 10 more captives", 100),
        ],
        110,
        PhaseKind.TRUCE,
        "truce in force (day 4; extended 1×, to 17 Mar)",
    ),
    (
        "the truce collapses",
        [
            dev(1, "Four-day truce takes effect at dawn", 0),
            dev(2, "Fighting resumes as the truce expires", 100),
            dev(3, "Airstrikes pound Gaza City", 102),
        ],
        120,
        PhaseKind.COLLAPSED,
        "truce collapsed, fighting resumed",
    ),
]


@pytest.mark.parametrize(
    ("steps", "hours", "kind", "phase"),
    [s[1:] for s in SCENARIOS],
    ids=[s[0] for s in SCENARIOS],
)
def test_the_phase_machine_states_what_a_reader_would(
    steps: list[Development], hours: float, kind: PhaseKind, phase: str
) -> None:
    card = card_after(steps, hours)
    assert card.phase.kind is kind, [t.rule for t in card.transitions]
    assert phase_text(card) == phase


def test_one_outlet_alone_never_moves_the_phase_but_a_second_report_confirms_it() -> None:
    rumour = dev(1, "Hamas rejects the truce proposal", 0, outlets=1)
    assert card_after([rumour], 2).phase.kind is PhaseKind.NONE
    assert card_after([rumour], 2).unconfirmed[0].development.id == "d001"
    echo = Development("d002", "Hamas turns down hostage deal offer", T0 + timedelta(hours=3),
                       ("Outlet Z",))  # fmt: skip
    card = card_after([rumour, echo], 4)
    assert card.phase.kind is PhaseKind.REJECTED
    assert card.transitions[0].step.confirmed_by == "d002"


def test_a_side_reported_both_ways_keeps_the_better_sourced_account() -> None:
    card = card_after(
        [
            dev(1, "Israel offers Hamas a six-week truce for hostages", 0, outlets=3),
            dev(2, "Israel accepts the US framework, officials say", 10, outlets=6),
            dev(3, "Israel rejects permanent cease-fire terms", 14, outlets=2),
        ],
        20,
    )
    assert card.phase.kind is PhaseKind.PROPOSAL_PENDING
    assert card.phase.party == "Hamas"
    assert [s.development.id for s in card.outweighed] == ["d003"]


def test_the_card_names_venue_mediators_last_step_and_open_question() -> None:
    card = card_after(
        [
            dev(1, "Hamas delegation arrives for truce talks",
                0, outlets=3, also=("Delegation lands in Cairo as Egypt, Qatar mediate",)),
            dev(2, "Cease-fire talks continue for second day, says US envoy", 20, outlets=2),
        ],
        24,
    )  # fmt: skip
    lines = talks_lines(card)
    assert lines[1].startswith("Phase: talks under way in Cairo (since 08:00 UTC 10 Mar)")
    assert lines[2] == "Venue: Cairo · mediators: Egypt, Qatar, US"
    assert lines[3].startswith("Last confirmed step: 08:00 UTC 10 Mar — Hamas delegation arrives")
    assert "Outlet A, Outlet B, Outlet C" in lines[3]
    assert lines[4] == "Open question: whether the round in Cairo produces a deal"


def test_developments_after_now_are_not_read_and_an_empty_window_says_so() -> None:
    later = dev(1, "Truce collapses as rockets fly again", 50)
    card = card_after([later], 10)
    assert card.phase.kind is PhaseKind.NONE
    assert talks_lines(card)[1] == "No confirmed negotiation step in the last 10 days."
