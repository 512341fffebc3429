"""How strongly a story belongs to each watched topic, and why.

Matching
    Headline and lead are folded (``bot.core.text.fold``: case, accents, quotes, dashes) and every
    run of non-word characters becomes one space, so "Cease-fire", "cease fire" and "ceasefire"
    meet. A term matches on word boundaries as its text or any variant; the words of a phrase may
    be written apart or joined, and the last word may take a plural or possessive ending
    ("hostage" finds "hostages'"). A phrase that contains another term of the same topic credits
    that term too ("Rafah crossing" also counts as "Rafah").

    Terms marked ``fuzzy`` also match near-spellings (typos, transliterations) among the words
    no exact match has claimed. Short words are where false friends live, so the allowance grows
    with length: terms of 4 letters or fewer never match fuzzily; 5-6 letters allow only one
    inserted letter or two swapped neighbours ("Rafiah", "Rafha", but not "Rafael", "Rafa",
    "Cairn" or "truck"); 7-8 letters allow one edit of any kind ("Haniyah"); longer forms two
    ("Abu Marzuq"). The first two letters must agree, which is also the cheap filter that keeps
    the number of edit-distance calls small. A fuzzy match counts ``similarity`` percent of an
    exact one.

Score (0..1)
    1. Evidence of each term ``c = weight x place x similarity``; place is 1.0 in the headline and
       0.5 in the lead (a headline names what the story is about; a lead often mentions context).
       A term found in both places counts once, at its strongest.
    2. Combined evidence ``p = 1 - prod(1 - c)``: a noisy-OR. One strong term is enough, several
       weak ones add up, and repeats of near-synonyms saturate instead of running past 1.
    3. Outlets: ``x (1 + min(0.2, 0.08 x log2(outlets)))``: one outlet adds nothing, two add 8%,
       the boost grows with each doubling and stops at +20% (wide pickup is a signal that the
       story matters, never a reason to alert on a story with no watched term).
    4. Source weight: ``x source_weight`` as configured for the source, then clamped to 0..1.
    Negative terms and a missing ``require`` group block the topic: score 0, with the reason in
    ``TopicScore.blocked``. A negative term in the headline always blocks; one in the lead blocks
    unless the headline's own evidence reaches ``min_score`` (a passing mention in the lead
    should not veto a story whose headline is plainly about the topic). Each match's
    ``contribution`` is its marginal share of the noisy-OR (strongest first) scaled by steps 3-4,
    so the contributions add up to the score.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from bot.core.models import Term, TermMatch, Topic, TopicScore
from bot.core.text import fold

__all__ = ["TopicMatcher", "explain", "why_hint"]

PLACE_FACTOR = {"title": 1.0, "body": 0.5}
"""How much a match counts by where it is found."""
PLACE_LABEL = {"title": "headline", "body": "lead"}
OUTLET_BOOST_PER_DOUBLING = 0.08
OUTLET_BOOST_CAP = 0.2

_NON_WORD = re.compile(r"[^0-9a-z']+")
_TOKEN = re.compile(r"[0-9a-z]+(?:'[0-9a-z]+)*")
_ENDINGS = ("s", "es")
"""Plural endings a text word may add to the last word of a term ("hostage" -> "hostages")."""


def _prepare(text: str) -> str:
    """Folded text with every run of punctuation and spaces turned into one space."""
    return _NON_WORD.sub(" ", fold(text)).strip()


def _tokens(text: str) -> tuple[str, ...]:
    """Word tokens of folded text; possessive "'s" dropped ("Hamas's" -> "hamas")."""
    out = []
    for token in _TOKEN.findall(_prepare(text)):
        out.append(token[:-2] if token.endswith("'s") else token)
    return tuple(out)


def _max_edits(form: str) -> int:
    letters = len(form.replace(" ", ""))
    if letters <= 4:
        return 0
    if letters <= 8:
        return 1
    return 2


def outlet_factor(outlets: int) -> float:
    """Multiplier for a story reported by ``outlets`` independent outlets (1.0 for one)."""
    if outlets <= 1:
        return 1.0
    return 1.0 + min(OUTLET_BOOST_CAP, OUTLET_BOOST_PER_DOUBLING * math.log2(outlets))


@dataclass(frozen=True, slots=True)
class _Hit:
    entry: int
    matched: str
    similarity: float
    start: int
    """Token index."""
    length: int = 1
    """Tokens covered (for the parts of composite forms)."""


@dataclass(frozen=True, slots=True)
class _Owner:
    """Who a written form belongs to: entry ``entry`` of phrase set ``set_id``."""

    set_id: int
    entry: int
    fuzzy: bool


@dataclass(frozen=True, slots=True)
class _Form:
    tokens: tuple[str, ...]
    joined: str
    max_edits: int
    owners: list[_Owner]


class _Lexicon:
    """Every written form of every term, negative and required word, found in one pass.

    Forms are indexed by their first word, so scanning a text is one dictionary lookup per
    word (plus two for plural endings) whatever the number of topics. Every form that matches
    at a position is reported, overlaps included, so "Rafah crossing" also reports "Rafah".
    Near-spellings are looked for only among words no exact form matched, and only against
    forms sharing the word's first two letters.
    """

    def __init__(self) -> None:
        self._forms: list[_Form] = []
        self._by_tokens: dict[tuple[str, ...], int] = {}
        self._by_first: dict[str, list[int]] = {}
        self._fuzzy_by_prefix: dict[str, list[int]] = {}
        self._sets = 0
        self._composites: list[_Composite] = []
        self._parts: dict[tuple[str, ...], int] = {}
        """Words of each part of a composite form -> its part id."""
        self._parts_set = -1
        """The internal phrase set whose hits are the parts' positions (-1: none yet)."""

    def add_set(self, entries: Sequence[tuple[Sequence[str], bool]]) -> int:
        """Register a phrase set (each entry: its written forms, and whether fuzzy); its id."""
        set_id = self._sets
        self._sets += 1
        for entry, (forms, fuzzy) in enumerate(entries):
            plain = []
            for form in forms:
                composite = _split_composite(form)
                if composite is None:
                    plain.append(form)
                else:
                    self._add_composite(composite, _Owner(set_id, entry, False))
            written = {_tokens(f) for f in plain} - {()}
            # "cease fire" also finds "ceasefire"
            written |= {("".join(t),) for t in written if len(t) > 1}
            for tokens in written:
                self._add_form(tokens, _Owner(set_id, entry, fuzzy))
        return set_id

    def _add_composite(self, spec: tuple[tuple[tuple[str, ...], ...], bool], owner: _Owner) -> None:
        parts, ordered = spec
        if self._parts_set < 0:
            self._parts_set = self._sets
            self._sets += 1
        ids = []
        for part in parts:
            part_id = self._parts.get(part)
            if part_id is None:
                part_id = self._parts[part] = len(self._parts)
                self._add_form(part, _Owner(self._parts_set, part_id, False))
                if len(part) > 1:
                    self._add_form(("".join(part),), _Owner(self._parts_set, part_id, False))
            ids.append(part_id)
        self._composites.append(_Composite(tuple(ids), ordered, owner))

    def _add_form(self, tokens: tuple[str, ...], owner: _Owner) -> None:
        index = self._by_tokens.get(tokens)
        if index is None:
            index = len(self._forms)
            joined = " ".join(tokens)
            self._forms.append(_Form(tokens, joined, _max_edits(joined), []))
            self._by_tokens[tokens] = index
            self._by_first.setdefault(tokens[0], []).append(index)
        form = self._forms[index]
        if owner in form.owners:
            return
        if owner.fuzzy and form.max_edits and not any(o.fuzzy for o in form.owners):
            self._fuzzy_by_prefix.setdefault(form.joined[:2], []).append(index)
        form.owners.append(owner)

    def find(self, tokens: Sequence[str]) -> list[list[_Hit]]:
        """Hits per phrase set, for a text already split by ``_tokens``."""
        found: list[list[_Hit]] = [[] for _ in range(self._sets)]
        claimed = [False] * len(tokens)
        count = len(tokens)
        for i, token in enumerate(tokens):
            for index in self._candidates(token):
                form = self._forms[index]
                n = len(form.tokens)
                if i + n > count or not _same_words(form.tokens, tokens, i):
                    continue
                matched = " ".join(tokens[i : i + n])
                for owner in form.owners:
                    found[owner.set_id].append(_Hit(owner.entry, matched, 100.0, i, n))
                for k in range(i, i + n):
                    claimed[k] = True
        for i in range(count - 1):
            # A compound written in two words ("cease fire") finds its one-word form.
            compound = self._by_tokens.get((tokens[i] + tokens[i + 1],))
            if compound is not None:
                matched = f"{tokens[i]} {tokens[i + 1]}"
                for owner in self._forms[compound].owners:
                    found[owner.set_id].append(_Hit(owner.entry, matched, 100.0, i, 2))
                claimed[i] = claimed[i + 1] = True
        if self._composites:
            self._find_composites(found)
        if self._fuzzy_by_prefix:
            self._find_fuzzy(tokens, claimed, found)
        return found

    def _find_composites(self, found: list[list[_Hit]]) -> None:
        """Composite forms whose parts were all found, near each other or anywhere."""
        at: dict[int, list[_Hit]] = {}
        for hit in found[self._parts_set]:
            at.setdefault(hit.entry, []).append(hit)
        if not at:
            return
        for composite in self._composites:
            if not all(p in at for p in composite.parts):
                continue
            chain = _chain(composite, at)
            if chain is None:
                continue
            matched = " … ".join(h.matched for h in chain)
            owner = composite.owner
            found[owner.set_id].append(_Hit(owner.entry, matched, 100.0, chain[0].start))

    def _candidates(self, token: str) -> Iterable[int]:
        yield from self._by_first.get(token, ())
        for ending in _ENDINGS:
            if token.endswith(ending) and len(token) > len(ending) + 2:
                for index in self._by_first.get(token[: -len(ending)], ()):
                    if len(self._forms[index].tokens) == 1:
                        yield index

    def _find_fuzzy(
        self, tokens: Sequence[str], claimed: list[bool], found: list[list[_Hit]]
    ) -> None:
        count = len(tokens)
        for i, token in enumerate(tokens):
            if claimed[i]:
                continue
            for index in self._fuzzy_by_prefix.get(token[:2], ()):
                form = self._forms[index]
                n = len(form.tokens)
                if i + n > count or any(claimed[i : i + n]):
                    continue
                written = " ".join(tokens[i : i + n])
                similarity = _near_spelling(written, form.joined, form.max_edits)
                if similarity is None:
                    continue
                for owner in form.owners:
                    if owner.fuzzy:
                        found[owner.set_id].append(_Hit(owner.entry, written, similarity, i))


