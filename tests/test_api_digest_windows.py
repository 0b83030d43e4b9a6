"""Empty windows through the API: a window with nothing new is recorded (the next one starts at
its end), but the page and `latest` show the latest digest as emailed, the digest feeds leave
empty windows out, and the digest list says of each digest whether it was emailed and whether
it is empty. Real uvicorn, real SMTP server (aiosmtpd), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from aggregator.api import create_app
from aggregator.api.digest_json import digest_from_json
from aggregator.app import App
from aggregator.deliver.render import render_html
from aggregator.models import CacheValidators, Item
from aggregator.store import digests as store_digests
from aggregator.store.clusters import assign_clusters
from tests.support_api import (
    NOW,
    SOURCES,
    STORIES,
    T0,
    Story,
    item_of,
    postgres_schema,
    save,
    serving,
)
from tests.support_config import write_config
from tests.support_smtp import SmtpServer, free_port

SMTP = """
[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
sender = "Digest <digest@aggregator.example>"
timeout = 5.0
"""
PROFILES = """
[digest.profiles.daily]
recipients = ["team@example.org"]

[digest.profiles.heartbeat]
recipients = ["team@example.org"]
send_empty = true

[digest.profiles.web]
"""
DAY = timedelta(days=1)
Serve = Callable[[App], httpx.Client]
REF = "2022/0155(COD)"
PROCEDURE = {
    "id": "proc-csar",
    "name": f"Procedure {REF}: CSA Regulation",
    "url": "https://data.europarl.example/api/v2/procedures/2022-0155",
    "kind": "ep-procedure",
    "org": "parliament",
    "language": "en",
    "reference": REF,
}


@dataclass(slots=True)
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


def open_app(
    tmp_path: Path,
    database_url: str,
    *,
    settings: str,
    clock: Clock,
    sources: Sequence[Mapping[str, Any]] = SOURCES,
) -> App:
    config = write_config(tmp_path / "config", sources, settings=settings)
    env = {"AGGREGATOR_DATABASE_URL": database_url, "AGGREGATOR_DATA_DIR": str(tmp_path / "var")}
    return App.open(config, env, clock=clock)


def store_stories(app: App) -> None:
    """The API tests' stories, stored and folded into clusters as `seeded_app` does."""
    for story in STORIES:
        save(app, [story], now=T0 + timedelta(minutes=story.minutes))
    ids = [i.id for i in app.store.iter_items()]
    with app.store.engine.begin() as conn:
        assign_clusters(conn, ids, now=NOW)


def run_all(app: App, profiles: tuple[str, ...]) -> None:
    for profile in profiles:
        run = app.run_digest(profile, send=True, write_files=False)
        assert run.recorded and run.taken is None


@pytest.fixture()
def http_of() -> Iterator[Serve]:
    """Serve an app (once its digests are recorded) and hand back a client of it."""
    with ExitStack() as stack:

        def start(app: App) -> httpx.Client:
            url = stack.enter_context(serving(create_app(app)))
            return stack.enter_context(httpx.Client(base_url=url, timeout=10))

        yield start


def get_json(http: httpx.Client, path: str, **params: Any) -> Any:
    response = http.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def states(http: httpx.Client, profile: str) -> list[tuple[str, bool]]:
    listed = get_json(http, "/api/v1/digests", profile=profile)["digests"]
    return [(d["email"], d["empty"]) for d in listed]


def feed_ids(http: httpx.Client, **params: Any) -> list[str]:
    atom = http.get("/feeds/digest.atom", params=params)
    assert atom.status_code == 200
    document = get_json(http, "/feeds/digest.json", **params)
    ids = [item["id"] for item in document["items"]]
    assert atom.text.count("<entry>") == len(ids)
    for entry_id in ids:
        assert entry_id in atom.text
    return ids


PROFILE_NAMES = ("daily", "heartbeat", "web")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def recorded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[App, httpx.Client]]:
    """Three profiles, each with a digest with news and then two empty windows, served.
    daily mails news only, heartbeat mails empty digests too (send_empty), web has no
    recipients. One store per backend, for the tests that only read."""
    tmp = tmp_path_factory.mktemp("windows")
    with ExitStack() as stack:
        if request.param == "sqlite":
            database_url = f"sqlite:///{tmp / 'aggregator.sqlite'}"
        else:
            server = str(request.getfixturevalue("postgres_server_url"))
            database_url = stack.enter_context(postgres_schema(server))
        clock = Clock(NOW)
        with SmtpServer() as smtp:
            settings = SMTP.format(port=smtp.port) + PROFILES
            app = open_app(tmp, database_url, settings=settings, clock=clock)
            stack.callback(app.close)
            store_stories(app)
            run_all(app, PROFILE_NAMES)  # news: every profile records a digest with entries
            for _ in range(2):  # then two windows with nothing new
                clock.now += DAY
                run_all(app, PROFILE_NAMES)
            # daily: one email; heartbeat (send_empty): three; web: no recipients, none.
            assert len(smtp.accepted) == 4
        url = stack.enter_context(serving(create_app(app)))
        yield app, stack.enter_context(httpx.Client(base_url=url, timeout=10))


