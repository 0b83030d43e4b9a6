"""Feeds out (Atom 1.0, JSON Feed 1.1) and POST /api/v1/refresh, against a real uvicorn."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

import feedparser
import httpx
import pytest

from aggregator.api import create_app
from aggregator.app import App
from tests.support_api import STORIES, seeded_app, serving

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

ATOM = "{http://www.w3.org/2005/Atom}"
RSS = (Path(__file__).parent / "data" / "parse" / "europarl_press_rss.xml").read_bytes()


@pytest.fixture()
def client(tmp_path: Path, database_url: str) -> Iterator[httpx.Client]:
    app = seeded_app(tmp_path, database_url)
    try:
        with serving(create_app(app)) as url, httpx.Client(base_url=url, timeout=10) as http:
            yield http
    finally:
        app.close()


def check_atom(body: bytes) -> list[ET.Element]:
    """RFC 4287's required elements, unique entry ids; feedparser reads it cleanly."""
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    root = ET.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert (root.findtext(f"{ATOM}{name}") or "").strip(), name
    assert root.find(f"{ATOM}author/{ATOM}name") is not None
    assert root.find(f"{ATOM}link[@rel='self']") is not None
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        for name in ("id", "title", "updated"):
            assert (entry.findtext(f"{ATOM}{name}") or "").strip(), name
        assert entry.find(f"{ATOM}author/{ATOM}name") is not None
        assert entry.find(f"{ATOM}link[@rel='alternate']") is not None
    ids = [entry.findtext(f"{ATOM}id") for entry in entries]
    assert len(ids) == len(set(ids))
    assert len(parsed.entries) == len(entries)
    return entries


def check_json_feed(document: dict[str, Any]) -> list[dict[str, Any]]:
    """JSON Feed 1.1: version and title; every item an id (string) and content."""
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(document["title"], str) and document["title"]
    items: list[dict[str, Any]] = document["items"]
    for item in items:
        assert isinstance(item["id"], str) and item["id"]
        assert "content_html" in item or "content_text" in item
        for key in ("date_published", "date_modified"):
            assert item[key].endswith("Z")
    assert len({i["id"] for i in items}) == len(items)
    return items


def test_items_atom_with_tags(client: httpx.Client) -> None:
    response = client.get("/feeds/items.atom", params={"tag": ["csar", "encryption"]})
    assert response.headers["content-type"] == "application/atom+xml"
    entries = check_atom(response.content)
    titles = {e.findtext(f"{ATOM}title") for e in entries}
    assert titles == {STORIES[0].title}  # both copies of the joint statement, tagged both
    assert len(entries) == 2
    authors = {e.findtext(f"{ATOM}author/{ATOM}name") for e in entries}
    assert authors == {"EDRi", "European Parliament"}
    everything = check_atom(client.get("/feeds/items.atom").content)
    assert len(everything) == len(STORIES)


def test_digest_atom_carries_the_email_html(client: httpx.Client) -> None:
    entries = check_atom(client.get("/feeds/digest.atom").content)
    assert len(entries) == 1
    content = entries[0].find(f"{ATOM}content")
    assert content is not None and content.get("type") == "html"
    digest_html = client.get("/api/v1/digests/latest/html").text
    assert content.text == digest_html


def test_json_feeds(client: httpx.Client) -> None:
    response = client.get("/feeds/items.json", params={"tag": "grooming"})
    assert response.headers["content-type"] == "application/feed+json"
    items = check_json_feed(response.json())
    assert [i["title"] for i in items] == ["Plenary adopts grooming report"]
    assert items[0]["tags"] == ["csar", "grooming"]
    digests = check_json_feed(client.get("/feeds/digest.json").json())
    assert digests[0]["content_html"] == client.get("/api/v1/digests/latest/html").text


