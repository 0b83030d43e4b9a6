"""API defects of audit 14: relevance pages on PostgreSQL, stable ETags of paged lists,
dotted words in searches, cursors of impossible times, and `Accept-Encoding: gzip;q=0`.

End to end over a real server, on both databases where the store is involved.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from aggregator.api import create_app
from aggregator.api.compression import accepts_gzip
from aggregator.app import App
from aggregator.store.search import parse_search
from tests.support_api import NOW, Story, save, seeded_app, serving

MAX_PAGES = 30  # a walk that has not ended by then repeats itself


@contextmanager
def served(
    tmp_path: Path, database_url: str, *, settings: str = ""
) -> Iterator[tuple[App, httpx.Client]]:
    app = seeded_app(tmp_path, database_url, settings=settings)
    try:
        with serving(create_app(app)) as url, httpx.Client(base_url=url, timeout=10) as http:
            yield app, http
    finally:
        app.close()


def get_json(client: httpx.Client, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def walk(client: httpx.Client, limit: int, **params: Any) -> list[int]:
    """The ids of every page of /api/v1/items, following next_cursor."""
    page = get_json(client, "/api/v1/items", limit=limit, **params)
    seen = [i["id"] for i in page["items"]]
    for _ in range(MAX_PAGES):
        if not page["next_cursor"]:
            return seen
        page = get_json(client, "/api/v1/items", limit=limit, cursor=page["next_cursor"], **params)
        seen += [i["id"] for i in page["items"]]
    raise AssertionError(f"no last page after {MAX_PAGES} pages: {seen}")


def cursor_data(cursor: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return data


def cursor_of(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def assert_problem_naming(response: httpx.Response, parameter: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["parameter"] == parameter


# -- 1. relevance pages on PostgreSQL ------------------------------------------------------------


def test_relevance_pages_hold_every_match_once_tied_scores_too(
    tmp_path: Path, database_url: str
) -> None:
    # ts_rank is a 4-byte real: it reached Python as 0.0607927, not the stored
    # 0.06079271063..., so the next page's "score < 0.0607927" held the tied rows again
    # (the same page forever) or, rounded the other way, left them out.
    with served(tmp_path, database_url) as (app, client):
        notices = [
            Story(source_id=("ep", "edri", "netz")[n % 3], identity=f"bulk-{n}",
                  title="Bulk notice", text=f"Notice {n} of the bulk series.", tags=(),
                  minutes=50 + n)
            for n in range(7)
        ]  # fmt: skip
        save(app, notices, now=NOW)
        whole = get_json(client, "/api/v1/items", q="bulk", limit=200)["items"]
        assert len(whole) == 7
        assert len({item["score"] for item in whole}) == 1  # all tied
        for limit in (1, 2, 3):
            assert walk(client, limit, q="bulk") == [i["id"] for i in whole]
        # Distinct scores: the last item of a page is not on the next one too.
        query = "chat OR encryption OR grooming OR bulk"
        ranked = [i["id"] for i in get_json(client, "/api/v1/items", q=query, limit=200)["items"]]
        assert walk(client, 1, q=query) == ranked


# -- 2. ETag of a page with a next page ----------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [{"limit": 2}, {"limit": 2, "since": "2025-03-01"}, {"limit": 1, "q": "encryption"}],
    ids=["plain", "since-a-date", "search"],
)
def test_a_page_with_a_next_page_keeps_its_etag(
    tmp_path: Path, database_url: str, params: dict[str, Any]
) -> None:
    # The cursor carried the time each page was served: the body, and its ETag, changed
    # on every request, and If-None-Match never got its 304.
    with served(tmp_path, database_url, settings="[api]\ncache_seconds = 0\n") as (app, client):
        ticking = itertools.count(1)
        app.clock = lambda: NOW + timedelta(seconds=next(ticking))
        first = client.get("/api/v1/items", params=params)
        assert first.status_code == 200 and first.json()["next_cursor"]
        again = client.get(
            "/api/v1/items", params=params, headers={"If-None-Match": first.headers["etag"]}
        )
        assert again.status_code == 304, again.json()
        cursor = first.json()["next_cursor"]
        assert "t" not in cursor_data(cursor)
        second = client.get("/api/v1/items", params={**params, "cursor": cursor})
        repeated = client.get("/api/v1/items", params={**params, "cursor": cursor})
        assert second.headers["etag"] == repeated.headers["etag"]


def test_an_age_still_keeps_the_first_page_s_window(tmp_path: Path, database_url: str) -> None:
    with served(tmp_path, database_url) as (app, client):
        whole = [i["id"] for i in get_json(client, "/api/v1/items", since="1420m")["items"]]
        page = get_json(client, "/api/v1/items", since="1420m", limit=2)
        assert "t" in cursor_data(page["next_cursor"])
        ticking = itertools.count(1)
        app.clock = lambda: NOW + timedelta(minutes=next(ticking))
        seen = [i["id"] for i in page["items"]]
        while page["next_cursor"]:
            page = get_json(
                client, "/api/v1/items", since="1420m", limit=2, cursor=page["next_cursor"]
            )
            seen += [i["id"] for i in page["items"]]
        assert seen == whole


# -- 4. words joined by dots ---------------------------------------------------------------------

DOTTED = (
    Story(source_id="ep", identity="version", title="Scanner release",
          text="Release v2.0 of the scanner is out.", tags=(), minutes=50),
    Story(source_id="ep", identity="currency", title="Markets",
          text="The US.Dollar fell against the euro.", tags=(), minutes=51),
    Story(source_id="edri", identity="number", title="Reports",
          text="Reports rose 4.5 percent this year.", tags=(), minutes=52),
    Story(source_id="edri", identity="link", title="Read more",
          text="The letter is at edri.org/x for everyone.", tags=(), minutes=53),
    Story(source_id="netz", identity="spaced", title="Messaging",
          text="Keep end to end protection for messengers.", tags=(), minutes=54),
    Story(source_id="netz", identity="hyphen", title="Messaging too",
          text="Keep end-to-end protection for messengers.", tags=(), minutes=55),
)  # fmt: skip


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("v2.0", {"version"}),
        ("US.Dollar", {"currency"}),
        ("4.5", {"number"}),
        ("edri.org/x", {"link"}),
        ('"release v2.0"', {"version"}),
        ("scanner -v2.0", set()),
        ("end-to-end protection", {"spaced", "hyphen"}),  # either way it is written
        ('"end to end"', {"spaced", "hyphen", "e1", "p1"}),  # e1, p1: "end-to-end encryption"
    ],
)
def test_words_joined_by_dots_are_found(
    tmp_path: Path, database_url: str, q: str, expected: set[str]
) -> None:
    # PostgreSQL indexes "v2.0" as one lexeme; the query asked for 'v2' <-> '0'.
    with served(tmp_path, database_url) as (app, client):
        save(app, list(DOTTED), now=NOW)
        found = get_json(client, "/api/v1/items", q=q, limit=200)["items"]
        assert {i["url"].rsplit("/", 1)[1] for i in found} == expected


def test_terms_of_the_same_words_are_equal_however_written() -> None:
    assert parse_search("V2.0").groups == parse_search('"v2 0"').groups
    assert parse_search("x -v2.0").groups[0][1].written == "v2.0"


# -- 6. cursors holding times the store cannot hold ----------------------------------------------


def test_a_cursor_key_of_an_impossible_time_is_refused_naming_it(
    tmp_path: Path, database_url: str
) -> None:
    # 9999-12-31T23:59:59-12:00 is past the year 9999 in UTC: a 500 (OverflowError).
    with served(tmp_path, database_url) as (_, client):
        for sort, params, at in (("newest", {}, 0), ("sources", {"sort": "sources"}, 1)):
            data = cursor_data(get_json(client, "/api/v1/items", limit=1, **params)["next_cursor"])
            assert data["s"] == sort
            for time in ("9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+05:00"):
                key = list(data["k"])
                key[at] = time
                response = client.get(
                    "/api/v1/items",
                    params={"limit": 1, **params, "cursor": cursor_of({**data, "k": key})},
                )
                assert_problem_naming(response, "cursor")


def test_a_cursor_of_a_count_or_score_out_of_range_is_refused_naming_it(
    tmp_path: Path, database_url: str
) -> None:
    # A sources count past PostgreSQL's INTEGER was a 503 "store unavailable" there (and
    # a 200 on SQLite); a relevance score of NaN gave an empty page on SQLite, items on
    # PostgreSQL.
    with served(tmp_path, database_url) as (_, client):
        for params, at, value in (
            ({"sort": "sources"}, 0, 9223372036854775807),
            ({"sort": "sources"}, 0, 2**31),
            ({"q": "chat control"}, 0, float("nan")),
            ({"q": "chat control"}, 0, float("inf")),
        ):
            data = cursor_data(get_json(client, "/api/v1/items", limit=1, **params)["next_cursor"])
            key = list(data["k"])
            key[at] = value
            response = client.get(
                "/api/v1/items",
                params={"limit": 1, **params, "cursor": cursor_of({**data, "k": key})},
            )
            assert_problem_naming(response, "cursor")


def test_a_cursor_of_a_time_no_age_can_be_read_against_is_refused_naming_it(
    tmp_path: Path, database_url: str
) -> None:
    # A time 7 days before the year 1 was a 422 blaming `since`, which the client had right.
    with served(tmp_path, database_url) as (_, client):
        for name, age, time in (
            ("since", "7d", "0001-01-01T00:00:00+00:00"),
            ("until", "1s", "9999-12-31T23:59:59-12:00"),  # past the year 9999 in UTC
        ):
            data = cursor_data(
                get_json(client, "/api/v1/items", limit=1, **{name: age})["next_cursor"]
            )
            response = client.get(
                "/api/v1/items",
                params={name: age, "limit": 1, "cursor": cursor_of({**data, "t": time})},
            )
            assert_problem_naming(response, "cursor")


# -- 7. Accept-Encoding weights ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "gzip"),
    [
        ("gzip", True),
        ("GZIP", True),
        ("gzip, deflate, br", True),
        ("gzip;q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("br, *;q=0.1", True),
        ("gzip;q=0", False),
        ("gzip ; q=0.000", False),
        ("gzip;q=0, *", False),
        ("*;q=0", False),
        ("identity", False),
        ("", False),
        ("gzip;q=2", False),  # no weight: as if not named
        ("gzip;q=0, gzip;q=0.3", True),
    ],
)
def test_accepts_gzip_reads_weights(header: str, gzip: bool) -> None:
    assert accepts_gzip(header.encode()) is gzip


@pytest.mark.parametrize("cache", ["", "[api]\ncache_seconds = 600\n"], ids=["no-cache", "cache"])
def test_gzip_with_weight_zero_is_not_gzipped(tmp_path: Path, cache: str) -> None:
    # Starlette compressed whenever "gzip" occurred in the header; the response cache then
    # replayed a gzipped entry to a client that refused gzip.
    url = f"sqlite:///{tmp_path / 'aggregator.sqlite'}"
    with served(tmp_path, url, settings=cache) as (_, client):
        for header, encoding in (
            ("gzip", "gzip"),
            ("gzip;q=0", None),
            ("gzip;q=0, identity", None),
            ("*", "gzip"),
            ("gzip;q=0.8", "gzip"),
        ):
            response = client.get("/api/v1/items", headers={"Accept-Encoding": header})
            assert response.status_code == 200
            assert response.headers.get("content-encoding") == encoding, header
            assert "accept-encoding" in response.headers["vary"].lower()
            assert len(response.json()["items"]) == 5
