"""The deploy bundle holds what an operator relies on: deploy/compose.yaml and the systemd unit.

Compose: PostgreSQL with a ``pg_isready`` healthcheck, the bot started only once it is healthy
and checked by ``talks-bot healthcheck``, the database on a named volume, secrets only from
``.env``. ``docker compose config`` validates the file where Docker Compose is installed.
The unit: ``Type=notify`` with a watchdog (``bot.sdnotify`` answers both), checked by
``systemd-analyze verify`` where systemd is installed.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text("utf-8"))
    return loaded


def test_postgres_is_checked_with_pg_isready_and_kept_on_a_named_volume(
    compose: dict[str, Any],
) -> None:
    db = compose["services"]["db"]
    assert db["image"].startswith("postgres:")
    assert any("pg_isready" in part for part in db["healthcheck"]["test"])
    volume, mount = db["volumes"][0].split(":")[:2]
    assert mount == "/var/lib/postgresql/data"
    assert volume in compose["volumes"]
    assert "ports" not in db  # only the bot reaches it


def test_the_bot_waits_for_a_healthy_database_and_has_its_own_healthcheck(
    compose: dict[str, Any],
) -> None:
    bot = compose["services"]["bot"]
    assert bot["depends_on"] == {"db": {"condition": "service_healthy"}}
    test = bot["healthcheck"]["test"]
    assert test[0] == "CMD"
    assert test[1:3] == ["talks-bot", "healthcheck"]
    assert bot["restart"] == "unless-stopped"
    assert bot["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (DEPLOY / bot["build"]["context"] / bot["build"]["dockerfile"]).exists()
    assert (DEPLOY / bot["build"]["context"] / "pyproject.toml").exists()


def test_secrets_come_from_env_only(compose: dict[str, Any]) -> None:
    bot, db = compose["services"]["bot"], compose["services"]["db"]
    assert bot["env_file"] == ".env"
    url = bot["environment"]["TALKS_BOT_DATABASE_URL"]
    assert url.startswith("postgresql://talks:${POSTGRES_PASSWORD}@db:5432/")
    assert db["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    text = (DEPLOY / "compose.yaml").read_text("utf-8")
    for marker in ("xoxb-", "xapp-", "TOKEN:", "TOKEN="):
        assert marker not in text


def test_the_config_is_mounted_read_only_where_the_command_reads_it(
    compose: dict[str, Any],
) -> None:
    bot = compose["services"]["bot"]
    config = bot["command"][bot["command"].index("--config") + 1]
    assert f"./config.toml:{config}:ro" in bot["volumes"]


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=30
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("Docker Compose is not installed here (neither `docker compose` nor v1)")
    folder = tmp_path / "deploy"
    folder.mkdir()
    shutil.copy(DEPLOY / "compose.yaml", folder / "compose.yaml")
    (folder / ".env").write_text("POSTGRES_PASSWORD=change-me\n", encoding="utf-8")
    (folder / "config.toml").write_text("", encoding="utf-8")
    result = subprocess.run(
        [*command, "-f", str(folder / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # Without the password the file refuses to start, naming what to set.
    (folder / ".env").write_text("SLACK_BOT_TOKEN=\n", encoding="utf-8")
    missing = subprocess.run(
        [*command, "-f", str(folder / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"},
    )
    assert missing.returncode != 0
    assert "POSTGRES_PASSWORD" in missing.stderr


def _unit() -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "talks-bot.service", encoding="utf-8")
    return unit


def test_the_unit_waits_for_ready_and_watches_the_bot() -> None:
    service = _unit()["Service"]
    assert service["Type"] == "notify"
    assert service["NotifyAccess"] == "main"
    assert int(service["WatchdogSec"].rstrip("s")) >= 10
    assert service["Restart"] == "on-failure"
    assert service["ExecStart"].split()[1:3] == ["run", "--config"]


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    # verify wants ExecStart= to exist: point it at this checkout's entry point.
    beside = Path(sys.executable).parent / "talks-bot"
    entry = str(beside) if beside.exists() else "/bin/true"
    text = (DEPLOY / "talks-bot.service").read_text("utf-8")
    unit = tmp_path / "talks-bot.service"
    unit.write_text(text.replace("/opt/talks-bot/.venv/bin/talks-bot", entry), "utf-8")
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    complaints = [line for line in result.stderr.splitlines() if str(unit) in line]
    assert complaints == []
