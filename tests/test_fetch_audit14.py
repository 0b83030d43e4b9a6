"""Redirects, file:// sources and credentials in URLs as the audit met them (audit 14): a
FIFO or a device as a file:// source, `file://` with no path, a path decoded twice, the
one-slash `file:/path`; a user name and password in a source URL (sent as Basic auth, to
its origin only, and never shown); a permanent redirect whose new URL dies while the
configured one serves again; `sources add`, `import` and `export` of a source that moved;
a Location of Latin-1 bytes; and an error after a redirect that says where it happened."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from aggregator.api import create_app
from aggregator.app import App
from aggregator.cli import main
from aggregator.errors import FetchError
from aggregator.fetch import FetchOptions, Retriever
from aggregator.health import moved_note
from aggregator.models import CacheValidators, Fetched, OrgKind, Source, SourceHealth, SourceKind
from aggregator.settings import load_sources
from aggregator.urls import with_login_of
from tests.support_api import serving
from tests.support_config import write_config

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FEED = (Path(__file__).parent / "data" / "parse" / "europarl_press_rss.xml").read_bytes()
FAST = "[fetch]\nretries = 0\nread_timeout = 2.0\ntotal_timeout = 3.0\n"


def fetch(url: str, *, configured: str | None = None) -> Fetched:
    """One fetch of `url` for a source configured at `configured` (else `url`)."""
    source = Source(id="s", name="S", url=configured or url, kind=SourceKind.FEED, org=OrgKind.NGO)

    async def main_() -> Fetched:
        async with Retriever(FetchOptions(retries=0, total_timeout=5.0)) as retriever:
            fetched = await retriever.retrieve(source, url, CacheValidators(), now=NOW)
        assert isinstance(fetched, Fetched)
        return fetched

    return asyncio.run(main_())


def run(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def feed_source(id: str, url: str) -> dict[str, Any]:
    return {"id": id, "name": id.upper(), "url": url, "kind": "feed", "org": "ngo"}


def health(capsys: pytest.CaptureFixture[str], config: Path) -> dict[str, dict[str, Any]]:
    code, out, _ = run(capsys, config, "sources", "--json")
    assert code == 0
    return {h["id"]: h for h in json.loads(out)["sources"]}


def refresh(capsys: pytest.CaptureFixture[str], config: Path) -> dict[str, dict[str, Any]]:
    _, out, _ = run(capsys, config, "refresh", "--json")
    return {s["id"]: s for s in json.loads(out)["sources"]}


def with_login(url: str, login: str = "bob:s3cret") -> str:
    return url.replace("http://", f"http://{login}@", 1)


# 1. file://: only a regular file is read, and `file://` alone is refused


@pytest.fixture()
def fifo(tmp_path: Path) -> Iterator[Path]:
    """A named pipe no one writes to. Were it opened for reading, the open would wait for a
    writer for ever: a thread gives it one after a few seconds, so that a regression fails
    (it reads an empty document) instead of hanging the suite."""
    path = tmp_path / "feed.xml"
    os.mkfifo(path)
    done = threading.Event()

    def unblock() -> None:
        if done.wait(3.0):
            return
        with contextlib.suppress(OSError):  # ENXIO: no reader, so nothing is blocked
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # frees a blocked reader

    thread = threading.Thread(target=unblock, daemon=True)
    thread.start()
    yield path
    done.set()
    thread.join()


def test_a_fifo_source_is_refused_at_once_without_being_opened(fifo: Path) -> None:
    began = time.monotonic()
    with pytest.raises(FetchError, match=r"not a regular file: .*feed\.xml \(a FIFO\)"):
        fetch(fifo.as_uri())
    assert time.monotonic() - began < 2.0


def test_a_symlink_to_a_fifo_is_refused_and_one_to_a_file_is_read(
    fifo: Path, tmp_path: Path
) -> None:
    to_fifo = tmp_path / "to-fifo.xml"
    to_fifo.symlink_to(fifo)
    with pytest.raises(FetchError, match=r"\(a FIFO\)"):
        fetch(to_fifo.as_uri())
    (tmp_path / "real.xml").write_bytes(FEED)
    to_file = tmp_path / "to-file.xml"
    to_file.symlink_to(tmp_path / "real.xml")
    assert fetch(to_file.as_uri()).content == FEED


def test_devices_and_sockets_are_refused_by_kind(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"not a regular file: /dev/null \(a character device\)"):
        fetch("file:///dev/null")
    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(path))
        with pytest.raises(FetchError, match=r"not a regular file: .*s\.sock \(a socket\)"):
            fetch(path.as_uri())


def test_a_refresh_with_a_fifo_source_finishes_and_reads_the_others(
    fifo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], env: Path
) -> None:
    good = tmp_path / "good.xml"
    good.write_bytes(FEED)
    config = write_config(
        tmp_path / "config",
        [feed_source("pipe", fifo.as_uri()), feed_source("good", good.as_uri())],
        settings=FAST,
    )
    began = time.monotonic()
    results = refresh(capsys, config)
    assert time.monotonic() - began < 2.5
    assert results["good"]["status"] == "new"
    assert "(a FIFO)" in results["pipe"]["error"]


@pytest.mark.parametrize("url", ["file://", "file://localhost"])
def test_a_file_url_without_a_path_is_refused_by_the_config_check(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], env: Path
) -> None:
    config = write_config(tmp_path / "config", [feed_source("cwd", url)])
    code, _, err = run(capsys, config, "sources", "check")
    assert code == 2
    assert "no path" in err and "file:///path/to/feed.xml" in err


def test_a_file_url_is_percent_decoded_once(tmp_path: Path) -> None:
    (tmp_path / "a%41.xml").write_bytes(b"<rss>the one named</rss>")
    (tmp_path / "aA.xml").write_bytes(b"<rss>decoded twice</rss>")
    url = tmp_path.as_uri() + "/a%2541.xml"
    assert fetch(url).content == b"<rss>the one named</rss>"


def test_a_file_url_with_one_slash_is_the_same_as_with_three(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes(FEED)
    config = write_config(tmp_path / "config", [feed_source("one", f"file:{feed}")])
    (source,) = load_sources(config)
    assert source.url == feed.as_uri()


# 3. a user name and password in a source URL


def basic(login: str) -> str:
    return "Basic " + base64.b64encode(login.encode()).decode()


def test_the_urls_login_is_sent_as_basic_auth_and_after_same_origin_redirects_only(
    http_server: FixtureServer, other_http_server: FixtureServer
) -> None:
    http_server.add("/auth/feed.xml", body=FEED)
    http_server.redirect("/auth/moved", "/auth/feed.xml", status=301)
    http_server.redirect("/auth/absolute", http_server.url("/auth/feed.xml"), status=302)
    http_server.redirect("/auth/away", other_http_server.url("/feed.xml"), status=302)
    other_http_server.add("/feed.xml", body=FEED)

    fetched = fetch(with_login(http_server.url("/auth/feed.xml"), "bob:s%3Acret"))
    assert http_server.requests("/auth/feed.xml")[-1].headers["Authorization"] == basic(
        "bob:s:cret"  # percent-decoded, as curl sends it
    )
    assert fetched.url == http_server.url("/auth/feed.xml")  # no password in what is kept

    moved = fetch(with_login(http_server.url("/auth/moved")))
    assert moved.permanent_redirect == http_server.url("/auth/feed.xml")
    fetch(with_login(http_server.url("/auth/absolute")))
    sent = [r.headers["Authorization"] for r in http_server.requests()]
    assert sent[1:] == [basic("bob:s3cret")] * 4

    fetch(with_login(http_server.url("/auth/away")))
    assert http_server.requests("/auth/away")[0].headers["Authorization"] == basic("bob:s3cret")
    assert other_http_server.requests("/feed.xml")[0].headers["Authorization"] is None


def test_a_source_that_moved_on_its_server_is_fetched_with_the_configured_login(
    http_server: FixtureServer, other_http_server: FixtureServer
) -> None:
    http_server.add("/new.xml", body=FEED)
    other_http_server.add("/new.xml", body=FEED)
    configured = with_login(http_server.url("/old.xml"))
    fetch(http_server.url("/new.xml"), configured=configured)
    assert http_server.requests("/new.xml")[0].headers["Authorization"] == basic("bob:s3cret")
    fetch(other_http_server.url("/new.xml"), configured=configured)
    assert other_http_server.requests("/new.xml")[0].headers["Authorization"] is None


def test_export_gives_a_url_moved_on_its_server_the_configured_login() -> None:
    configured = "http://bob:s3cret@Host:80/old.xml"
    assert with_login_of(configured, "http://host/new.xml") == "http://bob:s3cret@host/new.xml"
    assert with_login_of(configured, "https://host/new.xml") == "https://host/new.xml"
    assert with_login_of(configured, "http://other/new.xml") == "http://other/new.xml"
    assert with_login_of("http://host/old.xml", "http://host/new.xml") == "http://host/new.xml"


def test_the_password_is_never_shown(
    http_server: FixtureServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    env: Path,
    database_url: str,
) -> None:
    http_server.add("/auth/feed.xml", body=FEED)
    http_server.redirect("/auth/moved", "/auth/new.xml", status=301)
    http_server.add("/auth/new.xml", body=FEED.replace(b"europarl.europa.eu/news", b"x.test/n"))
    http_server.redirect("/auth/gone", "/auth/404", status=301)
    sources = [
        feed_source("plain", with_login(http_server.url("/auth/feed.xml"))),
        feed_source("moved", with_login(http_server.url("/auth/moved"))),
        feed_source("broken", with_login(http_server.url("/auth/gone"))),
    ]
    config = write_config(tmp_path / "config", sources, settings=FAST)
    _, out, err = run(capsys, config, "refresh")
    assert "s3cret" not in out + err
    assert http_server.requests("/auth/404")[0].headers["Authorization"] == basic("bob:s3cret")

    code, out, err = run(capsys, config, "sources", "--json")
    assert "s3cret" not in out + err
    shown = {h["id"]: h for h in json.loads(out)["sources"]}
    assert shown["plain"]["url"] == with_login(http_server.url("/auth/feed.xml"), "bob:***")
    assert shown["moved"]["url"] == http_server.url("/auth/new.xml")
    code, out, err = run(capsys, config, "sources")
    assert code == 0 and "s3cret" not in out + err
    assert f"moved permanently to {http_server.url('/auth/new.xml')}" in out

    app = App.open(
        config, {"AGGREGATOR_DATABASE_URL": database_url, "AGGREGATOR_DATA_DIR": str(env / "var")}
    )
    try:
        with serving(create_app(app)) as url, httpx.Client(base_url=url) as client:
            listed = client.get("/api/v1/sources")
    finally:
        app.close()
    assert listed.status_code == 200 and "s3cret" not in listed.text
    by_id = {s["id"]: s for s in listed.json()["sources"]}
    assert by_id["plain"]["url"] == with_login(http_server.url("/auth/feed.xml"), "bob:***")
    assert by_id["plain"]["health"]["url"] == by_id["plain"]["url"]


# 2. a permanent redirect whose new URL fails, while the configured URL serves again


def answer(server: FixtureServer, path: str, **route: Any) -> None:
    """From now on, `path` answers as `route` says (`FixtureServer.add`), not as before."""
    server.clear(path)
    server.add(path, **route)


def moved_source(server: FixtureServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Source "q", configured at /old.xml, moved by a 301 to /new.xml by its first refresh."""
    server.redirect("/old.xml", "/new.xml", status=301)
    server.add("/new.xml", body=FEED, etag='"n1"')
    config = write_config(
        tmp_path / "config", [feed_source("q", server.url("/old.xml"))], settings=FAST
    )
    assert refresh(capsys, config)["q"]["status"] == "new"
    assert health(capsys, config)["q"]["url"] == server.url("/new.xml")
    return config


