"""Neutral alerts, digests and replies as Discord embeds. Pure: no network, no state.

Discord rejects a whole message when an embed breaks one of its limits, so every piece of feed
text is clipped here, at a word boundary with "…", before it can reach the wire. Embeds never
ping anyone whatever they contain; the only pings the bot makes are the ``<@id>`` mentions in
the message content built by ``mention_line`` (and ``allowed_mentions`` enforces that).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import discord

from bot.core.headline_diff import Change, Segment
from bot.core.messages import (
    outlets_line,
    sourcing_line,
    thread_corrected,
    thread_link,
    thread_more,
    thread_reheadlined,
)
from bot.core.models import Alert, Digest
from bot.core.replies import Item, Reply, Section
from bot.core.thread import Escalation, ReplyLine, ThreadReply

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FIELD_COUNT_LIMIT = 25
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
CONTENT_LIMIT = 2000

ELLIPSIS = "…"
ALERT_COLOUR = discord.Colour(0x2B6CB0)
DIGEST_COLOUR = discord.Colour(0x4A5568)
REPLY_COLOUR = discord.Colour(0x2F855A)
ERROR_COLOUR = discord.Colour(0xC53030)


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a word boundary, ending with "…"."""
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[:limit]
    cut = text[: limit - len(ELLIPSIS)]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" \n,;:.-–—") + ELLIPSIS


def why_command(story_id: str) -> str:
    return f"/talks why {story_id}"


def mention_line(user_ids: Iterable[str]) -> str | None:
    """Message content pinging exactly these users (numeric Discord ids only), or None."""
    seen: dict[str, None] = {}
    for user_id in user_ids:
        if user_id.isdigit():
            seen.setdefault(user_id, None)
    return " ".join(f"<@{user_id}>" for user_id in seen) or None


def alert_embed(alert: Alert) -> discord.Embed:
    """One story: linked headline, summary, outlets, topics, score, and how to ask why."""
    footer = why_command(alert.story_id)
    if alert.why_hint:
        # Footers render no markdown: the hint stays as written.
        footer = f"{clip(alert.why_hint, FOOTER_LIMIT - len(footer) - 3)} · {footer}"
    embed = discord.Embed(
        title=clip(_plain(alert.title), TITLE_LIMIT) or alert.url or alert.story_id,
        url=alert.url or None,
        colour=ALERT_COLOUR,
        timestamp=alert.published,
    )
    if alert.outlets:
        outlets = _plain(sourcing_line(alert.outlets, alert.independent))
        embed.add_field(name="Outlets", value=clip(outlets, FIELD_VALUE_LIMIT))
    if alert.topics:
        topics = _plain(", ".join(alert.topics))
        embed.add_field(name="Topics", value=clip(topics, FIELD_VALUE_LIMIT))
    embed.add_field(name="Score", value=f"{alert.score:.2f}")
    embed.set_footer(text=footer)
    _fill_description(embed, _plain(alert.summary))
    return embed


def digest_embed(digest: Digest) -> discord.Embed:
    """Several stories folded into one message: one linked line each, newest context kept."""
    count = len(digest.alerts)
    title = digest.title or f"{count} {'story' if count == 1 else 'stories'} in the last burst"
    embed = discord.Embed(
        title=clip(title, TITLE_LIMIT), colour=DIGEST_COLOUR, timestamp=digest.created
    )
    embed.set_footer(text="Folded into one message to avoid a flood · /talks why <id> for details")
    lines = [_digest_line(alert) for alert in digest.alerts]
    room = min(DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - len(embed))
    embed.description = _fit_lines(lines, room)
    return embed


def reply_message(reply: Reply) -> tuple[str | None, discord.Embed | None]:
    """Content and embed for a command reply: short plain replies stay plain text."""
    if not reply.sections and len(reply.text) <= CONTENT_LIMIT:
        return reply.text or None, None
    return None, reply_embed(reply)


def reply_embed(reply: Reply) -> discord.Embed:
    """A reply's sections as one embed: a bold heading per section, one line per item."""
    embed = discord.Embed(
        title=clip(reply.title, TITLE_LIMIT) or None,
        colour=ERROR_COLOUR if reply.error else REPLY_COLOUR,
    )
    lines: list[str] = []
    for section in reply.sections:
        lines.extend(_section_lines(section))
    if not lines:
        lines = reply.text.splitlines() or [""]
    room = min(DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - len(embed))
    embed.description = _fit_lines(lines, room)
    return embed


# -- helpers ---------------------------------------------------------------------------------


def _fill_description(embed: discord.Embed, text: str) -> None:
    """Set the description to as much of ``text`` as the 6,000-character budget leaves."""
    if not text:
        return
    room = min(DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - len(embed))
    if room > 0:
        embed.description = clip(text, room)


