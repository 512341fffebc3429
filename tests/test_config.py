"""Configuration: every problem reported at once, each naming its key and the fix."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import Secrets, load_config, parse_duration
from bot.errors import ConfigError
from tests.bot_process import bot_env

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env_file=None)
    return caught.value.problems


@pytest.mark.parametrize("path", ["config/default.toml", "config/demo.toml"])
def test_shipped_configs_are_valid(path: str) -> None:
    settings = load_config(ROOT / path, env_file=None)
    assert {t.id for t in settings.config.topics} >= {
        "rafah",
        "hostages",
        "cairo-delegation",
        "ceasefire-talks",
    }
    assert settings.config.sources


def test_every_problem_is_reported_at_once_with_its_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[bot]
max_item_age = "soon"
colour = "blue"
[[sources]]
name = "wire"
url = "ftp://example.org/feed"
[[sources]]
name = "wire"
url = "https://example.org/feed"
[[topics]]
id = "Bad Id"
terms = ["Rafah"]
[[routes]]
topics = ["rafha"]
""",
    )
    problems = problems_of(path)
    joined = "\n".join(problems)
    assert any(p.startswith("bot.max_item_age:") and "'5m'" in p for p in problems)
    assert any(p.startswith("bot.colour:") and "unknown key" in p for p in problems)
    assert any(p.startswith("sources[0].url:") and "http(s)://" in p for p in problems)
    assert any(p.startswith("topics[0].id:") for p in problems)
    assert "the name 'wire' is used twice" in joined
    assert any(p.startswith("routes[0].topics:") and "'rafha'" in p for p in problems)
    assert all("\n" not in p for p in problems), "each problem is one line"


def test_secrets_in_the_file_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[bot]
database_url = "postgresql://talks:hunter2@db/talks"
[slack]
bot_token = "xoxb-not-a-real-token"
""",
    )
    problems = problems_of(path)
    assert any(
        p.startswith("bot.database_url:") and "TALKS_BOT_DATABASE_URL" in p for p in problems
    )
    assert any(p.startswith("slack.bot_token:") and "environment" in p for p in problems)
    assert not any("hunter2" in p or "xoxb-not-a-real-token" in p for p in problems)


def test_chat_tables_need_their_tokens_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "DISCORD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    path = write(tmp_path, '[slack]\nmode = "socket"\n[discord]\nguilds = [1]\n')
    problems = problems_of(path)
    assert any("SLACK_BOT_TOKEN" in p for p in problems)
    assert any("SLACK_APP_TOKEN" in p for p in problems)
    assert any("DISCORD_TOKEN" in p for p in problems)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    monkeypatch.setenv("DISCORD_TOKEN", "abc.def")
    settings = load_config(path, env_file=None)
    assert settings.config.slack is not None


def test_database_url_from_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, '[bot]\ndatabase_url = "sqlite:///here.db"\n')
    monkeypatch.delenv("TALKS_BOT_DATABASE_URL", raising=False)
    assert load_config(path, env_file=None).database_url == "sqlite:///here.db"
    monkeypatch.setenv("TALKS_BOT_DATABASE_URL", "postgresql://talks:pw@db/talks")
    assert load_config(path, env_file=None).database_url == "postgresql://talks:pw@db/talks"


def test_missing_and_broken_files_are_one_line_errors(tmp_path: Path) -> None:
    assert "not found" in problems_of(tmp_path / "nope.toml")[0]
    assert "not valid TOML" in problems_of(write(tmp_path, "[bot\n"))[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("5m", timedelta(minutes=5)),
        ("24h", timedelta(hours=24)),
        ("2d", timedelta(days=2)),
        (300, timedelta(minutes=5)),
    ],
)
def test_durations(text: object, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["soon", "", "0", -5, True])
def test_bad_durations_say_how_to_write_one(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_topics_can_come_from_another_file(tmp_path: Path) -> None:
    path = write(tmp_path, f'topics_from = "{ROOT / "config" / "default.toml"}"\n')
    settings = load_config(path, env_file=None)
    assert [t.id for t in settings.config.topics][:2] == ["rafah", "hostages"]
    missing = write(tmp_path, 'topics_from = "nowhere.toml"\n')
    assert problems_of(missing)[0].startswith("topics_from: cannot read topics from")


def test_full_text_without_the_extractor_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "trafilatura" else real(name)
    )
    problems = problems_of(write(tmp_path, "[bot]\nfull_text = true\n"))
    assert problems == [
        "bot.full_text: needs the article extractor: pip install 'talks-bot[fulltext]' "
        "(or set full_text = false)"
    ]


def test_a_database_path_from_the_environment_is_named_in_errors_not_masked(
    tmp_path: Path,
) -> None:
    """Only passwords are secret: a SQLite path the operator set in the environment is shown
    when it is wrong, so they can see which one."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    path = blocker / "talks.db"
    env = bot_env({"TALKS_BOT_DATABASE_URL": str(path)})
    config = ROOT / "config" / "demo.toml"
    for command in ("status", "poll-once"):
        done = subprocess.run(
            [sys.executable, "-m", "bot", command, "--config", str(config)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode != 0
        assert str(path) in done.stderr, done.stderr
        assert "***" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_database_password_stays_secret_with_the_url_that_carries_it() -> None:
    secrets = Secrets(talks_bot_database_url="postgresql://desk:s3cr%40t@db.example/talks")
    assert "s3cr@t" in secrets.values()
    assert "postgresql://desk:s3cr%40t@db.example/talks" in secrets.values()
    assert Secrets(talks_bot_database_url="/var/lib/talks-bot/talks.db").values() == []


def one_line(problems: list[str], key: str) -> str:
    """The one problem naming ``key``."""
    found = [p for p in problems if p.startswith(f"{key}:")]
    assert len(found) == 1, problems
    assert "\n" not in found[0]
    return found[0]


def test_the_timezone_must_be_an_iana_name(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, '[bot]\ntimezone = "Mars/Olympus_Mons"\n'))
    assert problems == [
        "bot.timezone: 'Mars/Olympus_Mons' is not a time zone: use an IANA name like "
        "'Europe/London' or 'UTC'"
    ]
    settings = load_config(write(tmp_path, '[bot]\ntimezone = "Europe/London"\n'), env_file=None)
    assert settings.config.bot.timezone == "Europe/London"


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        (
            '[bot]\nmin_poll_interval = "2h"\n',
            "bot.min_poll_interval",
            "'2h' is longer than bot.max_poll_interval ('30m', the default): "
            "make min_poll_interval at most max_poll_interval, or raise max_poll_interval",
        ),
        (
            '[bot]\nmin_poll_interval = "10m"\nmax_poll_interval = "5m"\n',
            "bot.min_poll_interval",
            "'10m' is longer than bot.max_poll_interval ('5m'): ",
        ),
        (
            '[fetch]\ntimeout = "60s"\n',
            "fetch.timeout",
            "'60s' is longer than fetch.deadline ('30s', the default), the limit for the whole "
            "fetch: make timeout at most deadline, or raise deadline",
        ),
        (
            '[fetch]\nbackoff_base = "2h"\nbackoff_max = "1h"\n',
            "fetch.backoff_base",
            "'2h' is longer than fetch.backoff_max ('1h'): make backoff_base at most "
            "backoff_max, or raise backoff_max",
        ),
        (
            '[[sources]]\nname = "wire"\nurl = "https://example.org/feed"\n'
            'min_interval = "10m"\nmax_interval = "5m"\n',
            "sources[0].min_interval",
            "'10m' is longer than its max_interval ('5m'): make min_interval at most "
            "max_interval, or raise max_interval",
        ),
    ],
)
def test_a_minimum_longer_than_its_maximum_is_refused(
    tmp_path: Path, text: str, key: str, expected: str
) -> None:
    assert expected in one_line(problems_of(write(tmp_path, text)), key)