def test_the_configured_url_is_tried_again_when_the_moved_one_fails(
    http_server: FixtureServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], env: Path
) -> None:
    config = moved_source(http_server, tmp_path, capsys)
    answer(http_server, "/new.xml", status=404)
    answer(http_server, "/old.xml", body=FEED, etag='"o1"')

    result = refresh(capsys, config)["q"]
    assert result["status"] == "unchanged" and result["error"] is None, result
    assert http_server.count("/new.xml") == 2 and http_server.count("/old.xml") == 2
    # No validators of the other URL went with it: the document came whole.
    assert http_server.requests("/old.xml")[-1].headers["If-None-Match"] is None
    state = health(capsys, config)["q"]
    assert state["url"] == http_server.url("/old.xml") and state["last_error"] is None
    _, out, _ = run(capsys, config, "sources")
    assert "moved permanently" not in out

    # The move is forgotten: the next refresh asks the configured URL only.
    assert refresh(capsys, config)["q"]["status"] == "not modified"
    assert http_server.count("/new.xml") == 2 and http_server.count("/old.xml") == 3


def test_when_both_urls_fail_the_error_names_both_and_the_move_stands(
    http_server: FixtureServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], env: Path
) -> None:
    config = moved_source(http_server, tmp_path, capsys)
    answer(http_server, "/new.xml", status=404)
    answer(http_server, "/old.xml", status=410)

    result = refresh(capsys, config)["q"]
    new, old = http_server.url("/new.xml"), http_server.url("/old.xml")
    assert result["error"] == (
        f"fetch failed: HTTP 404 Not Found at {new}, the URL it moved permanently to;"
        f" its configured URL {old} failed too: HTTP 410 Gone"
    )
    state = health(capsys, config)["q"]
    assert state["url"] == new  # the new URL may come back; the 301 was the server's word
    assert moved_note(_health(state), old) is None  # no "update its url" to a dead URL


