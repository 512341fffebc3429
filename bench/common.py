"""Helpers shared by the speed benches: data location, memory and CPU figures, result lines, an
RSS writer, and a notifier that drops messages.

Run any bench from the repository root (``.venv/bin/python bench/NAME.py``); this module makes the
repository importable when a bench is started as a script.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.core.models import (  # noqa: E402  (after the sys.path fix above)
    Alert,
    Destination,
    Digest,
)

SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_data(relative: str) -> Path | None:
    """A path under ../shared/data, or None (after printing the skip lines) when it is missing."""
    path = SHARED_DATA / relative
    if path.exists():
        return path
    print(f"skipped: {path} not found (the shared data folder is not part of a clone)")
    print("result: skipped=1")
    return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def result_line(**figures: float | int | str) -> str:
    """The one ``result: key=value ...`` line every bench ends with."""
    parts = []
    for key, value in figures.items():
        shown = f"{value:.4g}" if isinstance(value, float) and abs(value) < 1 else value
        if isinstance(value, float) and abs(value) >= 1:
            shown = f"{value:.2f}".rstrip("0").rstrip(".")
        parts.append(f"{key}={shown}")
    return "result: " + " ".join(parts)


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One item to write into a rebuilt feed document."""

    guid: str
    title: str
    link: str
    description: str
    """HTML, written escaped into ``<description>`` as feeds do."""
    published: datetime | None


def rss_document(title: str, link: str, entries: Iterable[FeedEntry]) -> bytes:
    """An RSS 2.0 document holding ``entries``."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>{escape(link)}</link>",
        f"<description>{escape(title)}</description>",
    ]
    for entry in entries:
        date = f"<pubDate>{format_datetime(entry.published)}</pubDate>" if entry.published else ""
        parts.append(
            f'<item><guid isPermaLink="false">{escape(entry.guid)}</guid>'
            f"<title>{escape(entry.title)}</title><link>{escape(entry.link)}</link>"
            f"<description>{escape(entry.description)}</description>{date}</item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def source_lines(sources: Iterable[tuple[str, str, str]], **extra: str) -> list[str]:
    """``[[sources]]`` TOML lines for (name, outlet, url) triples; ``extra`` keys go on each."""
    lines: list[str] = []
    for name, outlet, url in sources:
        lines += ["", "[[sources]]", f"name = {json.dumps(name)}", f"outlet = {json.dumps(outlet)}"]
        lines += [f"url = {json.dumps(url)}"]
        lines += [f"{key} = {json.dumps(value)}" for key, value in extra.items()]
    return lines


def replay_jsonl(
    config: Path, *, python: str = sys.executable, cwd: Path, timeout: float = 3600
) -> tuple[list[dict[str, object]], float]:
    """Run ``talks-bot poll-once --replay --output jsonl`` on ``config``: its JSON lines and the
    seconds it took. Exits with the CLI's error output when it fails."""
    started = time.perf_counter()
    done = subprocess.run(
        [python, "-m", "bot", "poll-once", "--config", str(config), "--replay", "--output",
         "jsonl"],
        capture_output=True, text=True, cwd=cwd, check=False, timeout=timeout,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"talks-bot poll-once exited {done.returncode}")
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return events, seconds


class NullNotifier:
    """A chat platform that accepts every message and shows it to nobody."""

    platform = "console"

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, destination: Destination, alert: Alert) -> str:
        self.sent += 1
        return f"m{self.sent}"

    async def update(self, destination: Destination, message_id: str, alert: Alert) -> None:
        return None

    async def send_digest(self, destination: Destination, digest: Digest) -> str:
        self.sent += 1
        return f"d{self.sent}"


def serve_forever(routes: list[Any], hosts: list[str], port_queue: Any) -> None:
    """A child process's feed server: aiohttp ``routes`` on every one of ``hosts`` at one port
    (chosen on the first host), the port put on ``port_queue``, then serving until killed."""
    import asyncio

    from aiohttp import web

    async def main() -> None:
        app = web.Application()
        app.add_routes(routes)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        first = web.TCPSite(runner, hosts[0], 0, backlog=1024)
        await first.start()
        port = first._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        for host in hosts[1:]:
            await web.TCPSite(runner, host, port, backlog=1024).start()
        port_queue.put(port)
        await asyncio.Event().wait()

    asyncio.run(main())


def call(url: str, method: str = "GET") -> dict[str, int]:
    """A JSON control request to a bench's feed server (``POST`` sends an empty body)."""
    import urllib.request

    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=60) as response:
        data: dict[str, int] = json.loads(response.read())
        return data
