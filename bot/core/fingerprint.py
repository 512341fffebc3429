"""What deduplication compares: a report's headline and lead, folded once into comparable parts.

Two outlets telling the same development rarely write the same words, and two developments of
the same subject often share most of theirs ("Hamas delegation arrives in Cairo" / "... leaves
Cairo"). So a ``Fingerprint`` keeps, besides the folded words for fuzzy scoring, the few signals
that tell developments apart whatever the subject: the numbers in the headline, the proper names,
negation, and event verbs whose opposites appear in other headlines (arrive/leave, open/close,
agree/reject...). ``compare`` scores two fingerprints and applies those guards.

Everything here is computed once per report; comparing is a handful of rapidfuzz calls on
pre-folded strings (``processor=None``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import lru_cache

from rapidfuzz import fuzz

from bot.core.text import STOPWORDS, fold, words

_NOTHING: frozenset[str] = frozenset()
"""The one empty set every fingerprint shares: most of a headline's sets (ranks, negations, names
of a Title Case headline...) are empty, and each empty frozenset would take 216 bytes."""


def _set(items: Iterable[str]) -> frozenset[str]:
    """``items`` as a frozenset, the shared one when empty."""
    out = frozenset(items)
    return out if out else _NOTHING


LEAD_CHARS = 400
"""Only the start of the lead is compared: the rest is background that every report repeats."""

_TAG_PREFIX = re.compile(
    r"^\s*(?:(?:live(?:\s+updates?)?|breaking(?:\s+news)?|update[ds]?(?:\s*\d+)?|exclusive|"
    r"watch|video|analysis|explainer|factbox|snap|urgent|developing|just\s+in|correct(?:ed|ion)"
    r"|refile|rpt|photos?)\s*[-:|\u2013\u2014]+\s*)+",
    re.IGNORECASE,
)
"""Newsroom labels before a headline ("LIVE:", "UPDATE 2-", "BREAKING |"): not the news."""

_TRUNCATED = re.compile(r"\s*(?:\.\.\.|\u2026)\s*$")
_NUMBER = re.compile(r"(\d+(?:[.,]\d+)*)(st|nd|rd|th)?\b(?!\s*(?:a\.?m\b|p\.?m\b|gmt|utc))")

_NUMBER_WORDS = {
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "dozen": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
    "twenty": "20",
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "hundred": "100",
    "thousand": "1000",
    "million": "million",
    "billion": "billion",
    "trillion": "trillion",
}
"""Spelled-out counts, read as the numbers they are ("thirteen" is 13). "one" is left out: it is
mostly not a count ("one of")."""

_ORDINALS = {
    "second": "2nd",
    "third": "3rd",
    "fourth": "4th",
    "fifth": "5th",
    "sixth": "6th",
    "seventh": "7th",
    "eighth": "8th",
    "ninth": "9th",
    "tenth": "10th",
}
"""Spelled-out ordinals, kept apart from counts: "33 released on the fourth day" and "33
Palestinians, 11 Israelis released" report the same swap ("first" is mostly not a rank)."""

_NEGATIONS = frozenset(
    "not never cannot cant wont dont doesnt didnt isnt arent wasnt werent "
    "deny denies denied denying".split()
)
"""Words that turn a headline's claim around ("Israel denies deal reached", "talks will not
resume"). "no" and "without" are left out: they mostly describe, not contradict ("leaves
thousands without power", "no breakthrough")."""


def _inflect(*bases: str) -> set[str]:
    """The inflected forms of verbs (arrive -> arrives, arrived, arriving), without the base,
    which is as often a noun or an infinitive ("a release", "a plan to end the war")."""
    out: set[str] = set()
    for base in bases:
        if base.endswith("e"):
            out.update({base + "s", base + "d", base[:-1] + "ing"})
        elif base.endswith("y") and base[-2] not in "aeiou":
            out.update({base[:-1] + "ies", base[:-1] + "ied", base + "ing"})
        else:
            out.update({base + "s", base + "es", base + "ed", base + "ing"})
    return out


