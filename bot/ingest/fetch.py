"""Fetching feed documents over HTTP(S) and from ``file://`` paths, politely and within limits.

One shared transport (httpx's, one small connection pool per host), to which each request goes
straight: the fetcher follows redirects itself, sends no credentials and keeps no cookies, so
``httpx.AsyncClient``'s layers for those (about a fifth of a 304's CPU) would only cost time, and a
client's cookie jar would carry one feed's cookies to every other. Every fetch is bounded three
ways: connect/read timeouts, a total
deadline around the whole exchange (redirects and body included, so a server trickling bytes is cut
off), and a size cap on the *decoded* body (we decompress ourselves, bounded, so a gzip bomb stops
at the cap instead of filling memory). Redirects are followed by hand so each hop can be counted,
loops detected, and (for article pages) checked by a guard. Conditional GET (ETag /
Last-Modified) keeps polling cheap for both sides.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
import time
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urljoin, urlsplit
from urllib.request import url2pathname

import httpcore
import httpx

from bot.core.backoff import retry_after_seconds
from bot.errors import FetchError
from bot.ingest.sockets import LoopSockets

__all__ = [
    "DEFAULT_USER_AGENT",
    "FEED_SUFFIXES",
    "Document",
    "FetchResult",
    "Fetcher",
]

DEFAULT_USER_AGENT = "talks-bot/0.1 (+https://github.com/talks-bot/talks-bot; newsroom feed poller)"
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, application/json;q=0.7, */*;q=0.1"
)
FEED_SUFFIXES = (".xml", ".rss", ".atom", ".json", ".rdf")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
KEEPALIVE_EXPIRY = 5.0
"""Seconds an idle connection is kept for the next request to its host (httpx's default)."""
_CONTENT_TYPES = {
    ".json": "application/feed+json",
    ".atom": "application/atom+xml",
    ".rss": "application/rss+xml",
    ".rdf": "application/rdf+xml",
    ".xml": "application/xml",
}

Guard = Callable[[str], Awaitable[str | None]]
"""Called with every URL before it is requested (first and each redirect); raises to refuse.
Returns the address it vetted, which the request then connects to (the host name still goes in
the Host header and TLS's SNI and certificate check), so a name that resolves to a public address
for the guard and a private one a moment later (DNS rebinding) cannot slip through; None to let
the client resolve the name itself (an allow-listed host)."""


@dataclass(frozen=True, slots=True)
class Document:
    """One fetched document: a feed body, or one file of a replayed folder."""

    name: str
    body: bytes
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    url: str
    """Final URL after redirects."""
    status: int
    """HTTP status (200, or 304 when not modified); 200/304 likewise for files."""
    documents: tuple[Document, ...]
    """Empty when not modified."""
    not_modified: bool
    etag: str | None
    last_modified: str | None
    elapsed: float
    cache_max_age: float | None = None
    """From Cache-Control max-age, for adaptive polling."""


class Fetcher:
    """Fetches feeds; one instance per process, shared by every source."""

    def __init__(
        self,
        *,
        timeout: float = 15.0,
        deadline: float = 30.0,
        max_bytes: int = 10_000_000,
        max_redirects: int = 5,
        user_agent: str = DEFAULT_USER_AGENT,
        max_per_host: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """``tls``: the context that verifies https servers (default: the system's and certifi's
        certificate authorities, built at the first https request)."""
        self.timeout = timeout
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.user_agent = user_agent
        self.max_per_host = max_per_host
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._transport = transport if transport is not None else _HostPools(max_per_host, tls)
        self._headers = {
            "User-Agent": user_agent,
            "Accept": FEED_ACCEPT,
            # Only codings we decode ourselves, with a bound (see _read_body).
            "Accept-Encoding": "gzip, deflate",
        }
        self._timeouts = httpx.Timeout(timeout).as_dict()

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
        guard: Guard | None = None,
    ) -> FetchResult:
        """Fetch a feed URL (http, https or file); raise ``FetchError`` with one line on failure.

        ``accept`` overrides the feed Accept header (article pages); ``guard`` vets every hop.
        """
        started = time.monotonic()
        scheme = urlsplit(url).scheme.lower()
        if scheme == "file":
            return await asyncio.to_thread(self._fetch_path, url, etag, started)
        if scheme not in ("http", "https"):
            raise FetchError(f"cannot fetch {url!r}: only http, https and file urls are supported")
        try:
            async with asyncio.timeout(self.deadline):
                return await self._fetch_http(url, etag, last_modified, accept, guard, started)
        except TimeoutError:
            raise FetchError(
                f"{_host(url)} did not send the whole response within {self.deadline:g} s "
                "(server too slow; try later or raise the deadline)"
            ) from None

    # --- HTTP ---------------------------------------------------------------------------------

    async def _fetch_http(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        accept: str | None,
        guard: Guard | None,
        started: float,
    ) -> FetchResult:
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = accept
        seen: set[str] = set()
        current = url
        for _hop in range(self.max_redirects + 1):
            pin = await guard(current) if guard is not None else None
            seen.add(current)
            async with self._host_slot(current):
                result = await self._request(current, headers, started, pin)
            if isinstance(result, FetchResult):
                return result
            target = result
            if target in seen:
                raise FetchError(
                    f"{_host(url)} redirects in a loop ({current} -> {target}); "
                    "check the source url"
                )
            current = target
        raise FetchError(
            f"{_host(url)} redirected more than {self.max_redirects} times; "
            "use the final feed url in the config"
        )

    def _host_slot(self, url: str) -> asyncio.Semaphore:
        host = _host(url)
        slot = self._hosts.get(host)
        if slot is None:
            slot = self._hosts[host] = asyncio.Semaphore(self.max_per_host)
        return slot

    async def _request(
        self, url: str, headers: dict[str, str], started: float, pin: str | None = None
    ) -> FetchResult | str:
        """One hop: a final result, or the absolute URL a redirect points to.

        ``pin``: the address to connect to instead of resolving the URL's host again."""
        wire: str | httpx.URL = url
        extensions: dict[str, object] = {"timeout": self._timeouts}
        headers = {**self._headers, **headers}
        if pin is not None:
            parsed = httpx.URL(url)
            wire = parsed.copy_with(host=pin)
            headers["Host"] = parsed.netloc.decode("ascii")
            if parsed.scheme == "https":
                extensions["sni_hostname"] = parsed.host
        try:
            request = httpx.Request("GET", wire, headers=headers, extensions=extensions)
            async with self._exchange(request) as response:
                if pin is not None:
                    response.request.url = httpx.URL(url)  # what readers and redirects see
                status = response.status_code
                if status in _REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(
                            f"{_host(url)} answered {status} without a Location header; "
                            "check the source url"
                        )
                    await _release(response)
                    return str(urljoin(str(response.url), location.strip()))
                if status == 304:
                    if not ("If-None-Match" in headers or "If-Modified-Since" in headers):
                        # Nothing was asked about: "not modified since" nothing means the
                        # server is answering someone else's question (a broken cache).
                        raise FetchError(
                            f"{_host(url)} answered 304 Not Modified to a request that asked "
                            "for the whole feed; the server or a cache in front of it is "
                            "misconfigured: tell its owner, or use another url"
                        )
                    await _release(response)
                    return self._result(response, (), started, not_modified=True)
                if status >= 400:
                    await _release(response)
                    raise _status_error(url, response)
                body = await self._read_body(response)
                document = Document(
                    name=str(response.url),
                    body=body,
                    content_type=response.headers.get("content-type"),
                )
                return self._result(response, (document,), started, not_modified=False)
        except httpx.TimeoutException as error:
            raise FetchError(
                f"{_host(url)} timed out after {self.timeout:g} s ({type(error).__name__}); "
                "try later or raise the timeout"
            ) from None
        except httpx.ConnectError as error:
            raise FetchError(
                f"could not connect to {_host(url)}: {_short(error)} "
                "(check the url and the network)"
            ) from None
        except httpx.DecodingError as error:
            raise FetchError(
                f"{_host(url)} sent a body that could not be decoded: {_short(error)}"
            ) from None
        except httpx.HTTPError as error:
            raise FetchError(f"fetching {_host(url)} failed: {_short(error)}") from None

    @asynccontextmanager
    async def _exchange(self, request: httpx.Request) -> AsyncIterator[httpx.Response]:
        """Send ``request`` on the transport; the response, closed (its connection returned to
        the pool, or dropped if its body was left unread) when the block ends."""
        response = await self._transport.handle_async_request(request)
        response.request = request
        try:
            yield response
        finally:
            await response.aclose()

    async def _read_body(self, response: httpx.Response) -> bytes:
        """Read the body, decompressing it ourselves so the decoded size is capped too."""
        limit = self.max_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        coding = response.headers.get("content-encoding", "").strip().lower()
        decoder: _BoundedInflater | None = None
        if coding in ("gzip", "x-gzip", "deflate"):
            decoder = _BoundedInflater(coding, limit)
        elif coding not in ("", "identity"):
            raise FetchError(
                f"{_host(str(response.url))} sent an unsupported content encoding {coding!r}"
            )
        chunks: list[bytes] = []
        size = 0
        async for raw in response.aiter_raw():
            data = decoder.feed(raw) if decoder is not None else raw
            size += len(data)
            if size > limit:
                raise _too_large(limit)
            chunks.append(data)
        if decoder is not None:
            tail = decoder.finish()
            size += len(tail)
            if size > limit:
                raise _too_large(limit)
            chunks.append(tail)
        return b"".join(chunks)

    def _result(
        self,
        response: httpx.Response,
        documents: tuple[Document, ...],
        started: float,
        *,
        not_modified: bool,
    ) -> FetchResult:
        return FetchResult(
            url=str(response.url),
            status=response.status_code,
            documents=documents,
            not_modified=not_modified,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            elapsed=time.monotonic() - started,
            cache_max_age=_max_age(response.headers.get("cache-control")),
        )

    # --- files --------------------------------------------------------------------------------

    def _fetch_path(self, url: str, etag: str | None, started: float) -> FetchResult:
        parts = urlsplit(url)
        path = Path(url2pathname(unquote(parts.path)))
        if parts.netloc and parts.netloc != "localhost":
            path = Path(f"//{parts.netloc}") / path
        if path.is_dir():
            files = sorted(
                (p for p in path.iterdir() if p.is_file() and p.suffix.lower() in FEED_SUFFIXES),
                key=lambda p: p.name,
            )
        elif path.is_file():
            files = [path]
        else:
            raise FetchError(f"no such file or folder: {path} (check the source url)")
        try:
            stats = [(p, p.stat()) for p in files]
        except OSError as error:
            raise FetchError(
                f"cannot read {path}: {error.strerror} (check the source url)"
            ) from None
        digest = hashlib.sha256()
        for p, st in stats:
            digest.update(f"{p.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        file_etag = f'"{digest.hexdigest()[:32]}"'
        final = path.resolve().as_uri()
        if etag is not None and etag == file_etag:
            return FetchResult(
                url=final,
                status=304,
                documents=(),
                not_modified=True,
                etag=file_etag,
                last_modified=None,
                elapsed=time.monotonic() - started,
            )
        documents = []
        for p, st in stats:
            if st.st_size > self.max_bytes:
                raise _too_large(self.max_bytes, what=f"file {p.name}")
            try:
                body = p.read_bytes()
            except OSError as error:
                raise FetchError(f"cannot read {p}: {error.strerror}") from None
            documents.append(
                Document(name=p.name, body=body, content_type=_CONTENT_TYPES.get(p.suffix.lower()))
            )
        newest = max((st.st_mtime for _, st in stats), default=None)
        return FetchResult(
            url=final,
            status=200,
            documents=tuple(documents),
            not_modified=False,
            etag=file_etag,
            last_modified=_http_date(newest) if newest is not None else None,
            elapsed=time.monotonic() - started,
        )


@dataclass(slots=True)
class _Pool:
    connections: httpcore.AsyncConnectionPool
    busy: int = 0
    """Responses handed out and not yet closed."""
    used: float = 0.0
    """When a request last started or its response was closed (monotonic)."""


_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)
"""httpcore's errors as httpx's, the most specific first (what the fetcher catches)."""


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except httpcore.TimeoutException as error:
        raise _translated(error) from error
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as error:
        raise _translated(error) from error


def _translated(error: Exception) -> httpx.TransportError:
    for theirs, ours in _ERRORS:
        if isinstance(error, theirs):
            return ours(str(error))
    return httpx.TransportError(str(error))  # pragma: no cover - every httpcore error is listed


class _HostPools(httpx.AsyncBaseTransport):
    """The fetcher's transport: a small httpcore connection pool per origin, one TLS context for
    all, sockets on the running loop (``bot.ingest.sockets``).

    httpcore walks every connection of a pool (asking each idle one whether its server closed it)
    whenever a request takes or returns one; in one pool for every host that walk covered all the
    cycle's connections (32 and more), per request. Per origin it covers at most ``max_per_host``
    (the fetcher never has more in flight to a host), and each host keeps that many idle for its
    next feed. A pool left idle past the keep-alive expiry is closed by a sweep, so hosts polled
    now and then hold no sockets between cycles.

    It speaks httpcore itself rather than through ``httpx.AsyncHTTPTransport`` (which can only use
    httpcore's default sockets); its errors are httpx's, as any transport's."""

    def __init__(self, per_host: int, tls: ssl.SSLContext | None = None) -> None:
        self._per_host = per_host
        self._ssl = tls
        self._sockets = LoopSockets()
        self._pools: dict[tuple[bytes, bytes, int | None, object], _Pool] = {}
        self._next_sweep = 0.0

    def _tls(self) -> ssl.SSLContext:
        """The one TLS context, built when the first https feed is polled: loading the CA bundle
        costs tens of milliseconds, which a cycle over plain-http feeds need not pay."""
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context(trust_env=False)
        return self._ssl

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        # The TLS name is part of the origin: two names pinned to one address (the guard's
        # answer) must not share a connection whose certificate was checked for the other name.
        key = (url.raw_scheme, url.raw_host, url.port, request.extensions.get("sni_hostname"))
        now = time.monotonic()
        if now >= self._next_sweep:
            await self._sweep(now)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool(
                httpcore.AsyncConnectionPool(
                    ssl_context=self._tls() if url.raw_scheme == b"https" else None,
                    max_connections=None,
                    max_keepalive_connections=self._per_host,
                    keepalive_expiry=KEEPALIVE_EXPIRY,
                    network_backend=self._sockets,
                )
            )
        pool.busy += 1
        pool.used = now
        try:
            with _as_httpx_errors():
                answer = await pool.connections.handle_async_request(
                    httpcore.Request(
                        method=request.method,
                        url=httpcore.URL(
                            scheme=url.raw_scheme,
                            host=url.raw_host,
                            port=url.port,
                            target=url.raw_path,
                        ),
                        headers=request.headers.raw,
                        content=request.stream,
                        extensions=request.extensions,
                    )
                )
        except BaseException:
            pool.busy -= 1
            raise
        assert isinstance(answer.stream, AsyncIterable)
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_Returned(answer.stream, pool),
            extensions=answer.extensions,
        )

    async def _sweep(self, now: float) -> None:
        self._next_sweep = now + KEEPALIVE_EXPIRY
        idle = [
            key
            for key, pool in self._pools.items()
            if not pool.busy and now - pool.used > KEEPALIVE_EXPIRY
        ]
        for key in idle:
            await self._pools.pop(key).connections.aclose()

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.connections.aclose()


