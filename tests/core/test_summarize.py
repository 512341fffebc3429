"""Alert summaries: the story's own sentences, short, never cut mid-word or mid-quote."""

from __future__ import annotations

import pytest

from bot.core.summarize import split_sentences, summarize

TITLE = "Hamas delegation leaves Cairo as talks stall"
LEAD = (
    "Negotiations between Israel and Hamas stalled on Sunday after the group's negotiators left "
    "Egypt without an agreement. "
    "The main dispute is over whether a truce would be permanent, officials said. "
    "Israel's prime minister again vowed to send troops into Rafah with or without a deal. "
    "A Qatari team also left the Egyptian capital."
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Mr. Netanyahu met Dr. Haddad in Jerusalem. They spoke for an hour.",
            ["Mr. Netanyahu met Dr. Haddad in Jerusalem.", "They spoke for an hour."],
        ),
        (
            "U.S. and U.N. officials arrived. The talks began.",
            ["U.S. and U.N. officials arrived.", "The talks began."],
        ),
        (
            "The attack on Oct. 7 killed about 1,200 people. Talks began later.",
            ["The attack on Oct. 7 killed about 1,200 people.", "Talks began later."],
        ),
        (
            "The army said the St. George church was hit. No. 10 condemned it.",
            ["The army said the St. George church was hit.", "No. 10 condemned it."],
        ),
        (
            "Gen. H. R. Halevi visited the border. He left at noon.",
            ["Gen. H. R. Halevi visited the border.", "He left at noon."],
        ),
        (
            "Aid rose 2.5 times in Jan. compared with December. Trucks waited.",
            ["Aid rose 2.5 times in Jan. compared with December.", "Trucks waited."],
        ),
        (
            'He said "we are close to a deal." Hamas denied it.',
            ['He said "we are close to a deal."', "Hamas denied it."],
        ),
        (
            "She called it “a crisis.” The talks ended.",
            ["She called it “a crisis.”", "The talks ended."],
        ),
        (
            "The talks continued... and then stopped. Nobody knew why… Officials declined to say.",
            [
                "The talks continued... and then stopped.",
                "Nobody knew why…",
                "Officials declined to say.",
            ],
        ),
        (
            "Was it over? Nobody said! Then came news.",
            ["Was it over?", "Nobody said!", "Then came news."],
        ),
        (
            "First line without a period\nSecond line.",
            ["First line without a period", "Second line."],
        ),
    ],
)
def test_sentences_split_at_real_ends_only(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_lead_sentences_come_first_within_two_sentences_and_280_chars() -> None:
    summary = summarize(TITLE, LEAD)
    sentences = split_sentences(summary)
    assert len(summary) <= 280
    assert len(sentences) == 2
    assert sentences[0].startswith("Negotiations between Israel and Hamas stalled")


def test_limits_are_configurable() -> None:
    one = summarize(TITLE, LEAD, max_sentences=1)
    assert split_sentences(one) == [split_sentences(LEAD)[0]]
    short = summarize(TITLE, LEAD, max_chars=120)
    assert len(short) <= 120


def test_sentences_covering_matched_terms_are_preferred_and_kept_in_order() -> None:
    summary = summarize(TITLE, LEAD, ["Rafah"])
    assert "Rafah" in summary
    assert summary.index("Negotiations") < summary.index("Rafah")


def test_sentence_that_only_repeats_the_headline_is_dropped() -> None:
    text = (
        "A Hamas delegation leaves Cairo as talks stall. "
        "Mediators said they would try again on Tuesday with a new text."
    )
    assert (
        summarize(TITLE, text) == "Mediators said they would try again on Tuesday with a new text."
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "Share.\nExit mobile version",
        "Talks stall.",
        "Hamas delegation leaves Cairo as talks stall.",
    ],
)
def test_empty_stub_or_headline_only_text_gives_no_summary(text: str) -> None:
    assert summarize(TITLE, text) == ""


def test_boilerplate_never_reaches_the_summary() -> None:
    text = f"CAIRO (Reuters) - {LEAD}\n\nShare.\nExit mobile version"
    summary = summarize(TITLE, text)
    assert summary.startswith("Negotiations between")
    assert "Share" not in summary
    assert "Reuters" not in summary


LONG = (
    "Hamas negotiators said on Sunday that the latest Israeli proposal, which was delivered "
    "through Egyptian and Qatari mediators late on Friday, contained “nothing new and nothing "
    "that would end the war or return the displaced to their homes in the north of the Gaza "
    "Strip,” and that the group would reply formally once its leadership in Doha had met."
)


@pytest.mark.parametrize("limit", [60, 90, 120, 150, 200, 240, 280])
def test_overlong_sentence_is_cut_outside_quotes_at_a_word_boundary(limit: int) -> None:
    summary = summarize(TITLE, LONG, max_chars=limit)
    assert len(summary) <= limit
    assert summary.endswith("…")
    body = summary[:-1]
    assert LONG.startswith(body)
    assert LONG[len(body)] in " ,"  # a whole word: the original continues with a space or comma
    assert body.count("“") == body.count("”")  # never half a quotation


def test_cut_prefers_a_clause_boundary() -> None:
    summary = summarize(TITLE, LONG, max_chars=140)
    assert summary == (
        "Hamas negotiators said on Sunday that the latest Israeli proposal, which was delivered "
        "through Egyptian and Qatari mediators late on Friday…"
    )


def test_whole_sentences_are_never_cut_when_they_fit() -> None:
    for sentence in split_sentences(summarize(TITLE, LEAD)):
        assert sentence in LEAD
