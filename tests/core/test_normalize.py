"""Normalisation: one clean shape from whatever a feed wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.models import RawItem
from bot.core.normalize import (
    SourceInfo,
    canonical_url,
    clean_title,
    html_to_text,
    normalize_item,
    split_outlet_suffix,
)

NOW = datetime(2024, 5, 5, 12, 0, tzinfo=UTC)


def raw(**kw: object) -> RawItem:
    base: dict[str, object] = {
        "guid": "g-1",
        "title": "Hamas delegation arrives in Cairo",
        "link": "https://example.org/a",
        "summary": "<p>Negotiators landed on Saturday.</p>",
        "published": NOW - timedelta(hours=1),
    }
    base.update(kw)
    return RawItem(**base)  # type: ignore[arg-type]


def test_html_paragraphs_become_separate_sentences() -> None:
    text = html_to_text("<p>First line.</p><p>Second&nbsp;line &amp; more.</p><script>x()</script>")
    assert text == "First line.\nSecond line & more."


def test_double_escaped_html_is_stripped_too() -> None:
    assert html_to_text("&lt;p&gt;Talks resume&lt;/p&gt;") == "Talks resume"


def test_photo_captions_are_dropped() -> None:
    html = "<figure><img src=x><figcaption>Photo: AFP</figcaption></figure><p>Talks resume.</p>"
    assert html_to_text(html) == "Talks resume."


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Example.org/a?utm_source=rss&utm_medium=feed", "https://example.org/a"),
        ("https://example.org/a?id=7&at_medium=RSS#comments", "https://example.org/a?id=7"),
        ("HTTP://example.org:80/a", "http://example.org/a"),
        ("https://example.org", "https://example.org/"),
        ("", ""),
    ],
)
def test_canonical_url_drops_tracking_and_cosmetics(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_wire_revision_prefixes_leave_the_headline() -> None:
    assert clean_title("UPDATE 2-Hamas team leaves Cairo") == "Hamas team leaves Cairo"
    assert clean_title("LIVE: Truce talks resume in Doha") == "Truce talks resume in Doha"


def test_aggregator_outlet_comes_from_source_element_and_suffix_is_stripped() -> None:
    report = normalize_item(
        raw(
            title="Talks resume in Doha - Gulf Courier",
            outlet="Gulf Courier",
            summary="Talks resume in Doha Gulf Courier",
        ),
        SourceInfo("gnews", aggregator=True),
        NOW,
    )
    assert report is not None
    assert report.title == "Talks resume in Doha"
    assert report.outlet == "Gulf Courier"
    assert report.text == "", "aggregator descriptions only repeat headlines"


def test_suffix_without_source_element_on_an_aggregator() -> None:
    assert split_outlet_suffix("Truce holds - Levant Wire", None) == ("Truce holds", "Levant Wire")
    assert split_outlet_suffix("Truce holds", None) == ("Truce holds", None)


def test_key_prefers_guid_then_link_then_a_hash() -> None:
    info = SourceInfo("wire", outlet="Wire")
    assert normalize_item(raw(), info, NOW).key == "g-1"  # type: ignore[union-attr]
    no_guid = normalize_item(raw(guid=None, link="https://example.org/a?utm_source=x"), info, NOW)
    assert no_guid is not None
    assert no_guid.key == "https://example.org/a"
    bare = normalize_item(raw(guid=None, link=None), info, NOW)
    assert bare is not None
    assert bare.key.startswith("sha1:")
    again = normalize_item(raw(guid=None, link=None), info, NOW)
    assert again is not None
    assert again.key == bare.key


@pytest.mark.parametrize(
    "published",
    [None, NOW + timedelta(days=30), datetime(1970, 1, 1, tzinfo=UTC)],
)
def test_missing_future_or_absurd_dates_fall_back_to_first_seen(published: datetime | None) -> None:
    report = normalize_item(raw(published=published), SourceInfo("wire"), NOW)
    assert report is not None
    assert report.published == NOW
    assert not report.dated


def test_item_without_title_takes_its_first_line_and_empty_item_is_dropped() -> None:
    report = normalize_item(
        raw(title=None, summary="<p>Crossing reopens.</p><p>More.</p>"), SourceInfo("wire"), NOW
    )
    assert report is not None
    assert report.title == "Crossing reopens."
    assert normalize_item(raw(title=None, summary=None), SourceInfo("wire"), NOW) is None


def test_outlet_defaults_to_configured_name() -> None:
    report = normalize_item(raw(), SourceInfo("wire-feed", outlet="Levant Wire"), NOW)
    assert report is not None
    assert report.outlet == "Levant Wire"


def test_double_escaped_entities_are_decoded() -> None:
    assert html_to_text("Talks resume &amp;raquo; Doha") == "Talks resume » Doha"
    assert clean_title("AT&amp;amp;T shares fall") == "AT&T shares fall"


def test_link_text_items_are_not_reports() -> None:
    assert normalize_item(raw(title="More &raquo;", summary=None), SourceInfo("wire"), NOW) is None


def test_identify_gives_the_key_and_headline_normalisation_will() -> None:
    """Polls skip held items by identity before cleaning them: the two must always agree."""
    from pathlib import Path

    from bot.core.normalize import identify
    from bot.errors import FeedError
    from bot.ingest.feeds import parse_feed

    folder = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
    checked = 0
    for path in sorted(folder.iterdir()):
        try:
            parsed = parse_feed(path.read_bytes())
        except FeedError:  # the deliberately broken fixtures
            continue
        for aggregator in (False, True):
            info = SourceInfo(path.stem, aggregator=aggregator)
            for item in parsed.items:
                report = normalize_item(item, info, NOW)
                ident = identify(item, info)
                if ident is None:
                    continue
                assert report is not None
                assert (ident.key, ident.title, ident.outlet) == (
                    report.key,
                    report.title,
                    report.outlet,
                )
                checked += 1
    assert checked > 20