_EVENT_VERBS: dict[str, tuple[set[str], set[str]]] = {
    # canonical: (inflected verb forms = the headline's claim, bases and nouns = its topic)
    "arrive": (_inflect("arrive", "reach") | {"lands", "landed"}, {"arrive", "reach", "arrival"}),
    "leave": (
        _inflect("leave", "depart", "exit", "quit") | {"left", "quit"},
        {"leave", "depart", "exit", "departure"},
    ),
    "withdraw": (_inflect("withdraw") | {"withdrew", "withdrawn"}, {"withdraw", "withdrawal"}),
    "open": (_inflect("open", "reopen"), {"open", "reopen", "reopening"}),
    "close": (_inflect("close", "shut", "seal") | {"shuts", "shutting"}, {"close", "closure"}),
    "approve": (
        _inflect("approve", "endorse", "accept", "agree", "ratify") | {"backs", "backed"},
        {"approve", "endorse", "accept", "agree", "ratify", "approval"},
    ),
    "reject": (
        _inflect("reject", "refuse", "veto", "oppose", "spurn", "rebuff"),
        {"reject", "refuse", "veto", "oppose", "rejection", "refusal"},
    ),
    "start": (
        _inflect("start", "begin", "launch", "resume", "restart", "restore", "erupt")
        | {"began", "begun"},
        {"start", "begin", "launch", "resume", "restart", "restore", "resumption"},
    ),
    "halt": (
        _inflect("halt", "suspend", "stop", "stall")
        | {"paused", "pausing", "stopped", "stopping", "froze", "frozen", "freezes"},
        {"halt", "suspend", "stop", "freeze", "stall", "suspension"},
    ),
    "end": (
        _inflect("end", "expire", "conclude", "collapse", "lapse", "shatter"),
        {"end", "expire", "conclude", "expiry", "collapse", "lapse"},
    ),
    "progress": (_inflect("progress"), {"progress"}),
    "extend": (_inflect("extend", "prolong"), {"extend", "prolong", "extension"}),
    "rise": (
        _inflect("rise", "climb", "jump", "surge", "soar", "increase") | {"rose", "risen"},
        {"rise", "climb", "jump", "surge", "soar", "increase"},
    ),
    "fall": (
        _inflect("fall", "drop", "slip", "plunge", "decline", "sink", "tumble", "slump")
        | {"fell", "fallen", "sank", "dropped", "dropping", "slipped", "slipping"},
        {"fall", "drop", "slip", "plunge", "decline", "sink", "tumble", "slump", "decrease"},
    ),
    "release": (_inflect("release", "free", "rescue"), {"release", "free", "rescue"}),
    "detain": (
        _inflect("detain", "arrest", "capture", "seize", "abduct", "kidnap", "jail"),
        {"detain", "arrest", "capture", "seize", "abduct", "kidnap", "detention"},
    ),
    "confirm": (_inflect("confirm"), {"confirm", "confirmation"}),
    "deny": (_inflect("deny"), {"deny", "denial"}),
    "lift": (_inflect("lift", "ease"), {"lift", "ease"}),
    "impose": (_inflect("impose", "tighten"), {"impose", "tighten"}),
    "raise": (_inflect("raise", "hike", "boost"), {"raise", "hike", "boost"}),
    "cut": (_inflect("lower", "reduce", "slash") | {"cuts", "cutting"}, {"cut", "reduce"}),
    "win": ({"wins", "won", "winning"}, {"win"}),
    "lose": ({"loses", "lost", "losing"}, {"lose"}),
    "delay": (_inflect("delay", "postpone"), {"delay", "postpone"}),
    "propose": (
        _inflect("propose", "offer", "float", "unveil", "submit"),
        {"propose", "offer", "proposal"},
    ),
    "kill": (_inflect("kill", "die") | {"died", "dying", "slain"}, {"kill", "dead", "death"}),
}
"""Headline verbs that mean the same event, under one canonical word: "Rafah crossing shut" and
"Rafah crossing closes" fold to the same event; so do "freed" and "released"."""

_CLAIMS: dict[str, str] = {
    form: verb for verb, (forms, _) in _EVENT_VERBS.items() for form in forms
}
"""Inflected event verbs: what a headline says happened."""

_CANONICAL: dict[str, str] = {
    **{form: verb for verb, (_, topics) in _EVENT_VERBS.items() for form in topics},
    **_CLAIMS,
}

_OPPOSITES: frozenset[frozenset[str]] = frozenset(
    frozenset(pair)
    for pair in (
        ("arrive", "leave"),
        ("open", "close"),
        ("approve", "reject"),
        ("start", "halt"),
        ("progress", "halt"),
        ("start", "end"),
        ("extend", "end"),
        ("rise", "fall"),
        ("release", "detain"),
        ("confirm", "deny"),
        ("lift", "impose"),
        ("raise", "cut"),
        ("win", "lose"),
    )
)
"""Events that contradict each other: a headline with one and another with the other (and not
both) tell different developments, whatever the subject."""

_DEMONYMS = {
    "egyptian": "egypt",
    "iranian": "iran",
    "jordanian": "jordan",
    "syrian": "syria",
    "lebanese": "lebanon",
    "russian": "russia",
    "ukrainian": "ukraine",
    "turkish": "turkey",
    "british": "uk",
    "britain": "uk",
    "thai": "thailand",
    "earthquake": "quake",
    "premier": "pm",
    "negotiators": "delegation",
    "envoys": "delegation",
}
"""Adjective and country name as one word ("Egyptian proposal" / "Egypt's proposal"), and a few
words headlines use for the same people ("premier" for "PM", "negotiators" for a delegation); names
ending in -i (Israeli, Qatari, Iraqi, Yemeni) are folded by rule in ``stem``."""


