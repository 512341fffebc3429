"""Feed documents (bytes) read into ``RawItem``s.

The fast path walks an lxml tree once, dispatching each child element on its qualified tag through
precompiled tables: no XPath, no per-item compilation. It reads RSS 0.9x/2.0, RSS 1.0 (RDF),
Atom 1.0 and 0.3, and JSON Feed 1.0/1.1, detected from the content. Documents lxml cannot read
(malformed XML) go to feedparser's lenient parser, and the parse says so in ``warnings``.

Safety: the XML parser never loads DTDs, never touches the network, never resolves external
entities and never expands internal ones recursively (an entity reference is replaced by a known
HTML character, or by a declared entity's literal text when that text holds no further
references, else dropped), so "billion laughs" and ``file:///etc/passwd`` entities stay inert.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import io
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from html.entities import name2codepoint
from typing import Any
from urllib.parse import urljoin

from lxml import etree

from bot.core.models import ParsedFeed, RawItem
from bot.core.text import FIELD_LIMITS, sanitize
from bot.errors import FeedError
from bot.ingest.dates import parse_date

__all__ = ["parse_feed"]

ATOM10 = "http://www.w3.org/2005/Atom"
ATOM03 = "http://purl.org/atom/ns#"
RSS10 = "http://purl.org/rss/1.0/"
RSS090 = "http://my.netscape.com/rdf/simple/0.9/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DC = "http://purl.org/dc/elements/1.1/"
DCTERMS = "http://purl.org/dc/terms/"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
XHTML = "http://www.w3.org/1999/xhtml"
_RSS_NAMESPACES = (
    "",
    RSS10,
    RSS090,
    "http://backend.userland.com/rss2",
    "http://backend.userland.com/rss",
)

_MAX_ENTITY_TEXT = 1024


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}" if ns else name


def _table(entries: Iterable[tuple[Iterable[str], str, str]]) -> dict[str, str]:
    """Map qualified tags to field codes: ((namespaces), local name, code)."""
    table: dict[str, str] = {}
    for namespaces, name, code in entries:
        for ns in namespaces:
            table[_q(ns, name)] = code
    return table


def _rss_tables(extra: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Item, channel and root dispatch tables for RSS, plus an unexpected default namespace."""
    ns = (*_RSS_NAMESPACES, extra) if extra not in _RSS_NAMESPACES else _RSS_NAMESPACES
    item = _table(
        [
            (ns, "title", "title"),
            (ns, "link", "link"),
            (ns, "guid", "guid"),
            (ns, "description", "description"),
            (ns, "pubDate", "date"),
            (ns, "pubdate", "date"),
            (ns, "author", "author"),
            (ns, "source", "source"),
            ((DC,), "title", "dctitle"),
            ((DC,), "date", "dcdate"),
            ((DC,), "creator", "creator"),
            ((DC,), "identifier", "dcid"),
            ((DCTERMS,), "issued", "dcdate"),
            ((DCTERMS,), "created", "dcdate"),
            ((DCTERMS,), "modified", "updated"),
            ((CONTENT,), "encoded", "encoded"),
            ((ATOM10,), "link", "atomlink"),
            ((ATOM10,), "updated", "updated"),
            ((ATOM10,), "published", "dcdate"),
        ]
    )
    channel = _table(
        [
            (ns, "title", "title"),
            (ns, "link", "link"),
            (ns, "item", "item"),
            ((DC,), "title", "dctitle"),
        ]
    )
    root = _table([(ns, "channel", "channel"), (ns, "item", "item")])
    return item, channel, root


def _atom_table(extra: str) -> dict[str, str]:
    ns = (*_ATOM_NAMESPACES, extra) if extra not in _ATOM_NAMESPACES else _ATOM_NAMESPACES
    return _table(
        [
            (ns, "id", "id"),
            (ns, "title", "title"),
            (ns, "link", "link"),
            (ns, "summary", "summary"),
            (ns, "content", "content"),
            (ns, "published", "published"),
            (ns, "issued", "published"),
            (ns, "created", "created"),
            (ns, "updated", "updated"),
            (ns, "modified", "updated"),
            (ns, "author", "author"),
            (ns, "entry", "entry"),
            (ns, "name", "name"),
            ((DC,), "creator", "creator"),
            ((DC,), "date", "dcdate"),
        ]
    )