@pytest.fixture()
def windows(recorded: tuple[App, httpx.Client]) -> httpx.Client:
    return recorded[1]


def test_every_window_is_recorded_and_says_if_it_was_emailed_and_if_it_is_empty(
    windows: httpx.Client,
) -> None:
    # Newest first: (email, empty).
    assert states(windows, "daily") == [("none", True), ("none", True), ("sent", False)]
    assert states(windows, "heartbeat") == [("sent", True), ("sent", True), ("sent", False)]
    assert states(windows, "web") == [("none", True), ("none", True), ("none", False)]
    listed = get_json(windows, "/api/v1/digests")["digests"]
    assert len(listed) == 9 and all({"email", "empty"} <= d.keys() for d in listed)
    latest = get_json(windows, "/api/v1/digests/latest", profile="daily")
    assert (latest["email"], latest["empty"]) == ("sent", False)
    assert get_json(windows, f"/api/v1/digests/{latest['id']}") == latest


@pytest.mark.parametrize("profile", ["daily", "web"])
def test_the_page_and_latest_pass_over_empty_windows_nobody_was_sent(
    windows: httpx.Client, profile: str
) -> None:
    listed = get_json(windows, "/api/v1/digests", profile=profile)["digests"]
    assert len(listed) == 3  # the window bookkeeping is kept: every window recorded
    latest = get_json(windows, "/api/v1/digests/latest", profile=profile)
    assert latest["id"] == listed[-1]["id"]  # the one with news, not the empty ones
    assert latest["body"]["counts"]["entries"] == 4
    page = windows.get("/", params={"profile": profile})
    assert page.status_code == 200
    assert page.text == render_html(digest_from_json(latest["body"]))
    assert "Joint statement on chat control" in page.text
    assert "Nothing new in this window" not in page.text
    text = windows.get("/api/v1/digests/latest/text", params={"profile": profile})
    assert "Joint statement on chat control" in text.text


def test_the_page_of_a_profile_that_mails_empty_digests_is_its_latest_email(
    windows: httpx.Client,
) -> None:
    heartbeat = get_json(windows, "/api/v1/digests", profile="heartbeat")["digests"]
    latest = get_json(windows, "/api/v1/digests/latest", profile="heartbeat")
    assert latest["id"] == heartbeat[0]["id"]
    assert latest["body"]["counts"]["entries"] == 0
    page = windows.get("/", params={"profile": "heartbeat"})
    assert "Nothing new in this window" in page.text


def test_the_digest_feeds_leave_out_empty_windows(windows: httpx.Client) -> None:
    for profile in PROFILE_NAMES:  # emailed (heartbeat) or not
        listed = get_json(windows, "/api/v1/digests", profile=profile)["digests"]
        (entry,) = feed_ids(windows, profile=profile)
        end = listed[-1]["window_end"].replace("+00:00", "Z")
        assert entry == f"urn:aggregator:digest:{profile}:{end}"
    assert len(feed_ids(windows)) == 3  # one per profile


