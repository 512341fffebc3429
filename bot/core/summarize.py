"""Short extractive summaries for alerts: the story's own sentences, never rewritten.

An editor reads an alert in a notification: the headline plus at most two sentences (280
characters by default). Sentences are chosen for covering the matched topic terms, then by
position (wire leads put the news first), and shown in their original order. A sentence that
only restates the headline is skipped; an empty or stub text gives "" so the alert shows the
headline alone. Nothing is cut mid-word or mid-quote: when even one sentence is too long it is
cut at a clause or word boundary outside quotation marks and ends with "…".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rapidfuzz import fuzz

from bot.core.boilerplate import strip_boilerplate
from bot.core.text import content_words, fold

__all__ = ["split_sentences", "summarize"]

ELLIPSIS = "…"
MIN_CONTENT_WORDS = 6
"""Fewer content words than this (after boilerplate) is a stub, not a lead."""
LEAD_SENTENCES = 6
"""Only the opening sentences are candidates: later ones read out of context in an alert."""

_ABBREVIATIONS = frozenset(
    """
    mr mrs ms mx dr prof st mt ft sr jr gen lt col maj capt cpt sgt cmdr adm gov sen rep pres
    rev hon amb sec insp supt det cpl pvt messrs vol vols art fig ch pp
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun
    inc co corp ltd llc plc bros dept univ assn est approx vs al ave blvd rd
    """.split()
)
"""Words that end in a period without ending the sentence ("Mr.", "Oct.")."""
_NUMBER_ABBREVIATIONS = frozenset({"no", "nos", "p", "pp", "art", "fig", "vol"})
"""Abbreviations only when a number follows ("No. 10", "p. 4"): "said no. No one..." ends."""

# A candidate boundary: terminal punctuation (or an ellipsis), closing quotes/brackets, space.
_BOUNDARY = re.compile(r"(\.{3}|…|[.!?]+)([\"”’')\]]*)(\s+)")
_NEXT_STARTS_SENTENCE = re.compile(r"[\"“‘'(\[]?[A-Z0-9]")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_OPENING_QUOTES = {"“": "”", '"': '"'}


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` in order; line breaks always end a sentence.

    A period does not end a sentence after a known abbreviation ("Mr.", "Jan."), an initial
    ("J. Smith"), a dotted acronym ("U.S.", "U.N."), or inside a number ("2.5"); a sentence
    that ends inside quotes keeps its closing quote; an ellipsis ends a sentence only when a
    capitalised word follows.
    """
    sentences: list[str] = []
    for block in re.split(r"\s*\n\s*", text.strip()):
        if block:
            sentences.extend(_split_block(block))
    return sentences


def _split_block(block: str) -> list[str]:
    out: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(block):
        rest = block[m.end() :]
        if not rest or not _NEXT_STARTS_SENTENCE.match(rest):
            continue
        punct = m.group(1)
        if (
            punct == "."
            and not m.group(2)
            and _is_abbreviation(block[start : m.start()], number_follows=rest[0].isdigit())
        ):
            continue
        sentence = block[start : m.end(2)].strip()
        if sentence:
            out.append(sentence)
        start = m.end()
    tail = block[start:].strip()
    if tail:
        out.append(tail)
    return out


def _is_abbreviation(before: str, *, number_follows: bool) -> bool:
    m = _WORD_BEFORE.search(before)
    if not m:
        return False
    word = m.group(1)
    if "." in word:  # U.S, U.N, a.m, p.m: dotted acronyms
        return True
    if len(word) == 1 and word.isupper():  # an initial: "J. K. Rowling"
        return True
    lowered = word.lower()
    if lowered in _NUMBER_ABBREVIATIONS:
        return number_follows
    return lowered in _ABBREVIATIONS


def _repeats_headline(sentence: str, title: str) -> bool:
    """True when the sentence says nothing the headline does not."""
    said = set(content_words(title))
    words = content_words(sentence)
    if not words:
        return True
    new = [w for w in words if w not in said]
    if len(new) <= 1:
        return True
    return fuzz.ratio(" ".join(words), " ".join(content_words(title))) >= 88


def _term_patterns(terms: Sequence[str]) -> list[re.Pattern[str]]:
    patterns = []
    for term in dict.fromkeys(fold(t) for t in terms if t.strip()):
        body = r"[\s-]?".join(re.escape(w) for w in re.split(r"[\s-]+", term))
        patterns.append(re.compile(rf"(?<![0-9a-z]){body}(?:'s|s|es)?(?![0-9a-z])"))
    return patterns


def _quote_spans(text: str) -> list[tuple[int, int]]:
    """Spans of quoted passages ("...", “...”); an unclosed quote runs to the end."""
    spans = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in _OPENING_QUOTES:
            close = text.find(_OPENING_QUOTES[ch], i + 1)
            end = len(text) if close == -1 else close + 1
            spans.append((i, end))
            i = end
        else:
            i += 1
    return spans


def _cut(sentence: str, limit: int) -> str:
    """``sentence`` shortened to at most ``limit`` characters, ending with "…".

    Prefers the last clause boundary (, ; : — –) in the second half, else the last space; never
    inside a quotation or a word.
    """
    if len(sentence) <= limit:
        return sentence
    room = limit - len(ELLIPSIS)
    quotes = _quote_spans(sentence)

    def outside(pos: int) -> bool:
        return not any(a < pos < b for a, b in quotes)

    def kept(space: int) -> str:
        return sentence[:space].rstrip(" ,;:—–-")

    spaces = [
        i
        for i, ch in enumerate(sentence[: room + 2])
        if ch == " " and i > 0 and outside(i) and len(kept(i)) <= room
    ]
    clauses = [
        i
        for i in spaces
        if i >= room // 2 and (sentence[i - 1] in ",;:" or sentence[i + 1 : i + 2] in ("—", "–"))
    ]
    candidates = clauses or spaces
    if not candidates:
        return ""
    cut = kept(candidates[-1])
    return cut + ELLIPSIS if cut else ""


def summarize(
    title: str,
    text: str,
    terms: Sequence[str] = (),
    *,
    max_sentences: int = 2,
    max_chars: int = 280,
) -> str:
    """At most ``max_sentences`` whole sentences of ``text`` within ``max_chars`` characters.

    ``terms`` are the story's matched topic terms: sentences covering more of them are preferred,
    then earlier ones. Returns "" when the text is empty, a stub, or only repeats the headline.
    """
    cleaned = strip_boilerplate(text)
    if len(content_words(cleaned)) < MIN_CONTENT_WORDS:
        return ""
    sentences = [
        (i, s)
        for i, s in enumerate(split_sentences(cleaned)[:LEAD_SENTENCES])
        if not _repeats_headline(s, title) and len(content_words(s)) >= 3
    ]
    if not sentences or max_sentences < 1:
        return ""

    patterns = _term_patterns(terms)
    covers = {i: {n for n, p in enumerate(patterns) if p.search(fold(s))} for i, s in sentences}

    chosen: list[tuple[int, str]] = []
    covered: set[int] = set()
    length = 0
    candidates = list(sentences)
    while candidates and len(chosen) < max_sentences:
        # Most newly covered terms first; among equals the earliest sentence (the lead).
        best = max(candidates, key=lambda item: (len(covers[item[0]] - covered), -item[0]))
        candidates.remove(best)
        extra = len(best[1]) + (1 if chosen else 0)
        if length + extra <= max_chars:
            chosen.append(best)
            covered |= covers[best[0]]
            length += extra
        elif not chosen:
            cut = _cut(best[1], max_chars)
            if cut:
                return cut
    chosen.sort()
    return " ".join(s for _, s in chosen)
