"""A real HTTP feed server on 127.0.0.1 for tests: serves bytes, honours ETags, fails on demand.

Usage::

    with FeedServer() as server:
        server.serve("/rss", body, "application/rss+xml")
        url = server.url("/rss")
        ...
        assert server.count("/rss") == 2 and server.conditional_count("/rss") == 1

It runs ``http.server.ThreadingHTTPServer`` on port 0 in a daemon thread, so any client (httpx,
aiohttp, a browser) talks to it over a real socket.
"""

from __future__ import annotations

import hashlib
import http.server
import ssl
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any


@dataclass
class Route:
    """What the server does for one path."""

    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    trickle: float | None = None
    """Seconds between bytes: send the body one byte at a time."""


@dataclass(frozen=True)
class SeenRequest:
    path: str
    headers: dict[str, str]
    """Lower-cased header names."""
    connection: int = 0
    """The client's port: requests that share it came over one kept-alive connection."""

    @property
    def conditional(self) -> bool:
        return "if-none-match" in self.headers or "if-modified-since" in self.headers


class FeedServer:
    """A small programmable HTTP server (see module doc)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        tls: ssl.SSLContext | None = None,
        idle_timeout: float | None = None,
    ) -> None:
        """``tls``: a server-side context; the server then speaks HTTPS only. ``idle_timeout``:
        seconds after which the server silently closes a kept-alive connection with no request
        on it (as busy servers and load balancers do)."""
        self.routes: dict[str, Route] = {}
        self.requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        handler = _handler_for(self)
        handler.timeout = idle_timeout
        self._httpd = http.server.ThreadingHTTPServer((host, 0), handler)
        self._httpd.daemon_threads = True
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self._thread: threading.Thread | None = None
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self.scheme = "https" if tls is not None else "http"

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FeedServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- programming -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def serve(
        self,
        path: str,
        body: bytes,
        content_type: str = "application/rss+xml; charset=utf-8",
        *,
        etag: str | bool = True,
        last_modified: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Route:
        """Serve ``body`` at ``path``; ``etag=True`` derives an ETag from the body, False none."""
        tag = f'"{hashlib.sha1(body).hexdigest()[:16]}"' if etag is True else (etag or None)
        route = Route(
            body=body,
            content_type=content_type,
            headers=dict(headers or {}),
            etag=tag,
            last_modified=last_modified,
        )
        self.routes[path] = route
        return route

    def fail(
        self, path: str, status: int, *, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Route:
        """Answer ``status`` at ``path`` (e.g. 500, or 429 with a Retry-After header)."""
        route = Route(
            body=body, content_type="text/plain", status=status, headers=dict(headers or {})
        )
        self.routes[path] = route
        return route

    def redirect(self, path: str, to: str, status: int = 302) -> Route:
        """Redirect ``path`` to ``to`` (a path on this server or an absolute URL)."""
        route = Route(status=status, headers={"Location": to}, content_type="text/plain")
        self.routes[path] = route
        return route

    def trickle(self, path: str, body: bytes, interval: float = 0.2) -> Route:
        """Send ``body`` one byte every ``interval`` seconds (a server too slow to finish)."""
        route = Route(body=body, trickle=interval)
        self.routes[path] = route
        return route

    # --- inspection ------------------------------------------------------------------------------

    def seen(self, path: str) -> list[SeenRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def count(self, path: str) -> int:
        return len(self.seen(path))

    def conditional_count(self, path: str) -> int:
        return sum(1 for r in self.seen(path) if r.conditional)

    def connections(self) -> int:
        """How many TCP connections the requests so far came over."""
        with self._lock:
            return len({r.connection for r in self.requests})

    def _record(self, request: SeenRequest) -> None:
        with self._lock:
            self.requests.append(request)


def _handler_for(server: FeedServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            headers = {k.lower(): v for k, v in self.headers.items()}
            server._record(
                SeenRequest(path=path, headers=headers, connection=int(self.client_address[1]))
            )
            route = server.routes.get(path)
            if route is None:
                self._send(404, b"not found", "text/plain", {})
                return
            if route.status == 200 and self._not_modified(route, headers):
                extra = {"ETag": route.etag} if route.etag else {}
                self.send_response(304)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            extra = dict(route.headers)
            if route.etag:
                extra.setdefault("ETag", route.etag)
            if route.last_modified:
                extra.setdefault("Last-Modified", route.last_modified)
            if route.trickle is not None:
                self._trickle(route, extra)
                return
            self._send(route.status, route.body, route.content_type, extra)

        def _not_modified(self, route: Route, headers: dict[str, str]) -> bool:
            if route.etag and headers.get("if-none-match") == route.etag:
                return True
            return bool(
                route.last_modified
                and "if-none-match" not in headers
                and headers.get("if-modified-since") == route.last_modified
            )

        def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _trickle(self, route: Route, extra: dict[str, str]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(route.body)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.flush()
            interval = route.trickle or 0.2
            try:
                for i in range(len(route.body)):
                    self.wfile.write(route.body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(interval)
            except OSError:  # the client gave up: that is the point
                self.close_connection = True

    return Handler
