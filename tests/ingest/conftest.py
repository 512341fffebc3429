from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ingest.servers import FeedServer


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server