def test_the_configured_url_redirecting_to_the_dead_one_again_fails_naming_it(
    http_server: FixtureServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], env: Path
) -> None:
    config = moved_source(http_server, tmp_path, capsys)
    answer(http_server, "/new.xml", status=404)
    result = refresh(capsys, config)["q"]
    new, old = http_server.url("/new.xml"), http_server.url("/old.xml")
    assert result["error"].endswith(
        f"failed too: HTTP 404 Not Found at {new} (redirected from {old})"
    )
    assert health(capsys, config)["q"]["url"] == new


def test_a_server_asking_the_moved_url_to_wait_is_not_answered_by_the_configured_one(
    http_server: FixtureServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], env: Path
) -> None:
    config = moved_source(http_server, tmp_path, capsys)
    answer(http_server, "/new.xml", status=429, headers={"Retry-After": "120"})
    assert refresh(capsys, config)["q"]["status"] == "rate limited"
    assert http_server.count("/old.xml") == 1  # the first refresh's only


def _health(record: dict[str, Any]) -> SourceHealth:
    return SourceHealth(
        id=record["id"],
        url=record["url"],
        last_status=record["last_status"],
        last_fetch_at=None,
        last_success_at=None,
        last_error=record["last_error"],
        last_error_kind=record["last_error_kind"],
        failing_since=None,
        consecutive_failures=record["consecutive_failures"],
        next_fetch_at=None,
        item_count=record["items"],
        last_item_count=None,
        ever_yielded=True,
    )


