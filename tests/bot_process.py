"""The real ``talks-bot`` as a child process, for tests that drive it against fake servers.

The fakes (Slack, Discord, feeds) run in the test process on 127.0.0.1; the bot runs exactly as an
operator starts it (``python -m bot run --config FILE`` with secrets in the environment), and its
stdout and stderr go to files the test can read while it runs. Waiting is always polling with a
deadline, never a fixed sleep, and ``BotProcess`` is a context manager that kills the child on the
way out whatever happened.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from email.utils import format_datetime
from html import escape
from pathlib import Path
from types import TracebackType
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")

_INHERITED_SECRETS = (
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "DISCORD_TOKEN",
    "TALKS_BOT_DATABASE_URL",
)


# feeds -----------------------------------------------------------------------------------------
def rss(outlet: str, items: Sequence[tuple[str, str, str, datetime]]) -> bytes:
    """An RSS 2.0 document: items are (guid, headline, lead paragraph, published)."""
    host = outlet.lower().replace(" ", "")
    entries = "".join(
        f"""
    <item>
      <guid isPermaLink="false">{guid}</guid>
      <title>{escape(title)}</title>
      <link>https://{host}.example/news/{guid}</link>
      <description>{escape(f"<p>{lead}</p>")}</description>
      <pubDate>{format_datetime(when)}</pubDate>
    </item>"""
        for guid, title, lead, when in items
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>{escape(outlet)}</title><link>https://{host}.example/</link>
<description>{escape(outlet)} latest</description>{entries}
</channel></rss>""".encode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(
    folder: Path, sources: Mapping[str, tuple[str, str]], *, extra: str = "", interval: str = "1s"
) -> Path:
    """A config polling ``sources`` (name -> (url, outlet)) every ``interval``, with the shipped
    topics; ``extra`` holds the [slack]/[discord] tables and routes."""
    lines = ['[bot]\npoll_jitter = "0.1s"\n']
    for name, (url, outlet) in sources.items():
        lines.append(
            f'[[sources]]\nname = "{name}"\nurl = "{url}"\noutlet = "{outlet}"\n'
            f'interval = "{interval}"\n'
        )
    topics = f'topics_from = "{ROOT / "config" / "default.toml"}"\n'
    path = folder / "talks.toml"
    path.write_text("\n".join([topics, *lines, extra]), encoding="utf-8")
    return path


def bot_env(secrets: Mapping[str, str]) -> dict[str, str]:
    """The environment of the child: ours without any inherited secret, plus ``secrets``."""
    env = {k: v for k, v in os.environ.items() if k not in _INHERITED_SECRETS}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(secrets)
    return env


def poll_once(
    folder: Path, config: Path, *, timeout: float = 120, secrets: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m bot poll-once --config CONFIG --output jsonl`` in ``folder``, to completion."""
    return subprocess.run(
        [sys.executable, "-m", "bot", "poll-once", "--config", str(config), "--output", "jsonl"],
        cwd=folder,
        env=bot_env(secrets or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# waiting ---------------------------------------------------------------------------------------
async def eventually(
    probe: Callable[[], T | None],
    *,
    timeout: float = 10.0,  # noqa: ASYNC109 -- a polling deadline, not a cancellation scope
    what: str = "",
    bot: BotProcess | None,
) -> T:
    """``probe()``'s first truthy value, polled while the event loop keeps serving the fakes."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if bot is not None and bot.exited():
            raise AssertionError(f"the bot exited while waiting for {what}:\n{bot.output()}")
        if time.monotonic() > deadline:
            log = f"\n--- bot output ---\n{bot.output()}" if bot is not None else ""
            raise AssertionError(f"gave up after {timeout:g}s waiting for {what}{log}")
        await asyncio.sleep(0.05)


# the process -----------------------------------------------------------------------------------
class BotProcess:
    """``python -m bot ARGS`` in ``folder`` (so no stray ``.env`` is read), output to files."""

    def __init__(self, folder: Path, args: Sequence[str], env: Mapping[str, str]) -> None:
        self.folder = folder
        self.args = list(args)
        self.env = dict(env)
        self.stdout_path = folder / "bot.stdout"
        self.stderr_path = folder / "bot.stderr"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> BotProcess:
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", *self.args],
                cwd=self.folder,
                env=self.env,
                stdout=out,
                stderr=err,
            )
        return self

    def __enter__(self) -> BotProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def output(self) -> str:
        return self.stdout() + self.stderr()

    def problems(self) -> list[str]:
        """Log lines an operator would have to look into: warnings, errors, tracebacks."""
        return [
            line
            for line in self.output().splitlines()
            if any(word in line for word in (" WARNING ", " ERROR ", " CRITICAL ", "Traceback"))
        ]

    async def finished(self, timeout: float = 20.0) -> int:  # noqa: ASYNC109 -- see eventually
        """The exit code once the process ends by itself; AssertionError after ``timeout`` s."""
        assert self.process is not None
        await eventually(self.exited, timeout=timeout, what="the bot to exit", bot=None)
        return int(self.process.returncode)

    async def terminate(self, timeout: float = 5.0) -> int:  # noqa: ASYNC109 -- see eventually
        """SIGTERM, as systemd or ``docker stop`` sends it; the exit code within ``timeout`` s."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return await self.finished(timeout)
        except AssertionError:
            raise AssertionError(
                f"the bot did not stop within {timeout:g}s of SIGTERM:\n{self.output()}"
            ) from None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
