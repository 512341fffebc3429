"""Fetching feeds over real HTTP on 127.0.0.1 and from file:// paths."""

from __future__ import annotations

import asyncio
import gzip
import os
from pathlib import Path

import pytest

from bot.errors import FetchError
from bot.ingest.feeds import parse_feed
from bot.ingest.fetch import DEFAULT_USER_AGENT, Fetcher
from tests.ingest.servers import FeedServer

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
RSS = (FEEDS / "rss2_content_encoded.xml").read_bytes()
LAST_MODIFIED = "Thu, 02 May 2024 08:30:00 GMT"


async def test_second_poll_of_unchanged_feed_is_not_modified(feed_server: FeedServer) -> None:
    feed_server.serve("/rss", RSS, last_modified=LAST_MODIFIED)
    async with Fetcher() as fetcher:
        first = await fetcher.fetch(feed_server.url("/rss"))
        second = await fetcher.fetch(
            feed_server.url("/rss"), etag=first.etag, last_modified=first.last_modified
        )
    assert first.status == 200
    assert not first.not_modified
    assert first.etag is not None
    assert first.last_modified == LAST_MODIFIED
    assert parse_feed(first.documents[0].body).items[0].guid == "ledger-88412"
    assert first.documents[0].content_type == "application/rss+xml; charset=utf-8"
    assert second.status == 304
    assert second.not_modified
    assert second.documents == ()
    assert feed_server.count("/rss") == 2
    assert feed_server.conditional_count("/rss") == 1


async def test_not_modified_and_redirect_answers_keep_the_connection_for_the_next_poll(
    feed_server: FeedServer,
) -> None:
    """A warm cycle is half 304s: each must leave its connection open for the next feed on that
    host rather than make the server accept a new one."""
    feed_server.serve("/rss", RSS)
    feed_server.redirect("/old", "/rss", status=301)
    async with Fetcher() as fetcher:
        first = await fetcher.fetch(feed_server.url("/rss"))
        second = await fetcher.fetch(feed_server.url("/rss"), etag=first.etag)
        moved = await fetcher.fetch(feed_server.url("/old"), etag=first.etag)
        third = await fetcher.fetch(feed_server.url("/rss"))
    assert (second.status, moved.status, third.status) == (304, 304, 200)
    assert moved.url == feed_server.url("/rss")
    assert len(feed_server.requests) == 5
    assert feed_server.connections() == 1


async def test_server_sees_our_user_agent_accept_and_conditional_headers(
    feed_server: FeedServer,
) -> None:
    feed_server.serve("/rss", RSS, etag='"v1"')
    async with Fetcher() as fetcher:
        await fetcher.fetch(feed_server.url("/rss"), etag='"v0"', last_modified=LAST_MODIFIED)
    headers = feed_server.seen("/rss")[0].headers
    assert headers["user-agent"] == DEFAULT_USER_AGENT
    assert "application/rss+xml" in headers["accept"]
    assert headers["if-none-match"] == '"v0"'
    assert headers["if-modified-since"] == LAST_MODIFIED


async def test_last_modified_alone_gives_not_modified(feed_server: FeedServer) -> None:
    feed_server.serve("/rss", RSS, etag=False, last_modified=LAST_MODIFIED)
    async with Fetcher() as fetcher:
        result = await fetcher.fetch(feed_server.url("/rss"), last_modified=LAST_MODIFIED)
    assert result.not_modified
    assert result.etag is None


async def test_cache_control_max_age_is_reported(feed_server: FeedServer) -> None:
    feed_server.serve("/rss", RSS, headers={"Cache-Control": "public, max-age=300"})
    async with Fetcher() as fetcher:
        result = await fetcher.fetch(feed_server.url("/rss"))
    assert result.cache_max_age == 300


async def test_redirect_chain_is_followed_to_the_final_url(feed_server: FeedServer) -> None:
    feed_server.redirect("/old", "/older", status=301)
    feed_server.redirect("/older", feed_server.url("/rss"), status=307)
    feed_server.serve("/rss", RSS)
    async with Fetcher() as fetcher:
        result = await fetcher.fetch(feed_server.url("/old"))
    assert result.url == feed_server.url("/rss")
    assert result.documents[0].body == RSS


