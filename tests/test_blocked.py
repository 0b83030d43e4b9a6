"""Blocked sites: a bot-protection challenge is reported as `blocked`, with advice, by
refresh, `sources`, the digest's problem section and the shared health record, and is never
confused with a parse error. End to end against the local server, on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from aggregator.api.schemas import source_out
from aggregator.cli import main
from aggregator.digest import SourceInfo, problem_sources
from aggregator.errors import Blocked
from aggregator.health import health_record
from aggregator.models import OrgKind, Source, SourceHealth, SourceKind
from tests.support_config import write_config

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

FAST = "[fetch]\nretries = 0\nread_timeout = 2.0\ntotal_timeout = 3.0\n"
CHALLENGE = (
    b'<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
    b'<meta http-equiv="refresh" content="390"></head><body><div class="main-wrapper">'
    b"<noscript>Enable JavaScript and cookies to continue</noscript></div>"
    b'<script src="/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1?ray=8f1"></script>'
    b"</body></html>"
)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(list(argv))
    out, _ = capsys.readouterr()
    return code, json.loads(out)


def feed(id: str, url: str) -> dict[str, Any]:
    return {"id": id, "name": id.upper(), "url": url, "kind": "feed", "org": "ngo"}


def test_a_challenge_page_is_blocked_not_a_parse_error(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    challenged = http_server.add(
        "/feed.xml",
        status=403,
        body=CHALLENGE,
        content_type="text/html; charset=UTF-8",
        headers={"cf-mitigated": "challenge", "Server": "cloudflare"},
    )
    garbage = http_server.add("/garbage.xml", body=b"<html><p>moved</p>", content_type="text/html")
    config = write_config(
        env / "config", [feed("csoe", challenged), feed("moved", garbage)], settings=FAST
    )

    code, doc = run_json(capsys, "--config", str(config), "refresh", "--json")
    assert code == 1
    results = {s["id"]: s for s in doc["sources"]}
    assert results["csoe"]["status"] == "blocked" and "challenge" in results["csoe"]["error"]
    assert results["moved"]["status"] == "error" and "parse" in results["moved"]["error"]
    assert http_server.count("/feed.xml") == 1  # a challenge is not retried

    code, doc = run_json(capsys, "--config", str(config), "sources", "--json")
    assert code == 0
    health = {h["id"]: h for h in doc["sources"]}
    assert health["csoe"]["blocked"] is True
    assert health["csoe"]["last_status"] == "blocked"
    assert health["csoe"]["last_error_kind"] == "blocked"
    assert health["csoe"]["advice"] == Blocked.advice
    assert health["moved"]["blocked"] is False and health["moved"]["advice"] is None
    assert health["moved"]["last_error_kind"] == "parse"

    code = main(["--config", str(config), "sources"])
    table, _ = capsys.readouterr()
    assert "blocked" in table and "User-Agent with a contact address" in table

    # One challenge is not yet a digest problem; a second in a row is, with the advice.
    code = main(["--config", str(config), "digest", "--dry-run"])
    text, _ = capsys.readouterr()
    assert code == 0 and "bot-protection" not in text
    run_json(capsys, "--config", str(config), "refresh", "--json")
    code = main(["--config", str(config), "digest", "--dry-run"])
    text, _ = capsys.readouterr()
    assert code == 0 and "CSOE: blocked by a bot-protection challenge since" in text
    assert "User-Agent" in text and "MOVED" not in text  # failing for minutes only


def health(**changes: Any) -> SourceHealth:
    values: dict[str, Any] = {
        "id": "csoe",
        "url": "https://csoe.example/feed/",
        "last_status": "blocked",
        "last_fetch_at": NOW,
        "last_success_at": NOW - timedelta(days=3),
        "last_error": "blocked: 'csoe': HTTP 403: Cloudflare challenge page",
        "last_error_kind": "blocked",
        "failing_since": NOW - timedelta(hours=2),
        "consecutive_failures": 1,
        "next_fetch_at": NOW + timedelta(hours=1),
        "item_count": 12,
        "last_item_count": 12,
        "ever_yielded": True,
    }
    values.update(changes)
    return SourceHealth(**values)


INFO = {
    "csoe": SourceInfo(
        id="csoe",
        name="CSOE",
        url="https://csoe.example/feed/",
        kind=SourceKind.FEED,
        org=OrgKind.NGO,
    )
}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, None),
        ({"consecutive_failures": 2}, "blocked"),
        ({"failing_since": NOW - timedelta(days=2)}, "blocked"),
        ({"last_error_kind": "parse", "last_status": "error"}, None),
        (
            {"last_error_kind": "parse", "failing_since": NOW - timedelta(days=2)},
            "failing",
        ),
    ],
    ids=["blocked-once", "blocked-twice", "blocked-for-days", "parse-once", "parse-for-days"],
)
def test_problem_section_rule(changes: dict[str, Any], expected: str | None) -> None:
    problems = problem_sources([health(**changes)], INFO, now=NOW)
    assert [p.problem for p in problems] == ([expected] if expected else [])
    if expected == "blocked":
        assert problems[0].advice == Blocked.advice
        assert problems[0].since == health(**changes).failing_since


def test_the_shared_health_record_says_blocked_with_advice() -> None:
    record = health_record(health())
    assert record["blocked"] is True and record["advice"] == Blocked.advice
    assert record["failing_since"] == (NOW - timedelta(hours=2)).isoformat()
    limited = health_record(health(last_error_kind="rate-limited", last_status="rate limited"))
    assert limited["blocked"] is False and "longer interval" in limited["advice"]


def test_the_api_says_blocked_with_advice_as_the_cli_does() -> None:
    source = Source(
        id="csoe", name="CSOE", url="https://csoe.example/feed/", kind=SourceKind.FEED,
        org=OrgKind.NGO,
    )  # fmt: skip
    out = source_out(source, health()).health
    assert out is not None and out.blocked is True and out.advice == Blocked.advice
    fine = source_out(source, health(last_error_kind=None, last_status="new")).health
    assert fine is not None and fine.blocked is False and fine.advice is None