NEAR_WORDS = 3
"""In a composite form "A ... B", at most this many words may stand between A and B."""


@dataclass(frozen=True, slots=True)
class _Composite:
    """A form of several parts: "A ... B" (in this order, near each other) or "A + B" (each
    anywhere in the same text)."""

    parts: tuple[int, ...]
    ordered: bool
    owner: _Owner


def _split_composite(form: str) -> tuple[tuple[tuple[str, ...], ...], bool] | None:
    """The parts of a composite form and whether they are ordered; None for a plain phrase."""
    for mark, ordered in ((" ... ", True), (" + ", False)):
        if mark in form:
            parts = tuple(_tokens(p) for p in form.split(mark))
            parts = tuple(p for p in parts if p)
            return (parts, ordered) if len(parts) > 1 else None
    return None


def _chain(composite: _Composite, at: dict[int, list[_Hit]]) -> list[_Hit] | None:
    """The hits of each part that make the composite match (earliest first), or None."""
    if not composite.ordered:
        return [min(at[p], key=lambda h: h.start) for p in composite.parts]
    chain: list[_Hit] = []
    for part in composite.parts:
        hits = sorted(at[part], key=lambda h: h.start)
        if chain:
            end = chain[-1].start + chain[-1].length
            hits = [h for h in hits if end <= h.start <= end + NEAR_WORDS]
        if not hits:
            return None
        chain.append(hits[0])
    return chain