def _concepts(**groups: str) -> dict[str, str]:
    return {word: concept for concept, written in groups.items() for word in written.split()}


_CONCEPTS = _concepts(
    truce="truce ceasefire pause lull armistice",
    hostage="hostage captive abductee",
    strike="strike airstrike bombing bombardment bombard shelling bomb pound pounding blitz",
    offensive="offensive assault invasion incursion onslaught",
    evacuate="evacuate evacuation evacuated evacuating evacuee",
    military="military idf army troop soldier",
    talk="talk negotiation",
    deal="deal agreement accord pact",
)
"""Words that name the same thing in headlines of one story, compared as one (after the plural
is dropped): a truce is a cease-fire is a pause; an assault on a town is an offensive. Only
synonyms in the news's own usage, never a broader term: "attack" stays apart from "strike"."""


@lru_cache(maxsize=131072)
def stem(word: str) -> str:
    """A light, predictable stem for comparing headlines.

    Event verbs fold to their canonical word (freed -> release), spelled numbers to digits
    (thirteen -> 13), demonyms to the country (Israeli -> israel), plurals to the singular
    (hostages -> hostage). Nothing heavier: a full stemmer folds words that news tells apart.
    """
    if word in _CANONICAL:
        return _CANONICAL[word]
    if word in _DEMONYMS:
        return _DEMONYMS[word]
    if word in _NUMBER_WORDS:
        return _NUMBER_WORDS[word]
    if word in _ORDINALS:
        return _ORDINALS[word]
    base = word
    if len(word) > 4 and word.endswith("i") and word.isalpha():
        base = word[:-1]
    elif len(word) > 4 and word.endswith("ies"):
        base = word[:-3] + "y"
    elif len(word) > 5 and word.endswith(("shes", "ches", "xes", "sses", "zzes")):
        base = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        base = word[:-1]
    return _CONCEPTS.get(base, base)


def clean_headline(title: str) -> str:
    """The headline without newsroom labels ("LIVE:") or a truncation mark at the end."""
    cleaned = _TAG_PREFIX.sub("", title)
    return _TRUNCATED.sub("", cleaned).strip() or title.strip()


def _numbers(tokens: list[str], folded: str) -> tuple[frozenset[str], frozenset[str]]:
    """The counts and the ordinals ("7th", "seventh") of a headline."""
    counts: set[str] = set()
    ranks: set[str] = set()
    for digits, suffix in _NUMBER.findall(folded):
        number = digits.replace(",", "")
        if suffix:
            ranks.add(number + suffix)
        else:
            counts.add(number)
    counts.update(_NUMBER_WORDS[t] for t in tokens if t in _NUMBER_WORDS)
    ranks.update(_ORDINALS[t] for t in tokens if t in _ORDINALS)
    return _set(counts), _set(ranks)


def _is_title_case(raw_words: list[str]) -> bool:
    """True when most longer words are capitalised: proper names cannot be told apart then."""
    long_words = [w for w in raw_words if len(w) > 3 and w.lower() not in STOPWORDS]
    if len(long_words) < 2:
        return True
    capitalised = sum(1 for w in long_words if w[0].isupper())
    return capitalised >= 0.6 * len(long_words)


_RAW_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)?")


def _capitalised(raw: list[str]) -> set[str]:
    """Stems of capitalised words that do not open a sentence."""
    out: set[str] = set()
    for i, w in enumerate(raw):
        if i == 0 or not w[0].isupper() or (w.isupper() and len(w) <= 1):
            continue
        for token in words(w):
            if len(token) > 1 and token not in STOPWORDS:
                out.add(stem(token))
    return out


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _names(title: str) -> frozenset[str]:
    """Proper names of a sentence-case headline: its capitalised words after the first (places,
    people, groups). Empty for Title Case headlines, where capitals say nothing."""
    raw = _RAW_WORD.findall(title)
    return _NOTHING if _is_title_case(raw) else _set(_capitalised(raw))


def _lead_names(lead: str) -> frozenset[str]:
    """Words a (sentence-case) lead capitalises mid-sentence: they tell which words of a Title
    Case headline are names ("Riyal", "Dirham")."""
    out: set[str] = set()
    for sentence in _SENTENCE.split(lead):
        out |= _capitalised(_RAW_WORD.findall(sentence))
    return _set(out)