def test_an_empty_store_still_gives_valid_feeds(tmp_path: Path) -> None:
    from tests.support_api import SOURCES
    from tests.support_config import write_config

    config = write_config(tmp_path / "config", SOURCES)
    env = {"AGGREGATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite'}"}
    with App.open(config, env) as app, serving(create_app(app)) as url:
        assert check_atom(httpx.get(f"{url}/feeds/digest.atom").content) == []
        assert check_json_feed(httpx.get(f"{url}/feeds/items.json").json()) == []
        page = httpx.get(f"{url}/")
        assert page.status_code == 200 and "No digest has been recorded yet" in page.text


# -- POST /api/v1/refresh ----------------------------------------------------------------------


def refresh_app(tmp_path: Path, database_url: str, feed_url: str, token: str | None) -> App:
    from tests.support_config import write_config

    sources = [{"id": "ep", "name": "EP", "url": feed_url, "kind": "feed", "org": "parliament"}]
    config = write_config(tmp_path / "config", sources)
    env = {"AGGREGATOR_DATABASE_URL": database_url, "AGGREGATOR_DATA_DIR": str(tmp_path / "var")}
    if token is not None:
        env["AGGREGATOR_API_TOKEN"] = token
    return App.open(config, env)


def test_refresh_is_disabled_without_a_token(tmp_path: Path, http_server: FixtureServer) -> None:
    feed = http_server.add("/ep.xml", body=RSS, content_type="application/rss+xml")
    with (
        refresh_app(tmp_path, f"sqlite:///{tmp_path / 'a.sqlite'}", feed, None) as app,
        serving(create_app(app)) as url,
    ):
        response = httpx.post(f"{url}/api/v1/refresh", headers={"Authorization": "Bearer x"})
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert "disabled" in response.json()["detail"]
    assert http_server.count("/ep.xml") == 0  # nothing was fetched


def test_refresh_with_the_token(
    tmp_path: Path, database_url: str, http_server: FixtureServer
) -> None:
    feed = http_server.add("/ep.xml", body=RSS, content_type="application/rss+xml")
    token = "s3cret-token"
    with (
        refresh_app(tmp_path, database_url, feed, token) as app,
        serving(create_app(app)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        for header in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {token}"}):
            denied = client.post("/api/v1/refresh", headers=header)
            assert denied.status_code == 401
            assert denied.headers["www-authenticate"].startswith("Bearer")
        assert http_server.count("/ep.xml") == 0  # a refused request fetches nothing
        auth = {"Authorization": f"Bearer {token}"}
        unknown = client.post("/api/v1/refresh", params={"source": "nope"}, headers=auth)
        assert unknown.status_code == 422 and unknown.json()["parameter"] == "source"
        done = client.post("/api/v1/refresh", params={"source": "ep"}, headers=auth)
        assert done.status_code == 200, done.text
        (result,) = done.json()["sources"]
        assert result["id"] == "ep" and result["status"] == "new" and result["new"] > 0
        stored = client.get("/api/v1/items", params={"limit": 200}).json()["items"]
        assert len(stored) == result["new"]
        assert (
            json.loads(client.get("/api/v1/sources").text)["sources"][0]["health"]["last_status"]
            == "new"
        )


def test_a_digest_entry_is_titled_with_the_digest_s_own_date_and_time(
    tmp_path: Path, database_url: str
) -> None:
    # Sent at 08:00 UTC on 4 March, a Honolulu digest is of 3 March (its email, its files);
    # the feeds titled it with the UTC date.
    app = seeded_app(
        tmp_path, database_url, settings='[digest.profiles.daily]\ntimezone = "Pacific/Honolulu"\n'
    )
    try:
        with serving(create_app(app)) as url, httpx.Client(base_url=url, timeout=10) as http:
            (entry,) = check_atom(http.get("/feeds/digest.atom").content)
            json_items = check_json_feed(http.get("/feeds/digest.json").json())
    finally:
        app.close()
    # With the time, in that zone: two digests of one day had one title.
    assert entry.findtext(f"{ATOM}title") == "daily digest, 2025-03-03 22:00"
    assert [i["title"] for i in json_items] == ["daily digest, 2025-03-03 22:00"]
