"""What deserves a push: a development, or background that can wait for the route's digest.

A desk following the talks wants a push for each concrete step: a proposal, a response, a
delegation arriving or leaving, an operation, an evacuation order, a release, a statement by the
parties or the mediators on the deal. Analyses, opinion, explainers, features, photo pages and the
warnings of aid groups and UN agencies are worth reading, but not worth interrupting anyone for: a
route with ``push = "developments"`` holds them for its scheduled digest.

The headline tells which is which by its form, not its subject: a label ("Analysis:", "Opinion",
"Explainer", "Photos:"), the phrasing of an explainer ("What we know", "explained", a question),
or a statement by a humanitarian body (MSF, UNICEF, Amnesty, the UN chief) - in its words or as
the outlet. Anything else is a development: a missed push costs more than a needless one, so only
clear signs make a report background. A story is a development as soon as one of its reports is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

from bot.core.models import Story
from bot.core.text import fold


class Tier(StrEnum):
    DEVELOPMENT = "development"
    BACKGROUND = "background"


_LABEL = re.compile(
    r"^\W*(?:analysis|opinion|op-ed|comment|commentary|editorial|explainer|explained|factbox|"
    r"fact check|timeline|q&a|photos?|pictures|in pictures|video|watch|listen|podcast|"
    r"visual analysis|interactive|diary|letters?|review|the big picture|perspective)\s*[:|\-]",
    re.IGNORECASE,
)
"""A newsroom label opening the headline."""

_PHRASE = re.compile(
    r"\b(?:analysis|explainer|explained|what we know|what to know|what's to know|here's what|"
    r"what you need to know|what it means|what happens next|key questions|in pictures|"
    r"picture show|photo essay|op-ed|opinion|newsletter|morning rundown|evening rundown|"
    r"diary(?: part)?|podcast|live blog)\b|\bbriefing:|[-|]\s*opinion\s*$",
    re.IGNORECASE,
)
"""The phrasing of explainers, features and columns, anywhere in the headline."""

_MOUNTING = re.compile(
    r"^(?:[\w'-]+\s+){0,2}?(?:warnings|calls|concerns|fears|worries|pressure|alarm)\s+"
    r"(?:\w+\s+){0,5}?(?:mounts?|grows?|rises?|builds?)\b",
    re.IGNORECASE,
)
"""The world's mood as the headline's main clause ("Warnings mount as ...", "Calls to stave off
... grow"); "Israeli strikes kill 13 as concerns grow" keeps its event."""

_BYLINE = re.compile(
    r"\|\s*(?P<name>(?:[A-Z][\w'.-]+\s+){1,3}[A-Z][\w'-]+)\s*$",
)
"""A column's byline after the headline ("... | Jonathan Freedland")."""

_NOT_A_NAME = frozenset(
    "news live updates update conflict world times post press report reports middle east "
    "international politics opinion video".split()
)

_FIRST_PERSON = re.compile(r"^\W*(?:i|i'm|i've|my|we must|we need|we want|we cannot)\b", re.I)
"""A first-person essay ("I run the UN agency ...", "My daughter is a hostage ...")."""

_QUESTION = re.compile(r"\?\s*(?:['\"’”]\s*)?(?:$|[-|:])")
"""A headline that asks (an explainer or analysis), not one that quotes a question mid-way."""

_MOMENT = re.compile(
    r"\b(?:shocking|sickening|chilling|horrifying|heartbreaking|heart-?wrenching|astonishing|"
    r"emotional|incredible|dramatic|terrifying|harrowing|touching|heartwarming|tearful|joyful|"
    r"tense|awkward|extraordinary|amazing|tender)\s+moments?\b",
    re.IGNORECASE,
)
"""The tabloid's "Chilling moment ..." anywhere in the headline: a scene, not a step."""

_PUNDIT = re.compile(
    r"[:\-\u2013\u2014]\s*(?:an?\s+|the\s+)?(?:experts?|analysts?|observers?|commentators?|"
    r"pundits?|scholars?|historians?|former\s+[\w' -]{2,40})\s*$",
    re.IGNORECASE,
)
"""A view credited to commentators after the headline ("... 'incompatible': Experts", "...:
Former Israeli leader"): a reading of events, not an event."""

_WATCH_LIVE = re.compile(r"(?::|-|\|)\s*watch(?:\s+live|\s+now)?\s*$", re.IGNORECASE)
"""A stream or a clip announced after the headline ("Blinken speaks in Israel: Watch live")."""

_ROUNDUP = re.compile(
    r"\b(?:and more top headlines|top headlines|news roundup|round-?up|week in review|"
    r"what to watch)\b|^\W*(?:first thing|morning report|evening report)\s*:|^\W*here(?:'s|"
    r"\s+is|\s+are)\b",
    re.IGNORECASE,
)
"""A roundup or newsletter of the day's news, or a list ("Here are the ...")."""

_FEATURE_OPENING = re.compile(
    r"^\W*(?:moment|revealed|inside|meet|how|why|what|who|the story|the stories)\b", re.IGNORECASE
)
"""Openings of features and teasers ("Moment ...", "Inside ...", "How ...", "Why ...")."""

_PEOPLE = re.compile(
    r"\b(?:famil(?:y|ies)|mothers?|moms?|mums?|fathers?|dads?|daughters?|sons?|wife|husband|"
    r"brothers?|sisters?|grand(?:mother|father|parents?)|children of|relatives|loved ones|"
    r"survivors?|parents|widows?)\b",
    re.IGNORECASE,
)
_TELLING = re.compile(
    r"\b(?:plead(?:s|ing)?|recount(?:s|ing)?|describ(?:e|es|ing)|tells? of|speaks? (?:of|out)|"
    r"remember(?:s|ing)?|mourn(?:s|ing)?|griev(?:e|es|ing)|wait(?:s|ing)?|agoni[sz]ing|vigils?|"
    r"birthdays?|pray(?:s|ing|ers?)?|nightmare|ordeal|horror|trauma|stor(?:y|ies)|"
    r"testimon(?:y|ies)|memories|heartbreak|anguish|tearful(?:ly)?|emotional|anxious|desperate)\b",
    re.IGNORECASE,
)
"""A person's story: the people in it and the telling ("families of hostages plead", "a
mother recounts"): a feature, however moving, not a step in the talks."""

_KICKER = re.compile(
    r"^\s*(?:[\w'’.\- ]{1,60}:(?!\S)|['‘\"“][^'’\"”]{1,80}['’\"”]\s*[:,.]?)\s*",
)
"""A kicker before the headline proper: "Israel-Gaza war:", "Gaza truce:" or an opening quote
("'Our last stop is Rafah':"). The subject of the headline comes after it."""

_CIVILIANS = re.compile(
    r"^(?:the\s+)?(?:(?:millions|thousands|hundreds|many)\s+of\s+)?(?:[\w-]+'s\s+)?"
    r"(?:(?:trapped|displaced|terrified|fleeing|hungry|besieged|exhausted|weary|"
    r"frightened|anxious|desperate|grieving|stranded)\s+)?"
    r"(?:palestinians|gazans|people|residents|civilians|displaced|famil(?:y|ies)|family members|"
    r"relatives|children|women|mothers|parents|survivors|refugees|evacuees|humanitarians|"
    r"aid (?:groups|agencies|workers)|experts|analysts|scholars)\b",
    re.IGNORECASE,
)
"""The people living the story as the subject of its headline ("Palestinians in Gaza use truce
to pick through rubble", "Gazans fear ...", "Families of hostages visit ..."): a feature about
the war's toll, not a step in the talks. "Hundreds flee ..." stays a development: an exodus is
an event, and "hundreds" alone names no one."""

_PARTY = re.compile(
    r"\b(?:israel|israeli|israelis|idf|netanyahu|gallant|gantz|cabinet|war cabinet|hamas|"
    r"haniyeh|sinwar|islamic jihad|qatar|qatari|egypt|egyptian|cairo|doha|sisi|el-sisi|"
    r"u\.?s\.?|united states|america|american|biden|blinken|burns|sullivan|white house|"
    r"washington|mediators?|negotiators?|envoys?|delegations?|red cross|icrc|army|troops|"
    r"military|officials?|pm|prime minister|minister)\b",
    re.IGNORECASE,
)
"""The parties, the mediators and the officials whose words and deeds move the talks."""

_REACTION = re.compile(
    r"^(?P<who>(?:\S+\s+){0,4}?)(?:welcomes?|hails?|praises?|applauds?|salutes?|condemns?|"
    r"deplores?|is worried|are worried|worries|fears|warns?|urges?|appeals?|pleads?)\b",
    re.IGNORECASE,
)
"""A reaction from the sidelines: a subject of a few words, then "welcomes", "warns", "urges"."""


def _proper(headline: str) -> str:
    """The headline after its kicker: where its subject starts."""
    match = _KICKER.match(headline)
    rest = headline[match.end() :] if match else headline
    return rest if len(rest.split()) >= 3 else headline


_LOBBY = re.compile(
    r"\b(?:meets?|met|meeting|lobb(?:y|ies|ying)|press(?:es)?|petitions?|sues?)\s+"
    r"(?:with\s+)?(?:the\s+)?",
    re.IGNORECASE,
)
"""People of the story turning to the parties ("families of hostages meet the prime
minister"): they act on the talks, which makes it a development."""


def _civilian_story(headline: str) -> bool:
    """Civilians are the subject, they do not turn to a party ("... meet the prime minister"),
    and no later clause gives a party's act ("..., Israel promises evacuation")."""
    if not _CIVILIANS.match(headline):
        return False
    for match in _LOBBY.finditer(headline):
        if _PARTY.match(headline, match.end()):
            return False
    return not any(_PARTY.match(clause) for clause in re.split(r"[,;]\s+", headline)[1:])


def _sideline_reaction(headline: str) -> bool:
    """A third party reacts ("Italy welcomes ...", "The EU is worried ..."): the parties and
    the mediators speaking are developments, the rest of the world's reactions background."""
    match = _REACTION.match(headline)
    return match is not None and not _PARTY.search(match.group("who"))


_HUMANITARIAN = frozenset(
    fold(name)
    for name in (
        "MSF",
        "Médecins Sans Frontières",
        "Doctors Without Borders",
        "UNICEF",
        "Human Rights Watch",
        "HRW",
        "Amnesty",
        "Amnesty International",
        "Save the Children",
        "Oxfam",
        "OCHA",
        "ReliefWeb",
        "UN News",
        "UN chief",
        "UN agencies",
        "UN experts",
        "UN rights chief",
        "Guterres",
        "WHO chief",
        "Tedros",
        "Norwegian Refugee Council",
        "Action Against Hunger",
        "ICC prosecutor",
        "UN High Commissioner",
        "Volker Türk",
    )
)
"""Humanitarian and UN bodies whose warnings and statements are background for the talks desk
(the Red Cross is not here: it carries the hostages, which is a development)."""

_WORDS = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def _humanitarian(text: str) -> str:
    """The humanitarian body named in ``text`` (folded), or ""."""
    words = _WORDS.findall(fold(text))
    for size in (4, 3, 2, 1):
        for i in range(len(words) - size + 1):
            name = " ".join(words[i : i + size])
            if name in _HUMANITARIAN:
                return name
    return ""


_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})


