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
    Negative terms (anywhere) and a missing ``require`` group block the topic: score 0, with the
    reason in ``TopicScore.blocked``. Each match's ``contribution`` is its marginal share of the
    noisy-OR (strongest first) scaled by steps 3-4, so the contributions add up to the score.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from bot.core.models import TermMatch, Topic, TopicScore
from bot.core.text import fold

__all__ = ["TopicMatcher", "explain", "why_hint"]

PLACE_FACTOR = {"title": 1.0, "body": 0.5}
"""How much a match counts by where it is found."""
PLACE_LABEL = {"title": "headline", "body": "lead"}
OUTLET_BOOST_PER_DOUBLING = 0.08
OUTLET_BOOST_CAP = 0.2

_NON_WORD = re.compile(r"[^0-9a-z']+")
_TOKEN = re.compile(r"[0-9a-z]+")
_SUFFIX = r"(?:'s|s'|es|s)?"


def _prepare(text: str) -> str:
    """Folded text with every run of punctuation and spaces turned into one space."""
    return _NON_WORD.sub(" ", fold(text)).strip()


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
class _Text:
    """A headline or lead prepared once for every topic."""

    prepared: str
    tokens: tuple[tuple[str, int, int], ...]

    @classmethod
    def of(cls, text: str) -> _Text:
        prepared = _prepare(text)
        tokens = tuple((m.group(), m.start(), m.end()) for m in _TOKEN.finditer(prepared))
        return cls(prepared, tokens)


@dataclass(frozen=True, slots=True)
class _Hit:
    entry: int
    matched: str
    similarity: float
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _FuzzyForm:
    form_index: int
    form: str
    ntokens: int
    max_edits: int


class _PhraseSet:
    """A set of entries (each with several written forms) found in text in one regex pass.

    Exact matches come from a single alternation with one named group per form, longest first.
    Fuzzy candidates are indexed by their first two letters, so a text word is only compared
    with forms that could be a near-spelling of it.
    """

    def __init__(self, entries: Sequence[tuple[Sequence[str], bool]]) -> None:
        self._size = len(entries)
        self._form_entry: list[int] = []
        forms_prepared: list[str] = []
        alternatives: list[str] = []
        self._single: list[re.Pattern[str] | None] = []
        self._fuzzy: dict[str, list[_FuzzyForm]] = {}
        for index, (forms, fuzzy) in enumerate(entries):
            prepared = sorted({p for p in (_prepare(f) for f in forms) if p}, key=len, reverse=True)
            patterns = [self._pattern(p) for p in prepared]
            self._single.append(
                re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None
            )
            for form, pattern in zip(prepared, patterns, strict=True):
                alternatives.append(pattern)
                forms_prepared.append(form)
                self._form_entry.append(index)
        # A phrase that contains another entry credits that entry too ("Rafah crossing" -> Rafah).
        self._implies: list[tuple[int, ...]] = [
            tuple(
                other
                for other, single in enumerate(self._single)
                if other != self._form_entry[n] and single is not None and single.search(form)
            )
            for n, form in enumerate(forms_prepared)
        ]
        for n, form in enumerate(forms_prepared):
            edits = _max_edits(form)
            if entries[self._form_entry[n]][1] and edits:
                self._fuzzy.setdefault(form[:2], []).append(
                    _FuzzyForm(n, form, form.count(" ") + 1, edits)
                )
        order = sorted(range(len(alternatives)), key=lambda i: -len(forms_prepared[i]))
        self._regex = (
            re.compile("|".join(f"(?P<f{i}>{alternatives[i]})" for i in order))
            if alternatives
            else None
        )

    @staticmethod
    def _pattern(form: str) -> str:
        words = form.split(" ")
        body = " ?".join(re.escape(w) for w in words)
        return rf"(?<![0-9a-z]){body}{_SUFFIX}(?![0-9a-z])"

    def __len__(self) -> int:
        return self._size

    def find(self, text: _Text) -> list[_Hit]:
        """Every entry found in ``text`` (exact first, then fuzzy among unclaimed words)."""
        hits: list[_Hit] = []
        if self._regex is None:
            return hits
        claimed: list[tuple[int, int]] = []
        for m in self._regex.finditer(text.prepared):
            form = int((m.lastgroup or "f0")[1:])
            hit = _Hit(self._form_entry[form], m.group(), 100.0, m.start(), m.end())
            hits.append(hit)
            hits.extend(self._implied(form, hit))
            claimed.append((m.start(), m.end()))
        if self._fuzzy:
            hits.extend(self._find_fuzzy(text, claimed))
        return hits

    def _find_fuzzy(self, text: _Text, claimed: list[tuple[int, int]]) -> Iterable[_Hit]:
        tokens = text.tokens
        for i, (token, start, _) in enumerate(tokens):
            candidates = self._fuzzy.get(token[:2])
            if not candidates:
                continue
            for cand in candidates:
                if i + cand.ntokens > len(tokens):
                    continue
                end = tokens[i + cand.ntokens - 1][2]
                if any(start < c_end and end > c_start for c_start, c_end in claimed):
                    continue
                written = text.prepared[start:end]
                similarity = _near_spelling(written, cand.form, cand.max_edits)
                if similarity is None:
                    continue
                hit = _Hit(self._form_entry[cand.form_index], written, similarity, start, end)
                yield hit
                yield from self._implied(cand.form_index, hit)

    def _implied(self, form: int, hit: _Hit) -> Iterable[_Hit]:
        """Hits for the other entries written inside the matched phrase."""
        for other in self._implies[form]:
            single = self._single[other]
            inner = single.search(hit.matched) if single is not None else None
            if inner is None:  # a fuzzy phrase: its inner words may be misspelt too
                yield _Hit(other, hit.matched, hit.similarity, hit.start, hit.end)
            else:
                start = hit.start + inner.start()
                yield _Hit(other, inner.group(), hit.similarity, start, start + len(inner.group()))


