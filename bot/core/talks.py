"""Where the negotiation stands: headline events and the phase they add up to (the talks card).

Two readable steps, both pure:

1. ``classify(headline)``: the negotiation *event* a development reports (a proposal, a
   response, a rejection, a delegation arriving or leaving, talks held or stalled, an agreement,
   a truce starting, extended or collapsing, a release, a military operation), from headline
   words alone. A headline is cut into clauses ("Israeli strikes pound Gaza | as truce ends"), and
   a clause that only speculates about an event ("truce could collapse", "Hamas says an assault
   would end talks", "calls for a truce") fires nothing; a negated agreement ("no deal yet",
   "talks end without a deal") is a stall, not an agreement. Of the clauses that fire, the one
   whose event ranks highest in ``RULES`` wins.
2. ``talks_card(developments, now)``: the phase state machine over the confirmed events of the
   last days, oldest first. An event is *confirmed* when its development has 2+ outlets, or when a
   second development reports the same event within ``CONFIRM_WITHIN``: one outlet's headline
   alone never moves the phase (it is listed by ``why phase`` as unconfirmed).

The card says the phase (in words from ``bot.core.messages``), the venue and mediators named by
the negotiation headlines, the last confirmed step, the open question, and which rules fired on
which developments (``why phase``). Nothing here reads a store or a clock.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = [
    "CONFIRM_WITHIN",
    "Development",
    "Event",
    "Finding",
    "Heard",
    "Phase",
    "PhaseKind",
    "Step",
    "TalksCard",
    "classify",
    "talks_card",
]


class Event(StrEnum):
    """What a development is, for the negotiation (its value is how the desk writes it)."""

    TRUCE_COLLAPSE = "truce collapse"
    TRUCE_EXTENSION = "truce extension"
    TRUCE_START = "truce start"
    AGREEMENT = "agreement"
    REJECTION = "rejection"
    ACCEPTANCE = "acceptance"
    """One side accepts a proposal: the other side's answer is still awaited."""
    RESPONSE = "response"
    PROPOSAL = "proposal"
    DELEGATION_LEAVING = "delegation leaving"
    DELEGATION_ARRIVING = "delegation arriving"
    STALL = "talks stalled"
    TALKS = "talks held"
    RELEASE = "release"
    OPERATION = "military operation"


# --- the vocabulary -------------------------------------------------------------------------------

_W = r"[\w'’-]+"
"""One word (apostrophes and hyphens inside)."""
_UPTO = rf"(?:\s+{_W}){{0,4}}?"
"""Up to four words between two parts of a pattern."""
_TRUCE = r"(?:truce|cease-?\s?fire|ceasefire|pause|lull|calm)"
_DEAL = rf"(?:deal|agreement|{_TRUCE})"
_PLAN = r"(?:proposals?|plans?|framework|offer|draft|terms|blueprint|road\s?map|initiative)"
_TALKS = r"(?:talks|negotiations?|round|mediation)"
_ABOUT = rf"\b(?:{_DEAL}|hostages?|captives?|{_TALKS}|end (?:of )?the war|war's end|mediators?)\b"
"""What a proposal or an answer must be about to count as a step of the negotiation."""
_ANSWERED = rf"{_ABOUT}|\b{_PLAN}\b"
"""What an answer may be to: any plan or terms, besides the deal itself."""
_STAKES = rf"\b(?:{_DEAL}|hostages?|captives?|end (?:of )?the war|war's end)\b"
"""What talks must be about to be the talks (not talks on a border crossing)."""
_VENUES = ("Cairo", "Doha", "Paris")
_VENUE = r"(?:cairo|doha|paris|egypt|qatar)"
_GO = r"(?:arriv\w*|lands?|landed|heads?|headed|heading|travels?|travel(?:l)?ed|reach\w*|goes|went)"
_LEAVE = r"(?:leaves?|left|leaving|quits?|walks? out|departs?|depart\w*|exits?|pulls? out)"
_ENVOYS = r"(?:delegations?|negotiators?|team|officials|envoys?|mediators|spy chiefs?|cia chief)"
_NUMBER = r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten)"

HEDGES = re.compile(
    r"\b(?:could|may|might|would|if|unless|threat\w*|warns?|fears?|hopes?|hoped|urges?|urged|"
    r"calls? for|called for|pushe?s? for|push\w* to|seeks?|seeking|sought|bids? to|"
    r"aims? to|"
    r"tries to|try to|trying to|possible|possibly|likely|looms?|nears?|nearing|close to|closer|"
    r"in sight|prospects?|expected|set to|poised|prepares?|preparing|plans? to|"
    r"what if|will|ahead of|before|until|to secure|to seal|to broker|to continue|to keep|"
    r"should|must|to host|to hold|calls? on|called on|pressure\w*|to accept|to agree)\b"
    r"|\?\s*$",
    re.I,
)
"""Words that make a clause speculate about its event instead of reporting it ("set to begin",
"calls for a truce"): such a clause fires nothing."""

