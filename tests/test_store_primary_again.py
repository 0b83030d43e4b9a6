"""A cluster's primary follows the rule (official first, then the earliest published) when
what the rule reads changes without a merge: a member's date corrected by its publisher, a
source's `org` changed in the config."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from aggregator.models import OrgKind, Source
from aggregator.store import SqlStore
from aggregator.store.schema import clusters, items
from tests.support_feed_store import rss_entry, save_rss
from tests.support_store import T0, make_source

STATEMENT = (
    "Over sixty organisations call on the Council to reject mandatory scanning of private "
    "messages in the Child Sexual Abuse Regulation and to protect end-to-end encryption, "
    "which keeps children, journalists and human rights defenders safe online."
)


@pytest.fixture()
def sources(store: SqlStore) -> list[Source]:
    made = [make_source("edri"), make_source("epicenter"), make_source("ccc")]
    store.sync_sources(made, now=T0)
    return made


def _joint_statement(date: str) -> list[str]:
    return [rss_entry(None, "Joint statement on chat control", date=date, body=STATEMENT)]


def _primary(store: SqlStore) -> str:
    with store.engine.connect() as conn:
        (row,) = conn.execute(select(clusters.c.primary_item_id).where(clusters.c.size > 1))
        return str(
            conn.execute(
                select(items.c.source_id).where(items.c.id == row.primary_item_id)
            ).scalar_one()
        )


def _published_by(store: SqlStore, sources: list[Source]) -> None:
    for n, (source, hour) in enumerate(zip(sources, ("14", "15", "16"), strict=True)):
        save_rss(store, source, _joint_statement(f"Mon, 29 Apr 2024 {hour}:00:00 +0000"), n + 1)


def test_a_corrected_date_passes_the_primary_to_the_now_earliest(
    store: SqlStore, sources: list[Source]
) -> None:
    _published_by(store, sources)
    assert _primary(store) == "edri"  # the earliest
    later = _joint_statement("Mon, 29 Apr 2024 20:00:00 +0000")  # edri corrects its date
    save_rss(store, sources[0], later, 10)
    assert _primary(store) == "epicenter"


def test_a_source_made_official_in_the_config_becomes_its_clusters_primary(
    store: SqlStore, sources: list[Source]
) -> None:
    _published_by(store, sources)
    assert _primary(store) == "edri"
    official = [*sources[:2], replace(sources[2], org=OrgKind.GOVERNMENT)]
    store.sync_sources(official, now=T0)
    assert _primary(store) == "ccc"  # official first, although published last
    store.sync_sources(sources, now=T0)  # and back
    assert _primary(store) == "edri"