def test_the_moved_note_advises_updating_the_config_only_while_the_new_url_answers() -> None:
    fine = _health(
        {"id": "q", "url": "http://h/new", "last_status": "new", "last_error": None,
         "last_error_kind": None, "consecutive_failures": 0, "items": 1}
    )  # fmt: skip
    assert moved_note(fine, "http://h/old") == (
        "moved permanently to http://h/new (update its url in sources.toml)"
    )
    assert moved_note(fine, "http://h/new") is None
    parse = _health(
        {"id": "q", "url": "http://u:pw@h/new", "last_status": "error",
         "last_error": "parse failed: not a feed", "last_error_kind": "parse",
         "consecutive_failures": 1, "items": 1}
    )  # fmt: skip
    assert moved_note(parse, "http://h/old") == "moved permanently to http://u:***@h/new"


# 4 and 5. `sources add`, `import` and `export` of a source that moved


def test_add_and_import_know_a_source_by_the_url_it_moved_to(
    http_server: FixtureServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], env: Path
) -> None:
    config = moved_source(http_server, tmp_path, capsys)
    before = (config / "sources.toml").read_text()
    for typed in ("/new.xml", "/old.xml"):  # the new URL as typed; the old one found after it
        code, out, _ = run(capsys, config, "sources", "add", http_server.url(typed))
        assert code == 0
        assert "is already configured as 'q'" in out, out
    opml = tmp_path / "in.opml"
    opml.write_text(
        '<opml version="2.0"><body>'
        f'<outline type="rss" text="Q" xmlUrl="{http_server.url("/new.xml")}"/>'
        "</body></opml>"
    )
    code, out, _ = run(capsys, config, "sources", "import", str(opml))
    assert code == 0 and "already configured as 'q'" in out and "0 to add" in out
    assert (config / "sources.toml").read_text() == before


