"""The composition root: scheduled briefings built from the same data as status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import TalksBot
from bot.config import load_config
from bot.core.models import SourceHealth
from bot.core.ports import PollRecord
from tests.core.helpers import RecordingPlatform, report

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2024, 5, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TALKS_BOT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    path = tmp_path / "config.toml"
    path.write_text(
        f'topics_from = "{ROOT / "config" / "default.toml"}"\n'
        '[[routes]]\nplatform = "console"\nchannel = "desk"\ndigest = "0 7,19 * * *"\n',
        encoding="utf-8",
    )
    return load_config(path, env_file=None)


async def test_briefing_lists_the_top_developments_of_the_period(settings) -> None:  # type: ignore[no-untyped-def]
    platform = RecordingPlatform()
    async with TalksBot(settings, clock=lambda: NOW, notifiers={"console": platform}) as bot:
        outcome = await bot.desk.take(
            [
                report(
                    "a1",
                    "Hamas delegation leaves Cairo as cease-fire talks stall",
                    "The Hamas delegation left Cairo without a truce deal.",
                    NOW - timedelta(hours=3),
                ),
                report(
                    "b1",
                    "Egypt reopens Rafah crossing for aid convoys",
                    "Egyptian officials reopened the Rafah crossing on Sunday.",
                    NOW - timedelta(hours=2),
                ),
                report(
                    "c1",
                    "Heatwave grips the Nile delta",
                    "Temperatures rose to 44C.",
                    NOW - timedelta(hours=1),
                ),
            ],
            now_of=lambda r: r.published,
        )
        await bot.store.commit_poll(
            PollRecord(SourceHealth("wire", "x"), tuple(outcome.stories.values()))
        )
        [route] = bot.routes
        assert route.digest_cron == "0 7,19 * * *"
        await bot.send_briefing(route)
    [(destination, digest)] = platform.digests
    assert destination.channel == "desk"
    titles = [a.title for a in digest.alerts]
    assert len(titles) == 2
    assert "Heatwave grips the Nile delta" not in titles
    assert digest.title.startswith("Briefing")


@pytest.mark.parametrize("cron", ["every morning", "99 * * * *"])
def test_a_bad_cron_expression_is_a_config_error(tmp_path: Path, cron: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'[[routes]]\ndigest = "{cron}"\n', encoding="utf-8")
    from bot.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        load_config(path, env_file=None)
    assert any(p.startswith("routes[0].digest:") for p in caught.value.problems)
