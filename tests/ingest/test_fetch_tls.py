"""Fetching feeds over HTTPS from a local TLS server with a certificate made for the test."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.errors import FetchError
from bot.ingest.feeds import parse_feed
from bot.ingest.fetch import Fetcher
from tests.ingest.servers import FeedServer

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
RSS = (FEEDS / "rss2_content_encoded.xml").read_bytes()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(certificate, key): self-signed, for ``localhost`` and 127.0.0.1, made by openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[FeedServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    with FeedServer(tls=context) as server:
        yield server


def trusting(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    """A client context that trusts the test certificate (as a newsroom trusts its own CA)."""
    return ssl.create_default_context(cafile=str(certificate[0]))


async def test_https_feed_is_fetched_then_not_modified_over_one_connection(
    tls_server: FeedServer, certificate: tuple[Path, Path]
) -> None:
    tls_server.serve("/rss", RSS)
    async with Fetcher(tls=trusting(certificate)) as fetcher:
        first = await fetcher.fetch(tls_server.url("/rss"))
        second = await fetcher.fetch(tls_server.url("/rss"), etag=first.etag)
    assert first.url.startswith("https://127.0.0.1:")
    assert first.status == 200
    assert parse_feed(first.documents[0].body).items[0].guid == "ledger-88412"
    assert (second.status, second.not_modified) == (304, True)
    assert tls_server.connections() == 1


async def test_https_server_with_a_certificate_nobody_vouches_for_is_refused(
    tls_server: FeedServer,
) -> None:
    tls_server.serve("/rss", RSS)
    async with Fetcher() as fetcher:
        with pytest.raises(
            FetchError, match=r"could not connect to 127\.0\.0\.1: .*certificate verify failed"
        ):
            await fetcher.fetch(tls_server.url("/rss"))
    assert tls_server.requests == []


async def test_pinned_address_still_checks_the_certificate_against_the_host_name(
    tls_server: FeedServer, certificate: tuple[Path, Path]
) -> None:
    """The guard hands over the address it vetted; TLS must still be spoken to the name (SNI and
    the certificate check), and the Host header must carry the name, not the address."""
    tls_server.serve("/rss", RSS)
    vetted: list[str] = []

    async def guard(url: str) -> str:
        vetted.append(url)
        return "127.0.0.1"

    url = f"https://localhost:{tls_server.port}/rss"
    async with Fetcher(tls=trusting(certificate)) as fetcher:
        result = await fetcher.fetch(url, guard=guard)
    assert result.status == 200
    assert result.url == url
    assert vetted == [url]
    assert tls_server.requests[0].headers["host"] == f"localhost:{tls_server.port}"


async def test_pinned_address_with_a_name_the_certificate_does_not_carry_is_refused(
    tls_server: FeedServer, certificate: tuple[Path, Path]
) -> None:
    async def guard(url: str) -> str:
        return "127.0.0.1"

    tls_server.serve("/rss", RSS)
    async with Fetcher(tls=trusting(certificate)) as fetcher:
        with pytest.raises(FetchError, match=r"could not connect to wire\.test"):
            await fetcher.fetch(f"https://wire.test:{tls_server.port}/rss", guard=guard)


async def test_two_names_pinned_to_one_address_never_share_a_tls_connection(
    tls_server: FeedServer, certificate: tuple[Path, Path]
) -> None:
    """The certificate vouches for ``localhost`` only. A kept connection checked for that name
    must not carry a request for another name that the guard pinned to the same address."""

    async def guard(url: str) -> str:
        return "127.0.0.1"

    tls_server.serve("/rss", RSS)
    async with Fetcher(tls=trusting(certificate)) as fetcher:
        first = await fetcher.fetch(f"https://localhost:{tls_server.port}/rss", guard=guard)
        with pytest.raises(FetchError, match=r"could not connect to wire\.test"):
            await fetcher.fetch(f"https://wire.test:{tls_server.port}/rss", guard=guard)
    assert first.status == 200
    assert [seen.headers["host"] for seen in tls_server.requests] == [
        f"localhost:{tls_server.port}"
    ]
