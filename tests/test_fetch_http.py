"""The retriever against a real HTTP server on 127.0.0.1 (tests/httpserver.py)."""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import brotli  # type: ignore[import-untyped]
import httpx
import pytest

from aggregator.errors import Blocked, FetchError, RateLimited
from aggregator.fetch import FetchOptions, Retriever
from aggregator.fetch.http import MAX_COOKIE_BYTES_PER_HOST
from aggregator.fetch.inflate import ZlibDecoder
from aggregator.models import (
    CacheValidators,
    Fetched,
    OrgKind,
    Selectors,
    Source,
    SourceKind,
    Unchanged,
)

if TYPE_CHECKING:  # imported for real by pytest_plugins, which must come first
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)  # the `http_server` fixture

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
SOURCE = Source(
    id="ep-press", name="EP press", url="http://x/", kind=SourceKind.FEED, org=OrgKind.PARLIAMENT
)
# Short timeouts and a tiny backoff keep the failure tests fast; retries stay at the default.
FAST = FetchOptions(
    user_agent="aggregator-test/1 (+mailto:test@example.org)",
    connect_timeout=2,
    read_timeout=2,
    total_timeout=5,
    backoff_base=0.01,
)
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
T = TypeVar("T")


def run(work: Callable[[Retriever], Awaitable[T]], options: FetchOptions = FAST) -> T:
    async def main() -> T:
        async with Retriever(options) as retriever:
            return await work(retriever)

    return asyncio.run(main())


def fetch(url: str, validators: CacheValidators | None = None, **options: Any) -> Any:
    opts = FetchOptions(**{**_fields(FAST), **options})
    return run(lambda r: r.retrieve(SOURCE, url, validators or CacheValidators(), now=NOW), opts)


def _fields(options: FetchOptions) -> dict[str, Any]:
    return {name: getattr(options, name) for name in options.__slots__}


# -- conditional GET ---------------------------------------------------------------------------


def test_etag_round_trip_gives_unchanged_over_the_same_connection(
    http_server: FixtureServer,
) -> None:
    url = http_server.add("/feed", body=RSS, etag='"v1"')

    async def twice(r: Retriever) -> tuple[Fetched | Unchanged, Fetched | Unchanged]:
        first = await r.retrieve(SOURCE, url, CacheValidators(), now=NOW)
        assert isinstance(first, Fetched)
        return first, await r.retrieve(SOURCE, url, first.validators, now=NOW)

    first, second = run(twice)
    assert isinstance(first, Fetched) and first.content == RSS
    assert first.validators == CacheValidators(etag='"v1"')
    # The 304 carries the ETag again: it is handed on, to be stored (RFC 9111 4.3.4).
    assert second == Unchanged(url=url, validators=CacheValidators(etag='"v1"'))
    sent = http_server.requests("/feed")
    assert "If-None-Match" not in sent[0].headers
    assert sent[1].headers["If-None-Match"] == '"v1"'
    # Keep-alive: the 304 came over the connection of the first answer, not a new one.
    assert sent[0].client_port == sent[1].client_port


def test_last_modified_round_trip(http_server: FixtureServer) -> None:
    stamp = "Wed, 12 Mar 2025 08:00:00 GMT"
    url = http_server.add("/feed", body=RSS, last_modified=stamp)
    first = fetch(url)
    assert first.validators == CacheValidators(last_modified=stamp)
    assert isinstance(fetch(url, first.validators), Unchanged)
    assert http_server.requests("/feed")[1].headers["If-Modified-Since"] == stamp


def test_a_304_to_a_request_without_validators_is_an_error(http_server: FixtureServer) -> None:
    # A broken server (or cache) that says "not modified" to a plain GET: no document, and
    # no success either, or it would look healthy forever with no items.
    url = http_server.add("/feed", status=304)
    with pytest.raises(FetchError, match="304 Not Modified to a request that was not conditional"):
        fetch(url)
    assert isinstance(fetch(url, CacheValidators(etag='"v1"')), Unchanged)


def test_headers_are_lower_case_and_freshness_comes_from_max_age(
    http_server: FixtureServer,
) -> None:
    url = http_server.add(
        "/feed", body=RSS, headers={"Cache-Control": "public, max-age=600", "X-Thing": "A"}
    )
    result = fetch(url)
    assert result.headers["x-thing"] == "A"
    assert result.headers["content-type"] == "application/xml"
    assert result.fresh_until == NOW + timedelta(seconds=600)


