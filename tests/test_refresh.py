"""`aggregator refresh` end to end: config -> fixture HTTP server -> store, on both databases."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from aggregator.cli import main
from aggregator.store.schema import sources as sources_table

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

from tests.support_config import write_config

pytest_plugins = ("tests.httpserver",)

DATA = Path(__file__).parent / "data" / "parse"
RSS = (DATA / "europarl_press_rss.xml").read_bytes()
ATOM = (DATA / "iwf_news.atom").read_bytes()
JSONFEED = (DATA / "ecpat_jsonfeed.json").read_bytes()
LISTING = (DATA / "consilium_press_releases_listing.html").read_bytes()
COUNCIL_SELECTORS = {
    "item": "li.gsc-excerpt-item",
    "title": "h3",
    "link": "h3 a@href",
    "date": "time@datetime",
    "summary": ".gsc-excerpt-item__description",
}


def source(id: str, url: str, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": id, "name": id.upper(), "url": url, "kind": "feed"}
    entry["org"] = extra.pop("org", "ngo")
    entry.update(extra)
    return entry


FAST = """
[fetch]
retries = 1
backoff_base = 0.01
read_timeout = 2.0
total_timeout = 3.0
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def refresh_json(
    capsys: pytest.CaptureFixture[str], config: Path, *extra: str
) -> tuple[int, dict[str, Any]]:
    code, out, _ = run(capsys, "--config", str(config), "refresh", "--json", *extra)
    return code, json.loads(out)


def sources_health(capsys: pytest.CaptureFixture[str], config: Path) -> dict[str, dict[str, Any]]:
    """`aggregator sources --json`, by source id."""
    code, out, _ = run(capsys, "--config", str(config), "sources", "--json")
    assert code == 0
    return {h["id"]: h for h in json.loads(out)["sources"]}


def statuses(doc: dict[str, Any]) -> dict[str, str]:
    return {s["id"]: s["status"] for s in doc["sources"]}


def serve_good_sources(server: FixtureServer) -> list[dict[str, Any]]:
    return [
        source(
            "ep-press",
            server.add("/ep.xml", body=RSS, etag='"ep1"', content_type="application/rss+xml"),
            org="parliament",
            institution="European Parliament",
        ),
        source(
            "iwf",
            server.add(
                "/iwf.atom",
                body=ATOM,
                last_modified="Tue, 25 Nov 2025 10:00:00 GMT",
                content_type="application/atom+xml",
            ),
            country="GB",
        ),
        source(
            "ecpat",
            server.add(
                "/ecpat.json", body=JSONFEED, etag='"j1"', content_type="application/feed+json"
            ),
        ),
        source(
            "council",
            server.add(
                "/council.html", body=LISTING, etag='"c1"', content_type="text/html; charset=utf-8"
            ),
            kind="html",
            org="institution",
            institution="Council of the EU",
            language="en",
            selectors=COUNCIL_SELECTORS,
        ),
    ]