def test_export_writes_the_url_a_moved_source_is_fetched_from(
    http_server: FixtureServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], env: Path
) -> None:
    config = moved_source(http_server, tmp_path, capsys)
    code, out, _ = run(capsys, config, "sources", "export")
    assert code == 0
    urls = [o.get("xmlUrl") for o in ET.fromstring(out).iter("outline") if o.get("xmlUrl")]
    assert urls == [http_server.url("/new.xml")]

    # Once the config names another URL, the move is the old URL's: the config's is written.
    write_config(config, [feed_source("q", http_server.url("/other.xml"))], settings=FAST)
    code, out, _ = run(capsys, config, "sources", "export")
    urls = [o.get("xmlUrl") for o in ET.fromstring(out).iter("outline") if o.get("xmlUrl")]
    assert urls == [http_server.url("/other.xml")]


# 7. a Location of bytes that are not UTF-8


def test_a_latin1_location_is_followed_with_the_servers_own_bytes(
    http_server: FixtureServer,
) -> None:
    # The fixture server writes header values as Latin-1: "é" goes out as the byte E9.
    http_server.redirect("/flux", "/flux/donn\u00e9es.xml", status=301)
    http_server.add("/flux/donn%E9es.xml", body=FEED)
    fetched = fetch(http_server.url("/flux"))
    assert fetched.url == http_server.url("/flux/donn%E9es.xml")
    assert fetched.content == FEED


# 8. an error after a redirect says where


def test_an_error_after_a_redirect_names_the_url_that_answered_it(
    http_server: FixtureServer,
) -> None:
    http_server.redirect("/gone", "/missing", status=301)
    with pytest.raises(FetchError) as caught:
        fetch(http_server.url("/gone"))
    assert caught.value.message == (
        f"HTTP 404 Not Found at {http_server.url('/missing')}"
        f" (redirected from {http_server.url('/gone')})"
    )
    http_server.add("/here", status=404)
    with pytest.raises(FetchError) as caught:
        fetch(http_server.url("/here"))
    assert caught.value.message == "HTTP 404 Not Found"  # no redirect: nothing to add
