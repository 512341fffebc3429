"""Corroboration: which outlets of a story reported it on their own, and which re-published a copy.

A development carried by ten outlets may still rest on one wire story: ABC News, PBS and US News
run the AP's copy word for word, Yahoo mirrors Reuters under its own host. An editor wants to know
how many *independent* outlets stand behind an alert, so copies of one story count once.

The rules, in the order they are tried for each report (the first that applies decides):

1. **credits a wire** (``StoryReport.credit``, found when the report arrived by ``wire_credit``):
   a lead opening "JERUSALEM (AP) —" or "(Reuters) -", a headline ending "- Reuters" or "(AFP)", a
   lead opening "By AFP". A report crediting a wire is a copy of that wire, unless it *is* that
   wire's own report. The wire counts as the source even when it is not among the story's outlets.
2. **same headline**: the same headline text (``fold``ed; aggregators' " - Publisher" suffix is
   gone by then, see ``bot.core.normalize``) under another outlet, when the headline is long enough
   (``SAME_HEADLINE_WORDS``) that two newsrooms writing it alike would be a coincidence, and not a
   formula every desk writes alike ("… dies at 76").
3. **same URL path**: the same path (and query) of the article's URL under another host, when the
   path is specific enough (``URL_PATH_CHARS``, not a bare "/" or "/news").

Within a group of reports sharing a headline or a path, the origin is the wire when one of the
group is a wire's own report or credits one; otherwise the outlet that reported it first.

Only outlets are counted: an outlet that has at least one report of its own is independent, even
if it also ran a copy. Nothing here changes what the desk decides: scores still count outlets
(``bot.core.score``); corroboration only says how well the alert is confirmed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

from bot.core.models import StoryReport
from bot.core.text import fold

SAME_HEADLINE_WORDS = 6
"""Headlines with fewer words ("Israel-Hamas war: live updates") are too generic to prove a copy."""

URL_PATH_CHARS = 16
"""Paths shorter than this ("/world", "/news/123") are too short to name one story; so are paths
without a digit whose last part has fewer than four words ("/news/middle-east", a section)."""


@dataclass(frozen=True, slots=True)
class Wire:
    """A news agency whose copy other outlets publish."""

    name: str
    """How the agency is named in a reason line when it is not one of the story's outlets."""
    credits: tuple[str, ...]
    """How a credit names it, case as written ("AP", "Associated Press")."""
    outlets: tuple[str, ...]
    """Outlet names under which the agency publishes its own reports (folded when compared)."""


WIRES: tuple[Wire, ...] = (
    Wire(
        "AP",
        ("AP", "Associated Press", "The Associated Press"),
        ("AP", "AP News", "Associated Press", "The Associated Press", "apnews.com"),
    ),
    Wire("Reuters", ("Reuters",), ("Reuters", "Reuters.com", "reuters.com", "Thomson Reuters")),
    Wire(
        "AFP",
        ("AFP", "Agence France-Presse"),
        ("AFP", "Agence France-Presse", "Agence France Presse", "afp.com"),
    ),
    Wire("dpa", ("dpa", "DPA"), ("dpa", "dpa international")),
    Wire("Xinhua", ("Xinhua",), ("Xinhua", "Xinhua News Agency", "xinhuanet.com")),
    Wire(
        "Anadolu",
        ("Anadolu", "Anadolu Agency", "AA"),
        ("Anadolu Agency", "Anadolu Agency | English", "aa.com.tr"),
    ),
    Wire("Bloomberg", ("Bloomberg",), ("Bloomberg", "Bloomberg.com", "bloomberg.com")),
)

_BY_CREDIT = {credit: wire for wire in WIRES for credit in wire.credits}
_CREDIT = "|".join(
    re.escape(c) for c in sorted(_BY_CREDIT, key=len, reverse=True) if c not in {"AA", "DPA"}
)
_DASH = r"(?:--|[-–—:])"

_PLACE = r"[A-Z][A-Z'’.-]+(?:\s+[A-Z][A-Z'’.-]+)*(?:,\s*[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*)?"
"""A dateline's place: capitals ("GAZA CITY"), maybe with its region ("KYIV, Ukraine")."""
_DATELINE = re.compile(rf"^(?:{_PLACE}\s*)?\((?P<wire>{_CREDIT}|AA|DPA)\)\s*{_DASH}")
"""A lead opening with a dateline credit: "GAZA CITY, Gaza Strip (AP) —", "(Reuters) -"."""
_BYLINE = re.compile(rf"^(?:By\s+(?P<by>{_CREDIT})\b|(?P<wire>{_CREDIT})\s*[|:–—-]\s)")
"""A lead opening with the agency as byline: "By AFP", "AFP | ...", "Reuters - ..."."""
_TITLE_SUFFIX = re.compile(rf"(?:\s[-–—|]\s*|\s?\()(?P<wire>{_CREDIT})\)?\s*$")
"""A headline ending with the agency: "... - Reuters", "... -AP", "... (AFP)"."""


def wire_credit(title: str, text: str) -> str:
    """The wire agency a report credits in its headline or the opening of its lead, "" if none.

    Only credits in the places copy desks put them count; an agency named in passing ("according
    to a Reuters report", "footage circulated by AFP") is a source quoted, not a copy."""
    lead = text.lstrip()[:200]
    for pattern, where in ((_DATELINE, lead), (_BYLINE, lead), (_TITLE_SUFFIX, title.rstrip())):
        found = pattern.search(where)
        if found:
            credit = found.group("wire") or found.groupdict().get("by") or ""
            wire = _BY_CREDIT.get(credit)
            if wire is not None:
                return wire.name
    return ""


