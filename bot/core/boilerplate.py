"""Feed boilerplate: the words feeds wrap around a story that are not the story.

Feeds append share prompts ("Share.", "Exit mobile version"), "read more" links, WordPress
footers ("The post X appeared first on Y."), bylines, photo credits and newsletter pitches to
their descriptions; wire copy opens with a dateline ("GAZA CITY (AP) —"). Left in, they end up
in summaries and in the text deduplication compares. Input is plain text already (normalisation
strips HTML), but stray tags and entities are removed too, in case a feed double-escaped them.
"""

from __future__ import annotations

import html
import re

__all__ = ["strip_boilerplate"]

_AGENCIES = r"(?:Reuters|AP|AFP|CNN|Bloomberg|dpa|UPI|ANI|PTI|AA|WAFA|JTA|TPS|Xinhua)"
_NAME = r"[A-Z][\w'’.-]+(?:\s+(?:[A-Z][\w'’.-]+|de|van|von|al|el|bin|ibn|da|di|du)){0,3}"
_DASH = r"[-–—:]"

# Whole lines that are nothing but boilerplate.
_LINE = re.compile(
    r"""^\s*(?:
        share\.?|share\s+this(?:\s+(?:article|story|post|page))?:?\.?|
        exit\s+mobile\s+version|
        advertisement|skip\s+advert(?:isement)?|
        continue\s+reading(?:\s*(?:\.\.\.|…|→|»))?\.?|
        read\s+more(?:\s*(?:\.\.\.|…|→|»|:))?\.?|
        read\s+the\s+(?:full|whole|rest\s+of\s+the)\s+(?:story|article|report)\.?(?:\s*(?:→|»))?|
        (?:photo(?:graph)?s?|image|picture|credit|source)\s*:.*|
        getty\s+images\.?
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
# A byline on its own line: "By Jane Doe", "By Jane Doe and John Roe, CNN" (case matters here:
# "By Sunday, talks had..." is a sentence, not a byline).
_BYLINE_LINE = re.compile(
    r"^By\s+"
    + _NAME
    + r"(?:\s*(?:,|and|&)\s*"
    + _NAME
    + r")*(?:\s*[,|]\s*[A-Z][\w .&'-]{1,40})?\.?$"
)

# Boilerplate inside running text, each pattern with the case-folded words a line must contain
# for it to match: most lines contain none, and a substring test is much cheaper than running
# a dozen expressions.
_INLINE: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = (
    # WordPress footer: "The post <title> appeared first on <site>."
    (
        ("appeared first on",),
        re.compile(r"\s*\bThe post\b.{1,300}?\bappeared first on\b[^.\n]{1,120}\.?", re.IGNORECASE),
    ),
    (
        ("exit mobile version",),
        re.compile(r"\s*\bExit mobile version\b", re.IGNORECASE),
    ),
    (
        ("[",),
        re.compile(r"\s*\[(?:…|\.\.\.|&hellip;)\]"),
    ),
    (
        ("continue reading", "read more", "read the full"),
        re.compile(
            r"\s*\b(?:Continue reading|Read more|Read the full (?:story|article))\b"
            r"(?:\s*(?:\.\.\.|…|→|»|at\s+[\w.]+))?\.?\s*$",
            re.IGNORECASE | re.MULTILINE,
        ),
    ),
    (
        ("click here", "tap here"),
        re.compile(
            r"(?:^|(?<=[.!?]))\s*(?:Click|Tap) here\b[^.!?\n]*[.!?]?", re.IGNORECASE | re.MULTILINE
        ),
    ),
    (
        ("sign up ",),
        re.compile(
            r"(?:^|(?<=[.!?]))\s*Sign up (?:for|to)\b[^.!?\n]*[.!?]?", re.IGNORECASE | re.MULTILINE
        ),
    ),
    (
        ("updated",),
        re.compile(
            r"(?:^|(?<=[.!?]))\s*This (?:story|article|report) (?:has been|was|is being) updated\b"
            r"[^\n]*?(?:[.!?](?=\s|$)|$)",
            re.IGNORECASE | re.MULTILINE,
        ),
    ),
    # Photo credits in brackets: "(Photo by Jane Doe / AFP)", "(Getty Images)", "(AP Photo/...)"
    (
        ("photo", "image", "picture", "credit"),
        re.compile(
            r"\s*[(\[](?:(?:AP\s+)?Photos?|Photograph|Image|Picture|Credit|File photo)"
            r"\b[^()\[\]]{0,120}[)\]]",
            re.IGNORECASE,
        ),
    ),
    (
        ("getty images",),
        re.compile(r"\s*[(\[][^()\[\]]{0,80}Getty Images[)\]]", re.IGNORECASE),
    ),
    # Trailing credit after the text: "... on Sunday. Photograph: Jane Doe/Reuters"
    (
        ("photo", "image", "credit"),
        re.compile(
            r"(?<=[.!?\"”])\s*(?:Photo(?:graph)?|Image|Credit)s?:\s*[^\n]{0,120}$",
            re.IGNORECASE | re.MULTILINE,
        ),
    ),
    (
        ("getty images",),
        re.compile(r"\s*\b[A-Z][\w.' -]{0,60}/\s*Getty Images\b\.?"),
    ),
)

# Lead-ins at the very start: bylines followed by a dateline, and the dateline itself.
_BYLINE_START = re.compile(
    r"^\s*By\s+" + _NAME + r"(?:\s*(?:,|and|&)\s*" + _NAME + r")*"
    r"(?:\s*,\s*[A-Z][\w&.'-]*)?\s*(?=\(|[A-Z]{2,}|\n|\|)"
)
_DATELINE = re.compile(
    r"^\s*(?:[A-Z][A-Za-z0-9.'’ ,/-]{0,60}?\s*)?\(" + _AGENCIES + r"\)\s*" + _DASH + r"+\s*"
    r"|^\s*[A-Z][A-Z.'’ ,/-]{2,40}\s+" + _DASH + r"\s+(?=[A-Z])"
)
_PIPE_BYLINE = re.compile(r"^\s*By\s+" + _NAME + r"\s*\|\s*")

_TAG = re.compile(r"<[^>]{0,500}>")
_BLOCK_TAG = re.compile(
    r"<\s*(?:/\s*(?:p|div|li|h[1-6]|blockquote)|br\s*/?|p|div)\b[^>]{0,200}>", re.I
)
_SPACES = re.compile(r"[ \t\u00a0]+")
_STUB_END = re.compile(r"(?:\s*(?:\[\s*(?:…|\.\.\.)\s*\]|…|\.\.\.))+\s*$")
_SENTENCE_END = re.compile(r"[.!?][\"”’')\]]*(?=\s)")


def _is_boilerplate_line(line: str) -> bool:
    return bool(_LINE.match(line)) or (len(line) <= 100 and bool(_BYLINE_LINE.match(line)))


def _strip_stub(text: str) -> str:
    """Drop the unfinished sentence a feed cut off with "…" (keep it if it is all there is)."""
    match = _STUB_END.search(text)
    if not match:
        return text
    body = text[: match.start()].rstrip()
    ends = list(_SENTENCE_END.finditer(body + " "))
    if ends:
        return body[: ends[-1].end()].rstrip()
    # A single truncated sentence: keep its whole words and say it goes on.
    words = body.rsplit(" ", 1)
    kept = words[0] if len(words) == 2 and len(words[0]) > 20 else body
    return kept.rstrip(" ,;:-–—") + "…" if kept else ""


def strip_boilerplate(text: str) -> str:
    """``text`` without feed boilerplate: plain text in, cleaned plain text out.

    Paragraph breaks are kept (one blank line between paragraphs); runs of spaces become one.
    """
    if not text:
        return ""
    if "<" in text or "&" in text:
        text = html.unescape(_TAG.sub(" ", _BLOCK_TAG.sub("\n", text)))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _PIPE_BYLINE.sub("", text)
    text = _BYLINE_START.sub("", text)
    text = _DATELINE.sub("", text, count=1)

    lines = []
    for raw in text.split("\n"):
        line = _SPACES.sub(" ", raw).strip()
        if not line:
            lines.append("")
            continue
        if _is_boilerplate_line(line):
            continue
        lowered = line.casefold()
        for needles, pattern in _INLINE:
            if any(n in lowered for n in needles):
                line = pattern.sub("", line)
        line = _SPACES.sub(" ", line).strip()
        if line and not _is_boilerplate_line(line):
            lines.append(line)

    paragraphs = "\n".join(lines).split("\n\n")
    cleaned = [p.strip() for p in paragraphs if p.strip()]
    result = "\n\n".join(cleaned)
    return _strip_stub(result)