NEGATIONS = re.compile(
    rf"\b(?:no|not|without|fails? to|failed to|yet to)\s+(?:{_W}\s+){{0,3}}?"
    r"(?:deal|breakthrough|progress|agreement)\b",
    re.I,
)
"""A clause saying there is *no* deal: it is a stall, not an agreement."""

_CLAUSES = re.compile(
    r"\s*(?:[;:|]|\s[-–—]\s|\s(?:as|amid|after|while|but|despite|with|and then|even as|"
    r"following|before|ahead of)\s)\s*",
    re.I,
)
"""Where a headline's clauses meet ("Israeli strikes pound Gaza as truce ends")."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One headline pattern: when it matches an unhedged clause, its event fires."""

    name: str
    event: Event
    pattern: re.Pattern[str]
    hedged_ok: bool = False
    """Fires even in a speculating clause (a stall is news whether or not it hedges)."""
    needs: re.Pattern[str] | None = None
    """Words the headline must also hold (a proposal must be about a truce or a deal, not a
    city's budget plan)."""


def _rule(
    name: str, event: Event, pattern: str, *, hedged_ok: bool = False, needs: str = ""
) -> Rule:
    return Rule(
        name,
        event,
        re.compile(pattern, re.I),
        hedged_ok,
        re.compile(needs, re.I) if needs else None,
    )


