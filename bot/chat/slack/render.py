"""Alerts, digests, thread replies and command replies as Slack Block Kit: pure, no I/O.

Everything that comes from a feed is untrusted: a headline must never ping ``<!channel>`` or a
person, nor forge a link, nor restyle the message. Slack's mrkdwn treats ``&``, ``<`` and ``>`` as
control characters, escaped as entities; it has no escape for its emphasis marks (``*bold*``,
``_italic_``, ``~strike~``, `` `code` ``), so in feed text those become look-alike characters
(``inert``): "*Hamas*" reads as written instead of turning bold or closing the headline's own bold.
The only mentions ever produced are the user ids the bot itself put in ``Alert.mentions``, and only
when they look like Slack user ids.

Block Kit refuses a whole message when one limit is exceeded, so every text is cut to fit, at a
word boundary, with "…".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from bot.core.headline_diff import Change, Segment
from bot.core.messages import (
    outlets_line,
    sourcing_line,
    thread_corrected,
    thread_more,
    thread_reheadlined,
)
from bot.core.models import Alert, Digest
from bot.core.replies import Item, Reply, Section
from bot.core.thread import Escalation, ReplyLine, ThreadReply

Block = dict[str, Any]

HEADER_LIMIT = 150
"""Characters of a header block's plain_text."""
SECTION_LIMIT = 3000
"""Characters of a section block's text."""
FIELD_LIMIT = 2000
"""Characters of one section field."""
CONTEXT_LIMIT = 2000
"""Characters of one context element (kept well below any Slack limit)."""
BLOCKS_LIMIT = 50
"""Blocks in one message."""
TEXT_LIMIT = 4000
"""Characters of the notification/fallback ``text``."""
HEADLINE_LIMIT = 150
"""Headlines are cut like a header would be: an alert is read at a glance."""
SUMMARY_LIMIT = 1200
"""An alert's summary is short by design; the link has the rest."""

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_ELLIPSIS = "…"


# escaping -------------------------------------------------------------------------------------
def escape(text: str) -> str:
    """Make text inert in mrkdwn: no mentions, no links, no ``<!channel>``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_EMPHASIS = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"})
"""mrkdwn's emphasis marks -> characters that look the same and mean nothing to Slack."""


def inert(text: str) -> str:
    """Feed text made inert in mrkdwn: ``escape`` and no emphasis marks either."""
    return escape(text).translate(_EMPHASIS)


def _link_label(text: str) -> str:
    # Inside <url|label> a "|" or ">" would end the label early; ">" is escaped, "|" becomes a
    # look-alike so the headline still reads the same.
    return inert(text).replace("|", "\u2223")


def _safe_url(url: str) -> str | None:
    """The URL ready for ``<url|label>``, or None when it is not a plain web link."""
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")):
        return None
    # Characters that would end the link token are percent-encoded; "&" is escaped as Slack asks.
    url = quote(url, safe=":/?#[]@!$&'()*+,;=%~-._")
    return url.replace("&", "&amp;")


def link(url: str, label: str) -> str:
    """A mrkdwn link with an inert label; just the label when the URL is not http(s)."""
    safe = _safe_url(url)
    shown = _link_label(label) if label else (safe or "")
    return f"<{safe}|{shown}>" if safe else inert(label)


def mention(user_id: str) -> str | None:
    """``<@U…>`` for a well-formed Slack user id, else None (never a broadcast)."""
    return f"<@{user_id}>" if _USER_ID.match(user_id) else None


