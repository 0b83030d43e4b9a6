"""A real HTTP/1.1 server on 127.0.0.1 for tests, with routes a test registers.

Use the `http_server` fixture by importing it into a test module::

    from tests.httpserver import http_server  # noqa: F401  (a pytest fixture)

    def test_x(http_server: FixtureServer) -> None:
        http_server.add("/feed", body=b"<rss/>", content_type="application/rss+xml", etag='"v1"')
        http_server.add("/down", status=500, times=2)    # the first two answers are 500 ...
        http_server.add("/down", body=b"ok")              # ... then 200 for ever
        http_server.redirect("/old", "/feed", status=301)
        url = http_server.url("/feed")
        ...
        assert http_server.requests("/feed")[1].headers["If-None-Match"] == '"v1"'

Routes of one path form a queue: a route with `times=n` answers n requests and is then
dropped; the last route of a path stays. Every request is recorded (`requests`, `count`),
with the client's port so a test can tell whether a connection was reused.
"""

from __future__ import annotations

import gzip as gzip_module
import itertools
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "application/xml"
    headers: Mapping[str, str] = field(default_factory=dict)  # sent as given, after the others
    etag: str | None = None  # answers 304 to a matching If-None-Match
    last_modified: str | None = None  # answers 304 to an equal If-Modified-Since
    delay: float = 0.0  # seconds before the status line is sent
    gzip: bool = False  # send the body gzip-encoded, whatever the client accepts
    times: int | None = None  # answer this many requests, then give way to the next route
    reason: str | None = None  # the status line's reason phrase; None: the standard one


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedRequest:
    method: str
    path: str
    headers: Message  # case-insensitive: headers["if-none-match"]
    client_port: int


class FixtureServer:
    """The routes, the request log and the server thread. Thread-safe."""

    def __init__(self) -> None:
        self._routes: dict[str, list[Route]] = {}
        self._log: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._active = 0
        self.peak_concurrency = 0  # most requests being answered at the same time
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fixture = self
        # A short poll interval: shutdown() waits up to one interval, and every test stops a server.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- registering routes ------------------------------------------------------------------

    def add(
        self,
        path: str,
        *,
        body: bytes | str = b"",
        status: int = 200,
        content_type: str | None = "application/xml",
        headers: Mapping[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        delay: float = 0.0,
        gzip: bool = False,
        times: int | None = None,
        reason: str | None = None,
    ) -> str:
        """Queue a response for `path` (no query string); returns its absolute URL.

        A `str` body is sent as UTF-8. To test a wrong charset, pass raw bytes and a
        `content_type` such as ``"text/xml; charset=utf-8"`` that does not match them.
        """
        route = Route(
            status=status,
            body=body.encode("utf-8") if isinstance(body, str) else body,
            content_type=content_type,
            headers=dict(headers or {}),
            etag=etag,
            last_modified=last_modified,
            delay=delay,
            gzip=gzip,
            times=times,
            reason=reason,
        )
        with self._lock:
            self._routes.setdefault(path, []).append(route)
        return self.url(path)

    def redirect(self, path: str, to: str, *, status: int = 302, times: int | None = None) -> str:
        """Answer `path` with a redirect to `to` (a path or an absolute URL)."""
        return self.add(
            path, status=status, headers={"Location": to}, content_type=None, times=times
        )

    def redirect_chain(self, paths: list[str], statuses: list[int]) -> str:
        """paths[0] -> paths[1] -> ... with statuses[i] for hop i; returns the first URL."""
        for (source, target), status in zip(itertools.pairwise(paths), statuses, strict=True):
            self.redirect(source, target, status=status)
        return self.url(paths[0])

    def clear(self, path: str) -> None:
        with self._lock:
            self._routes.pop(path, None)

    # -- reading what happened ---------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def requests(self, path: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self._log if path is None or r.path == path]

    def count(self, path: str) -> int:
        return len(self.requests(path))

    def _enter(self) -> None:
        with self._lock:
            self._active += 1
            self.peak_concurrency = max(self.peak_concurrency, self._active)

    def _leave(self) -> None:
        with self._lock:
            self._active -= 1

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FixtureServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FixtureServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- used by the handler -----------------------------------------------------------------

    def _take(self, request: RecordedRequest) -> Route | None:
        with self._lock:
            self._log.append(request)
            queue = self._routes.get(request.path)
            if not queue:
                return None
            # Routes used up drop out, but a path never loses its last route.
            while len(queue) > 1 and queue[0].times is not None and queue[0].times <= 0:
                queue.pop(0)
            route = queue[0]
            if route.times is not None:
                queue[0] = replace(route, times=route.times - 1)
            return route


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler stuck in a slow response must not block shutdown
    request_queue_size = 128  # the default backlog of 5 drops a burst of connections
    fixture: FixtureServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a timeout test) resets the connection: expected, not news.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    server: _Server

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def _answer(self, *, send_body: bool) -> None:
        path = self.path.split("?", 1)[0]
        recorded = RecordedRequest(
            method=self.command, path=path, headers=self.headers, client_port=self.client_address[1]
        )
        fixture = self.server.fixture
        fixture._enter()
        try:
            self._respond(fixture._take(recorded), send_body=send_body)
        finally:
            fixture._leave()

    def _respond(self, route: Route | None, *, send_body: bool) -> None:
        if route is None:
            route = Route(status=404, body=b"no route", content_type="text/plain")
        if route.delay:
            time.sleep(route.delay)
        status, body = route.status, route.body
        if _not_modified(route, self.headers):
            status, body = 304, b""
        elif route.gzip:
            body = gzip_module.compress(body)
        try:
            # The server's own Date unless the route gives one (a server whose clock is off).
            self.send_response_only(status, route.reason)
            self.send_header("Server", self.version_string())
            if not any(name.lower() == "date" for name in route.headers):
                self.send_header("Date", self.date_time_string())
            if route.content_type and status != 304:
                self.send_header("Content-Type", route.content_type)
            if route.etag:
                self.send_header("ETag", route.etag)
            if route.last_modified:
                self.send_header("Last-Modified", route.last_modified)
            if route.gzip and status != 304:
                self.send_header("Content-Encoding", "gzip")
            for name, value in route.headers.items():
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body and status != 304:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def _not_modified(route: Route, headers: Message) -> bool:
    if route.status != 200:
        return False
    if route.etag and headers.get("If-None-Match"):
        tags = [tag.strip() for tag in headers["If-None-Match"].split(",")]
        return route.etag in tags or "*" in tags
    if route.last_modified and headers.get("If-Modified-Since"):
        return headers["If-Modified-Since"] == route.last_modified
    return False


@pytest.fixture()
def http_server() -> Iterator[FixtureServer]:
    """A started `FixtureServer` on 127.0.0.1, stopped after the test."""
    with FixtureServer() as server:
        yield server


@pytest.fixture()
def other_http_server() -> Iterator[FixtureServer]:
    """A second server, on another port: another host to the fetch stage (its per-host
    limits, cookies, and the hold a Retry-After puts on a host), beside `http_server`."""
    with FixtureServer() as server:
        yield server
