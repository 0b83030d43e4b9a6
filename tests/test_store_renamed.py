"""Entries that come back under another GUID or link are the stored items, not new ones."""

from __future__ import annotations

import pytest

from aggregator.models import Source
from aggregator.store import SqlStore
from tests.support_feed_store import counts, rss_entry, save_rss
from tests.support_store import T0, make_source

FEED_URL = "https://www.ecpat.org/feed/"


@pytest.fixture()
def source(store: SqlStore) -> Source:
    made = make_source("ecpat", url=FEED_URL)
    store.sync_sources([made], now=T0)
    return made


STATEMENT = "https://www.ecpat.org/news/csar-council-position/"
OTHER = "https://www.ecpat.org/news/survivors-letter/"


def test_a_guid_with_a_changing_token_is_the_same_item(store: SqlStore, source: Source) -> None:
    first = [
        rss_entry(STATEMENT, "Council position on CSAR", guid="post-81?session=a1"),
        rss_entry(OTHER, "Survivors' open letter", guid="post-82?session=a1"),
    ]
    assert counts(save_rss(store, source, first, 1)) == (2, 0, 0)
    again = [
        rss_entry(STATEMENT, "Council position on CSAR", guid="post-81?session=b7"),
        rss_entry(OTHER, "Survivors' open letter", guid="post-82?session=b7"),
    ]
    assert counts(save_rss(store, source, again, 2)) == (0, 0, 2)
    # The rows took the new GUIDs: the next refresh finds them by identity.
    assert sorted(item.identity for item in store.iter_items()) == [
        "g:post-81?session=b7",
        "g:post-82?session=b7",
    ]
    assert counts(save_rss(store, source, again, 3)) == (0, 0, 2)
    assert store.item_count() == 2


def test_a_feed_that_starts_giving_guids_is_not_stored_twice(
    store: SqlStore, source: Source
) -> None:
    assert counts(save_rss(store, source, [rss_entry(STATEMENT, "Council position")], 1)) == (
        1,
        0,
        0,
    )
    with_guid = [rss_entry(STATEMENT, "Council position", guid="ecpat-81")]
    assert counts(save_rss(store, source, with_guid, 2)) == (0, 0, 1)
    assert [item.identity for item in store.iter_items()] == ["g:ecpat-81"]


def test_a_site_moved_to_https_and_www_keeps_its_items(store: SqlStore, source: Source) -> None:
    old = "http://ecpat.org/news/csar-council-position/"
    assert counts(save_rss(store, source, [rss_entry(old, "Council position", guid=old)], 1)) == (
        1,
        0,
        0,
    )
    # Moved, and the statement corrected on the way: an update of the one item.
    moved = [rss_entry(STATEMENT, "Council position", guid=STATEMENT, body="Corrected text.")]
    assert counts(save_rss(store, source, moved, 2)) == (0, 1, 0)
    (item,) = store.iter_items()
    assert (item.identity, item.url, item.revision) == (f"g:{STATEMENT}", STATEMENT, 2)
    assert [r.text for r in store.revisions(item.id)] == [
        "Council position: the statement in full."
    ]


def test_another_entry_at_the_same_address_on_the_same_day_is_new(
    store: SqlStore, source: Source
) -> None:
    # A procedure page dated to the day: its next event has another GUID, title and text.
    page = "https://oeil.example.eu/procedure/2022-0155"
    day = "Wed, 24 Apr 2024 00:00:00 +0000"
    first = [rss_entry(page, "CSAR: committee report tabled", guid="ev-100", date=day)]
    assert counts(save_rss(store, source, first, 1)) == (1, 0, 0)
    second = [rss_entry(page, "CSAR: plenary vote scheduled", guid="ev-101", date=day)]
    assert counts(save_rss(store, source, second, 2)) == (1, 0, 0)
    assert sorted(i.title for i in store.iter_items()) == [
        "CSAR: committee report tabled",
        "CSAR: plenary vote scheduled",
    ]


def test_a_new_post_at_a_fixed_address_is_a_new_item(store: SqlStore, source: Source) -> None:
    # A weekly newsletter at one address: another date, other words, another item.
    letter = "https://www.ecpat.org/newsletter/"
    week_1 = [rss_entry(letter, "Newsletter: week 45", guid="nl-45")]
    week_2 = [
        rss_entry(
            letter, "Newsletter: week 46", guid="nl-46", date="Mon, 06 May 2024 08:30:00 +0200"
        )
    ]
    assert counts(save_rss(store, source, week_1, 1)) == (1, 0, 0)
    assert counts(save_rss(store, source, week_2, 2)) == (1, 0, 0)
    assert store.item_count() == 2


