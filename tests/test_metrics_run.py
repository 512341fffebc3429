"""``talks-bot run`` with metrics on, as an operator runs it: a real child process on PostgreSQL,
a local feed, the fake Slack Web API; ``/metrics``, ``/healthz`` and ``/readyz`` read over real
HTTP, and ``talks-bot healthcheck`` as Docker's HEALTHCHECK runs it.

The database is reached through a small TCP proxy in this process, so the test can take it away
(stop the proxy and cut every connection through it, as a network partition or a server crash
would) and give it back, and watch ``/readyz`` turn 503 and then 200 again.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from tests.bot_process import BotProcess, bot_env, eventually, free_port, write_config
from tests.chat.slack.fake_slack import FakeSlack
from tests.ingest.servers import FeedServer

BOT_TOKEN = "xoxb-test-metrics-0001"
SIGNING_SECRET = "0cc175b9c0f1b6a831c399e269772661"
DESK = "C-DESK"

FAMILIES = {
    "talks_bot_polls",
    "talks_bot_fetch_duration_seconds",
    "talks_bot_poll_duration_seconds",
    "talks_bot_poll_cycle_duration_seconds",
    "talks_bot_items_parsed",
    "talks_bot_reports_new",
    "talks_bot_stories_created",
    "talks_bot_stories_attached",
    "talks_bot_alerts_sent",
    "talks_bot_updates_sent",
    "talks_bot_digests_sent",
    "talks_bot_chat_api_errors",
    "talks_bot_deliveries_failed",
    "talks_bot_deliveries_pending",
    "talks_bot_store_errors",
    "talks_bot_source_seconds_since_success",
}


class TcpProxy:
    """Forwards 127.0.0.1:port to a target; ``stop`` closes the port and every connection."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            self._writers.clear()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))


@pytest.fixture
async def proxied(postgres_url: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    """A TCP proxy to the test's PostgreSQL database, and the database URL through it."""
    url = make_url(postgres_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    try:
        yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    finally:
        await proxy.stop()


async def get(url: str) -> tuple[int, str]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as answer:
        return answer.status, await answer.text()


async def healthcheck(folder: Path, config: Path, env: dict[str, str]) -> tuple[int, str]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "healthcheck",
        "--config",
        str(config),
        cwd=folder,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(child.communicate(), 30)
    return int(child.returncode or 0), out.decode().strip()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by (name, sorted labels)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.postgres
@pytest.mark.slow
async def test_run_serves_metrics_health_and_readiness_as_the_database_comes_and_goes(
    tmp_path: Path,
    fake_slack: FakeSlack,
    levant_feed: FeedServer,
    proxied: tuple[TcpProxy, str],
) -> None:
    proxy, database = proxied
    metrics_port, slack_port = free_port(), free_port()
    config = write_config(
        tmp_path,
        {"levant": (levant_feed.url("/levant.xml"), "Levant Wire")},
        extra=(
            f'[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n\n'
            f'[slack]\nmode = "http"\nport = {slack_port}\n'
            f'api_base_url = "{fake_slack.base_url}"\n\n'
            f'[[routes]]\nplatform = "slack"\nchannel = "{DESK}"\n'
        ),
    )
    env = bot_env(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "TALKS_BOT_DATABASE_URL": database,
        }
    )
    base = f"http://127.0.0.1:{metrics_port}"
    # Slack turns the first post away once (429): counted, then the alert goes out.
    fake_slack.rate_limit("chat.postMessage", retry_after=1)
    with BotProcess(tmp_path, ["run", "--config", str(config)], env) as bot:
        await eventually(
            lambda: fake_slack.history.get(DESK),
            timeout=30,
            what="the Cairo alert in C-DESK",
            bot=bot,
        )
        assert f"metrics and health on {base} (/metrics, /healthz, /readyz)" in bot.stderr()

        # Posted, then recorded as sent: nothing pending once the store knows.
        text = await scrape_until(base, ("talks_bot_deliveries_pending", "slack", 0.0), bot)
        families = {f.name for f in text_string_to_metric_families(text)}
        assert families >= FAMILIES, f"missing: {FAMILIES - families}"
        seen = samples(text)
        polls_ok = seen[("talks_bot_polls_total", (("outcome", "ok"), ("source", "levant")))]
        assert polls_ok >= 1
        assert seen[("talks_bot_items_parsed_total", (("source", "levant"),))] >= 1
        assert seen[("talks_bot_stories_created_total", (("source", "levant"),))] == 1
        assert seen[("talks_bot_alerts_sent_total", (("platform", "slack"),))] == 1
        assert (
            seen[
                ("talks_bot_chat_api_errors_total", (("kind", "rate_limit"), ("platform", "slack")))
            ]
            == 1
        )
        assert seen[("talks_bot_deliveries_pending", (("platform", "slack"),))] == 0
        assert seen[("talks_bot_fetch_duration_seconds_count", ())] >= 1
        since = seen[("talks_bot_source_seconds_since_success", (("source", "levant"),))]
        assert 0 <= since < 30
        assert BOT_TOKEN not in text, "no secret in a label"
        assert database not in text, "no database address in a label"

        assert await get(f"{base}/healthz") == (200, '{"alive": true}')
        assert await get(f"{base}/readyz") == (200, '{"ready": true}')
        assert await healthcheck(tmp_path, config, env) == (
            0,
            f"healthy: {base}/healthz answered 200",
        )

        # The database goes away: not ready (with the reason), still alive.
        await proxy.stop()
        status, body = await readyz_until(base, 503, bot)
        assert status == 503, body
        assert body.startswith('{"ready": false, "reason": "database unreachable'), body
        assert "\n" not in body
        assert await get(f"{base}/healthz") == (200, '{"alive": true}')
        status, text = await get(f"{base}/metrics")
        assert status == 200
        assert samples(text)[("talks_bot_store_errors_total", (("during", "readiness"),))] >= 1

        # ...and comes back: ready again.
        await proxy.start()
        assert await readyz_until(base, 200, bot) == (200, '{"ready": true}')

        assert await bot.terminate(timeout=10) == 0
    code, line = await healthcheck(tmp_path, config, env)
    assert code == 1
    assert line.startswith(f"unhealthy: {base}/healthz did not answer"), line


async def scrape_until(base: str, want: tuple[str, str, float], bot: BotProcess) -> str:
    """A /metrics scrape once ``name{platform=...}`` has the value wanted (the last after 20 s)."""
    name, platform, value = want
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        status, text = await get(f"{base}/metrics")
        assert status == 200
        if samples(text).get((name, (("platform", platform),))) == value:
            return text
        if asyncio.get_running_loop().time() > deadline:
            return text
        assert not bot.exited(), bot.output()
        await asyncio.sleep(0.2)


async def readyz_until(base: str, status: int, bot: BotProcess) -> tuple[int, str]:
    """/readyz's answer once it has ``status`` (or the last one after 20 s)."""
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        answer = await get(f"{base}/readyz")
        if answer[0] == status or asyncio.get_running_loop().time() > deadline:
            return answer
        assert not bot.exited(), bot.output()
        await asyncio.sleep(0.2)
