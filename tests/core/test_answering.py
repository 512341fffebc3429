"""``answer_in_time``: the one acknowledgement rule for Slack and Discord."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.answering import answer_in_time
from bot.core.replies import Caller, Reply

ANNA = Caller("slack", "T1", "U-ANNA", "C-DESK", user_name="anna")


class Desk:
    """A command handler whose answers take ``seconds``; ``status`` counts as slow."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.finished: list[str] = []
        self.callers: list[Caller] = []

    def is_slow(self, text: str) -> bool:
        return text.startswith("status")

    async def handle(self, caller: Caller, text: str) -> Reply:
        self.callers.append(caller)
        await asyncio.sleep(self.seconds)
        self.finished.append(text)
        return Reply(f"answer to {text}")


class Platform:
    """Records what the adapter's platform calls were asked, in order."""

    def __init__(self, *, refuse_ack: bool = False) -> None:
        self.calls: list[tuple[str, str]] = []
        self.refuse_ack = refuse_ack

    async def answer(self, reply: Reply) -> None:
        self.calls.append(("answer", reply.text))

    async def acknowledge(self) -> None:
        if self.refuse_ack:
            raise ConnectionError("interaction expired")
        self.calls.append(("acknowledge", ""))

    async def follow_up(self, reply: Reply) -> None:
        self.calls.append(("follow_up", reply.text))


async def ask(desk: Desk, platform: Platform, text: str, *, caller: object = ANNA) -> Reply:
    return await answer_in_time(
        desk,
        caller,  # type: ignore[arg-type]
        text,
        answer=platform.answer,
        acknowledge=platform.acknowledge,
        follow_up=platform.follow_up,
        deadline=0.1,
    )


async def test_a_quick_answer_goes_in_the_acknowledgement_itself() -> None:
    platform = Platform()
    reply = await ask(Desk(), platform, "topics")
    assert reply.text == "answer to topics"
    assert platform.calls == [("answer", "answer to topics")]


async def test_a_slow_command_is_acknowledged_at_once_then_answered() -> None:
    platform = Platform()
    await ask(Desk(), platform, "status 6h")
    assert platform.calls == [("acknowledge", ""), ("follow_up", "answer to status 6h")]


async def test_an_answer_late_for_the_deadline_is_acknowledged_first() -> None:
    platform = Platform()
    await ask(Desk(seconds=0.3), platform, "subscriptions")
    assert platform.calls == [("acknowledge", ""), ("follow_up", "answer to subscriptions")]


async def test_finding_out_who_asked_counts_against_the_deadline() -> None:
    async def slow_lookup() -> Caller:
        await asyncio.sleep(0.3)
        return ANNA

    desk, platform = Desk(), Platform()
    await ask(desk, platform, "topics", caller=slow_lookup())
    assert desk.callers == [ANNA]
    assert platform.calls == [("acknowledge", ""), ("follow_up", "answer to topics")]


async def test_a_refused_acknowledgement_stops_the_command_nobody_would_see() -> None:
    desk, platform = Desk(seconds=0.3), Platform(refuse_ack=True)
    with pytest.raises(ConnectionError):
        await ask(desk, platform, "status")
    await asyncio.sleep(0.4)
    assert desk.finished == []
    assert platform.calls == []
