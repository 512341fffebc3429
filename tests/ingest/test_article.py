"""Article full text: extraction through the fetcher, and the guard against private addresses."""

from __future__ import annotations

import ipaddress

import pytest

from bot.errors import FetchError
from bot.ingest import article
from bot.ingest.article import fetch_article_text
from bot.ingest.fetch import Fetcher
from tests.ingest.servers import FeedServer

ARTICLE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Negotiators return to Cairo</title></head>
<body>
<nav><a href="/">Home</a> | <a href="/world">World</a> | <a href="/sport">Sport</a></nav>
<article>
<h1>Negotiators return to Cairo for a new round of talks</h1>
<p>Negotiators returned to Cairo on Sunday for a new round of indirect talks on a cease-fire and
the release of hostages, according to two officials familiar with the arrangements.</p>
<p>Egyptian and Qatari mediators have spent the past week carrying written proposals between the
two sides, and the officials said the gaps over the sequencing of releases had narrowed.</p>
<p>Families of the hostages gathered outside the venue in the evening, holding photographs and
calling on both delegations to reach an agreement before the end of the week.</p>
</article>
<footer>Copyright The Example Courier. All rights reserved.</footer>
</body></html>
"""


async def test_article_text_is_extracted_when_the_host_is_allow_listed(
    feed_server: FeedServer,
) -> None:
    feed_server.serve("/story", ARTICLE, "text/html; charset=utf-8")
    async with Fetcher() as fetcher:
        text = await fetch_article_text(
            feed_server.url("/story"), fetcher, allow_private=["127.0.0.1"]
        )
    assert text is not None
    assert "Negotiators returned to Cairo on Sunday" in text
    assert "All rights reserved" not in text
    assert "text/html" in feed_server.seen("/story")[0].headers["accept"]


async def test_loopback_article_is_refused_without_contacting_it(feed_server: FeedServer) -> None:
    feed_server.serve("/story", ARTICLE, "text/html")
    async with Fetcher() as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetch_article_text(feed_server.url("/story"), fetcher)
    assert str(caught.value) == (
        "refused to fetch article at 127.0.0.1: it resolves to a private address "
        "(allow it in config if intended)"
    )
    assert feed_server.count("/story") == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://10.20.30.40/news/story",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/story",
        "http://0.0.0.0/story",
    ],
)
async def test_private_and_metadata_addresses_are_refused(url: str) -> None:
    async with Fetcher(timeout=1.0) as fetcher:
        with pytest.raises(FetchError, match="resolves to a private address"):
            await fetch_article_text(url, fetcher)


async def test_redirect_to_loopback_is_refused_at_the_hop(feed_server: FeedServer) -> None:
    feed_server.redirect("/story", f"http://127.0.0.2:{feed_server.port}/internal")
    async with Fetcher() as fetcher:
        with pytest.raises(FetchError, match=r"refused to fetch article at 127\.0\.0\.2"):
            await fetch_article_text(
                feed_server.url("/story"), fetcher, allow_private=["127.0.0.1/32"]
            )
    assert feed_server.count("/story") == 1
    assert feed_server.count("/internal") == 0


async def test_allow_list_by_network_admits_redirects_inside_it(feed_server: FeedServer) -> None:
    feed_server.redirect("/story", "/final")
    feed_server.serve("/final", ARTICLE, "text/html")
    async with Fetcher() as fetcher:
        text = await fetch_article_text(
            feed_server.url("/story"), fetcher, allow_private=["127.0.0.0/8"]
        )
    assert text is not None
    assert "Qatari mediators" in text


async def test_the_request_goes_to_the_address_the_guard_checked(
    feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: a name that resolves to a vetted address for the guard and to another a
    moment later must not reach the other. The guard's answer is the only resolution used: here
    the name exists for the guard alone (no resolver knows ``.test``), and the article, behind a
    relative redirect, still arrives, asked for under its own name."""
    host = "courier-rebind.test"

    async def resolve(name: str, port: int | None) -> list[object]:
        assert name == host
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(article, "_resolve", resolve)
    feed_server.redirect("/story", "/final")
    feed_server.serve("/final", ARTICLE, "text/html")
    async with Fetcher() as fetcher:
        text = await fetch_article_text(
            f"http://{host}:{feed_server.port}/story", fetcher, allow_private=["127.0.0.1"]
        )
    assert text is not None
    assert "Qatari mediators" in text
    assert feed_server.seen("/story")[0].headers["host"] == f"{host}:{feed_server.port}"
    assert feed_server.seen("/final")[0].headers["host"] == f"{host}:{feed_server.port}"
