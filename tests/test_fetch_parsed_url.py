"""The remembered `httpx.URL` every fetch step reads its URL through."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.fetch.holds import host_key
from aggregator.fetch.http import without_login
from aggregator.fetch.parsed import parsed_url
from aggregator.urls import spaced_or_unprintable, url_problem


def test_a_url_is_parsed_once_and_reads_as_httpx_reads_it() -> None:
    url = "https://user:pw@Example.ORG:8443/feed?a=1#top"
    first = parsed_url(url)
    assert first is parsed_url(url)  # remembered
    assert first == httpx.URL(url)
    assert (first.host, first.port, first.userinfo) == ("example.org", 8443, b"user:pw")


def test_an_invalid_url_raises_each_time_and_callers_still_refuse_it() -> None:
    broken = "http://[::1]]/feed"  # urlsplit lets it through; httpx does not
    for _ in range(2):  # an error is not remembered as an answer
        with pytest.raises(httpx.InvalidURL):
            parsed_url(broken)
    assert url_problem(broken) is not None
    assert host_key(broken) is None


def test_the_steps_of_a_fetch_share_one_parse() -> None:
    url = "http://127.0.0.1:8099/shared-parse.xml"
    parsed_url.cache_clear()
    assert url_problem(url) is None
    assert host_key(url) == "127.0.0.1:8099"
    assert without_login(url) == (url, None)
    info = parsed_url.cache_info()
    assert (info.misses, info.hits) == (1, 2)


@given(st.text(max_size=40))
def test_spaces_and_unprintable_characters_are_found_as_each_character_says(text: str) -> None:
    url = f"https://example.org/{text}"
    expected = any(char.isspace() or not char.isprintable() for char in url)
    assert spaced_or_unprintable(url) is expected


def test_every_code_point_that_is_a_space_is_found() -> None:
    spaces = [chr(n) for n in range(0x110000) if chr(n).isspace()]
    assert len(spaces) > 20  # "\x85", "\xa0", "\u2028", "\u3000", ...
    assert all(spaced_or_unprintable(f"https://example.org/a{s}b") for s in spaces)
    printable = [chr(n) for n in range(0x110000) if chr(n).isprintable() and not chr(n).isspace()]
    assert not any(spaced_or_unprintable(f"https://example.org/{c}") for c in printable)
