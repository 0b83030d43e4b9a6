"""https against a local TLS server whose certificate a test CA (trustme) signed.

The public CAs cannot sign a certificate for 127.0.0.1, so the one thing replaced is where
the fetcher finds its CA bundle (certifi.where, or SSL_CERT_FILE as an operator names a
private CA): with the test CA there, a fetch succeeds; without it, the certificate is
refused.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import certifi
import pytest
import trustme

from aggregator.errors import FetchError
from aggregator.fetch import FetchOptions, Retriever
from aggregator.models import CacheValidators, Fetched, OrgKind, Source, SourceKind, Unchanged

if TYPE_CHECKING:  # imported for real by pytest_plugins, which must come first
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)  # the `http_server` fixture

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
SOURCE = Source(
    id="tls", name="TLS", url="https://127.0.0.1/", kind=SourceKind.FEED, org=OrgKind.NGO
)
OPTIONS = FetchOptions(
    user_agent="aggregator-test/1", connect_timeout=2, read_timeout=2, total_timeout=5, retries=0
)
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>tls</title></channel></rss>'


class _Feed(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.headers.get("If-None-Match") == '"v1"':
            self.send_response(304)
            self.send_header("ETag", '"v1"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("ETag", '"v1"')
        self.send_header("Content-Length", str(len(RSS)))
        self.end_headers()
        self.wfile.write(RSS)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture()
def tls_url(ca: trustme.CA) -> Iterator[str]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/feed"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def public_cas_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # Machines set these (CI's to the system bundle): each test says what it trusts.
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


@pytest.fixture()
def trusted(ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setattr(certifi, "where", lambda: str(bundle))


def retrieve(*urls: str, validators: CacheValidators | None = None) -> list[Fetched | Unchanged]:
    async def main() -> list[Fetched | Unchanged]:
        async with Retriever(OPTIONS) as retriever:
            return [
                await retriever.retrieve(SOURCE, url, validators or CacheValidators(), now=NOW)
                for url in urls
            ]

    return asyncio.run(main())


@pytest.mark.usefixtures("trusted")
def test_https_with_a_trusted_certificate_then_a_conditional_request(tls_url: str) -> None:
    first, second = retrieve(tls_url, tls_url)
    assert isinstance(first, Fetched)
    assert first.content == RSS
    assert first.validators.etag == '"v1"'
    (again,) = retrieve(tls_url, validators=first.validators)
    assert isinstance(again, Unchanged)
    assert isinstance(second, Fetched)  # the same connection, reused


def test_an_untrusted_certificate_is_refused(tls_url: str) -> None:
    with pytest.raises(FetchError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        retrieve(tls_url)


@pytest.mark.usefixtures("trusted")
def test_an_http_host_redirecting_to_https(http_server: FixtureServer, tls_url: str) -> None:
    # The http host's transports have no CA at all: the https hop must use the https host's.
    start = http_server.redirect("/moved", tls_url, status=301)
    (fetched,) = retrieve(start)
    assert isinstance(fetched, Fetched)
    assert fetched.content == RSS
    assert fetched.permanent_redirect == tls_url


def test_ssl_cert_file_names_a_private_ca(
    ca: trustme.CA, tls_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A private CA (or a TLS-inspecting proxy's), trusted the way OpenSSL, httpx and curl
    # are told: SSL_CERT_FILE, not a setting of ours.
    bundle = tmp_path / "private-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    (fetched,) = retrieve(tls_url)
    assert isinstance(fetched, Fetched) and fetched.content == RSS


def test_a_missing_ssl_cert_file_is_a_config_error_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from aggregator.cli import main
    from tests.support_config import write_config

    config = write_config(
        tmp_path / "config",
        [{"id": "a", "name": "A", "url": "https://example.org/feed", "kind": "feed", "org": "ngo"}],
    )
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "nowhere.pem"))
    assert main(["--config", str(config), "refresh"]) == 2
    err = capsys.readouterr().err
    assert f"environment: SSL_CERT_FILE={tmp_path / 'nowhere.pem'}: no such file" in err


def test_a_ca_file_that_is_no_pem_stops_the_refresh_as_a_config_error(
    tls_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Not a bug of each https source (each then backed off for hours): the environment's
    # mistake, said once, exit 2; `sources check` finds it before any fetch.
    from aggregator.cli import main
    from tests.support_config import write_config

    config = write_config(
        tmp_path / "config",
        [{"id": "tls", "name": "TLS", "url": tls_url, "kind": "feed", "org": "ngo"}],
    )
    not_pem = tmp_path / "notpem.txt"
    not_pem.write_text("not a certificate\n", encoding="utf-8")
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SSL_CERT_FILE", str(not_pem))
    assert main(["--config", str(config), "sources", "check"]) == 2
    assert f"SSL_CERT_FILE={not_pem}" in capsys.readouterr().err
    assert main(["--config", str(config), "refresh"]) == 2
    assert "cannot load the CA certificates" in capsys.readouterr().err
    assert main(["--config", str(config), "sources", "--json"]) == 0
    [health] = json.loads(capsys.readouterr().out)["sources"]
    assert health["consecutive_failures"] == 0  # no failure recorded against the source