def _same_words(form: tuple[str, ...], tokens: Sequence[str], i: int) -> bool:
    """Form words equal the text's from ``i``; the last may carry a plural ending."""
    last = len(form) - 1
    for k, word in enumerate(form):
        token = tokens[i + k]
        if token == word:
            continue
        if k == last and any(token == word + e for e in _ENDINGS):
            continue
        return False
    return True


def _near_spelling(written: str, form: str, max_edits: int) -> float | None:
    """Similarity 0..100 when ``written`` is an allowed near-spelling of ``form``, else None."""
    if written == form or abs(len(written) - len(form)) > max_edits:
        return None
    if any(written == form + e for e in _ENDINGS):
        return None  # an exact match with a plural ending, found by the exact pass
    letters = len(form.replace(" ", ""))
    if letters <= 6:
        # Short words: only an extra letter or two swapped neighbours. A dropped or replaced
        # letter is how "Rafa", "Cairn", "truck" and "Hamad" would sneak in.
        longer = len(written) == len(form) + 1
        swapped = len(written) == len(form) and sorted(written) == sorted(form)
        if not (longer or swapped):
            return None
    distance = OSA.distance(written, form, score_cutoff=max_edits)
    if distance > max_edits:
        return None
    return 100.0 * (1.0 - distance / max(len(written), len(form)))


