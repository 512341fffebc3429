"""What an operator's Prometheus sees after real polls and deliveries, what /readyz and /healthz
answer, and how [metrics] is configured and refused. The bot here runs in this process over a
local feed server and SQLite; ``test_metrics_run.py`` runs the real ``talks-bot run``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import TalksBot
from bot.config import load_config
from bot.core.models import Alert, Destination, Digest
from bot.errors import ConfigError, DeliveryError
from bot.healthserver import HealthServer
from bot.metrics import BotMetrics, CountingNotifier
from tests.bot_process import bot_env, free_port, rss, write_config
from tests.ingest.servers import FeedServer

NOW = datetime.now(UTC).replace(microsecond=0)
CAIRO = (
    "w-1",
    "Hamas delegation arrives in Cairo for cease-fire talks",
    "A Hamas delegation arrived in Cairo for talks with Egyptian mediators on a truce.",
    NOW - timedelta(minutes=20),
)
CAIRO_AGAIN = (
    "n-1",
    "Hamas delegation arrives in Cairo for a new round of cease-fire talks",
    "The delegation was received by Egyptian mediators in Cairo to discuss a truce.",
    NOW - timedelta(minutes=10),
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(metrics: BotMetrics) -> Samples:
    text = metrics.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def of(seen: Samples, name: str, **labels: str) -> float:
    return seen.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.serve("/levant.xml", rss("Levant Wire", [CAIRO]), etag='"v1"')
        server.serve("/nile.xml", rss("Nile Courier", [CAIRO_AGAIN]), etag='"n1"')
        server.fail("/gone.xml", 500)
        yield server


@pytest.fixture(autouse=True)
def _no_metrics_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TALKS_BOT_METRICS_LISTEN", raising=False)


def config_file(folder: Path, feeds: FeedServer, extra: str = "") -> Path:
    return write_config(
        folder,
        {
            "levant": (feeds.url("/levant.xml"), "Levant Wire"),
            "nile": (feeds.url("/nile.xml"), "Nile Courier"),
            "gone": (feeds.url("/gone.xml"), "Gone Daily"),
        },
        extra=extra,
    )


@pytest.fixture
async def bot(
    tmp_path: Path, feeds: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[TalksBot]:
    monkeypatch.setenv("TALKS_BOT_DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    listen = f'[metrics]\nlisten = "127.0.0.1:{free_port()}"\n'
    settings = load_config(config_file(tmp_path, feeds, listen), env_file=None)
    async with TalksBot(settings) as opened:
        yield opened


# --- polls and deliveries, counted ------------------------------------------------------------
async def test_polls_are_counted_by_source_and_outcome(bot: TalksBot) -> None:
    assert bot.metrics is not None
    levant, nile, gone = bot.sources
    await bot.poller.poll(levant)
    await bot.poller.poll(nile)
    await bot.poller.poll(gone)
    await bot.poller.poll(levant)  # unchanged: the feed answers 304
    seen = samples(bot.metrics)
    assert of(seen, "talks_bot_polls_total", source="levant", outcome="ok") == 1
    assert of(seen, "talks_bot_polls_total", source="levant", outcome="not_modified") == 1
    assert of(seen, "talks_bot_polls_total", source="gone", outcome="failed") == 1
    assert of(seen, "talks_bot_items_parsed_total", source="levant") == 1
    assert of(seen, "talks_bot_reports_new_total", source="nile") == 1
    assert of(seen, "talks_bot_stories_created_total", source="levant") == 1
    # Nile's report is the same development: it joins Levant's story.
    assert of(seen, "talks_bot_stories_attached_total", source="nile") == 1
    assert of(seen, "talks_bot_stories_created_total", source="nile") == 0
    assert of(seen, "talks_bot_fetch_duration_seconds_count") == 4
    assert of(seen, "talks_bot_poll_duration_seconds_count") == 4
    since = {
        labels: value
        for (name, labels), value in seen.items()
        if name == "talks_bot_source_seconds_since_success"
    }
    assert set(since) == {(("source", "levant"),), (("source", "nile"),)}, "gone never succeeded"
    assert all(0 <= value < 60 for value in since.values())


async def test_a_poll_the_database_did_not_save_counts_as_unsaved_and_a_store_error(
    bot: TalksBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.errors import StoreError

    assert bot.metrics is not None

    async def refuse(*args: object, **kwargs: object) -> None:
        raise StoreError("database is locked: try again")

    monkeypatch.setattr(bot.store, "commit_poll", refuse)
    cycle = await bot.poller.cycle(bot.sources[:1])
    assert cycle.polls[0].unsaved
    seen = samples(bot.metrics)
    assert of(seen, "talks_bot_polls_total", source="levant", outcome="unsaved") == 1
    assert of(seen, "talks_bot_store_errors_total", during="poll") == 1
    assert of(seen, "talks_bot_poll_cycle_duration_seconds_count") == 1


async def test_alerts_are_counted_by_platform_and_pending_until_sent(bot: TalksBot) -> None:
    assert bot.metrics is not None
    await bot.poller.poll(bot.sources[0])
    await bot.metrics.count_pending(bot.store, bot.clock())
    seen = samples(bot.metrics)
    assert of(seen, "talks_bot_deliveries_pending", platform="console") == 1
    assert of(seen, "talks_bot_alerts_sent_total", platform="console") == 0
    await bot.deliver()
    await bot.metrics.count_pending(bot.store, bot.clock())
    seen = samples(bot.metrics)
    assert of(seen, "talks_bot_alerts_sent_total", platform="console") == 1
    assert of(seen, "talks_bot_deliveries_pending", platform="console") == 0
    await bot.poller.poll(bot.sources[1])  # another outlet: the alert is edited in place
    await bot.deliver()
    assert of(samples(bot.metrics), "talks_bot_updates_sent_total", platform="console") == 1


class Refusing:
    """A chat platform that refuses every call with the error it is given."""

    platform = "slack"

    def __init__(self, error: DeliveryError) -> None:
        self.error = error

    async def send(self, destination: Destination, alert: Alert) -> str:
        raise self.error

    async def update(self, destination: Destination, message_id: str, alert: Alert) -> None:
        raise self.error

    async def send_digest(self, destination: Destination, digest: Digest) -> str:
        raise self.error


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (DeliveryError("slow down", retry_after=30, unposted=True), "rate_limit"),
        (DeliveryError("Slack is having trouble (HTTP 503)", retry_after=5), "transient"),
        (DeliveryError("channel_not_found", permanent=True), "permanent"),
    ],
)
async def test_chat_errors_are_counted_by_platform_and_kind(
    bot: TalksBot, error: DeliveryError, kind: str
) -> None:
    assert bot.metrics is not None
    bot.add_notifier(Refusing(error))
    await bot.poller.poll(bot.sources[0])
    digest = Digest(id="d-1", alerts=(), created=NOW, title="digest")
    with pytest.raises(DeliveryError):
        await bot.notifiers["slack"].send_digest(Destination("slack", "C1"), digest)
    seen = samples(bot.metrics)
    assert of(seen, "talks_bot_chat_api_errors_total", platform="slack", kind=kind) == 1
    assert of(seen, "talks_bot_digests_sent_total", platform="slack") == 0


async def test_a_delivery_refused_for_good_counts_as_failed(
    tmp_path: Path, feeds: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TALKS_BOT_DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("TALKS_BOT_METRICS_LISTEN", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-unused")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "unused-signing-secret")
    route = '[slack]\nmode = "http"\n\n[[routes]]\nplatform = "slack"\nchannel = "C-GONE"\n'
    settings = load_config(config_file(tmp_path, feeds, route), env_file=None)
    async with TalksBot(settings) as bot:
        assert bot.metrics is not None
        bot.add_notifier(Refusing(DeliveryError("channel_not_found", permanent=True)))
        await bot.poller.poll(bot.sources[0])
        bot.metrics.delivered(await bot.deliver())
        seen = samples(bot.metrics)
    assert of(seen, "talks_bot_deliveries_failed_total") == 1
    assert of(seen, "talks_bot_chat_api_errors_total", platform="slack", kind="permanent") == 1


def test_each_bot_has_its_own_registry() -> None:
    first, second = BotMetrics(), BotMetrics()
    first.store_failed("poll")
    assert of(samples(first), "talks_bot_store_errors_total", during="poll") == 1
    assert of(samples(second), "talks_bot_store_errors_total", during="poll") == 0


def test_the_wrapper_offers_find_posted_only_when_the_platform_can_look() -> None:
    metrics = BotMetrics()
    assert (
        getattr(CountingNotifier(Refusing(DeliveryError("x")), metrics), "find_posted", None)
        is None
    )

    class Looking(Refusing):
        async def find_posted(self, *args: object, **kwargs: object) -> str | None:
            raise self.error

    assert callable(CountingNotifier(Looking(DeliveryError("x")), metrics).find_posted)


# --- /healthz, /readyz, /metrics over HTTP -------------------------------------------------------
async def answer(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, response.headers["Content-Type"], await response.text()


async def test_endpoints_answer_over_http(bot: TalksBot) -> None:
    assert bot.metrics is not None
    server = HealthServer(bot, bot.metrics, bot.settings.metrics_listen)
    await server.start()
    try:
        # Not running its scheduler (``run`` was not started): not alive.
        status, _, body = await answer(f"{server.url}/healthz")
        assert (status, body) == (
            503,
            '{"alive": false, "reason": "scheduler not running: the bot is starting or stopping"}',
        )
        assert (await answer(f"{server.url}/readyz"))[::2] == (200, '{"ready": true}')
        await bot.poller.poll(bot.sources[0])
        status, kind, text = await answer(f"{server.url}/metrics")
        assert status == 200
        assert kind.startswith("text/plain")
        assert 'talks_bot_deliveries_pending{platform="console"} 1.0' in text
        assert 'talks_bot_polls_total{outcome="ok",source="levant"} 1.0' in text
    finally:
        await server.stop()


class Gateway(Refusing):
    platform = "discord"
    up = False

    def connected(self) -> bool:
        return self.up


async def test_not_ready_while_no_chat_connection_the_routes_need_is_up(
    tmp_path: Path, feeds: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TALKS_BOT_DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("TALKS_BOT_METRICS_LISTEN", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("DISCORD_TOKEN", "unused-discord-token")
    route = '[discord]\n\n[[routes]]\nplatform = "discord"\nchannel = "123456789012345678"\n'
    settings = load_config(config_file(tmp_path, feeds, route), env_file=None)
    async with TalksBot(settings) as bot:
        assert bot.metrics is not None
        server = HealthServer(bot, bot.metrics, bot.settings.metrics_listen)
        assert await server.unready() == (
            "no chat connection up (discord): the routes need one to deliver"
        )
        gateway = Gateway(DeliveryError("x"))
        bot.add_notifier(gateway)
        assert await server.unready() is not None, "registered, but the gateway is down"
        gateway.up = True
        assert await server.unready() is None


async def test_a_taken_port_is_one_line_naming_the_fix(bot: TalksBot) -> None:
    assert bot.metrics is not None
    first = HealthServer(bot, bot.metrics, bot.settings.metrics_listen)
    await first.start()
    try:
        with pytest.raises(Exception, match=r"^metrics cannot listen on 127\.0\.0\.1:\d+ .*: "):
            await HealthServer(bot, bot.metrics, bot.settings.metrics_listen).start()
    finally:
        await first.stop()


# --- configuration --------------------------------------------------------------------------------
def test_metrics_are_off_by_default(tmp_path: Path, feeds: FeedServer) -> None:
    settings = load_config(config_file(tmp_path, feeds), env_file=None)
    assert settings.metrics_listen == ""
    assert TalksBot(settings).metrics is None


@pytest.mark.parametrize("value", ["9464", "localhost", "127.0.0.1:http", "127.0.0.1:70000", ":"])
def test_a_bad_address_is_one_line_naming_the_key_and_the_fix(
    tmp_path: Path, feeds: FeedServer, value: str
) -> None:
    path = config_file(tmp_path, feeds, f'[metrics]\nlisten = "{value}"\n')
    with pytest.raises(ConfigError) as raised:
        load_config(path, env_file=None)
    [problem] = raised.value.problems
    assert problem == (
        f"metrics.listen: {value!r} is not an address to listen on: write HOST:PORT, e.g. "
        "'127.0.0.1:9464' ('0.0.0.0:9464' in a container), or leave it out to keep metrics off"
    )


def test_the_environment_wins_and_is_checked_too(
    tmp_path: Path, feeds: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = config_file(tmp_path, feeds, '[metrics]\nlisten = "127.0.0.1:9464"\n')
    monkeypatch.setenv("TALKS_BOT_METRICS_LISTEN", "[::1]:9500")
    assert load_config(path, env_file=None).metrics_listen == "[::1]:9500"
    monkeypatch.setenv("TALKS_BOT_METRICS_LISTEN", "everywhere")
    with pytest.raises(ConfigError) as raised:
        load_config(path, env_file=None)
    assert raised.value.problems[0].startswith(
        "TALKS_BOT_METRICS_LISTEN: 'everywhere' is not an address to listen on"
    )


def talks_bot(folder: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=folder,
        env=bot_env(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_config_names_the_address_and_refuses_a_bad_one(
    tmp_path: Path, feeds: FeedServer
) -> None:
    env = {"TALKS_BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'desk.db'}"}
    path = config_file(tmp_path, feeds, '[metrics]\nlisten = "0.0.0.0:9464"\n')
    done = talks_bot(tmp_path, "check-config", "--config", str(path), env=env)
    assert done.returncode == 0, done.stderr
    assert "  metrics: 0.0.0.0:9464\n" in done.stdout
    bad = talks_bot(
        tmp_path,
        "check-config",
        "--config",
        str(path),
        env={**env, "TALKS_BOT_METRICS_LISTEN": "9464"},
    )
    assert bad.returncode == 2
    assert "config error: TALKS_BOT_METRICS_LISTEN: '9464' is not an address" in bad.stderr


def test_healthcheck_fails_in_one_line_when_off_or_nobody_answers(
    tmp_path: Path, feeds: FeedServer
) -> None:
    off = config_file(tmp_path, feeds)
    done = talks_bot(tmp_path, "healthcheck", "--config", str(off), env={})
    assert done.returncode == 1
    assert done.stderr.startswith("healthcheck: metrics are off")
    port = free_port()
    done = talks_bot(
        tmp_path,
        "healthcheck",
        "--config",
        str(off),
        env={"TALKS_BOT_METRICS_LISTEN": f"0.0.0.0:{port}"},
    )
    assert done.returncode == 1
    assert done.stdout.startswith(f"unhealthy: http://127.0.0.1:{port}/healthz did not answer")
    assert len(done.stdout.strip().splitlines()) == 1
