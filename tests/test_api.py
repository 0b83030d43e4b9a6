"""The JSON API end to end: httpx against a real uvicorn on 127.0.0.1, on both databases."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from aggregator.api import create_app
from aggregator.api.digest_json import digest_from_json
from aggregator.app import App
from aggregator.deliver.render import render_html, render_markdown, render_text
from tests.support_api import (
    CHANGED_TITLE,
    NOW,
    SOURCES,
    STORIES,
    T0,
    Story,
    postgres_schema,
    save,
    seeded_app,
    serving,
)
from tests.support_config import write_config


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One seeded database per module and backend, for the tests that only read."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('api') / 'aggregator.sqlite'}"
        return
    server = str(request.getfixturevalue("postgres_server_url"))
    with postgres_schema(server) as url:
        yield url


@pytest.fixture(scope="module")
def shared(
    shared_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[App, httpx.Client]]:
    opened = seeded_app(tmp_path_factory.mktemp("config"), shared_url)
    try:
        with serving(create_app(opened)) as url, httpx.Client(base_url=url, timeout=10) as http:
            yield opened, http
    finally:
        opened.close()


@pytest.fixture()
def client(shared: tuple[App, httpx.Client]) -> httpx.Client:
    """A client of the shared server: for tests that change nothing."""
    return shared[1]


@pytest.fixture()
def own_app(tmp_path: Path, database_url: str) -> Iterator[App]:
    """A database of the test's own, for tests that store more items."""
    opened = seeded_app(tmp_path, database_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture()
def own_client(own_app: App) -> Iterator[httpx.Client]:
    with serving(create_app(own_app)) as url, httpx.Client(base_url=url, timeout=10) as http:
        yield http


def titles(page: dict[str, Any]) -> list[str]:
    return [item["title"] for item in page["items"]]


def get_json(client: httpx.Client, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def assert_problem(response: httpx.Response, status: int, parameter: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    if parameter is not None:
        assert body["parameter"] == parameter
        assert body["errors"][0]["parameter"] == parameter


# -- items -------------------------------------------------------------------------------------


def test_items_newest_first_with_tags_cluster_and_sources(client: httpx.Client) -> None:
    page = get_json(client, "/api/v1/items")
    by_seen = sorted(STORIES, key=lambda s: s.minutes, reverse=True)
    expected = [CHANGED_TITLE if s is STORIES[2] else s.title for s in by_seen]
    assert titles(page) == expected
    assert page["next_cursor"] is None
    joint = [item for item in page["items"] if item["title"] == STORIES[0].title]
    assert len(joint) == 2  # EDRi's and the Parliament's copies of one statement
    assert joint[0]["cluster_id"] == joint[1]["cluster_id"] is not None
    for item in joint:
        assert item["tags"] == ["csar", "encryption"]
        assert item["source_count"] == 2
        # every publication of the story, the official one (Parliament) first
        assert [(s["source"], s["primary"]) for s in item["sources"]] == [
            ("ep", True),
            ("edri", False),
        ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"tag": ["csar", "encryption"]}, {"e1", "p1"}),  # all tags must match
        ({"tag": "grooming"}, {"p2"}),
        ({"source": ["edri", "netz"]}, {"e1", "e2", "n1"}),
        ({"org": "press"}, {"n1"}),
        ({"language": "de"}, {"n1"}),
        ({"since": (T0 + timedelta(minutes=20)).isoformat()}, {"p2", "n1", "e2"}),
        ({"until": "2025-03-03T08:20:00"}, {"e1", "p1"}),  # no zone: UTC
        ({"since": "1420m"}, {"p2", "n1", "e2"}),  # an age: before the app's clock (NOW)
        ({"q": "encryption"}, {"e1", "p1", "e2"}),
        ({"q": '"chat control" -council'}, set()),
        ({"q": "grooming OR abstimmung"}, {"p2", "n1"}),
        ({"tag": "csar", "q": "encryption"}, {"e1", "p1"}),
    ],
    ids=lambda v: json.dumps(v, sort_keys=True) if isinstance(v, dict) else "",
)
def test_item_filters(client: httpx.Client, params: dict[str, Any], expected: set[str]) -> None:
    page = get_json(client, "/api/v1/items", **params)
    urls = {item["url"].rsplit("/", 1)[1] for item in page["items"]}
    assert urls == expected


