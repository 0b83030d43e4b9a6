"""A local HTTP server for the demo fixtures, with their dates rendered when served.

The fixtures carry placeholders such as `{{ago:26h:rfc822}}` instead of dates, so the demo
always shows the last few days, whenever it runs (see demo/fixtures/README.md).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"

CONTENT_TYPES = {
    ".xml": "application/xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}
_AGO = re.compile(r"\{\{ago:(\d+)([mhd]):(rfc822|iso|human)\}\}")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def render_dates(text: str, now: datetime) -> str:
    """Replace every `{{ago:<n><m|h|d>:<format>}}` by that time before `now`."""

    def date(match: re.Match[str]) -> str:
        when = now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        style = match.group(3)
        if style == "rfc822":
            return format_datetime(when, usegmt=True)
        if style == "iso":
            return when.isoformat(timespec="seconds")
        return f"{when.day} {when:%B %Y}"

    return _AGO.sub(date, text)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        name = self.path.split("?", 1)[0].lstrip("/")
        path = (FIXTURES / name).resolve()
        if path.parent != FIXTURES or path.suffix not in CONTENT_TYPES or not path.is_file():
            self.send_error(404)
            return
        body = render_dates(path.read_text(encoding="utf-8"), self.server.clock()).encode()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPES[path.suffix])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the refresh table says what was fetched


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    clock: Callable[[], datetime]


class FixtureSite:
    """Serves demo/fixtures on 127.0.0.1 (a free port) in a thread: `with FixtureSite() as s`."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.clock = clock
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, name: str) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/{name}"

    def __enter__(self) -> FixtureSite:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