_PHRASAL: dict[tuple[str, str], str] = {
    **{(verb, "down"): "rejects" for verb in ("turn", "turns", "turned", "turning")},
    **{(verb, "off"): "halts" for verb in ("call", "calls", "called", "calling")},
    **{(verb, "down"): "halts" for verb in ("break", "breaks", "broke", "broken")},
    **{(verb, "out"): "withdraws" for verb in ("pull", "pulls", "pulled", "pulling")},
    **{(verb, "out"): "leaves" for verb in ("walk", "walks", "walked", "storms", "stormed")},
    **{(verb, "free"): "releases" for verb in ("set", "sets", "go", "goes", "went")},
    ("prime", "minister"): "pm",
    ("cease", "fire"): "ceasefire",
    ("air", "strike"): "airstrike",
    ("air", "strikes"): "airstrikes",
    ("u", "s"): "us",
    ("u", "n"): "un",
    ("u", "k"): "uk",
}
"""Two-word verbs that mean one event ("turns down" a plan is rejecting it): read as that verb.
Also two words written for one ("prime minister" and "PM", "cease-fire" and "ceasefire", "U.S.")."""


def _phrasal(tokens: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        verb = _PHRASAL.get((tokens[i], tokens[i + 1])) if i + 1 < len(tokens) else None
        if verb is None:
            out.append(tokens[i])
            i += 1
        else:
            out.append(verb)
            i += 2
    return out


def _events(tokens: list[str]) -> frozenset[str]:
    return _set(_CLAIMS[t] for t in tokens if t in _CLAIMS)


_TENTATIVE = frozenset(
    "will would could may might seek seeks seeking sought try tries trying push pushes pushing "
    "bid bids effort efforts aim aims aiming hope hopes hoping expect expects expected plan plans "
    "planning prepare prepares preparing vow vows threaten threatens near nears nearing close "
    "closer possible likely set due poised".split()
)
"""Words that put the event after them in the future or in doubt: "set to begin", "seeks to
extend", "nears release", "deal close"."""

_DONE_BEFORE_TO = frozenset(
    "agree agrees agreed agreeing deal reach reaches reached decide decides decided vote votes "
    "voted approve approves approved move moves moved begin begins began start starts started "
    "continue continues continued".split()
)
"""Before "to", words that make the event after it done, not expected: "agree to extend the
truce" is the extension; "Israel and Hamas to start a truce" is only the plan."""

TENTATIVE_REACH = 3
"""How many words after such a word an event may stand and still be only expected."""


def _tentative(tokens: list[str]) -> frozenset[str]:
    """Events named (verb or noun) within ``TENTATIVE_REACH`` words after a tentative word."""
    out: set[str] = set()
    for i, token in enumerate(tokens):
        if token == "to":
            if i > 0 and tokens[i - 1] in _DONE_BEFORE_TO:
                continue
        elif token not in _TENTATIVE:
            continue
        for later in tokens[i + 1 : i + 1 + TENTATIVE_REACH]:
            event = _CANONICAL.get(later)
            if event is not None:
                out.add(event)
                break
    return _set(out)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A report's headline and lead, folded once for fast comparison."""

    title: str
    """Content-word stems of the headline, space-joined, for rapidfuzz."""
    tokens: frozenset[str]
    """The same stems as a set."""
    lead: str
    """Content-word stems of the start of the lead ("" when there is none)."""
    lead_tokens: tuple[str, ...]
    """The lead's distinct stems, in order. A tuple, as the lead's words are only looked up
    through a set of other words: twenty stems take 200 bytes as a tuple, 2,264 as a set, and
    every story in the window holds its lead's."""
    numbers: frozenset[str]
    """Counts in the headline ("24 hostages", "thirteen")."""
    ranks: frozenset[str]
    """Ordinals in the headline ("fourth day", "7th")."""
    names: frozenset[str]
    """Proper names in the headline, when its capitals tell them."""
    lead_names: frozenset[str]
    """Words the lead capitalises mid-sentence."""
    title_case: bool
    """Most longer words of the headline are capitalised: its capitals tell no names."""
    negated: bool
    events: frozenset[str]
    """Canonical events the headline claims with an inflected verb ("arrives", "freed")."""
    actions: frozenset[str]
    """Canonical events named in any form, verb or noun ("talks resume", "closure")."""
    tentative: frozenset[str]
    """Events the headline only expects or seeks ("set to begin", "seeks to extend", "will
    release"): an attempt, not the thing done."""
    anchors: tuple[str, ...]
    """Informative stems used for blocking: the headline's, then the lead's first few."""
    title_sorted: str
    """``title``'s stems in sorted order: rapidfuzz's token_sort_ratio is the plain ratio of
    two such strings, so each report sorts its words once, not once per comparison."""
    lead_sorted: str
    """``lead``'s stems in sorted order (see ``title_sorted``)."""
    has_lead: bool
    """The lead is worth comparing (``_has_lead``), decided once."""

    @property
    def plain(self) -> frozenset[str]:
        """Stems a sentence-case headline writes in lower case (not names, as far as it says).
        Worked out when asked (only as held headlines come and go), not held with the rest."""
        if self.title_case:
            return _NOTHING
        return (self.tokens - self.names if self.names else self.tokens) or _NOTHING


def _content_stems(tokens: list[str]) -> list[str]:
    return [stem(t) for t in tokens if len(t) > 1 and t not in STOPWORDS]


def fingerprint(title: str, text: str = "", *, anchors: int = 12) -> Fingerprint:
    """Fold a headline and lead into a ``Fingerprint``; ``anchors`` caps the blocking tokens."""
    headline = clean_headline(title)
    folded = fold(headline)
    all_words = _phrasal(words(headline))
    title_stems = _content_stems(all_words)
    lead_stems = _content_stems(words(text[:LEAD_CHARS])) if text else []
    raw_tokens = frozenset(all_words)
    counts, ranks = _numbers(all_words, folded)
    tentative = _tentative(all_words)
    title_case = _is_title_case(_RAW_WORD.findall(headline))
    names = _NOTHING if title_case else _set(_capitalised(_RAW_WORD.findall(headline)))
    ordered: dict[str, None] = dict.fromkeys(title_stems)
    for s in lead_stems:
        if len(ordered) >= anchors:
            break
        ordered.setdefault(s, None)
    tokens = _set(title_stems)
    lead_tokens = tuple(dict.fromkeys(lead_stems))
    events = _events(all_words)
    return Fingerprint(
        title=" ".join(title_stems),
        tokens=tokens,
        lead=" ".join(lead_stems),
        lead_tokens=lead_tokens,
        numbers=counts,
        ranks=ranks,
        names=names,
        title_case=title_case,
        lead_names=_lead_names(text[:LEAD_CHARS]) if text else _NOTHING,
        negated=bool(raw_tokens & _NEGATIONS),
        events=(events - tentative or _NOTHING) if tentative else events,
        actions=_set(_CANONICAL[t] for t in all_words if t in _CANONICAL),
        tentative=tentative,
        anchors=tuple(ordered)[:anchors],
        title_sorted=" ".join(sorted(title_stems)),
        lead_sorted=" ".join(sorted(lead_stems)),
        has_lead=_has_lead(tokens, lead_tokens),
    )


def headline_print(print_: Fingerprint, *, anchors: int = 12) -> Fingerprint:
    """``print_`` without its lead: ``fingerprint(title, anchors=anchors)`` of its headline, sharing
    the headline's sets rather than folding it again (a held report keeps only its headline)."""
    own = tuple(dict.fromkeys(print_.title.split()))[:anchors]
    if not print_.lead and not print_.lead_names and own == print_.anchors:
        return print_
    return replace(
        print_,
        lead="",
        lead_tokens=(),
        lead_names=_NOTHING,
        lead_sorted="",
        has_lead=False,
        anchors=own,
    )


def with_lead(headline: Fingerprint, lead: Fingerprint) -> Fingerprint:
    """``headline``'s headline with ``lead``'s lead: how a story's member compares, since a
    story keeps one lead for all its headlines."""
    return replace(
        headline,
        lead=lead.lead,
        lead_tokens=lead.lead_tokens,
        lead_names=lead.lead_names,
        lead_sorted=lead.lead_sorted,
        has_lead=_has_lead(headline.tokens, lead.lead_tokens),
    )


RARITY_SCALE = 1000.0
"""Stories a window must hold before a word it has never seen counts as fully rare: a word's
weight is ``ln((stories + 1) / (stories using it + 1)) / ln(RARITY_SCALE)``, capped at 1. A small
window (a fresh start, a quiet desk) gives every word a low weight, so rarity only lowers the bar
once there is enough news to tell a rare word from a common one."""


class Rarity:
    """How rare each headline stem is among the stories held in the window.

    Counts, for each stem, the stories whose headlines use it: document frequency by story, not
    by report, so fifty outlets reporting one development do not make its key word common. Kept
    up to date by ``StoryIndex`` as stories come, change and expire, so the weights are a pure
    function of the window's content (a restart that reloads the same stories gets the same).
    """

    def __init__(self) -> None:
        self._df: dict[str, int] = {}
        self._capitalised: dict[str, int] = {}
        self._plain: dict[str, int] = {}
        self.stories = 0

    def add_usage(self, print_: Fingerprint, sign: int = 1) -> None:
        """Count how a held headline writes its words: capitalised mid-sentence or not."""
        for counts, stems in ((self._capitalised, print_.names), (self._plain, print_.plain)):
            for stem_ in stems:
                left = counts.get(stem_, 0) + sign
                if left > 0:
                    counts[stem_] = left
                else:
                    counts.pop(stem_, None)

    def is_name(self, stem_: str) -> bool:
        """Whether sentence-case headlines in the window mostly capitalise this stem: it lets
        Title Case headlines ("Sbarro Files For Bankruptcy") tell their names too."""
        return self._capitalised.get(stem_, 0) > self._plain.get(stem_, 0)

    def names_of(self, print_: Fingerprint) -> frozenset[str]:
        """The headline's names: its own capitals when sentence case, else the window's."""
        if print_.names or print_.plain:
            return print_.names
        return frozenset(t for t in print_.tokens if self.is_name(t))

    def add_story(self, stems: Iterable[str]) -> None:
        self.stories += 1
        self.add_words(stems)

    def remove_story(self, stems: Iterable[str]) -> None:
        self.stories -= 1
        self.remove_words(stems)

    def add_words(self, stems: Iterable[str]) -> None:
        """Stems a held story uses from now on."""
        df = self._df
        for stem_ in stems:
            df[stem_] = df.get(stem_, 0) + 1

    def remove_words(self, stems: Iterable[str]) -> None:
        """Stems a held story no longer uses."""
        df = self._df
        for stem_ in stems:
            left = df.get(stem_, 0) - 1
            if left > 0:
                df[stem_] = left
            else:
                df.pop(stem_, None)

    def weight(self, stem_: str) -> float:
        """0..1: 1 for a stem (almost) no held story uses, near 0 for one most of them use."""
        idf = math.log((self.stories + 1) / (self._df.get(stem_, 0) + 1))
        return min(1.0, max(0.0, idf / _LOG_SCALE))


_LOG_SCALE = math.log(RARITY_SCALE)


VOCABULARY_PRIOR = 20
"""Headlines the vocabulary counts as seen before any is: from a cold start, the first words
seen are not yet taken for the story's common ones."""


class Vocabulary:
    """How many recent headlines used each stem, over days rather than the dedup window.

    Every headline of one story says Israel, Gaza, Hamas, truce: the words that tell its
    developments apart are the ones the story's headlines rarely use, and telling which those
    are takes more than the two days of the dedup window (a development repeated by fifty
    outlets would make its own key word look common there). Counts are kept per day and dropped
    after ``days``; the weight of a stem is its inverse document frequency over them.
    """

    def __init__(self, days: int = 7) -> None:
        self.days = days
        self._by_day: dict[int, dict[str, int]] = {}
        self._df: dict[str, int] = {}
        self._headlines: dict[int, int] = {}
        self.headlines = 0

    def add(self, stems: Iterable[str], day: int) -> None:
        """Count one headline's stems, on day ``day`` (a proleptic ordinal)."""
        bucket = self._by_day.setdefault(day, {})
        df = self._df
        for stem_ in set(stems):
            bucket[stem_] = bucket.get(stem_, 0) + 1
            df[stem_] = df.get(stem_, 0) + 1
        self._headlines[day] = self._headlines.get(day, 0) + 1
        self.headlines += 1

    def expire(self, today: int) -> None:
        """Forget the headlines of days older than ``days`` before ``today``."""
        df = self._df
        for day in [d for d in self._by_day if d <= today - self.days]:
            for stem_, count in self._by_day.pop(day).items():
                left = df.get(stem_, 0) - count
                if left > 0:
                    df[stem_] = left
                else:
                    df.pop(stem_, None)
            self.headlines -= self._headlines.pop(day, 0)

    def weight(self, stem_: str) -> float:
        """Inverse document frequency: about 0 for a stem most headlines use, 3+ for a rare one."""
        return math.log((self.headlines + VOCABULARY_PRIOR) / (self._df.get(stem_, 0) + 1))


@dataclass(frozen=True, slots=True)
class Likeness:
    """How alike two reports are (0..100), and the guard that vetoed them, if any."""

    score: float
    title: float
    lead: float | None
    veto: str = ""
    weighted: float = 0.0
    """0..100: headline overlap with each stem weighted by its rarity (weighted Dice)."""
    rare: float = 0.0
    """Rarity of the stems both headlines share, summed: ~1 per rare name, place or number."""
    names_apart: bool = False
    """Both headlines name someone or something, and no name is common to them."""
    unmatched: float = 0.0
    """How much rarer than the rarest shared stem each headline's rarest stem of its own is (the
    smaller of the two): above 0 when both headlines have a rarer word the other lacks ("Sbarro
    files for bankruptcy" / "Mt. Gox files for bankruptcy"), a sign of two different subjects."""
    overlap: float = 0.0
    """0..100: the headlines' shared words weighted by the ``Vocabulary`` (weighted Dice), less
    ``DOUBT_PENALTY`` when a soft guard objects."""
    own: float = 0.0
    """How much rarer (in ``Vocabulary`` weight) the rarest word each headline has to itself is
    than the rarest shared one (the smaller of the two): above 0 when both name something the
    other does not ("Titanfall trailer released" / "Game of Thrones trailer released")."""
    hard: str = ""
    """The hard guard that keeps the two apart whatever the words ("" when none)."""
    doubt: str = ""
    """The soft guard that objected ("" when none): it lowers ``overlap``, it does not veto."""

    @property
    def explanation(self) -> str:
        parts = f"headline {self.title:.0f}"
        if self.lead is not None:
            parts += f", lead {self.lead:.0f}"
        if self.rare:
            parts += f", rare words {self.rare:.1f} (weighted {self.weighted:.0f})"
        if self.overlap:
            parts += f", overlap {self.overlap:.0f}"
        return f"{parts} ({self.veto})" if self.veto else parts


TITLE_WEIGHT = 0.4
"""Share of the headline in the likeness when both reports have a lead. A lead is three times
the words of a headline, so its likeness is the steadier evidence; the headline still decides
alone when either report has no lead."""

MIN_TITLE_WITH_LEAD = 65.0
"""Below this headline likeness the lead cannot carry a match: a shared boilerplate lead ("Follow
our live coverage...") under different headlines is not the same development."""

MIN_SHARED_WORDS = 3
"""On headlines alone, fewer shared content words than this cannot make a match: two short
headlines sharing two words ("Palestinians in Israel...", "Palestinian and Israeli fears")
reach a high token_set_ratio by subset alone."""

MIN_LEAD_WORDS = 6
SAME_HEADLINE = 92.0
"""Headline likeness at which two reports are the same whatever their leads say."""
SAME_HEADLINE_WORDS = 4
"""...provided the headlines share at least this many content words (specific, not generic)."""
"""Shorter leads (a dateline, "Follow live coverage") say too little to count."""


def headline_likeness(a: Fingerprint, b: Fingerprint) -> float:
    """0..100: the mean of rapidfuzz's token_sort and token_set ratios of the two headlines
    (token_sort as the plain ratio of the pre-sorted words: the same figure)."""
    return (
        fuzz.ratio(a.title_sorted, b.title_sorted, processor=None)
        + fuzz.token_set_ratio(a.title, b.title, processor=None)
    ) / 2


def compare(
    a: Fingerprint, b: Fingerprint, *, title: float | None = None, hard: str | None = None
) -> Likeness:
    """Score how likely ``a`` and ``b`` report the same development; guards veto to 0.

    ``title`` and ``hard``: ``headline_likeness`` and ``hard_veto`` of the pair, when the
    caller has screened it with them already."""
    if title is None:
        title = headline_likeness(a, b)
    lead: float | None = None
    score = title
    if a.has_lead and b.has_lead:
        lead = (
            fuzz.ratio(a.lead_sorted, b.lead_sorted, processor=None)
            + fuzz.token_set_ratio(a.lead, b.lead, processor=None)
        ) / 2
        score = TITLE_WEIGHT * title + (1 - TITLE_WEIGHT) * lead
        if title < MIN_TITLE_WITH_LEAD:
            score = min(score, title)
        elif title >= SAME_HEADLINE and len(a.tokens & b.tokens) >= SAME_HEADLINE_WORDS:
            # Syndicated copies carry the same headline over each outlet's own lead: a
            # near-identical, specific headline is enough (the guards below still veto).
            score = max(score, title)
    if lead is None and len(a.tokens & b.tokens) < MIN_SHARED_WORDS:
        score = min(score, title, 100.0 * len(a.tokens & b.tokens) / MIN_SHARED_WORDS - 1)
    if hard is None:
        hard = hard_veto(a, b)
    doubt = "" if hard else soft_veto(a, b)
    veto = hard or doubt
    return Likeness(
        score=0.0 if veto else score, title=title, lead=lead, veto=veto, hard=hard, doubt=doubt
    )


def headline_only(likeness: Likeness, a: Fingerprint, b: Fingerprint) -> Likeness:
    """``likeness`` as it would be if neither report had a lead, when the headlines share enough
    words to be specific (``SAME_HEADLINE_WORDS``): "Israel-Hamas war live updates" twice over
    two different leads is two pages, not one development. A pair a guard vetoed stays vetoed:
    only leads that merely disagree in wording are set aside."""
    if likeness.veto or len(a.tokens & b.tokens) < SAME_HEADLINE_WORDS:
        return likeness
    return replace(likeness, lead=None, score=likeness.title)


DOUBT_PENALTY = 10.0
"""Points taken from ``Likeness.overlap`` when a soft guard objects."""

COMMON_NAME = 1.5
"""A name whose ``Vocabulary`` weight is below this is the story's own (Israel, Hamas, Gaza in
this one): two headlines naming different ones of those are not naming different parties."""


def _common_names_only(doubt: str, a: Fingerprint, b: Fingerprint, vocabulary: Vocabulary) -> bool:
    """Whether a "different names" doubt rests only on names every headline of the story uses."""
    if doubt != "different names":
        return False
    a_names = {n for n in a.names | (a.lead_names & a.tokens) if n not in b.tokens}
    b_names = {n for n in b.names | (b.lead_names & b.tokens) if n not in a.tokens}
    weight = vocabulary.weight
    return not (
        any(weight(n) >= COMMON_NAME for n in a_names)
        and any(weight(n) >= COMMON_NAME for n in b_names)
    )


def overlap(likeness: Likeness, a: Fingerprint, b: Fingerprint, vocabulary: Vocabulary) -> Likeness:
    """``likeness`` with ``overlap`` set: the headlines' shared stems weighted by how rarely the
    story's recent headlines use them (weighted Dice, 0..100), less ``DOUBT_PENALTY`` when a soft
    guard objects; 0 when a hard guard does."""
    if likeness.hard:
        return replace(likeness, overlap=0.0)
    value, _shared, own = _weighted_dice(a, b, vocabulary.weight)
    if likeness.doubt and not _common_names_only(likeness.doubt, a, b, vocabulary):
        value -= DOUBT_PENALTY
    return replace(likeness, overlap=max(0.0, value), own=own)


def _weighted_dice(
    a: Fingerprint, b: Fingerprint, weight: Callable[[str], float]
) -> tuple[float, float, float]:
    """The headlines' Dice overlap with each stem weighted (0..100), the weight they share, and
    how much rarer each one's rarest own stem is than the rarest shared one (the smaller)."""
    common = a.tokens & b.tokens
    shared_w = [weight(t) for t in common]
    a_own = [weight(t) for t in a.tokens - common]
    b_own = [weight(t) for t in b.tokens - common]
    shared = sum(shared_w)
    total = 2 * shared + sum(a_own) + sum(b_own)
    dice = 200.0 * shared / total if total else 0.0
    own = min(max(a_own, default=0.0), max(b_own, default=0.0)) - max(shared_w, default=0.0)
    return dice, shared, own


def _has_lead(tokens: frozenset[str], lead_tokens: tuple[str, ...]) -> bool:
    """A lead worth comparing: long enough, and not merely the headline again (many feeds repeat
    the headline as the description)."""
    if len(lead_tokens) < MIN_LEAD_WORDS:
        return False
    return sum(1 for t in lead_tokens if t not in tokens) > len(lead_tokens) // 4


def weigh(likeness: Likeness, a: Fingerprint, b: Fingerprint, rarity: Rarity) -> Likeness:
    """``likeness`` with the headlines' overlap weighed by how rare each stem is in the window.

    Sets ``weighted`` (weighted Dice), ``rare`` (shared rarity), ``unmatched`` and
    ``names_apart``: the evidence for matching two headlines that share few words, when the words
    they share are the rare ones (names, places, numbers) and neither has a rarer word of its own.
    """
    weighted, rare, unmatched = _weighted_dice(a, b, rarity.weight)
    a_names, b_names = rarity.names_of(a), rarity.names_of(b)
    return replace(
        likeness,
        weighted=weighted,
        rare=rare,
        unmatched=unmatched,
        names_apart=bool(a_names and b_names and not (a_names & b_names)),
    )


def _apart(x: frozenset[str], y: frozenset[str]) -> bool:
    return bool(x and y and not (x <= y or y <= x))


def hard_veto(a: Fingerprint, b: Fingerprint) -> str:
    """Signs that two headlines tell different developments however alike their words: other
    counts or ranks ("24 freed" / "17 freed", "fourth day" / "fifth day"), contradicting events
    (arrives / leaves), or one seeking or expecting what the other reports done ("seeks to
    extend the truce" / "truce extended")."""
    if _apart(a.numbers, b.numbers):
        return "numbers differ"
    if _apart(a.ranks, b.ranks):
        return "ranks differ"
    a_only, b_only = a.actions - b.actions, b.actions - a.actions
    for event in sorted(a_only):
        for other in sorted(b_only):
            if frozenset((event, other)) in _OPPOSITES:
                return f"{event} vs {other}"
    attempt = (a.tentative & b.events) - b.tentative or (b.tentative & a.events) - a.tentative
    if attempt:
        return f"{min(attempt)}: expected vs done"
    return ""


def soft_veto(a: Fingerprint, b: Fingerprint) -> str:
    """Signs of different developments that headlines of one development also show, written by
    different outlets: a denial in one only, other event verbs in each, other names in each."""
    if a.negated != b.negated:
        return "one denies"
    if a.events - b.events and b.events - a.events:
        return "different events"
    a_names = a.names | (a.lead_names & a.tokens)
    b_names = b.names | (b.lead_names & b.tokens)
    if a_names and b_names:
        a_only = a_names.difference(b.tokens, b.lead_tokens)
        b_only = b_names.difference(a.tokens, a.lead_tokens)
        if a_only and b_only:
            return "different names"
    return ""
