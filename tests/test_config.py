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
