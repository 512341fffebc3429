"""Threads on Slack: the alert is the root, later reports are replies carrying its ``thread_ts``,
a re-headline is a word diff, corroboration re-broadcasts once. Real desk, store (SQLite and
PostgreSQL), courier and slack_sdk, against the fake Slack Web API on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack.notifier import SlackNotifier
from bot.core.models import Destination, Subscription
from bot.core.route import Route
from bot.core.thread import ThreadReply
from bot.courier import Courier
from bot.store import SQLStore
from tests.chat.slack.fake_slack import TEAM, Call, FakeSlack
from tests.chat.threads_scenario import (
    HARBOUR,
    LEAD,
    LEVANT,
    NILE,
    NILE_REHEADLINED,
    clock,
    make_desk,
    poll,
    polls_delivered,
)
from tests.core.helpers import report

DESK = Destination("slack", "C0DESK", TEAM)
FLAT = Destination("slack", "C0FLAT", TEAM)
EDITOR = "U0EDITOR"


def courier(store: SQLStore, client: AsyncWebClient) -> Courier:
    """A courier and notifier as a fresh start makes them (tests call it again to restart)."""
    return Courier(store, {"slack": SlackNotifier(client, pace_seconds=0.0)}, clock)


def roots(fake: FakeSlack, channel: str) -> list[dict[str, Any]]:
    return [m for m in fake.history[channel] if "thread_ts" not in m]


def replies(fake: FakeSlack, channel: str) -> list[dict[str, Any]]:
    [root] = roots(fake, channel)
    return fake.threads[(channel, root["ts"])]


def thread_replies(fake: FakeSlack) -> list[Call]:
    """Posts in a thread that are replies (not re-broadcasts of the alert)."""
    posts = fake.calls_to("chat.postMessage")
    return [c for c in posts if c.params.get("thread_ts") and not c.params.get("reply_broadcast")]


def shown(message: dict[str, Any]) -> str:
    return str(message.get("text", "")) + json.dumps(message.get("blocks", []), ensure_ascii=False)


async def test_three_outlets_in_three_polls_give_one_root_and_two_replies(
    store: SQLStore, client: AsyncWebClient, fake: FakeSlack
) -> None:
    desk = make_desk([Route(DESK)])
    await polls_delivered(desk, store, lambda: courier(store, client), [LEVANT], [NILE], [HARBOUR])

    [root] = roots(fake, "C0DESK")
    assert LEVANT.title in shown(root)
    plain = thread_replies(fake)
    assert len(plain) == 2
    assert [c.params["thread_ts"] for c in plain] == [root["ts"], root["ts"]]
    assert "*Nile*" in shown(plain[0].params)
    assert "https://nile.example/b7" in shown(plain[0].params)
    assert "<!date^" in shown(plain[0].params), "each line says when the outlet published it"
    assert "*Harbour*" in shown(plain[1].params)
    assert "Nile" not in shown(plain[1].params), "a reply shows only what the thread has not"
    # The root is still edited in place with the count.
    edits = fake.calls_to("chat.update")
    assert {e.params["ts"] for e in edits} == {root["ts"]}
    assert "Levant, Nile, Harbour" in shown(edits[-1].params)


async def test_reports_between_two_courier_visits_share_one_reply(
    store: SQLStore, client: AsyncWebClient, fake: FakeSlack
) -> None:
    desk = make_desk([Route(DESK)])
    await polls_delivered(desk, store, lambda: courier(store, client), [LEVANT])
    await poll(desk, store, [NILE])
    await polls_delivered(desk, store, lambda: courier(store, client), [HARBOUR])

    [reply] = thread_replies(fake)
    assert "*Nile*" in shown(reply.params)
    assert "*Harbour*" in shown(reply.params)


async def test_corroboration_re_broadcasts_to_the_channel_exactly_once(
    store: SQLStore, client: AsyncWebClient, fake: FakeSlack
) -> None:
    desk = make_desk([Route(DESK)])
    await polls_delivered(desk, store, lambda: courier(store, client), [LEVANT], [NILE])

    broadcasts = [c for c in fake.calls_to("chat.postMessage") if c.params.get("reply_broadcast")]
    [broadcast] = broadcasts
    [root] = roots(fake, "C0DESK")
    assert broadcast.params["thread_ts"] == root["ts"]
    assert "now confirmed by 2 independent outlets" in shown(broadcast.params)
    assert LEVANT.title in shown(broadcast.params), "the alert itself, again, for the channel"
    in_channel = [m for m in fake.history["C0DESK"] if m.get("subtype") == "thread_broadcast"]
    assert len(in_channel) == 1

    # The next outlet, and a restart: a reply, but no second re-broadcast.
    await polls_delivered(desk, store, lambda: courier(store, client), [HARBOUR])
    assert (
        len([c for c in fake.calls_to("chat.postMessage") if c.params.get("reply_broadcast")]) == 1
    )
    assert "*Harbour*" in shown(replies(fake, "C0DESK")[-1])


async def test_a_re_headline_posts_a_word_diff_reply(
    store: SQLStore, client: AsyncWebClient, fake: FakeSlack
) -> None:
    desk = make_desk([Route(DESK)])
    await polls_delivered(
        desk, store, lambda: courier(store, client), [LEVANT, NILE], [NILE_REHEADLINED]
    )

    [diff] = replies(fake, "C0DESK")
    text = shown(diff)
    assert "Nile changed its headline" in text
    assert "~leaves~ *quits*" in text
    assert "~stall~ *collapse*" in text
    assert "https://nile.example/b7" in text


async def test_a_restart_does_not_repeat_replies(
    store: SQLStore, client: AsyncWebClient, fake: FakeSlack
) -> None:
    desk = make_desk([Route(DESK)])
    await polls_delivered(desk, store, lambda: courier(store, client), [LEVANT], [NILE])
    posted = len(fake.calls_to("chat.postMessage"))

    # A new courier and notifier on the same store: nothing is due, nothing is said again.
    report = await courier(store, client).run_once()
    assert report.replies == 0
    assert len(fake.calls_to("chat.postMessage")) == posted
    # A later report after the restart: one reply, with that report alone.
    await polls_delivered(desk, store, lambda: courier(store, client), [HARBOUR])
    assert len(fake.calls_to("chat.postMessage")) == posted + 1
    last = shown(replies(fake, "C0DESK")[-1])
    assert "*Harbour*" in last
    assert "*Nile*" not in last


class Crash(Exception):
    """The process dying (the courier records nothing more after it)."""


class CrashAfterReply(SlackNotifier):
    """Dies right after Slack took a reply, before the courier could record it."""

    async def reply_in_thread(
        self, destination: Destination, root_id: str, reply: ThreadReply
    ) -> str:
        await super().reply_in_thread(destination, root_id, reply)
        raise Crash


async def test_a_reply_posted_just_before_a_crash_is_found_not_posted_again(
    store: SQLStore, client: AsyncWebClient, fake: FakeSlack
) -> None:
    desk = make_desk([Route(DESK)])
    await polls_delivered(desk, store, lambda: courier(store, client), [LEVANT])
    await poll(desk, store, [NILE])
    crashing = Courier(store, {"slack": CrashAfterReply(client, pace_seconds=0.0)}, clock)
    with pytest.raises(Crash):
        await crashing.run_once()
    assert len(replies(fake, "C0DESK")) == 1

    report = await courier(store, client).run_once()
    assert report.adopted == 1
    assert fake.calls_to("conversations.replies"), "it looked in the thread first"
    nile = [m for m in replies(fake, "C0DESK") if "*Nile*" in shown(m)]
    assert len(nile) == 1, "the reply is not posted twice"


async def test_threads_false_keeps_the_alert_flat(
    store: SQLStore, client: AsyncWebClient, fake: FakeSlack
) -> None:
    desk = make_desk([Route(FLAT, threads=False)])
    await polls_delivered(desk, store, lambda: courier(store, client), [LEVANT], [NILE], [HARBOUR])

    assert len(fake.calls_to("chat.postMessage")) == 1
    assert not any("thread_ts" in c.params for c in fake.calls_to("chat.postMessage"))
    edits = fake.calls_to("chat.update")
    assert len(edits) == 2, "edited in place as each outlet joins, as before threads"
    assert "Levant, Nile, Harbour" in shown(edits[-1].params)


async def test_direct_messages_stay_flat(
    store: SQLStore, client: AsyncWebClient, fake: FakeSlack
) -> None:
    await store.add_subscription(Subscription("slack", TEAM, EDITOR, "cairo-delegation"))
    desk = make_desk([Route(DESK)])
    await polls_delivered(desk, store, lambda: courier(store, client), [LEVANT], [NILE], [HARBOUR])

    dm = "D" + EDITOR[1:]
    to_dm = [c for c in fake.calls_to("chat.postMessage") if c.params["channel"] == dm]
    assert len(to_dm) == 1
    assert "thread_ts" not in to_dm[0].params
    assert not [key for key in fake.threads if key[0] == dm]
    assert [e.params["channel"] for e in fake.calls_to("chat.update")].count(dm) == 2


async def test_another_report_from_an_outlet_already_counted_is_replied_too(
    store: SQLStore, client: AsyncWebClient, fake: FakeSlack
) -> None:
    """Same outlets, same story headline: only the thread has news, and the root is not edited."""
    live = report(
        "a2",
        "Hamas delegation leaves Cairo as cease-fire talks stall: live updates",
        LEAD + " Follow the latest.",
        LEVANT.published + timedelta(minutes=45),
        source="levant",
    )
    desk = make_desk([Route(DESK)])
    await polls_delivered(desk, store, lambda: courier(store, client), [LEVANT, NILE])
    edits = len(fake.calls_to("chat.update"))
    await poll(desk, store, [live])
    await courier(store, client).run_once()

    [reply] = thread_replies(fake)
    assert "*Levant*" in shown(reply.params)
    assert "live updates" in shown(reply.params)
    assert len(fake.calls_to("chat.update")) == edits, "the root shows nothing new: not edited"
