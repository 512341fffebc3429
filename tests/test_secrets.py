"""No secret ever reaches the bot's output: every command, verbose logging, failing chat calls.

Distinctive values are put in the environment (chat tokens, the Slack signing secret, a database
password), the real CLI runs as a child process with ``-vv``, and everything it prints on stdout and
stderr is searched for them. The failures are real ones: Slack answering ``invalid_auth``, Discord
refusing the token, PostgreSQL unreachable.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.__main__ import _logging
from bot.config import Secrets, load_config
from tests.bot_process import BotProcess, bot_env, eventually, free_port, rss, write_config
from tests.chat.discord.fake_discord import GUILD_ID, NEWSROOM_CHANNEL, FakeDiscord
from tests.chat.slack.fake_slack import FakeSlack
from tests.ingest.servers import FeedServer
from tests.test_run_slack import CAIRO, HOSTAGES, listening, slash

BOT_TOKEN = "xoxb-7731-SECRETbot-qz9K2mVt"
APP_TOKEN = "xapp-1-A0TALKS-SECRETapp-Lw4Rt8Yp"
SIGNING_SECRET = "SECRETsign-5b7e0c21f4aa9d36"
DISCORD_TOKEN = "MTk4SECRETdiscord.GhT2.x9Qv"
DB_PASSWORD = "S3cr3tPw"
UNREACHABLE_POSTGRES = f"postgresql://talks:{DB_PASSWORD}@127.0.0.1:1/talks"
MASKED_POSTGRES = "postgresql://talks:***@127.0.0.1:1/talks"

SECRETS = {
    "SLACK_BOT_TOKEN": BOT_TOKEN,
    "SLACK_APP_TOKEN": APP_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "DISCORD_TOKEN": DISCORD_TOKEN,
    "database password": DB_PASSWORD,
}


def assert_no_secret(output: str) -> None:
    leaked = [name for name, value in SECRETS.items() if value in output]
    assert leaked == [], f"secret value(s) of {', '.join(leaked)} in the output:\n{output}"


def chat_secrets(database_url: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "DISCORD_TOKEN": DISCORD_TOKEN,
        "TALKS_BOT_DATABASE_URL": database_url,
    }


def chat_config(
    folder: Path,
    feeds: FeedServer,
    *,
    slack_url: str = "http://127.0.0.1:9/api/",
    discord_api: str = "http://127.0.0.1:9/api/v10",
    discord_gateway: str = "ws://127.0.0.1:9/gateway",
    slack_mode: str = "http",
    port: int = 0,
) -> Path:
    return write_config(
        folder,
        {"levant": (feeds.url("/levant.xml"), "Levant Wire")},
        extra=(
            f'[slack]\nmode = "{slack_mode}"\nport = {port or free_port()}\n'
            f'api_base_url = "{slack_url}"\n\n'
            f'[discord]\nguilds = [{GUILD_ID}]\napi_base_url = "{discord_api}"\n'
            f'gateway_url = "{discord_gateway}"\n\n'
            '[[routes]]\nplatform = "slack"\nchannel = "C-DESK"\n\n'
            f'[[routes]]\nplatform = "discord"\nchannel = "{NEWSROOM_CHANNEL}"\n'
            f'workspace = "{GUILD_ID}"\n'
        ),
    )


def talks_bot(folder: Path, env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=folder,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.serve("/levant.xml", rss("Levant Wire", [CAIRO]))
        yield server


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    server = FakeSlack()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def discord() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


def test_check_config_shows_the_database_masked_and_no_token(
    tmp_path: Path, feeds: FeedServer
) -> None:
    config = chat_config(tmp_path, feeds)
    env = bot_env(chat_secrets(UNREACHABLE_POSTGRES))
    result = talks_bot(tmp_path, env, "check-config", "-vv", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert f"database: {MASKED_POSTGRES}" in result.stdout
    assert "chat: slack, discord" in result.stdout
    assert_no_secret(result.stdout + result.stderr)


@pytest.mark.parametrize(
    "database_url",
    [UNREACHABLE_POSTGRES, f"postgresql://talks@127.0.0.1:1/talks?password={DB_PASSWORD}"],
    ids=["password-in-userinfo", "password-in-query"],
)
def test_unreachable_postgres_is_reported_in_one_line_without_its_password(
    tmp_path: Path, feeds: FeedServer, database_url: str
) -> None:
    config = chat_config(tmp_path, feeds)
    env = bot_env(chat_secrets(database_url))
    for command in ("poll-once", "status", "run"):
        result = talks_bot(tmp_path, env, command, "-vv", "--config", str(config))
        output = result.stdout + result.stderr
        assert result.returncode == 1, f"{command}: {output}"
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, f"{command}: {output}"
        assert "127.0.0.1:1" in errors[0], "the operator is told which database"
        assert_no_secret(output)


@pytest.mark.parametrize("slack_mode", ["http", "socket"])
async def test_failing_chat_calls_under_verbose_logging_show_no_secret(
    tmp_path: Path, feeds: FeedServer, slack: FakeSlack, discord: FakeDiscord, slack_mode: str
) -> None:
    """Slack says invalid_auth, Discord refuses the token: logged in one line, secrets kept."""
    slack.fail("chat.postMessage", "invalid_auth", times=20)
    port = free_port()
    config = chat_config(
        tmp_path,
        feeds,
        slack_url=slack.base_url,
        discord_api=discord.api_base,
        discord_gateway=discord.gateway_url,
        slack_mode=slack_mode,
        port=port,
    )
    env = bot_env(chat_secrets(f"sqlite:///{tmp_path / 'desk.db'}"))
    outputs = []

    with BotProcess(tmp_path, ["run", "-vv", "--config", str(config)], env) as bot:
        await eventually(
            lambda: "the Slack bot token is invalid" in bot.stderr(),
            what="the Slack invalid_auth line",
            bot=bot,
        )
        await eventually(
            lambda: "Discord connection stopped" in bot.stderr(),
            what="the Discord login failure line",
            bot=bot,
        )
        if slack_mode == "http":
            await eventually(lambda: listening(port), what="Slack's endpoint", bot=bot)
            answer = await slash(port, slack, "topics", secret=SIGNING_SECRET)
            assert "hostages" in str(answer)
        else:
            await eventually(
                lambda: slack.calls_to("apps.connections.open"), what="socket", bot=bot
            )
        assert await bot.terminate() == 0
    outputs.append(bot.output())

    # One cron cycle with a new story: Slack refuses again, Discord's login fails again.
    feeds.serve("/levant.xml", rss("Levant Wire", [CAIRO, HOSTAGES]))
    with BotProcess(tmp_path, ["poll-once", "-vv", "--config", str(config)], env) as once:
        assert await once.finished() == 0, once.output()
    outputs.append(once.output())
    assert "the Slack bot token is invalid" in once.stderr()
    assert "discord login failed" in once.stderr()

    status = talks_bot(tmp_path, env, "status", "-vv", "--config", str(config))
    assert status.returncode == 0, status.stderr
    assert "Talks status" in status.stdout
    outputs.append(status.stdout + status.stderr)

    # Both chats were really called with the secret tokens (so the search above means something).
    assert slack.calls_to("chat.postMessage")[0].headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    assert any(r.headers.get("Authorization") == f"Bot {DISCORD_TOKEN}" for r in discord.requests)
    for output in outputs:
        assert_no_secret(output)


# The CLI's log set-up, in process: what a line or a traceback quoting a secret turns into. -------
@contextlib.contextmanager
def cli_logging(secrets: Sequence[str]) -> Iterator[None]:
    """The logging ``talks-bot`` sets up, restored afterwards (it replaces the root handlers)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        _logging(1, secrets)
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_traceback_quoting_a_token_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    with cli_logging([BOT_TOKEN, DISCORD_TOKEN]):
        try:
            raise RuntimeError(f"chat.postMessage refused Authorization: Bearer {BOT_TOKEN}")
        except RuntimeError:
            logging.getLogger("talks_bot").exception("delivery round crashed; retrying")
    err = capsys.readouterr().err
    assert "delivery round crashed; retrying" in err
    assert "RuntimeError: chat.postMessage refused Authorization: Bearer ***" in err
    assert_no_secret(err)


def test_database_password_given_as_query_parameter_is_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql://talks@db.internal:5432/talks?sslmode=require&password={DB_PASSWORD}"
    monkeypatch.setenv("TALKS_BOT_DATABASE_URL", url)
    config = tmp_path / "talks.toml"
    config.write_text('[[sources]]\nname = "wire"\nurl = "https://wire.example/rss"\n')
    settings = load_config(config, env_file=None)
    options = urlsplit(settings.database_url).query
    with cli_logging(settings.secrets.values()):
        # A driver's error may quote the connection options without the rest of the URL.
        logging.getLogger("talks_bot").warning("connection options %s refused", options)
    err = capsys.readouterr().err
    assert "connection options sslmode=require&password=*** refused" in err
    assert_no_secret(err)


def test_a_sqlite_path_from_the_environment_is_not_masked_in_logs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Only passwords are secret: "database at ***" for a plain file tells an operator nothing."""
    path = "/var/lib/talks-bot/desk.db"
    secrets = Secrets(talks_bot_database_url=path).values()
    with cli_logging(secrets):
        logging.getLogger("talks_bot").warning("could not save the poll at %s", path)
    err = capsys.readouterr().err
    assert f"could not save the poll at {path}" in err, err
