"""Slack misbehaves or the operator stops the bot; every alert still arrives exactly once.

* An outage: for a while every Web API call answers 429 with Retry-After, 500 or 503. The bot
  keeps the alerts pending, backs off, and delivers them by itself once Slack is back.
* SIGTERM (``docker stop``, systemd): the bot stops within seconds with exit code 0; what it had
  not sent yet is sent by the next start, once.

Reproduce::

    .venv/bin/pytest -s tests/faults/test_chat_faults.py
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.bot_process import eventually
from tests.faults.harness import (
    DEVELOPMENTS,
    Desk,
    FaultySlack,
    Newsroom,
    describe,
    desk_config,
    free_port,
    ledger,
    until_all_delivered,
)
from tests.ingest.servers import FeedServer


@pytest.mark.slow
async def test_slack_outage_with_rate_limits_and_errors_delays_but_loses_nothing(
    tmp_path: Path, slack: FaultySlack, record_property: Callable[[str, object], None]
) -> None:
    developments = DEVELOPMENTS[:12]
    with FeedServer() as feeds:
        newsroom = Newsroom(feeds, developments)
        newsroom.publish(6)
        config = desk_config(tmp_path, feeds, slack, port=free_port())
        desk = Desk(tmp_path, config, f"sqlite:///{tmp_path / 'desk.db'}")
        try:
            slack.outage(5)  # Slack is already in trouble when the bot starts
            bot = desk.start()
            await eventually(
                lambda: ledger(slack, developments[:1]).delivered,
                timeout=40,
                what="the first alert after the outage",
                bot=bot,
            )
            # A second outage while alerts are flowing and new developments arrive.
            newsroom.publish_all()
            slack.outage(4)
            result = await until_all_delivered(slack, developments, bot, timeout=60)
            exit_code = await bot.terminate(timeout=8)
        finally:
            desk.close()
    figures = {
        "refused_calls": slack.refused,
        **result.figures(),
        "retries_logged": desk.logs("retrying in"),
    }
    print("\n" + describe("slack-outage", figures))
    for key, value in figures.items():
        record_property(key, value)
    assert slack.refused > 0, "the outage was never felt"
    assert figures["retries_logged"] > 0, "no delivery was set back by the outage"
    assert result.lost == 0, f"alerts lost: {result.missing()}\n{desk.tail()}"
    assert result.duplicated == 0, f"alerts posted twice: {result.doubled()}"
    assert not result.strays, result.strays
    assert exit_code == 0, desk.tail()
    assert desk.logs("failed for good") == 0, "an outage is not a reason to give up"


@pytest.mark.slow
async def test_sigterm_stops_within_seconds_and_next_start_sends_the_rest_once(
    tmp_path: Path, slack: FaultySlack, record_property: Callable[[str, object], None]
) -> None:
    developments = DEVELOPMENTS[:12]
    with FeedServer() as feeds:
        newsroom = Newsroom(feeds, developments)
        newsroom.publish_all()  # 36 alerts: Slack's pace (1 a second a channel) needs ~12 s
        config = desk_config(tmp_path, feeds, slack, port=free_port())
        desk = Desk(tmp_path, config, f"sqlite:///{tmp_path / 'desk.db'}")
        try:
            bot = desk.start()
            await eventually(
                lambda: ledger(slack, developments).delivered >= 3,
                timeout=20,
                what="alerts flowing",
                bot=bot,
            )
            asked = time.monotonic()
            exit_code = await bot.terminate(timeout=5)
            stop_seconds = time.monotonic() - asked
            at_stop = ledger(slack, developments)
            again = desk.start()
            result = await until_all_delivered(slack, developments, again, timeout=40)
            second_exit = await again.terminate(timeout=5)
        finally:
            desk.close()
    figures = {
        "stop_seconds": round(stop_seconds, 2),
        "delivered_before_stop": at_stop.delivered,
        **result.figures(),
    }
    print("\n" + describe("sigterm", figures))
    for key, value in figures.items():
        record_property(key, value)
    assert exit_code == 0, desk.runs[0].output()[-3000:]
    assert at_stop.lost > 0, "the stop came too late to leave anything pending"
    assert at_stop.duplicated == 0
    assert result.lost == 0, f"alerts lost: {result.missing()}\n{desk.tail()}"
    assert result.duplicated == 0, f"alerts posted twice: {result.doubled()}"
    assert second_exit == 0, desk.tail()
