"""Database locations as operators write them, and as logs may show them.

An operator configures one string: a file path (SQLite) or a PostgreSQL URL. ``normalise_url``
turns it into the SQLAlchemy URL of the async driver we use; ``describe_url`` is the only form of
it that may be printed, because a PostgreSQL URL can carry a password.
"""

from __future__ import annotations

import re

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bot.errors import StoreError

_SQLITE_DRIVERS = {"sqlite", "sqlite+aiosqlite", "sqlite+pysqlite"}
_POSTGRES_DRIVERS = {
    "postgres",
    "postgresql",
    "postgresql+asyncpg",
    "postgres+asyncpg",
    "postgresql+psycopg",
    "postgresql+psycopg2",
}
_SECRET_QUERY = re.compile(r"(?i)([?&](?:password|sslpassword)=)[^&]*")
_USERINFO_PASSWORD = re.compile(r"(//[^:/@?#]*:)[^@/?#]*@")
_MASK = "***"

_EXPECTED = "use a file path, sqlite:///path/to/talks.db or postgresql://user@host:5432/dbname"


def accepted_schemes() -> tuple[str, ...]:
    """The URL schemes ``normalise_url`` takes (plain and driver-qualified), SQLite first."""
    return (*sorted(_SQLITE_DRIVERS), *sorted(_POSTGRES_DRIVERS))


def is_url(location: str) -> bool:
    return "://" in location


def normalise_url(location: str) -> URL:
    """The async-driver URL for ``location``: a path or ``sqlite:``, ``postgres(ql):`` URL.

    Raises ``StoreError`` for an empty or unsupported location.
    """
    text = location.strip()
    if not text:
        raise StoreError(f"database location is empty: {_EXPECTED}")
    if not is_url(text):
        return URL.create("sqlite+aiosqlite", database=text)
    try:
        parsed = make_url(text)
    except ArgumentError:
        raise StoreError(f"cannot read database URL {describe_url(text)}: {_EXPECTED}") from None
    driver = parsed.drivername.lower()
    if driver in _SQLITE_DRIVERS:
        return parsed.set(drivername="sqlite+aiosqlite")
    if driver in _POSTGRES_DRIVERS:
        return parsed.set(drivername="postgresql+asyncpg")
    raise StoreError(f"unsupported database URL {describe_url(text)}: {_EXPECTED}")


def describe_url(location: str | URL) -> str:
    """``location`` with any password replaced by ``***``: safe for logs and ``/talks status``."""
    if isinstance(location, URL):
        return _SECRET_QUERY.sub(r"\g<1>" + _MASK, location.render_as_string(hide_password=True))
    text = location.strip()
    if not is_url(text):
        return text
    try:
        shown = make_url(text).render_as_string(hide_password=True)
    except ArgumentError:
        shown = _USERINFO_PASSWORD.sub(r"\g<1>" + _MASK + "@", text)
    return _SECRET_QUERY.sub(r"\g<1>" + _MASK, shown)


def secrets_of(url: URL) -> tuple[str, ...]:
    """Every secret in ``url``, so error text from a driver can be scrubbed of them."""
    found = [url.password] if url.password else []
    for key, value in url.query.items():
        if key.lower() in {"password", "sslpassword"}:
            found.extend([value] if isinstance(value, str) else list(value))
    return tuple(str(secret) for secret in found if secret)


def is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