@dataclass(frozen=True, slots=True)
class Copy:
    """One report counted as a copy of another outlet's story."""

    source: str
    key: str
    """The copying report's ``StoryReport.source`` and ``key`` (a key is unique per source)."""
    outlet: str
    copy_of: str
    """The outlet (or wire) whose story it copies."""
    reason: str
    """Which rule found it: ``CREDITS``, ``SAME_HEADLINE`` or ``SAME_PATH``."""


CREDITS = "credits"
SAME_HEADLINE = "same-headline"
SAME_PATH = "same-path"
"""Reason codes of a ``Copy`` (``bot.core.messages.copied`` words them)."""


@dataclass(frozen=True, slots=True)
class Corroboration:
    """How many outlets stand behind a story on their own."""

    independent: tuple[str, ...]
    """Outlets (or wires) whose own reporting the story carries, in order of reporting."""
    copies: tuple[Copy, ...] = ()
    _by_report: Mapping[tuple[str, str], Copy] = field(
        default_factory=dict, repr=False, compare=False
    )

    def copy_of(self, report: StoryReport) -> str:
        """The outlet ``report`` copies, "" when it is the outlet's own report."""
        found = self._by_report.get((report.source, report.key))
        if found is None and not self._by_report:
            found = next((c for c in self.copies if (c.source, c.key) == _id(report)), None)
        return found.copy_of if found is not None else ""


def _id(report: StoryReport) -> tuple[str, str]:
    return report.source, report.key


def wire_named(outlet: str) -> Wire | None:
    """The wire agency an outlet name is, if it is one ("AP News", "Reuters")."""
    return _WIRE_OUTLETS.get(_plain_outlet(outlet))


def _plain_outlet(outlet: str) -> str:
    return fold(outlet).removeprefix("the ").strip()


_WIRE_OUTLETS = {_plain_outlet(o): w for w in WIRES for o in (w.name, *w.outlets)}


_FORMULA = re.compile(r"\b(?:dies|died|dead|death)\b(?: aged?)? (?:at )?\d+$")
"""Headlines every newsroom writes alike ("Actress Suzanne Somers dies at 76"): the same words
there prove nothing (read off the Oct-Nov 2023 stream, where they were the false copies)."""


@lru_cache(maxsize=1 << 16)
def headline_key(title: str) -> str | None:
    """The form two copies of one headline share, or None when it is too short to tell, or a
    formula every newsroom writes alike."""
    folded = " ".join(re.findall(r"[a-z0-9]+", fold(title)))
    if len(folded.split()) < SAME_HEADLINE_WORDS or _FORMULA.search(folded):
        return None
    return folded


_SLUG = re.compile(r"[-_]+")


@lru_cache(maxsize=1 << 16)
def path_key(url: str) -> str | None:
    """The path (with query) two hosts of one article share, or None when it is too generic to
    name one article."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    path = parts.path.rstrip("/")
    if parts.query:
        path = f"{path}?{parts.query}"
    last = path.rsplit("/", 1)[-1]
    if len(path) < URL_PATH_CHARS or not (re.search(r"\d", path) or len(_SLUG.split(last)) >= 4):
        return None  # neither an id nor a headline slug: a section page
    return path


def corroborate(reports: Sequence[StoryReport]) -> Corroboration:
    """Which of a story's ``reports`` (in order of reporting) are copies, and of whom."""
    present = {w.name: r.outlet for r in reports if (w := wire_named(r.outlet)) is not None}

    def speaks_for(report: StoryReport) -> str:
        """Whose story a report carries: the wire it credits, else its own outlet's."""
        own = wire_named(report.outlet)
        if report.credit and (own is None or own.name != report.credit):
            return present.get(report.credit, report.credit)
        return report.outlet

    # The origin of each group of reports sharing a headline or a URL path.
    origins: dict[tuple[str, str], str] = {}
    for report in reports:
        for group in _groups(report):
            held = origins.get(group)
            origin = speaks_for(report)
            if held is None or (wire_named(origin) is not None and wire_named(held) is None):
                origins[group] = origin

    copies: list[Copy] = []
    independent: dict[str, None] = {}
    for report in reports:
        copy = _copy(report, speaks_for(report), origins)
        if copy is None:
            independent.setdefault(report.outlet, None)
            continue
        copies.append(copy)
        # Counted once: a wire absent from the story, or an outlet here only through copies.
        independent.setdefault(copy.copy_of, None)
    by_report = {(c.source, c.key): c for c in copies}
    return Corroboration(tuple(independent), tuple(copies), by_report)


def _groups(report: StoryReport) -> list[tuple[str, str]]:
    found = [(SAME_HEADLINE, headline_key(report.title)), (SAME_PATH, path_key(report.url))]
    return [(reason, key) for reason, key in found if key is not None]


def _copy(report: StoryReport, speaks_for: str, origins: dict[tuple[str, str], str]) -> Copy | None:
    if speaks_for != report.outlet:
        return Copy(report.source, report.key, report.outlet, speaks_for, CREDITS)
    for group in _groups(report):
        origin = origins[group]
        if origin != report.outlet:
            return Copy(report.source, report.key, report.outlet, origin, group[0])
    return None