def test_cluster_filter_and_sources_sort(client: httpx.Client) -> None:
    first = get_json(client, "/api/v1/items", sort="sources")["items"]
    assert [i["source_count"] for i in first] == [2, 2, 1, 1, 1]
    cluster = first[0]["cluster_id"]
    members = get_json(client, "/api/v1/items", cluster=cluster)["items"]
    assert {i["id"] for i in members} == {i["id"] for i in first[:2]}


def test_search_is_ranked_title_hits_first(client: httpx.Client) -> None:
    page = get_json(client, "/api/v1/items", q="encryption")
    scores = [item["score"] for item in page["items"]]
    assert scores == sorted(scores, reverse=True)
    assert page["items"][0]["title"] == "Encryption is not the enemy"  # in the title
    newest = get_json(client, "/api/v1/items", q="encryption", sort="newest")
    assert [i["id"] for i in newest["items"]] == sorted(
        (i["id"] for i in page["items"]), reverse=True
    )


def test_cursor_pages_stay_stable_while_items_arrive(
    own_app: App, own_client: httpx.Client
) -> None:
    app, client = own_app, own_client
    rounds = ({}, {"sort": "sources"}, {"q": "chat OR encryption OR grooming"})
    for round_, params in enumerate(rounds):
        seen: list[int] = []
        page = get_json(client, "/api/v1/items", limit=2, **params)
        seen += [i["id"] for i in page["items"]]
        late = Story(
            source_id="edri",
            identity=f"late-{len(params)}-{params.get('sort', '')}",
            # A title of its own each round: an entry with the same words and date as one
            # stored (and no longer listed) would be that item come back, not a new one.
            title=f"Late chat control encryption grooming news, round {round_}",
            text=STORIES[0].text,
            tags=("csar",),
            minutes=0,
        )
        # A new item, and a new member for the listed cluster, arrive between two pages.
        save(app, [late], now=NOW + timedelta(minutes=len(seen)))
        while page["next_cursor"]:
            page = get_json(client, "/api/v1/items", limit=2, cursor=page["next_cursor"], **params)
            seen += [i["id"] for i in page["items"]]
        assert len(seen) == len(set(seen)) == len(seen)
        fresh = get_json(client, "/api/v1/items", limit=200, **params)
        ids = [i["id"] for i in fresh["items"]]
        # The pages held exactly the items stored when the first page was read.
        assert sorted(seen) == sorted(i for i in ids if i <= max(seen))
        assert max(ids) > max(seen)  # and a new listing shows the new arrival


def test_pages_of_an_age_filter_keep_the_first_page_s_window(
    own_app: App, own_client: httpx.Client
) -> None:
    # since=1420m read at each request's own clock moved the window between pages, and the
    # next page was refused as "another query".
    whole = get_json(own_client, "/api/v1/items", since="1420m", limit=200)
    assert len(whole["items"]) >= 3
    page = get_json(own_client, "/api/v1/items", since="1420m", limit=2)
    seen = [i["id"] for i in page["items"]]
    ticking = itertools.count(1)
    own_app.clock = lambda: NOW + timedelta(minutes=next(ticking))  # time goes on
    while page["next_cursor"]:
        page = get_json(
            own_client, "/api/v1/items", since="1420m", limit=2, cursor=page["next_cursor"]
        )
        seen += [i["id"] for i in page["items"]]
    assert seen == [i["id"] for i in whole["items"]]
    # Another age is another query, and still refused.
    first = get_json(own_client, "/api/v1/items", since="1420m", limit=2)
    assert_problem(
        own_client.get(
            "/api/v1/items", params={"since": "7d", "limit": 2, "cursor": first["next_cursor"]}
        ),
        422,
    )