@dataclass(frozen=True, slots=True)
class _CompiledTopic:
    topic: Topic
    terms: int
    """Phrase-set ids in the shared lexicon."""
    negative: int
    require: tuple[int, ...]


def _compile(topic: Topic, lexicon: _Lexicon) -> _CompiledTopic:
    terms = lexicon.add_set([((t.text, *t.variants), t.fuzzy) for t in topic.terms])
    negative = lexicon.add_set([((n,), False) for n in topic.negative])
    # A required word that is also a topic term brings that term's variants and fuzziness along.
    by_form: dict[tuple[str, ...], Term] = {}
    for term in topic.terms:
        for form in (term.text, *term.variants):
            by_form.setdefault(_tokens(form), term)
    require = []
    for group in topic.require:
        entries: list[tuple[Sequence[str], bool]] = []
        for word in group:
            known = by_form.get(_tokens(word))
            if known is not None:
                entries.append(((word, known.text, *known.variants), known.fuzzy))
            else:
                entries.append(((word,), False))
        require.append(lexicon.add_set(entries))
    return _CompiledTopic(topic, terms, negative, tuple(require))


def _list_words(words: Sequence[str], limit: int = 4) -> str:
    shown = "/".join(words[:limit])
    return shown + "/…" if len(words) > limit else shown


RECENT_TEXTS = 64
"""How many texts' hits a ``TopicMatcher`` remembers (see ``TopicMatcher._recent``)."""

SHARED_WORDS = 65536
"""How many distinct notes and spellings a ``TopicMatcher`` keeps to share among stories."""


