"""JSON Feed 1.0/1.1 documents read into ``RawItem``s.

It is separate because JSON Feed shares nothing with the XML path but the field helpers: no
charset handling of ours (``json.loads`` reads UTF-8/16/32 itself), no tree, no entities.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urljoin

from bot.core.models import ParsedFeed, RawItem
from bot.core.text import FIELD_LIMITS, sanitize
from bot.errors import FeedError
from bot.ingest.dates import parse_date
from bot.ingest.fields import ABSOLUTE, clean, one_line, richer

__all__ = ["parse_json_feed"]


def parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    """A JSON Feed document (no BOM) read into items; ``url`` resolves relative links."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise FeedError(f"unreadable feed: invalid JSON ({one_line(str(error))})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise FeedError("not a feed: JSON without a JSON Feed 'items' list")
    base = _string(doc.get("feed_url")) or url
    home = _string(doc.get("home_page_url"))
    items = [_json_item(entry, home or base) for entry in doc["items"] if isinstance(entry, dict)]
    warnings: tuple[str, ...] = ()
    dropped = len(doc["items"]) - len(items)
    if dropped:
        warnings = (f"{dropped} JSON Feed items were not objects and were skipped",)
    return ParsedFeed(
        format="json",
        title=_string(doc.get("title")),
        link=_join(home, url),
        items=tuple(items),
        warnings=warnings,
    )


def _string(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        # JSON may spell what no UTF-8 text can hold ("\ud800"): make it safe before any use.
        return sanitize(value, FIELD_LIMITS["summary"])
    if isinstance(value, int | float):
        return str(value)
    return None


def _join(link: str | None, base: str) -> str | None:
    if not link or ABSOLUTE.match(link) or not base:
        return link
    try:
        return urljoin(base, link)
    except ValueError:
        return link


def _json_item(entry: dict[str, Any], base: str) -> RawItem:
    link = _string(entry.get("url")) or _string(entry.get("external_url"))
    summary = richer(
        _string(entry.get("summary")),
        _string(entry.get("content_html")) or _string(entry.get("content_text")),
    )
    published = parse_date(_string(entry.get("date_published"))) or parse_date(
        _string(entry.get("date_modified"))
    )
    author = None
    authors = entry.get("authors")
    if isinstance(authors, list) and authors and isinstance(authors[0], dict):
        author = _string(authors[0].get("name"))
    elif isinstance(entry.get("author"), dict):
        author = _string(entry["author"].get("name"))
    guid = entry.get("id")
    return RawItem(
        guid=clean(_string(guid)),
        title=_string(entry.get("title")),
        link=_join(clean(link), base),
        summary=summary,
        published=published,
        author=author,
    )
