"""`aggregator retag`: changed rules reach stored items; tagging stays a pure re-run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.cli import main
from tests.support_config import write_config

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

RSS = (Path(__file__).parent / "data" / "parse" / "europarl_press_rss.xml").read_bytes()

FIRST_RULES = """
[tag.csar]
label = "CSA Regulation"
[[tag.csar.rule]]
any = ["chat control", "CSA Regulation"]
"""
SECOND_RULES = """
[tag.csar]
label = "CSA Regulation"
[[tag.csar.rule]]
any = ["chat control", "CSA Regulation"]

[tag.parliament-news]
label = "Parliament"
[[tag.parliament-news.rule]]
any = ["MEPs", "Parliament"]
"""


def exported(capsys: pytest.CaptureFixture[str], config: Path) -> dict[str, list[str]]:
    assert main(["--config", str(config), "export"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return {row["title"]: row["tags"] for row in rows}


def test_retag_applies_changed_rules_and_is_idempotent(
    http_server: FixtureServer,
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AGGREGATOR_DATABASE_URL", database_url)
    url = http_server.add("/ep.xml", body=RSS, content_type="application/rss+xml")
    source = {"id": "ep", "name": "EP", "url": url, "kind": "feed", "org": "parliament"}
    config = write_config(tmp_path / "config", [source], tags=FIRST_RULES)
    assert main(["--config", str(config), "refresh"]) == 0
    capsys.readouterr()
    before = exported(capsys, config)
    assert before and not any("parliament-news" in tags for tags in before.values())

    (config / "tags.toml").write_text(SECOND_RULES, encoding="utf-8")
    assert main(["--config", str(config), "retag", "--dry-run", "--json"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["changed"] >= 1 and dry["added"]["parliament-news"] == dry["changed"]
    assert exported(capsys, config) == before  # a dry run writes nothing

    assert main(["--config", str(config), "retag"]) == 0
    assert "parliament-news" in capsys.readouterr().out
    after = exported(capsys, config)
    gained = [title for title, tags in after.items() if "parliament-news" in tags]
    assert len(gained) == dry["changed"]
    for title, tags in after.items():
        # Everything else (automatic tags, csar) is what it was.
        assert set(tags) - {"parliament-news"} == set(before[title])

    assert main(["--config", str(config), "retag", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] == 0
