"""Dedupe of a write batch: its sources' new items are clustered together at its end.

On real SQLite and PostgreSQL. In the failure case a trigger makes the database itself
refuse one source's fingerprints (nothing is mocked).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from aggregator.models import CacheValidators, Item
from aggregator.store import SqlStore, open_store
from aggregator.store.schema import items
from tests.support_store import T0, make_item, make_source
from tests.test_dedupe_store import P1, P2, P3, P4, TITLE

STATEMENT = f"{P1} {P2} {P3}"
# A trigger by which the database refuses to store the fingerprints of source "bad".
REFUSE_BAD = {
    "sqlite": [
        "CREATE TRIGGER refuse_bad BEFORE UPDATE OF dedupe_seq ON items "
        "WHEN NEW.source_id = 'bad' BEGIN SELECT RAISE(ABORT, 'refused'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.source_id = 'bad' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER refuse_bad BEFORE UPDATE OF dedupe_seq ON items "
        "FOR EACH ROW EXECUTE FUNCTION refuse_bad()",
    ],
}


@pytest.fixture()
def store(database_url: str) -> Iterator[SqlStore]:
    opened = open_store(database_url)
    opened.sync_sources([make_source(s) for s in ("wire", "ngo", "bad", "other")], now=T0)
    yield opened
    opened.close()


def _save(store: SqlStore, source_id: str, batch: list[Item]) -> None:
    store.save_refresh(
        source_id,
        batch,
        now=T0,
        seconds=0.1,
        validators=CacheValidators(),
        url=f"https://example.org/{source_id}/feed.xml",
        permanent_url=None,
        next_fetch_at=T0 + timedelta(hours=1),
        seen=len(batch),
    )


def _clusters(store: SqlStore) -> dict[str, int]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(items.c.source_id, items.c.cluster_id))
        return {source_id: int(cluster_id) for source_id, cluster_id in rows}


def test_a_batch_folds_copies_saved_by_different_sources(store: SqlStore) -> None:
    with store.write_batch():
        _save(store, "wire", [make_item("wire", "w1", title=TITLE, text=STATEMENT)])
        _save(store, "ngo", [make_item("ngo", "n1", title=TITLE, text=f"{STATEMENT} {P4}")])
        _save(store, "other", [make_item("other", "o1", title="Weather", text="Rain on Thursday.")])
    found = _clusters(store)
    assert found["wire"] == found["ngo"] != found["other"]


def test_one_source_that_cannot_be_deduped_leaves_the_others_folded(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    with store.engine.begin() as conn:
        for statement in REFUSE_BAD[store.dialect]:
            conn.exec_driver_sql(statement)
    with caplog.at_level(logging.WARNING, logger="aggregator.store.sql"), store.write_batch():
        _save(store, "wire", [make_item("wire", "w1", title=TITLE, text=STATEMENT)])
        _save(store, "bad", [make_item("bad", "b1", title=TITLE, text=STATEMENT)])
        _save(store, "ngo", [make_item("ngo", "n1", title=TITLE, text=f"{STATEMENT} {P4}")])
    found = _clusters(store)
    assert set(found) == {"wire", "bad", "ngo"}  # every item stored
    assert found["wire"] == found["ngo"] != found["bad"]  # the others still folded
    assert "dedupe of a write batch failed, each source alone" in caplog.text
    assert "items of bad failed" in caplog.text and "refused" in caplog.text


def test_a_source_saved_twice_in_a_batch_is_clustered_as_its_last_save_left_it(
    store: SqlStore,
) -> None:
    # Dedupe takes a batch's new items from what their save inserted, not reading them back;
    # a second save of the same source in the batch rewrote this one, so that is read.
    with store.write_batch():
        _save(store, "wire", [make_item("wire", "w1", title="Weather", text="Rain on Thursday.")])
        _save(store, "ngo", [make_item("ngo", "n1", title=TITLE, text=f"{STATEMENT} {P4}")])
        _save(store, "wire", [make_item("wire", "w1", title=TITLE, text=STATEMENT)])
    found = _clusters(store)
    assert found["wire"] == found["ngo"]


def test_new_items_of_a_batch_fold_with_what_earlier_batches_stored(store: SqlStore) -> None:
    # A later batch's copy folds into what earlier transactions stored (their rows are read,
    # while a batch's own new rows are taken from what it inserted).
    with store.write_batch():
        _save(store, "wire", [make_item("wire", "w1", title=TITLE, text=STATEMENT)])
    with store.write_batch():
        _save(store, "other", [make_item("other", "o1", title="Weather", text="Rain on Thursday.")])
    with store.write_batch():
        _save(store, "ngo", [make_item("ngo", "n1", title=TITLE, text=f"{STATEMENT} {P4}")])
    found = _clusters(store)
    assert found["wire"] == found["ngo"] != found["other"]


def test_an_item_another_writer_changed_is_compared_as_it_now_reads(
    store: SqlStore, database_url: str
) -> None:
    with store.write_batch():
        _save(store, "wire", [make_item("wire", "w1", title="Weather", text="Rain on Thursday.")])
    other_writer = open_store(database_url)
    try:
        with other_writer.write_batch():
            _save(other_writer, "wire", [make_item("wire", "w1", title=TITLE, text=STATEMENT)])
    finally:
        other_writer.close()
    with store.write_batch():
        _save(store, "ngo", [make_item("ngo", "n1", title=TITLE, text=f"{STATEMENT} {P4}")])
    found = _clusters(store)
    assert found["wire"] == found["ngo"]


def test_an_item_changed_without_a_fingerprint_is_compared_by_its_new_text(
    store: SqlStore,
) -> None:
    # Saved without the fingerprints a refresh's workers send: the store fingerprints the
    # changed item itself, from its new text, not its old text's stored fingerprint.
    with store.write_batch():
        _save(store, "wire", [make_item("wire", "w1", title="Weather", text="Rain on Thursday.")])
    with store.write_batch():
        _save(store, "wire", [make_item("wire", "w1", title=TITLE, text=STATEMENT)])
    with store.write_batch():
        _save(store, "ngo", [make_item("ngo", "n1", title=TITLE, text=f"{STATEMENT} {P4}")])
    found = _clusters(store)
    assert found["wire"] == found["ngo"]
