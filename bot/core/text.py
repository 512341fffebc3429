"""Text folding and tokens shared by deduplication and topic scoring.

Headlines arrive with typographic quotes, dashes, accents and odd spacing; two outlets writing the
same words must fold to the same string. Folding is lossy on purpose: it is for comparing, never
for showing.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_PUNCT_MAP = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u00b4": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u2009": " ",
        "\u200a": " ",
        "\u202f": " ",
        "\u200b": "",
        "\u200c": "",
        "\u200d": "",
        "\ufeff": "",
    }
)

_WORD = re.compile(r"[0-9a-z]+(?:'[a-z]+)?")
_SPACES = re.compile(r"\s+")
_DOTTED = re.compile(r"(?<![\w.])((?:[A-Za-z]\.){2,})(?![A-Za-z])")
"""An acronym written with dots ("U.S.", "C.I.A.", "I.D.F."): one word, as its undotted form."""


def _acronyms(text: str) -> str:
    if "." in text:
        text = _DOTTED.sub(lambda m: m.group(1).replace(".", "").upper(), text)
    return text


STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "says",
        "said",
        "say",
        "new",
        "amid",
        "says'",
        "s",
        "will",
        "also",
        "may",
        "might",
        "must",
        "shall",
        "us",
        "via",
        "per",
        "vs",
        "latest",
        "live",
        "update",
        "updates",
        "report",
        "reports",
        "reported",
        "news",
        "today",
        "yesterday",
        "tomorrow",
    ]
)
"""Words too common to tell two stories apart (including newsroom filler like "live", "update")."""


FOLD_CACHE = 4096
"""Folded texts remembered. A text is folded several times while its report is judged (the
headline by dedup, scoring, corroboration; the lead by its fingerprint, digest and scoring), all
within one poll: a few thousand entries catch those repeats. The cache keeps each text alive as
well as its folded form, leads included, so 65,536 entries held some 30 MB of texts long
judged."""


@lru_cache(maxsize=FOLD_CACHE)
def fold(text: str) -> str:
    """Lower-case, accent-free, ASCII-punctuated, single-spaced form of ``text``; dotted
    acronyms undotted ("C.I.A." and "CIA" fold alike; "U.S." is "us", a stopword, as before)."""
    text = unicodedata.normalize("NFKD", _acronyms(text.translate(_PUNCT_MAP)))
    if not text.isascii():  # combining marks are never ASCII: most English copy skips this
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _SPACES.sub(" ", text).strip().casefold()


def words(text: str) -> list[str]:
    """All word tokens of the folded text, in order (possessive ``'s`` dropped)."""
    out = []
    for token in _WORD.findall(fold(text)):
        if token.endswith("'s"):
            token = token[:-2]
        elif "'" in token:
            token = token.replace("'", "")
        out.append(token)
    return out


def content_words(text: str) -> list[str]:
    """Word tokens without stopwords and one-letter tokens: what a story is about."""
    return [w for w in words(text) if len(w) > 1 and w not in STOPWORDS]


# --- the boundary: feed-derived strings ----------------------------------------------------------

_UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # C0 (but tab, newline, return) and C1 controls, NUL
    "\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff"  # bidi, zero-width
    "\ufff9-\ufffb\ud800-\udfff]"  # interlinear annotation, lone UTF-16 surrogates
)
"""What no reader should get from a feed: controls a database refuses (NUL, lone surrogates) and
characters that reshape what a reader sees without showing themselves (U+202E turns "lasoporp
tcejer" into "reject proposal"; zero-width joiners hide words from filters)."""

FIELD_LIMITS = {
    "guid": 1_000,
    "title": 2_000,
    "link": 4_000,
    "outlet": 200,
    "author": 200,
    "summary": 200_000,
}
"""The longest a feed field may be, in characters, before it is cut: a several-megabyte headline
must cost one cut, not a poll's worth of parsing, folding and fuzzy matching."""


def sanitize(value: str | None, limit: int) -> str | None:
    """A feed string made safe to store and show: the characters of ``_UNSAFE`` dropped and the
    rest cut to ``limit`` characters. None stays None."""
    if value is None:
        return None
    if len(value) > limit:
        value = value[:limit]
    if _UNSAFE.search(value):
        value = _UNSAFE.sub("", value)
    return value
