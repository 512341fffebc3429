"""feedparser on its own: the baseline reader the benchmarks race (``parse_with_feedparser``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.core.models import ParsedFeed, RawItem
from bot.ingest.recovery import parse_with_feedparser

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel>
    <title>Nile Courier</title>
    <link>https://courier.example.org/</link>
    <item>
      <title>Talks resume in Cairo</title>
      <link>https://courier.example.org/talks-resume</link>
      <guid isPermaLink="false">  courier-101  </guid>
      <description>Short lead.</description>
      <content:encoded><![CDATA[<p>Mediators met for a second day in Cairo.</p>]]></content:encoded>
      <pubDate>Thu, 02 May 2024 06:15:00 GMT</pubDate>
      <dc:creator>Nadia Farouk</dc:creator>
      <source url="https://wire.example.org/rss">Levant Wire</source>
    </item>
    <item>
      <title>Envoy expected on Sunday</title>
      <link>https://courier.example.org/envoy</link>
      <description>The envoy is expected to arrive on Sunday.</description>
      <pubDate>Thu, 02 May 2024 09:40:00 +0200</pubDate>
    </item>
  </channel>
</rss>
"""


def test_parse_with_feedparser_reads_feed_and_maps_every_entry() -> None:
    feed = parse_with_feedparser(RSS)
    assert feed == ParsedFeed(
        "rss",
        "Nile Courier",
        "https://courier.example.org/",
        (
            RawItem(
                guid="courier-101",
                title="Talks resume in Cairo",
                link="https://courier.example.org/talks-resume",
                summary="<p>Mediators met for a second day in Cairo.</p>",
                published=datetime(2024, 5, 2, 6, 15, tzinfo=UTC),
                outlet="Levant Wire",
                author="Nadia Farouk",
            ),
            RawItem(
                guid=None,
                title="Envoy expected on Sunday",
                link="https://courier.example.org/envoy",
                summary="The envoy is expected to arrive on Sunday.",
                published=datetime(2024, 5, 2, 7, 40, tzinfo=UTC),
            ),
        ),
    )
    assert feed.warnings == ()


def test_parse_with_feedparser_reports_rss_whatever_the_format() -> None:
    atom = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>Harbour Ledger</title>'
        b'<link href="https://ledger.example.org/"/><entry><id>urn:ledger:1</id>'
        b"<title>Ceasefire holds</title><updated>2024-05-02T06:15:00Z</updated></entry></feed>"
    )
    feed = parse_with_feedparser(atom)
    assert feed.format == "rss"
    assert feed.title == "Harbour Ledger"
    assert [(item.guid, item.title) for item in feed.items] == [("urn:ledger:1", "Ceasefire holds")]


def test_parse_with_feedparser_never_opens_the_body_as_a_file_name(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(RSS)
    feed = parse_with_feedparser(str(path).encode())
    assert feed.items == ()
    assert feed.title is None
