"""``[ops] channel``: read as a destination, or refused with one line naming the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config
from bot.core.models import Destination
from bot.errors import ConfigError


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "talks.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env_file=None)
    return caught.value.problems


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("", None),
        ("console", Destination("console", "ops")),
        ("slack:C0123ABCD", Destination("slack", "C0123ABCD")),
        ("discord: 123456789012345678", Destination("discord", "123456789012345678")),
    ],
)
def test_the_ops_channel_is_a_destination(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written: str, expected: Destination | None
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test")
    monkeypatch.setenv("DISCORD_TOKEN", "discord-test")
    path = tmp_path / "talks.toml"
    path.write_text(f'[slack]\n[discord]\n[ops]\nchannel = "{written}"\n', encoding="utf-8")
    assert load_config(path, env_file=None).config.ops.destination == expected


@pytest.mark.parametrize(
    "written", ['"C0123ABCD"', '"slack:"', '"discord:general"', '"teams:ops"', "42"]
)
def test_a_bad_ops_channel_is_one_line_naming_the_key_and_the_fix(
    tmp_path: Path, written: str
) -> None:
    [line] = problems(tmp_path, f"[ops]\nchannel = {written}\n")
    assert line.startswith("ops.channel: ")
    assert "is not a destination: write 'slack:CHANNEL_ID'" in line


def test_an_ops_channel_on_a_platform_without_its_table_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, '[ops]\nchannel = "slack:C0123ABCD"\n') == [
        "ops.channel: 'slack' needs a [slack] table (as a route to it would)"
    ]