def _digest_line(alert: Alert) -> str:
    details = [_plain(outlets_line(alert.outlets))] if alert.outlets else []
    if alert.topics:
        details.append(_plain(", ".join(alert.topics)))
    details.append(f"`{alert.story_id}`")
    return f"• {_link(clip(alert.title, 200), alert.url)} — {' · '.join(details)}"


def _section_lines(section: Section) -> list[str]:
    lines = [f"**{_escape(section.title)}**"] if section.title else []
    lines.extend(_item_line(item) for item in section.items)
    if not section.items:
        lines.append("• none")
    lines.append("")
    return lines


def _item_line(item: Item) -> str:
    text = clip(item.text, 400)
    return f"• {_link(text, item.url)}" if item.url else f"• {_escape(text)}"


def _fit_lines(lines: Sequence[str], room: int) -> str:
    """Whole lines up to ``room`` characters, then "…and N more" if some did not fit."""
    lines = list(lines)
    while lines and not lines[-1]:
        lines.pop()
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        rest = len(lines) - index
        tail = f"\n…and {rest} more" if rest > 1 else ""
        if used + len(line) + 1 + len(tail) <= room:
            kept.append(line)
            used += len(line) + 1
            continue
        if not kept:
            return clip(line, room)
        more = sum(1 for later in lines[index:] if later.startswith("•")) or rest
        kept.append(f"…and {more} more")
        break
    return "\n".join(kept)


def _escape(text: str) -> str:
    return discord.utils.escape_markdown(text, as_needed=True)


_MARKUP = re.compile(r"([\\*_~|`\[\]<>])")
"""Characters Discord reads as markup anywhere in a line (a backslash before any of them shows
it as written)."""
_LINE_MARKUP = re.compile(r"^(\s*)([#\-+])", re.MULTILINE)
_ORDERED = re.compile(r"^(\s*\d+)\.", re.MULTILINE)
"""Markup only at the start of a line: headings and list items (quotes are caught above)."""


def _plain(text: str) -> str:
    """Feed text as Discord shows it literally: no emphasis, no masked link, no heading, no
    quote, no mention or timestamp markup."""
    escaped = _LINE_MARKUP.sub(r"\1\\\2", _MARKUP.sub(r"\\\1", text))
    return _ORDERED.sub(r"\1\\.", escaped)


def _link(text: str, url: str) -> str:
    """A masked link whose text and address cannot break out of the markdown."""
    label = _plain(text)
    if not url:
        return label
    safe_url = url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")
    return f"[{label}]({safe_url})"


# -- threads ---------------------------------------------------------------------------------

THREAD_NAME_LIMIT = 100
"""Characters of a thread's (or forum post's) name."""


def thread_name(headline: str, story_id: str) -> str:
    """A development's thread name: its headline as written (names render no markdown)."""
    return clip(headline, THREAD_NAME_LIMIT) or story_id


def _diff(segments: Sequence[Segment]) -> str:
    """A word diff in Discord markdown: ``~~old words~~ **new words**``."""
    marks = {Change.KEPT: "{}", Change.REMOVED: "~~{}~~", Change.ADDED: "**{}**"}
    return " ".join(marks[s.change].format(_plain(s.words)) for s in segments)


def _url(url: str) -> str:
    """A bare link in ``<…>``: clickable, and Discord shows no preview card for it."""
    return f"<{url.replace('>', '%3E').replace(' ', '%20')}>" if url else ""


def _reply_line(line: ReplyLine) -> str:
    when = f"<t:{int(line.published.timestamp())}:t>"
    if not line.reheadline:
        title = _plain(clip(line.title, 300))
        parts = [f"**{_plain(line.outlet)}**: {title}", _url(line.url), when]
    else:
        label = (
            thread_corrected(line.outlet) if line.correction else thread_reheadlined(line.outlet)
        )
        parts = [f"✎ **{_plain(label)}**: {_diff(line.diff)}", _url(line.url), when]
    return " · ".join(p for p in parts if p)


def thread_reply_content(reply: ThreadReply) -> str:
    """A thread reply as message content: one line per report, within 2,000 characters."""
    lines = [_reply_line(line) for line in reply.lines]
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        tail = len(thread_more(len(lines))) + 1 if index < len(lines) - 1 else 0
        if used + len(line) + 1 + tail > CONTENT_LIMIT:
            if not kept:
                kept.append(clip(line, CONTENT_LIMIT - tail - 1))
                index += 1
            if index < len(lines):
                kept.append(thread_more(len(lines) - index))
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept)


def rebroadcast_content(escalation: Escalation, thread_url: str) -> str:
    """The line above a re-broadcast alert: how it escalated, and where its thread is."""
    return f"⬆ {_plain(escalation.note)} · {thread_link(thread_url)}"
