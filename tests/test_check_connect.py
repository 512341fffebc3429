"""``talks-bot check-config --connect`` as an operator runs it before going live.

The command is a real child process; Slack and Discord are the fakes on 127.0.0.1 (real HTTP,
the real slack_sdk client), the database a real PostgreSQL or SQLite file. What is checked is
what the operator reads: one line per connection, each failure with its fix, no secret shown,
nothing posted, and the exit status a deploy script can act on.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.bot_process import ROOT, bot_env, free_port
from tests.chat.discord.fake_discord import FakeDiscord
from tests.chat.slack.fake_slack import FakeSlack

BOT_TOKEN = "xoxb-test-desk-0042"
APP_TOKEN = "xapp-1-A0TALKS-1234-abcdef"
DISCORD_TOKEN = "fake-token"
"""The token the fake Discord accepts."""
PASSWORD = "s3cret-desk-pw"


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def line(self, what: str) -> str:
        (found,) = [x for x in self.stdout.splitlines() if x.startswith(f"  connect {what}:")]
        return found


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


def chat_config(folder: Path, slack: FakeSlack | None, discord: FakeDiscord | None) -> Path:
    lines = [f'topics_from = "{ROOT / "config" / "default.toml"}"\n']
    if slack is not None:
        lines.append(f'[slack]\nmode = "socket"\napi_base_url = "{slack.base_url}"\n')
    if discord is not None:
        lines.append(f'[discord]\napi_base_url = "{discord.api_base}"\n')
    path = folder / "talks.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


async def check_connect(folder: Path, config: Path, **secrets: str) -> Result:
    """The command, awaited without blocking the loop that serves the fakes."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "bot", "check-config", "--connect", "--config", str(config)),
        cwd=folder,
        env=bot_env(secrets),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(child.communicate(), 60)
    return Result(int(child.returncode or 0), out.decode(), err.decode())


def with_password(url: str) -> str:
    """The test server's URL as an operator writes it with a password (trust auth ignores it)."""
    return make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


@pytest.mark.postgres
async def test_everything_reachable_is_one_ok_line_each_and_nothing_is_posted(
    tmp_path: Path, fake_slack: FakeSlack, discord_fake: FakeDiscord, postgres_server: str
) -> None:
    config = chat_config(tmp_path, fake_slack, discord_fake)
    result = await check_connect(
        tmp_path,
        config,
        TALKS_BOT_DATABASE_URL=with_password(postgres_server),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        DISCORD_TOKEN=DISCORD_TOKEN,
    )
    assert result.code == 0, result.stdout + result.stderr
    assert "ok, PostgreSQL " in result.line("database")
    assert "ok, workspace News desk, bot user talks" in result.line("Slack bot token")
    assert "ok, Socket Mode accepts it" in result.line("Slack app token")
    assert "ok, bot user talks-bot (" in result.line("Discord token")
    assert result.stdout.rstrip().endswith("all 4 connections ok")
    shown = result.stdout + result.stderr
    for secret in (PASSWORD, BOT_TOKEN, APP_TOKEN):
        assert secret not in shown
    assert ":***@" in result.line("database")
    # Identity calls only: no message went out, no socket was opened.
    assert [c.method for c in fake_slack.calls] == ["auth.test", "apps.connections.open"]
    assert [(r.method, r.path) for r in discord_fake.requests] == [("GET", "/users/@me")]


async def test_refused_tokens_and_an_unreachable_database_fail_one_line_each(
    tmp_path: Path, fake_slack: FakeSlack, discord_fake: FakeDiscord
) -> None:
    fake_slack.fail("auth.test", "invalid_auth")
    fake_slack.fail("apps.connections.open", "invalid_auth")
    config = chat_config(tmp_path, fake_slack, discord_fake)
    nowhere = f"postgresql://talks:{PASSWORD}@127.0.0.1:{free_port()}/talks_bot"
    result = await check_connect(
        tmp_path,
        config,
        TALKS_BOT_DATABASE_URL=nowhere,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        DISCORD_TOKEN="not-the-token",
    )
    assert result.code == 1
    database = result.line("database")
    assert "FAILED: cannot use the database at postgresql://talks:***@127.0.0.1:" in database
    assert "Connect call failed" in database
    assert "check the host and port" in database
    assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in result.line("Slack bot token")
    assert "Slack refused SLACK_APP_TOKEN (invalid_auth)" in result.line("Slack app token")
    assert "Discord refused DISCORD_TOKEN (HTTP 401)" in result.line("Discord token")
    assert "Reset Token" in result.line("Discord token")
    assert result.stderr.strip() == (
        "4 of 4 connections failed: fix them and run check-config --connect again"
    )
    for secret in (PASSWORD, BOT_TOKEN, APP_TOKEN, "not-the-token"):
        assert secret not in result.stdout + result.stderr


@pytest.mark.postgres
async def test_a_missing_database_on_a_live_server_is_named_with_the_fix(
    tmp_path: Path, postgres_server: str
) -> None:
    config = chat_config(tmp_path, None, None)
    missing = make_url(postgres_server).set(database="talks_no_such_db")
    url = missing.render_as_string(hide_password=False)
    result = await check_connect(tmp_path, config, TALKS_BOT_DATABASE_URL=url)
    assert result.code == 1
    assert 'database "talks_no_such_db" does not exist' in result.line("database")
    assert "createdb" in result.line("database")


async def test_a_sqlite_file_is_opened_read_only_and_a_new_one_is_not_created(
    tmp_path: Path,
) -> None:
    config = chat_config(tmp_path, None, None)
    fresh = await check_connect(tmp_path, config, TALKS_BOT_DATABASE_URL="sqlite:///desk/new.db")
    assert fresh.code == 0, fresh.stdout + fresh.stderr
    assert "does not exist yet: the bot creates it at its first start" in fresh.line("database")
    assert not (tmp_path / "desk").exists()

    import sqlite3

    with sqlite3.connect(tmp_path / "old.db") as db:
        db.execute("CREATE TABLE kept (x)")
    before = (tmp_path / "old.db").read_bytes()
    old = await check_connect(tmp_path, config, TALKS_BOT_DATABASE_URL="sqlite:///old.db")
    assert old.code == 0, old.stdout + old.stderr
    assert "ok, SQLite 3" in old.line("database")
    assert (tmp_path / "old.db").read_bytes() == before
    assert not (tmp_path / "talks-bot.db").exists()
    assert not (tmp_path / "old.db-wal").exists()


async def test_without_connect_nothing_is_reached(tmp_path: Path, fake_slack: FakeSlack) -> None:
    config = chat_config(tmp_path, fake_slack, None)
    child = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "check-config", "--config", str(config)),
        cwd=tmp_path,
        env=bot_env({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await child.communicate()
    assert child.returncode == 0
    assert "  connect " not in out.decode()
    assert fake_slack.calls == []
