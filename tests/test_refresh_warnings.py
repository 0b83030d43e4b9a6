"""A document read with warnings is kept, and its warnings are recorded and shown: in the
refresh table, its plain progress lines and `--json`, and in `aggregator sources`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from aggregator.cli import main
from tests.support_config import write_config

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

DATA = Path(__file__).parent / "data" / "parse"
RSS = (DATA / "europarl_press_rss.xml").read_bytes()
# Cut inside the second item: feedparser keeps what it read, and says the feed is broken.
TRUNCATED = RSS[: RSS.index(b"<item>", RSS.index(b"<item>") + 1) + 40]
LISTING = (DATA / "consilium_press_releases_listing.html").read_bytes()
FAST = "[fetch]\nretries = 0\n"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def sources_health(capsys: pytest.CaptureFixture[str], config: Path) -> dict[str, Any]:
    code, out, _ = run(capsys, "--config", str(config), "sources", "--json")
    assert code == 0
    return {h["id"]: h for h in json.loads(out)["sources"]}


def test_warnings_are_reported_recorded_and_cleared(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        env / "config",
        [
            {
                "id": "broken",
                "name": "Broken",
                "url": http_server.add("/broken.xml", body=TRUNCATED),
                "kind": "feed",
                "org": "press",
            },
            {
                "id": "redesigned",
                "name": "Redesigned",
                "url": http_server.add("/page.html", body=LISTING, content_type="text/html"),
                "kind": "html",
                "org": "institution",
                "selectors": {"item": "article.teaser", "title": "h2", "link": "h2 a"},
            },
        ],
        settings=FAST,
    )
    code, out, _ = run(capsys, "--config", str(config), "refresh", "--json")
    document = json.loads(out)
    assert code == 0  # kept: a warning is not a failure
    rows = {s["id"]: s for s in document["sources"]}
    assert rows["broken"]["status"] == "new" and rows["broken"]["new"] >= 1
    assert set(rows["broken"]) == {"id", "status", "new", "updated", "seconds", "error"}
    warnings = document["totals"]["warnings"]
    assert warnings["broken"][0].startswith("feed is not well-formed")
    assert warnings["redesigned"] == ["selector 'article.teaser' matched nothing"]

    health = sources_health(capsys, config)
    assert health["broken"]["last_warning"].startswith("feed is not well-formed")
    assert health["redesigned"]["last_warning"] == "selector 'article.teaser' matched nothing"
    code, out, _ = run(capsys, "--config", str(config), "sources")
    assert "warning: selector 'article.teaser' matched nothing" in out

    # The same documents again (not parsed again): the same warnings, in the table too.
    code, out, err = run(capsys, "--config", str(config), "refresh")
    assert code == 0
    assert "warning: feed is not well-formed" in out
    assert "warning: selector 'article.teaser' matched nothing" in out
    assert "redesigned: unchanged (0 new, 0 updated; warning: selector" in err  # progress

    # Repaired: the warnings go.
    http_server.clear("/broken.xml")
    http_server.add("/broken.xml", body=RSS)
    code, out, _ = run(capsys, "--config", str(config), "refresh", "--json", "--source", "broken")
    assert json.loads(out)["totals"]["warnings"] == {}
    assert sources_health(capsys, config)["broken"]["last_warning"] is None
