"""RSS 0.9x/2.0, RSS 1.0 (RDF) and Atom 1.0/0.3, read from an lxml tree into ``RawItem``s.

One walk over the tree, dispatching each child element on its qualified tag through precompiled
tables: no XPath, no per-item compilation. Entity references left in the tree are replaced by a
known HTML character, or by a declared entity's literal text when that text holds no further
references, else dropped (never expanded recursively). It is separate from ``feeds`` (which
sniffs, decodes and parses the bytes) so the format readers can be read on their own.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from html.entities import name2codepoint
from typing import Any
from urllib.parse import urljoin

from lxml import etree

from bot.core.models import ParsedFeed, RawItem
from bot.errors import FeedError
from bot.ingest.dates import parse_date
from bot.ingest.fields import ABSOLUTE, clean, richer

__all__ = ["read_tree"]

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


def _resolve(link: str | None, el: Any, url: str) -> str | None:
    if not link:
        return None
    if ABSOLUTE.match(link):
        return link
    base = el.base or url
    if not base:
        return link
    try:
        return urljoin(base, link)
    except ValueError:
        return link


def read_tree(root: Any, url: str) -> ParsedFeed:
    """The feed a parsed document holds, by its root element: RSS, RDF or Atom (feed or entry)."""
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
                title = clean(_text(child, entities))
            elif code == "link" and link is None:
                link = _resolve(clean(child.text), child, url)
            elif code == "dctitle":
                dctitle = clean(_text(child, entities))
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
    guid = clean(guid_el.text) if guid_el is not None else None
    if guid is None:  # RSS 1.0: the item's resource URI is its identity
        guid = clean(item.get(_RDF_ABOUT))
    if guid is None and "dcid" in found:
        guid = clean(found["dcid"].text)

    link_el = found.get("link")
    link = None
    if link_el is not None:
        link = _resolve(clean(_text(link_el, entities)), link_el, url)
    if link is None and atom_link is not None:
        link = _resolve(clean(atom_link.get("href")), atom_link, url)
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
    summary = richer(description, encoded)

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
    author = clean(_text(author_el, entities)) if author_el is not None else None

    source_el = found.get("source")
    outlet = clean(_text(source_el, entities)) if source_el is not None else None

    return RawItem(
        guid=guid,
        title=title_text,
        link=link,
        summary=summary,
        published=published,
        outlet=outlet,
        author=author,
    )


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
            return clean(_text(child, entities))
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
                title = clean(_atom_text(child, entities))
            elif code == "link" and child.get("rel", "alternate") == "alternate" and link is None:
                link = _resolve(clean(child.get("href")), child, url)
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
    link = _resolve(clean(link_el.get("href")), link_el, url) if link_el is not None else None

    title_el = found.get("title")
    summary_el = found.get("summary")
    content_el = found.get("content")
    summary = richer(
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
        author = clean(_text(found["creator"], entities))
    id_el = found.get("id")
    return RawItem(
        guid=clean(id_el.text) if id_el is not None else None,
        title=_atom_text(title_el, entities) if title_el is not None else None,
        link=link,
        summary=summary,
        published=published,
        author=author or feed_author,
    )