def test_an_age_filter_s_page_is_not_modified_until_its_window_passes_an_item(
    tmp_path: Path, database_url: str
) -> None:
    # Items first seen at T0 + 0, 10, 20, 30 and 40 minutes; NOW - 1435m is T0 + 5m.
    served = seeded_app(tmp_path, database_url, settings="[api]\ncache_seconds = 0\n")
    query = {"since": "1435m", "limit": 2}
    try:
        with serving(create_app(served)) as url, httpx.Client(base_url=url) as http:
            first = http.get("/api/v1/items", params=query)
            assert first.status_code == 200 and first.json()["next_cursor"]
            etag = first.headers["etag"]
            # Four minutes on, the window still starts after T0 and at or before T0 + 10m:
            # the same items. Before, the next_cursor held the instant read, so a new ETag.
            served.clock = lambda: NOW + timedelta(minutes=4)
            again = http.get("/api/v1/items", params=query, headers={"If-None-Match": etag})
            assert again.status_code == 304
            # The pages of that cursor are the window's items, read at the later time too.
            seen = [i["id"] for i in first.json()["items"]]
            cursor = first.json()["next_cursor"]
            while cursor:
                page = get_json(http, "/api/v1/items", **query, cursor=cursor)
                seen += [i["id"] for i in page["items"]]
                cursor = page["next_cursor"]
            whole = get_json(http, "/api/v1/items", since="1435m", limit=200)["items"]
            assert seen == [i["id"] for i in whole] and len(seen) == 4
            # Six minutes on, the window has passed the item first seen at T0 + 10m: the
            # first page's items are the same, but what follows them is not.
            served.clock = lambda: NOW + timedelta(minutes=6)
            slid = http.get("/api/v1/items", params=query, headers={"If-None-Match": etag})
            assert slid.status_code == 200 and slid.headers["etag"] != etag
            assert slid.json()["items"] == first.json()["items"]
    finally:
        served.close()


def test_item_with_revisions(shared: tuple[App, httpx.Client]) -> None:
    app, client = shared
    item_id = next(i.id for i in app.store.iter_items() if i.identity == "p2")
    item = get_json(client, f"/api/v1/items/{item_id}")
    assert item["title"] == CHANGED_TITLE
    assert item["revision"] == 2
    assert item["text"] == STORIES[2].text
    assert [r["title"] for r in item["revisions"]] == [STORIES[2].title]
    assert item["revisions"][0]["revision"] == 1
    assert_problem(client.get("/api/v1/items/999999"), 404)


# -- clusters, tags, sources -------------------------------------------------------------------


def test_clusters(client: httpx.Client) -> None:
    page = get_json(client, "/api/v1/clusters")
    assert len(page["clusters"]) == 1  # only the joint statement has several members
    cluster = page["clusters"][0]
    assert cluster["size"] == 2
    assert cluster["primary"]["source"] == "ep"  # the official source stands for it
    one = get_json(client, f"/api/v1/clusters/{cluster['id']}")
    assert [m["source"] for m in one["members"]] == ["ep", "edri"]
    singles = get_json(client, "/api/v1/clusters", min_size=1, limit=2)
    assert len(singles["clusters"]) == 2 and singles["next_cursor"]
    rest = get_json(client, "/api/v1/clusters", min_size=1, cursor=singles["next_cursor"])
    all_ids = [c["id"] for c in singles["clusters"] + rest["clusters"]]
    assert all_ids == sorted(all_ids, reverse=True) and len(all_ids) == 4
    assert_problem(client.get("/api/v1/clusters/424242"), 404)


def test_tags_with_counts(client: httpx.Client) -> None:
    tags = {t["tag"]: t["count"] for t in get_json(client, "/api/v1/tags")["tags"]}
    assert tags == {"csar": 4, "encryption": 3, "grooming": 1}


def test_sources_with_health(client: httpx.Client) -> None:
    sources = {s["id"]: s for s in get_json(client, "/api/v1/sources")["sources"]}
    assert set(sources) == {"ep", "edri", "netz"}
    assert all(s["enabled"] and s["in_config"] for s in sources.values())
    ep = sources["ep"]
    assert ep["org"] == "parliament" and ep["kind"] == "feed"
    assert ep["health"]["item_count"] == 2
    assert ep["health"]["consecutive_failures"] == 0
    assert ep["health"]["last_success_at"] == "2025-03-03T10:00:00Z"
    assert ep["health"]["next_fetch_at"] == "2025-03-03T11:00:00Z"


# -- digests and the page ----------------------------------------------------------------------


