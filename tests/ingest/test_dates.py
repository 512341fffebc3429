"""Feed dates in the forms feeds really use, read as aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.ingest.dates import parse_date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thu, 02 May 2024 09:15:00 +0300", datetime(2024, 5, 2, 6, 15, tzinfo=UTC)),
        ("Thu, 02 May 2024 09:15:00 GMT", datetime(2024, 5, 2, 9, 15, tzinfo=UTC)),
        ("Thu, 02 May 2024 09:15 EST", datetime(2024, 5, 2, 14, 15, tzinfo=UTC)),
        ("Thu, 2 May 2024 09:15:00 PDT", datetime(2024, 5, 2, 16, 15, tzinfo=UTC)),
        ("2 May 24 09:15:00 Z", datetime(2024, 5, 2, 9, 15, tzinfo=UTC)),
        ("Thursday, 02-May-2024 09:15:00 UT", datetime(2024, 5, 2, 9, 15, tzinfo=UTC)),
        ("Thu, 02 May 2024 09:15:00 GMT+2", datetime(2024, 5, 2, 7, 15, tzinfo=UTC)),
        ("2024-05-02T09:15:00Z", datetime(2024, 5, 2, 9, 15, tzinfo=UTC)),
        ("2024-05-02T09:15:00.250+03:00", datetime(2024, 5, 2, 6, 15, 0, 250000, tzinfo=UTC)),
        ("2024-05-02 09:15:00 +0000", datetime(2024, 5, 2, 9, 15, tzinfo=UTC)),
        ("2024-05-02", datetime(2024, 5, 2, tzinfo=UTC)),
        ("2024-05-02T09:15", datetime(2024, 5, 2, 9, 15, tzinfo=UTC)),
        ("May 2, 2024 9:15 PM EST", datetime(2024, 5, 3, 2, 15, tzinfo=UTC)),
        ("  Thu, 02 May 2024 09:15:00 -0000  ", datetime(2024, 5, 2, 9, 15, tzinfo=UTC)),
    ],
)
def test_feed_dates_are_read_as_utc(text: str, expected: datetime) -> None:
    parsed = parse_date(text)
    assert parsed == expected
    assert parsed is not None
    assert parsed.utcoffset() is not None
    assert parsed.tzinfo == UTC


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "yesterday",
        "Thu, 31 Feb 2024 09:15:00 GMT",
        "Thu, 02 Foo 2024 09:15:00 GMT",
        "Thu, 02 May 2024 09:15:00 XYZ",
        "2024-13-40",
        "9" * 500,
    ],
)
def test_unreadable_dates_are_none(text: str | None) -> None:
    assert parse_date(text) is None
