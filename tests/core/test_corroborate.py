"""Corroboration rules as tables: which reports are copies of whose story, and who is independent.

Every headline here is invented; outlets are real names because the wire rules know them.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.corroborate import (
    CREDITS,
    SAME_HEADLINE,
    SAME_PATH,
    corroborate,
    headline_key,
    path_key,
    wire_credit,
    wire_named,
)
from bot.core.models import StoryReport

T0 = datetime(2024, 5, 5, 9, 0, tzinfo=UTC)

TRUCE = "Mediators in Cairo present a new truce plan to both delegations"


def r(
    outlet: str,
    title: str = TRUCE,
    url: str = "",
    credit: str = "",
    *,
    source: str = "",
    key: str = "",
) -> StoryReport:
    """One report, the n-th of its story by the order the test lists them in."""
    slug = outlet.lower().replace(" ", "-")
    return StoryReport(
        key=key or f"{slug}-1",
        source=source or slug,
        outlet=outlet,
        title=title,
        url=url or f"https://{slug}.example/{slug}-story-1",
        published=T0,
        credit=credit,
    )


# --- wire credits, as read when a report arrives -------------------------------------------------

CREDIT_CASES = [
    # (headline, lead, credited wire)
    ("Truce plan lands in Cairo", "JERUSALEM (AP) — Israeli officials said on Sunday…", "AP"),
    ("Truce plan lands in Cairo", "GAZA CITY, Gaza Strip (AP) — Residents queued…", "AP"),
    ("Truce plan lands in Cairo", "(Reuters) - Egypt's intelligence chief met…", "Reuters"),
    ("Truce plan lands in Cairo", "CAIRO (Reuters) -- Talks resumed on Monday…", "Reuters"),
    ("Truce plan lands in Cairo", "RAFAH, Gaza Strip (AFP) – Crowds gathered…", "AFP"),
    ("Truce plan lands in Cairo", "By AFP Talks resumed in Cairo on Monday", "AFP"),
    ("Truce plan lands in Cairo - Reuters", "", "Reuters"),
    ("Truce plan lands in Cairo –Reuters", "", "Reuters"),
    ("Hostage talks resume in Doha -AP", "", "AP"),
    ("Hostage talks resume in Doha (AFP)", "", "AFP"),
    ("Truce plan lands in Cairo", "BERLIN (dpa) - The German foreign minister…", "dpa"),
    # Named in passing, not credited:
    ("Truce plan lands in Cairo", "Egypt proposed a plan, according to a Reuters report.", ""),
    ("Truce plan lands in Cairo", "Footage circulated by AFP showed the crossing.", ""),
    ("Truce plan lands in Cairo", "Officials told The Associated Press (AP) — on Sunday", ""),
    ("AP calculus results delayed by storm", "", ""),
    ("Ex-envoy joins Bloomberg as columnist", "", ""),
    ("Truce plan lands in Cairo", "A DPA order (DPA) was invoked for steel.", ""),
    ("Truce plan lands in Cairo", "", ""),
]


@pytest.mark.parametrize(("title", "lead", "wire"), CREDIT_CASES)
def test_wire_credit(title: str, lead: str, wire: str) -> None:
    assert wire_credit(title, lead) == wire


@pytest.mark.parametrize(
    ("outlet", "wire"),
    [
        ("The Associated Press", "AP"),
        ("AP News", "AP"),
        ("Reuters", "Reuters"),
        ("Agence France-Presse", "AFP"),
        ("Anadolu Agency | English", "Anadolu"),
        ("ABC News", None),
        ("Levant Wire", None),
    ],
)
def test_wire_named(outlet: str, wire: str | None) -> None:
    found = wire_named(outlet)
    assert (found.name if found else None) == wire


# --- what counts as the same headline or the same path ------------------------------------------


def test_headline_key_ignores_case_punctuation_and_accents_but_not_short_headlines() -> None:
    assert headline_key("Mediators in Cairo present a NEW truce plan!") == headline_key(
        "mediators in cairo present a new truce plan"
    )
    assert headline_key("Israel–Hamas war: live updates") is None
    assert headline_key("Veteran Cairo mediator Omar Suleiman dies at 74") is None
    assert headline_key("Veteran Cairo mediator dies aged 74 after long illness") is not None


@pytest.mark.parametrize(
    ("url", "key"),
    [
        (
            "https://a.example/world/2024/05/05/truce-plan-cairo",
            "/world/2024/05/05/truce-plan-cairo",
        ),
        (
            "https://b.example/world/2024/05/05/truce-plan-cairo/",
            "/world/2024/05/05/truce-plan-cairo",
        ),
        ("https://a.example/article?id=2024-0505-77", "/article?id=2024-0505-77"),
        ("https://a.example/world", None),
        ("https://a.example/news/middle-east", None),
        ("https://a.example/international/news", None),
        ("", None),
    ],
)
def test_path_key(url: str, key: str | None) -> None:
    assert path_key(url) == key


# --- the rules over a story's reports -----------------------------------------------------------

PATH = "/world/2024/05/05/egypt-presents-truce-plan-to-delegations"
STORY_CASES = [
    pytest.param(
        [r("Reuters", "Egypt floats a truce plan"), r("BBC", "Cairo offers both sides a plan")],
        ("Reuters", "BBC"),
        [],
        id="two outlets in their own words",
    ),
    pytest.param(
        [r("The Associated Press"), r("ABC News"), r("PBS NewsHour"), r("US News")],
        ("The Associated Press",),
        [
            ("ABC News", "The Associated Press", SAME_HEADLINE),
            ("PBS NewsHour", "The Associated Press", SAME_HEADLINE),
            ("US News", "The Associated Press", SAME_HEADLINE),
        ],
        id="AP copy under three outlets counts once",
    ),
    pytest.param(
        [r("ABC News"), r("The Associated Press"), r("BBC", "Cairo offers both sides a plan")],
        ("The Associated Press", "BBC"),
        [("ABC News", "The Associated Press", SAME_HEADLINE)],
        id="the wire is the origin even when a copy was seen first",
    ),
    pytest.param(
        [r("ABC News"), r("PBS NewsHour")],
        ("ABC News",),
        [("PBS NewsHour", "ABC News", SAME_HEADLINE)],
        id="same headline without a wire: the first outlet is the origin",
    ),
    pytest.param(
        [
            r("ABC News", "Egypt floats plan", credit="AP"),
            r("Fox News", "Cairo truce plan", credit="AP"),
        ],
        ("AP",),
        [("ABC News", "AP", CREDITS), ("Fox News", "AP", CREDITS)],
        id="credits of a wire absent from the story count as the wire, once",
    ),
    pytest.param(
        [r("Reuters", "Egypt floats a truce plan"), r("RT", "Cairo floats plan", credit="Reuters")],
        ("Reuters",),
        [("RT", "Reuters", CREDITS)],
        id="a credit names the wire's outlet when it is in the story",
    ),
    pytest.param(
        [r("Reuters", "Plan floated", credit="AP"), r("AP News", "Plan is floated")],
        ("AP News",),
        [("Reuters", "AP News", CREDITS)],
        id="one wire crediting another is a copy",
    ),
    pytest.param(
        [r("Reuters", "Egypt floats a truce plan", credit="Reuters")],
        ("Reuters",),
        [],
        id="a wire's own dateline is not a copy",
    ),
    pytest.param(
        [
            r("Reuters", "Egypt floats a truce plan", f"https://www.reuters.com{PATH}"),
            r(
                "Yahoo",
                "Egypt floats truce plan for both sides",
                f"https://news.yahoo.example{PATH}",
            ),
        ],
        ("Reuters",),
        [("Yahoo", "Reuters", SAME_PATH)],
        id="same URL path on two hosts",
    ),
    pytest.param(
        [
            r("Reuters", "Egypt floats a truce plan", "https://www.reuters.com/world"),
            r("Yahoo", "Egypt floats truce plan for both", "https://news.yahoo.example/world"),
        ],
        ("Reuters", "Yahoo"),
        [],
        id="a section path proves nothing",
    ),
    pytest.param(
        [
            r("Al Jazeera", "Israel-Hamas war: live updates"),
            r("CNN", "Israel-Hamas war: live updates"),
        ],
        ("Al Jazeera", "CNN"),
        [],
        id="short generic headlines are not copies",
    ),
    pytest.param(
        [r("BBC", source="bbc-world", key="k1"), r("BBC", source="bbc-top", key="k1")],
        ("BBC",),
        [],
        id="one outlet through two feeds is one outlet, not a copy",
    ),
    pytest.param(
        [
            r("ABC News", credit="AP"),
            r(
                "ABC News",
                "ABC's own reporter in Rafah speaks to families",
                "https://abc.example/r-2",
            ),
        ],
        ("AP", "ABC News"),
        [("ABC News", "AP", CREDITS)],
        id="an outlet with a report of its own is independent even if it also ran a copy",
    ),
]


@pytest.mark.parametrize(("reports", "independent", "copies"), STORY_CASES)
def test_corroborate(
    reports: list[StoryReport],
    independent: tuple[str, ...],
    copies: list[tuple[str, str, str]],
) -> None:
    found = corroborate(reports)
    assert found.independent == independent
    assert [(c.outlet, c.copy_of, c.reason) for c in found.copies] == copies


def test_copy_of_names_each_report_by_source_and_key() -> None:
    ap, abc = r("AP News", key="same-guid"), r("ABC News", key="same-guid")
    found = corroborate([ap, abc])
    assert found.copy_of(ap) == ""
    assert found.copy_of(abc) == "AP News"


def test_independent_outlets_are_listed_in_order_of_reporting() -> None:
    reports = [
        r("ABC News", "Plan floated", credit="AP"),
        r("BBC", "Cairo offers both sides a plan"),
        r("Reuters", "Egypt floats a truce plan"),
        r("Fox News", "Plan floated in Cairo", credit="AP"),
    ]
    assert corroborate(reports).independent == ("AP", "BBC", "Reuters")
