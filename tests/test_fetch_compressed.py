"""Compressed bodies that are not whole documents, against a real HTTP server on 127.0.0.1:
a stream cut short (with a Content-Length that matches the cut), and gzip data the server
did not declare (or declared once and applied twice)."""

from __future__ import annotations

import gzip
import json
import zlib
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import brotli  # type: ignore[import-untyped]
import pytest

from aggregator.errors import FetchError, RateLimited
from aggregator.models import Fetched
from tests.support_config import write_config
from tests.test_fetch_http import FAST, NOW, RSS, fetch
from tests.test_refresh import refresh_json, run, source, statuses

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

INCOMPLETE = "the compressed body ends early: an incomplete download"
ENTRIES = 20


def feed(entries: int = ENTRIES) -> bytes:
    """An RSS feed of `entries` entries, each with a paragraph of text (so that a cut in its
    compressed form leaves whole entries before it and loses the others)."""
    items = "".join(
        f"<item><title>Statement {n}</title><link>https://example.org/s/{n}</link>"
        f"<guid>https://example.org/s/{n}</guid><pubDate>Mon, 03 Nov 2025 10:{n:02d}:00 GMT"
        f"</pubDate><description>Statement {n} on the regulation: "
        + " ".join(f"word{n}x{k}" for k in range(40))
        + "</description></item>"
        for n in range(entries)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Press</title>'
        f"<link>https://example.org/</link><description>d</description>{items}</channel></rss>"
    ).encode()


def compressed(data: bytes, coding: str) -> bytes:
    if coding == "br":
        return bytes(brotli.compress(data))
    if coding == "gzip":
        return gzip.compress(data)
    squeeze = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS)  # deflate: zlib-wrapped
    return squeeze.compress(data) + squeeze.flush()