async def test_redirect_loop_is_a_fetch_error(feed_server: FeedServer) -> None:
    feed_server.redirect("/a", "/b")
    feed_server.redirect("/b", "/a")
    async with Fetcher() as fetcher:
        with pytest.raises(FetchError, match="redirects in a loop"):
            await fetcher.fetch(feed_server.url("/a"))


async def test_too_many_redirects_is_a_fetch_error(feed_server: FeedServer) -> None:
    for hop in range(4):
        feed_server.redirect(f"/r{hop}", f"/r{hop + 1}")
    feed_server.serve("/r4", RSS)
    async with Fetcher(max_redirects=2) as fetcher:
        with pytest.raises(FetchError, match="redirected more than 2 times"):
            await fetcher.fetch(feed_server.url("/r0"))


async def test_server_error_names_the_status_in_one_line(feed_server: FeedServer) -> None:
    feed_server.fail("/rss", 500)
    async with Fetcher() as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(feed_server.url("/rss"))
    message = str(caught.value)
    assert "HTTP 500" in message
    assert "127.0.0.1" in message
    assert "\n" not in message
    assert caught.value.retry_after is None


@pytest.mark.parametrize("retry_after", ["120", "Wed, 21 Oct 2099 07:28:00 GMT"])
async def test_rate_limited_fetch_carries_retry_after(
    feed_server: FeedServer, retry_after: str
) -> None:
    feed_server.fail("/rss", 429, headers={"Retry-After": retry_after})
    async with Fetcher() as fetcher:
        with pytest.raises(FetchError, match="HTTP 429") as caught:
            await fetcher.fetch(feed_server.url("/rss"))
    assert caught.value.retry_after is not None
    assert caught.value.retry_after >= 120


async def test_missing_feed_says_to_check_the_url(feed_server: FeedServer) -> None:
    async with Fetcher() as fetcher:
        with pytest.raises(FetchError, match=r"HTTP 404.*check the source url"):
            await fetcher.fetch(feed_server.url("/nowhere"))


async def test_body_larger_than_the_cap_is_refused(feed_server: FeedServer) -> None:
    feed_server.serve("/big", b"<rss>" + b" " * 5_000 + b"</rss>")
    async with Fetcher(max_bytes=1_000) as fetcher:
        with pytest.raises(FetchError, match="response larger than 1 kB limit"):
            await fetcher.fetch(feed_server.url("/big"))


async def test_gzip_bomb_is_stopped_at_the_decoded_size_cap(feed_server: FeedServer) -> None:
    bomb = gzip.compress(b"\0" * 20_000_000, compresslevel=9)
    assert len(bomb) < 100_000
    feed_server.serve("/bomb", bomb, headers={"Content-Encoding": "gzip"})
    async with Fetcher(max_bytes=1_000_000) as fetcher:
        with pytest.raises(FetchError, match="larger than 1 MB limit"):
            await fetcher.fetch(feed_server.url("/bomb"))


async def test_gzip_body_within_the_cap_is_decoded(feed_server: FeedServer) -> None:
    feed_server.serve("/rss", gzip.compress(RSS), headers={"Content-Encoding": "gzip"})
    async with Fetcher() as fetcher:
        result = await fetcher.fetch(feed_server.url("/rss"))
    assert result.documents[0].body == RSS


async def test_trickling_server_is_cut_off_by_the_total_deadline(feed_server: FeedServer) -> None:
    feed_server.trickle("/slow", RSS, interval=0.2)
    async with Fetcher(timeout=5.0, deadline=1.0) as fetcher:
        with pytest.raises(FetchError, match="did not send the whole response within 1 s"):
            await fetcher.fetch(feed_server.url("/slow"))


async def test_unreachable_host_is_a_one_line_fetch_error() -> None:
    with FeedServer() as server:
        url = server.url("/rss")
    async with Fetcher(timeout=2.0) as fetcher:
        with pytest.raises(FetchError, match=r"could not connect to 127\.0\.0\.1"):
            await fetcher.fetch(url)