def test_digests_as_json_html_text_markdown(client: httpx.Client) -> None:
    listed = get_json(client, "/api/v1/digests")["digests"]
    assert [d["profile"] for d in listed] == ["daily"]
    latest = get_json(client, "/api/v1/digests/latest", profile="daily")
    assert latest["id"] == listed[0]["id"]
    assert get_json(client, f"/api/v1/digests/{latest['id']}") == latest
    body = latest["body"]
    assert body["counts"]["entries"] == 4 == latest["entry_count"]
    digest = digest_from_json(body)
    for fmt, render, media in (
        ("html", render_html, "text/html"),
        ("text", render_text, "text/plain"),
        ("markdown", render_markdown, "text/markdown"),
    ):
        for path in (f"/api/v1/digests/{latest['id']}/{fmt}", f"/api/v1/digests/latest/{fmt}"):
            response = client.get(path)
            assert response.status_code == 200
            assert response.headers["content-type"].startswith(media)
            assert response.text == render(digest)
    page = client.get("/")
    assert page.headers["content-type"].startswith("text/html")
    assert page.text == render_html(digest)
    assert "Joint statement on chat control" in page.text
    # A profile neither configured nor stored is a mistake to name, on every route alike.
    for path in (
        "/",
        "/api/v1/digests",
        "/api/v1/digests/latest",
        "/api/v1/digests/latest/text",
        "/feeds/digest.atom",
        "/feeds/digest.json",
    ):
        response = client.get(path, params={"profile": "weekly"})
        assert_problem(response, 422, "profile")
        assert "unknown digest profile 'weekly' (known: daily)" in response.json()["detail"]
    assert_problem(client.get("/api/v1/digests/7/pdf"), 422, "fmt")


# -- health and metrics ------------------------------------------------------------------------


def test_health_readiness_and_metrics(client: httpx.Client) -> None:
    for prefix in ("/api/v1", ""):
        assert get_json(client, f"{prefix}/healthz") == {"status": "ok"}
        assert get_json(client, f"{prefix}/readyz") == {
            "status": "ready",
            "checks": {"store": "ok"},
        }
    text = client.get("/metrics").text
    # Six refreshes were logged (five new items, then one changed): counters from fetch_log.
    assert 'aggregator_fetches_total{status="new"} 5.0' in text
    assert 'aggregator_fetches_total{status="updated"} 1.0' in text
    assert 'aggregator_items_ingested_total{change="new"} 5.0' in text
    assert "aggregator_refresh_duration_seconds_count 6.0" in text
    assert 'aggregator_refresh_duration_seconds_bucket{le="0.25"} 6.0' in text
    assert (
        'aggregator_http_requests_total{method="GET",route="/api/v1/healthz",status="200"}' in text
    )


# -- HTTP behaviour ----------------------------------------------------------------------------


def test_a_new_file_at_the_store_s_path_is_not_ready(tmp_path: Path) -> None:
    # Deleted, then made again by the next command (or written over): the path existed, and
    # /readyz said ready while this server read the old file and the others the new one.
    database = tmp_path / "var" / "aggregator.sqlite"
    app = seeded_app(tmp_path, f"sqlite:///{database}")
    try:
        with serving(create_app(app)) as url, httpx.Client(base_url=url, timeout=10) as http:
            assert http.get("/readyz").status_code == 200
            for path in database.parent.glob("aggregator.sqlite*"):
                path.unlink()
            database.write_bytes(b"")  # another file at the path
            ready = http.get("/readyz")
            assert ready.status_code == 503
            assert "is another file than the one opened" in ready.json()["checks"]["store"]
    finally:
        app.close()


def test_a_store_file_moved_away_is_not_ready_and_never_a_500(tmp_path: Path) -> None:
    database = tmp_path / "var" / "aggregator.sqlite"
    app = seeded_app(tmp_path, f"sqlite:///{database}")
    try:
        with serving(create_app(app)) as url, httpx.Client(base_url=url, timeout=10) as http:
            assert http.get("/readyz").status_code == 200
            for path in database.parent.glob("aggregator.sqlite*"):
                path.rename(tmp_path / path.name)  # an operator moved it, or a disk went
            ready = http.get("/readyz")
            assert ready.status_code == 503
            assert "no longer exists" in ready.json()["checks"]["store"]
            for path in ("/api/v1/items?tag=csar", "/api/v1/sources", "/feeds/items.atom"):
                response = http.get(path)
                # Answered from the file still open, or a problem: not "Internal Server Error".
                assert response.status_code in (200, 503), (path, response.text)
                if response.status_code == 503:
                    assert response.headers["content-type"] == "application/problem+json"
    finally:
        app.close()