class TopicMatcher:
    """Scores stories against a fixed set of topics; build once, call ``score`` per story."""

    def __init__(self, topics: Sequence[Topic]) -> None:
        self._lexicon = _Lexicon()
        self._topics = tuple(_compile(t, self._lexicon) for t in topics)
        self._words: dict[str, str] = {}
        """Notes, block reasons and matched spellings already made, each kept once: every
        held story carries a score per topic, and most of them say the same few things."""
        self._unmatched: dict[TopicScore, TopicScore] = {}
        """Scores that found no term, each kept once (most stories, for most topics)."""
        self._recent: dict[str, list[list[_Hit]]] = {}
        """The hits of the last few texts read: a report's headline is read to see whether it
        names a term, then scored; a story's lead is read again for each of its headlines."""

    def _find(self, text: str) -> list[list[_Hit]]:
        """The lexicon's hits in ``text`` (read only: the lists are shared)."""
        found = self._recent.get(text)
        if found is None:
            if len(self._recent) >= RECENT_TEXTS:
                self._recent.clear()
            found = self._recent[text] = self._lexicon.find(_tokens(text))
        return found

    def _shared(self, text: str) -> str:
        """``text``, as the one copy the matcher keeps (up to ``SHARED_WORDS`` of them)."""
        kept = self._words.get(text)
        if kept is not None:
            return kept
        if len(self._words) < SHARED_WORDS:
            self._words[text] = text
        return text

    @property
    def topics(self) -> tuple[Topic, ...]:
        return tuple(c.topic for c in self._topics)

    def mentions(self, title: str) -> bool:
        """Whether a headline names any watched term at all (a cheap test, before scoring): the
        desk's own story, where headlines share its vocabulary."""
        found = self._find(title)
        return any(found[c.terms] for c in self._topics)

    def score(
        self, title: str, text: str, *, outlets: int = 1, source_weight: float = 1.0
    ) -> tuple[TopicScore, ...]:
        """One ``TopicScore`` per topic, in the topics' order."""
        found = {"title": self._find(title), "body": self._find(text)}
        outlets = max(1, outlets)
        source_weight = max(0.0, source_weight)
        return tuple(
            self._score_topic(compiled, found, outlets, source_weight) for compiled in self._topics
        )

    def _score_topic(
        self,
        compiled: _CompiledTopic,
        found: dict[str, list[list[_Hit]]],
        outlets: int,
        source_weight: float,
    ) -> TopicScore:
        topic = compiled.topic
        # The best match of each term in each place.
        best: dict[tuple[int, str], _Hit] = {}
        for where, hits_by_set in found.items():
            for hit in hits_by_set[compiled.terms]:
                key = (hit.entry, where)
                if key not in best or hit.similarity > best[key].similarity:
                    best[key] = hit
        evidence: dict[int, tuple[float, str]] = {}
        for (entry, where), hit in best.items():
            weight = min(1.0, max(0.0, topic.terms[entry].weight))
            c = weight * PLACE_FACTOR[where] * hit.similarity / 100.0
            if entry not in evidence or c > evidence[entry][0]:
                evidence[entry] = (c, where)

        ranked = sorted(evidence.items(), key=lambda kv: (-kv[1][0], kv[0]))
        remaining = 1.0
        shares: dict[int, float] = {}
        for entry, (c, _) in ranked:
            shares[entry] = c * remaining
            remaining *= 1.0 - c
        combined = 1.0 - remaining

        headline = 1.0
        for (_, where), hit in best.items():
            if where == "title":
                weight = min(1.0, max(0.0, topic.terms[hit.entry].weight))
                headline *= 1.0 - weight * hit.similarity / 100.0
        blocked = self._blocked(compiled, found, 1.0 - headline)

        # Coverage makes a story on the topic more urgent; it does not put a story on the topic:
        # ten outlets saying "truce ends" in Gaza are not a hostages story.
        factor = outlet_factor(outlets) if combined * source_weight >= topic.min_score else 1.0
        raw = combined * factor * source_weight
        final = 0.0 if blocked else min(1.0, raw)
        scale = final / combined if combined > 0 else 0.0

        matches = []
        for (entry, where), hit in sorted(best.items(), key=lambda kv: kv[0]):
            term = topic.terms[entry]
            primary = evidence[entry][1] == where
            matches.append(
                TermMatch(
                    term=term.text,
                    matched=self._shared(hit.matched),
                    where=where,
                    weight=term.weight,
                    similarity=round(hit.similarity, 1),
                    contribution=shares[entry] * scale if primary else 0.0,
                )
            )
        matches.sort(key=lambda m: (-m.contribution, m.where != "title", m.term))

        notes = [
            f"{topic.terms[entry].text} in {PLACE_LABEL[where]}: "
            f"weight {min(1.0, topic.terms[entry].weight):.2f} x place {PLACE_FACTOR[where]:.1f}"
            f" x spelling {best[(entry, where)].similarity / 100:.2f} = {c:.2f}"
            for entry, (c, where) in ranked
        ]
        if ranked:
            notes.append(f"combined 1 - prod(1 - c) = {combined:.2f}")
        else:
            notes.append("no watched term found")
        if factor != 1.0:
            notes.append(f"{outlets} outlets: x{factor:.2f}")
        if source_weight != 1.0:
            notes.append(f"source weight: x{source_weight:.2f}")
        if blocked:
            notes.append(f"blocked: {blocked}")
        elif raw > 1.0:
            notes.append("capped at 1.00")
        notes.append(f"score {final:.2f} (alerts at {topic.min_score:.2f})")

        score = TopicScore(
            topic=topic.id,
            score=final,
            matches=tuple(matches),
            outlets=outlets,
            source_weight=source_weight,
            blocked=self._shared(blocked) if blocked else blocked,
            notes=tuple(self._shared(n) for n in notes),
        )
        if matches:
            return score
        if len(self._unmatched) >= SHARED_WORDS:
            return self._unmatched.get(score, score)
        return self._unmatched.setdefault(score, score)

    @staticmethod
    def _blocked(
        compiled: _CompiledTopic, found: dict[str, list[list[_Hit]]], headline_evidence: float
    ) -> str | None:
        """Why the topic is ruled out, or None.

        A negative term in the headline always blocks; in the lead it blocks unless the headline
        alone would alert (a passing mention in the lead should not veto a story whose headline
        is plainly about the topic). Every ``require`` group must match somewhere.
        """
        topic = compiled.topic
        for where, hits_by_set in found.items():
            hits = hits_by_set[compiled.negative]
            if hits and (where == "title" or headline_evidence < topic.min_score):
                first = min(hits, key=lambda h: h.start)
                return f"negative term '{topic.negative[first.entry]}' in {PLACE_LABEL[where]}"
        missing = [
            group
            for group, set_id in zip(topic.require, compiled.require, strict=True)
            if not any(hits_by_set[set_id] for hits_by_set in found.values())
        ]
        if missing:
            return "needs " + " and ".join(f"one of {_list_words(g)}" for g in missing)
        return None