_ATOM_NAMESPACES = (ATOM10, ATOM03, "")
_RSS_TABLES = {"": _rss_tables("")}
_ATOM_TABLES = {"": _atom_table("")}


def _tables_for(cache: dict[str, Any], build: Callable[[str], Any], ns: str) -> Any:
    found = cache.get(ns)
    if found is None:
        found = build(ns)
        if len(cache) < 64:
            cache[ns] = found
    return found


_RDF_ROOT = _q(RDF, "RDF")
_RDF_ABOUT = _q(RDF, "about")
_XHTML_DIV = _q(XHTML, "div")

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_DECLARED = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:\-]+)[\"']")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:\-]+)", re.IGNORECASE)
_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!doctype\s+html[^>]*>\s*)?(?:<!--.*?-->\s*)*"
    rb"<(?:html|head|body)[\s>]",
    re.IGNORECASE | re.DOTALL,
)
_NAMED_ENTITY = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos);)([A-Za-z][A-Za-z0-9]{1,31});")
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def _repair_utf8(error: UnicodeError) -> tuple[str, int]:
    """Decode error handler: read stray non-UTF-8 bytes as windows-1252 (the usual culprit)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return bad.decode("cp1252", errors="replace"), error.end


codecs.register_error("talksbot-cp1252", _repair_utf8)


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
            f"unreadable feed: {type(error).__name__}: {_one_line(str(error))}"
        ) from None


def _sanitized(feed: ParsedFeed) -> ParsedFeed:
    def clean(item: RawItem) -> RawItem:
        return RawItem(
            guid=sanitize(item.guid, FIELD_LIMITS["guid"]),
            title=sanitize(item.title, FIELD_LIMITS["title"]),
            link=sanitize(item.link, FIELD_LIMITS["link"]),
            summary=sanitize(item.summary, FIELD_LIMITS["summary"]),
            published=item.published,
            outlet=sanitize(item.outlet, FIELD_LIMITS["outlet"]),
            author=sanitize(item.author, FIELD_LIMITS["author"]),
        )

    return ParsedFeed(
        format=feed.format,
        title=sanitize(feed.title, FIELD_LIMITS["title"]),
        link=sanitize(feed.link, FIELD_LIMITS["link"]),
        items=tuple(clean(item) for item in feed.items),
        warnings=feed.warnings,
    )


def _parse(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    stripped = body[:4096].lstrip()
    if stripped[:3] == codecs.BOM_UTF8:
        stripped = stripped[3:].lstrip()
    if stripped[:1] in (b"{", b"["):
        return _parse_json(body[3:] if body[:3] == codecs.BOM_UTF8 else body, url)
    if stripped[:1] not in (b"<", b"\x00", b"\xfe", b"\xff"):
        raise FeedError(
            "not a feed: the server sent text that is neither XML nor JSON (check the source url)"
        )
    if _HTML_START.match(stripped):
        raise FeedError("not a feed: the server sent an HTML page (check the source url)")
    http_charset = _charset(content_type)
    data, encoding_warnings = _to_utf8(body, http_charset)
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
        repaired = _numeric_entities(data) if "not defined" in str(error) else data
        repaired = _CHAR_REF.sub(_valid_char_ref, repaired)
        if repaired == data:
            return _recover(body, url, content_type, _xml_error(error))
        try:
            root = etree.fromstring(repaired, parser, base_url=url or None)
        except etree.XMLSyntaxError:
            return _recover(body, url, content_type, _xml_error(error))
    if root is None:
        raise FeedError("not a feed: empty body")
    feed = _read_tree(root, url)
    if encoding_warnings:
        feed = ParsedFeed(
            format=feed.format,
            title=feed.title,
            link=feed.link,
            items=feed.items,
            warnings=encoding_warnings + feed.warnings,
        )
    return feed


# --- encodings ---------------------------------------------------------------------------------


def _charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _CHARSET.search(content_type)
    return match.group(1) if match else None


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _to_utf8(body: bytes, http_charset: str | None) -> tuple[bytes, tuple[str, ...]]:
    """Choose the document's encoding and return it as UTF-8 bytes.

    Order: a BOM wins; then the HTTP charset and the XML declaration, where a strict decode decides
    a conflict (UTF-8 first when one of them is UTF-8, since other text rarely decodes as valid
    UTF-8); then UTF-8 with stray bytes read as windows-1252, with a warning.
    """
    for bom, name in _BOMS:
        if body.startswith(bom):
            if name == "utf-8":
                return body[3:], ()
            return _reencode(body[len(bom) :], name), ()
    if body[:4] == b"\x00\x00\x00<":
        return _reencode(body, "utf-32-be"), ()
    if body[:4] == b"<\x00\x00\x00":
        return _reencode(body, "utf-32-le"), ()
    if body[:4] in (b"\x00<\x00?", b"\x00<\x00r", b"\x00<\x00f"):
        return _reencode(body, "utf-16-be"), ()
    if body[:4] in (b"<\x00?\x00", b"<\x00r\x00", b"<\x00f\x00"):
        return _reencode(body, "utf-16-le"), ()
    declared_match = _DECLARED.match(body[:512])
    declared_name = declared_match.group(1).decode("ascii") if declared_match else None
    declared = _codec(declared_name)
    http = _codec(http_charset)
    warnings: list[str] = []
    if http_charset and http is None:
        warnings.append(f"unknown charset {http_charset!r} in the content type ignored")
    if declared_name and declared is None:
        warnings.append(f"unknown encoding {declared_name!r} in the XML declaration ignored")
    candidates = [c for c in (http, declared) if c]
    if len(candidates) == 2 and candidates[0] != candidates[1] and candidates[1] == "utf-8":
        candidates.reverse()
    if not candidates:
        candidates = ["utf-8"]
    for name in dict.fromkeys(candidates):
        try:
            text = body.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
        if name == "utf-8":
            return body, tuple(warnings)
        return text.encode("utf-8"), tuple(warnings)
    if "utf-8" not in candidates:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            warnings.append(f"the feed is not valid {candidates[0]}; read it as UTF-8")
            return body, tuple(warnings)
    warnings.append(
        f"the feed is not valid {candidates[0]}; read it as UTF-8 with stray bytes as windows-1252"
    )
    return body.decode("utf-8", errors="talksbot-cp1252").encode("utf-8"), tuple(warnings)


def _numeric_entities(data: bytes) -> bytes:
    def replace(match: re.Match[bytes]) -> bytes:
        code = name2codepoint.get(match.group(1).decode("ascii"))
        return b"&#%d;" % code if code is not None else match.group(0)

    return _NAMED_ENTITY.sub(replace, data)


_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")


def _valid_char_ref(match: re.Match[bytes]) -> bytes:
    """A character reference kept when XML 1.0 allows its character, else dropped."""
    code = int(match.group(1), 16) if match.group(1) else int(match.group(2))
    allowed = (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )
    return match.group(0) if allowed else b""


def _reencode(body: bytes, name: str) -> bytes:
    return body.decode(name, errors="replace").encode("utf-8")


# --- XML tree ----------------------------------------------------------------------------------


class _Entities:
    """Inert replacement text for entity references left in the tree (never recursive)."""

    __slots__ = ("_declared", "_root")

    def __init__(self, root: Any) -> None:
        self._root = root
        self._declared: dict[str, str] | None = None

    def text(self, name: str) -> str:
        code = name2codepoint.get(name)
        if code is not None:
            return chr(code)
        if self._declared is None:
            self._declared = {}
            dtd = self._root.getroottree().docinfo.internalDTD
            if dtd is not None:
                for decl in dtd.iterentities():
                    content = decl.content
                    if (
                        content is not None
                        and len(content) <= _MAX_ENTITY_TEXT
                        and "&" not in content
                        and "<" not in content
                        and "%" not in content
                    ):
                        self._declared[decl.name] = content
        return self._declared.get(name, "")


def _text(el: Any, entities: _Entities) -> str:
    """An element's content as a string: plain text, or its inner markup when it has children."""
    if len(el) == 0:
        return el.text or ""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child, etree._Entity):
            parts.append(entities.text(child.name))
        elif isinstance(child.tag, str):
            parts.append(_markup(child))
        if child.tail:
            parts.append(child.tail)
    return "".join(parts)


