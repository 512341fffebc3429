"""From a feed's raw item to a clean ``Report``: text, canonical URL, UTC time, stable key, outlet.

Feeds disagree about everything: HTML in titles, entities in descriptions, tracking parameters on
links, dates in the future, guids that are links, aggregators that put the real outlet in a
``<source>`` element and a " - Outlet" headline suffix. This module makes one shape of it.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from bot.core.boilerplate import strip_boilerplate
from bot.core.models import RawItem, Report
from bot.core.text import fold

_DROP_BLOCKS = re.compile(
    r"<(script|style|noscript|iframe|figcaption|template|svg)\b[^>]*>.*?</\1\s*>",
    re.IGNORECASE | re.DOTALL,
)
_COMMENTS = re.compile(r"<!--.*?-->", re.DOTALL)
_BLOCK_TAGS = re.compile(
    r"</?(p|div|br|li|ul|ol|h[1-6]|blockquote|section|article|header|footer|figure|table|tr|td|th|hr)\b[^>]*>",
    re.IGNORECASE,
)
_TAGS = re.compile(r"<[^>]*>")
_INLINE_SPACE = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\s*\n\s*")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});")
_JUNK_TITLES = frozenset(
    {"more", "more »", "read more", "continue reading", "click here", "untitled", "no title"}
)
"""Link texts some feeds emit as items of their own: nothing to report."""

TRACKING_PARAMS = frozenset(
    {
        "at_medium",
        "at_campaign",
        "at_custom1",
        "at_custom2",
        "at_custom3",
        "at_custom4",
        "at_format",
        "at_link_id",
        "at_link_origin",
        "at_link_type",
        "at_ptr_name",
        "at_bbc_team",
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "ocid",
        "cmpid",
        "cmp",
        "smid",
        "smtyp",
        "ito",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "_ga",
        "igshid",
        "spm",
        "taid",
        "ref",
        "ref_src",
    }
)
"""Query parameters that only say how a reader arrived; they never change which article it is."""

MIN_PLAUSIBLE_YEAR = 1995
FUTURE_TOLERANCE = timedelta(hours=2)
"""Feeds with wrong clocks or time zones post a little into the future; more than this is a lie."""


def html_to_text(value: str | None) -> str:
    """Plain text of an HTML fragment: tags and entities gone, paragraphs kept as line breaks.

    A regex pass rather than a DOM parse: feed snippets are small and often broken HTML, and this
    must never fail. Captions, scripts and styles are dropped with their contents.
    """
    if not value:
        return ""
    if "<" in value:
        value = _COMMENTS.sub(" ", value)
        value = _DROP_BLOCKS.sub(" ", value)
        value = _BLOCK_TAGS.sub("\n", value)
        value = _TAGS.sub("", value)
    value = html.unescape(value)
    if "&" in value and _ENTITY.search(value):
        # Double-escaped entities (&amp;raquo;) are common in descriptions: decode once more.
        value = html.unescape(value)
    if "<" in value and ">" in value:
        # Double-escaped HTML (&lt;p&gt;) is common in RSS descriptions: strip once more.
        value = _TAGS.sub(" ", value)
    value = _CONTROL.sub("", value)
    value = _INLINE_SPACE.sub(" ", value)
    return _BLANK_LINES.sub("\n", value).strip()


_WIRE_PREFIX = re.compile(
    r"^(?:(?:UPDATE|REFILE|CORRECTED)\s*\d*\s*[-–—:]\s*"
    r"|(?:LIVE|LIVE UPDATES|BREAKING|BREAKING NEWS|WATCH)\s*[:|–—-]\s*)+",
    re.IGNORECASE,
)


def clean_title(value: str | None) -> str:
    """A headline on one line, without HTML or wire-service revision prefixes ("UPDATE 2-")."""
    title = " ".join(html_to_text(value).split())
    stripped = _WIRE_PREFIX.sub("", title)
    return stripped if len(stripped) >= 12 else title


def canonical_url(url: str | None) -> str:
    """The article's address without tracking parameters, fragment or cosmetic differences."""
    if not url:
        return ""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        return url
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        return url
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in TRACKING_PARAMS
    ]
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


