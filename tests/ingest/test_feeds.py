"""Reading feed documents into raw items: formats, encodings, recovery and hostile input."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.models import ParsedFeed, RawItem
from bot.errors import FeedError
from bot.ingest.feeds import parse_feed

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"


def read(name: str, **kwargs: str | None) -> ParsedFeed:
    return parse_feed((FEEDS / name).read_bytes(), **kwargs)  # type: ignore[arg-type]


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def by_guid(feed: ParsedFeed, guid: str) -> RawItem:
    return next(item for item in feed.items if item.guid == guid)


# --- formats -------------------------------------------------------------------------------------


def test_rss2_item_takes_the_richer_content_encoded_as_lead_and_keeps_html() -> None:
    feed = read("rss2_content_encoded.xml")
    item = feed.items[0]
    assert feed.format == "rss"
    assert feed.title == "Harbour Ledger – Middle East"
    assert item.title == "Mediators press for Cairo round as hostage families wait"
    assert item.summary is not None
    assert item.summary.startswith("<p>Egyptian and Qatari officials want a new round of talks in")
    assert "ministry &amp; urged" in item.summary  # CDATA kept verbatim, HTML left for normalising
    assert item.author == "Nadia Farouk"
    assert item.published == utc(2024, 5, 2, 6, 15)
    assert item.guid == "ledger-88412"


def test_rss2_entities_in_titles_are_decoded_like_the_xml_parser_does() -> None:
    item = read("rss2_content_encoded.xml").items[1]
    assert item.title == "Truce proposal “under review”, Hamas official says"
    assert item.published == utc(2024, 5, 2, 7, 40)  # RFC 822 without seconds
    assert item.author == "desk@ledger.example.org (Omar Haddad)"


def test_named_us_zone_in_pubdate_is_converted_to_utc() -> None:
    item = read("rss2_content_encoded.xml").items[2]
    assert item.published == utc(2024, 5, 1, 23, 2, 11)


def test_item_without_link_or_date_is_kept_with_none() -> None:
    item = read("rss2_content_encoded.xml").items[3]
    assert item.title == "Live: Rafah crossing updates"
    assert item.link is None
    assert item.published is None
    assert item.guid == "ledger-live-rafah"


def test_duplicate_guids_stay_separate_items_for_dedup_to_judge() -> None:
    feed = read("rss2_content_encoded.xml")
    same = [item for item in feed.items if item.guid == "ledger-88412"]
    assert len(feed.items) == 5
    assert [item.published for item in same] == [utc(2024, 5, 2, 6, 15), utc(2024, 5, 2, 8, 30)]


def test_rdf_feed_reads_dc_date_and_creator() -> None:
    feed = read("rdf_dc_date.rdf")
    assert feed.format == "rdf"
    assert feed.title == "Example Wire: World"
    first, second = feed.items
    assert first.title == "Qatari envoy shuttles between Doha and Cairo on hostage deal"
    assert first.link == "https://wire.example.net/a/qatar-envoy-doha-talks"
    assert first.guid == "https://wire.example.net/a/qatar-envoy-doha-talks"
    assert first.published == utc(2024, 5, 7, 11, 20)
    assert first.author == "Wire staff"
    assert second.published == utc(2024, 5, 7, 8, 5)


def test_atom_prefers_the_alternate_link_resolved_against_xml_base() -> None:
    feed = read("atom_xml_base.atom", url="https://courier.example.com/news/feed.atom")
    assert feed.format == "atom"
    assert feed.link == "https://courier.example.com/news/"
    entry, sport = feed.items
    assert entry.link == "https://courier.example.com/news/2024/05/06/delegation-cairo"
    assert sport.link == "https://courier.example.com/sport/derby-report"


def test_atom_entry_uses_published_before_updated_and_keeps_xhtml_markup() -> None:
    entry, sport = read("atom_xml_base.atom").items
    assert entry.title == "Israeli delegation to return to Cairo <em>within days</em>"
    assert entry.published == utc(2024, 5, 6, 16, 45)
    assert entry.author == "Leah Brenner"
    assert entry.summary is not None
    assert "<b>Cairo</b>" in entry.summary
    assert entry.guid == "tag:courier.example.com,2024:news/5512"
    assert sport.published == utc(2024, 5, 6, 21, 30)  # only <updated>
    assert sport.author == "Courier newsroom"  # the feed's author applies to its entries


def test_json_feed_maps_items_and_resolves_relative_urls() -> None:
    feed = read("jsonfeed.json")
    assert feed.format == "json"
    assert feed.title == "Gulf Dispatch"
    talks, heat = feed.items
    assert talks.title == "Negotiators resume indirect talks on a phased cease-fire"
    assert talks.summary is not None
    assert talks.summary.startswith("<p>Indirect talks")
    assert talks.published == utc(2024, 5, 9, 7, 0)
    assert talks.author == "Samir Aziz"
    assert heat.guid == "20240509"
    assert heat.link == "https://dispatch.example.org/2024/05/09/heatwave"
    assert heat.published == utc(2024, 5, 9, 6, 30)


def test_google_news_source_element_names_the_real_outlet() -> None:
    feed = read("google_news.xml")
    assert [item.outlet for item in feed.items] == ["Northern Post", "The Daily Meridian"]
    first = feed.items[0]
    assert first.title == "Hostage talks stall over sequencing of releases - Northern Post"
    assert first.link is not None
    assert first.link.startswith("https://news.google.com/rss/articles/")
    assert first.published == utc(2024, 5, 10, 6, 12)


# --- encodings -----------------------------------------------------------------------------------


def test_iso_8859_1_feed_is_read_by_its_declaration() -> None:
    item = read("latin1.xml").items[0]
    assert item.title == "Négociations au Caire : les médiateurs espèrent une trêve élargie"
    assert item.summary == "Les délégations égyptienne et qatarie se réunissent à nouveau."


def test_feed_with_utf8_bom_parses() -> None:
    feed = read("bom_utf8.xml")
    assert feed.items[0].title == "Rafah crossing reopens for aid trucks – officials"
    assert feed.items[0].published == utc(2024, 5, 14, 10, 0)


def test_http_charset_is_honoured_when_the_document_is_silent() -> None:
    body = "<rss><channel><item><title>Trêve à Gaza</title></item></channel></rss>".encode("cp1252")
    feed = parse_feed(body, content_type="text/xml; charset=windows-1252")
    assert feed.items[0].title == "Trêve à Gaza"


def test_conflicting_charsets_do_not_crash_and_valid_utf8_wins() -> None:
    body = (
        '<?xml version="1.0" encoding="iso-8859-1"?>'
        "<rss><channel><item><title>Trêve à Gaza</title></item></channel></rss>"
    ).encode()
    feed = parse_feed(body, content_type="application/rss+xml; charset=utf-8")
    assert feed.items[0].title == "Trêve à Gaza"


def test_utf16_feed_with_bom_parses() -> None:
    text = (
        '<?xml version="1.0" encoding="utf-16"?>'
        "<rss><channel><item><title>Doha</title></item></channel></rss>"
    )
    feed = parse_feed(text.encode("utf-16"))
    assert feed.items[0].title == "Doha"


def test_stray_windows_1252_bytes_in_a_utf8_feed_are_repaired_with_a_warning() -> None:
    body = "<rss><channel><item><title>Talks “resume” – café</title></item></channel></rss>"
    raw = body.encode("utf-8").replace("“".encode(), b"\x93").replace("”".encode(), b"\x94")
    feed = parse_feed(raw)
    assert feed.items[0].title == "Talks “resume” – café"
    assert any("windows-1252" in warning for warning in feed.warnings)


# --- recovery and refusal ------------------------------------------------------------------------


def test_unescaped_ampersand_is_recovered_by_the_lenient_parser() -> None:
    feed = read("malformed_ampersand.xml")
    assert feed.items[0].title == "Hostages & families: what the draft deal says"
    assert feed.items[0].published == utc(2024, 5, 11, 12, 0)
    assert any("lenient parser" in warning and "line" in warning for warning in feed.warnings)


def test_truncated_feed_keeps_what_was_readable_with_a_warning() -> None:
    body = (FEEDS / "rss2_content_encoded.xml").read_bytes()
    cut = body[: body.index(b"Spring storms")]
    feed = parse_feed(cut)
    assert [item.guid for item in feed.items][:2] == [
        "ledger-88412",
        "https://ledger.example.org/2024/05/02/truce-proposal-under-review",
    ]
    assert feed.warnings
    assert "lenient parser" in feed.warnings[0]


def test_undeclared_html_entities_are_read_without_the_lenient_parser() -> None:
    body = b"<rss><channel><item><title>Caf&eacute;&nbsp;talks &amp; more</title></item></channel>"
    body += b"</rss>"
    feed = parse_feed(body)
    assert feed.items[0].title == "Café\xa0talks & more"
    assert feed.warnings == ()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ((FEEDS / "not_a_feed.html").read_bytes(), "not a feed: the server sent an HTML page"),
        (b"", "not a feed: empty body"),
        (b"  \n\t ", "not a feed: empty body"),
        (b'{"version": "1", "entries": []}', "not a feed: JSON without a JSON Feed 'items' list"),
        (b"<catalog><book/></catalog>", "not a feed: XML document with root <catalog>"),
        (b'<?xml version="1.0"?>\n<a><b></a>', "unreadable feed: XML error at line 2"),
        (b"Service Unavailable", "not a feed: the server sent text that is neither XML nor JSON"),
    ],
    ids=["html-page", "empty", "whitespace", "json-not-feed", "other-xml", "broken-xml", "text"],
)
def test_documents_that_are_not_feeds_raise_one_line_feed_errors(body: bytes, message: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse_feed(body)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_billion_laughs_entities_are_never_expanded() -> None:
    body = (FEEDS / "billion_laughs.xml").read_bytes()
    try:
        feed = parse_feed(body)
    except FeedError:
        return
    title = feed.items[0].title or ""
    assert "lollol" not in title
    assert title.startswith("Expanding")
    assert len(title) < 40


def test_external_entities_are_never_resolved() -> None:
    body = (FEEDS / "external_entity.xml").read_bytes()
    try:
        feed = parse_feed(body)
    except FeedError:
        return
    text = " ".join(f"{item.title} {item.summary}" for item in feed.items)
    assert "root:" not in text
    assert feed.items[0].title == "Before  after"
    assert feed.items[0].summary is None


def test_feed_body_that_looks_like_a_file_path_is_not_opened() -> None:
    # feedparser opens a str/bytes argument as a file name if it can; the fallback must not.
    with pytest.raises(FeedError):
        parse_feed(b"/etc/passwd")


def test_random_bytes_and_truncations_never_crash() -> None:
    rng = random.Random(20240502)
    sources = [p.read_bytes() for p in sorted(FEEDS.iterdir())]
    samples: list[bytes] = []
    for source in sources:
        for _ in range(6):
            samples.append(source[: rng.randrange(len(source) + 1)])
        mutated = bytearray(source)
        for _ in range(12):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        samples.append(bytes(mutated))
    samples += [rng.randbytes(rng.randrange(1, 400)) for _ in range(40)]
    errors: list[str] = []
    for sample in samples:
        try:
            feed = parse_feed(sample, content_type=rng.choice([None, "text/xml; charset=latin-1"]))
        except FeedError as error:
            errors.append(str(error))
        else:
            assert isinstance(feed, ParsedFeed)
    assert errors  # the sample set does contain unreadable documents
    assert all(message and "\n" not in message for message in errors)


def test_lenient_fallback_does_not_resolve_external_entities_either() -> None:
    body = (FEEDS / "external_entity.xml").read_bytes().replace(b"Leaky", b"Leaky & broken")
    feed = parse_feed(body)
    assert any("lenient parser" in warning for warning in feed.warnings)
    text = " ".join(f"{item.title} {item.summary}" for item in feed.items)
    assert "root:" not in text
    assert feed.items[0].link == "https://leak.example/1"
