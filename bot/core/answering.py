"""Answering a chat command before the platform gives up on it, for every platform at once.

Slack drops a slash command that is not acknowledged within 3 seconds, and Discord expires an
interaction that is not answered or deferred within 3 seconds. The rule is the same for both,
so it is written once, here: answer in the acknowledgement when the answer is ready in time, and
otherwise acknowledge first ("Working on it…", "thinking…") and send the answer when it is
ready. Commands known to be slow (``is_slow``) are acknowledged at once. The adapters pass in
their platform's calls (Slack's ``ack`` and ``respond``, Discord's ``send_message``, ``defer`` and
``edit_original_response``) and only translate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.core.replies import Caller, Reply

ANSWER_DEADLINE = 2.0
"""Seconds a command may run before it is acknowledged and answered later: both platforms allow
3 s, and the acknowledgement itself needs a moment on the wire."""

Send = Callable[[Reply], Awaitable[None]]


class CommandHandler(Protocol):
    """What an adapter needs from ``bot.core.commands.Commands``: ``handle`` never raises, every
    failure comes back as a ``Reply`` (see ``Commands.handle``)."""

    async def handle(self, caller: Caller, text: str) -> Reply: ...

    def is_slow(self, text: str) -> bool: ...


async def answer_in_time(
    commands: CommandHandler,
    caller: Caller | Awaitable[Caller],
    text: str,
    *,
    answer: Send,
    acknowledge: Callable[[], Awaitable[None]],
    follow_up: Send,
    deadline: float = ANSWER_DEADLINE,
) -> Reply:
    """Run ``text`` for ``caller`` and deliver the reply in time; returns the reply.

    ``caller`` may be still to be found out (Slack asks ``users.info`` whether the caller is an
    admin): that look-up counts against the deadline too. A reply ready within ``deadline`` goes
    out with ``answer``, as the acknowledgement itself. Otherwise, and at once for a slow
    command, ``acknowledge`` is called and the reply goes out with ``follow_up`` when it is
    ready. When acknowledging or sending fails (the platform expired the command), the error is
    the caller's to log, and a command still running is cancelled: nobody would see its answer.
    """
    work = asyncio.ensure_future(_handle(commands, caller, text))
    try:
        if not commands.is_slow(text):
            done, _ = await asyncio.wait({work}, timeout=deadline)
            if done:
                reply = work.result()
                await answer(reply)
                return reply
        await acknowledge()
        reply = await work
        await follow_up(reply)
        return reply
    finally:
        if not work.done():
            work.cancel()


async def _handle(commands: CommandHandler, caller: Caller | Awaitable[Caller], text: str) -> Reply:
    who = caller if isinstance(caller, Caller) else await caller
    return await commands.handle(who, text)