class _Returned(httpx.AsyncByteStream):
    """A response body in httpx's terms that tells its pool when it is closed (the pool is then
    idle again)."""

    __slots__ = ("_pool", "_stream")

    def __init__(self, stream: AsyncIterable[bytes], pool: _Pool) -> None:
        self._stream: AsyncIterable[bytes] | None = stream
        self._pool = pool

    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert self._stream is not None
        with _as_httpx_errors():
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                closing = getattr(stream, "aclose", None)
                if closing is not None:
                    with _as_httpx_errors():
                        await closing()
            finally:
                self._pool.busy -= 1
                self._pool.used = time.monotonic()


_RELEASE_BYTES = 65_536
"""The most of an unwanted body (a 304's, a redirect's or an error's note) read to keep its
connection; past it the connection is closed instead."""


async def _release(response: httpx.Response) -> None:
    """Read the rest of a body we do not keep, so the connection goes back to the pool.

    httpcore closes a connection whose response was not read to its end: without this every 304
    (half of a warm cycle) cost a new TCP (and TLS) connection on the next request to that host."""
    read = 0
    async for raw in response.aiter_raw():
        read += len(raw)
        if read > _RELEASE_BYTES:
            break


class _BoundedInflater:
    """gzip/deflate decoding that never produces more than ``limit + 1`` bytes in total."""

    def __init__(self, coding: str, limit: int) -> None:
        self._limit = limit
        self._produced = 0
        self._raw_deflate_tried = coding == "deflate"
        # 47 = auto-detect zlib or gzip header; deflate servers often send raw deflate instead.
        self._inflater = zlib.decompressobj(47 if coding != "deflate" else zlib.MAX_WBITS)
        self._coding = coding

    def feed(self, data: bytes) -> bytes:
        try:
            return self._inflate(data)
        except zlib.error:
            if self._coding == "deflate" and self._produced == 0 and self._raw_deflate_tried:
                self._raw_deflate_tried = False
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                return self._inflate(data)
            raise FetchError("the server sent a corrupt compressed body") from None

    def _inflate(self, data: bytes) -> bytes:
        out: list[bytes] = []
        pending = data
        while True:
            room = self._limit + 1 - self._produced
            if room <= 0:
                break
            piece = self._inflater.decompress(pending, room)
            self._produced += len(piece)
            out.append(piece)
            pending = self._inflater.unconsumed_tail
            if not pending:
                break
        return b"".join(out)

    def finish(self) -> bytes:
        try:
            return self._inflater.flush()[: max(0, self._limit + 1 - self._produced)]
        except zlib.error:
            raise FetchError("the server sent a corrupt compressed body") from None