@pytest.mark.parametrize("server_clock_ahead", [timedelta(0), timedelta(hours=5)])
def test_freshness_from_expires_by_the_server_s_own_clock(
    http_server: FixtureServer, server_clock_ahead: timedelta
) -> None:
    # RFC 9111 4.2.1: fresh for Expires - Date. Compared with our clock, a server five hours
    # ahead kept a source unasked for six hours instead of two.
    sent = NOW + server_clock_ahead
    headers = {
        "Date": format_datetime(sent, True),
        "Expires": format_datetime(sent + timedelta(hours=2), True),
    }
    url = http_server.add("/feed", body=RSS, headers=headers)
    assert fetch(url).fresh_until == NOW + timedelta(hours=2)


def test_a_listing_page_is_asked_for_as_html_and_a_feed_as_a_feed(
    http_server: FixtureServer,
) -> None:
    # A server that negotiates sent its feed for a listing page's URL: the feed types came
    # first in every request's Accept.
    page = http_server.add("/press/", body=b"<html></html>", content_type="text/html")
    feed = http_server.add("/feed", body=RSS)
    listing = replace(
        SOURCE, kind=SourceKind.HTML, selectors=Selectors(item="li", title="a", link="a")
    )
    opts = FetchOptions(**_fields(FAST))
    run(lambda r: r.retrieve(listing, page, CacheValidators(), now=NOW), opts)
    fetch(feed)
    asked = http_server.requests("/press/")[0].headers["Accept"]
    assert asked.startswith("text/html")
    assert http_server.requests("/feed")[0].headers["Accept"].startswith("application/atom+xml")


def test_sends_user_agent_and_accepts_compression(http_server: FixtureServer) -> None:
    url = http_server.add("/feed", body=RSS)
    fetch(url)
    headers = http_server.requests("/feed")[0].headers
    assert headers["User-Agent"] == FAST.user_agent
    assert {"gzip", "deflate", "br"} <= {e.strip() for e in headers["Accept-Encoding"].split(",")}


# -- rate limits -------------------------------------------------------------------------------


def test_429_with_retry_after_seconds_is_rate_limited_without_retrying(
    http_server: FixtureServer,
) -> None:
    url = http_server.add("/feed", status=429, headers={"Retry-After": "120"})
    with pytest.raises(RateLimited) as caught:
        fetch(url)
    assert caught.value.retry_at == NOW + timedelta(seconds=120)
    assert caught.value.status_code == 429
    assert caught.value.source_id == "ep-press"
    assert http_server.count("/feed") == 1


def test_429_with_retry_after_date(http_server: FixtureServer) -> None:
    when = NOW + timedelta(minutes=30)
    url = http_server.add("/feed", status=429, headers={"Retry-After": format_datetime(when, True)})
    with pytest.raises(RateLimited) as caught:
        fetch(url)
    assert caught.value.retry_at == when


def test_a_retry_after_date_is_told_as_the_server_sent_it(http_server: FixtureServer) -> None:
    # Held to ten years (2036 from 2025); the message said "retry after 2036-...", a date the
    # server never sent. Told in UTC, as a delay in seconds is, whatever zone it came in.
    asked = "Thu, 01 Jan 2099 01:30:00 +0130"
    url = http_server.add("/feed", status=429, headers={"Retry-After": asked})
    with pytest.raises(RateLimited) as caught:
        fetch(url)
    assert caught.value.message == (
        "HTTP 429 Too Many Requests, retry after 2099-01-01T00:00:00+00:00"
    )
    assert caught.value.retry_at is not None and caught.value.retry_at.year == 2035


def test_a_429_whose_retry_after_date_is_past_holds_nothing(http_server: FixtureServer) -> None:
    # The server's clock two hours behind: the error said "retry after" that past time, as
    # if a wait were in force, and the host was held until then (that is, not at all).
    url = http_server.add(
        "/feed", status=429, headers={"Retry-After": format_datetime(NOW - timedelta(hours=2))}
    )
    sibling = http_server.add("/other", body=RSS)

    async def work(r: Retriever) -> tuple[RateLimited, Fetched | Unchanged]:
        with pytest.raises(RateLimited) as caught:
            await r.retrieve(SOURCE, url, CacheValidators(), now=NOW)
        return caught.value, await r.retrieve(SOURCE, sibling, CacheValidators(), now=NOW)

    limited, other = run(work)
    assert limited.retry_at is None  # the usual backoff, not a wait
    assert limited.message == (
        "HTTP 429 Too Many Requests; its Retry-After, 2025-03-14T07:30:00+00:00, is already"
        " past (the server's clock may be behind): no wait is held, and it is retried as"
        " after any other failure"
    )
    assert isinstance(other, Fetched)  # the host is not held


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        ({}, "; it sent no Retry-After: it is retried as after any other failure"),
        (
            {"Retry-After": "soon"},
            "; its Retry-After, 'soon', is no delay or date: it is retried as after any other"
            " failure",
        ),
    ],
    ids=["none", "unreadable"],
)
def test_a_429_without_a_usable_retry_after_says_why_no_wait_is_kept(
    http_server: FixtureServer, headers: dict[str, str], said: str
) -> None:
    # "rate limited: HTTP 429 Too Many Requests" alone left the operator to guess why the
    # source was asked again at the next interval, not at a time the server named.
    url = http_server.add("/feed", status=429, headers=headers)
    with pytest.raises(RateLimited) as caught:
        fetch(url)
    assert caught.value.retry_at is None
    assert caught.value.message == "HTTP 429 Too Many Requests" + said