def test_etag_and_if_none_match(own_app: App, own_client: httpx.Client) -> None:
    app, client = own_app, own_client
    for path in (
        "/api/v1/items?tag=csar",
        "/api/v1/tags",
        "/feeds/items.atom",
        "/feeds/digest.json",
    ):
        first = client.get(path)
        etag = first.headers["etag"]
        assert etag.startswith('W/"')
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
    before = client.get("/api/v1/items").headers["etag"]
    save(app, [Story(source_id="ep", identity="new", title="New", text="x", tags=(), minutes=0)],
         now=NOW)  # fmt: skip
    after = client.get("/api/v1/items", headers={"If-None-Match": before})
    assert after.status_code == 200 and after.headers["etag"] != before


def test_gzip(client: httpx.Client) -> None:
    response = client.get("/api/v1/items", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    raw = client.get("/api/v1/items", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert response.json() == raw.json()  # httpx undid the gzip: the same document
    assert response.num_bytes_downloaded < len(raw.content)


def test_cors_only_for_configured_origins(tmp_path: Path, database_url: str) -> None:
    app = seeded_app(
        tmp_path, database_url, settings='[api]\ncors_origins = ["https://dash.example"]\n'
    )
    try:
        with serving(create_app(app)) as url:
            allowed = httpx.get(f"{url}/api/v1/tags", headers={"Origin": "https://dash.example"})
            assert allowed.headers["access-control-allow-origin"] == "https://dash.example"
            other = httpx.get(f"{url}/api/v1/tags", headers={"Origin": "https://evil.example"})
            assert "access-control-allow-origin" not in other.headers
            preflight = {"Access-Control-Request-Method": "GET"}
            asked = httpx.options(
                f"{url}/api/v1/items", headers={"Origin": "https://dash.example", **preflight}
            )
            assert asked.status_code == 200
            assert asked.headers["access-control-allow-origin"] == "https://dash.example"
            refused = httpx.options(
                f"{url}/api/v1/items", headers={"Origin": "https://evil.example", **preflight}
            )
            # A problem, as every other error: not a bare text/plain "Disallowed CORS origin".
            assert_problem(refused, 400)
            assert refused.json()["detail"] == "not allowed: origin (api.cors_origins)"
            assert "access-control-allow-origin" not in refused.headers
    finally:
        app.close()


def test_with_no_origin_allowed_a_preflight_is_a_refusal_not_a_405(
    tmp_path: Path, database_url: str
) -> None:
    # The default `cors_origins = []` installed no CORS at all: a preflight was a 405
    # "Method not allowed", where README promises a 400 problem.
    app = seeded_app(tmp_path, database_url)
    try:
        with serving(create_app(app)) as url:
            refused = httpx.options(
                f"{url}/api/v1/items",
                headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
            )
            assert_problem(refused, 400)
            assert refused.json()["detail"] == "not allowed: origin (api.cors_origins)"
            plain = httpx.get(f"{url}/api/v1/tags", headers={"Origin": "https://evil.example"})
            assert plain.status_code == 200
            assert "access-control-allow-origin" not in plain.headers
    finally:
        app.close()


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/v1/items?limit=0", "limit"),
        ("/api/v1/items?limit=201", "limit"),
        ("/api/v1/items?since=yesterday", "since"),
        ("/api/v1/items?org=lobby", "org"),
        ("/api/v1/items?cluster=99999999999999999999", "cluster"),
        ("/api/v1/items?sort=relevance", "sort"),
        ("/api/v1/items?q=-only", "q"),
        ("/api/v1/items?q=", "q"),
        ("/api/v1/items?tag=a%00b", "tag"),
        ("/api/v1/items?tag=", "tag"),
        ("/api/v1/items?tag=csar&tag=", "tag"),
        ("/feeds/items.atom?tag=", "tag"),
        ("/feeds/items.json?tag=%ff%fe", "tag"),
        ("/api/v1/items?q=%ff%fe", "q"),
        ("/api/v1/items?cursor=not-a-cursor", "cursor"),
        ("/api/v1/items?since=0001-01-01T00:00:00%2B05:00", "since"),
        ("/api/v1/items?since=1795625220", "since"),  # a bare number is no time
        ("/api/v1/items?until=-1", "until"),
        ("/api/v1/items?language=DE", "language"),
        ("/api/v1/items?language=english", "language"),
        ("/api/v1/items?language=xx", "language"),  # two letters, but no language
        ("/api/v1/items?source=nope", "source"),
        ("/feeds/items.json?source=nope", "source"),
        ("/api/v1/items?" + "&".join(f"tag=t{n}" for n in range(33)), "tag"),
        ("/feeds/items.atom?" + "&".join(f"tag=t{n}" for n in range(1000)), "tag"),
        ("/api/v1/items/abc", "item_id"),
        ("/api/v1/clusters?min_size=0", "min_size"),
        ("/api/v1/digests?profile=a%00", "profile"),
    ],
)
def test_bad_parameters_are_problems_naming_them(
    client: httpx.Client, path: str, parameter: str
) -> None:
    assert_problem(client.get(path), 422, parameter)