RULES: tuple[Rule, ...] = (
    # the truce breaks down
    _rule(
        "truce ends or collapses",
        Event.TRUCE_COLLAPSE,
        rf"\b{_TRUCE}{_UPTO}\s+(?:ends|ended|collapses?|collapsed|breaks down|broke down|"
        rf"expires?|expired|is over|shattered|falls apart)\b"
        rf"|\b(?:shatter\w*|end\w* of|collapse of|breakdown of)\s+(?:the\s+)?"
        rf"(?:{_W}\s+){{0,2}}{_TRUCE}",
    ),
    _rule(
        "fighting resumes",
        Event.TRUCE_COLLAPSE,
        r"\b(?:fighting|war|combat|bombing|strikes|airstrikes|hostilities|offensive|attacks)\s+"
        r"(?:resumes?|resumed|restarts?|is back)\b|\bresumes?\s+(?:the\s+)?(?:fighting|war|"
        r"combat|bombing|strikes|airstrikes|offensive|attacks)\b|\bbombs are falling\b.*\bagain\b",
    ),
    # the truce is lengthened
    _rule(
        "truce extended",
        Event.TRUCE_EXTENSION,
        rf"\b{_TRUCE}{_UPTO}\s+(?:is\s+|was\s+)?(?:extended|prolonged|renewed)\b"
        rf"|\b(?:extends|extending|extension of|prolongs|renews)\s+(?:the\s+)?(?:{_W}\s+){{0,3}}"
        rf"{_TRUCE}|\b{_TRUCE}\s+extension\b|\bagree\w*\s+to\s+extend\b|\bdeal\s+to\s+extend\b",
    ),
    # the truce takes effect
    _rule(
        "truce begins",
        Event.TRUCE_START,
        rf"\b{_TRUCE}{_UPTO}\s+(?:begins|began|starts|started|takes effect|took effect|"
        rf"comes into effect|came into force|in effect|holds|is holding)\b"
        rf"|\b(?:start|first day|day (?:one|two|three|four|five|six|seven|\d))\s+of\s+(?:the\s+)?"
        rf"(?:{_W}\s+){{0,2}}{_TRUCE}|\bstart\s+(?:the\s+)?(?:first\s+)?{_TRUCE}\b"
        rf"|\b(?:as|after)\s+{_TRUCE}\s+(?:begins|starts|holds)\b",
    ),
    # the deal is struck
    _rule(
        "deal reached or approved",
        Event.AGREEMENT,
        rf"\b{_DEAL}\s+(?:is\s+|was\s+)?(?:reached|struck|agreed|sealed|approved|clinched|done)\b"
        rf"|\b(?:reach|reached|strike|struck|seal|sealed|clinch\w*|approves?|approved)\s+"
        rf"(?:a\s+|the\s+)?(?:{_W}\s+){{0,4}}{_DEAL}\b"
        rf"|\b(?:agree|agrees|agreed)\s+(?:on\s+|to\s+)?(?:a\s+|the\s+)?(?:{_W}\s+){{0,3}}"
        rf"(?:deal|truce|cease-?\s?fire|ceasefire|pause)\b(?!\s+{_PLAN})",
    ),
    # a side says no
    _rule(
        "a side rejects",
        Event.REJECTION,
        rf"\b(?:rejects?|rejected|rebuffs?|rebuffed|dismiss\w*|spurns?|spurned|turns? down|"
        rf"turned down|refuses?|refused|mocks?|mocked|slams?|slammed)\b.*"
        rf"\b(?:{_PLAN}|{_DEAL}|{_TALKS}|demands?|conditions|vision|hostage)"
        r"|\bnon-?starter\b",
    ),
    # a side accepts a proposal (the other side still has to answer)
    _rule(
        "a side accepts a proposal",
        Event.ACCEPTANCE,
        rf"\b(?:accepts?|accepted|agrees?\s+to|agreed\s+to|approves?|approved|endorses?|"
        rf"endorsed|backs?|welcomes?|welcomed)\s+(?:the\s+|a\s+)?(?:{_W}\s+){{0,4}}{_PLAN}\b"
        r"|\b(?:accepts|accepted)\s+it\b",
        needs=_ANSWERED,
    ),
    # a side answers
    _rule(
        "a side responds",
        Event.RESPONSE,
        rf"\b(?:responds?|responded|replies|replied)\b"
        rf"|\b(?:response|reply|answer|counter-?proposal|counter-?offer)\s+(?:to|on)\s+"
        rf"|\b(?:gives?|gave|delivers?|delivered|submits?|submitted|hands?|handed|sends?|sent)\s+"
        rf"(?:its\s+|a\s+|their\s+)?(?:{_W}\s+){{0,2}}(?:response|reply|answer)\b"
        rf"|\b(?:positive|negative|written)\s+(?:response|reply|answer)\b"
        rf"|\bviews?\s+{_W}\s+{_W}?\s*{_PLAN}\s+positively\b|\bpositively\b",
        needs=_ANSWERED,
    ),
    # a plan is put on the table
    _rule(
        "a proposal is made or received",
        Event.PROPOSAL,
        rf"\b(?:propos\w*|offers?|offered|presents?|presented|unveils?|unveiled|submits?|"
        rf"tables?|tabled|outlines?|outlined|lays? out|drafts?|details?|detailed)\b.*"
        rf"\b(?:{_PLAN}|{_DEAL}|{_TRUCE}|vision|exchange)\b"
        rf"|\b(?:receives?|received|studying|studies|weighs?|weighing|reviews?|reviewing|"
        rf"considers?|considering|mulls?|mulling|awaits?|awaiting)\b.*\b(?:{_PLAN}|{_DEAL})\b"
        rf"|\b(?:new|latest|fresh|revised|three-(?:phase|stage|part)|\d+-day)\s+(?:{_W}\s+){{0,3}}"
        rf"(?:{_PLAN})\b",
        needs=_ABOUT,
    ),
    # delegations come and go
    _rule(
        "a delegation leaves or the round ends",
        Event.DELEGATION_LEAVING,
        rf"\b{_ENVOYS}\s+(?:{_W}\s+){{0,2}}{_LEAVE}\b|\b{_LEAVE}\s+(?:{_W}\s+){{0,3}}{_TALKS}\b"
        rf"|\b{_TALKS}\s+(?:in\s+{_W}\s+)?end(?:s|ed)?\b(?!\s+inconclusive)",
    ),
    _rule(
        "a delegation arrives",
        Event.DELEGATION_ARRIVING,
        rf"\b{_ENVOYS}\s+(?:{_W}\s+){{0,2}}{_GO}\b|\b{_GO}\s+(?:in|to|for)\s+(?:{_W}\s+){{0,2}}"
        rf"(?:{_VENUE}|{_TALKS})\b|\b(?:joins?|joined)\s+(?:{_W}\s+){{0,4}}{_TALKS}\b",
    ),
    # the talks themselves
    _rule(
        "talks stall or end without a deal",
        Event.STALL,
        rf"\b{_TALKS}\s+(?:{_W}\s+){{0,3}}(?:stall\w*|falter\w*|end(?:s|ed)?\s+inconclusive\w*|"
        rf"end(?:s|ed)?\s+without|at\s+(?:an\s+)?impasse|at\s+a\s+standstill|deadlock\w*|"
        rf"fail\w*|suspended|break down|broke down|collapse\w*|hit\s+snag\w*)"
        rf"|\b(?:impasse|stalemate|deadlock|standstill|no\s+breakthrough|sticking points?)\b"
        rf"|\bstall\w*\b.*\b{_TALKS}\b",
        hedged_ok=True,
    ),
    _rule(
        "talks held or resumed",
        Event.TALKS,
        rf"\b{_TALKS}\s+(?:{_W}\s+){{0,2}}(?:resume\w*|begin|began|start\w*|under\s?way|continue\w*|"
        rf"ongoing|held|in\s+(?:cairo|doha|paris)|making\s+progress|progress\w*)"
        rf"|\b(?:new|latest|fresh)\s+round\s+of\s+(?:{_W}\s+){{0,2}}{_TALKS}"
        rf"|\b(?:hosts?|hosted|hosting)\s+(?:{_W}\s+){{0,4}}{_TALKS}\b"
        rf"|\bgaps?\s+(?:are\s+)?narrow\w*",
        needs=_STAKES,
    ),
    # what happens between the talks
    _rule(
        "hostages or prisoners released",
        Event.RELEASE,
        r"\b(?:frees|freed|releases|released|hands over|handed over|swaps?|swapped|exchanged|"
        r"returns? home|returned)\b.*\b(?:hostages?|captives?|prisoners?|detainees|israelis|"
        r"palestinians)\b|\b(?:hostages?|captives?|prisoners?|detainees)\b.*\b(?:freed|released|"
        r"returns?|return home|back in israel|handed over)\b",
    ),
    _rule(
        "military operation",
        Event.OPERATION,
        r"\b(?:offensive|ground (?:operation|assault|invasion)|military operation|operation in|"
        r"assault on|invasion of|incursion|airstrikes?|air strikes?|strikes? (?:on|kill\w*|hit\w*)|"
        r"pounds?|pounded|bombard\w*|shell\w*|raids?|tanks? (?:roll|push|reach)\w*|troops "
        r"(?:push|advance|enter)\w*|(?:pushes|pushed|moves|moved) (?:deeper )?into)\b",
    ),
)
"""Every rule, strongest event first: the first event in this order that a clause fires wins."""