def test_a_503_whose_retry_after_date_is_past_is_an_ordinary_503(
    http_server: FixtureServer,
) -> None:
    past = format_datetime(NOW - timedelta(minutes=5))
    url = http_server.add("/feed", status=503, headers={"Retry-After": past})
    with pytest.raises(FetchError) as caught:
        fetch(url)
    assert not isinstance(caught.value, RateLimited)
    assert caught.value.message.startswith(
        "HTTP 503 Service Unavailable; its Retry-After, 2025-03-14T09:25:00+00:00, is already past"
    )
    assert http_server.count("/feed") == 1 + FAST.retries  # retried, as a 503 asking no wait


def test_429_without_retry_after_has_no_retry_time(http_server: FixtureServer) -> None:
    url = http_server.add("/feed", status=429)
    with pytest.raises(RateLimited) as caught:
        fetch(url)
    assert caught.value.retry_at is None
    assert http_server.count("/feed") == 1


def test_503_with_retry_after_is_rate_limited(http_server: FixtureServer) -> None:
    url = http_server.add("/feed", status=503, headers={"Retry-After": "5"})
    with pytest.raises(RateLimited) as caught:
        fetch(url)
    assert caught.value.retry_at == NOW + timedelta(seconds=5)
    assert caught.value.status_code == 503
    assert http_server.count("/feed") == 1


@pytest.mark.parametrize(
    ("reason", "told"),
    [
        ("\x1b[2J\x1b[HAll good", "HTTP 404 '\\x1b[2J\\x1b[HAll good'"),  # cleared the screen
        ("Not Found", "HTTP 404 Not Found"),
        ("x" * 3000, "HTTP 404 " + "x" * 99 + "…"),
    ],
    ids=["escapes", "plain", "long"],
)
def test_a_server_s_reason_phrase_reaches_messages_printable_and_short(
    http_server: FixtureServer, reason: str, told: str
) -> None:
    url = http_server.add("/feed", status=404, reason=reason, content_type="text/plain")
    with pytest.raises(FetchError) as caught:
        fetch(url)
    assert caught.value.message == told


# -- retries -----------------------------------------------------------------------------------


def test_500_is_retried_then_reported(http_server: FixtureServer) -> None:
    url = http_server.add("/feed", status=500, body=b"oops", content_type="text/plain")
    with pytest.raises(FetchError) as caught:
        fetch(url)
    assert caught.value.message == "HTTP 500 Internal Server Error"
    assert caught.value.status_code == 500
    assert str(caught.value) == "fetch failed: 'ep-press': HTTP 500 Internal Server Error"
    assert http_server.count("/feed") == 1 + FAST.retries


def test_503_without_retry_after_is_retried(http_server: FixtureServer) -> None:
    url = http_server.add("/feed", status=503, content_type="text/plain")
    with pytest.raises(FetchError) as caught:
        fetch(url, retries=1)
    assert not isinstance(caught.value, RateLimited)
    assert http_server.count("/feed") == 2


def test_retry_after_0_asks_for_no_wait(http_server: FixtureServer) -> None:
    # It was told as a maintenance hold until a time already past, and not retried.
    unavailable = http_server.add("/feed", status=503, headers={"Retry-After": "0"})
    with pytest.raises(FetchError) as caught:
        fetch(unavailable, retries=1)
    assert not isinstance(caught.value, RateLimited)
    assert http_server.count("/feed") == 2
    assert caught.value.message == (
        "HTTP 503 Service Unavailable; its Retry-After is 0, no wait: it is retried as after"
        " any other failure"
    )
    limited = http_server.add("/limited", status=429, headers={"Retry-After": "0"})
    with pytest.raises(RateLimited) as said:
        fetch(limited)
    assert said.value.retry_at is None
    assert said.value.message.endswith(
        "its Retry-After is 0, no wait: it is retried as after any other failure"
    )


def test_500_then_200_recovers(http_server: FixtureServer) -> None:
    http_server.add("/feed", status=500, times=1)
    url = http_server.add("/feed", body=RSS)
    result = fetch(url)
    assert isinstance(result, Fetched) and result.content == RSS
    assert http_server.count("/feed") == 2


