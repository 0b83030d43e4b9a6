"""A Retry-After holds its whole host, against real HTTP servers on 127.0.0.1 (two ports: two
hosts): the sources of that host not yet asked are not asked, in the refresh that got the
answer and in later ones, until the server's time."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import sqlalchemy as sa

from aggregator.api import create_app
from aggregator.app import App
from aggregator.errors import HostHeld, RateLimited
from aggregator.fetch import Retriever
from aggregator.fetch.holds import host_key
from aggregator.models import CacheValidators, Fetched, Unchanged
from aggregator.store.schema import sources as sources_table
from tests.support_api import serving
from tests.support_config import write_config
from tests.test_fetch_http import NOW, SOURCE, run
from tests.test_refresh import RSS, refresh_json, source, sources_health, statuses
from tests.test_refresh import run as run_cli  # this file's `run` is the fetch test's

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

# One connection per host, so that the host's other sources wait for their turn behind
# the one that draws the Retry-After.
ONE_AT_A_TIME = """
[fetch]
retries = 0
max_per_host = 1
read_timeout = 5.0
total_timeout = 5.0
"""


def test_host_key() -> None:
    assert host_key("https://Example.org/feed") == "example.org"
    assert host_key("http://example.org:80/a") == host_key("https://example.org/b")
    assert host_key("http://127.0.0.1:8080/a") == "127.0.0.1:8080"
    assert host_key("http://[::1]:8080/a") == "[::1]:8080"
    assert host_key("file:///tmp/feed.xml") is None


def test_a_host_that_asked_to_wait_is_asked_nothing_more_by_the_retriever(
    http_server: FixtureServer, other_http_server: FixtureServer
) -> None:
    limited = http_server.add("/a", status=429, headers={"Retry-After": "3600"})
    sibling = http_server.add("/b", body=RSS)
    elsewhere = other_http_server.add("/c", body=RSS)

    async def work(r: Retriever) -> list[Any]:
        outcomes: list[Any] = []
        for url in (limited, sibling, elsewhere):
            try:
                outcomes.append(await r.retrieve(SOURCE, url, CacheValidators(), now=NOW))
            except RateLimited as exc:
                outcomes.append(exc)
        return outcomes

    first, second, third = run(work)
    assert type(first) is RateLimited
    assert isinstance(second, HostHeld)
    assert second.retry_at == NOW + timedelta(hours=1)
    assert second.host == host_key(http_server.base_url)
    assert http_server.count("/b") == 0  # not asked
    assert isinstance(third, Fetched)  # another host is not held


def test_a_hold_ends_at_the_servers_time(http_server: FixtureServer) -> None:
    limited = http_server.add("/a", status=503, headers={"Retry-After": "60"})
    sibling = http_server.add("/b", body=RSS)

    async def work(r: Retriever) -> Fetched | Unchanged:
        with pytest.raises(RateLimited):
            await r.retrieve(SOURCE, limited, CacheValidators(), now=NOW)
        with pytest.raises(HostHeld):
            await r.retrieve(SOURCE, sibling, CacheValidators(), now=NOW + timedelta(seconds=59))
        return await r.retrieve(SOURCE, sibling, CacheValidators(), now=NOW + timedelta(seconds=60))

    assert isinstance(run(work), Fetched)
    assert http_server.count("/b") == 1


@pytest.mark.parametrize("status", [429, 503])
def test_a_retry_after_holds_the_host_in_this_refresh_and_the_next(
    http_server: FixtureServer,
    other_http_server: FixtureServer,
    env: Path,
    capsys: pytest.CaptureFixture[str],
    status: int,
) -> None:
    # "a" is asked first (first in the config, one connection per host) and answered with
    # an hour's wait, slowly enough that "b" and "c" are waiting for their turn by then.
    limited = http_server.add("/a.xml", status=status, headers={"Retry-After": "3600"}, delay=0.3)
    entries = [
        source("a", limited),
        source("b", http_server.add("/b.xml", body=RSS, content_type="application/rss+xml")),
        source("c", http_server.add("/c.xml", body=RSS, content_type="application/rss+xml")),
        source("d", other_http_server.add("/d.xml", body=RSS, content_type="application/rss+xml")),
    ]
    config = write_config(env / "config", entries, settings=ONE_AT_A_TIME)
    host = host_key(http_server.base_url)
    code, first = refresh_json(capsys, config)
    assert code == 1
    assert statuses(first) == {
        "a": "rate limited",
        "b": "rate limited",
        "c": "rate limited",
        "d": "new",
    }
    errors = {s["id"]: s["error"] for s in first["sources"]}
    # Before the fix, b and c were asked at once, in this refresh and every later one.
    assert http_server.count("/b.xml") == http_server.count("/c.xml") == 0
    for held in ("b", "c"):
        assert errors[held].startswith(f"rate limited: held: {host} asked us to wait until ")
        assert "(Retry-After, in its answer to source 'a'): not asked before then" in errors[held]
    health = sources_health(capsys, config)
    asked_again = datetime.fromisoformat(health["a"]["next_fetch"])
    # `aggregator sources` says why b and c wait, and that a drew it.
    assert health["a"]["held"] is None and health["d"]["held"] is None
    for held in ("b", "c"):
        assert health[held]["held"].startswith(f"held: {host} asked us to wait until ")
        assert health[held]["held"].endswith("(Retry-After, in its answer to source 'a')")
    code, out, _ = run_cli(capsys, "--config", str(config), "sources")
    assert out.count(f"held: {host} asked us") == 2
    for held in ("b", "c"):
        # Not a failure of theirs: no error recorded, only the next fetch moved.
        assert health[held]["consecutive_failures"] == 0
        assert health[held]["last_error"] is None
        next_fetch = datetime.fromisoformat(health[held]["next_fetch"])
        # At the end of the hold: the server's time (a's own next fetch may be later, its
        # failure backoff being no shorter than its interval).
        until = datetime.fromisoformat(health[held]["held"].split(" wait until ")[1].split()[0])
        assert until - timedelta(seconds=1) <= next_fetch <= until + timedelta(seconds=1)
        assert next_fetch <= asked_again

    # A later refresh, a manual one of b alone, reads the hold from a's stored state.
    code, later = refresh_json(capsys, config, "--source", "b")
    assert code == 1 and statuses(later) == {"b": "rate limited"}
    assert f"held: {host} asked us to wait until" in later["sources"][0]["error"]
    assert "source 'a'" in later["sources"][0]["error"]
    assert http_server.count("/b.xml") == 0
    assert http_server.count("/a.xml") == 1

    # Once the server's time has come, the host is asked again.
    engine = sa.create_engine(os.environ["AGGREGATOR_DATABASE_URL"])
    with engine.begin() as conn:
        past = datetime.now(UTC) - timedelta(minutes=1)
        conn.execute(sa.update(sources_table).values(retry_after=past, next_fetch_at=past))
    engine.dispose()
    code, after = refresh_json(capsys, config, "--source", "b")
    assert code == 0 and statuses(after) == {"b": "new"}
    assert http_server.count("/b.xml") == 1


def test_the_api_gives_a_held_hosts_other_sources_the_holds_end_as_next_fetch(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Only "a" is refreshed, and its host asks for two hours; "b", of the same host, was
    # never asked: due now by its own schedule, asked when the hold ends.
    limited = http_server.add("/a.xml", status=429, headers={"Retry-After": "7200"})
    waiting = http_server.add("/b.xml", body=RSS, content_type="application/rss+xml")
    config = write_config(
        env / "config", [source("a", limited), source("b", waiting)], settings=ONE_AT_A_TIME
    )
    code, _ = refresh_json(capsys, config, "--source", "a")
    assert code == 1
    health = sources_health(capsys, config)
    until = datetime.fromisoformat(health["b"]["held"].split(" wait until ")[1].split()[0])
    asked = datetime.fromisoformat(health["b"]["next_fetch"])
    assert until <= asked < until + timedelta(seconds=1)  # the note gives whole seconds
    with App.open(config) as app, serving(create_app(app)) as url:
        listed = httpx.get(f"{url}/api/v1/sources", timeout=10).json()["sources"]
    api_next = {s["id"]: s["health"]["next_fetch_at"] for s in listed}
    # Before, the API said b was due at once (its own next fetch time).
    assert datetime.fromisoformat(api_next["b"]) == asked
    assert datetime.fromisoformat(api_next["a"]) == datetime.fromisoformat(
        health["a"]["next_fetch"]
    )


def test_the_api_says_until_when_a_sources_host_is_held_and_by_whom(
    http_server: FixtureServer,
    other_http_server: FixtureServer,
    env: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # "a" draws an hour's wait for its host, which holds "b" too; "c" is on another host.
    limited = http_server.add("/a.xml", status=429, headers={"Retry-After": "3600"})
    entries = [
        source("a", limited),
        source("b", http_server.add("/b.xml", body=RSS, content_type="application/rss+xml")),
        source("c", other_http_server.add("/c.xml", body=RSS, content_type="application/rss+xml")),
    ]
    config = write_config(env / "config", entries, settings=ONE_AT_A_TIME)
    code, _ = refresh_json(capsys, config)
    assert code == 1
    health = sources_health(capsys, config)
    until = datetime.fromisoformat(health["b"]["held"].split(" wait until ")[1].split()[0])
    with App.open(config) as app, serving(create_app(app)) as url:
        listed = httpx.get(f"{url}/api/v1/sources", timeout=10).json()["sources"]
    held = {s["id"]: (s["health"]["held_until"], s["health"]["held_by"]) for s in listed}
    for held_source in ("a", "b"):
        held_until, held_by = held[held_source]
        assert held_by == "a", held_source
        assert until <= datetime.fromisoformat(held_until) < until + timedelta(seconds=1)
    assert held["c"] == (None, None)


def test_editing_a_waiting_source_does_not_end_the_servers_wait(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An edit that changes how a source is read makes it due at once; not before the time a
    # server gave, for it or for its host's other sources.
    limited = http_server.add("/a.xml", status=429, headers={"Retry-After": "3600"})
    sibling = http_server.add("/b.xml", body=RSS, content_type="application/rss+xml")
    entries = [source("a", limited), source("b", sibling)]
    config = write_config(env / "config", entries, settings=ONE_AT_A_TIME)
    code, first = refresh_json(capsys, config)
    assert statuses(first) == {"a": "rate limited", "b": "rate limited"}
    edited = [source("a", limited, language="de"), source("b", sibling, language="de")]
    config = write_config(env / "config", edited, settings=ONE_AT_A_TIME)
    code, again = refresh_json(capsys, config)
    assert code == 1 and statuses(again) == {"a": "rate limited", "b": "rate limited"}
    assert http_server.count("/a.xml") == 1 and http_server.count("/b.xml") == 0


def test_a_later_refresh_holds_the_host_that_answered_not_the_one_redirected_from(
    http_server: FixtureServer,
    other_http_server: FixtureServer,
    env: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # "r" is redirected from the first host to the second, which answers with an hour's
    # wait: later refreshes hold the second host, and ask the first.
    limited = other_http_server.add("/t.xml", status=429, headers={"Retry-After": "3600"})
    moved = http_server.add("/r.xml", status=302, headers={"Location": limited})
    on_first = http_server.add("/s.xml", body=RSS, content_type="application/rss+xml")
    on_second = other_http_server.add("/u.xml", body=RSS, content_type="application/rss+xml")
    entries = [source("r", moved), source("s", on_first), source("u", on_second)]
    config = write_config(env / "config", entries, settings=ONE_AT_A_TIME)
    code, first = refresh_json(capsys, config, "--source", "r")
    assert statuses(first) == {"r": "rate limited"}
    code, later = refresh_json(capsys, config, "--source", "s", "--source", "u")
    assert code == 1 and statuses(later) == {"s": "new", "u": "rate limited"}
    held = {s["id"]: s["error"] for s in later["sources"]}["u"]
    assert f"held: {host_key(other_http_server.base_url)} asked us to wait" in held
    assert http_server.count("/s.xml") == 1 and other_http_server.count("/u.xml") == 0


def test_editing_the_url_of_the_source_that_drew_a_hold_keeps_its_host_held(
    http_server: FixtureServer,
    other_http_server: FixtureServer,
    env: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # "a" draws an hour's wait for the first host; its url is then edited to the second
    # host. The wait is the first host's: "b" stays held, though a's row no longer says
    # it waits (a is fetched at once where it moved to: it fails there, then succeeds).
    limited = http_server.add("/a.xml", status=429, headers={"Retry-After": "3600"})
    sibling = http_server.add("/b.xml", body=RSS, content_type="application/rss+xml")
    moved = other_http_server.add("/a.xml", status=404, times=1)
    other_http_server.add("/a.xml", body=RSS, content_type="application/rss+xml")
    config = write_config(
        env / "config", [source("a", limited), source("b", sibling)], settings=ONE_AT_A_TIME
    )
    code, first = refresh_json(capsys, config)
    assert statuses(first) == {"a": "rate limited", "b": "rate limited"}
    config = write_config(
        env / "config", [source("a", moved), source("b", sibling)], settings=ONE_AT_A_TIME
    )
    host = host_key(http_server.base_url)
    # The refresh after the edit, one after a's failure elsewhere, one after its success.
    for answered in ("error", "new", "unchanged"):
        code, again = refresh_json(capsys, config, "--source", "a", "--source", "b")
        assert code == 1 and statuses(again) == {"a": answered, "b": "rate limited"}
        held = {s["id"]: s["error"] for s in again["sources"]}["b"]
        assert f"held: {host} asked us to wait until " in held and "source 'a'" in held
        # Before the fix, b was asked right after the edit, an hour early.
        assert http_server.count("/b.xml") == 0
        health = sources_health(capsys, config)
        assert health["b"]["held"].startswith(f"held: {host} asked us to wait until ")
    assert other_http_server.count("/a.xml") == 3  # a itself is not held where it moved


def test_editing_a_held_source_s_url_to_another_of_its_host_keeps_it_held(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The source that drew the wait, moved to another URL of the same server: the server's
    # word still holds, for it as for the others.
    limited = http_server.add("/a.xml", status=429, headers={"Retry-After": "3600"})
    elsewhere = http_server.add("/a2.xml", body=RSS, content_type="application/rss+xml")
    config = write_config(env / "config", [source("a", limited)], settings=ONE_AT_A_TIME)
    code, first = refresh_json(capsys, config)
    assert statuses(first) == {"a": "rate limited"}
    config = write_config(env / "config", [source("a", elsewhere)], settings=ONE_AT_A_TIME)
    code, again = refresh_json(capsys, config)
    assert code == 1 and statuses(again) == {"a": "rate limited"}
    held = again["sources"][0]["error"]
    assert f"held: {host_key(http_server.base_url)} asked us to wait" in held
    assert http_server.count("/a2.xml") == 0