_RANK = {event: i for i, event in enumerate(Event)}

PARTIES: dict[str, re.Pattern[str]] = {
    "Hamas": re.compile(
        r"\bhamas\b|\bsinwar\b|\bhaniyeh\b|\bpalestinian (?:group|militants)\b", re.I
    ),
    "Israel": re.compile(
        r"\bisrael(?:i)?\b|\bnetanyahu\b|\bidf\b|\bwar cabinet\b|\bgantz\b",
        re.I,
    ),
}
"""The two sides at the table."""

MEDIATORS: dict[str, re.Pattern[str]] = {
    "Egypt": re.compile(r"\begypt\w*|\bcairo\b|\bsisi\b", re.I),
    "Qatar": re.compile(r"\bqatar\w*|\bdoha\b|\bal thani\b", re.I),
    "US": re.compile(
        r"\bU\.?S\.?\b(?!-)|\bUnited States\b|\b(?:Biden|Blinken|Burns|CIA|White House|"
        r"Washington|McGurk|Harris|Kirby|Sullivan)\b"
    ),
    "France": re.compile(r"\bfrance\b|\bfrench\b|\bmacron\b", re.I),
}
"""Those who carry messages between them (named in negotiation headlines)."""

ELSEWHERE = re.compile(
    r"\b(?:UN|U\.N\.|United Nations|Security Council|General Assembly|resolution|veto\w*|ICJ|"
    r"World Court|court)\b",
    re.I,
)
"""Diplomacy outside the talks (a UN vote, a court order): no negotiation event from these."""

_ONE_SIDE = re.compile(r"\bagrees\b|\bsays it agree", re.I)
"""One side agreeing ("Israel says it agrees to a cease-fire") accepts; it is not the deal."""

_NEGOTIATION = frozenset(
    {
        Event.AGREEMENT,
        Event.REJECTION,
        Event.ACCEPTANCE,
        Event.RESPONSE,
        Event.PROPOSAL,
        Event.DELEGATION_LEAVING,
        Event.DELEGATION_ARRIVING,
        Event.STALL,
        Event.TALKS,
        Event.TRUCE_EXTENSION,
    }
)
"""Events about the negotiation itself: the venue and mediators are read from these."""


@dataclass(frozen=True, slots=True)
class Finding:
    """What ``classify`` found in one headline."""

    event: Event | None
    rule: str = ""
    """The rule that fired ("" when none did)."""
    clause: str = ""
    """The clause it fired on."""
    party: str = ""
    """The side the event is by or for (Hamas, Israel), "" when not named."""
    recipient: bool = False
    """The party receives rather than makes the proposal ("Hamas studying the plan")."""
    venue: str = ""
    mediators: tuple[str, ...] = ()
    days: int = 0
    """A truce's length or an extension, in days, when the headline says it."""
    skipped: tuple[str, ...] = ()
    """Clauses that matched a rule but only speculate ("could collapse"): they fired nothing."""


def _clauses(headline: str) -> list[str]:
    parts = [p.strip() for p in _CLAUSES.split(headline) if p and p.strip()]
    return parts or [headline.strip()]


_DAYS = re.compile(
    rf"\b({_NUMBER})[- ](day|week)s?\b|\bby\s+({_NUMBER})\s+(day|week)s?\b|\b(seventh|sixth|"
    r"fifth) day\b",
    re.I,
)
_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_WORDS |= {"seven": 7, "eight": 8, "nine": 9, "ten": 10}


def _days(text: str, event: Event) -> int:
    if event not in {Event.TRUCE_START, Event.TRUCE_EXTENSION, Event.AGREEMENT}:
        return 0
    match = _DAYS.search(text)
    if match is None or match.group(5):
        return 1 if match is not None and event is Event.TRUCE_EXTENSION else 0
    amount = match.group(1) or match.group(3)
    unit = match.group(2) or match.group(4)
    n = int(amount) if amount.isdigit() else _WORDS.get(amount.casefold(), 0)
    return n * (7 if unit.casefold() == "week" else 1) if n <= 60 else 0