def test_404_fails_at_once(http_server: FixtureServer) -> None:
    url = http_server.add("/feed", status=404, body=b"gone", content_type="text/plain")
    with pytest.raises(FetchError) as caught:
        fetch(url)
    assert caught.value.status_code == 404
    assert caught.value.message == "HTTP 404 Not Found"
    assert http_server.count("/feed") == 1


def test_slow_response_times_out_with_the_httpx_cause(http_server: FixtureServer) -> None:
    url = http_server.add("/feed", body=RSS, delay=1.0)
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetch(url, read_timeout=0.2, retries=0)
    host = url.split("/")[2]
    expected = f"read timeout: {host} sent no answer within 0.2s"
    assert caught.value.message == expected
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert time.monotonic() - started < 0.9


def test_total_timeout_bounds_one_attempt(http_server: FixtureServer) -> None:
    url = http_server.add("/feed", body=RSS, delay=1.0)
    with pytest.raises(FetchError) as caught:
        fetch(url, read_timeout=5, total_timeout=0.2, retries=0)
    host = url.split("/")[2]  # with its port, as the other network errors name it
    assert caught.value.message == (
        f"total timeout: no complete answer from {host} within 0.2s (fetch.total_timeout)"
    )


def test_connection_refused_is_retried_and_wrapped() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError) as caught:
        fetch(f"http://127.0.0.1:{port}/feed", retries=1)
    assert caught.value.message == f"connection refused by 127.0.0.1:{port}"
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def _resolver_answering(
    monkeypatch: pytest.MonkeyPatch, host: str, error: socket.gaierror
) -> list[str]:
    """The DNS is the one part that cannot exist offline: `host` gets `error`, every other
    name resolves as usual. Returns the lookups of `host`."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(name: Any, *args: Any, **kwargs: Any) -> Any:
        if name in (host, host.encode()):  # anyio passes the IDNA-encoded bytes
            asked.append(host)
            raise error
        return real(name, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_a_host_the_dns_says_does_not_exist_is_not_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nxdomain = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    asked = _resolver_answering(monkeypatch, "feeds.example.invalid", nxdomain)
    with pytest.raises(FetchError) as caught:
        fetch("http://feeds.example.invalid/rss", retries=2)
    assert asked == ["feeds.example.invalid"]  # one attempt, not three
    expected = "host not found: feeds.example.invalid (Name or service not known)"
    assert caught.value.message == expected


def test_a_resolver_that_cannot_be_reached_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    unreachable = socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    asked = _resolver_answering(monkeypatch, "feeds.example.invalid", unreachable)
    with pytest.raises(FetchError, match="Temporary failure"):
        fetch("http://feeds.example.invalid/rss", retries=2)
    assert len(asked) == 3


def test_unsupported_scheme() -> None:
    with pytest.raises(FetchError, match="unsupported URL scheme 'ftp'"):
        fetch("ftp://example.org/feed")


# -- redirects ---------------------------------------------------------------------------------


def test_chain_of_permanent_redirects_is_recorded(http_server: FixtureServer) -> None:
    start = http_server.redirect_chain(["/a", "/b", "/c"], [301, 308])
    final = http_server.add("/c", body=RSS)
    result = fetch(start)
    assert result.url == final
    assert result.permanent_redirect == final
    assert [http_server.count(p) for p in ("/a", "/b", "/c")] == [1, 1, 1]


def test_a_permanent_hop_before_a_temporary_one_is_recorded(http_server: FixtureServer) -> None:
    # The feed moved to /b for good; /b's 302 says only where to read it today.
    start = http_server.redirect_chain(["/a", "/b", "/c"], [301, 302])
    final = http_server.add("/c", body=RSS)
    result = fetch(start)
    assert result.url == final
    assert result.permanent_redirect == final.replace("/c", "/b")


def test_a_permanent_hop_after_a_temporary_one_is_not_recorded(
    http_server: FixtureServer,
) -> None:
    # The configured URL itself only moved for now: it must be asked again next time.
    start = http_server.redirect_chain(["/a", "/b", "/c"], [302, 301])
    final = http_server.add("/c", body=RSS)
    result = fetch(start)
    assert result.url == final
    assert result.permanent_redirect is None


def test_no_redirect_no_record(http_server: FixtureServer) -> None:
    assert fetch(http_server.add("/feed", body=RSS)).permanent_redirect is None


@pytest.mark.parametrize(
    "location",
    ["http://127.0.0.1:99999/x", "http://127.0.0.1:-1/x", f"http://{'a' * 70}.example/x"],
)
def test_a_redirect_to_an_unfetchable_url_is_a_clear_error(
    http_server: FixtureServer, location: str
) -> None:
    start = http_server.redirect("/moved", location, status=301)
    with pytest.raises(FetchError) as caught:
        fetch(start, retries=0)
    assert caught.value.message.startswith(f"bad redirect to {location!r}: ")


def test_a_redirect_to_a_local_file_is_refused_by_name(
    http_server: FixtureServer, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(RSS)
    start = http_server.redirect("/moved", secret.as_uri(), status=302)
    with pytest.raises(FetchError) as caught:
        fetch(start, retries=0)
    assert caught.value.message == (
        f"bad redirect to {secret.as_uri()!r}: a server may redirect only to http:// or https://"
    )


def test_a_host_setting_hundreds_of_cookies_does_not_grow_every_request(
    http_server: FixtureServer,
) -> None:
    # Each answer sets a cookie of its own: 60 of them for one host.
    urls = [
        http_server.add(f"/c{n}", body=RSS, headers={"Set-Cookie": f"c{n}=v{n}; Path=/"})
        for n in range(60)
    ]
    last = http_server.add("/last", body=RSS)

    async def all_of_them(retriever: Retriever) -> None:
        for url in [*urls, last]:
            await retriever.retrieve(SOURCE, url, CacheValidators(), now=NOW)

    run(all_of_them)
    cookie = http_server.requests("/last")[-1].headers.get("Cookie", "")
    assert 0 < cookie.count("=") <= 50


def test_a_host_setting_a_big_cookie_at_every_answer_keeps_the_header_bounded(
    http_server: FixtureServer,
) -> None:
    # A new 1.5 KB cookie with each answer: 20 of them, far below the count limit, made a
    # 30 KB Cookie header, which servers refuse (431) past about 8 KB.
    big = "x" * 1500
    http_server.add("/login", body=RSS, headers={"Set-Cookie": "session=s1; Path=/"})
    urls = [
        http_server.add(f"/c{n}", body=RSS, headers={"Set-Cookie": f"big{n}={big}; Path=/"})
        for n in range(20)
    ]
    # A cookie bigger than the whole allowance (as browsers refuse one over 4 KB).
    huge = http_server.add("/huge", body=RSS, headers={"Set-Cookie": f"huge={'y' * 5000}"})
    http_server.add("/again", body=RSS, headers={"Set-Cookie": "session=s2; Path=/"})
    last = http_server.add("/last", body=RSS)

    async def all_of_them(retriever: Retriever) -> None:
        for url in [http_server.url("/login"), *urls, huge, http_server.url("/again"), last]:
            await retriever.retrieve(SOURCE, url, CacheValidators(), now=NOW)

    run(all_of_them)
    sent = [r.headers.get("Cookie", "") for r in http_server.requests()]
    assert max(len(cookie) for cookie in sent) <= MAX_COOKIE_BYTES_PER_HOST
    cookies = dict(part.split("=", 1) for part in sent[-1].split("; "))
    # The least recently set went first: the newest big ones, and the session the site
    # set again, are kept; the one bigger than the allowance is not kept at all.
    assert cookies["session"] == "s2"
    assert cookies["big19"] == big and "big0" not in cookies
    assert "huge" not in cookies


def test_redirect_loop_is_an_error_that_names_the_loop(http_server: FixtureServer) -> None:
    url = http_server.redirect("/loop", "/loop", status=302)
    with pytest.raises(FetchError) as caught:
        fetch(url)
    # Before, "more than 10 redirects" alone: no URL to tell the operator where to look.
    assert caught.value.message == (
        f"a redirect loop: {url} -> {url}, round again for more than 10 redirects"
        " (the server's redirects need fixing)"
    )
    assert http_server.count("/loop") == 11  # followed to the limit: a cookie may end it


def test_a_redirect_loop_through_several_urls_names_them(http_server: FixtureServer) -> None:
    start = http_server.redirect_chain(["/a", "/b", "/c"], [301, 302])
    http_server.redirect("/c", "/b", status=307)
    with pytest.raises(FetchError) as caught:
        fetch(start)
    b, c = http_server.url("/b"), http_server.url("/c")
    assert caught.value.message.startswith(f"a redirect loop: {b} -> {c} -> {b}, round again")


def test_too_many_redirects_name_where_the_chain_began_and_was_going(
    http_server: FixtureServer,
) -> None:
    paths = [f"/hop{n}" for n in range(13)]
    start = http_server.redirect_chain(paths, [302] * 12)
    with pytest.raises(FetchError) as caught:
        fetch(start)
    assert caught.value.message == (
        f"more than 10 redirects from {start}: the last one, at {http_server.url('/hop10')},"
        f" pointed on to {http_server.url('/hop11')}"
    )


def test_conditional_headers_follow_the_redirect(http_server: FixtureServer) -> None:
    start = http_server.redirect("/old", "/new", status=301)
    http_server.add("/new", body=RSS, etag='"e"')
    result = fetch(start, CacheValidators(etag='"e"'))
    assert isinstance(result, Unchanged)
    assert result.url == http_server.url("/new")


# -- bodies ------------------------------------------------------------------------------------


def test_gzip_body_is_decompressed(http_server: FixtureServer) -> None:
    url = http_server.add("/feed", body=RSS * 50, gzip=True)
    assert fetch(url).content == RSS * 50


def test_brotli_body_is_decompressed(http_server: FixtureServer) -> None:
    url = http_server.add("/feed", body=brotli.compress(RSS), headers={"Content-Encoding": "br"})
    assert fetch(url).content == RSS


def test_wrong_charset_declaration_is_passed_through_untouched(
    http_server: FixtureServer,
) -> None:
    latin1 = "<rss><title>Kinderschutz für alle</title></rss>".encode("latin-1")
    url = http_server.add("/feed", body=latin1, content_type="text/xml; charset=utf-8")
    result = fetch(url)
    assert result.content == latin1  # the parser decides; the fetcher never re-encodes
    assert result.headers["content-type"] == "text/xml; charset=utf-8"


def test_oversize_body_is_refused(http_server: FixtureServer) -> None:
    url = http_server.add("/feed", body=b"x" * 5000)
    with pytest.raises(FetchError) as caught:
        fetch(url, max_bytes=1000)
    # The setting to raise is named: before, only "response larger than 1000 bytes".
    assert caught.value.message == (
        "response larger than 1000 bytes: the limit set by fetch.max_bytes"
        " (raise it in aggregator.toml to accept larger documents)"
    )
    assert http_server.count("/feed") == 1  # not retried: it would be as big next time


def test_decompression_bomb_is_refused(http_server: FixtureServer) -> None:
    bomb = b"\0" * 2_000_000
    assert len(gzip.compress(bomb)) < 10_000  # small on the wire ...
    url = http_server.add("/feed", body=bomb, gzip=True)
    with pytest.raises(FetchError) as caught:
        fetch(url, max_bytes=100_000)  # ... but not once inflated
    assert caught.value.message.startswith(
        "response larger than 100000 bytes (97.66 KiB) once decompressed:"
        " the limit set by fetch.max_bytes"
    )


def _compressed(data: bytes, coding: str) -> bytes:
    if coding == "br":
        return bytes(brotli.compress(data, quality=1))
    if coding == "gzip":
        return gzip.compress(data, compresslevel=9)
    wbits = {"deflate": zlib.MAX_WBITS, "raw deflate": -zlib.MAX_WBITS}[coding]
    squeeze = zlib.compressobj(1, zlib.DEFLATED, wbits)
    return squeeze.compress(data) + squeeze.flush()


@pytest.mark.parametrize("coding", ["br", "gzip"])
def test_a_bomb_is_refused_before_it_is_in_memory(http_server: FixtureServer, coding: str) -> None:
    # 100 MB of zeros in a few KB: decoded a network chunk at a time, the whole of it was in
    # memory before the cap was checked (a 1 GiB brotli bomb peaked at 2 GB).
    body = _compressed(bytes(100_000_000), coding)
    assert len(body) < 200_000
    url = http_server.add("/bomb", body=body, headers={"Content-Encoding": coding})
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match="response larger than 1000000 bytes"):
            fetch(url, max_bytes=1_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, f"peak {peak} bytes traced while refusing the bomb"


@pytest.mark.parametrize("coding", ["br", "gzip", "deflate", "raw deflate"])
def test_every_coding_decodes_a_body_of_many_steps(http_server: FixtureServer, coding: str) -> None:
    document = RSS.replace(b"<title>t</title>", b"<title>t</title>" * 40_000)  # ~640 KB
    header = "deflate" if coding == "raw deflate" else coding
    url = http_server.add(
        "/feed", body=_compressed(document, coding), headers={"Content-Encoding": header}
    )
    assert fetch(url).content == document


def _decoded_within(data: bytes, seconds: float = 10) -> bytes:
    """`data` through the gzip decoder in a thread: a decoder stuck in a loop fails the
    test instead of hanging the suite."""
    result: list[bytes] = []

    def work() -> None:
        decoder = ZlibDecoder(zlib.MAX_WBITS | 16)
        chunks = [data[i : i + 1000] for i in range(0, len(data), 1000)]
        result.append(b"".join(out for chunk in chunks for out in decoder.feed(chunk)))

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "the decoder did not finish"
    return result[0]


def test_bytes_after_the_end_of_a_gzip_body_are_ignored_not_looped_on(
    http_server: FixtureServer,
) -> None:
    # A server's trailing CRLF after a body of more than one step: decoding looped for ever,
    # and with it the refresh of every source.
    document = RSS.replace(b"<title>t</title>", b"<title>t</title>" * 10_000)  # ~160 KB
    assert _decoded_within(gzip.compress(document) + b"\r\n") == document
    url = http_server.add(
        "/feed", body=gzip.compress(document) + b"\r\n", headers={"Content-Encoding": "gzip"}
    )
    assert fetch(url).content == document


def test_a_gzip_body_of_several_members_is_read_whole(http_server: FixtureServer) -> None:
    # `gzip -c a b` concatenates members; gzip reads them all, and so do we.
    first, second = RSS[:40] * 3000, RSS[40:] * 3000
    body = gzip.compress(first) + gzip.compress(second)
    assert _decoded_within(body) == first + second
    url = http_server.add("/feed", body=body, headers={"Content-Encoding": "gzip"})
    assert fetch(url).content == first + second


def test_two_codings_are_undone_in_reverse_order(http_server: FixtureServer) -> None:
    body = brotli.compress(gzip.compress(RSS))  # gzip first, then br: "gzip, br"
    url = http_server.add("/feed", body=body, headers={"Content-Encoding": "gzip, br"})
    assert fetch(url).content == RSS


def test_a_compression_not_asked_for_is_named_not_parsed(http_server: FixtureServer) -> None:
    # zstd bytes the parser would call "not a feed: syntax error at line 1".
    url = http_server.add("/feed", body=b"(\xb5/\xfd...", headers={"Content-Encoding": "zstd"})
    with pytest.raises(FetchError, match=r"compressed with zstd .* asked for: gzip, deflate, br"):
        fetch(url)
    # A name that compresses nothing (a charset sent as the coding) is passed on as sent.
    url = http_server.add("/odd", body=RSS, headers={"Content-Encoding": "utf-8"})
    assert fetch(url).content == RSS


def test_a_corrupt_compressed_body_is_a_clear_error(http_server: FixtureServer) -> None:
    broken = gzip.compress(RSS * 20)[:-30] + b"\x00" * 30
    url = http_server.add("/feed", body=broken, headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="sent a body that cannot be decompressed"):
        fetch(url)


# -- bot protection ----------------------------------------------------------------------------

CLOUDFLARE_PAGE = (
    b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    b'<script src="/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1"></script>'
    b"</body></html>"
)


@pytest.mark.parametrize("status", [403, 429, 503])
def test_challenge_page_is_blocked_not_retried(http_server: FixtureServer, status: int) -> None:
    url = http_server.add(
        "/feed",
        status=status,
        body=CLOUDFLARE_PAGE,
        content_type="text/html",
        headers={"Retry-After": "60"},
    )
    with pytest.raises(Blocked) as caught:
        fetch(url)
    assert "Cloudflare" in caught.value.message
    assert caught.value.status_code == status
    assert http_server.count("/feed") == 1


def test_cf_mitigated_header_is_blocked(http_server: FixtureServer) -> None:
    url = http_server.add(
        "/feed", status=403, body=b"<html></html>", headers={"cf-mitigated": "challenge"}
    )
    with pytest.raises(Blocked):
        fetch(url)


def test_200_javascript_challenge_is_blocked(http_server: FixtureServer) -> None:
    page = b'<html><head><script src="/_Incapsula_Resource?SWJIYLWA=1"></script></head></html>'
    url = http_server.add("/feed", body=page, content_type="text/html")
    with pytest.raises(Blocked, match="Incapsula"):
        fetch(url)


def test_feed_that_mentions_a_vendor_is_not_a_challenge(http_server: FixtureServer) -> None:
    feed = RSS.replace(
        b"<title>t</title>", b"<title>DDoS-Guard and cf-chl: Just a moment...</title>"
    )
    url = http_server.add("/feed", body=feed, content_type="application/rss+xml")
    assert fetch(url).content == feed


def test_plain_403_is_an_ordinary_error(http_server: FixtureServer) -> None:
    url = http_server.add("/feed", status=403, body=b"Forbidden", content_type="text/plain")
    with pytest.raises(FetchError) as caught:
        fetch(url)
    assert type(caught.value) is FetchError
    assert caught.value.status_code == 403


# -- limits ------------------------------------------------------------------------------------


def fetch_all(urls: list[str], **options: Any) -> list[Fetched | Unchanged]:
    opts = FetchOptions(**{**_fields(FAST), **options})

    async def all_of_them(r: Retriever) -> list[Fetched | Unchanged]:
        jobs = [r.retrieve(SOURCE, url, CacheValidators(), now=NOW) for url in urls]
        return await asyncio.gather(*jobs)

    return run(all_of_them, opts)


def test_per_host_limit_bounds_concurrency(http_server: FixtureServer) -> None:
    urls = [http_server.add(f"/f{i}", body=RSS, delay=0.1) for i in range(6)]
    results = fetch_all(urls, max_per_host=2)
    assert all(isinstance(result, Fetched) for result in results)
    assert http_server.peak_concurrency == 2
    # Keep-alive: two connections carried all six requests.
    assert len({r.client_port for r in http_server.requests()}) == 2


def test_waiting_for_the_host_does_not_count_against_the_total_timeout(
    http_server: FixtureServer,
) -> None:
    # One connection to the host, four requests of 0.3 s each: the last waits 0.9 s for its
    # turn, longer than the 0.5 s a whole answer may take once it has a connection.
    urls = [http_server.add(f"/f{i}", body=RSS, delay=0.3) for i in range(4)]
    results = fetch_all(urls, max_per_host=1, total_timeout=0.5)
    assert all(isinstance(result, Fetched) for result in results)
    assert http_server.peak_concurrency == 1


def test_a_host_allowed_many_connections_gets_them_all(http_server: FixtureServer) -> None:
    # Each connection is a client of its own (see http.py): 25 of them for one host.
    urls = [http_server.add(f"/f{i}", body=RSS, delay=0.3) for i in range(40)]
    fetch_all(urls, max_per_host=25, max_connections=100)
    assert http_server.peak_concurrency == 25


def test_global_limit_spans_hosts(http_server: FixtureServer) -> None:
    # 127.0.0.1 and localhost are two hosts to the retriever, one server to us.
    urls = [http_server.add(f"/f{i}", body=RSS, delay=0.05) for i in range(4)]
    urls += [url.replace("127.0.0.1", "localhost") for url in urls]
    fetch_all(urls, max_per_host=4, max_connections=3)
    assert http_server.count("/f0") == 2
    assert http_server.peak_concurrency == 3


def test_the_connections_of_a_host_share_its_cookies(http_server: FixtureServer) -> None:
    # Each connection to a host is a client of its own (see http.py); their cookies are one.
    login = http_server.add("/login", body=RSS, headers={"Set-Cookie": "session=s1; Path=/"})
    urls = [http_server.add(f"/f{i}", body=RSS, delay=0.1) for i in range(4)]

    async def work(r: Retriever) -> list[Fetched | Unchanged]:
        await r.retrieve(SOURCE, login, CacheValidators(), now=NOW)
        jobs = [r.retrieve(SOURCE, url, CacheValidators(), now=NOW) for url in urls]
        return await asyncio.gather(*jobs)

    run(work, FetchOptions(**{**_fields(FAST), "max_per_host": 4}))
    assert http_server.peak_concurrency == 4  # four connections, so four clients
    sent = [r.headers.get("Cookie") for i in range(4) for r in http_server.requests(f"/f{i}")]
    assert sent == ["session=s1"] * 4


# -- proxies from the environment ----------------------------------------------------------------
def _clear_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def test_http_proxy_from_the_environment_is_used(
    http_server: FixtureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fixture server plays the proxy: it is sent the absolute URL of a host that does not
    # exist, which only a request through the proxy can reach.
    _clear_proxies(monkeypatch)
    http_server.add("http://feeds.invalid/rss", body=RSS)
    monkeypatch.setenv("HTTP_PROXY", http_server.base_url)
    result = fetch("http://feeds.invalid/rss")
    assert isinstance(result, Fetched)
    assert result.content == RSS
    assert [r.path for r in http_server.requests()] == ["http://feeds.invalid/rss"]


def test_no_proxy_sends_a_host_direct(
    http_server: FixtureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear_proxies(monkeypatch)
    with socket.socket() as unused:  # a port nothing listens on: the proxy would fail
        unused.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{unused.getsockname()[1]}"
    monkeypatch.setenv("HTTP_PROXY", dead)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    url = http_server.add("/direct", body=RSS)
    result = fetch(url)
    assert isinstance(result, Fetched)
    assert http_server.count("/direct") == 1


def test_a_204_says_the_server_sent_no_document(http_server: FixtureServer) -> None:
    url = http_server.add("/feed", status=204, body=b"", content_type=None)
    with pytest.raises(FetchError) as caught:
        fetch(url, retries=0)
    assert caught.value.message == "HTTP 204 No Content: the server sent no document"
