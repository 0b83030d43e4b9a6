"""The pure parts of fetch: header arithmetic and the challenge table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aggregator.fetch.caching import fresh_until, request_headers, retry_after, validators_of
from aggregator.fetch.challenge import MARKERS, Marker, find_challenge
from aggregator.fetch.options import FetchOptions
from aggregator.models import CacheValidators

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", NOW + timedelta(seconds=120)),
        ("0", None),  # no wait, as a date already past: nothing to hold
        ("Fri, 14 Mar 2025 10:00:00 GMT", datetime(2025, 3, 14, 10, 0, tzinfo=UTC)),
        ("Fri, 14 Mar 2025 11:00:00 +0100", datetime(2025, 3, 14, 10, 0, tzinfo=UTC)),
        ("Thu, 01 Jan 2015 00:00:00 GMT", None),  # in the past: no wait (nor never again)
        ("soon", None),
        ("-5", None),
        (None, None),
        # Absurd values are a server's mistake: ten years at most, never an overflow.
        ("999999999999", NOW + timedelta(days=3650)),
        ("99999999999999999999", NOW + timedelta(days=3650)),
        ("Fri, 31 Dec 9999 23:59:59 -1200", None),  # past year 9999 once in UTC
        ("Fri, 31 Dec 9999 23:59:59 GMT", NOW + timedelta(days=3650)),
        ("\u00b2", None),  # a digit to str.isdigit, not to int
    ],
    ids=["seconds", "zero", "http-date", "offset", "past", "garbage", "negative", "absent",
         "huge", "huger", "beyond-9999", "year-9999", "superscript"],
)  # fmt: skip
def test_retry_after(value: str | None, expected: datetime | None) -> None:
    assert retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"cache-control": "max-age=300"}, NOW + timedelta(seconds=300)),
        ({"cache-control": "public, max-age=300", "age": "100"}, NOW + timedelta(seconds=200)),
        ({"cache-control": "max-age=300, no-cache"}, None),
        ({"cache-control": "no-store"}, None),
        (
            {"cache-control": "max-age=60", "expires": "Fri, 14 Mar 2025 12:00:00 GMT"},
            NOW + timedelta(seconds=60),
        ),
        ({"expires": "Fri, 14 Mar 2025 12:00:00 GMT"}, datetime(2025, 3, 14, 12, tzinfo=UTC)),
        ({"expires": "Fri, 14 Mar 2025 08:00:00 GMT"}, None),
        ({"expires": "0"}, None),
        ({}, None),
        ({"cache-control": "max-age=999999999999"}, NOW + timedelta(days=3650)),
        ({"expires": "Fri, 31 Dec 9999 23:59:59 -1200"}, None),
        ({"expires": "Fri, 31 Dec 9999 23:59:59 GMT"}, NOW + timedelta(days=3650)),
        ({"cache-control": "max-age=\u00b3"}, None),
    ],
    ids=["max-age", "age", "no-cache", "no-store", "max-age-wins", "expires", "expired",
         "expires-0", "none", "huge-max-age", "expires-beyond-9999", "expires-9999",
         "superscript-max-age"],
)  # fmt: skip
def test_fresh_until(headers: dict[str, str], expected: datetime | None) -> None:
    assert fresh_until(headers, NOW) == expected


def test_validators_round_trip() -> None:
    validators = validators_of({"etag": 'W/"x"', "last-modified": "Fri, 14 Mar 2025 08:00:00 GMT"})
    assert request_headers(validators) == {
        "If-None-Match": 'W/"x"',
        "If-Modified-Since": "Fri, 14 Mar 2025 08:00:00 GMT",
    }
    assert request_headers(CacheValidators()) == {}


@pytest.mark.parametrize("marker", MARKERS, ids=lambda m: f"{m.vendor}:{m.text}")
def test_every_marker_is_recognised_on_a_403(marker: Marker) -> None:
    if marker.where == "header":
        name, _, value = marker.text.partition(":")
        found = find_challenge(403, {name: value.strip() or "1"}, b"")
    else:
        found = find_challenge(403, {}, f"<html>{marker.text}</html>".encode())
    assert found == marker.vendor


def test_only_trusted_markers_count_on_a_200_html_page() -> None:
    article = b"<html><title>Why DDoS-Guard matters</title><p>cf-chl</p></html>"
    assert find_challenge(200, {"content-type": "text/html"}, article) is None
    challenge = b"<html><head><title>Just a moment...</title></head></html>"
    assert find_challenge(200, {"content-type": "text/html"}, challenge) == "Cloudflare"
    chl_page = b'<html><script src="/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1">'
    assert find_challenge(200, {"content-type": "text/html"}, chl_page) == "Cloudflare"


def test_an_ordinary_page_cloudflare_serves_is_no_challenge() -> None:
    # Cloudflare's bot detection script, which it adds to every page of some sites.
    page = (
        b"<html><head><title>Press releases</title></head><body><ul>"
        + b'<li class="post"><a href="/news/1">Statement</a></li>' * 5
        + b"<script>(function(){var a=document.createElement('script');"
        b"a.src='/cdn-cgi/challenge-platform/scripts/jsd/main.js';})();</script></body></html>"
    )
    headers = {"content-type": "text/html; charset=utf-8", "server": "cloudflare"}
    assert find_challenge(200, headers, page) is None
    assert find_challenge(403, headers, page) == "Cloudflare"  # refused: the marker counts


def test_a_404_is_never_a_challenge() -> None:
    assert find_challenge(404, {"cf-mitigated": "challenge"}, b"Just a moment...") is None


@pytest.mark.parametrize("field", ["max_connections", "max_per_host", "max_bytes"])
def test_options_refuse_limits_that_would_hang(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        FetchOptions(**{field: 0})  # type: ignore[arg-type]


def test_validators_that_cannot_be_sent_back_are_left_out() -> None:
    # An ETag with a byte beyond ASCII (read as latin-1), or a header that would break the
    # request: the next request goes without it rather than failing to encode.
    assert request_headers(CacheValidators(etag='"caf\u00e9"')) == {}
    assert request_headers(
        CacheValidators(etag='"a"\r\nX-Evil: 1', last_modified="Fri, 14 Mar 2025 08:00:00 GMT")
    ) == {"If-Modified-Since": "Fri, 14 Mar 2025 08:00:00 GMT"}
