"""The procedure rule inside the store, through a real `aggregator refresh` on SQLite and
PostgreSQL: a procedure's events stay apart although they share their link and title, and
the Parliament's release on the plenary vote folds with that day's event."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from aggregator.cli import main
from aggregator.dedupe.pairs import unpack
from aggregator.dedupe.signatures import PROCEDURE_BAND
from aggregator.store.engine import create_store_engine
from aggregator.store.schema import items
from tests.support_config import write_config
from tests.support_schedule import Post, rss

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

DATA = Path(__file__).parent / "data" / "procedure"
REF = "2022/0155(COD)"
API_PATH = "/api/v2/procedures/2022-0155"
PLENARY_TITLE = f"{REF} — Parliament adopted its decision in plenary"
VOTE_DAY = datetime(2026, 11, 19, 11, 30, tzinfo=UTC)
RELEASE = Post(
    guid="ep-press-20261119",
    title="Child sexual abuse online: Parliament adopts its position on new rules",
    link="https://www.europarl.europa.eu/news/en/press-room/20261119IPR00001",
    # No word in common with the event beyond the reference: only the rule can fold them.
    text=(
        "MEPs adopted on Thursday the text agreed with the Council on the regulation to "
        "prevent and combat child sexual abuse (2022/0155(COD)), with 478 votes in favour, "
        "120 against and 34 abstentions. The rapporteur welcomed a result that protects "
        "encrypted communications while giving victims a faster way to have material removed."
    ),
    published=VOTE_DAY,
)
# The same day and reference, but a reaction, not an official release: its own statement.
REACTION = Post(
    guid="ngo-20261119",
    title="Our reaction to today's plenary vote on the CSA Regulation",
    link="https://ngo.example.org/reaction-plenary-vote",
    text=(
        "The plenary vote on 2022/0155(COD) today is a missed opportunity: the text still "
        "allows detection orders on services that are not end-to-end encrypted."
    ),
    published=VOTE_DAY,
)
# The Parliament on the reference another day: no event that day, nothing to fold with.
EARLIER = Post(
    guid="ep-press-20261105",
    title="Committee backs deal on child sexual abuse rules",
    link="https://www.europarl.europa.eu/news/en/press-room/20261105IPR00002",
    text=(
        "The Civil Liberties Committee endorsed the deal on file 2022/0155(COD) reached with the "
        "Council, by 51 votes to 12, with 3 abstentions. The plenary vote follows next month."
    ),
    published=datetime(2026, 11, 5, 9, 0, tzinfo=UTC),
)


@pytest.fixture()
def config(
    http_server: FixtureServer,
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AGGREGATOR_DATABASE_URL", database_url)
    monkeypatch.delenv("AGGREGATOR_CONFIG", raising=False)
    http_server.add(
        API_PATH,
        body=(DATA / "odp-procedure_2022-0155_v2.json").read_bytes(),
        content_type="application/ld+json",
    )
    http_server.add("/ep-press.xml", body=rss("EP press", [RELEASE, EARLIER]))
    http_server.add("/ngo.xml", body=rss("NGO", [REACTION]))
    sources = [
        {
            "id": "proc-csar",
            "name": f"Procedure {REF}",
            "url": http_server.url(API_PATH) + "?format=application%2Fld%2Bjson",
            "kind": "ep-procedure",
            "org": "parliament",
            "language": "en",
            "reference": REF,
        },
        {
            "id": "ep-press",
            "name": "EP press",
            "url": http_server.url("/ep-press.xml"),
            "kind": "feed",
            "org": "parliament",
        },
        {
            "id": "ngo",
            "name": "NGO",
            "url": http_server.url("/ngo.xml"),
            "kind": "feed",
            "org": "ngo",
        },
    ]
    return write_config(tmp_path / "config", sources)


def exported(capsys: pytest.CaptureFixture[str], config: Path) -> list[dict[str, Any]]:
    assert main(["--config", str(config), "export", "--format", "jsonl"]) == 0
    out, _ = capsys.readouterr()
    return [json.loads(line) for line in out.splitlines()]


def test_events_stay_apart_and_the_vote_release_folds_with_its_event(
    config: Path, capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    assert main(["--config", str(config), "refresh"]) == 0
    capsys.readouterr()
    rows = exported(capsys, config)
    events = [row for row in rows if row["source"] == "proc-csar"]
    by_title = {row["title"]: row for row in rows}

    # Six events, each its own item and its own cluster, although they share the
    # Legislative Observatory link and the procedure's title.
    assert len(events) == 6
    assert len({row["url"] for row in events}) == 1
    assert len({row["cluster_id"] for row in events}) == 6

    plenary = by_title[PLENARY_TITLE]
    assert by_title[RELEASE.title]["cluster_id"] == plenary["cluster_id"]
    members = [row["title"] for row in rows if row["cluster_id"] == plenary["cluster_id"]]
    assert sorted(members) == sorted([PLENARY_TITLE, RELEASE.title])
    # A reaction the same day and the Parliament's release on another day stay on their own.
    others = {row["cluster_id"] for row in events}
    for post in (REACTION, EARLIER):
        assert by_title[post.title]["cluster_id"] not in others

    # The rule's keys are stored as candidate-index pairs of their reserved band.
    engine = create_store_engine(database_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(select(items.c.title, items.c.buckets)).all()
    finally:
        engine.dispose()
    buckets = {
        title: bucket
        for title, packed in stored
        for band, bucket in unpack(packed)
        if band == PROCEDURE_BAND
    }
    assert buckets[PLENARY_TITLE] == buckets[RELEASE.title]
    assert buckets[EARLIER.title] != buckets[PLENARY_TITLE]

    # A second refresh (nothing new) leaves every cluster as it was.
    assert main(["--config", str(config), "refresh"]) == 0
    capsys.readouterr()
    again = exported(capsys, config)
    assert {r["id"]: r["cluster_id"] for r in again} == {r["id"]: r["cluster_id"] for r in rows}