# --- files ---------------------------------------------------------------------------------------


async def test_file_url_reads_one_document_and_is_not_modified_when_unchanged(
    tmp_path: Path,
) -> None:
    path = tmp_path / "day.xml"
    path.write_bytes(RSS)
    async with Fetcher() as fetcher:
        first = await fetcher.fetch(path.as_uri())
        again = await fetcher.fetch(path.as_uri(), etag=first.etag)
        path.write_bytes(RSS + b"\n")
        os.utime(path, (1_700_000_000, 1_700_000_000))
        changed = await fetcher.fetch(path.as_uri(), etag=first.etag)
    assert first.status == 200
    assert [d.name for d in first.documents] == ["day.xml"]
    assert first.documents[0].body == RSS
    assert again.not_modified
    assert again.documents == ()
    assert not changed.not_modified
    assert changed.etag != first.etag


async def test_folder_url_replays_every_feed_file_sorted_by_name(tmp_path: Path) -> None:
    for name in ["2024-05-03.xml", "2024-05-01.rss", "notes.txt", "2024-05-02.json"]:
        (tmp_path / name).write_bytes(b"{}" if name.endswith(".json") else RSS)
    (tmp_path / "sub.xml").mkdir()
    async with Fetcher() as fetcher:
        result = await fetcher.fetch(tmp_path.as_uri())
    assert [d.name for d in result.documents] == [
        "2024-05-01.rss",
        "2024-05-02.json",
        "2024-05-03.xml",
    ]
    assert result.documents[1].content_type == "application/feed+json"


async def test_missing_path_is_a_fetch_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    async with Fetcher() as fetcher:
        with pytest.raises(
            FetchError, match=r"no such file or folder: .*nope \(check the source url\)"
        ):
            await fetcher.fetch(missing.as_uri())


async def test_unsupported_scheme_is_refused() -> None:
    async with Fetcher() as fetcher:
        with pytest.raises(FetchError, match="only http, https and file"):
            await fetcher.fetch("ftp://example.org/feed.xml")


async def test_not_modified_to_a_first_unconditional_request_is_an_error_not_health(
    feed_server: FeedServer,
) -> None:
    """A broken cache that answers 304 to everyone would otherwise leave the source "healthy"
    forever with nothing ever read."""
    feed_server.fail("/rss", 304)
    async with Fetcher() as fetcher:
        with pytest.raises(FetchError, match="304 Not Modified to a request that asked"):
            await fetcher.fetch(feed_server.url("/rss"))


async def test_cookies_one_feed_sets_are_never_sent_with_another_feed(
    feed_server: FeedServer,
) -> None:
    """A shared cookie jar would carry a tracking or session cookie from one publisher's feed to
    every later request on that host (and mark every poll as the same visitor)."""
    feed_server.serve("/tracker", RSS, headers={"Set-Cookie": "visitor=desk-7; Path=/"})
    feed_server.serve("/rss", RSS)
    async with Fetcher() as fetcher:
        await fetcher.fetch(feed_server.url("/tracker"))
        await fetcher.fetch(feed_server.url("/rss"))
        await fetcher.fetch(feed_server.url("/tracker"))
    assert [seen.headers.get("cookie") for seen in feed_server.requests] == [None, None, None]


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    """Servers and load balancers drop idle kept-alive connections without a word; the next poll
    of that host must notice and connect afresh instead of failing on the dead socket."""
    with FeedServer(idle_timeout=0.1) as server:
        server.serve("/rss", RSS)
        async with Fetcher() as fetcher:
            first = await fetcher.fetch(server.url("/rss"))
            await asyncio.sleep(0.4)
            second = await fetcher.fetch(server.url("/rss"), etag=first.etag)
            third = await fetcher.fetch(server.url("/rss"), etag=first.etag)
    assert (first.status, second.status, third.status) == (200, 304, 304)
    assert server.connections() == 2
