"""A date the document gives later, or corrects, is stored: without a revision, since the
words are the same, and without making the item "updated"."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aggregator.models import CacheValidators, Item, Source
from aggregator.store import SqlStore
from tests.support_feed_store import counts, document_items, rss_entry, save_rss
from tests.support_store import T0, at, make_source

LINK = "https://www.consilium.europa.eu/en/press/press-releases/2024/04/29/csa-interim/"


@pytest.fixture()
def source(store: SqlStore) -> Source:
    made = make_source("council", url="https://www.consilium.europa.eu/en/rss/")
    store.sync_sources([made], now=T0)
    return made


def test_a_date_given_later_replaces_the_first_seen_time(store: SqlStore, source: Source) -> None:
    undated = [rss_entry(LINK, "Interim regulation extended", guid="pr-1", date=None)]
    assert counts(save_rss(store, source, undated, 1)) == (1, 0, 0)
    (item,) = store.iter_items()
    assert item.published_is_fallback and item.published == at(1)

    dated = [rss_entry(LINK, "Interim regulation extended", guid="pr-1")]
    assert counts(save_rss(store, source, dated, 2)) == (0, 0, 1)
    (item,) = store.iter_items()
    assert not item.published_is_fallback
    assert item.published == datetime(2024, 4, 29, 7, 30, tzinfo=UTC)
    assert item.revision == 1 and store.revisions(item.id) == []


def test_a_corrected_date_is_stored_and_a_vanished_one_kept(
    store: SqlStore, source: Source
) -> None:
    first = [rss_entry(LINK, "Interim regulation extended", guid="pr-1")]
    save_rss(store, source, first, 1)
    corrected = [
        rss_entry(
            LINK, "Interim regulation extended", guid="pr-1", date="Tue, 30 Apr 2024 10:00:00 +0200"
        )
    ]
    assert counts(save_rss(store, source, corrected, 2)) == (0, 0, 1)
    (item,) = store.iter_items()
    assert item.published == datetime(2024, 4, 30, 8, 0, tzinfo=UTC)

    gone = [rss_entry(LINK, "Interim regulation extended", guid="pr-1", date=None)]
    assert counts(save_rss(store, source, gone, 3)) == (0, 0, 1)
    (item,) = store.iter_items()
    assert item.published == datetime(2024, 4, 30, 8, 0, tzinfo=UTC)
    assert not item.published_is_fallback


def test_a_feed_dating_its_entries_at_each_build_does_not_move_them(
    store: SqlStore, source: Source
) -> None:
    # Some feeds give every entry the time the feed was built: that is no correction.
    first = [rss_entry(LINK, "Interim regulation extended", guid="pr-1", date=None)]
    save_rss(store, source, first, 1)
    rebuilt = [rss_entry(LINK, "Interim regulation extended", guid="pr-1")]
    save_rss(store, source, rebuilt, 2)  # a date at last (29 April): taken
    (item,) = store.iter_items()
    dated = item.published
    later = at(60).strftime("%a, %d %b %Y %H:%M:%S +0000")
    built = [rss_entry(LINK, "Interim regulation extended", guid="pr-1", date=later)]
    assert counts(save_rss(store, source, built, 61)) == (0, 0, 1)
    (item,) = store.iter_items()
    assert item.published == dated


def _atom_items(source: Source, entry: str, minutes: float) -> list[Item]:
    body = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>Council</title>'
        f"<id>urn:council</id><updated>2024-05-01T00:00:00Z</updated>{entry}</feed>"
    )
    return document_items(source, body, "application/atom+xml", at(minutes))


def _save_atom(store: SqlStore, source: Source, entry: str, minutes: float) -> None:
    now = at(minutes)
    store.save_refresh(
        source.id,
        _atom_items(source, entry, minutes),
        now=now,
        seconds=0.1,
        url=source.url,
        next_fetch_at=now,
        seen=1,
        validators=CacheValidators(),
        permanent_url=None,
    )


def test_an_entry_dated_by_its_last_edit_keeps_its_date_when_edited(
    store: SqlStore, source: Source
) -> None:
    # Atom requires <updated>, not <published>: an entry with <updated> alone is dated by
    # it, and its next edit moved the publication to the correction's day.
    entry = (
        "<entry><id>urn:pr-1</id><title>Interim regulation extended</title>"
        f'<link href="{LINK}"/><updated>{{day}}</updated><content>{{text}}</content></entry>'
    )
    _save_atom(store, source, entry.format(day="2024-03-02T10:00:00Z", text="Text one."), 1)
    _save_atom(store, source, entry.format(day="2024-03-09T10:00:00Z", text="Text two."), 2)
    (item,) = store.iter_items()
    assert item.revision == 2 and item.text == "Text two."
    assert item.published == datetime(2024, 3, 2, 10, 0, tzinfo=UTC)
    assert item.updated == datetime(2024, 3, 9, 10, 0, tzinfo=UTC)
