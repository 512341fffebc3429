"""Neutral command requests and replies: what chat adapters translate to and from.

A reply is plain text first (it must read well in a terminal or a notification) with enough
structure (``sections``) for an adapter to render Block Kit or an embed without parsing text.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a command, and from where."""

    platform: str
    """"console", "slack" or "discord"."""
    workspace: str
    """Slack team id or Discord guild id ("" on the console)."""
    user: str
    channel: str
    is_admin: bool = False
    """May change channel-level subscriptions and mutes (decided by the adapter)."""
    user_name: str = ""


@dataclass(frozen=True, slots=True)
class Item:
    """One structured line of a section (a story, a topic, a source)."""

    text: str
    """The line as plain text."""
    url: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    """Named values for rich rendering, e.g. {"outlets": "4", "age": "2h", "score": "0.81"}."""


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    items: tuple[Item, ...] = ()
    kind: str = "list"
    """"list", "stories", "topics", "sources", "subscriptions" or "text"."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A command's answer."""

    text: str
    """Complete plain-text rendering (also the notification fallback)."""
    title: str = ""
    sections: tuple[Section, ...] = ()
    ephemeral: bool = True
    """Only the caller sees it (personal commands, errors)."""
    error: bool = False
    suggestions: tuple[str, ...] = ()
    """Closest matches for an unknown topic or command."""
