"""An ep-procedure source end to end through `aggregator refresh`, on both databases: new
events become new items, and the Legislative Observatory page stands in for a failing API."""

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

DATA = Path(__file__).parent / "data" / "procedure"
V1 = (DATA / "odp-procedure_2022-0155_v1.json").read_bytes()
V2 = (DATA / "odp-procedure_2022-0155_v2.json").read_bytes()
PAGE = (DATA / "oeil-procedure-file_2022-0155-cod.html").read_bytes()
REF = "2022/0155(COD)"
API_PATH = "/api/v2/procedures/2022-0155"
OEIL_PATH = "/oeil/en/procedure-file"
OEIL = "https://oeil.secure.europarl.europa.eu/oeil/en/procedure-file?reference=2022/0155(COD)"
JSON_LD = "application/ld+json"
FAST = """
[fetch]
retries = 1
backoff_base = 0.01
read_timeout = 2.0
total_timeout = 3.0
"""
NEW_EVENTS = [
    (
        f"{REF} — committee approved the provisional agreement from trilogue",
        "2026-11-04T00:00:00+00:00",
        "event:provisional-agreement",
    ),
    (
        f"{REF} — Parliament adopted its decision in plenary",
        "2026-11-19T00:00:00+00:00",
        "event:plenary-decision",
    ),
]


def procedure_config(server: FixtureServer, folder: Path) -> Path:
    source = {
        "id": "proc-csar",
        "name": f"Procedure {REF}",
        "url": server.url(API_PATH) + "?format=application%2Fld%2Bjson",
        "kind": "ep-procedure",
        "org": "parliament",
        "institution": "European Parliament",
        "language": "en",
        "reference": REF,
    }
    return write_config(folder, [source], settings=FAST)


def refresh(capsys: pytest.CaptureFixture[str], config: Path, *, code: int = 0) -> dict[str, Any]:
    got = main(["--config", str(config), "refresh", "--json"])
    out, _ = capsys.readouterr()
    assert got == code, out
    result: dict[str, Any] = json.loads(out)["sources"][0]
    return result


def exported(capsys: pytest.CaptureFixture[str], config: Path) -> dict[str, dict[str, Any]]:
    code = main(["--config", str(config), "export", "--format", "jsonl"])
    out, _ = capsys.readouterr()
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    return {row["title"]: row for row in rows}


def assert_new_events(before: dict[str, Any], after: dict[str, dict[str, Any]]) -> None:
    added = {title: row for title, row in after.items() if title not in before}
    assert sorted(added) == sorted(title for title, _, _ in NEW_EVENTS)
    for title, published, event_tag in NEW_EVENTS:
        row = added[title]
        assert row["published"] == published
        assert row["url"] == OEIL
        assert {
            f"procedure:{REF}",
            "stage:1st-reading",
            event_tag,
            "kind:ep-procedure",
        } <= set(row["tags"])
    for title, row in before.items():  # what was there is left as it was
        assert after[title]["revision"] == row["revision"] == 1


def test_new_api_events_become_exactly_the_new_items(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    http_server.add(API_PATH, body=V1, content_type=JSON_LD, times=1)
    http_server.add(API_PATH, body=V2, content_type=JSON_LD)
    config = procedure_config(http_server, env / "config")

    first = refresh(capsys, config)
    assert (first["status"], first["new"]) == ("new", 4)
    before = exported(capsys, config)

    second = refresh(capsys, config)
    assert (second["status"], second["new"], second["updated"]) == ("new", 2, 0)
    assert_new_events(before, exported(capsys, config))

    third = refresh(capsys, config)  # the same answer again: nothing new, nothing changed
    assert (third["status"], third["new"], third["updated"]) == ("unchanged", 0, 0)
    assert http_server.count(OEIL_PATH) == 0


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 503, "body": b"Service Unavailable", "content_type": "text/plain"},
        {"body": b"<html><body><p>Maintenance</p></body></html>", "content_type": "text/html"},
    ],
    ids=["api-503", "api-answers-html"],
)
def test_the_oeil_page_stands_in_for_the_api_with_the_same_items(
    http_server: FixtureServer,
    env: Path,
    capsys: pytest.CaptureFixture[str],
    failure: dict[str, Any],
) -> None:
    http_server.add(API_PATH, body=V1, content_type=JSON_LD, etag='"v1"', times=1)
    http_server.add(API_PATH, **failure)
    http_server.add(OEIL_PATH, body=PAGE, content_type="text/html; charset=utf-8", etag='"page"')
    config = procedure_config(http_server, env / "config")

    assert refresh(capsys, config)["new"] == 4
    before = exported(capsys, config)

    fallen_back = refresh(capsys, config)
    assert fallen_back["status"] == "new" and fallen_back["error"] is None
    # The two events the API would have given, and the proposal only the page lists.
    assert (fallen_back["new"], fallen_back["updated"]) == (3, 0)
    after = exported(capsys, config)
    proposal = after.pop(f"{REF} — legislative proposal published")
    assert proposal["published"] == "2022-05-11T00:00:00+00:00"
    assert_new_events(before, after)
    assert http_server.requests(OEIL_PATH)[0].headers["If-None-Match"] is None

    # The page's validators are not the API's: the next API request is not conditional on them.
    refresh(capsys, config)
    last_api = http_server.requests(API_PATH)[-1]
    assert last_api.headers["If-None-Match"] != '"page"'


def test_when_the_fallback_fails_too_the_api_error_is_reported(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    http_server.add(API_PATH, status=503, body=b"down", content_type="text/plain")
    http_server.add(OEIL_PATH, status=404, body=b"gone", content_type="text/plain")
    config = procedure_config(http_server, env / "config")
    result = refresh(capsys, config, code=1)  # 1: a source failed
    assert result["status"] == "error"
    assert "503" in result["error"]
    assert http_server.count(OEIL_PATH) >= 1
    # What else was tried is said too, not the API's error alone.
    assert "; the fallback http://" in result["error"]
    assert result["error"].endswith("failed too: HTTP 404 Not Found")