def report_tier(title: str, outlet: str = "") -> tuple[Tier, str]:
    """The tier of one report from its headline and outlet, and the reason when background."""
    headline = title.strip().translate(_QUOTES)
    if match := _LABEL.search(headline):
        return Tier.BACKGROUND, f"labelled {match.group(0).strip(' :|-').lower()}"
    if match := _PHRASE.search(headline):
        return Tier.BACKGROUND, f"reads as {match.group(0).strip(' :|-').lower()}"
    if _QUESTION.search(headline):
        return Tier.BACKGROUND, "asks a question"
    if (byline := _BYLINE.search(headline)) and not (
        set(byline.group("name").lower().split()) & _NOT_A_NAME
    ):
        return Tier.BACKGROUND, f"a column by {byline.group('name')}"
    if _FIRST_PERSON.match(headline):
        return Tier.BACKGROUND, "written in the first person"
    if match := _FEATURE_OPENING.search(headline):
        return Tier.BACKGROUND, f"opens like a feature ({match.group(0).strip().lower()})"
    if match := _MOMENT.search(headline):
        return Tier.BACKGROUND, f"a scene ({match.group(0).lower()})"
    if _PUNDIT.search(headline):
        return Tier.BACKGROUND, "a view of commentators"
    if _WATCH_LIVE.search(headline):
        return Tier.BACKGROUND, "a stream or a clip"
    if match := _ROUNDUP.search(headline):
        return Tier.BACKGROUND, f"a roundup ({match.group(0).strip(' :').lower()})"
    if _PEOPLE.search(headline) and _TELLING.search(headline):
        return Tier.BACKGROUND, "a personal story"
    proper = _proper(headline)
    if _civilian_story(proper):
        return Tier.BACKGROUND, "a story of the people living it"
    if _MOUNTING.match(proper):
        return Tier.BACKGROUND, "the mood, not an event"
    if _sideline_reaction(proper):
        return Tier.BACKGROUND, "a reaction from the sidelines"
    body = _humanitarian(headline) or _humanitarian(outlet)
    if body:
        return Tier.BACKGROUND, f"a statement of {body}"
    return Tier.DEVELOPMENT, ""


def tier_of(reports: Iterable[tuple[str, str]]) -> tuple[Tier, str]:
    """The tier of a story from its reports' (headline, outlet): a development as soon as one
    report is; background otherwise, with the first report's reason."""
    reason = ""
    for title, outlet in reports:
        tier, why = report_tier(title, outlet)
        if tier is Tier.DEVELOPMENT:
            return tier, ""
        reason = reason or why
    return Tier.BACKGROUND, reason


def story_tier(story: Story) -> tuple[Tier, str]:
    return tier_of((r.title, r.outlet) for r in story.reports)
