"""``run --replay`` replays: on the same captured feeds it alerts what ``poll-once --replay`` does.

Captured feeds are yesterday's (and older): a live poll ignores them (``max_item_age``), a replay
judges each item at its own published time. Both commands run for real, on their own SQLite file.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.bot_process import BotProcess, bot_env, eventually, rss


def _captured(folder: Path) -> dict[str, tuple[str, str]]:
    """Two outlets' feeds as captured three days ago: four developments, one told twice."""
    then = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    feeds = {
        "levant": (
            "Levant Wire",
            [
                ("lw-1", "Hamas delegation arrives in Cairo for truce talks",
                 "A Hamas delegation arrived in Cairo for talks with Egyptian mediators.", then),
                ("lw-2", "Israel's war cabinet rejects the latest hostage proposal",
                 "The war cabinet turned down the proposal carried by Qatari mediators.",
                 then + timedelta(hours=2)),
                ("lw-3", "Egypt reopens the Rafah crossing for aid lorries",
                 "Aid lorries crossed at Rafah after Egypt reopened the crossing.",
                 then + timedelta(hours=5)),
            ],
        ),
        "nile": (
            "Nile Courier",
            [
                ("nc-1", "Hamas delegation arrives in Cairo for truce talks",
                 "Hamas negotiators reached Cairo on Monday for talks on a truce.",
                 then + timedelta(minutes=40)),
                ("nc-2", "Thirteen hostages freed as the pause holds for a second day",
                 "Thirteen hostages were handed to the Red Cross at the Rafah crossing.",
                 then + timedelta(hours=8)),
            ],
        ),
    }  # fmt: skip
    sources = {}
    for name, (outlet, items) in feeds.items():
        path = folder / "captured" / f"{name}.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rss(outlet, items))
        sources[name] = (path.as_uri(), outlet)
    return sources


def _config(folder: Path, sources: dict[str, tuple[str, str]]) -> Path:
    root = Path(__file__).resolve().parents[1]
    lines = [f'topics_from = "{root / "config" / "default.toml"}"']
    for name, (url, outlet) in sources.items():
        lines.append(f'[[sources]]\nname = "{name}"\nurl = "{url}"\noutlet = "{outlet}"')
    lines.append('[[routes]]\nplatform = "console"\nchannel = "desk"')
    path = folder / "talks.toml"
    path.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    return path


def _alerts(stdout: str) -> list[tuple[str, tuple[str, ...]]]:
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return sorted(
        (str(e["title"]), tuple(sorted(e["topics"]))) for e in events if e["event"] == "alert"
    )


async def test_run_replay_alerts_what_poll_once_replay_alerts(tmp_path: Path) -> None:
    sources = _captured(tmp_path)
    config = _config(tmp_path, sources)
    runs = {}
    for command in ("poll-once", "run"):
        folder = tmp_path / command
        folder.mkdir()
        env = bot_env({"TALKS_BOT_DATABASE_URL": f"sqlite:///{folder / 'talks.db'}"})
        args = [command, "--config", str(config), "--replay", "--output", "jsonl"]
        with BotProcess(folder, args, env) as bot:
            if command == "poll-once":
                assert await bot.finished(60) == 0, bot.output()
            else:
                await eventually(
                    lambda b=bot: len(_alerts(b.stdout())) >= len(runs["poll-once"]) or None,
                    timeout=60,
                    what="run --replay's alerts",
                    bot=bot,
                )
                assert await bot.terminate(15) == 0, bot.output()
            runs[command] = _alerts(bot.stdout())
    once = runs["poll-once"]
    assert len(once) == 4, once
    assert runs["run"] == once