def test_an_edited_source_is_read_again_though_its_server_would_answer_304(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = http_server.add(
        "/council.html", body=LISTING, etag='"c1"', content_type="text/html; charset=utf-8"
    )

    def council(selectors: dict[str, str]) -> list[dict[str, Any]]:
        return [source("council", url, kind="html", org="institution", selectors=selectors)]

    wrong = {**COUNCIL_SELECTORS, "item": "li.no-such-class"}
    config = write_config(env / "config", council(wrong), settings=FAST)
    code, first = refresh_json(capsys, config)
    assert code == 0 and first["sources"][0]["new"] == 0

    write_config(env / "config", council(COUNCIL_SELECTORS), settings=FAST)  # selectors fixed
    code, second = refresh_json(capsys, config)
    assert code == 0 and second["sources"][0]["new"] == 2, second
    assert "If-None-Match" not in http_server.requests("/council.html")[1].headers

    code, third = refresh_json(capsys, config)  # the same config again: conditional
    assert statuses(third) == {"council": "not modified"}
    assert http_server.requests("/council.html")[2].headers["If-None-Match"] == '"c1"'


def test_an_edited_sources_tags_and_language_reach_its_stored_items(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = http_server.add("/ep.xml", body=RSS, etag='"ep1"', content_type="application/rss+xml")
    config = write_config(env / "config", [source("ep", url, language="en")], settings=FAST)
    code, first = refresh_json(capsys, config)
    assert code == 0 and first["sources"][0]["new"] == 2

    # (The feed declares its language: that stays the items' own.)
    edited = source("ep", url, language="de", country="BE", tags=["watch-list"])
    write_config(env / "config", [edited], settings=FAST)
    code, second = refresh_json(capsys, config)
    assert code == 0 and statuses(second) == {"ep": "unchanged"}
    code, out, _ = run(capsys, "--config", str(config), "export", "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert {"watch-list", "country:be", "lang:en"} <= set(row["tags"]), row["tags"]
    # Not a revision: the words are the same.
    code, out, _ = run(capsys, "--config", str(config), "refresh", "--json")
    assert json.loads(out)["sources"][0]["updated"] == 0


def test_an_item_of_megabytes_of_words_is_stored_cut_on_both_databases(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # PostgreSQL indexes at most 1 MB per row: the whole source's save was refused there.
    words = " ".join(f"word{n}" for n in range(300_000))
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Big",
        "items": [
            {"id": "big", "url": "https://example.org/big", "title": "Big", "content_text": words},
            {"id": "small", "url": "https://example.org/small", "title": "Small"},
        ],
    }
    url = http_server.add(
        "/big.json", body=json.dumps(feed).encode(), content_type="application/feed+json"
    )
    config = write_config(env / "config", [source("big", url)], settings=FAST)
    code, doc = refresh_json(capsys, config)
    assert code == 0 and doc["sources"][0]["new"] == 2, doc
    from aggregator.store.schema import items as items_table

    engine = sa.create_engine(os.environ["AGGREGATOR_DATABASE_URL"])
    with engine.connect() as conn:
        texts = dict(conn.execute(sa.select(items_table.c.title, items_table.c.text)).all())
    engine.dispose()
    assert 100_000 < len(texts["Big"]) <= 200_002 and texts["Big"].endswith(" …")


def test_a_redesigned_listing_page_leaves_its_stored_items_as_they_were(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = http_server.add("/council.html", body=LISTING, content_type="text/html; charset=utf-8")
    selectors = {**COUNCIL_SELECTORS, "link": "a@href"}
    council = source("council", url, kind="html", org="institution", selectors=selectors)
    config = write_config(env / "config", [council], settings=FAST)
    code, first = refresh_json(capsys, config)
    assert code == 0 and first["sources"][0]["new"] == 2

    def export() -> list[dict[str, Any]]:
        exit_code, out, _ = run(capsys, "--config", str(config), "export", "--format", "jsonl")
        assert exit_code == 0
        return sorted((json.loads(line) for line in out.splitlines()), key=lambda r: r["url"])

    before = export()
    # The same cards, with the title, date and summary in elements the selectors miss.
    redesigned = (
        LISTING.replace(b"<h3", b"<h4")
        .replace(b"</h3>", b"</h4>")
        .replace(b"<time", b"<span")
        .replace(b"</time>", b"</span>")
        .replace(b"gsc-excerpt-item__description", b"card-text")
    )
    http_server.clear("/council.html")
    http_server.add("/council.html", body=redesigned, content_type="text/html; charset=utf-8")
    code, second = refresh_json(capsys, config)
    assert code == 0 and statuses(second) == {"council": "unchanged"}, second
    assert "matched nothing in any item" in " ".join(second["totals"]["warnings"]["council"])
    after = export()
    for old, new in zip(before, after, strict=True):
        for field in ("title", "summary", "published", "published_is_fallback"):
            assert new[field] == old[field], field


def test_refresh_stores_every_kind_then_sends_conditional_requests(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(env / "config", serve_good_sources(http_server), settings=FAST)

    code, first = refresh_json(capsys, config)
    assert code == 0, first
    assert statuses(first) == {"ep-press": "new", "iwf": "new", "ecpat": "new", "council": "new"}
    news = {s["id"]: s["new"] for s in first["sources"]}
    assert news == {"ep-press": 2, "iwf": 2, "ecpat": 2, "council": 2}
    assert first["totals"]["new"] == 8 and first["totals"]["failed"] == 0

    code, second = refresh_json(capsys, config)
    assert code == 0
    assert set(statuses(second).values()) == {"not modified"}
    assert http_server.requests("/ep.xml")[1].headers["If-None-Match"] == '"ep1"'
    assert (
        http_server.requests("/iwf.atom")[1].headers["If-Modified-Since"]
        == "Tue, 25 Nov 2025 10:00:00 GMT"
    )

    code, out, _ = run(capsys, "--config", str(config), "export", "--format", "jsonl")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 8
    for row in rows:
        assert set(row) >= {
            "id",
            "source",
            "url",
            "canonical_url",
            "title",
            "summary",
            "published",
            "first_seen",
            "language",
            "author",
            "categories",
            "tags",
            "cluster_id",
        }
        assert row["url"].startswith(("https://", http_server.base_url))
        assert row["published"].endswith("+00:00")
        assert row["cluster_id"] is not None
    ep_rows = [r for r in rows if r["source"] == "ep-press"]
    assert "Press Service" in {r["author"] for r in ep_rows}
    assert ["LIBE", "Justice and home affairs"] in [r["categories"][:2] for r in ep_rows]
    assert "IWF Press Office" in {r["author"] for r in rows if r["source"] == "iwf"}
    council = [r for r in rows if r["source"] == "council"]
    assert "org:institution" in council[0]["tags"]


def test_one_broken_source_never_stops_the_others_and_loses_nothing(
    http_server: FixtureServer,
    other_http_server: FixtureServer,
    env: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = serve_good_sources(http_server)[:2]
    # On a host of its own: its Retry-After holds its whole host (fetch.holds).
    limited = other_http_server.add("/limited.xml", status=429, headers={"Retry-After": "3600"})
    broken = [
        source("down", http_server.add("/down.xml", status=500)),
        source("limited", limited),
        source(
            "garbage",
            http_server.add("/garbage.xml", body=b"\x00\x01 not a feed", content_type="text/plain"),
        ),
        source("slow", http_server.add("/slow.xml", body=RSS, delay=5.0)),
    ]
    config = write_config(env / "config", good + broken, settings=FAST)
    code, doc = refresh_json(capsys, config)
    assert code == 1
    by_id = {s["id"]: s for s in doc["sources"]}
    assert by_id["ep-press"]["status"] == "new" and by_id["iwf"]["status"] == "new"
    # The row has the id: the error says what failed, as the table's column does.
    assert by_id["down"]["status"] == "error"
    assert by_id["down"]["error"] == "fetch failed: HTTP 500 Internal Server Error"
    assert "500" in by_id["down"]["error"]
    assert by_id["limited"]["status"] == "rate limited"
    assert by_id["garbage"]["status"] == "error" and "parse" in by_id["garbage"]["error"]
    assert by_id["slow"]["status"] == "error" and "'slow'" not in by_id["slow"]["error"]
    assert doc["totals"]["failed"] == 4

    # The feed now breaks: its stored items stay, and health says what happened.
    http_server.clear("/ep.xml")
    http_server.add("/ep.xml", status=503)
    code, doc = refresh_json(capsys, config, "--source", "ep-press")
    assert code == 1 and statuses(doc) == {"ep-press": "error"}
    code, out, _ = run(capsys, "--config", str(config), "export")
    assert sum(1 for line in out.splitlines() if '"ep-press"' in line) == 2

    code, out, _ = run(capsys, "--config", str(config), "sources", "--json")
    health = {h["id"]: h for h in json.loads(out)["sources"]}
    assert health["ep-press"]["consecutive_failures"] == 1
    assert health["ep-press"]["last_success"] is not None
    assert health["ep-press"]["items"] == 2
    assert health["limited"]["last_status"] == "rate limited"
    # Retry-After moved the next fetch an hour on, instead of retrying now.
    assert health["limited"]["next_fetch"] > health["down"]["last_fetch"]


def test_table_output_names_each_failed_source(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        env / "config",
        [
            source("ok", http_server.add("/ok.xml", body=RSS)),
            source("down", http_server.add("/d", status=404)),
        ],
        settings=FAST,
    )
    code, out, err = run(capsys, "--config", str(config), "refresh")
    assert code == 1
    assert "ok" in out and "new" in out
    assert "down" in out and "HTTP 404" in out
    assert "[2/2]" in err  # plain progress lines when stderr is not a terminal


def test_a_progress_line_says_its_status_once(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "limited: rate limited (rate limited: HTTP 429 ...)".
    url = http_server.add("/l.xml", status=429, headers={"Retry-After": "3600"})
    config = write_config(env / "config", [source("limited", url)], settings=FAST)
    code, _, err = run(capsys, "--config", str(config), "refresh")
    assert code == 1
    (line,) = [line for line in err.splitlines() if line.startswith("[1/1]")]
    assert line.startswith("[1/1] limited: rate limited (HTTP 429")
    assert line.count("rate limited") == 1


def test_unknown_source_and_bad_config_exit_2(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(env / "config", [source("ok", http_server.add("/ok.xml", body=RSS))])
    code, _, err = run(capsys, "--config", str(config), "refresh", "--source", "nope")
    assert code == 2 and "unknown source id 'nope'" in err
    argv = ("refresh", "--source", "nope", "--source", "ok", "--source", "nope2")
    code, _, err = run(capsys, "--config", str(config), *argv)
    assert code == 2 and "unknown source ids 'nope', 'nope2'" in err
    (config / "sources.toml").write_text(
        '[[source]]\nid = "x"\nname = "X"\nurl = "https://x.eu/"\nkind = "rss"\norg = "ngo"\n'
    )
    code, _, err = run(capsys, "--config", str(config), "refresh")
    assert code == 2
    assert "sources.toml:5" in err and "kind" in err
    code, _, err = run(capsys, "--config", str(config), "sources", "check")
    assert code == 2 and "sources.toml:5" in err


def test_many_sources_use_worker_processes_and_permanent_redirects_are_recorded(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = []
    for n in range(10):
        body = RSS.replace(b"europarl.europa.eu/news", f"europarl.europa.eu/news{n}".encode())
        http_server.add(f"/new/{n}.xml", body=body, etag=f'"{n}"')
        http_server.redirect(f"/old/{n}.xml", f"/new/{n}.xml", status=301)
        entries.append(source(f"feed-{n}", http_server.url(f"/old/{n}.xml")))
    config = write_config(env / "config", entries, settings=FAST)
    code, doc = refresh_json(capsys, config)
    assert code == 0, doc
    assert doc["totals"]["new"] == 20
    code, doc = refresh_json(capsys, config)
    assert set(statuses(doc).values()) == {"not modified"}
    # The second refresh went straight to the new URL.
    assert http_server.count("/old/0.xml") == 1 and http_server.count("/new/0.xml") == 2
    code, out, _ = run(capsys, "--config", str(config), "sources", "--json")
    records = {h["id"]: h for h in json.loads(out)["sources"]}
    assert records["feed-3"]["url"] == http_server.url("/new/3.xml")
    # Scripts see what the table says: the config names the old address.
    assert records["feed-3"]["configured_url"] == http_server.url("/old/3.xml")
    assert records["feed-3"]["moved"] == (
        f"moved permanently to {http_server.url('/new/3.xml')} (update its url in sources.toml)"
    )
    # The table says so too: the config still names the old address.
    code, out, _ = run(capsys, "--config", str(config), "sources")
    assert f"moved permanently to {http_server.url('/new/3.xml')}" in out
    assert "update its url in sources.toml" in out


def test_the_sources_table_says_a_moved_source_s_warning_beside_the_move(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    http_server.add("/new.html", body=LISTING, content_type="text/html; charset=utf-8")
    http_server.redirect("/old.html", "/new.html", status=301)
    selectors = {**COUNCIL_SELECTORS, "summary": "div.no-such-part"}
    council = source(
        "council",
        http_server.url("/old.html"),
        kind="html",
        org="institution",
        selectors=selectors,
    )
    config = write_config(env / "config", [council], settings=FAST)
    code, doc = refresh_json(capsys, config)
    assert code == 0 and statuses(doc) == {"council": "new"}
    code, out, _ = run(capsys, "--config", str(config), "sources")
    assert code == 0
    # The note wraps inside its cell: the table's rules out, its words joined.
    row = " ".join(out.translate({ord(c): " " for c in "│┃"}).split())
    assert f"moved permanently to {http_server.url('/new.html')}" in row
    assert "warning: summary selector 'div.no-such-part' matched nothing" in row


def test_a_permanent_redirect_to_a_temporary_one_records_the_permanent_target(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    http_server.add("/today.xml", body=RSS, etag='"t"')
    http_server.redirect("/moved.xml", "/today.xml", status=302)
    http_server.redirect("/old.xml", "/moved.xml", status=301)
    config = write_config(
        env / "config", [source("mixed", http_server.url("/old.xml"))], settings=FAST
    )
    code, doc = refresh_json(capsys, config)
    assert code == 0 and statuses(doc) == {"mixed": "new"}
    code, doc = refresh_json(capsys, config)
    assert statuses(doc) == {"mixed": "not modified"}
    # The second refresh asked the 301's target, which still redirects for today.
    assert [http_server.count(p) for p in ("/old.xml", "/moved.xml", "/today.xml")] == [1, 2, 2]
    code, out, _ = run(capsys, "--config", str(config), "sources")
    assert f"moved permanently to {http_server.url('/moved.xml')}" in out


def test_no_refresh_asks_a_rate_limited_server_again_before_its_retry_after(
    http_server: FixtureServer,
    other_http_server: FixtureServer,
    env: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Two hosts: an hour's wait of one holds none of the other's sources.
    hour = other_http_server.add("/hour.xml", status=429, headers={"Retry-After": "3600"})
    second = http_server.add("/second.xml", status=503, headers={"Retry-After": "1"}, times=1)
    http_server.add("/second.xml", body=RSS, content_type="application/rss+xml")
    config = write_config(
        env / "config", [source("hour", hour), source("second", second)], settings=FAST
    )
    code, first = refresh_json(capsys, config)
    assert code == 1
    assert statuses(first) == {"hour": "rate limited", "second": "rate limited"}

    # At once, by hand: the hour-long wait is honoured (no request), and said why.
    code, again = refresh_json(capsys, config, "--source", "hour")
    assert code == 1 and statuses(again) == {"hour": "rate limited"}
    assert "asked us to wait until" in again["sources"][0]["error"]
    assert len(other_http_server.requests("/hour.xml")) == 1
    code, out, _ = run(capsys, "--config", str(config), "sources", "--json")
    health = {h["id"]: h for h in json.loads(out)["sources"]}
    assert health["hour"]["consecutive_failures"] == 1  # a wait is not another failure

    # Once the server's time has come, a manual refresh asks again.
    time.sleep(1.1)
    code, later = refresh_json(capsys, config, "--source", "second")
    assert code == 0 and statuses(later) == {"second": "new"}

    # A new URL in the config is another server: fetched at once.
    other = http_server.add("/other.xml", body=RSS, content_type="application/rss+xml")
    write_config(env / "config", [source("hour", other), source("second", second)], settings=FAST)
    code, moved = refresh_json(capsys, config, "--source", "hour")
    assert code == 0 and statuses(moved) == {"hour": "new"}


def test_a_retry_after_years_away_waits_only_as_long_as_the_capped_next_fetch(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    far = "Thu, 31 Dec 2099 23:59:59 GMT"
    url = http_server.add("/far.xml", status=503, headers={"Retry-After": far}, times=1)
    http_server.add("/far.xml", body=RSS, content_type="application/rss+xml")
    config = write_config(env / "config", [source("far", url)], settings=FAST)
    code, first = refresh_json(capsys, config)
    assert statuses(first) == {"far": "rate limited"}
    assert "; capped: asked again from " in first["sources"][0]["error"]
    code, out, _ = run(capsys, "--config", str(config), "sources", "--json")
    assert "capped" in json.loads(out)["sources"][0]["last_error"]
    code, waiting = refresh_json(capsys, config)
    error = waiting["sources"][0]["error"]
    assert "asked us to wait until" in error and "2099" not in error  # capped: a day at most
    assert len(http_server.requests("/far.xml")) == 1

    # Once the capped time has come, the source is asked again. The wait is stored capped:
    # it holds the host (`fetch.holds.stored_holds`) no longer than the source's next fetch.
    engine = sa.create_engine(os.environ["AGGREGATOR_DATABASE_URL"])
    with engine.begin() as conn:
        row = conn.execute(sa.select(sources_table.c.retry_after, sources_table.c.next_fetch_at))
        retry_after, next_fetch_at = row.one()
        assert retry_after is not None and retry_after.year < 2099
        assert retry_after <= next_fetch_at
        past = datetime(2020, 1, 1, tzinfo=UTC)
        conn.execute(sa.update(sources_table).values(next_fetch_at=past, retry_after=past))
    engine.dispose()
    code, later = refresh_json(capsys, config)
    assert code == 0 and statuses(later) == {"far": "new"}


def test_a_retry_after_date_already_past_claims_no_wait(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A server whose clock is two hours behind. Before, the refresh said "retry after" that
    # past time, and `sources` that the 503's server was "unavailable until" the refresh.
    past = format_datetime(datetime.now(UTC) - timedelta(hours=2), usegmt=True)
    slow = http_server.add("/slow.xml", status=429, headers={"Retry-After": past})
    down = http_server.add("/down.xml", status=503, headers={"Retry-After": past})
    fine = http_server.add("/fine.xml", body=RSS, content_type="application/rss+xml")
    entries = [source("slow", slow), source("down", down), source("fine", fine)]
    config = write_config(env / "config", entries, settings=FAST)
    began = datetime.now(UTC)
    code, first = refresh_json(capsys, config)
    assert code == 1
    assert statuses(first) == {"slow": "rate limited", "down": "error", "fine": "new"}
    errors = {s["id"]: s["error"] for s in first["sources"]}
    for failed in ("slow", "down"):
        assert "retry after" not in errors[failed]
        assert (
            "is already past (the server's clock may be behind): no wait is held"
            in (errors[failed])
        )
    health = sources_health(capsys, config)
    for failed in ("slow", "down"):
        assert health[failed]["held"] is None
        assert "until" not in (health[failed]["advice"] or "")
        assert datetime.fromisoformat(health[failed]["next_fetch"]) > began  # the backoff
    assert http_server.count("/fine.xml") == 1  # the host is not held


def _weekly_statements(*texts: str) -> bytes:
    """A feed whose entries have neither GUID nor link, all of one title and date."""
    entries = "".join(
        "<item><title>Weekly statement</title><pubDate>Wed, 25 Nov 2026 10:00:00 +0000</pubDate>"
        f"<description>{text}</description></item>"
        for text in texts
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Same</title>'
        f"<link>https://same.example.org/</link><description>x</description>{entries}"
        "</channel></rss>"
    ).encode()


def test_entries_of_one_title_and_day_keep_their_items_when_a_longer_one_comes(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The longest text had the title-and-day identity: a longer statement took the Council
    # statement's item (a revision of it), and the Council's came back as new.
    europol = "Europol announced arrests in five countries."
    council = "The Council adopted its position on the regulation."
    parliament = (
        "The Parliament's civil liberties committee voted on the detection orders and"
        " encryption safeguards."
    )
    url = http_server.add("/same.xml", body=_weekly_statements(europol, council))
    config = write_config(env / "config", [source("same", url)], settings=FAST)

    def refresh(*texts: str) -> tuple[int, int]:
        http_server.clear("/same.xml")
        http_server.add("/same.xml", body=_weekly_statements(*texts))
        code, doc = refresh_json(capsys, config)
        assert code == 0, doc
        (result,) = doc["sources"]
        return result["new"], result["updated"]

    def export() -> dict[str, tuple[int, int]]:
        code, out, _ = run(capsys, "--config", str(config), "export", "--format", "jsonl")
        assert code == 0
        rows = [json.loads(line) for line in out.splitlines()]
        return {row["summary"]: (row["id"], row["revision"]) for row in rows}

    assert refresh(europol, council) == (2, 0)
    before = export()
    assert refresh(parliament, europol, council) == (1, 0)
    after = export()
    assert {text: after[text] for text in before} == before and len(after) == 3
    # An edit making Europol's statement the longest is an update of its own item.
    edited = f"{europol} Updated figures from the national police forces of the five countries."
    assert refresh(parliament, edited, council) == (0, 1)
    assert export() == {
        parliament: after[parliament],
        council: after[council],
        edited: (after[europol][0], 2),
    }