def _status_error(url: str, response: httpx.Response) -> FetchError:
    status = response.status_code
    host = _host(url)
    retry_after = None
    if status in (429, 503):
        retry_after = _retry_after(response.headers.get("retry-after"))
    wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
    advice = {
        401: "the feed needs credentials; check the source url",
        403: "the server refuses us; check the url or ask the publisher to allow the bot",
        404: "the feed is gone; check the source url",
        410: "the feed was removed for good; remove or replace the source",
        429: "the server asks us to slow down; raise the poll interval",
    }.get(status)
    if advice is None:
        advice = "server error; will retry later" if status >= 500 else "check the source url"
    reason = response.reason_phrase or ""
    return FetchError(
        f"{host} answered HTTP {status} {reason}".rstrip() + f": {advice}{wait}",
        retry_after=retry_after,
    )


MAX_SERVER_DELAY = 7 * 24 * 3600.0
"""The longest wait (seconds) a server's Retry-After or Cache-Control max-age is taken for: every
number read from the network is bounded before it meets a clock."""


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date (``bot.core.backoff``)."""
    if not value:
        return None
    return retry_after_seconds(value, datetime.now(UTC))


def _max_age(value: str | None) -> float | None:
    if not value:
        return None
    for directive in value.split(","):
        name, _, arg = directive.strip().partition("=")
        if name.strip().lower() == "max-age":
            arg = arg.strip().strip('"')
            if arg.isdigit():
                return min(float(arg), MAX_SERVER_DELAY)
    return None


def _http_date(timestamp: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(timestamp))


def _too_large(limit: int, *, what: str = "response") -> FetchError:
    return FetchError(f"{what} larger than {_size(limit)} limit")


def _size(limit: int) -> str:
    if limit >= 1_000_000 and limit % 1_000_000 == 0:
        return f"{limit // 1_000_000} MB"
    if limit >= 1_000:
        return f"{limit / 1_000:g} kB"
    return f"{limit} bytes"


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:160]
