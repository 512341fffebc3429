from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.chat.slack.render import (
    BLOCKS_LIMIT,
    HEADER_LIMIT,
    SECTION_LIMIT,
    TEXT_LIMIT,
    alert_blocks,
    digest_blocks,
    reply_blocks,
    shorten,
)
from bot.core.models import Alert, Digest
from bot.core.replies import Item, Reply, Section

PUBLISHED = datetime(2024, 5, 6, 14, 3, tzinfo=UTC)

ALERT = Alert(
    story_id="a1b2c3d4",
    title="Mediators in Cairo report progress on phased hostage release",
    url="https://news.example.org/world/cairo-talks?id=7&lang=en",
    summary="Egyptian and Qatari mediators said both delegations accepted a draft timetable.",
    outlets=("Wire One", "Daily Ledger", "Harbour Post", "Radio North", "Evening Star"),
    published=PUBLISHED,
    topics=("hostages", "cairo-talks"),
    score=0.8123,
    why_hint="hostages (headline), Cairo (headline) · 5 outlets",
)


def all_text(blocks: list[dict[str, object]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def mrkdwn_texts(blocks: list[dict[str, object]]) -> list[str]:
    """Every mrkdwn string in the blocks (what Slack would parse for mentions and links)."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(str(node["text"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return found


def test_alert_shows_headline_link_summary_outlets_topics_score_and_why() -> None:
    text, blocks = alert_blocks(ALERT)
    rendered = "\n".join(mrkdwn_texts(blocks))
    assert (
        "*<https://news.example.org/world/cairo-talks?id=7&amp;lang=en|Mediators in Cairo report "
        "progress on phased hostage release>*" in rendered
    )
    assert "accepted a draft timetable" in rendered
    assert "Wire One, Daily Ledger +3" in rendered
    assert "hostages, cairo-talks" in rendered
    assert "0.81" in rendered
    assert "hostages (headline), Cairo (headline) · 5 outlets" in rendered
    assert "`/talks why a1b2c3d4`" in rendered
    assert "Mediators in Cairo" in text
    assert "Wire One" in text


def test_published_time_uses_slack_date_token_with_utc_fallback() -> None:
    _, blocks = alert_blocks(ALERT)
    stamp = int(PUBLISHED.timestamp())
    assert f"<!date^{stamp}^{{date_short_pretty}} {{time}}|2024-05-06 14:03 UTC>" in all_text(
        blocks
    )


def test_hostile_headline_cannot_ping_channel_or_forge_link() -> None:
    hostile = replace(
        ALERT,
        title="<!channel> Breaking & <https://evil.example|click> <@U999EVIL>",
        summary="<!here> see <https://evil.example|the truth> & more",
        outlets=("<!everyone>",),
        why_hint="<@U123> said so",
        url="https://news.example.org/a|b>c",
    )
    text, blocks = alert_blocks(hostile)
    for rendered in [text, *mrkdwn_texts(blocks)]:
        # the only "<" left may open our own link token or a date token
        for token in re.findall(r"<([^>]*)>", rendered):
            assert token.startswith(("https://news.example.org/", "!date^")), token
        assert "<!channel>" not in rendered
        assert "<!here>" not in rendered
        assert "<@U999EVIL>" not in rendered
    rendered = "\n".join(mrkdwn_texts(blocks))
    assert "&lt;!channel&gt; Breaking &amp; &lt;https://evil.example" in rendered
    # the "|" and ">" in the URL are percent-encoded, so the link still ends where it should
    assert "<https://news.example.org/a%7Cb%3Ec|" in rendered


def test_emphasis_marks_in_feed_text_do_not_restyle_the_alert() -> None:
    """A headline "*Hamas* _accepts_ ~the~ `deal`" reads as written: nothing turns bold,
    italic, struck or code, and the headline's own bold is not closed early."""
    styled = replace(
        ALERT,
        title="*Hamas* _accepts_ ~the~ `deal`",
        summary="Mediators *say* the _text_ is ~final~ `now`",
        outlets=("*Wire*",),
    )
    text, blocks = alert_blocks(styled)
    headline, summary, *_ = mrkdwn_texts(blocks)
    assert headline.startswith("*<")
    assert headline.endswith(">*")
    label = headline[2:-2].split("|", 1)[1]
    assert not set("*_~`") & set(label)
    assert "Hamas" in label
    assert "accepts" in label
    assert not set("*_~`") & set(summary)
    facts = next(b for b in blocks if "fields" in b)["fields"][0]["text"]
    assert facts.startswith("*Outlets*\n")
    assert "*" not in facts.split("\n", 1)[1]
    assert not set("*_~`") & set(text)


def test_pipe_in_headline_does_not_end_the_link_label() -> None:
    _, blocks = alert_blocks(replace(ALERT, title="Gaza | live: crossings reopen"))
    headline = mrkdwn_texts(blocks)[0]
    label = headline.split("|", 1)[1]
    assert "|" not in label
    assert "crossings reopen>" in label


def test_only_mentions_chosen_by_the_bot_are_rendered_and_only_user_ids() -> None:
    with_mentions = replace(ALERT, mentions=("U024BE7LH", "W0EDITOR2", "!channel", "here"))
    text, blocks = alert_blocks(with_mentions)
    rendered = "\n".join(mrkdwn_texts(blocks))
    assert "<@U024BE7LH>" in rendered
    assert "<@W0EDITOR2>" in rendered
    assert "<@U024BE7LH>" in text
    assert "!channel" not in rendered + text
    assert "<@here>" not in rendered


def test_non_web_url_is_shown_as_plain_headline_without_link() -> None:
    _, blocks = alert_blocks(replace(ALERT, url="javascript:alert(1)"))
    headline = mrkdwn_texts(blocks)[0]
    assert "javascript" not in headline
    assert "Mediators in Cairo" in headline


def test_long_headline_and_summary_are_cut_at_a_word_with_ellipsis() -> None:
    long = replace(ALERT, title="Negotiators " * 40, summary="Delegation & mediators " * 400)
    text, blocks = alert_blocks(long)
    headline = mrkdwn_texts(blocks)[0]
    label = headline.split("|", 1)[1].rstrip(">*")
    assert len(label) <= HEADER_LIMIT
    assert label.endswith("Negotiators…")
    for block in blocks:
        if "text" in block:
            assert len(block["text"]["text"]) <= SECTION_LIMIT
    summary = mrkdwn_texts(blocks)[1]
    assert summary.endswith("…")
    assert not summary.endswith("&amp…")  # an entity is never cut in half
    assert len(text) <= TEXT_LIMIT


def test_shorten_keeps_short_text_and_cuts_long_text_at_word_boundary() -> None:
    assert shorten("Truce holds", 20) == "Truce holds"
    assert shorten("Truce holds in Rafah overnight", 18) == "Truce holds in…"


@pytest.mark.parametrize(
    ("outlets", "expected"),
    [
        (("Wire One",), "Wire One"),
        (("Wire One", "Daily Ledger", "Coast Radio"), "Wire One, Daily Ledger, Coast Radio"),
        (("Wire One", "Daily Ledger", "C", "D", "E"), "Wire One, Daily Ledger +3"),
        (("*Wire* <One>",), "\u2217Wire\u2217 &lt;One&gt;"),
    ],
)
def test_alert_shows_the_one_outlets_line_made_inert(
    outlets: tuple[str, ...], expected: str
) -> None:
    """The wording is ``bot.core.messages.outlets_line``'s; only the escaping is Slack's."""
    _, blocks = alert_blocks(replace(ALERT, outlets=outlets))
    assert f"*Outlets*\n{expected}" in mrkdwn_texts(blocks)


def test_digest_lists_each_story_under_a_header() -> None:
    alerts = tuple(
        replace(ALERT, story_id=f"s{i:04d}", title=f"Crossing update number {i}") for i in range(3)
    )
    text, blocks = digest_blocks(Digest(id="d1", alerts=alerts, created=PUBLISHED))
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"] == "3 stories on the talks"
    rendered = "\n".join(mrkdwn_texts(blocks))
    for i in range(3):
        assert f"Crossing update number {i}>" in rendered
        assert f"`/talks why s{i:04d}`" in rendered
    assert "Crossing update number 0" in text


def test_huge_digest_stays_within_fifty_blocks_and_says_how_many_more() -> None:
    alerts = tuple(replace(ALERT, story_id=f"s{i:04d}") for i in range(120))
    _, blocks = digest_blocks(Digest(id="d2", alerts=alerts, created=PUBLISHED))
    assert len(blocks) <= BLOCKS_LIMIT
    assert "and 72 more" in all_text(blocks)


def test_reply_renders_title_sections_items_and_suggestions() -> None:
    reply = Reply(
        text="Unknown topic 'hostage'. Did you mean: hostages?",
        title="Unknown topic",
        sections=(
            Section(
                title="Latest stories",
                items=(
                    Item(
                        text="Border crossing <reopens> & trucks enter", url="https://x.example/1"
                    ),
                    Item(text="Plain line"),
                ),
                kind="stories",
            ),
        ),
        error=True,
        suggestions=("hostages",),
    )
    text, blocks = reply_blocks(reply)
    assert text == "Unknown topic 'hostage'. Did you mean: hostages?"
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "⚠️ Unknown topic"},
    }
    rendered = "\n".join(mrkdwn_texts(blocks))
    assert "*Latest stories*" in rendered
    assert "• <https://x.example/1|Border crossing &lt;reopens&gt; &amp; trucks enter>" in rendered
    assert "• Plain line" in rendered
    assert "Did you mean: `hostages`" in rendered