def test_bounds_are_checked_beside_other_errors_and_equal_bounds_pass(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, '[fetch]\ntimeout = "60s"\nmax_bytes = 1\n'))
    assert {p.split(":", 1)[0] for p in problems} == {"fetch.timeout", "fetch.max_bytes"}
    same = '[bot]\nmin_poll_interval = "5m"\nmax_poll_interval = "5m"\n[fetch]\ntimeout = "30s"\n'
    assert load_config(write(tmp_path, same), env_file=None)


def test_an_unsupported_database_is_refused_with_the_accepted_schemes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TALKS_BOT_DATABASE_URL", raising=False)
    line = one_line(
        problems_of(write(tmp_path, '[bot]\ndatabase_url = "mysql://talks@db/talks"\n')),
        "bot.database_url",
    )
    assert "unsupported database URL mysql://talks@db/talks" in line
    assert "sqlite:///path/to/talks.db or postgresql://user@host:5432/dbname" in line
    assert "postgresql+asyncpg" in line
    assert "sqlite+aiosqlite" in line
    for good in ("sqlite+aiosqlite:///x.db", "postgresql+psycopg://talks@db/talks", "talks.db"):
        path = write(tmp_path, f'[bot]\ndatabase_url = "{good}"\n')
        assert load_config(path, env_file=None).database_url == good


