from __future__ import annotations

import discord
import pytest

from bot.chat.discord.invite import invite_url
from bot.chat.discord.render import (
    alert_embed,
    clip,
    digest_embed,
    mention_line,
    reply_message,
)
from bot.core.replies import Item, Reply, Section
from tests.chat.discord.samples import PUBLISHED, alert, digest

LONG_WORDS = " ".join(f"negotiation{i}" for i in range(2000))


def within_discord_limits(embed: discord.Embed) -> bool:
    return (
        len(embed.title or "") <= 256
        and len(embed.description or "") <= 4096
        and len(embed.fields) <= 25
        and all(len(f.name or "") <= 256 and len(f.value or "") <= 1024 for f in embed.fields)
        and len(embed.footer.text or "") <= 2048
        and len(embed) <= 6000
    )


def test_alert_embed_links_headline_and_shows_outlets_topics_score():
    embed = alert_embed(alert())
    assert embed.title == "Mediators say Cairo round on hostage release ends without deal"
    assert embed.url == "https://news.example.org/world/cairo-round-ends"
    assert embed.description.startswith("Egyptian and Qatari mediators")
    fields = {f.name: f.value for f in embed.fields}
    assert fields == {
        "Outlets": "Wire One, Daily Ledger +3",
        "Topics": "hostages, cairo-talks",
        "Score": "0.81",
    }
    assert embed.timestamp == PUBLISHED
    assert embed.footer.text == (
        "Hostages (headline), Cairo talks (lead) · 5 outlets · /talks why st-4f2a9c"
    )


@pytest.mark.parametrize(
    ("outlets", "line"),
    [
        (("Wire One",), "Wire One"),
        (("Wire One", "Daily Ledger", "Coast Radio"), "Wire One, Daily Ledger, Coast Radio"),
        (("A", "B", "C", "D"), "A, B +2"),
        (("*Wire* One",), "\\*Wire\\* One"),
    ],
)
def test_alert_shows_the_one_outlets_line_escaped(outlets, line):
    """The wording is ``bot.core.messages.outlets_line``'s; only the escaping is Discord's."""
    fields = {f.name: f.value for f in alert_embed(alert(outlets=outlets)).fields}
    assert fields["Outlets"] == line


def test_oversized_alert_is_clipped_at_words_and_fits_every_embed_limit():
    huge = alert(
        title=LONG_WORDS,
        summary=LONG_WORDS,
        why_hint=LONG_WORDS,
        outlets=tuple(f"Outlet {i}" for i in range(400)),
        topics=tuple(f"topic-{i}" for i in range(400)),
    )
    embed = alert_embed(huge)
    assert within_discord_limits(embed)
    assert embed.title.endswith("…")
    assert embed.title[:-1].split(" ")[-1] in LONG_WORDS.split(" ")  # a whole word before "…"
    assert embed.description.endswith("…")
    assert embed.footer.text.endswith("/talks why st-4f2a9c")


def test_clip_keeps_short_text_and_cuts_long_text_at_a_space():
    assert clip("Rafah crossing reopens", 50) == "Rafah crossing reopens"
    assert clip("Rafah crossing reopens for aid lorries", 20) == "Rafah crossing…"


def test_digest_lists_every_story_as_a_link_with_its_id():
    embed = digest_embed(digest(3))
    lines = embed.description.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(
        "• [Rafah crossing update number 0: aid lorries wait at the gate]"
        "(https://news.example.org/rafah/0)"
    )
    assert "`st-0000`" in lines[0]
    assert embed.title == "3 stories in the last burst"


def test_digest_too_long_for_one_embed_ends_with_how_many_were_left_out():
    embed = digest_embed(digest(80))
    assert within_discord_limits(embed)
    shown = sum(1 for line in embed.description.splitlines() if line.startswith("•"))
    assert embed.description.splitlines()[-1] == f"…and {80 - shown} more"


def test_headline_with_brackets_cannot_break_the_digest_link():
    embed = digest_embed(
        digest(1, alerts=(alert(title="Talks [update] (live)", url="https://x.example/a(b)"),))
    )
    assert "[Talks \\[update\\] (live)](https://x.example/a%28b%29)" in embed.description


def test_short_plain_reply_is_sent_as_text():
    assert reply_message(Reply("You now follow Hostages.")) == ("You now follow Hostages.", None)


def test_reply_with_sections_becomes_an_embed_with_a_heading_per_section():
    reply = Reply(
        "Topics: …",
        title="Topics",
        sections=(
            Section("Topics", (Item("hostages — Hostages"), Item("rafah — Rafah crossing"))),
            Section("Latest", (Item("Crossing reopens", url="https://news.example.org/r"),)),
        ),
    )
    content, embed = reply_message(reply)
    assert content is None
    assert embed.title == "Topics"
    assert embed.description.splitlines() == [
        "**Topics**",
        "• hostages — Hostages",
        "• rafah — Rafah crossing",
        "",
        "**Latest**",
        "• [Crossing reopens](https://news.example.org/r)",
    ]


def test_error_reply_embed_is_red():
    reply = Reply("x" * 2500, error=True)
    _content, embed = reply_message(reply)
    assert embed.colour == discord.Colour(0xC53030)
    assert within_discord_limits(embed)


def test_mention_line_pings_only_numeric_user_ids_once_each():
    assert mention_line(["740000000000000005", "@everyone", "740000000000000005", "42"]) == (
        "<@740000000000000005> <@42>"
    )
    assert mention_line([]) is None


def test_invite_link_asks_for_commands_scope_and_only_needed_permissions():
    url = invite_url(710000000000000001)
    assert url.startswith("https://discord.com/oauth2/authorize?client_id=710000000000000001")
    assert "scope=bot+applications.commands" in url
    permissions = discord.Permissions(int(url.rsplit("permissions=", 1)[1]))
    assert permissions.value == 309237664768
    needed = ("view_channel", "send_messages", "embed_links")
    never = ("mention_everyone", "manage_messages", "administrator", "read_message_history")
    assert all(getattr(permissions, name) for name in needed)
    assert not any(getattr(permissions, name) for name in never)