def item_key(raw: RawItem, source: str, title: str) -> str:
    """A key that stays the same when the feed shows the item again, even re-headlined.

    The guid is the feed's own promise of identity; failing that the canonical link; failing that
    (a feed with neither) a hash of source and headline.
    """
    if raw.guid and raw.guid.strip():
        return raw.guid.strip()[:500]
    link = canonical_url(raw.link)
    if link:
        return link[:500]
    digest = hashlib.sha1(f"{source}\x1f{title.casefold()}".encode()).hexdigest()
    return f"sha1:{digest[:20]}"


def split_outlet_suffix(title: str, outlet: str | None) -> tuple[str, str | None]:
    """Split "Headline - Outlet" as aggregators write it.

    With a known outlet (from ``<source>``) the suffix is removed only when it names that outlet;
    without one, the last " - X" segment is taken as the outlet when it is short enough to be a
    name rather than part of the headline.
    """
    for sep in (" - ", " – ", " — ", " | "):
        head, found, tail = title.rpartition(sep)
        if not found or not head.strip():
            continue
        tail = tail.strip()
        if outlet:
            if tail.casefold() == outlet.strip().casefold():
                return head.strip(), outlet.strip()
            continue
        if 0 < len(tail) <= 40 and len(tail.split()) <= 5:
            return head.strip(), tail
    return title, outlet.strip() if outlet else None


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What normalisation needs to know about the source an item came through."""

    name: str
    outlet: str = ""
    """Display name of the outlet; defaults to the source name."""
    weight: float = 1.0
    aggregator: bool = False
    """Items name their real outlet (Google News search feeds and the like)."""


@dataclass(frozen=True, slots=True)
class Identity:
    """What a report will be known by: its key and its headline, as ``normalize_item`` sets them."""

    key: str
    title: str
    outlet: str


def identify(raw: RawItem, source: SourceInfo) -> Identity | None:
    """The key and final headline of an item, without reading its text.

    Most items of every poll are already held unchanged; comparing identities with the store
    first spares them the HTML and boilerplate work. None when the headline would have to come
    from the text (an item without a title): then only ``normalize_item`` can tell.
    """
    title = clean_title(raw.title)
    if not title or title.casefold().strip(" .…»>") in _JUNK_TITLES:
        return None
    outlet = raw.outlet.strip() if raw.outlet and raw.outlet.strip() else None
    if outlet or source.aggregator:
        title, outlet = split_outlet_suffix(title, outlet)
    outlet = outlet or source.outlet or source.name
    return Identity(item_key(raw, source.name, title), title, outlet)


def normalize_item(
    raw: RawItem, source: SourceInfo, now: datetime, identity: Identity | None = None
) -> Report | None:
    """Clean one raw item into a report; None when it has neither headline nor text.

    ``now`` is when the item was first seen; it stands in for a missing or implausible date.
    ``identity``, when the caller already has it from ``identify``, saves doing that work twice.
    """
    text = strip_boilerplate(html_to_text(raw.summary))
    identity = identity or identify(raw, source)
    if identity is None:
        if not text:
            return None
        first_line = text.split("\n", 1)[0]
        title = first_line if len(first_line) <= 120 else first_line[:117].rsplit(" ", 1)[0] + "…"
        outlet = raw.outlet.strip() if raw.outlet and raw.outlet.strip() else None
        if outlet or source.aggregator:
            title, outlet = split_outlet_suffix(title, outlet)
        identity = Identity(
            item_key(raw, source.name, title), title, outlet or source.outlet or source.name
        )
    title, outlet = identity.title, identity.outlet
    if source.aggregator and text and fold(title)[:60] in fold(text):
        # Aggregators describe an item with the list of related headlines, not a lead.
        text = ""
    published, dated = published_time(raw.published, now)
    text = text.replace("\n", " ").strip()
    return Report(
        key=identity.key,
        source=source.name,
        outlet=outlet,
        title=title,
        url=canonical_url(raw.link),
        text=text,
        published=published,
        first_seen=now,
        dated=dated,
        source_weight=source.weight,
    )


def dated_times(items: Sequence[RawItem], now: datetime) -> list[datetime]:
    """The plausible publication times of ``items`` (for pacing polls), in UTC."""
    return [when for raw in items for when, dated in [published_time(raw.published, now)] if dated]


def published_time(value: datetime | None, now: datetime) -> tuple[datetime, bool]:
    """(time, dated): a feed's date in UTC, or ``now`` when it is missing or implausible."""
    if value is None or value.tzinfo is None:
        return now, False
    if value.year < MIN_PLAUSIBLE_YEAR or value > now + FUTURE_TOLERANCE:
        return now, False
    return value.astimezone(now.tzinfo), True
