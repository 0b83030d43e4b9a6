"""`make demo`: the recorded fixtures are served locally, refreshed, and become one digest
whose HTML, text and .eml exist, whose groups follow the shipped topic tags, and whose
entries fold the statements the fixtures publish more than once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import select

from aggregator.app import App
from aggregator.store.clusters import assign_clusters
from aggregator.store.engine import create_store_engine
from aggregator.store.schema import items
from demo.run import RECIPIENT, SOURCES, DemoOutput, run_demo
from demo.server import FixtureSite, render_dates

# The overlaps demo/fixtures/README.md promises, as sets of source ids.
EXPECTED_FOLDS = {
    frozenset({"ecpat", "iwf", "mce"}),  # the joint child-rights statement
    frozenset({"edri", "netzpolitik"}),  # the open letter, documented in full
    frozenset({"council-press", "euractiv"}),  # the Council release and its PR-wire copy
    frozenset({"ep-press", "mce"}),  # MCE's feed links to the Parliament's release
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoOutput]:
    out = tmp_path_factory.mktemp("demo-out")
    stale = out / "demo" / "data" / "outbox" / "stale.eml"  # from an earlier run
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    yield run_demo(out, show_table=False)


def test_every_source_refreshes_and_the_outputs_exist(demo: DemoOutput) -> None:
    assert {r.source_id for r in demo.results} == {s.id for s in SOURCES}
    assert all(r.ok and r.new > 0 for r in demo.results), demo.results
    for path in (demo.html, demo.text, demo.eml):
        assert path.is_file() and path.stat().st_size > 0
    # The demo folder is recreated: one .eml, none left from an earlier run.
    assert [p.name for p in demo.eml.parent.iterdir()] == [demo.eml.name]
    html = demo.html.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "Joint statement" in html


def test_the_email_is_one_multipart_alternative_message_to_the_demo_recipient(
    demo: DemoOutput,
) -> None:
    message = BytesParser(policy=policy.default).parsebytes(demo.eml.read_bytes())
    assert message.get_content_type() == "multipart/alternative"
    assert message["To"] == RECIPIENT
    assert message["Subject"].startswith("[aggregator demo]")
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]


def test_items_are_dated_within_the_last_days_whenever_the_demo_runs(demo: DemoOutput) -> None:
    published = [e.published for e in demo.run.digest.entries]
    assert all(
        timedelta(0) < demo.run.digest.generated_at - p < timedelta(days=6) for p in published
    )
    now = datetime(2030, 1, 10, 12, tzinfo=UTC)
    assert render_dates("{{ago:26h:iso}} {{ago:2d:human}}", now) == (
        "2030-01-09T10:00:00+00:00 8 January 2030"
    )


def test_groups_follow_the_shipped_topic_order(demo: DemoOutput) -> None:
    settings_dir = demo.html.parents[3] / "config"
    with App.open(settings_dir, {}) as app:
        order = app.settings.digest.topic_order
    tags = [g.tag for g in demo.run.digest.groups if g.tag is not None]
    assert {"csar", "csa-directive", "ai-csam", "age-verification"} <= set(tags)
    ranked = [t for t in order if t in tags]
    assert tags[: len(ranked)] == ranked
    others = [i for i, g in enumerate(demo.run.digest.groups) if g.tag is None]
    assert others in ([], [len(demo.run.digest.groups) - 1]), "'Other' comes last"


def test_the_fixtures_overlap_as_documented_by_the_real_dedupe(demo: DemoOutput) -> None:
    """Guards the fixtures themselves: the store's clustering finds exactly the overlaps the
    README promises (and keeps the Commission's EN and FR releases apart)."""
    engine = create_store_engine(f"sqlite:///{demo.eml.parents[1] / 'aggregator.sqlite'}")
    try:
        with engine.begin() as conn:
            rows = conn.execute(select(items.c.id, items.c.source_id)).all()
            source_of = {item_id: source_id for item_id, source_id in rows}
            changes = assign_clusters(
                conn, list(source_of), now=datetime.now(UTC), window=timedelta(days=30)
            )
    finally:
        engine.dispose()
    members: dict[int, set[str]] = {}
    for item_id, cluster_id in changes.assigned.items():
        members.setdefault(cluster_id, set()).add(source_of[item_id])
    folds = {frozenset(s) for s in members.values() if len(s) > 1}
    assert folds == EXPECTED_FOLDS


def test_the_digest_folds_the_overlapping_statements(demo: DemoOutput) -> None:
    folded = {
        frozenset({e.source.source_id, *(o.source_id for o in e.others)})
        for e in demo.run.digest.entries
        if e.others
    }
    assert folded == EXPECTED_FOLDS
    item_count = sum(r.new for r in demo.results)
    assert demo.run.digest.entry_count == item_count - sum(len(f) - 1 for f in EXPECTED_FOLDS)


def test_the_fixture_site_serves_only_fixtures() -> None:
    import httpx

    with FixtureSite() as site:
        assert httpx.get(site.url("edri.rss.xml")).status_code == 200
        assert "{{ago" not in httpx.get(site.url("ecpat.json")).text
        assert httpx.get(site.url("README.md")).status_code == 404
        assert httpx.get(site.url("../run.py")).status_code == 404
