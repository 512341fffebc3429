"""``threads`` on a route: on by default, off with ``false``, and a quoted "no" is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import TalksBot
from bot.config import load_config
from bot.errors import ConfigError

ROUTES = (
    '[[routes]]\nplatform = "console"\nchannel = "desk"\n\n'
    '[[routes]]\nplatform = "console"\nchannel = "wire-desk"\nthreads = false\n'
)


def test_routes_thread_by_default_and_false_keeps_one_flat(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    database = tmp_path / "desk.db"
    path.write_text(f'[bot]\ndatabase_url = "sqlite:///{database}"\n\n' + ROUTES, encoding="utf-8")
    settings = load_config(path, env_file=None)
    assert [r.threads for r in settings.config.routes] == [True, False]
    bot = TalksBot(settings)
    assert [(r.destination.channel, r.threads) for r in bot.routes] == [
        ("desk", True),
        ("wire-desk", False),
    ]


def test_a_quoted_boolean_is_refused_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[routes]]\nplatform = "console"\nthreads = "no"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env_file=None)
    [problem] = caught.value.problems
    assert problem.startswith("routes[0].threads:")
    assert "\n" not in problem