# truncation -----------------------------------------------------------------------------------
def shorten(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters at a word boundary, ending with "…"."""
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit <= 1:
        return _ELLIPSIS[:limit]
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + _ELLIPSIS


def fit(text: str, limit: int) -> str:
    """Make ``text`` inert and cut it so that form is at most ``limit`` characters."""
    budget = limit
    while True:
        out = inert(shorten(text, budget))
        if len(out) <= limit or budget <= 1:
            return out[:limit]
        budget -= len(out) - limit


# pieces ---------------------------------------------------------------------------------------
def slack_date(when: datetime) -> str:
    """A date token each reader sees in their own time zone, with a UTC fallback."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    fallback = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(text)}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(text)]}


def _headline(alert: Alert) -> str:
    title = shorten(alert.title, HEADLINE_LIMIT) or alert.url or alert.story_id
    return f"*{link(alert.url, title)}*"


MENTIONS_LIMIT = 150
"""Mentions on one message: keeps the "For …" line whole within a section's 3,000 characters."""


def _mentions(alert: Alert) -> str:
    found = [m for m in (mention(u) for u in alert.mentions) if m]
    return " ".join(found[:MENTIONS_LIMIT])


def _why_line(alert: Alert) -> str:
    hint = fit(alert.why_hint, CONTEXT_LIMIT - 200) + " · " if alert.why_hint else ""
    return f"{hint}`/talks why {escape(alert.story_id)}`"


def _fallback(*parts: str) -> str:
    """The notification text: already-escaped parts joined, cut to Slack's limit."""
    text = " ".join(p for p in parts if p)
    if len(text) <= TEXT_LIMIT:
        return text
    # Cut on a space so no token (<url|…>, &amp;) is split in half.
    cut = text[: TEXT_LIMIT - 1]
    return cut[: cut.rfind(" ")] + _ELLIPSIS if " " in cut else cut + _ELLIPSIS


# alerts ---------------------------------------------------------------------------------------
def alert_blocks(alert: Alert) -> tuple[str, list[Block]]:
    """An alert as (notification text, blocks): headline link, summary, facts, why."""
    headline = _headline(alert)
    blocks: list[Block] = [_section(headline)]
    if alert.summary.strip():
        blocks.append(_section(fit(alert.summary, SUMMARY_LIMIT)))
    facts = [
        ("Outlets", inert(sourcing_line(alert.outlets, alert.independent)) or "–"),
        ("Topics", escape(", ".join(alert.topics)) or "–"),
        ("Score", f"{alert.score:.2f}"),
        ("Published", slack_date(alert.published)),
    ]
    blocks.append(
        {
            "type": "section",
            "fields": [_mrkdwn(f"*{name}*\n{value}"[:FIELD_LIMIT]) for name, value in facts],
        }
    )
    mentions = _mentions(alert)
    if mentions:
        blocks.append(_section(f"For {mentions}"[:SECTION_LIMIT]))
    blocks.append(_context(_why_line(alert)))
    source = inert(outlets_line(alert.outlets))
    text = _fallback(
        mentions,
        link(alert.url, shorten(alert.title, HEADLINE_LIMIT)),
        f"({source})" if source else "",
    )
    return text, blocks


# digests --------------------------------------------------------------------------------------
def _digest_line(alert: Alert) -> str:
    facts = " · ".join(
        p
        for p in (
            inert(outlets_line(alert.outlets)),
            escape(", ".join(alert.topics)),
            slack_date(alert.published),
        )
        if p
    )
    return f"{_headline(alert)}\n{facts} · `/talks why {escape(alert.story_id)}`"


def digest_blocks(digest: Digest) -> tuple[str, list[Block]]:
    """Several alerts in one message: a header, one section per story, then "and N more"."""
    count = len(digest.alerts)
    title = digest.title or f"{count} {'story' if count == 1 else 'stories'} on the talks"
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": shorten(title, HEADER_LIMIT)}}
    ]
    room = BLOCKS_LIMIT - 2  # the header, and a context line for what did not fit
    shown = digest.alerts[:room]
    blocks += [_section(_digest_line(a)[:SECTION_LIMIT]) for a in shown]
    if count > len(shown):
        blocks.append(_context(f"…and {count - len(shown)} more: `/talks status`"))
    users = dict.fromkeys(u for a in digest.alerts for u in a.mentions)
    mentions = _mentions(replace(digest.alerts[0], mentions=tuple(users))) if users else ""
    if mentions:
        if len(blocks) >= BLOCKS_LIMIT:
            blocks.pop(-2)
        blocks.append(_section(f"For {mentions}"[:SECTION_LIMIT]))
    headlines = "; ".join(inert(shorten(a.title, 80)) for a in digest.alerts[:5])
    return _fallback(mentions, escape(shorten(title, HEADER_LIMIT)) + ":", headlines), blocks