_SIDE = r"(hamas|israel)(?:'s|’s)?"
_TO_A_SIDE = re.compile(
    rf"\b(?:given|handed|sent|presented|delivered|offers?|offered)\s+(?:to\s+)?{_SIDE}\b"
    rf"|\bawait\w*\s+{_SIDE}\b|\b{_SIDE}\s+(?:response|reply|answer)\s+awaited\b",
    re.I,
)
_SIDE_RECEIVES = re.compile(
    rf"\b{_SIDE}\b(?:\s+{_W}){{0,3}}?\s+(?:receiv\w*|is studying|studying|stud(?:y|ies)|"
    r"weigh\w*|review\w*|consider\w*|mull\w*|must now decide|to weigh in)\b"
    rf"|\b(?:studied|reviewed|considered|weighed)\s+by\s+{_SIDE}\b",
    re.I,
)
_NEEDS_A_SIDE = frozenset({Event.REJECTION, Event.ACCEPTANCE, Event.RESPONSE})
"""Events that are a side's act: without Hamas or Israel named, the headline is comment."""


def _waiting(headline: str) -> str:
    """The side a proposal is put to ("a plan given to Hamas", "Hamas studying the plan"), ""
    when the headline does not say."""
    match = _TO_A_SIDE.search(headline) or _SIDE_RECEIVES.search(headline)
    if match is None:
        return ""
    side = next(g for g in match.groups() if g)
    return "Hamas" if side.casefold() == "hamas" else "Israel"


def _party(clause: str, headline: str) -> str:
    """The first side named in the clause (else in the headline)."""
    for text in (clause, headline):
        found = [
            (m.start(), name) for name, p in PARTIES.items() if (m := p.search(text)) is not None
        ]
        if found:
            return min(found)[1]
    return ""


_TRIGGERS = frozenset(
    """truc ceas paus lull calm deal agre talk nego medi roun prop plan offe fram draf term
    road init resp repl reje rebu dism spur turn refu mock slam star acce endo back welc dele
    envo offi chie arri land head trav reac join leav left quit walk depa exit pull free rele
    hand swap exch retu offe oper assa inva incu stri poun bomb shel raid tank troo push move
    figh war comb host atta resu rest exte prol rene stal falt impa stal dead stan brea stic
    prog gaps end ende ends coll expi over shat begi bega effe forc hold no not with fail yet
    airs team answ cair doha pari egyp qata""".split()
)
"""The first four letters (or the whole of a shorter word) of every word a rule or a negation
starts from: a headline holding none reports no event. Most headlines hold none, and a set
lookup per word is far cheaper than the rules' expressions."""
_WORD = re.compile(r"[a-z]+")


def classify(headline: str) -> Finding:
    """The negotiation event ``headline`` reports, or ``Finding(None)`` when it reports none."""
    if not any(w[:4] in _TRIGGERS for w in _WORD.findall(headline.lower())):
        return _NOTHING
    return _classify(headline)


_NOTHING = Finding(None)


@functools.lru_cache(maxsize=50_000)
def _classify(headline: str) -> Finding:
    """``classify``, remembered: a story's headlines are read again at every ``status``."""
    best: tuple[int, Rule, str] | None = None
    skipped: list[str] = []
    for clause in _clauses(headline):
        hedged: bool | None = None  # looked up once a rule matches (most clauses match none)
        negated = NEGATIONS.search(clause) is not None
        fired = False
        for rule in RULES:
            if not rule.pattern.search(clause):
                continue
            if rule.needs is not None and not rule.needs.search(headline):
                continue
            fired = True
            if hedged is None:
                hedged = HEDGES.search(clause) is not None
            event = rule.event
            if negated and event in _NEGATABLE:
                # "no deal yet", "talks end without agreement": a stall, whatever else it says.
                rule = _NO_DEAL
                event = Event.STALL
            elif hedged and not rule.hedged_ok:
                skipped.append(clause)
                continue
            rank = _RANK[event]
            if best is None or rank < best[0]:
                best = (rank, rule, clause)
            break
        if negated and not fired:
            rank = _RANK[Event.STALL]
            if best is None or rank < best[0]:
                best = (rank, _NO_DEAL, clause)
    if best is None:
        return Finding(None, skipped=tuple(skipped))
    _rank, rule, clause = best
    if rule.event in _NEGOTIATION | {Event.AGREEMENT} and ELSEWHERE.search(headline):
        return Finding(None, skipped=(*skipped, clause))
    event = rule.event
    if event is Event.AGREEMENT and _ONE_SIDE.search(clause) and not _both_sides(clause):
        rule = _ONE_SIDE_AGREES
    venue = next((v for v in _VENUES if re.search(rf"\b{v}\b", headline, re.I)), "")
    mediators = tuple(name for name, p in MEDIATORS.items() if p.search(headline))
    party = _party(clause, headline)
    if rule.event in _NEEDS_A_SIDE and not party:
        return Finding(None, skipped=(*skipped, clause))
    waiting = _waiting(headline)
    return Finding(
        event=rule.event,
        rule=rule.name,
        clause=clause,
        party=waiting or party,
        recipient=bool(waiting),
        venue=venue,
        mediators=mediators,
        days=_days(headline, rule.event),
        skipped=tuple(skipped),
    )


def _both_sides(text: str) -> bool:
    return all(p.search(text) for p in PARTIES.values())