def test_reply_without_sections_shows_its_text() -> None:
    _, blocks = reply_blocks(Reply(text="Subscribed to hostages.\nAlerts come by DM."))
    assert mrkdwn_texts(blocks) == ["Subscribed to hostages.\nAlerts come by DM."]


def test_long_reply_is_split_into_sections_within_limits() -> None:
    items = tuple(Item(text=f"Story {i} " + "word " * 60) for i in range(200))
    _, blocks = reply_blocks(Reply(text="status", sections=(Section("Stories", items),)))
    assert len(blocks) <= BLOCKS_LIMIT
    assert all(len(b["text"]["text"]) <= SECTION_LIMIT for b in blocks if "text" in b)
    assert "Story 0 " in all_text(blocks)


def test_digest_mentions_each_subscriber_once() -> None:
    alerts = (
        replace(ALERT, story_id="s1", mentions=("U0EDITOR1", "U0EDITOR2")),
        replace(ALERT, story_id="s2", mentions=("U0EDITOR2",)),
    )
    text, blocks = digest_blocks(Digest(id="d3", alerts=alerts, created=PUBLISHED))
    rendered = "\n".join(mrkdwn_texts(blocks))
    assert rendered.count("<@U0EDITOR2>") == 1
    assert "<@U0EDITOR1>" in rendered
    assert "<@U0EDITOR1> <@U0EDITOR2>" in text
