"""Feed bytes to UTF-8 bytes, and the entity repairs tried on a document lxml rejected.

It reads BOMs, the HTTP charset and the XML declaration, re-encodes to UTF-8 (stray non-UTF-8
bytes read as windows-1252, with a warning), turns HTML named entities used without a DTD into
character references and drops references to characters XML cannot hold. It is separate because
none of this depends on the feed format: it is all bytes in, bytes out, before any tree exists.
"""

from __future__ import annotations

import codecs
import re
from html.entities import name2codepoint

__all__ = ["content_type_charset", "drop_invalid_char_refs", "named_entities_to_numeric", "to_utf8"]

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_DECLARED = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:\-]+)[\"']")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:\-]+)", re.IGNORECASE)
_NAMED_ENTITY = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos);)([A-Za-z][A-Za-z0-9]{1,31});")


def _repair_utf8(error: UnicodeError) -> tuple[str, int]:
    """Decode error handler: read stray non-UTF-8 bytes as windows-1252 (the usual culprit)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return bad.decode("cp1252", errors="replace"), error.end


codecs.register_error("talksbot-cp1252", _repair_utf8)


def content_type_charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of an HTTP content type, as written; ``None`` when absent."""
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


def to_utf8(body: bytes, http_charset: str | None) -> tuple[bytes, tuple[str, ...]]:
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


def named_entities_to_numeric(data: bytes) -> bytes:
    """HTML named entities (&nbsp; &eacute;) as character references; unknown names kept."""

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


def drop_invalid_char_refs(data: bytes) -> bytes:
    """The document without character references to what XML 1.0 cannot hold (&#0;, &#xD800;)."""
    return _CHAR_REF.sub(_valid_char_ref, data)


def _reencode(body: bytes, name: str) -> bytes:
    return body.decode(name, errors="replace").encode("utf-8")