_ONE_SIDE_AGREES = Rule("one side agrees", Event.ACCEPTANCE, _ONE_SIDE)
_NO_DEAL = Rule("no deal (a negated agreement)", Event.STALL, NEGATIONS)
_NEGATABLE = frozenset(
    {Event.AGREEMENT, Event.TRUCE_START, Event.TRUCE_EXTENSION, Event.PROPOSAL, Event.TALKS}
)
"""Events a "no deal" in the same clause turns into a stall ("no deal yet on the new plan")."""


# --- the phase machine ----------------------------------------------------------------------------

CONFIRM_WITHIN = timedelta(hours=36)
"""A one-outlet event is confirmed by a second development reporting it within this long."""
SAME_EXTENSION = timedelta(hours=18)
"""Extensions reported closer together than this are one extension (truces are extended by a
day or more at a time)."""


@dataclass(frozen=True, slots=True)
class Development:
    """One development as the card reads it (built from a stored story)."""

    id: str
    title: str
    published: datetime
    outlets: tuple[str, ...]
    url: str = ""
    reports: tuple[Heard, ...] = ()
    """Its reports, oldest first (empty: the title is the one headline, by every outlet)."""


@dataclass(frozen=True, slots=True)
class Heard:
    """One outlet's headline of a development, and when it was published."""

    outlet: str
    title: str
    published: datetime


@dataclass(frozen=True, slots=True)
class Step:
    """A classified development: the event and the evidence behind it."""

    development: Development
    finding: Finding
    confirmed_by: str = ""
    """Why it counts: "2 outlets", or the id of the development that confirmed it ("" when it
    is not confirmed)."""

    @property
    def event(self) -> Event:
        assert self.finding.event is not None
        return self.finding.event

    @property
    def when(self) -> datetime:
        return self.development.published


class PhaseKind(StrEnum):
    NONE = "none"
    """No negotiation step in the window."""
    PROPOSAL_PENDING = "proposal pending"
    RESPONDED = "responded"
    REJECTED = "rejected"
    TALKS = "talks"
    STALLED = "stalled"
    AGREED = "agreed"
    TRUCE = "truce"
    COLLAPSED = "collapsed"
    FIGHTING = "fighting"
    """Only operations: no truce, no talks reported."""


@dataclass(frozen=True, slots=True)
class Phase:
    """Where the machine stands after a sequence of steps."""

    kind: PhaseKind = PhaseKind.NONE
    since: datetime | None = None
    party: str = ""
    """Who must answer (PROPOSAL_PENDING), who answered (RESPONDED), who rejected (REJECTED)."""
    proposal: str = ""
    """How the proposal on the table is called ("the Paris framework", "Hamas's proposal")."""
    venue: str = ""
    truce_started: datetime | None = None
    truce_days: int = 0
    """The truce's announced length plus its extensions (0 when not stated)."""
    extensions: int = 0
    extended: datetime | None = None
    """When the truce was last extended."""
    added: int = 0
    """Days the latest extension added (0 when not reported yet)."""


@dataclass(frozen=True, slots=True)
class Transition:
    """One rule of the machine that fired: the phase it led to and the step behind it."""

    rule: str
    step: Step
    phase: Phase


@dataclass(frozen=True, slots=True)
class TalksCard:
    """The talks card: what ``status`` opens with and ``why phase`` explains."""

    now: datetime
    phase: Phase
    venue: str
    mediators: tuple[str, ...]
    last_step: Step | None
    transitions: tuple[Transition, ...]
    unconfirmed: tuple[Step, ...]
    outweighed: tuple[Step, ...] = ()
    """Confirmed steps a better-sourced opposite account by the same side overruled."""
    steps: tuple[Step, ...] = field(default=())
    """Every classified development of the window, oldest first."""


def _other(party: str) -> str:
    return {"Hamas": "Israel", "Israel": "Hamas"}.get(party, "")


def _proposal_name(step: Step, author: str, venue: str) -> str:
    if venue:
        return f"the {venue} framework"
    if author:
        return f"{author}'s proposal"
    if step.finding.mediators:
        return f"the {step.finding.mediators[0]} proposal"
    return "the latest proposal"


_STANCES = frozenset({Event.ACCEPTANCE, Event.REJECTION, Event.RESPONSE})
"""A side's answers: when one side is reported both accepting and rejecting within
``CONFIRM_WITHIN``, the better-sourced account holds."""


def _support(step: Step, steps: Sequence[Step]) -> int:
    """Outlets behind ``step``'s event by the same side within ``CONFIRM_WITHIN``."""
    return sum(
        len(s.development.outlets)
        for s in steps
        if s.confirmed_by
        and s.event is step.event
        and s.finding.party == step.finding.party
        and abs(s.when - step.when) <= CONFIRM_WITHIN
    )


def _outweighed(step: Step, last: Transition | None, steps: Sequence[Step]) -> bool:
    if last is None or step.event not in _STANCES or last.step.event not in _STANCES:
        return False
    if step.event is last.step.event or step.finding.party != last.step.finding.party:
        return False
    if step.when - last.step.when > CONFIRM_WITHIN:
        return False
    return _support(step, steps) < _support(last.step, steps)