@pytest.mark.parametrize(
    ("tag", "meant"),
    [
        ("CSAR", "did you mean 'csar'?"),  # tags are in lower case: an empty 200 before
        ("org:PRESS", "did you mean 'org:press'?"),
        ("nothing-sets-this", "unknown tag 'nothing-sets-this'"),
    ],
)
def test_a_tag_nothing_carries_or_sets_is_a_problem_with_the_tag_meant(
    client: httpx.Client, tag: str, meant: str
) -> None:
    for path in ("/api/v1/items", "/feeds/items.atom"):
        response = client.get(path, params={"tag": tag})
        assert_problem(response, 422, "tag")
        assert meant in response.json()["detail"]


def test_a_tag_the_config_sets_is_a_filter_though_nothing_carries_it_yet(
    client: httpx.Client,
) -> None:
    # lang:mt can occur (a language), though no stored item is in Maltese: an empty page.
    assert get_json(client, "/api/v1/items", tag="lang:mt")["items"] == []


def test_a_range_ending_before_it_starts_is_refused(client: httpx.Client) -> None:
    response = client.get("/api/v1/items", params={"since": "2026-11-20", "until": "2026-11-10"})
    assert_problem(response, 422, "until")
    assert "is before since" in response.json()["detail"]


def test_an_offset_whose_plus_the_query_string_ate_is_read(client: httpx.Client) -> None:
    # "...T09:00+01:00" typed into a URL arrives as "...T09:00 01:00".
    typed = client.get("/api/v1/items?since=2020-01-01T09:00+01:00")
    encoded = client.get("/api/v1/items", params={"since": "2020-01-01T09:00+01:00"})
    assert typed.status_code == encoded.status_code == 200
    assert typed.json()["items"] == encoded.json()["items"]


def test_a_cursor_of_another_query_is_refused(client: httpx.Client) -> None:
    page = get_json(client, "/api/v1/items", limit=1, tag="csar")
    response = client.get("/api/v1/items", params={"limit": 1, "tag": "encryption",
                                                    "cursor": page["next_cursor"]})  # fmt: skip
    assert_problem(response, 422, "cursor")
    assert "another query" in response.json()["detail"]


def test_head_answers_every_get_route_without_a_body(client: httpx.Client) -> None:
    for path in ("/api/v1/items", "/api/v1/items/1", "/feeds/items.atom", "/healthz", "/"):
        got = client.get(path)
        head = client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
        assert head.headers.get("etag") == got.headers.get("etag")
    assert client.head("/api/v1/items/999999").status_code == 404