def _markup(el: Any) -> str:
    return str(etree.tostring(el, encoding="unicode", with_tail=False))


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _resolve(link: str | None, el: Any, url: str) -> str | None:
    if not link:
        return None
    if _ABSOLUTE.match(link):
        return link
    base = el.base or url
    if not base:
        return link
    try:
        return urljoin(base, link)
    except ValueError:
        return link


def _read_tree(root: Any, url: str) -> ParsedFeed:
    tag = root.tag
    if not isinstance(tag, str):
        raise FeedError("not a feed: the document has no root element")
    entities = _Entities(root)
    qname = etree.QName(tag)
    local, ns = qname.localname, qname.namespace or ""
    if local in ("rss", "channel") and (local == "rss" or ns == ""):
        return _read_rss(root, url, entities, "rss", _tables_for(_RSS_TABLES, _rss_tables, ns))
    if tag == _RDF_ROOT:
        # RSS 1.0 items live in the RSS 1.0 namespace (0.9 in its own): no extra namespace needed
        return _read_rss(root, url, entities, "rdf", _RSS_TABLES[""])
    if local in ("feed", "entry") and ns != XHTML:
        table = _tables_for(_ATOM_TABLES, _atom_table, ns)
        return _read_atom(root, url, entities, table, single_entry=local == "entry")
    local = local.lower()
    if local in ("html", "xhtml"):
        raise FeedError("not a feed: the server sent an HTML page (check the source url)")
    raise FeedError(
        f"not a feed: XML document with root <{local}> is not RSS, RDF or Atom "
        "(check the source url)"
    )


