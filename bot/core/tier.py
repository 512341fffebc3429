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
    r"briefing:|diary(?: part)?|podcast|live blog)\b|[-|]\s*opinion\s*$",
    re.IGNORECASE,
)
"""The phrasing of explainers, features and columns, anywhere in the headline."""

_QUESTION = re.compile(r"\?\s*(?:['\"’”]\s*)?(?:$|[-|:])")
"""A headline that asks (an explainer or analysis), not one that quotes a question mid-way."""

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


def report_tier(title: str, outlet: str = "") -> tuple[Tier, str]:
    """The tier of one report from its headline and outlet, and the reason when background."""
    headline = title.strip()
    if match := _LABEL.search(headline):
        return Tier.BACKGROUND, f"labelled {match.group(0).strip(' :|-').lower()}"
    if match := _PHRASE.search(headline):
        return Tier.BACKGROUND, f"reads as {match.group(0).strip(' :|-').lower()}"
    if _QUESTION.search(headline):
        return Tier.BACKGROUND, "asks a question"
    if match := _FEATURE_OPENING.search(headline):
        return Tier.BACKGROUND, f"opens like a feature ({match.group(0).strip().lower()})"
    if _PEOPLE.search(headline) and _TELLING.search(headline):
        return Tier.BACKGROUND, "a personal story"
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