def _confirm(steps: list[Step]) -> list[Step]:
    """Each step with why it counts: 2+ outlets, or a second development of the same event
    within ``CONFIRM_WITHIN`` (that second one confirms both)."""
    out: list[Step] = []
    for i, step in enumerate(steps):
        if len(step.development.outlets) >= 2:
            out.append(Step(step.development, step.finding, f"{len(step.development.outlets)}"))
            continue
        partner = next(
            (
                other
                for j, other in enumerate(steps)
                if j != i
                and other.event is step.event
                and abs(other.when - step.when) <= CONFIRM_WITHIN
                and (other.finding.party == step.finding.party or not step.finding.party)
                and other.development.outlets != step.development.outlets
            ),
            None,
        )
        out.append(Step(step.development, step.finding, partner.development.id if partner else ""))
    return out


def _advance(phase: Phase, step: Step) -> tuple[str, Phase] | None:
    """The machine's rules: the phase after ``step``, with the rule's name (None: no change)."""
    f, when, event = step.finding, step.when, step.event
    venue = f.venue or phase.venue
    in_truce = phase.kind is PhaseKind.TRUCE
    if event is Event.TRUCE_COLLAPSE:
        if phase.kind is PhaseKind.COLLAPSED:
            return None  # the same collapse, reported again
        if in_truce or phase.kind is PhaseKind.AGREED or phase.truce_started:
            return "truce ended → collapsed", Phase(PhaseKind.COLLAPSED, when, venue=venue)
        return None
    if event is Event.TRUCE_EXTENSION:
        if in_truce and phase.extended and when - phase.extended < SAME_EXTENSION:
            # The same extension, reported again: it may say by how long.
            if f.days and not phase.added and phase.truce_days:
                return "extension's length reported", replace(
                    phase, truce_days=phase.truce_days + f.days, added=f.days
                )
            return None
        started = phase.truce_started or when
        days = phase.truce_days + f.days if phase.truce_days and f.days else phase.truce_days
        return "truce extended → truce in force", Phase(
            PhaseKind.TRUCE,
            phase.since if in_truce else when,
            venue=venue,
            truce_started=started,
            truce_days=days,
            extensions=phase.extensions + 1,
            extended=when,
            added=f.days if phase.truce_days else 0,
        )
    if event is Event.TRUCE_START:
        if in_truce:
            return None
        days = f.days or (phase.truce_days if phase.kind is PhaseKind.AGREED else 0)
        return "truce took effect → truce in force", Phase(
            PhaseKind.TRUCE, when, venue=venue, truce_started=when, truce_days=days
        )
    if event is Event.RELEASE:
        if phase.kind is PhaseKind.AGREED:
            # Releases under a deal mean its truce has begun.
            return "release under the deal → truce in force", Phase(
                PhaseKind.TRUCE, when, venue=venue, truce_started=when, truce_days=phase.truce_days
            )
        return None
    if in_truce and event not in {Event.AGREEMENT}:
        return None  # during a truce, talks about the next step do not end it
    if event is Event.AGREEMENT:
        if in_truce:
            return None
        return "deal reached → agreed", Phase(
            PhaseKind.AGREED, when, venue=venue, truce_days=f.days
        )
    if event is Event.REJECTION:
        rejected = phase.proposal
        if phase.kind is PhaseKind.RESPONDED and phase.party and phase.party != f.party:
            rejected = f"{phase.party}'s response"  # the answer, not the original proposal
        if phase.kind is PhaseKind.REJECTED and phase.party == f.party:
            return None
        return "a side rejected → rejected", Phase(
            PhaseKind.REJECTED, when, party=f.party, proposal=rejected, venue=venue
        )
    if event is Event.ACCEPTANCE:
        waiting = _other(f.party) if f.party else ""
        name = phase.proposal or (f"the {f.venue} framework" if f.venue else "the latest proposal")
        return "one side accepted → awaiting the other", Phase(
            PhaseKind.PROPOSAL_PENDING, when, party=waiting, proposal=name, venue=venue
        )
    if event is Event.RESPONSE:
        if phase.kind is PhaseKind.RESPONDED and phase.party == f.party:
            return None
        name = phase.proposal or (f"the {f.venue} framework" if f.venue else "the latest proposal")
        return "a side responded → awaiting the other's answer", Phase(
            PhaseKind.RESPONDED, when, party=f.party, proposal=name, venue=venue
        )
    if event is Event.PROPOSAL:
        if not f.party and phase.kind in {PhaseKind.PROPOSAL_PENDING, PhaseKind.RESPONDED}:
            return None  # a mediator restating the plan on the table: still waiting
        if f.recipient:
            waiting, author = f.party, _other(f.party)
        else:
            waiting, author = _other(f.party), f.party
        name = _proposal_name(step, author, f.venue)
        pending = phase.kind is PhaseKind.PROPOSAL_PENDING and phase.party == waiting
        if pending and (not f.venue or f.venue in phase.proposal):
            return None  # the same proposal, reported again
        return "a proposal was made → awaiting a response", Phase(
            PhaseKind.PROPOSAL_PENDING, when, party=waiting, proposal=name, venue=venue
        )
    if event is Event.DELEGATION_LEAVING:
        return "delegation left → talks paused", Phase(PhaseKind.STALLED, when, venue=venue)
    if event is Event.STALL:
        if phase.kind is PhaseKind.STALLED:
            return None
        return "talks stalled → stalled", Phase(PhaseKind.STALLED, when, venue=venue)
    if event in {Event.DELEGATION_ARRIVING, Event.TALKS}:
        if phase.kind is PhaseKind.TALKS and (not f.venue or f.venue == phase.venue):
            return None
        if phase.kind in {PhaseKind.PROPOSAL_PENDING, PhaseKind.RESPONDED} and not f.venue:
            return None  # talks about a proposal on the table do not replace the wait
        return "talks convened → talks under way", Phase(PhaseKind.TALKS, when, venue=venue)
    if event is Event.OPERATION:
        if phase.kind is PhaseKind.NONE:
            return "only fighting reported → fighting", Phase(PhaseKind.FIGHTING, when)
        return None
    return None