def _read_rss(
    root: Any,
    url: str,
    entities: _Entities,
    fmt: str,
    tables: tuple[dict[str, str], dict[str, str], dict[str, str]],
) -> ParsedFeed:
    item_table, channel_table, root_table = tables
    channel = None
    item_elements: list[Any] = []
    if etree.QName(root.tag).localname == "channel":
        channel = root
    else:
        for child in root:
            code = root_table.get(child.tag) if isinstance(child.tag, str) else None
            if code == "channel" and channel is None:
                channel = child
            elif code == "item":
                item_elements.append(child)
    title = link = None
    if channel is not None:
        dctitle = None
        channel_items: list[Any] = []
        for child in channel:
            code = channel_table.get(child.tag) if isinstance(child.tag, str) else None
            if code is None:
                continue
            if code == "item":
                channel_items.append(child)
            elif code == "title" and title is None:
                title = _clean(_text(child, entities))
            elif code == "link" and link is None:
                link = _resolve(_clean(child.text), child, url)
            elif code == "dctitle":
                dctitle = _clean(_text(child, entities))
        title = title or dctitle
        item_elements = channel_items + item_elements
    items = tuple(_rss_item(el, url, entities, item_table) for el in item_elements)
    return ParsedFeed(format=fmt, title=title, link=link, items=items)


