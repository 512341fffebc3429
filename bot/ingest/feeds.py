"""Feed documents (bytes) read into ``RawItem``s: the one entry point, ``parse_feed``.

It sniffs the content and dispatches: JSON Feed to ``json_feed``; XML is decoded to UTF-8
(``encoding``), parsed by lxml and read by ``xml_feeds`` (RSS 0.9x/2.0, RSS 1.0 (RDF), Atom 1.0
and 0.3); documents lxml cannot read (malformed XML), even after the entity repairs, go to
feedparser's lenient parser (``recovery``), and the parse says so in ``warnings``. Whatever the
path, every string of the result passes ``sanitize`` here.

Safety: the XML parser never loads DTDs, never touches the network, never resolves external
entities and never expands internal ones recursively (an entity reference is replaced by a known
HTML character, or by a declared entity's literal text when that text holds no further
references, else dropped), so "billion laughs" and ``file:///etc/passwd`` entities stay inert.
"""

from __future__ import annotations

import codecs
import re

from lxml import etree

from bot.core.models import ParsedFeed, RawItem
from bot.core.text import FIELD_LIMITS, sanitize
from bot.errors import FeedError
from bot.ingest.encoding import (
    content_type_charset,
    drop_invalid_char_refs,
    named_entities_to_numeric,
    to_utf8,
)
from bot.ingest.fields import one_line
from bot.ingest.json_feed import parse_json_feed
from bot.ingest.recovery import recover
from bot.ingest.xml_feeds import read_tree

__all__ = ["parse_feed"]

_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!doctype\s+html[^>]*>\s*)?(?:<!--.*?-->\s*)*"
    rb"<(?:html|head|body)[\s>]",
    re.IGNORECASE | re.DOTALL,
)


def parse_feed(body: bytes, *, url: str = "", content_type: str | None = None) -> ParsedFeed:
    """Read a feed document; raise ``FeedError`` (one line) when it is not a readable feed.

    Every string of the result has passed ``sanitize`` (the one boundary feed text crosses):
    whatever the parser let through, nothing downstream sees a NUL, a lone surrogate, a bidi
    override or a field longer than ``FIELD_LIMITS`` allows."""
    blank = b" \t\r\n\x00\xef\xbb\xbf\xfe\xff"
    if not body or (not body[:256].strip(blank) and not body.strip(blank)):
        raise FeedError("not a feed: empty body")
    try:
        return _sanitized(_parse(body, url, content_type))
    except FeedError:
        raise
    except RecursionError:
        raise FeedError("unreadable feed: the document nests too deeply") from None
    except Exception as error:  # last line of defence: a hostile document must never crash a poll
        raise FeedError(
            f"unreadable feed: {type(error).__name__}: {one_line(str(error))}"
        ) from None


_GUID, _TITLE, _LINK = FIELD_LIMITS["guid"], FIELD_LIMITS["title"], FIELD_LIMITS["link"]
_SUMMARY, _OUTLET, _AUTHOR = FIELD_LIMITS["summary"], FIELD_LIMITS["outlet"], FIELD_LIMITS["author"]


def _sanitized(feed: ParsedFeed) -> ParsedFeed:
    def clean(item: RawItem) -> RawItem:
        guid = sanitize(item.guid, _GUID)
        title = sanitize(item.title, _TITLE)
        link = sanitize(item.link, _LINK)
        summary = sanitize(item.summary, _SUMMARY)
        outlet = sanitize(item.outlet, _OUTLET)
        author = sanitize(item.author, _AUTHOR)
        if (
            guid is item.guid
            and title is item.title
            and link is item.link
            and summary is item.summary
            and outlet is item.outlet
            and author is item.author
        ):
            return item  # nearly every item: sanitize hands back a clean string itself
        return RawItem(
            guid=guid,
            title=title,
            link=link,
            summary=summary,
            published=item.published,
            outlet=outlet,
            author=author,
        )

    title = sanitize(feed.title, _TITLE)
    link = sanitize(feed.link, _LINK)
    items = tuple([clean(item) for item in feed.items])
    if title is feed.title and link is feed.link and items == feed.items:
        return feed
    return ParsedFeed(
        format=feed.format, title=title, link=link, items=items, warnings=feed.warnings
    )


def _parse(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    stripped = body[:4096].lstrip()
    if stripped[:3] == codecs.BOM_UTF8:
        stripped = stripped[3:].lstrip()
    if stripped[:1] in (b"{", b"["):
        return parse_json_feed(body[3:] if body[:3] == codecs.BOM_UTF8 else body, url)
    if stripped[:1] not in (b"<", b"\x00", b"\xfe", b"\xff"):
        raise FeedError(
            "not a feed: the server sent text that is neither XML nor JSON (check the source url)"
        )
    if _HTML_START.match(stripped):
        raise FeedError("not a feed: the server sent an HTML page (check the source url)")
    http_charset = content_type_charset(content_type)
    data, encoding_warnings = to_utf8(body, http_charset)
    if data[:1].isspace():  # whitespace before the XML declaration is a common server slip
        data = data.lstrip()
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        encoding="utf-8",
    )
    try:
        root = etree.fromstring(data, parser, base_url=url or None)
    except etree.XMLSyntaxError as error:
        # Two slips of otherwise sound feeds, repaired before the lenient parser is tried: HTML
        # named entities (&nbsp; &eacute;) used without a DTD become character references, and
        # references to what XML cannot hold (&#0;, &#xD800;) are dropped.
        repaired = named_entities_to_numeric(data) if "not defined" in str(error) else data
        repaired = drop_invalid_char_refs(repaired)
        if repaired == data:
            return recover(body, url, content_type, _xml_error(error))
        try:
            root = etree.fromstring(repaired, parser, base_url=url or None)
        except etree.XMLSyntaxError:
            return recover(body, url, content_type, _xml_error(error))
    if root is None:
        raise FeedError("not a feed: empty body")
    feed = read_tree(root, url)
    if encoding_warnings:
        feed = ParsedFeed(
            format=feed.format,
            title=feed.title,
            link=feed.link,
            items=feed.items,
            warnings=encoding_warnings + feed.warnings,
        )
    return feed


def _xml_error(error: etree.XMLSyntaxError) -> str:
    line = error.lineno or (error.position[0] if error.position else 0)
    message = error.msg or str(error)
    message = re.sub(r",\s*line \d+, column \d+.*$", "", message)
    return f"XML error at line {line}: {one_line(message)}"
