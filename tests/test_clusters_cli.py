"""`aggregator clusters` and `aggregator replay` through aggregator.cli.main, after a real
refresh against the test server, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select, update

from aggregator.cli import main
from aggregator.store.engine import create_store_engine
from aggregator.store.schema import clusters, items
from tests.support_config import write_config
from tests.support_schedule import Post, feed_source, rss

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

STATEMENT = (
    "We, the undersigned organisations working to protect children, call on the European "
    "Parliament, the Council and the Commission to conclude the negotiations on the CSA "
    "Regulation before the end of the year. Every day of delay leaves survivors without a way "
    "to have images of their abuse removed, and leaves companies without a clear legal basis "
    "to find and report abuse on their services."
)
TITLE = "Joint statement: agree the CSA Regulation now"
OTHER_TITLE = "Annual report on hotline cooperation published"


@pytest.fixture()
def config(
    http_server: FixtureServer, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Path:
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AGGREGATOR_DATABASE_URL", database_url)
    monkeypatch.delenv("AGGREGATOR_CONFIG", raising=False)
    now = datetime.now(UTC)
    intros = {
        "ngo-a": "NGO A signed this statement today.",
        "council": "The Council received this letter.",
        "ngo-b": "NGO B and its members support this call.",
    }
    sources = []
    for hours, (name, intro) in enumerate(intros.items(), start=3):
        post = Post(
            guid=f"https://{name}.example/joint",
            title=TITLE,
            link=f"https://{name}.example/joint",
            text=f"{intro} {STATEMENT}",
            published=now - timedelta(hours=hours),
        )
        http_server.add(f"/{name}.xml", body=rss(name, [post]))
        org = "institution" if name == "council" else "ngo"
        sources.append(feed_source(name, http_server.url(f"/{name}.xml"), org=org))
    other = Post(
        guid="other-1",
        title=OTHER_TITLE,
        link="https://press.example/hotlines",
        text="Hotlines in 50 countries exchanged more reports than ever before this year.",
        published=now - timedelta(hours=1),
    )
    http_server.add("/press.xml", body=rss("Press", [other]))
    sources.append(feed_source("press", http_server.url("/press.xml"), org="press"))
    folder = write_config(tmp_path / "config", sources)
    assert main(["--config", str(folder), "refresh"]) == 0
    return folder


def run(capsys: pytest.CaptureFixture[str], config: Path, *argv: str, code: int = 0) -> str:
    got = main(["--config", str(config), *argv])
    out, err = capsys.readouterr()
    assert got == code, out + err
    return out


def test_clusters_lists_the_folded_statement_with_its_members(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    listed: list[dict[str, Any]] = json.loads(run(capsys, config, "clusters", "--json"))
    assert len(listed) == 1  # min-size 2 by default: the lone report is not listed
    (cluster,) = listed
    assert cluster["size"] == 3
    members = cluster["members"]
    assert members[0]["source_id"] == "council"  # the institution is primary
    assert members[0]["primary"] and not any(m["primary"] for m in members[1:])
    assert sorted(m["source_id"] for m in members) == ["council", "ngo-a", "ngo-b"]
    assert {m["title"] for m in members} == {TITLE}

    everything = json.loads(run(capsys, config, "clusters", "--json", "--min-size", "1"))
    assert sorted(c["size"] for c in everything) == [1, 3]

    text = run(capsys, config, "clusters")
    assert f"cluster {cluster['id']} (3 items" in text
    assert text.count(TITLE) == 3 and OTHER_TITLE not in text
    assert "* " in text  # the primary is starred

    future = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert run(capsys, config, "clusters", "--since", future).strip() == "no clusters"
    assert "cluster" in run(capsys, config, "clusters", "--since", "1d")
    run(capsys, config, "clusters", "--since", "yesterday", code=2)


def test_replay_reports_what_would_change_and_writes_nothing(
    config: Path, capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    capsys.readouterr()
    assert "0 merges, 0 splits" in run(capsys, config, "replay")

    # Pull one copy out of its cluster by hand, as an older threshold would have left it.
    engine = create_store_engine(database_url)
    try:
        with engine.begin() as conn:
            item_id, old = conn.execute(
                select(items.c.id, items.c.cluster_id).where(items.c.source_id == "ngo-b")
            ).one()
            moved = conn.execute(
                clusters.insert()
                .values(
                    primary_item_id=item_id, size=1, created_at=func.now(), updated_at=func.now()
                )
                .returning(clusters.c.id)
            ).scalar_one()
            conn.execute(update(items).where(items.c.id == item_id).values(cluster_id=moved))
        before = _assignment(engine)

        out = run(capsys, config, "replay", "--window-days", "30")
        assert "1 merges, 0 splits" in out
        assert f"merge clusters {min(old, moved)}, {max(old, moved)}" in out
        assert _assignment(engine) == before  # nothing written
        assert "merge clusters" in run(capsys, config, "replay", "--since", "1d")
        future = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
        assert "replayed 0 items: 0 merges" in run(capsys, config, "replay", "--since", future)
        run(capsys, config, "replay", "--window-days", "0", code=2)
    finally:
        engine.dispose()


def _assignment(engine: Any) -> dict[int, int]:
    with engine.connect() as conn:
        return {
            int(r.id): int(r.cluster_id)
            for r in conn.execute(select(items.c.id, items.c.cluster_id))
        }