# command replies ------------------------------------------------------------------------------
def _item_line(item: Item) -> str:
    text = link(item.url, item.text) if item.url else inert(item.text)
    return f"• {text}"


def _chunks(lines: list[str], limit: int) -> list[str]:
    """Join lines into texts of at most ``limit`` characters (a long line is cut)."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        line = line if len(line) <= limit else line[: limit - 1] + _ELLIPSIS
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            candidate = line
        current = candidate
    if current:
        chunks.append(current)
    return chunks


def _section_blocks(section: Section) -> list[Block]:
    lines = [f"*{escape(section.title)}*"] if section.title else []
    if section.kind == "text":
        lines += [escape(item.text) for item in section.items]
    else:
        lines += [_item_line(item) for item in section.items]
    return [_section(chunk) for chunk in _chunks(lines, SECTION_LIMIT)]


def reply_blocks(reply: Reply) -> tuple[str, list[Block]]:
    """A command's reply: its title, its sections, its suggestions; text fallback = reply.text."""
    blocks: list[Block] = []
    if reply.title:
        title = ("⚠️ " if reply.error else "") + reply.title
        blocks.append(
            {"type": "header", "text": {"type": "plain_text", "text": shorten(title, HEADER_LIMIT)}}
        )
    for section in reply.sections:
        blocks += _section_blocks(section)
    if not reply.sections:
        blocks += [_section(c) for c in _chunks(escape(reply.text).splitlines(), SECTION_LIMIT)]
    if reply.suggestions:
        options = ", ".join(f"`{escape(s)}`" for s in reply.suggestions)
        blocks.append(_context(f"Did you mean: {options}"[:CONTEXT_LIMIT]))
    if len(blocks) > BLOCKS_LIMIT:
        blocks = [*blocks[: BLOCKS_LIMIT - 1], _context("…cut to fit one Slack message")]
    return _fallback(escape(reply.text)), blocks


# threads --------------------------------------------------------------------------------------
def _diff_text(segments: Sequence[Segment]) -> str:
    """A word diff in mrkdwn: ``~old words~ *new words*``, the feed's own marks made inert."""
    marks = {Change.KEPT: "{}", Change.REMOVED: "~{}~", Change.ADDED: "*{}*"}
    return " ".join(marks[s.change].format(inert(s.words)) for s in segments)


def _reply_line(line: ReplyLine) -> str:
    when = slack_date(line.published)
    if not line.reheadline:
        title = shorten(line.title, HEADLINE_LIMIT) or line.url
        return f"*{inert(line.outlet)}*: {link(line.url, title)} · {when}"
    label = thread_corrected(line.outlet) if line.correction else thread_reheadlined(line.outlet)
    shown = link(line.url, label) if line.url else inert(label)
    return f"✎ *{shown}*: {_diff_text(line.diff)} · {when}"


def thread_reply_blocks(reply: ThreadReply) -> tuple[str, list[Block]]:
    """A thread reply: one line per report, in as few sections as fit one message."""
    lines = [_reply_line(line) for line in reply.lines]
    sections = _chunks(lines, SECTION_LIMIT)
    blocks = [_section(chunk) for chunk in sections[: BLOCKS_LIMIT - 1]]
    if len(sections) > len(blocks):
        left = sum(chunk.count("\n") + 1 for chunk in sections[len(blocks) :])
        blocks.append(_context(escape(thread_more(left))))
    first = reply.lines[0]
    return _fallback(inert(first.outlet) + ":", inert(shorten(first.title, HEADLINE_LIMIT))), blocks


def rebroadcast_blocks(alert: Alert, escalation: Escalation) -> tuple[str, list[Block]]:
    """The alert again, for the whole channel, under the line saying how it escalated. It
    mentions nobody: subscribers in mention mode were mentioned on the alert itself."""
    text, blocks = alert_blocks(replace(alert, mentions=()))
    note = escape(escalation.note)
    blocks = [_context(f"⬆ {note}"), *blocks][:BLOCKS_LIMIT]
    return _fallback(note + ":", text), blocks