def cut(data: bytes) -> bytes:
    """The first 60% of `data`: a download that stopped, sent with a Content-Length that
    says exactly that much (the fixture server sends the length of the body it is given)."""
    return data[: len(data) * 6 // 10]


# -- the fetch stage ---------------------------------------------------------------------------


@pytest.mark.parametrize("coding", ["gzip", "br", "deflate"])
def test_a_compressed_body_cut_short_is_an_incomplete_download_retried(
    http_server: FixtureServer, coding: str
) -> None:
    whole = compressed(feed(), coding)
    # Before the fix, the decoder handed out what the cut stream held and the fetch
    # returned it as the document: twelve entries of twenty, and the ETag of the whole.
    partial = zlib.decompressobj(31).decompress(cut(whole)) if coding == "gzip" else b""
    assert coding != "gzip" or b"<title>Statement 5</title>" in partial
    url = http_server.add(
        "/feed", body=cut(whole), headers={"Content-Encoding": coding}, etag='"whole"'
    )
    with pytest.raises(FetchError) as caught:
        fetch(url)
    assert INCOMPLETE in caught.value.message
    assert caught.value.message.startswith("127.0.0.1:")  # names the host, as others do
    assert coding.replace("br", "brotli") in caught.value.message
    # Retried as any other incomplete answer is (a connection that dropped mid-body).
    assert http_server.count("/feed") == 1 + FAST.retries


def test_a_cut_download_then_a_whole_one_is_read_whole(http_server: FixtureServer) -> None:
    whole = gzip.compress(feed())
    http_server.add("/feed", body=cut(whole), headers={"Content-Encoding": "gzip"}, times=1)
    url = http_server.add("/feed", body=whole, headers={"Content-Encoding": "gzip"})
    result = fetch(url)
    assert isinstance(result, Fetched) and result.content == feed()
    assert http_server.count("/feed") == 2


def test_a_gzip_member_cut_after_a_whole_one_is_incomplete(http_server: FixtureServer) -> None:
    first, second = feed()[:3000], feed()[3000:]
    body = gzip.compress(first) + cut(gzip.compress(second))
    url = http_server.add("/feed", body=body, headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match=INCOMPLETE):
        fetch(url, retries=0)


def test_whole_streams_with_what_browsers_accept_after_them_still_read(
    http_server: FixtureServer,
) -> None:
    document = feed()
    # Several gzip members (gzip -c a b), and bytes after the last member's end (a CRLF,
    # junk, a lone first byte of a gzip header): read, as gzip and browsers read them.
    bodies = {
        "/members": gzip.compress(document[:3000]) + gzip.compress(document[3000:]),
        "/crlf": gzip.compress(document) + b"\r\n",
        "/junk": gzip.compress(document) + b"\r\nJUNK",
        "/lone": gzip.compress(document) + b"\x1f",
    }
    for path, body in bodies.items():
        url = http_server.add(path, body=body, headers={"Content-Encoding": "gzip"})
        assert fetch(url, retries=0).content == document, path


def test_an_error_page_cut_short_is_reported_by_its_status(http_server: FixtureServer) -> None:
    # Only a document must be whole: a 404's page is looked at for challenge markers alone.
    page = cut(gzip.compress(b"<html><body>" + b"Not here. " * 500 + b"</body></html>"))
    url = http_server.add(
        "/feed", status=404, body=page, headers={"Content-Encoding": "gzip"}, content_type=None
    )
    with pytest.raises(FetchError) as caught:
        fetch(url)
    assert caught.value.message == "HTTP 404 Not Found"
    assert http_server.count("/feed") == 1


NOT_GZIP = b"<html><body>Down for maintenance.</body></html>"  # declared gzip below


def test_a_503_whose_page_is_not_the_gzip_it_says_still_holds_the_host(
    http_server: FixtureServer,
) -> None:
    # The status and its Retry-After say what happened; the page was read only for a
    # challenge's markers. It was "a body that cannot be decompressed": no hold, retried.
    url = http_server.add(
        "/feed",
        status=503,
        body=NOT_GZIP,
        headers={"Content-Encoding": "gzip", "Retry-After": "600"},
        content_type="text/html",
    )
    with pytest.raises(RateLimited) as caught:
        fetch(url)
    assert caught.value.retry_at == NOW + timedelta(seconds=600)
    assert http_server.count("/feed") == 1


def test_a_301_whose_page_is_not_the_gzip_it_says_is_followed(http_server: FixtureServer) -> None:
    http_server.add(
        "/old",
        status=301,
        body=NOT_GZIP,
        headers={"Content-Encoding": "gzip", "Location": "/new"},
        content_type="text/html",
    )
    http_server.add("/new", body=RSS)
    result = fetch(http_server.url("/old"))
    assert result.content == RSS
    assert result.permanent_redirect == http_server.url("/new")


def test_a_410_whose_page_is_over_the_cap_is_reported_by_its_status(
    http_server: FixtureServer,
) -> None:
    url = http_server.add("/feed", status=410, body=b"x" * 5000, content_type="text/html")
    with pytest.raises(FetchError) as caught:
        fetch(url, max_bytes=1000)
    assert caught.value.message == "HTTP 410 Gone"
    assert caught.value.status_code == 410


def test_a_body_of_gzip_data_not_declared_is_named_not_parsed(
    http_server: FixtureServer,
) -> None:
    # Served as the feed itself (a .gz file): the parser said "not well-formed (invalid
    # token) at line 1, column 0".
    url = http_server.add("/feed.xml.gz", body=gzip.compress(RSS), content_type="application/xml")
    with pytest.raises(FetchError) as caught:
        fetch(url)
    assert caught.value.message == (
        "the body is gzip-compressed data that the server did not declare as such (no"
        " Content-Encoding: gzip; Content-Type: application/xml); not decompressed, as browsers"
        " do not: the publisher's server needs fixing"
    )
    assert http_server.count("/feed.xml.gz") == 1  # not retried: it is the same next time


def test_gzip_inside_gzip_declared_once_is_named_not_parsed(http_server: FixtureServer) -> None:
    twice = gzip.compress(gzip.compress(RSS))
    url = http_server.add("/feed", body=twice, headers={"Content-Encoding": "gzip"})
    with pytest.raises(
        FetchError,
        match=r"the body is compressed twice: once its Content-Encoding \(gzip\) is undone",
    ):
        fetch(url)
    # Declared twice, it is undone twice, and read.
    url = http_server.add("/both", body=twice, headers={"Content-Encoding": "gzip, gzip"})
    assert fetch(url).content == RSS


# -- what a refresh keeps of it ----------------------------------------------------------------


def test_a_cut_download_stores_no_etag_so_the_next_refresh_gets_every_entry(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = gzip.compress(feed())
    gz = {"Content-Encoding": "gzip"}
    # Cut twice (the refresh's two attempts), then whole; the ETag is the whole document's.
    http_server.add("/cut.xml", body=cut(whole), headers=gz, etag='"v1"', times=2)
    url = http_server.add("/cut.xml", body=whole, headers=gz, etag='"v1"')
    config = write_config(
        env / "config", [source("press", url)], settings="[fetch]\nretries = 1\nbackoff_base = 0.01"
    )
    code, first = refresh_json(capsys, config)
    assert code == 1 and statuses(first) == {"press": "error"}
    assert INCOMPLETE in first["sources"][0]["error"]
    assert http_server.count("/cut.xml") == 2

    # Before the fix: "new" with the first twelve entries and ETag "v1" stored, then a 304
    # at every refresh, the eight others never read.
    code, second = refresh_json(capsys, config)
    assert code == 0 and statuses(second) == {"press": "new"}
    assert second["sources"][0]["new"] == ENTRIES
    assert "If-None-Match" not in http_server.requests("/cut.xml")[-1].headers
    code, out, _ = run(capsys, "--config", str(config), "sources", "--json")
    assert json.loads(out)["sources"][0]["items"] == ENTRIES
