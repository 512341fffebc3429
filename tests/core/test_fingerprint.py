"""Fingerprints as dedup compares them: a held headline's print, and the headline likeness."""

from __future__ import annotations

from dataclasses import replace

import pytest
from rapidfuzz import fuzz

from bot.core.fingerprint import fingerprint, headline_likeness, headline_print, with_lead

HEADLINES = [
    ("Hamas delegation arrives in Cairo for truce talks", ""),
    (
        "Israel says 24 hostages freed on fourth day of truce",
        "Twenty-four hostages were freed on Monday, the fourth day of the truce, Israel said.",
    ),
    ("LIVE: Rafah Crossing Reopens As Aid Convoy Waits", "Trucks queued at the Egyptian side."),
    ("U.S. envoy will not back unplanned Rafah offensive", "Washington said on Thursday that"),
    ("Update 3 from desk 124: truce proposal delayed outside Khan Younis", "Desk 124 filed."),
    ("Prime minister turns down cease-fire plan...", "The prime minister's office said no."),
]


@pytest.mark.parametrize(("title", "lead"), HEADLINES)
def test_headline_print_is_the_headline_fingerprinted_alone(title: str, lead: str) -> None:
    assert headline_print(fingerprint(title, lead)) == fingerprint(title)
    assert headline_print(fingerprint(title, lead), anchors=3) == fingerprint(title, anchors=3)


@pytest.mark.parametrize(("title", "lead"), HEADLINES)
def test_a_headline_given_its_own_lead_is_the_pair_fingerprinted(title: str, lead: str) -> None:
    both = fingerprint(title, lead)
    assert with_lead(fingerprint(title), both) == replace(both, anchors=fingerprint(title).anchors)


def test_a_headline_given_another_reports_lead_compares_with_that_lead() -> None:
    # A feed that repeats its headline as the description has no lead worth comparing; under
    # another outlet's headline the same words are a lead.
    words = "Blinken arrives in Egypt for Gaza truce talks with Qatari mediators"
    lead = fingerprint(words, words)
    joined = with_lead(fingerprint("US envoy lands in Cairo"), lead)
    assert not lead.has_lead
    assert joined.has_lead
    assert joined.tokens == fingerprint("US envoy lands in Cairo").tokens
    assert (joined.lead, joined.lead_tokens, joined.lead_names) == (
        lead.lead,
        lead.lead_tokens,
        lead.lead_names,
    )


@pytest.mark.parametrize(("a", "b"), [(x[0], y[0]) for x in HEADLINES for y in HEADLINES])
def test_headline_likeness_is_the_mean_of_token_sort_and_token_set(a: str, b: str) -> None:
    one, other = fingerprint(a), fingerprint(b)
    expected = (
        fuzz.token_sort_ratio(one.title, other.title, processor=None)
        + fuzz.token_set_ratio(one.title, other.title, processor=None)
    ) / 2
    assert headline_likeness(one, other) == expected
