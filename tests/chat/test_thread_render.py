"""Thread replies as each platform shows them: diffs in its own marks, feed text inert, a big
story's reply cut to one message."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

from bot.chat.console import ConsoleNotifier
from bot.chat.discord.render import CONTENT_LIMIT, thread_reply_content
from bot.chat.slack.render import BLOCKS_LIMIT, SECTION_LIMIT, thread_reply_blocks
from bot.core.models import Alert, AlertReport, Destination
from bot.core.thread import ThreadReply, opened, plan

T0 = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)


def reply_for(old: list[AlertReport], new: list[AlertReport]) -> ThreadReply:
    def alert(reports: list[AlertReport]) -> Alert:
        return Alert(
            "st-9",
            reports[0].title,
            reports[0].url,
            "",
            ("Levant",),
            T0,
            ("rafah",),
            0.7,
            reports=tuple(reports),
        )

    todo = plan(opened(alert(old)), alert(new))
    assert todo.reply is not None
    return todo.reply


FIRST = AlertReport("k1", "Levant", "Truce deal reached in Cairo", "https://levant.example/k1", T0)
REHEADLINED = AlertReport(
    "k1",
    "Levant",
    "Correction: no truce deal reached in Cairo",
    "https://levant.example/k1",
    T0 + timedelta(minutes=5),
)
HOSTILE = AlertReport(
    "k2",
    "<!channel> Wire",
    "*Hamas* ~rejects~ `deal` <@U0BOSS> @everyone **now**",
    "https://wire.example/k2",
    T0,
)


def test_slack_diff_strikes_the_old_words_and_bolds_the_new() -> None:
    _text, blocks = thread_reply_blocks(reply_for([FIRST], [REHEADLINED]))
    line = blocks[0]["text"]["text"]
    assert line.startswith("✎ *<https://levant.example/k1|Correction from Levant>*: ")
    assert "~Truce~ *Correction: no truce*" in line
    assert "deal reached in Cairo" in line


def test_slack_reply_keeps_feed_text_inert() -> None:
    text, blocks = thread_reply_blocks(reply_for([FIRST], [FIRST, HOSTILE]))
    sent = text + json.dumps(blocks)
    assert "<!channel>" not in sent
    assert "<@U0BOSS>" not in sent
    assert "&lt;!channel&gt; Wire" in sent
    assert "*Hamas*" not in sent, "the feed's own emphasis marks do nothing"


def test_discord_diff_and_inert_feed_text() -> None:
    diff = thread_reply_content(reply_for([FIRST], [REHEADLINED]))
    assert "~~Truce~~ **Correction: no truce**" in diff
    assert diff.startswith("✎ **Correction from Levant**: ")
    hostile = thread_reply_content(reply_for([FIRST], [FIRST, HOSTILE]))
    assert "\\*Hamas\\*" in hostile
    assert "\\~rejects\\~" in hostile
    assert "\\<@U0BOSS\\>" in hostile


def test_a_big_story_fits_one_message_on_both_platforms() -> None:
    many = [
        AlertReport(
            f"k{i}",
            f"Outlet {i}",
            f"Hostage deal report number {i} " + "word " * 40,
            f"https://o{i}.example/{i}",
            T0,
        )
        for i in range(300)
    ]
    reply = reply_for([FIRST], [FIRST, *many])
    content = thread_reply_content(reply)
    assert len(content) <= CONTENT_LIMIT
    assert content.splitlines()[-1].startswith("…and ")
    assert content.splitlines()[-1].endswith(" more reports")
    _text, blocks = thread_reply_blocks(reply)
    assert len(blocks) <= BLOCKS_LIMIT
    assert all(len(b["text"]["text"]) <= SECTION_LIMIT for b in blocks if b["type"] == "section")
    shown = sum(b["text"]["text"].count("\n") + 1 for b in blocks if b["type"] == "section")
    more = (
        int(blocks[-1]["elements"][0]["text"].split()[1]) if blocks[-1]["type"] == "context" else 0
    )
    assert shown + more == 300, "every report is shown or counted"


async def test_console_prints_replies_indented_under_their_alert() -> None:
    out = io.StringIO()
    console = ConsoleNotifier(out)
    await console.reply_in_thread(
        Destination("console", "desk"), "console-1", reply_for([FIRST], [REHEADLINED])
    )
    lines = out.getvalue().splitlines()
    assert lines[0] == "   ↳ in thread of console-1 (st-9)"
    assert lines[1].startswith(
        "     Correction from Levant: [-Truce-] {+Correction: no truce+} deal"
    )


async def test_console_json_lines_carry_no_reply_events() -> None:
    out = io.StringIO()
    console = ConsoleNotifier(out, jsonl=True)
    await console.reply_in_thread(
        Destination("console", "desk"), "console-1", reply_for([FIRST], [REHEADLINED])
    )
    assert out.getvalue() == ""