def test_feeds_of_different_items_have_different_ids(client: httpx.Client) -> None:
    ids = set()
    for query in ("", "?source=edri", "?org=press", "?tag=csar", "?tag=csar&source=edri"):
        feed = client.get(f"/feeds/items.json{query}").json()
        atom = client.get(f"/feeds/items.atom{query}").text
        ids.add(atom.split("<id>", 1)[1].split("</id>", 1)[0])
        if "source=edri" in query:
            assert "from edri" in feed["title"]
    assert len(ids) == 5
    assert "urn:aggregator:feed:items:csar" in ids  # a tag feed keeps the id it always had


def test_read_only_and_unknown_paths_are_problems(client: httpx.Client) -> None:
    assert_problem(client.delete("/api/v1/items/1"), 405)
    assert_problem(client.post("/api/v1/items"), 405)
    assert_problem(client.get("/api/v2/items"), 404)


def test_a_405_allows_head_where_get_is_allowed(client: httpx.Client) -> None:
    # Every GET route answers HEAD (head.py): Allow must say so (RFC 9110 10.2.1).
    for path in ("/api/v1/items/1", "/feeds/items.atom", "/api/v1/sources"):
        refused = client.delete(path)
        assert_problem(refused, 405)
        assert refused.headers["allow"] == "GET, HEAD", path
        assert client.head(path).status_code == 200
    posted_only = client.get("/api/v1/refresh")
    assert_problem(posted_only, 405)
    assert posted_only.headers["allow"] == "POST"  # HEAD is a GET there: refused as well
    assert client.head("/api/v1/refresh").status_code == 405


def test_openapi_lists_every_endpoint(client: httpx.Client) -> None:
    paths = set(get_json(client, "/api/v1/openapi.json")["paths"])
    assert {
        "/api/v1/items",
        "/api/v1/items/{item_id}",
        "/api/v1/clusters",
        "/api/v1/clusters/{cluster_id}",
        "/api/v1/digests",
        "/api/v1/digests/latest",
        "/api/v1/digests/latest/{fmt}",
        "/api/v1/digests/{digest_id}",
        "/api/v1/digests/{digest_id}/{fmt}",
        "/api/v1/sources",
        "/api/v1/tags",
        "/api/v1/healthz",
        "/api/v1/readyz",
        "/api/v1/metrics",
        "/healthz",  # the conventional paths probes and scrapers use, documented too
        "/readyz",
        "/metrics",
        "/api/v1/refresh",
        "/feeds/digest.atom",
        "/feeds/digest.json",
        "/feeds/items.atom",
        "/feeds/items.json",
        "/",
    } <= paths


def test_a_source_removed_from_the_config_is_listed_as_such(
    own_app: App, tmp_path: Path, database_url: str
) -> None:
    # The config loses "netz"; its items are kept and served, so the id must lead somewhere.
    config = write_config(tmp_path / "config", [s for s in SOURCES if s["id"] != "netz"])
    env = {"AGGREGATOR_DATABASE_URL": database_url, "AGGREGATOR_DATA_DIR": str(tmp_path / "var")}
    reopened = App.open(config, env, clock=lambda: NOW)
    try:
        with serving(create_app(reopened)) as url, httpx.Client(base_url=url) as http:
            sources = {s["id"]: s for s in get_json(http, "/api/v1/sources")["sources"]}
            netz = sources["netz"]
            assert (netz["enabled"], netz["in_config"]) == (False, False)
            assert netz["name"] == "netzpolitik.org" and netz["interval_seconds"] is None
            assert netz["health"]["item_count"] == 1
            assert netz["health"]["next_fetch_at"] is None  # not fetched any more
            assert get_json(http, "/api/v1/items", source="netz")["items"]
    finally:
        reopened.close()


ADDED = {"id": "eurojust", "name": "Eurojust", "url": "https://eurojust.example/feed",
         "kind": "feed", "org": "institution"}  # fmt: skip


