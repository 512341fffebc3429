"""Database locations: what operators may write, and what logs may show."""

from __future__ import annotations

import pytest

from bot.errors import StoreError
from bot.store import describe_url
from bot.store.url import normalise_url


@pytest.mark.parametrize(
    ("location", "driver", "database"),
    [
        ("data/talks.db", "sqlite+aiosqlite", "data/talks.db"),
        ("sqlite:///data/talks.db", "sqlite+aiosqlite", "data/talks.db"),
        ("sqlite+aiosqlite:////var/lib/talks.db", "sqlite+aiosqlite", "/var/lib/talks.db"),
        ("postgresql://talks@db:5432/talks", "postgresql+asyncpg", "talks"),
        ("postgres://talks:pw@db/talks", "postgresql+asyncpg", "talks"),
        ("postgresql+asyncpg://talks@db/talks", "postgresql+asyncpg", "talks"),
    ],
)
def test_accepted_locations_use_the_async_drivers(
    location: str, driver: str, database: str
) -> None:
    url = normalise_url(location)
    assert (url.drivername, url.database) == (driver, database)


@pytest.mark.parametrize("location", ["", "   ", "mysql://talks:pw@db/talks"])
def test_unsupported_locations_say_what_to_write(location: str) -> None:
    with pytest.raises(StoreError, match="postgresql://user@host") as caught:
        normalise_url(location)
    assert "pw" not in str(caught.value)


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("postgresql://talks:hunter2@db:5432/talks", "postgresql://talks:***@db:5432/talks"),
        ("postgres://talks:hunter2@db/talks", "postgres://talks:***@db/talks"),
        (
            "postgresql://talks@db/talks?password=hunter2",
            "postgresql://talks@db/talks?password=***",
        ),
        ("postgresql://talks@db/talks", "postgresql://talks@db/talks"),
        ("data/talks.db", "data/talks.db"),
        ("sqlite:///data/talks.db", "sqlite:///data/talks.db"),
    ],
)
def test_described_url_never_shows_a_password(location: str, shown: str) -> None:
    assert describe_url(location) == shown