_TALKED_ABOUT = _NEGOTIATION | {Event.AGREEMENT, Event.TRUCE_START}
"""Steps whose headlines name the venue and the mediators (not releases or operations)."""


def _all_headlines(development: Development) -> tuple[str, ...]:
    return (development.title, *(r.title for r in development.reports))


def _venue_of(development: Development) -> str:
    for headline in _all_headlines(development):
        for venue in _VENUES:
            if re.search(rf"\b{venue}\b", headline, re.I):
                return venue
    return ""


def _mediators_of(development: Development) -> tuple[str, ...]:
    headlines = _all_headlines(development)
    return tuple(
        name for name, pattern in MEDIATORS.items() if any(pattern.search(h) for h in headlines)
    )


def _steps_of(development: Development, now: datetime) -> list[Step]:
    """A development's events: one step per event its reports' headlines report, at the time
    of the first report of it, with the outlets that reported it. Usually one; more when
    reports of a later step joined the story (a delegation's arrival, then its departure)."""
    if not development.reports:
        finding = classify(development.title)
        return [Step(development, finding)] if finding.event is not None else []
    heard: dict[Event, tuple[Finding, list[Heard]]] = {}
    for report in sorted(development.reports, key=lambda r: r.published):
        if report.published > now:
            continue
        finding = classify(report.title)
        if finding.event is not None:
            heard.setdefault(finding.event, (finding, []))[1].append(report)
    steps = []
    for finding, reports in heard.values():
        outlets = tuple(dict.fromkeys(r.outlet for r in reports))
        part = replace(
            development, title=reports[0].title, published=reports[0].published, outlets=outlets
        )
        steps.append(Step(part, finding))
    return steps


def talks_card(developments: Iterable[Development], now: datetime) -> TalksCard:
    """The card for ``developments`` (any order) as of ``now``; later ones are ignored."""
    steps: list[Step] = []
    for development in developments:
        if development.published <= now:
            steps.extend(_steps_of(development, now))
    steps.sort(key=lambda s: (s.when, s.development.id))
    steps = _confirm(steps)
    phase = Phase()
    transitions: list[Transition] = []
    unconfirmed: list[Step] = []
    outweighed: list[Step] = []
    for step in steps:
        if not step.confirmed_by:
            unconfirmed.append(step)
            continue
        if _outweighed(step, transitions[-1] if transitions else None, steps):
            outweighed.append(step)
            continue
        moved = _advance(phase, step)
        if moved is not None:
            rule, phase = moved
            transitions.append(Transition(rule, step, phase))
    negotiation = [s for s in steps if s.confirmed_by and s.event in _TALKED_ABOUT]
    venue = phase.venue or next(
        (v for s in reversed(negotiation) if (v := _venue_of(s.development))), ""
    )
    counted = Counter(m for s in negotiation for m in _mediators_of(s.development))
    order = list(MEDIATORS)
    mediators = tuple(sorted(counted, key=lambda m: (-counted[m], order.index(m))))
    return TalksCard(
        now=now,
        phase=phase,
        venue=venue,
        mediators=mediators,
        last_step=_last_step(transitions, steps),
        transitions=tuple(transitions),
        unconfirmed=tuple(unconfirmed),
        outweighed=tuple(outweighed),
        steps=tuple(steps),
    )


def _last_step(transitions: Sequence[Transition], steps: Sequence[Step]) -> Step | None:
    """The best-sourced development behind the current phase: of the confirmed steps since the
    last transition that agree with it, the one with most outlets (the latest on a tie)."""
    if not transitions:
        return None
    last = transitions[-1]
    event = last.step.event
    same = [
        s
        for s in steps
        if s.confirmed_by and s.event is event and s.when >= last.step.when - CONFIRM_WITHIN
    ]
    return max(same or [last.step], key=lambda s: (len(s.development.outlets), s.when))