def _rss_item(item: Any, url: str, entities: _Entities, table: dict[str, str]) -> RawItem:
    found: dict[str, Any] = {}
    atom_link = None
    for child in item:
        code = table.get(child.tag)  # comments/entities have non-string tags: never in the table
        if code is None:
            continue
        if code == "atomlink":
            rel = child.get("rel", "alternate")
            if rel == "alternate" and atom_link is None:
                atom_link = child
            continue
        found.setdefault(code, child)
    title = found.get("title")
    title_text = _text(title, entities) if title is not None else None
    if title_text is None and "dctitle" in found:
        title_text = _text(found["dctitle"], entities)

    guid_el = found.get("guid")
    guid = _clean(guid_el.text) if guid_el is not None else None
    if guid is None:  # RSS 1.0: the item's resource URI is its identity
        guid = _clean(item.get(_RDF_ABOUT))
    if guid is None and "dcid" in found:
        guid = _clean(found["dcid"].text)

    link_el = found.get("link")
    link = None
    if link_el is not None:
        link = _resolve(_clean(_text(link_el, entities)), link_el, url)
    if link is None and atom_link is not None:
        link = _resolve(_clean(atom_link.get("href")), atom_link, url)
    if (
        link is None
        and guid_el is not None
        and guid
        and guid_el.get("isPermaLink", "true").strip().lower() != "false"
        and guid.startswith(("http://", "https://"))
    ):
        link = guid

    description = _text(found["description"], entities) if "description" in found else None
    encoded = _text(found["encoded"], entities) if "encoded" in found else None
    summary = _richer(description, encoded)

    published = None
    for code in ("date", "dcdate", "updated"):
        el = found.get(code)
        if el is not None:
            published = parse_date(el.text)
            if published is not None:
                break

    author_el = found.get("author")
    if author_el is None:
        author_el = found.get("creator")
    author = _clean(_text(author_el, entities)) if author_el is not None else None

    source_el = found.get("source")
    outlet = _clean(_text(source_el, entities)) if source_el is not None else None

    return RawItem(
        guid=guid,
        title=title_text,
        link=link,
        summary=summary,
        published=published,
        outlet=outlet,
        author=author,
    )


def _richer(first: str | None, second: str | None) -> str | None:
    """The longer of two texts (the lead source with more to say); the first on a tie."""
    if not second or not second.strip():
        return first if first and first.strip() else None
    if not first or not first.strip():
        return second
    return second if len(second.strip()) > len(first.strip()) else first


def _atom_text(el: Any, entities: _Entities) -> str:
    """An Atom text construct: xhtml content as markup of its wrapper div, base64 decoded."""
    kind = el.get("type", "")
    if kind == "xhtml" and len(el):
        div = el[0]
        if div.tag == _XHTML_DIV:
            return _text(div, entities)
    if el.get("mode") == "base64" and el.text:
        try:
            return base64.b64decode(el.text).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            return str(el.text)
    return _text(el, entities)


def _atom_author(el: Any, entities: _Entities, table: dict[str, str]) -> str | None:
    for child in el:
        if isinstance(child.tag, str) and table.get(child.tag) == "name":
            return _clean(_text(child, entities))
    return None


def _read_atom(
    root: Any, url: str, entities: _Entities, table: dict[str, str], *, single_entry: bool = False
) -> ParsedFeed:
    title = link = feed_author = None
    entries: list[Any] = []
    if single_entry:
        entries.append(root)
    else:
        for child in root:
            code = table.get(child.tag) if isinstance(child.tag, str) else None
            if code is None:
                continue
            if code == "entry":
                entries.append(child)
            elif code == "title" and title is None:
                title = _clean(_atom_text(child, entities))
            elif code == "link" and child.get("rel", "alternate") == "alternate" and link is None:
                link = _resolve(_clean(child.get("href")), child, url)
            elif code == "author" and feed_author is None:
                feed_author = _atom_author(child, entities, table)
    items = tuple(_atom_entry(el, url, entities, table, feed_author) for el in entries)
    return ParsedFeed(format="atom", title=title, link=link, items=items)


