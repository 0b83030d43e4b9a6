"""assign_clusters on real SQLite and PostgreSQL: merges, the window, restarts, replay."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update

from aggregator.dedupe import DedupeItem, Thresholds
from aggregator.dedupe.labelled import load_labelled
from aggregator.dedupe.pairs import unpack
from aggregator.dedupe.replay import compare
from aggregator.models import OrgKind
from aggregator.store.clusters import (
    assign_clusters,
    list_clusters,
    stored_clusters,
    stored_items,
)
from aggregator.store.engine import create_store_engine
from aggregator.store.schema import clusters, items, metadata
from tests.support_dedupe import add_sources, cluster_ids, store_items

T0 = datetime(2024, 2, 15, 12, tzinfo=UTC)
WINDOW = timedelta(days=30)

P1 = (
    "The Council presidency and European Parliament negotiators today reached a provisional "
    "agreement on extending the interim regulation on the voluntary detection of child sexual "
    "abuse online until April 2026."
)
P2 = (
    "The agreed text requires the Commission to report on the proportionality of voluntary "
    "detection and on the data collected by providers, including error rates."
)
P3 = (
    "The provisional agreement must now be endorsed by the Council and the Parliament before "
    "it can be formally adopted and published in the Official Journal."
)
P4 = (
    "Background: on 11 May 2022 the Commission presented a proposal for a permanent regulation "
    "to prevent and combat child sexual abuse, which is still under negotiation."
)
TITLE = "Child sexual abuse online: Council and Parliament strike deal to extend interim rules"
SOURCES = {"council": "institution", "wire": "press", "digest": "press", "edri": "ngo"}


def item(key: str, source: str, text: str, *, at: datetime = T0) -> DedupeItem:
    return DedupeItem(
        key=key,
        source_id=source,
        org=OrgKind(SOURCES[source]),
        title=TITLE,
        text=text,
        canonical_url=f"https://{source}.example.org/{key}",
        published=at,
        first_seen=at,
    )


@pytest.fixture()
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_store_engine(database_url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        add_sources(conn, SOURCES)
    yield engine
    engine.dispose()


def test_a_bridging_item_merges_two_clusters_and_the_institution_is_primary(
    engine: Engine,
) -> None:
    with engine.begin() as conn:
        ids = store_items(
            conn,
            [item("head", "wire", f"{P1} {P2}"), item("tail", "digest", f"{P3} {P4}")],
            now=T0,
        )
        changes = assign_clusters(conn, ids, now=T0, window=WINDOW)
    assert changes.merges == ()
    assert len(set(changes.assigned.values())) == 2

    later = T0 + timedelta(hours=3)
    with engine.begin() as conn:
        (full,) = store_items(
            conn, [item("full", "council", f"{P1} {P2} {P3} {P4}", at=later)], now=later
        )
        changes = assign_clusters(conn, [full], now=later, window=WINDOW)
    (merge,) = changes.merges
    assert merge.by == full and len(merge.absorbed) == 2  # full's own cluster and one other
    with engine.connect() as conn:
        assert len(set(cluster_ids(conn).values())) == 1
        (row,) = conn.execute(select(clusters)).all()
        assert row.size == 3
        assert row.primary_item_id == full  # official first, although published last
        assert row.updated_at is not None


def test_one_page_linked_as_http_and_https_by_two_sources_is_one_story(engine: Engine) -> None:
    # EDRi links its statement over https; an outlet copies the link with http and "www.",
    # and words its teaser itself: the link is all the two share.
    statement = replace(
        item("statement", "edri", f"{P1} {P2} {P3}"),
        canonical_url="https://edri.example.org/joint-statement",
    )
    teaser = replace(
        item("teaser", "wire", P4),
        title="Digital rights groups react",
        canonical_url="http://www.edri.example.org/joint-statement",
    )
    again = replace(
        item("again", "digest", "A short note of our own on the deal of the day."),
        title="Read: the statement",
        canonical_url="http://edri.example.org/joint-statement",
    )
    with engine.begin() as conn:  # one call: the batch finds its own items
        ids = store_items(conn, [statement, teaser], now=T0)
        assign_clusters(conn, ids, now=T0, window=WINDOW)
    later = T0 + timedelta(hours=1)
    with engine.begin() as conn:  # another call: the stored link is looked up
        (later_id,) = store_items(
            conn, [replace(again, published=later, first_seen=later)], now=later
        )
        assign_clusters(conn, [later_id], now=later, window=WINDOW)
        assert len(set(cluster_ids(conn).values())) == 1


def test_an_item_whose_text_no_longer_matches_leaves_its_cluster(engine: Engine) -> None:
    # A teaser of the statement joins it; its next version is the outlet's own reporting.
    with engine.begin() as conn:
        ids = store_items(
            conn,
            [
                item("statement", "council", f"{P1} {P2} {P3} {P4}"),
                item("copy", "edri", f"{P1} {P2} {P3}"),
                item("teaser", "wire", f"{P1} {P2}"),
            ],
            now=T0,
        )
        assign_clusters(conn, ids, now=T0, window=WINDOW)
        (cluster,) = set(cluster_ids(conn).values())
    teaser = ids[2]
    own_report = (
        "Our correspondent spent a week with hotline analysts in Dublin, who describe a sharp "
        "rise in reports of generated imagery and a backlog that grows every month."
    )
    later = T0 + timedelta(hours=2)
    with engine.begin() as conn:
        conn.execute(update(items).where(items.c.id == teaser).values(text=own_report))
        assign_clusters(conn, [teaser], now=later, window=WINDOW)
        after = cluster_ids(conn)  # by identity
        assert after["statement"] == after["copy"] == cluster  # the cluster keeps its id
        assert after["teaser"] != cluster
        row = conn.execute(select(clusters).where(clusters.c.id == cluster)).one()
        assert row.size == 2 and row.primary_item_id == ids[0]
        # Still as it was: a second call moves nothing.
        assert assign_clusters(conn, ids, now=later, window=WINDOW).merges == ()
        assert cluster_ids(conn) == after


def test_clusters_survive_a_restart_and_a_second_call_changes_nothing(database_url: str) -> None:
    engine = create_store_engine(database_url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        add_sources(conn, SOURCES)
        ids = store_items(
            conn,
            [item("a", "council", f"{P1} {P2} {P3}"), item("b", "edri", f"{P1} {P2} {P3} {P4}")],
            now=T0,
        )
        first = assign_clusters(conn, ids, now=T0, window=WINDOW)
        numbered = dict(conn.execute(select(items.c.id, items.c.dedupe_seq)).all())
    engine.dispose()

    engine = create_store_engine(database_url)  # a new process, as far as the store knows
    with engine.begin() as conn:
        again = assign_clusters(conn, ids, now=T0 + timedelta(hours=1), window=WINDOW)
        renumbered = dict(conn.execute(select(items.c.id, items.c.dedupe_seq)).all())
        buckets = [unpack(b) for (b,) in conn.execute(select(items.c.buckets))]
        signatures = conn.execute(select(items.c.signature, items.c.text_hash)).all()
        views = list_clusters(conn)
    engine.dispose()
    assert len(first.merges) == 1 and again.merges == ()
    assert again.assigned == first.assigned and len(set(first.assigned.values())) == 1
    assert all(sig is not None and len(sig) == 96 * 4 and h for sig, h in signatures)
    assert all(len(pairs) >= 32 for pairs in buckets)  # an item's LSH bands, stored with it
    # The second call found the fingerprints as stored: nothing rewritten, nothing renumbered.
    assert renumbered == numbered and sorted(numbered.values()) == [1, 2]
    (view,) = views
    assert [m.source_id for m in view.members] == ["council", "edri"]
    assert view.members[0].primary


def test_the_window_bounds_candidates(engine: Engine) -> None:
    text = f"{P1} {P2} {P3}"
    late = T0 + timedelta(days=45)
    with engine.begin() as conn:
        (old,) = store_items(conn, [item("old", "council", text)], now=T0)
        assign_clusters(conn, [old], now=T0, window=WINDOW)
    with engine.begin() as conn:
        (new,) = store_items(conn, [item("new", "wire", text, at=late)], now=late)
        changes = assign_clusters(conn, [new], now=late, window=WINDOW)
        assert changes.merges == ()
        wider = assign_clusters(conn, [new], now=late, window=timedelta(days=60))
    assert len(wider.merges) == 1


def test_the_labelled_set_clusters_in_the_store_as_in_memory(engine: Engine) -> None:
    """The SQL index and the in-memory one give the same partition, batch by batch."""
    labelled = [x for x in load_labelled() if x.gold.startswith(("council_alignment", "joint"))]
    orgs = {x.item.source_id: x.item.org.value for x in labelled}
    batch = [
        DedupeItem(
            key=x.item.key,
            source_id=x.item.source_id,
            org=x.item.org,
            title=x.item.title,
            text=x.item.text,
            canonical_url=x.item.canonical_url,
            published=x.item.published,
            first_seen=x.item.published,
        )
        for x in labelled
    ]
    with engine.begin() as conn:
        add_sources(conn, {k: v for k, v in orgs.items() if k not in SOURCES})
        ids = store_items(conn, batch, now=T0)
        assign_clusters(conn, ids[: len(ids) // 2], now=T0, window=WINDOW)
        assign_clusters(conn, ids[len(ids) // 2 :], now=T0, window=WINDOW)
    with engine.connect() as conn:
        stored = cluster_ids(conn)
        report = compare(stored_items(conn), stored_clusters(conn), window=WINDOW)
    gold: dict[str, set[str]] = {}
    for x in labelled:
        gold.setdefault(x.gold, set()).add(str(x.item.key))
    got: dict[int, set[str]] = {}
    for identity, cluster in stored.items():
        got.setdefault(cluster, set()).add(identity)
    assert {frozenset(g) for g in got.values()} == {frozenset(g) for g in gold.values()}
    assert report.unchanged


def test_replay_reports_the_splits_stricter_thresholds_would_make(engine: Engine) -> None:
    with engine.begin() as conn:
        ids = store_items(
            conn,
            [item("a", "council", f"{P1} {P2} {P3}"), item("b", "wire", f"{P1} {P2} {P3} {P4}")],
            now=T0,
        )
        assign_clusters(conn, ids, now=T0, window=WINDOW)
        before = conn.execute(select(items.c.cluster_id)).scalars().all()
        strict = Thresholds(jaccard=0.99, containment=1.01)
        report = compare(stored_items(conn), stored_clusters(conn), thresholds=strict)
        after = conn.execute(select(items.c.cluster_id)).scalars().all()
    assert report.merges == ()
    (split,) = report.splits
    assert split.parts == ((ids[0],), (ids[1],))
    assert before == after  # replay writes nothing


def test_clusters_render_as_text_and_json(engine: Engine) -> None:
    from aggregator.dedupe.render import clusters_json, clusters_text

    with engine.begin() as conn:
        ids = store_items(
            conn,
            [item("a", "wire", f"{P1} {P2} {P3}"), item("b", "council", f"{P1} {P2} {P3} {P4}")],
            now=T0,
        )
        assign_clusters(conn, ids, now=T0, window=WINDOW)
        views = list_clusters(conn, since=T0 - timedelta(days=1))
        assert list_clusters(conn, since=T0 + timedelta(days=1)) == []
    (doc,) = clusters_json(views)
    assert doc["size"] == 2 and doc["primary_item_id"] == ids[1]
    assert [m["source_id"] for m in doc["members"]] == ["council", "wire"]
    text = clusters_text(views)
    assert text.splitlines()[1].startswith("  * 2024-02-15 council [institution]")


def test_batched_candidate_lookups_answer_as_each_item_alone(engine: Engine) -> None:
    """prefetch finds a batch's candidates in a few queries; each item must get exactly the
    candidates its own lookup gives: stored items in and out of the window, items of the
    same batch, a shared URL, a shared body and shared buckets."""
    from aggregator.store.clusters import SqlCandidateIndex

    stored_text = f"{P1} {P2} {P3}"
    with engine.begin() as conn:
        old_ids = store_items(
            conn,
            [
                item("in-window", "council", stored_text, at=T0 - timedelta(days=10)),
                item("too-old", "council", stored_text, at=T0 - timedelta(days=40)),
                item("other", "edri", f"{P4} {P2}", at=T0 - timedelta(days=1)),
            ],
            now=T0 - timedelta(days=40),
        )
        assign_clusters(conn, old_ids, now=T0, window=WINDOW)
    batch = [
        item("copy", "wire", stored_text),
        item("teaser", "digest", P1),
        item("mix", "edri", f"{P4} {P2} {P3}"),
        replace(
            item("unrelated", "wire", "Nothing in common with the others: another story."),
            title="Europol takes down a forum",
        ),
    ]
    with engine.begin() as conn:
        new_ids = store_items(conn, batch, now=T0)
        together = SqlCandidateIndex(conn, now=T0)
        loaded = together.load(new_ids)
        together.add_many(loaded)
        together.prefetch(loaded, WINDOW)
        batched = {f.key: together.candidates(f, WINDOW) for f in loaded}
        for f in loaded:
            alone = SqlCandidateIndex(conn, now=T0)
            (own,) = alone.load([int(f.key)])
            assert alone.candidates(own, WINDOW) == batched[f.key], f.item.title
        conn.rollback()
    found = {key: {c.key for c in found} for key, found in batched.items()}
    by_name = dict(zip([b.key for b in batch], new_ids, strict=True))
    copy, mix = by_name["copy"], by_name["mix"]
    assert old_ids[0] in found[copy] and old_ids[1] not in found[copy]  # the window
    assert copy in found[by_name["teaser"]]  # another item of the same batch
    assert old_ids[2] in found[mix]
    assert found[by_name["unrelated"]] == set()


def test_a_cluster_whose_every_member_changed_keeps_its_id(engine: Engine) -> None:
    with engine.begin() as conn:
        ids = store_items(
            conn,
            [item("one", "council", f"{P1} {P2} {P3}"), item("two", "edri", f"{P1} {P2} {P3}")],
            now=T0,
        )
        assign_clusters(conn, ids, now=T0, window=WINDOW)
        (cluster,) = set(cluster_ids(conn).values())
        # Both are corrected the same way: still one statement, under the same cluster id.
        conn.execute(update(items).values(text=f"{P1} {P2} {P3} {P4}"))
        assign_clusters(conn, ids, now=T0 + timedelta(hours=1), window=WINDOW)
        assert set(cluster_ids(conn).values()) == {cluster}


def test_a_cluster_made_after_a_merge_under_a_deleted_clusters_id_is_its_own(
    engine: Engine,
) -> None:
    # SQLite gives a new row the id after the largest: a cluster made after a merge may get
    # the id of one the merge deleted. The index must not take it for the one absorbed.
    from aggregator.store.clusters import SqlCandidateIndex

    with engine.begin() as conn:
        first, second, loose = store_items(
            conn,
            [
                item("a", "wire", f"{P1} {P2}"),
                item("b", "digest", f"{P3} {P4}"),
                item("c", "edri", "A statement with a cluster of its own."),
            ],
            now=T0,
        )
        # The third item without a cluster, its cluster gone: the largest id is the second's.
        own = conn.execute(select(items.c.cluster_id).where(items.c.id == loose)).scalar_one()
        conn.execute(update(items).where(items.c.id == loose).values(cluster_id=None))
        conn.execute(clusters.delete().where(clusters.c.id == own))
        index = SqlCandidateIndex(conn, now=T0)
        index.add_many(index.load([first, second]))
        absorbed = index.cluster_of(second)
        into = index.merge([index.cluster_of(first), absorbed], index.primary_of(absorbed))
        index.add_many(index.load([loose]))  # given a cluster now, after the merge
        made = index.cluster_of(loose)
        stored = {i: c for i, c in conn.execute(select(items.c.id, items.c.cluster_id))}
        if conn.dialect.name == "sqlite":
            assert made == absorbed  # the deleted id, given again
        assert index.cluster_of(second) == into == stored[second] == stored[first]
        assert made == stored[loose] != into


def test_a_copy_corrected_in_one_place_stays_in_its_story(engine: Engine) -> None:
    # A joint statement on two sites; one corrects a figure. To `decide` the two versions
    # differ in a template's slot ("7 and 8" / "7, 8 and 11"), and the corrected copy left
    # the story it had been folded into.
    statement = (
        "We, the undersigned organisations, call on the Council to reject any mandate that "
        "would require the scanning of private communications. Such a measure would violate "
        "Articles 7 and 8 of the Charter of Fundamental Rights, as the Council's own legal "
        f"service has warned. {P2} {P3}"
    )
    with engine.begin() as conn:
        ids = store_items(
            conn,
            [item("ours", "edri", statement), item("theirs", "wire", statement)],
            now=T0,
        )
        assign_clusters(conn, ids, now=T0, window=WINDOW)
        (cluster,) = set(cluster_ids(conn).values())
    corrected = statement.replace("Articles 7 and 8", "Articles 7, 8 and 11")
    later = T0 + timedelta(hours=2)
    with engine.begin() as conn:
        conn.execute(update(items).where(items.c.id == ids[0]).values(text=corrected))
        assign_clusters(conn, [ids[0]], now=later, window=WINDOW)
        assert cluster_ids(conn) == {"ours": cluster, "theirs": cluster}
        row = conn.execute(select(clusters).where(clusters.c.id == cluster)).one()
        assert row.size == 2


def test_a_huge_cluster_is_read_a_few_members_of_each_source_at_a_time(engine: Engine) -> None:
    # A page of thousands of entries alike but for a number makes one cluster; every item
    # meeting it read (and compared) every member: quadratic, a refresh busy for minutes.
    from aggregator.store.clusters import SqlCandidateIndex

    entries = [
        replace(item(f"entry-{n}", "wire", f"{P1} {P2}"), title=f"Entry number {n} on the rules")
        for n in range(12)
    ]
    with engine.begin() as conn:
        ids = store_items(conn, [*entries, item("copy", "edri", f"{P1} {P2}")], now=T0)
        cluster = min(cluster_ids(conn).values())
        conn.execute(update(items).values(cluster_id=cluster))  # one cluster, as merges make
        index = SqlCandidateIndex(conn, now=T0)
        everyone = index.members_of([cluster])[cluster]
        assert len(everyone) == 13
        few = index.members_of([cluster], per_source=4)[cluster]
    assert sorted(few) == sorted([(i, "wire") for i in sorted(ids[:12])[:4]] + [(ids[12], "edri")])