def test_the_database_url_in_force_is_checked_and_its_password_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TALKS_BOT_DATABASE_URL overrides bot.database_url: it is the one checked."""
    monkeypatch.setenv("TALKS_BOT_DATABASE_URL", "mysql://talks:hunter2@db/talks?password=pw99")
    path = write(tmp_path, '[bot]\ndatabase_url = "sqlite:///here.db"\n')
    problems = problems_of(path)
    line = one_line(problems, "TALKS_BOT_DATABASE_URL")
    assert "mysql://talks:***@db/talks?password=***" in line
    assert "postgresql" in line
    assert not any("hunter2" in p or "pw99" in p for p in problems)
    monkeypatch.setenv("TALKS_BOT_DATABASE_URL", "sqlite:///there.db")
    overridden = write(tmp_path, '[bot]\ndatabase_url = "mysql://talks@db/talks"\n')
    assert load_config(overridden, env_file=None).database_url == "sqlite:///there.db"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (
            '[[sources]]\nname = "w"\nurl = "https://reader:hunter2@example.org/feed"\n',
            "sources[0].url",
        ),
        ('[[sources]]\nname = "w"\nurl = "https://hunter2@example.org/feed"\n', "sources[0].url"),
        (
            '[[sources]]\nname = "w"\nurl = "https://example.org/f?api_token=hunter2"\n',
            "sources[0].url",
        ),
        ('[slack]\napi_base_url = "https://u:hunter2@proxy.example/api/"\n', "slack.api_base_url"),
        ('[discord]\ngateway_url = "wss://gw.example/?token=hunter2"\n', "discord.gateway_url"),
        (
            '[bot]\ndatabase_url = "postgresql://talks@db/talks?password=hunter2"\n',
            "bot.database_url",
        ),
    ],
)
def test_credentials_in_any_url_are_refused_and_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, key: str
) -> None:
    monkeypatch.delenv("TALKS_BOT_DATABASE_URL", raising=False)
    problems = problems_of(write(tmp_path, text))
    line = one_line(problems, key)
    assert "environment" in line
    assert ".env" in line
    assert not any("hunter2" in p for p in problems), problems


def test_a_database_user_without_a_password_is_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TALKS_BOT_DATABASE_URL", raising=False)
    path = write(tmp_path, '[bot]\ndatabase_url = "postgresql://talks@db:5432/talks"\n')
    assert load_config(path, env_file=None).database_url == "postgresql://talks@db:5432/talks"


@pytest.mark.parametrize(
    ("text", "key", "shown"),
    [
        ('[bot]\nfull_text = "yes"\n', "bot.full_text", "'yes'"),
        ('[bot]\nfull_text = "false"\n', "bot.full_text", "'false'"),
        (
            '[[sources]]\nname = "w"\nurl = "https://example.org/f"\nenabled = 0\n',
            "sources[0].enabled",
            "0",
        ),
        (
            '[[topics]]\nid = "t"\nterms = [{ text = "x", fuzzy = "no" }]\n',
            "topics[0].terms[0].fuzzy",
            "'no'",
        ),
    ],
)
def test_booleans_must_be_written_as_true_or_false(
    tmp_path: Path, text: str, key: str, shown: str
) -> None:
    problems = problems_of(write(tmp_path, text))
    assert problems == [f"{key}: {shown} is not a boolean: write true or false, without quotes"]


def test_discord_ids_may_be_numbers_or_strings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "abc.def")
    path = write(
        tmp_path,
        """
[discord]
guilds = [111, "222"]
application_id = 333
admin_roles = [444, "555", "Editors"]
[[routes]]
platform = "discord"
channel = 666
workspace = "777"
[[routes]]
platform = "discord"
channel = "888"
workspace = 999
""",
    )
    config = load_config(path, env_file=None).config
    assert config.discord is not None
    assert config.discord.guilds == (111, 222)
    assert config.discord.application_id == "333"
    assert config.discord.admin_roles == ("444", "555", "Editors")
    assert [(r.channel, r.workspace) for r in config.routes] == [("666", "777"), ("888", "999")]


def test_a_discord_id_that_is_no_number_says_how_to_copy_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "abc.def")
    path = write(
        tmp_path,
        '[discord]\nguilds = ["newsroom"]\napplication_id = -1\n'
        '[[routes]]\nplatform = "discord"\nchannel = "#desk"\n',
    )
    problems = problems_of(path)
    assert "'newsroom' is not a Discord id" in one_line(problems, "discord.guilds[0]")
    assert "Copy ID" in one_line(problems, "discord.application_id")
    route = one_line(problems, "routes[0].channel")
    assert "'#desk' is not a Discord channel id" in route
    assert "Copy ID" in route


def test_check_config_prints_every_problem_and_fails(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[bot]
timezone = "Mars/Olympus_Mons"
full_text = "yes"
min_poll_interval = "2h"
[fetch]
timeout = "60s"
[[sources]]
name = "wire"
url = "https://reader:hunter2@example.org/feed"
""",
    )
    env = bot_env({"TALKS_BOT_DATABASE_URL": "mysql://talks:s3cr3t-pw@db/talks"})
    done = subprocess.run(
        [sys.executable, "-m", "bot", "check-config", "--config", str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("config error: ")]
    keys = {line.removeprefix("config error: ").split(":", 1)[0] for line in errors}
    assert keys == {
        "bot.timezone",
        "bot.full_text",
        "bot.min_poll_interval",
        "fetch.timeout",
        "sources[0].url",
        "TALKS_BOT_DATABASE_URL",
    }, done.stderr
    assert "6 problem(s)" in done.stderr
    output = done.stdout + done.stderr
    assert "hunter2" not in output
    assert "s3cr3t-pw" not in output
    assert "mysql://talks:***@db/talks" in output