def test_an_item_still_listed_is_not_taken_by_another(store: SqlStore, source: Source) -> None:
    # Two entries of one day at one page, both listed: two items, whatever their GUIDs.
    first = [rss_entry(STATEMENT, "Part one", guid="p1")]
    assert counts(save_rss(store, source, first, 1)) == (1, 0, 0)
    both = [*first, rss_entry(STATEMENT, "Part two", guid="p2")]
    assert counts(save_rss(store, source, both, 2)) == (1, 0, 1)
    assert store.item_count() == 2


def test_entries_sharing_a_page_are_never_matched_by_it(store: SqlStore, source: Source) -> None:
    first = [rss_entry(STATEMENT, "Morning update", guid="u1")]
    assert counts(save_rss(store, source, first, 1)) == (1, 0, 0)
    # u1 is gone; two new entries share its page and date: which one it became is unknown.
    two = [
        rss_entry(STATEMENT, "Morning update, corrected", guid="u2"),
        rss_entry(STATEMENT, "Evening update", guid="u3"),
    ]
    assert counts(save_rss(store, source, two, 2)) == (2, 0, 0)


def test_an_entry_without_a_link_is_not_matched_by_the_sites_page(
    store: SqlStore, source: Source
) -> None:
    # Without links of their own, entries are given the feed's link (the home page).
    first = [rss_entry(None, "Short notice", guid="n1")]
    assert counts(save_rss(store, source, first, 1)) == (1, 0, 0)
    second = [rss_entry(None, "Another notice", guid="n2")]
    assert counts(save_rss(store, source, second, 2)) == (1, 0, 0)


@pytest.mark.parametrize("link", [None, "https://www.ecpat.org/"], ids=["no link", "home page"])
def test_an_entry_stored_under_a_guid_later_shared_is_not_stored_twice(
    store: SqlStore, source: Source, link: str | None
) -> None:
    # Every entry has the home page as GUID: alone, the first was stored under it; once a
    # second entry shares it, both fall back to title and date, and the first came back new.
    home = "https://www.ecpat.org/"
    first = [rss_entry(link, "Statement on the vote", guid=home)]
    assert counts(save_rss(store, source, first, 1)) == (1, 0, 0)
    two = [rss_entry(link, "Survivors' open letter", guid=home), *first]
    assert counts(save_rss(store, source, two, 2)) == (1, 0, 1)
    three = [rss_entry(link, "Council agrees its position", guid=home), *two]
    assert counts(save_rss(store, source, three, 3)) == (1, 0, 2)
    assert store.item_count() == 3


def test_an_entry_back_word_for_word_at_another_address_is_the_stored_item(
    store: SqlStore, source: Source
) -> None:
    # The site moved its press releases (no GUIDs): the same title, text and date at a new
    # address are the stored item, which takes the new address; it was stored twice.
    old = [rss_entry("https://www.ecpat.org/news/123", "Council position on CSAR")]
    assert counts(save_rss(store, source, old, 1)) == (1, 0, 0)
    moved = [
        rss_entry("https://www.ecpat.org/press/2024/council-position", "Council position on CSAR")
    ]
    assert counts(save_rss(store, source, moved, 2)) == (0, 0, 1)
    assert [item.url for item in store.iter_items()] == [
        "https://www.ecpat.org/press/2024/council-position"
    ]
    # Another post with the same words on another day is another item.
    again = [
        *moved,
        rss_entry(
            "https://www.ecpat.org/press/2025/council-position",
            "Council position on CSAR",
            date="Tue, 29 Apr 2025 09:30:00 +0200",
        ),
    ]
    assert counts(save_rss(store, source, again, 3)) == (1, 0, 1)


def test_a_second_entry_of_one_title_day_and_link_is_new_and_the_first_is_kept(
    store: SqlStore, source: Source
) -> None:
    press = "https://www.ecpat.org/press"
    first = [rss_entry(press, "Press release", body="The minister welcomes the vote.")]
    assert counts(save_rss(store, source, first, 1)) == (1, 0, 0)
    both = [*first, rss_entry(press, "Press release", body="The ministry rejects the proposal.")]
    assert counts(save_rss(store, source, both, 2)) == (1, 0, 1)
    assert counts(save_rss(store, source, both, 3)) == (0, 0, 2)
    assert store.item_count() == 2
