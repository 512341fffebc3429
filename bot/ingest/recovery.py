"""Documents lxml rejected (malformed XML), read with feedparser's lenient parser.

``recover`` is the fallback ``parse_feed`` takes; ``from_feedparser`` maps one feedparser entry to
a ``RawItem``, and ``parse_with_feedparser`` reads a whole document with feedparser alone (the
baseline pipeline of the benchmarks). It is separate because feedparser is slow to import and to
run: only malformed documents and benchmarks pay for it.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from bot.core.models import ParsedFeed, RawItem
from bot.errors import FeedError
from bot.ingest.dates import parse_date
from bot.ingest.fields import clean, richer

__all__ = ["from_feedparser", "parse_with_feedparser", "recover"]

_FEEDPARSER_FORMATS: tuple[tuple[str, str], ...] = (
    ("rss090", "rdf"),
    ("rss10", "rdf"),
    ("rss", "rss"),
    ("atom", "atom"),
    ("json", "json"),
    ("cdf", "rss"),
)


def recover(body: bytes, url: str, content_type: str | None, xml_error: str) -> ParsedFeed:
    """Read a document lxml rejected with feedparser's lenient parser.

    feedparser is handed a stream (a bytes or str argument may be taken for a file name or a URL
    and opened), it drops DOCTYPE entity declarations other than character references, and its
    strict SAX pass disables external entities.
    """
    import feedparser  # deferred: only malformed documents pay its import

    headers = {"content-type": content_type or "application/xml"}
    if url:
        headers["content-location"] = url
    result = feedparser.parse(
        io.BytesIO(body),
        response_headers=headers,
        sanitize_html=False,
        resolve_relative_uris=True,
    )
    version = result.get("version") or ""
    entries = result.get("entries") or []
    if not version and not entries:
        head = body[:4096].lower()
        if b"<html" in head or b"<!doctype html" in head:
            raise FeedError("not a feed: the server sent an HTML page (check the source url)")
        raise FeedError(f"unreadable feed: {xml_error}")
    fmt = next((name for prefix, name in _FEEDPARSER_FORMATS if version.startswith(prefix)), "rss")
    feed = result.get("feed") or {}
    items = tuple(from_feedparser(entry) for entry in entries)
    return ParsedFeed(
        format=fmt,
        title=clean(feed.get("title")),
        link=clean(feed.get("link")),
        items=items,
        warnings=(f"malformed feed read by the lenient parser ({xml_error})",),
    )


def parse_with_feedparser(body: bytes) -> ParsedFeed:
    """A whole document read by feedparser alone, every entry mapped by ``from_feedparser``.

    The benchmarks' baseline pipeline: no fast path, no ``sanitize``, no warnings, and the format
    always reported as ``"rss"``. The body is handed over as a stream, so feedparser never takes
    it for a file name or a URL.
    """
    import feedparser  # deferred, as in recover

    result = feedparser.parse(io.BytesIO(body))
    items = tuple(from_feedparser(entry) for entry in result.entries)
    return ParsedFeed("rss", result.feed.get("title"), result.feed.get("link"), items)


def from_feedparser(entry: Any) -> RawItem:
    """One feedparser entry as a ``RawItem`` (summary: the richer of summary and content)."""
    content = entry.get("content") or []
    content_text = max((c.get("value") or "" for c in content), key=len, default="")
    summary = richer(entry.get("summary"), content_text or None)
    published = _fp_date(entry, "published") or _fp_date(entry, "updated")
    source = entry.get("source") or {}
    return RawItem(
        guid=clean(entry.get("id")),
        title=entry.get("title"),
        link=clean(entry.get("link")),
        summary=summary,
        published=published,
        outlet=clean(source.get("title")) if isinstance(source, dict) else None,
        author=clean(entry.get("author")),
    )


def _fp_date(entry: Any, key: str) -> datetime | None:
    parsed = parse_date(entry.get(key))
    if parsed is not None:
        return parsed
    struct: Any = entry.get(f"{key}_parsed")
    if struct is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(v) for v in struct[:6])
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None