def explain(score: TopicScore, topic: Topic) -> list[str]:
    """Human lines for ``why``: each matched term, where, what it added; outlets; source; block."""
    lines = [f"{topic.name}: score {score.score:.2f} (alerts at {topic.min_score:.2f})"]
    for m in score.matches:
        spelled = "" if _prepare(m.matched) == _prepare(m.term) else f" as “{m.matched}”"
        spelling = f", spelling {m.similarity:.0f}%" if m.similarity < 100 else ""
        if m.contribution > 0:
            added = f" → +{m.contribution:.2f}"
        else:
            added = " (counted once, where strongest)"
        lines.append(
            f"• {m.term}{spelled} in {PLACE_LABEL.get(m.where, m.where)}"
            f" (weight {m.weight:.2f}{spelling}){added}"
        )
    if not score.matches:
        lines.append("• no watched term found")
    if score.outlets > 1:
        lines.append(f"• {score.outlets} outlets → x{outlet_factor(score.outlets):.2f}")
    if score.source_weight != 1.0:
        lines.append(f"• source weight x{score.source_weight:.2f}")
    if score.blocked:
        lines.append(f"• blocked: {score.blocked}")
    return lines


def why_hint(scores: Sequence[TopicScore], topics: Sequence[Topic], *, limit: int = 3) -> str:
    """One short line for an alert, e.g. "Rafah (headline), hostages (lead) · 3 outlets".

    Names the strongest term of each topic that alerted (best topic first), where it was found,
    and the number of outlets when more than one.
    """
    by_id = {t.id: t for t in topics}
    alerting = [s for s in scores if s.score > 0 and s.score >= _min_score(by_id, s.topic)]
    chosen = alerting or [s for s in scores if s.score > 0]
    chosen = sorted(chosen, key=lambda s: -s.score)
    parts: list[str] = []
    seen: set[str] = set()
    outlets = 1
    for s in chosen:
        outlets = max(outlets, s.outlets)
        top = max(s.matches, key=lambda m: m.contribution, default=None)
        if top is None or top.term in seen:
            continue
        seen.add(top.term)
        parts.append(f"{top.term} ({PLACE_LABEL.get(top.where, top.where)})")
        if len(parts) >= limit:
            break
    hint = ", ".join(parts)
    if hint and outlets > 1:
        hint += f" · {outlets} outlets"
    return hint


def _min_score(by_id: dict[str, Topic], topic_id: str) -> float:
    topic = by_id.get(topic_id)
    return topic.min_score if topic else 0.5
