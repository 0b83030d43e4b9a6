"""What an operator reads: the refresh table on a narrow terminal, and `aggregator sources`
for disabled and removed sources."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from rich.console import Console

from aggregator.cli import main, render_results
from aggregator.console_table import Column, Row, print_table
from aggregator.errors import FetchError
from aggregator.models import Refreshed, SourceResult
from tests.support_config import write_config

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

DATA = Path(__file__).parent / "data" / "parse"
RSS = (DATA / "europarl_press_rss.xml").read_bytes()
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_ids_are_never_cut_on_an_80_column_terminal() -> None:
    long_id = "missing-children-europe-press"
    results = [
        SourceResult(
            source_id=long_id,
            outcome=FetchError(long_id, "host not found: " + "name not known " * 8),
            started_at=NOW,
            seconds=0.1,
        ),
        SourceResult(
            source_id="proc-interim-extension",
            outcome=Refreshed(new=3, updated=0),
            started_at=NOW,
            seconds=0.2,
        ),
    ]
    out = io.StringIO()
    render_results(results, Console(file=out, width=80, color_system=None))
    text = out.getvalue()
    assert long_id in text and "proc-interim-extension" in text
    assert "2 sources: 1 ok, 1 failed" in text


def test_a_refresh_with_nothing_to_do_says_so(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(env / "config", [])
    assert main(["--config", str(config), "refresh"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == "nothing to refresh: no source is configured in sources.toml"
    source = {"id": "off", "name": "Off", "url": "https://example.org/feed", "kind": "feed"}
    config = write_config(env / "config", [{**source, "org": "ngo", "enabled": False}])
    assert main(["--config", str(config), "refresh"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == "nothing to refresh: no enabled source selected, or none due"


def test_sources_says_when_it_found_no_store(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A mistyped AGGREGATOR_DATABASE_URL listed every source as never fetched, silently.
    source = {"id": "ep", "name": "EP", "url": "https://example.org/feed", "kind": "feed"}
    config = write_config(env / "config", [{**source, "org": "parliament"}])
    database = env / "elsewhere" / "aggregator.sqlite"
    monkeypatch.setenv("AGGREGATOR_DATABASE_URL", f"sqlite:///{database}")
    assert main(["--config", str(config), "sources"]) == 0
    captured = capsys.readouterr()
    assert "never fetched" in captured.out
    assert f"aggregator: note: no store was at {database}: made an empty one" in captured.err
    assert "AGGREGATOR_DATABASE_URL mistyped?" in captured.err
    assert main(["--config", str(config), "sources"]) == 0
    assert "note" not in capsys.readouterr().err  # there is one now


def test_sources_shows_disabled_and_removed_sources(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = http_server.add("/ep.xml", body=RSS, content_type="application/rss+xml")
    feeds = [
        {"id": name, "name": name, "url": url, "kind": "feed", "org": "ngo"}
        for name in ("kept", "paused", "dropped")
    ]
    config = write_config(env / "config", feeds)
    assert main(["--config", str(config), "refresh"]) == 0
    feeds[1]["enabled"] = False
    write_config(env / "config", feeds[:2])
    capsys.readouterr()

    assert main(["--config", str(config), "sources", "--json"]) == 0
    records = {r["id"]: r for r in json.loads(capsys.readouterr().out)["sources"]}
    assert (records["kept"]["enabled"], records["kept"]["in_config"]) == (True, True)
    assert (records["paused"]["enabled"], records["paused"]["in_config"]) == (False, True)
    assert (records["dropped"]["enabled"], records["dropped"]["in_config"]) == (False, False)
    assert records["dropped"]["items"] == 2  # its items are kept
    assert records["kept"]["next_fetch"] is not None
    assert records["paused"]["next_fetch"] is None and records["dropped"]["next_fetch"] is None

    assert main(["--config", str(config), "sources"]) == 0
    table = capsys.readouterr().out
    assert "times in UTC" in table
    assert "disabled" in table and "removed from config" in table


def _printed(width: int, rows: list[Row]) -> str:
    out = io.StringIO()
    columns = [
        Column("source"),
        Column("status"),
        Column("failures", right=True, label="failures"),
        Column("next fetch", label="next fetch"),
    ]
    print_table(Console(file=out, width=width, color_system=None), "t", columns, "error", rows)
    return out.getvalue()


ROWS = [
    Row(["missing-children-europe", "error", "3", "2026-11-26 16:39"], "HTTP 503 [/x] [b]"),
    Row(["iwf", "new", "0", "2026-11-26 17:00"], ""),
]


@pytest.mark.parametrize("width", [40, 60, 80, 200])
def test_no_id_time_or_count_is_ever_cut_whatever_the_width(width: int) -> None:
    text = _printed(width, ROWS)
    flat = " ".join(text.split())  # lines wrapped by the terminal, not cut
    for cell in ("missing-children-europe", "2026-11-26 16:39", "2026-11-26 17:00", "iwf"):
        assert cell in flat, (width, text)
    assert "HTTP 503 [/x] [b]" in flat  # plain text, not markup
    assert "…" not in text


def test_a_narrow_terminal_gets_one_record_per_row() -> None:
    lines = _printed(60, ROWS).splitlines()
    assert lines[1] == ("missing-children-europe: error; failures 3; next fetch 2026-11-26 16:39")
    assert lines[2] == "  HTTP 503 [/x] [b]"
    assert lines[3] == "iwf: new; failures 0; next fetch 2026-11-26 17:00"
