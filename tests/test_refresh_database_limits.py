"""Values beyond what a database holds, from a real refresh on both databases.

PostgreSQL indexes at most 2,704 bytes a row and holds no NUL character in text; SQLite has
neither limit. A feed's item with a GUID or a link of kilobytes, or a NUL in its JSON Feed id
or author, is stored on both alike, and the other sources of the refresh carry on.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from aggregator.store import open_store
from tests.support_config import write_config
from tests.test_refresh import FAST, refresh_json, run, serve_good_sources, source, statuses

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

LONG = secrets.token_hex(3000)  # random: PostgreSQL compresses a repeated text under the limit


def rss(guid: str, link: str, title: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Edge</title>'
        f"<link>https://edge.example/</link><item><title>{title}</title><link>{link}</link>"
        f'<guid isPermaLink="false">{guid}</guid><pubDate>Tue, 25 Nov 2025 10:00:00 GMT'
        "</pubDate><description>A statement.</description></item></channel></rss>"
    ).encode()


def json_feed(**item: Any) -> bytes:
    entry = {"url": "https://edge.example/nul", "title": "NUL", "content_text": "Text.", **item}
    return json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "title": "E", "items": [entry]}
    ).encode()


def test_values_over_the_index_limit_or_with_nul_are_stored_on_both_databases(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edges = [
        source(
            "long-guid",
            http_server.add(
                "/g.xml", body=rss(f"urn:{LONG}", "https://edge.example/g", "Long GUID")
            ),
        ),
        source(
            "long-link",
            http_server.add(
                "/l.xml", body=rss("urn:short", f"https://edge.example/{LONG}?a=1", "Long link")
            ),
        ),
        source(
            "long-both",
            http_server.add(
                "/b.xml",
                body=rss(
                    f"https://edge.example/{LONG}", f"https://edge.example/{LONG}", "Long both"
                ),
            ),
        ),
        source(
            "nul-id",
            http_server.add(
                "/n.json", body=json_feed(id="nul\u0000guid"), content_type="application/feed+json"
            ),
        ),
        source(
            "nul-author",
            http_server.add(
                "/a.json",
                body=json_feed(id="a", authors=[{"name": "Bad\u0000Author"}]),
                content_type="application/feed+json",
            ),
        ),
    ]
    good = serve_good_sources(http_server)[:2]
    config = write_config(env / "config", [*edges, *good], settings=FAST)
    code, doc = refresh_json(capsys, config)
    assert code == 0, doc
    assert set(statuses(doc).values()) == {"new"}
    code, out, _ = run(capsys, "--config", str(config), "export")
    items = {row["source"]: row for row in map(json.loads, out.splitlines())}
    assert items["long-link"]["url"] == f"https://edge.example/{LONG}?a=1"  # as written
    assert items["nul-author"]["title"] == "NUL"
    # Again: the same items are recognised, not stored a second time.
    code, doc = refresh_json(capsys, config)
    assert code == 0 and doc["totals"]["new"] == 0


@pytest.mark.postgres
def test_items_the_database_refuses_are_their_source_s_error_alone(
    http_server: FixtureServer,
    postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Whatever limit a database has that normalise does not foresee: a trigger raises
    # PostgreSQL's "program limit exceeded" (SQLSTATE 54000) for one source's item.
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AGGREGATOR_DATABASE_URL", postgres_url)
    poisoned = source(
        "poisoned", http_server.add("/p.xml", body=rss("urn:p", "https://edge.example/p", "poison"))
    )
    config = write_config(
        tmp_path / "config", [poisoned, *serve_good_sources(http_server)[:2]], settings=FAST
    )
    assert run(capsys, "--config", str(config), "sources", "check")[0] == 0
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        open_store(postgres_url).close()  # the schema, migrated
        conn.exec_driver_sql(
            "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.title = 'poison' THEN RAISE EXCEPTION 'row too big for this test' "
            "USING ERRCODE = '54000'; END IF; RETURN NEW; END $$"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON items "
            "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
        )
    engine.dispose()
    code, doc = refresh_json(capsys, config)
    assert code == 1
    by_id = {s["id"]: s for s in doc["sources"]}
    assert by_id["poisoned"]["status"] == "error"
    assert by_id["poisoned"]["error"] == (
        "store refused its items: ProgramLimitExceeded: row too big for this test"
    )
    assert by_id["ep-press"]["status"] == by_id["iwf"]["status"] == "new"
    code, out, _ = run(capsys, "--config", str(config), "sources", "--json")
    health = {h["id"]: h for h in json.loads(out)["sources"]}
    assert health["poisoned"]["consecutive_failures"] == 1 and health["poisoned"]["items"] == 0
