"""What `aggregator sources` advises for a source's last HTTP failure, after refreshes against
real HTTP servers on 127.0.0.1: a maintenance window is no request to slow down, a 410 is a
feed removed for good, a plain 401/403 is a site refusing robots."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.health import GONE, LOGIN, REFUSED, SLOW_DOWN
from tests.support_config import write_config
from tests.test_refresh import FAST, refresh_json, run, source, sources_health, statuses

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)


def test_each_http_failure_gets_the_advice_that_fits_it(
    http_server: FixtureServer,
    other_http_server: FixtureServer,
    env: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.httpserver import FixtureServer

    page = b"<html><body>No.</body></html>"
    # A Retry-After holds its whole host: each wait on a host of its own.
    with FixtureServer() as third:
        entries = [
            source("gone", http_server.add("/gone.xml", status=410, body=page)),
            source("forbidden", http_server.add("/403.xml", status=403, body=page)),
            source(
                "login",
                http_server.add(
                    "/401.xml", status=401, body=page, headers={"WWW-Authenticate": "Basic"}
                ),
            ),
            source("missing", http_server.add("/404.xml", status=404, body=page)),
            source(
                "maintenance",
                other_http_server.add("/m.xml", status=503, headers={"Retry-After": "7200"}),
            ),
            source("busy", third.add("/busy.xml", status=429, headers={"Retry-After": "600"})),
        ]
        config = write_config(env / "config", entries, settings=FAST)
        code, doc = refresh_json(capsys, config)
    assert code == 1
    assert statuses(doc)["maintenance"] == "rate limited"
    health = sources_health(capsys, config)
    advice = {name: record["advice"] for name, record in health.items()}

    # Before the fix, a 503 was told to slow down, and 410, 401 and 403 got no advice.
    until = datetime.fromisoformat(health["maintenance"]["next_fetch"])
    assert advice["maintenance"] == (
        f"the server is unavailable until {until.isoformat(timespec='seconds')} (503, a"
        " maintenance window): nothing to change; it is not asked before then"
    )
    assert advice["busy"] == SLOW_DOWN
    assert advice["gone"] == GONE
    assert "remove the source from sources.toml" in GONE
    assert advice["forbidden"] == REFUSED
    assert "set fetch.contact" in REFUSED and "refuse robots" in REFUSED
    assert advice["login"] == LOGIN
    assert advice["missing"] is None  # moved or mistyped: no advice we could be sure of

    # The table says it under the error.
    code, out, _ = run(capsys, "--config", str(config), "sources")
    text = " ".join(out.split())
    assert "the publisher removed the feed" in text
    assert "the server is unavailable until" in text