def test_the_store_looks_back_page_by_page(
    recorded: tuple[App, httpx.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past a page of empty windows: what the page and feeds find is the same with one row
    read at a time (the keyset paging over window end and id, on both databases)."""
    app, http = recorded
    listed = {
        profile: [d["id"] for d in get_json(http, "/api/v1/digests", profile=profile)["digests"]]
        for profile in PROFILE_NAMES
    }
    newest_first = sorted((i for ids in listed.values() for i in ids), reverse=True)
    news = sorted((ids[-1] for ids in listed.values()), reverse=True)
    for page in (1, 2, 100):
        monkeypatch.setattr(store_digests, "_SCAN_PAGE", page)
        with app.store.engine.connect() as conn:
            for profile in ("daily", "web"):
                assert store_digests.latest_shown_digest_id(conn, profile) == listed[profile][-1]
            for name in ("heartbeat", None):  # of any profile too: the latest email
                assert store_digests.latest_shown_digest_id(conn, name) == listed["heartbeat"][0]
            assert store_digests.digest_ids_with_news(conn, None, limit=20) == news
            assert store_digests.digest_ids_with_news(conn, None, limit=2) == news[:2]
            states = store_digests.digest_states(conn, newest_first)
            assert sorted(i for i, state in states.items() if not state.empty) == sorted(news)


def test_an_email_that_could_not_be_sent_is_pending(
    tmp_path: Path, database_url: str, http_of: Serve
) -> None:
    clock = Clock(NOW)
    nobody_listens = SMTP.format(port=free_port())
    app = open_app(tmp_path, database_url, settings=nobody_listens + PROFILES, clock=clock)
    try:
        store_stories(app)
        run = app.run_digest("daily", send=True, write_files=False)
        assert [d.status for d in run.deliveries] == ["failed"]
        http = http_of(app)
        assert states(http, "daily") == [("pending", False)]
        assert get_json(http, "/api/v1/digests/latest", profile="daily")["email"] == "pending"
    finally:
        app.close()


def test_only_empty_windows_so_far(tmp_path: Path, database_url: str, http_of: Serve) -> None:
    app = open_app(tmp_path, database_url, settings=PROFILES, clock=Clock(NOW))
    try:
        run_all(app, ("web",))  # nothing stored: an empty window
        http = http_of(app)
        response = http.get("/api/v1/digests/latest", params={"profile": "web"})
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        page = http.get("/", params={"profile": "web"})
        assert page.status_code == 200
        assert "Nothing new yet: every digest recorded for profile web had an empty window" in (
            page.text
        )
        assert feed_ids(http, profile="web") == []
        assert states(http, "web") == [("none", True)]
    finally:
        app.close()


def procedure_event(what: str, day: str) -> Item:
    story = Story(
        source_id="proc-csar",
        identity=f"{REF}:{day}",
        title=f"{REF} — {what}",
        text=what,
        tags=(f"procedure:{REF}", "stage:1st-reading"),
        minutes=0,
    )
    return item_of(story)


def test_a_window_with_only_a_procedure_event_has_news(
    tmp_path: Path, database_url: str, http_of: Serve
) -> None:
    clock = Clock(NOW)
    app = open_app(
        tmp_path, database_url, settings=PROFILES, clock=clock, sources=[*SOURCES, PROCEDURE]
    )
    try:
        store_stories(app)
        run_all(app, ("web",))
        clock.now += DAY
        app.store.save_refresh(
            "proc-csar",
            [procedure_event("committee adopted its report", "2025-03-04")],
            now=clock.now - timedelta(hours=1),
            seconds=0.2,
            validators=CacheValidators(),
            url=PROCEDURE["url"],
            permanent_url=None,
            next_fetch_at=clock.now + timedelta(hours=1),
            seen=1,
        )
        run_all(app, ("web",))  # no entries: only the procedure's event
        clock.now += DAY
        run_all(app, ("web",))  # nothing at all
        http = http_of(app)
        listed = get_json(http, "/api/v1/digests", profile="web")["digests"]
        latest = get_json(http, "/api/v1/digests/latest", profile="web")
        assert latest["id"] == listed[1]["id"]
        assert latest["entry_count"] == 0
        (procedure,) = latest["body"]["procedures"]
        assert [e["event"] for e in procedure["events"]] == ["committee adopted its report"]
        # The page is the email's HTML, the Procedures section included.
        page = http.get("/", params={"profile": "web"})
        assert page.text == render_html(digest_from_json(latest["body"]))
        assert "committee adopted its report" in page.text
        assert "Nothing new in this window" not in page.text
        assert len(feed_ids(http, profile="web")) == 2
        body = json.loads(http.get(f"/api/v1/digests/{listed[0]['id']}").text)["body"]
        assert body["counts"]["entries"] == 0 and not body["procedures"][0]["events"]
        assert states(http, "web") == [("none", True), ("none", False), ("none", False)]
    finally:
        app.close()