def _atom_entry(
    entry: Any, url: str, entities: _Entities, table: dict[str, str], feed_author: str | None
) -> RawItem:
    found: dict[str, Any] = {}
    alternate = html_alternate = first_link = None
    for child in entry:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        code = table.get(tag)
        if code is None:
            continue
        if code == "link":
            rel = child.get("rel", "alternate")
            if first_link is None:
                first_link = child
            if rel == "alternate":
                if alternate is None:
                    alternate = child
                if html_alternate is None and child.get("type", "text/html") in (
                    "text/html",
                    "application/xhtml+xml",
                ):
                    html_alternate = child
            continue
        found.setdefault(code, child)
    link_el = html_alternate if html_alternate is not None else alternate
    if link_el is None:
        link_el = first_link
    link = _resolve(_clean(link_el.get("href")), link_el, url) if link_el is not None else None

    title_el = found.get("title")
    summary_el = found.get("summary")
    content_el = found.get("content")
    summary = _richer(
        _atom_text(summary_el, entities) if summary_el is not None else None,
        _atom_text(content_el, entities) if content_el is not None else None,
    )
    published = None
    for code in ("published", "dcdate", "updated", "created"):
        el = found.get(code)
        if el is not None:
            published = parse_date(el.text)
            if published is not None:
                break
    author = None
    if "author" in found:
        author = _atom_author(found["author"], entities, table)
    if author is None and "creator" in found:
        author = _clean(_text(found["creator"], entities))
    id_el = found.get("id")
    return RawItem(
        guid=_clean(id_el.text) if id_el is not None else None,
        title=_atom_text(title_el, entities) if title_el is not None else None,
        link=link,
        summary=summary,
        published=published,
        author=author or feed_author,
    )


# --- JSON Feed ---------------------------------------------------------------------------------


def _parse_json(body: bytes, url: str) -> ParsedFeed:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise FeedError(f"unreadable feed: invalid JSON ({_one_line(str(error))})") from None
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
    if not link or _ABSOLUTE.match(link) or not base:
        return link
    try:
        return urljoin(base, link)
    except ValueError:
        return link


def _json_item(entry: dict[str, Any], base: str) -> RawItem:
    link = _string(entry.get("url")) or _string(entry.get("external_url"))
    summary = _richer(
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
        guid=_clean(_string(guid)),
        title=_string(entry.get("title")),
        link=_join(_clean(link), base),
        summary=summary,
        published=published,
        author=author,
    )


# --- recovery ----------------------------------------------------------------------------------


def _xml_error(error: etree.XMLSyntaxError) -> str:
    line = error.lineno or (error.position[0] if error.position else 0)
    message = error.msg or str(error)
    message = re.sub(r",\s*line \d+, column \d+.*$", "", message)
    return f"XML error at line {line}: {_one_line(message)}"


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


_FEEDPARSER_FORMATS: tuple[tuple[str, str], ...] = (
    ("rss090", "rdf"),
    ("rss10", "rdf"),
    ("rss", "rss"),
    ("atom", "atom"),
    ("json", "json"),
    ("cdf", "rss"),
)


def _recover(body: bytes, url: str, content_type: str | None, xml_error: str) -> ParsedFeed:
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
    items = tuple(_from_feedparser(entry) for entry in entries)
    return ParsedFeed(
        format=fmt,
        title=_clean(feed.get("title")),
        link=_clean(feed.get("link")),
        items=items,
        warnings=(f"malformed feed read by the lenient parser ({xml_error})",),
    )


def _from_feedparser(entry: Any) -> RawItem:
    content = entry.get("content") or []
    content_text = max((c.get("value") or "" for c in content), key=len, default="")
    summary = _richer(entry.get("summary"), content_text or None)
    published = _fp_date(entry, "published") or _fp_date(entry, "updated")
    source = entry.get("source") or {}
    return RawItem(
        guid=_clean(entry.get("id")),
        title=entry.get("title"),
        link=_clean(entry.get("link")),
        summary=summary,
        published=published,
        outlet=_clean(source.get("title")) if isinstance(source, dict) else None,
        author=_clean(entry.get("author")),
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
