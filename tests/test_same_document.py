"""A document the last refresh parsed, sent again whole (no validators, or validators the
server ignores), is recognised and not parsed again: `aggregator refresh` end to end, on
both databases."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import aggregator.prepare
from aggregator.cli import main
from tests.support_config import write_config

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

DATA = Path(__file__).parent / "data" / "parse"
RSS = (DATA / "europarl_press_rss.xml").read_bytes()
LISTING = (DATA / "consilium_press_releases_listing.html").read_bytes()
SELECTORS = {
    "item": "li.gsc-excerpt-item",
    "title": "h3",
    "link": "h3 a@href",
    "date": "time@datetime",
    "summary": ".gsc-excerpt-item__description",
}
FAST = "[fetch]\nretries = 0\nbackoff_base = 0.01\n"


@pytest.fixture()
def prepared(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the sources whose documents were parsed (a few sources: in this process)."""
    seen: list[str] = []
    real: Callable[..., Any] = aggregator.prepare.prepare

    def counting(source: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(source.id)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(aggregator.prepare, "prepare", counting)
    return seen


def refresh(capsys: pytest.CaptureFixture[str], config: Path) -> dict[str, dict[str, Any]]:
    code = main(["--config", str(config), "refresh", "--json"])
    out, _ = capsys.readouterr()
    doc = json.loads(out)
    assert code == (1 if doc["totals"]["failed"] else 0)
    return {s["id"]: s for s in doc["sources"]}


def health(capsys: pytest.CaptureFixture[str], config: Path) -> dict[str, dict[str, Any]]:
    assert main(["--config", str(config), "sources", "--json"]) == 0
    out, _ = capsys.readouterr()
    return {h["id"]: h for h in json.loads(out)["sources"]}


def feed_source(url: str, **extra: Any) -> dict[str, Any]:
    return {"id": "ep", "name": "EP", "url": url, "kind": "feed", "org": "parliament", **extra}


def test_the_same_document_again_is_unchanged_and_not_parsed(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str], prepared: list[str]
) -> None:
    url = http_server.add("/ep.xml", body=RSS, content_type="application/rss+xml")
    config = write_config(env / "config", [feed_source(url)], settings=FAST)

    first = refresh(capsys, config)
    assert first["ep"]["status"] == "new" and first["ep"]["new"] == 2
    assert prepared == ["ep"]

    second = refresh(capsys, config)
    assert second["ep"]["status"] == "unchanged"
    assert (second["ep"]["new"], second["ep"]["updated"]) == (0, 0)
    assert prepared == ["ep"]  # fetched again, not parsed again
    assert len(http_server.requests("/ep.xml")) == 2
    state = health(capsys, config)["ep"]
    assert state["last_status"] == "unchanged" and state["items"] == 2

    # A new item in the document: read as any changed document.
    changed = RSS.replace(
        b"<item>",
        b"<item><title>Chat control: plenary vote</title>"
        b"<link>https://www.europarl.europa.eu/news/en/press-room/vote</link>"
        b"<guid>vote-1</guid><pubDate>Wed, 26 Nov 2025 09:00:00 GMT</pubDate></item><item>",
        1,
    )
    http_server.clear("/ep.xml")
    http_server.add("/ep.xml", body=changed, content_type="application/rss+xml")
    third = refresh(capsys, config)
    assert third["ep"]["status"] == "new" and third["ep"]["new"] == 1
    assert prepared == ["ep", "ep"]

    # A failed fetch in between does not make the last document unknown.
    http_server.clear("/ep.xml")
    http_server.add("/ep.xml", status=500, times=1)
    http_server.add("/ep.xml", body=changed, content_type="application/rss+xml")
    assert refresh(capsys, config)["ep"]["status"] == "error"
    assert refresh(capsys, config)["ep"]["status"] == "unchanged"
    assert prepared == ["ep", "ep"]
    assert health(capsys, config)["ep"]["items"] == 3


def test_a_server_that_ignores_its_own_etag_costs_no_parse(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str], prepared: list[str]
) -> None:
    # The ETag as a plain header: the server answers 200 whatever If-None-Match says.
    url = http_server.add(
        "/ep.xml", body=RSS, content_type="application/rss+xml", headers={"ETag": '"v1"'}
    )
    config = write_config(env / "config", [feed_source(url)], settings=FAST)
    assert refresh(capsys, config)["ep"]["status"] == "new"
    assert refresh(capsys, config)["ep"]["status"] == "unchanged"
    assert http_server.requests("/ep.xml")[1].headers["If-None-Match"] == '"v1"'
    assert prepared == ["ep"]


def test_a_changed_source_configuration_reads_the_same_document_again(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str], prepared: list[str]
) -> None:
    url = http_server.add("/council.html", body=LISTING, content_type="text/html; charset=utf-8")
    listing = {
        "id": "council",
        "name": "Council",
        "url": url,
        "kind": "html",
        "org": "institution",
        "language": "en",
    }
    # The summary selector first matches nothing; fixing it must take effect at once.
    config = write_config(
        env / "config",
        [{**listing, "selectors": {**SELECTORS, "summary": ".no-such-class"}}],
        settings=FAST,
    )
    assert refresh(capsys, config)["council"]["status"] == "new"
    assert refresh(capsys, config)["council"]["status"] == "unchanged"
    assert prepared == ["council"]

    write_config(env / "config", [{**listing, "selectors": SELECTORS}], settings=FAST)
    fixed = refresh(capsys, config)["council"]
    assert prepared == ["council", "council"]  # the same bytes, read with the new selectors
    assert fixed["status"] == "updated" and fixed["updated"] == 1  # the one with a summary
    assert refresh(capsys, config)["council"]["status"] == "unchanged"
    assert prepared == ["council", "council"]


def test_another_charset_declared_for_the_same_bytes_reads_them_again(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str], prepared: list[str]
) -> None:
    url = http_server.add("/ep.xml", body=RSS, content_type="application/rss+xml")
    config = write_config(env / "config", [feed_source(url)], settings=FAST)
    assert refresh(capsys, config)["ep"]["status"] == "new"
    http_server.clear("/ep.xml")
    http_server.add("/ep.xml", body=RSS, content_type="application/rss+xml; charset=utf-8")
    assert refresh(capsys, config)["ep"]["status"] == "unchanged"
    assert prepared == ["ep", "ep"]