def test_a_source_added_to_the_config_while_serving_is_listed_as_configured(
    tmp_path: Path, database_url: str
) -> None:
    # No response cache: on PostgreSQL it would keep the first listing for its seconds.
    no_cache = "[api]\ncache_seconds = 0\n"
    served = seeded_app(tmp_path, database_url, settings=no_cache)
    config = served.config_dir
    assert config is not None
    try:
        with serving(create_app(served)) as url, httpx.Client(base_url=url) as http:
            write_config(config, [*SOURCES, ADDED], settings=no_cache)
            listed = {s["id"]: s for s in get_json(http, "/api/v1/sources")["sources"]}
            assert listed["eurojust"]["in_config"] and listed["eurojust"]["health"] is None
            # Another process (`aggregator refresh`, `run`) reads the new config and stores
            # the source: the server, which read the config when it started, called it removed.
            var = str(tmp_path / "var")
            env = {"AGGREGATOR_DATABASE_URL": database_url, "AGGREGATOR_DATA_DIR": var}
            App.open(config, env, clock=lambda: NOW).close()
            listed = {s["id"]: s for s in get_json(http, "/api/v1/sources")["sources"]}
            added = listed["eurojust"]
            assert (added["in_config"], added["enabled"], added["name"]) == (True, True, "Eurojust")
            assert added["interval_seconds"] is not None and added["health"]["item_count"] == 0
            assert list(listed) == [*(s["id"] for s in SOURCES), "eurojust"]  # config order
            # An edit that leaves sources.toml invalid changes nothing: the last valid list.
            (config / "sources.toml").write_text("[[source]]\nid = ", encoding="utf-8")
            again = get_json(http, "/api/v1/sources")["sources"]
            assert [s["id"] for s in again] == list(listed)
            assert all(s["in_config"] for s in again)
    finally:
        served.close()


# A release in two halves, and the whole of it: the whole matches both halves, which have
# nothing in common (as tests/test_dedupe_store.py's bridging item).
HALVES = (
    "The Council presidency and European Parliament negotiators today reached a provisional "
    "agreement on extending the interim regulation on the voluntary detection of child sexual "
    "abuse online until April 2026. The agreed text requires the Commission to report on the "
    "proportionality of voluntary detection and on the data collected by providers, including "
    "error rates.",
    "The provisional agreement must now be endorsed by the Council and the Parliament before "
    "it can be formally adopted and published in the Official Journal. Background: on 11 May "
    "2022 the Commission presented a proposal for a permanent regulation to prevent and combat "
    "child sexual abuse, which is still under negotiation.",
)
DEAL = "Child sexual abuse online: Council and Parliament strike deal to extend interim rules"


def test_a_cluster_merged_away_is_a_404_naming_where_its_items_went(
    tmp_path: Path, database_url: str
) -> None:
    config = write_config(tmp_path / "config", SOURCES)
    env = {"AGGREGATOR_DATABASE_URL": database_url, "AGGREGATOR_DATA_DIR": str(tmp_path / "var")}
    with App.open(config, env, clock=lambda: NOW) as app:
        halves = [
            Story(source_id=source, identity=f"half{n}", title=DEAL, text=text, tags=(),
                  minutes=n)
            for n, (source, text) in enumerate(zip(("edri", "netz"), HALVES, strict=True))
        ]  # fmt: skip
        ids = save(app, halves, now=T0)  # a refresh's save assigns clusters
        clusters_of = {i.id: i.cluster_id for i in app.store.iter_items()}
        kept, absorbed = sorted({clusters_of[i] for i in ids})
        app.run_digest("daily", send=True, write_files=False)  # lists both clusters
        whole = Story(source_id="ep", identity="whole", title=DEAL, text=" ".join(HALVES),
                      tags=(), minutes=30)  # fmt: skip
        save(app, [whole], now=T0 + timedelta(minutes=30))  # merges the two
        assert {i.cluster_id for i in app.store.iter_items()} == {kept}
        with serving(create_app(app)) as url, httpx.Client(base_url=url) as http:
            assert get_json(http, f"/api/v1/clusters/{kept}")["size"] == 3
            gone = http.get(f"/api/v1/clusters/{absorbed}")
            assert_problem(gone, 404)
            # Before, a bare "does not exist": a client holding the id from the digest was
            # left with nothing to follow.
            assert gone.json()["now_in"] == [kept]
            assert gone.json()["detail"].endswith(f"in 1 cluster: {url}/api/v1/clusters/{kept}")
            # An id no recent digest listed: no trace to follow, but what may have happened.
            unlisted = http.get(f"/api/v1/clusters/{absorbed + 100}")
            assert_problem(unlisted, 404)
            assert "now_in" not in unlisted.json()
            assert "merged into another" in unlisted.json()["detail"]