def _near_spelling(written: str, form: str, max_edits: int) -> float | None:
    """Similarity 0..100 when ``written`` is an allowed near-spelling of ``form``, else None."""
    if written == form or abs(len(written) - len(form)) > max_edits:
        return None
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
class _Requirement:
    labels: tuple[str, ...]
    phrases: _PhraseSet


@dataclass(frozen=True, slots=True)
class _CompiledTopic:
    topic: Topic
    terms: _PhraseSet
    negative: _PhraseSet
    require: tuple[_Requirement, ...]


def _compile(topic: Topic) -> _CompiledTopic:
    terms = _PhraseSet([((t.text, *t.variants), t.fuzzy) for t in topic.terms])
    negative = _PhraseSet([((n,), False) for n in topic.negative])
    # A required word that is also a topic term brings that term's variants and fuzziness along.
    by_form = {}
    for term in topic.terms:
        for form in (term.text, *term.variants):
            by_form.setdefault(_prepare(form), term)
    require = []
    for group in topic.require:
        entries: list[tuple[Sequence[str], bool]] = []
        for word in group:
            term = by_form.get(_prepare(word))
            if term is not None:
                entries.append(((word, term.text, *term.variants), term.fuzzy))
            else:
                entries.append(((word,), False))
        require.append(_Requirement(tuple(group), _PhraseSet(entries)))
    return _CompiledTopic(topic, terms, negative, tuple(require))


def _list_words(words: Sequence[str], limit: int = 4) -> str:
    shown = "/".join(words[:limit])
    return shown + "/…" if len(words) > limit else shown


class TopicMatcher:
    """Scores stories against a fixed set of topics; build once, call ``score`` per story."""

    def __init__(self, topics: Sequence[Topic]) -> None:
        self._topics = tuple(_compile(t) for t in topics)

    @property
    def topics(self) -> tuple[Topic, ...]:
        return tuple(c.topic for c in self._topics)

    def score(
        self, title: str, text: str, *, outlets: int = 1, source_weight: float = 1.0
    ) -> tuple[TopicScore, ...]:
        """One ``TopicScore`` per topic, in the topics' order."""
        places = {"title": _Text.of(title), "body": _Text.of(text)}
        outlets = max(1, outlets)
        source_weight = max(0.0, source_weight)
        return tuple(
            self._score_topic(compiled, places, outlets, source_weight)
            for compiled in self._topics
        )

    def _score_topic(
        self,
        compiled: _CompiledTopic,
        places: dict[str, _Text],
        outlets: int,
        source_weight: float,
    ) -> TopicScore:
        topic = compiled.topic
        blocked = self._blocked(compiled, places)

        # The best match of each term in each place.
        best: dict[tuple[int, str], _Hit] = {}
        for where, text in places.items():
            for hit in compiled.terms.find(text):
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

        factor = outlet_factor(outlets)
        raw = combined * factor * source_weight
        final = 0.0 if blocked else min(1.0, raw)
        scale = final / combined if combined > 0 else 0.0

        matches = []
        for (entry, where), hit in sorted(best.items(), key=lambda kv: (kv[0][0], kv[0][1] != "title")):
            term = topic.terms[entry]
            primary = evidence[entry][1] == where
            matches.append(
                TermMatch(
                    term=term.text,
                    matched=hit.matched,
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

        return TopicScore(
            topic=topic.id,
            score=final,
            matches=tuple(matches),
            outlets=outlets,
            source_weight=source_weight,
            blocked=blocked,
            notes=tuple(notes),
        )

    @staticmethod
    def _blocked(compiled: _CompiledTopic, places: dict[str, _Text]) -> str | None:
        topic = compiled.topic
        if len(compiled.negative):
            for where, text in places.items():
                hits = compiled.negative.find(text)
                if hits:
                    first = min(hits, key=lambda h: h.start)
                    return f"negative term '{topic.negative[first.entry]}' in {PLACE_LABEL[where]}"
        missing = [
            req.labels
            for req in compiled.require
            if not any(req.phrases.find(text) for text in places.values())
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
