"""What an entry changes beside its words, and entries known only by their title, date and
text: stored in place, never as a second item."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from aggregator.models import Refreshed, Source
from aggregator.normalise import hash_identity
from aggregator.store import SqlStore
from tests.support_feed_store import (
    counts,
    rss_entry,
    rss_items,
    save_document,
    save_items,
    save_rss,
)
from tests.support_store import T0, at, make_source

FEED_URL = "https://www.missingchildreneurope.eu/feed/"
STATEMENT = "https://www.missingchildreneurope.eu/news/joint-statement-csar/"


@pytest.fixture()
def source(store: SqlStore) -> Source:
    made = make_source("mce", url=FEED_URL)
    store.sync_sources([made], now=T0)
    return made


def _with_extras(entry: str, extras: str) -> str:
    return entry.replace("</item>", f"{extras}</item>")


def test_a_moved_link_an_author_and_categories_are_stored_without_a_revision(
    store: SqlStore, source: Source
) -> None:
    first = [rss_entry(STATEMENT, "Joint statement on CSAR", guid="mce-412")]
    assert counts(save_rss(store, source, first, 1)) == (1, 0, 0)
    moved = "https://www.missingchildreneurope.eu/news/2024/joint-statement-csar/"
    again = [
        _with_extras(
            rss_entry(moved, "Joint statement on CSAR", guid="mce-412"),
            "<author>press@missingchildreneurope.eu (Press office)</author>"
            "<category>Child protection</category><category>EU policy</category>",
        )
    ]
    # The words are the same: unchanged, no revision; but readers get the page's new address.
    assert counts(save_rss(store, source, again, 2)) == (0, 0, 1)
    (item,) = store.iter_items()
    assert (item.url, item.canonical_url) == (moved, moved.rstrip("/"))
    assert item.author and "Press office" in item.author
    assert item.categories == ("Child protection", "EU policy")
    assert item.revision == 1 and store.revisions(item.id) == []


def test_a_title_whose_capitals_or_punctuation_were_corrected_is_stored_as_written(
    store: SqlStore, source: Source
) -> None:
    first = [rss_entry(STATEMENT, "Joint statement on csar, 25 million images", guid="mce-9")]
    assert counts(save_rss(store, source, first, 1)) == (1, 0, 0)
    corrected = [rss_entry(STATEMENT, "Joint Statement on CSAR: 25 million images!", guid="mce-9")]
    # The same words (the content hash folds case and punctuation): no revision, no
    # "updated" in a digest; but the title readers see is the one the source now gives.
    assert counts(save_rss(store, source, corrected, 2)) == (0, 0, 1)
    (item,) = store.iter_items()
    assert item.title == "Joint Statement on CSAR: 25 million images!"
    assert item.revision == 1 and store.revisions(item.id) == []
    # A changed word is still an update, the previous version kept.
    reworded = [rss_entry(STATEMENT, "Joint Statement on CSAR: 30 million images!", guid="mce-9")]
    assert counts(save_rss(store, source, reworded, 3)) == (0, 1, 0)
    (item,) = store.iter_items()
    assert item.revision == 2
    assert [r.title for r in store.revisions(item.id)] == [
        "Joint Statement on CSAR: 25 million images!"
    ]


def test_a_corrected_date_of_an_entry_without_guid_or_link_is_the_same_item(
    store: SqlStore, source: Source
) -> None:
    # No GUID, no link: the entry is known by its title and date, so the correction gave
    # it a new identity, and the export listed it twice.
    first = [rss_entry(None, "Statement on the interim regulation")]
    assert counts(save_rss(store, source, first, 1)) == (1, 0, 0)
    corrected = [
        rss_entry(None, "Statement on the interim regulation", date="Mon, 29 Apr 2024 06:00 GMT")
    ]
    assert counts(save_rss(store, source, corrected, 2)) == (0, 0, 1)
    (item,) = store.iter_items()
    assert item.published == datetime(2024, 4, 29, 6, 0, tzinfo=UTC)
    assert store.item_count() == 1


def test_an_edited_entry_without_guid_link_or_date_is_the_same_item(
    store: SqlStore, source: Source
) -> None:
    first = [
        rss_entry(None, "Open letter to the Council", date=None, body="Signed by 40 NGOs."),
        rss_entry(None, "Another letter", date=None, body="Signed by 3 NGOs."),
    ]
    assert counts(save_rss(store, source, first, 1)) == (2, 0, 0)
    edited = [
        rss_entry(None, "Open letter to the Council", date=None, body="Signed by 52 NGOs."),
        rss_entry(None, "Another letter", date=None, body="Signed by 3 NGOs."),
    ]
    assert counts(save_rss(store, source, edited, 2)) == (0, 1, 1)
    assert store.item_count() == 2
    (letter,) = [i for i in store.iter_items() if i.title == "Open letter to the Council"]
    assert letter.text == "Signed by 52 NGOs."
    assert [r.text for r in store.revisions(letter.id)] == ["Signed by 40 NGOs."]


def test_two_dateless_entries_of_one_title_are_not_guessed_at(
    store: SqlStore, source: Source
) -> None:
    # Which of two "Press release" entries was edited cannot be told: both edited ones are
    # new, and the stored ones stay.
    first = [
        rss_entry(None, "Press release", date=None, body="On the vote."),
        rss_entry(None, "Press release", date=None, body="On the trilogue."),
    ]
    save_rss(store, source, first, 1)
    edited = [
        rss_entry(None, "Press release", date=None, body="On the vote, corrected."),
        rss_entry(None, "Press release", date=None, body="On the trilogue, corrected."),
    ]
    assert counts(save_rss(store, source, edited, 2)) == (2, 0, 0)
    assert store.item_count() == 4


# Three statements of one title and day, without GUID or link: their texts tell them apart.
EUROPOL = "Europol announced arrests in five countries."
COUNCIL = "The Council adopted its position on the regulation."
PARLIAMENT = (
    "The Parliament's civil liberties committee voted on the detection orders and encryption"
    " safeguards."
)


def _statement(body: str) -> str:
    return rss_entry(None, "Weekly statement", body=body)


def _texts(store: SqlStore) -> dict[int, tuple[str, int, list[str]]]:
    """Each stored item's text, revision and previous texts, by id."""
    return {
        item.id: (item.text, item.revision, [r.text for r in store.revisions(item.id)])
        for item in store.iter_items()
    }


def test_a_new_longest_entry_of_one_title_and_day_is_new_and_the_others_kept(
    store: SqlStore, source: Source
) -> None:
    # The longest text was known by title and day, the others by their texts: a longer one
    # took the stored row of the longest so far, which came back as new.
    assert counts(save_rss(store, source, [_statement(EUROPOL), _statement(COUNCIL)], 1)) == (
        2,
        0,
        0,
    )
    before = _texts(store)
    three = [_statement(PARLIAMENT), _statement(EUROPOL), _statement(COUNCIL)]
    assert counts(save_rss(store, source, three, 2)) == (1, 0, 2)
    after = _texts(store)
    assert {i: after[i] for i in before} == before
    assert sorted(text for text, _, _ in after.values()) == sorted([EUROPOL, COUNCIL, PARLIAMENT])
    assert counts(save_rss(store, source, three, 3)) == (0, 0, 3)


@pytest.mark.parametrize(
    "edited",
    [EUROPOL + " Updated figures.", "Europol announced arrests in six countries."],
    ids=["now the longest", "still the shorter"],
)
def test_an_edited_entry_of_one_title_and_day_is_an_update_of_its_own_item(
    store: SqlStore, source: Source, edited: str
) -> None:
    save_rss(store, source, [_statement(EUROPOL), _statement(COUNCIL)], 1)
    (europol,) = [i.id for i in store.iter_items() if i.text == EUROPOL]
    (council,) = [i.id for i in store.iter_items() if i.text == COUNCIL]
    assert counts(save_rss(store, source, [_statement(edited), _statement(COUNCIL)], 2)) == (
        0,
        1,
        1,
    )
    assert _texts(store) == {europol: (edited, 2, [EUROPOL]), council: (COUNCIL, 1, [])}
    # Both edited at once: which was which cannot be told, both are new.
    both = [_statement(edited + " Corrected."), _statement(COUNCIL + " Corrected.")]
    assert counts(save_rss(store, source, both, 3)) == (2, 0, 0)


def test_an_entry_left_alone_on_its_title_and_day_keeps_its_item(
    store: SqlStore, source: Source
) -> None:
    # The Council's statement was withdrawn: Europol's, alone on its title and day again,
    # is known by them, and it took the Council's row.
    save_rss(store, source, [_statement(EUROPOL), _statement(COUNCIL)], 1)
    before = _texts(store)
    assert counts(save_rss(store, source, [_statement(EUROPOL)], 2)) == (0, 0, 1)
    assert _texts(store) == before
    # Its edit is an update, as any such entry's.
    edited = EUROPOL + " Updated figures."
    assert counts(save_rss(store, source, [_statement(edited)], 3)) == (0, 1, 0)
    (europol,) = [i for i, (text, _, _) in before.items() if text == EUROPOL]
    assert _texts(store)[europol] == (edited, 2, [EUROPOL])
    # The Council's statement back: its own item again.
    both = [_statement(edited), _statement(COUNCIL)]
    assert counts(save_rss(store, source, both, 4)) == (0, 0, 2)
    assert store.item_count() == 2


def test_items_of_one_title_and_day_stored_by_an_earlier_release_are_not_stored_again(
    store: SqlStore, source: Source
) -> None:
    # Before, the longest text of a title and day was known by them, the others by their
    # title and text alone: the first refresh after finds each by its words.
    entries = [_statement(EUROPOL), _statement(COUNCIL)]
    read = rss_items(source, entries, at(1))
    earlier = [
        replace(item, identity=hash_identity(item.title, "", item.published))
        if item.text == COUNCIL  # the longest
        else replace(item, identity=hash_identity(item.title, item.text, None))
        for item in read
    ]
    assert counts(save_items(store, source, earlier, at(1))) == (2, 0, 0)
    before = _texts(store)
    assert counts(save_rss(store, source, entries, 2)) == (0, 0, 2)
    assert counts(save_rss(store, source, [_statement(PARLIAMENT), *entries], 3)) == (1, 0, 2)
    assert {i: _texts(store)[i] for i in before} == before


def _save_json_feed(
    store: SqlStore, source: Source, published: str, text: str, minutes: float
) -> Refreshed:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "Missing Children Europe",
            "items": [
                {
                    "id": "mce-412",
                    "url": STATEMENT,
                    "title": "Joint statement on CSAR",
                    "content_text": text,
                    "date_published": published,
                }
            ],
        }
    )
    return save_document(store, source, body, "application/feed+json", minutes)


def test_an_edited_entry_does_not_move_past_its_first_sighting(
    store: SqlStore, source: Source
) -> None:
    # A JSON Feed that dates every item at each build, with an edited text: the edit is an
    # update, and the item keeps the date it was stored with.
    assert counts(_save_json_feed(store, source, "2024-04-29T07:30:00Z", "First.", 1)) == (
        1,
        0,
        0,
    )
    rebuilt = at(60).isoformat()
    assert counts(_save_json_feed(store, source, rebuilt, "Edited.", 61)) == (0, 1, 0)
    (item,) = store.iter_items()
    assert item.text == "Edited."
    assert item.published == datetime(2024, 4, 29, 7, 30, tzinfo=UTC)


def _save_with_content(
    store: SqlStore, source: Source, description: str, minutes: float
) -> Refreshed:
    body = (
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        "<channel><title>MCE</title><link>https://www.missingchildreneurope.eu/</link><item>"
        f"<title>Joint statement on CSAR</title><link>{STATEMENT}</link><guid>mce-412</guid>"
        "<pubDate>Mon, 29 Apr 2024 09:30:00 +0200</pubDate>"
        f"<description>{description}</description>"
        "<content:encoded><![CDATA[<p>Fifty organisations call on the Council to adopt"
        " the regulation without delay.</p>]]></content:encoded>"
        "</item></channel></rss>"
    )
    return save_document(store, source, body, "application/rss+xml", minutes)


def test_a_rewritten_summary_beside_the_same_text_is_stored_in_place(
    store: SqlStore, source: Source
) -> None:
    assert counts(_save_with_content(store, source, "Fifty NGOs call on the Council.", 1)) == (
        1,
        0,
        0,
    )
    again = _save_with_content(store, source, "Sixty NGOs now call on the Council.", 2)
    assert counts(again) == (0, 0, 1)
    (item,) = store.iter_items()
    assert item.summary == "Sixty NGOs now call on the Council."
    assert item.revision == 1 and store.revisions(item.id) == []


def _title_only(title: str, date: str) -> str:
    """An entry with a title and a date alone: no GUID, no link, no text ("h:" identity)."""
    return (
        f"<item><title>{title}</title><pubDate>{date}</pubDate><description></description></item>"
    )


@pytest.mark.parametrize(
    ("stored", "read_now", "published"),
    [
        # The time of day was lost ("2026-11-23 16:31:00 CET" read as the day alone)...
        ("Mon, 29 Apr 2024 00:00:00 GMT", "Mon, 29 Apr 2024 16:31:00 +0100", (15, 31)),
        # ...or the zone was not applied (read as UTC).
        ("Mon, 29 Apr 2024 16:31:00 GMT", "Mon, 29 Apr 2024 16:31:00 +0200", (14, 31)),
    ],
)
def test_a_title_only_entry_read_with_its_true_time_is_the_same_item(
    store: SqlStore, source: Source, stored: str, read_now: str, published: tuple[int, int]
) -> None:
    # A release that reads dates better gave such an entry a new identity: stored and
    # mailed twice.
    assert counts(save_rss(store, source, [_title_only("Termine der Woche", stored)], 1)) == (
        1,
        0,
        0,
    )
    corrected = [_title_only("Termine der Woche", read_now)]
    assert counts(save_rss(store, source, corrected, 2)) == (0, 0, 1)
    (item,) = store.iter_items()
    assert item.published == datetime(2024, 4, 29, *published, tzinfo=UTC)


@pytest.mark.parametrize(
    "later",
    [
        "Mon, 06 May 2024 00:00:00 GMT",  # next week's "Termine der Woche"
        "Mon, 29 Apr 2024 13:07:00 GMT",  # a second one that day, hours later
    ],
)
def test_a_title_only_entry_of_another_day_or_time_is_a_new_item(
    store: SqlStore, source: Source, later: str
) -> None:
    save_rss(store, source, [_title_only("Termine der Woche", "Mon, 29 Apr 2024 10:00:00 GMT")], 1)
    assert counts(save_rss(store, source, [_title_only("Termine der Woche", later)], 2)) == (
        1,
        0,
        0,
    )
    assert store.item_count() == 2


# An agenda page of the Parliament: every entry links to the one calendar page.
_AGENDA_ENTRY = (
    '<div class="ev"><h3>{title}</h3><span class="d">{day} April 2024</span>'
    '<p>{text}</p><a href="/agenda/calendar">Calendar</a></div>'
)
_AGENDA = [
    ("LIBE committee meeting on the CSA Regulation", "12", "Vote on the negotiating mandate."),
    ("Plenary debate on chat control", "13", "Debate with the Commissioner on detection orders."),
    ("Press conference by the rapporteur", "14", "Live streaming."),
]


def _agenda(entries: list[tuple[str, str, str]]) -> str:
    listed = "".join(_AGENDA_ENTRY.format(title=t, day=d, text=x) for t, d, x in entries)
    return f"<html><body>{listed}</body></html>"


def test_a_corrected_title_of_an_entry_sharing_its_link_is_an_update(store: SqlStore) -> None:
    from aggregator.models import Selectors, SourceKind

    agenda = replace(
        make_source("ep-agenda", url="https://www.europarl.europa.eu/agenda/"),
        kind=SourceKind.HTML,
        language="en",
        selectors=Selectors(item="div.ev", title="h3", link="a", date=".d", summary="p"),
    )
    store.sync_sources([agenda], now=T0)
    assert counts(save_document(store, agenda, _agenda(_AGENDA), "text/html", 1)) == (3, 0, 0)
    before = {i.title: i.id for i in store.iter_items()}
    retitled = list(_AGENDA)
    retitled[1] = ("Plenary debate on chat control (postponed)", *_AGENDA[1][1:])
    assert counts(save_document(store, agenda, _agenda(retitled), "text/html", 2)) == (0, 1, 2)
    item = store.get_item(before["Plenary debate on chat control"])
    assert item is not None and item.title == "Plenary debate on chat control (postponed)"
    assert item.revision == 2 and store.item_count() == 3
    # A text of a word or two tells nothing: another entry under "Live streaming." the
    # same day is a new entry, the old one stays.
    other = list(retitled)
    other[2] = ("Press point of the Council presidency", *_AGENDA[2][1:])
    assert counts(save_document(store, agenda, _agenda(other), "text/html", 3)) == (1, 0, 2)
    assert store.item_count() == 4


_UNDATED = (
    '<rss version="2.0"><channel><title>Hotline</title><link>https://nd.example/</link>'
    "{items}</channel></rss>"
)


@pytest.mark.parametrize("link", ["<link>https://nd.example/publications</link>", ""])
def test_a_corrected_title_of_an_undated_entry_without_a_link_of_its_own_is_an_update(
    store: SqlStore, link: str
) -> None:
    source = make_source("nd", url="https://nd.example/rss")
    store.sync_sources([source], now=T0)

    def feed(second_title: str) -> str:
        entries = [
            ("Annual report 2024", "The annual report covers hotline statistics for the year."),
            (second_title, "The brief assesses age verification technologies and privacy."),
        ]
        return _UNDATED.format(
            items="".join(
                f"<item><title>{title}</title>{link}<description>{text}</description></item>"
                for title, text in entries
            )
        )

    rss = "application/rss+xml"
    assert counts(save_document(store, source, feed("Policy brief"), rss, 1)) == (2, 0, 0)
    (brief,) = [i.id for i in store.iter_items() if i.title == "Policy brief"]
    corrected = feed("Policy brief on age verification tools")
    assert counts(save_document(store, source, corrected, rss, 2)) == (0, 1, 1)
    item = store.get_item(brief)
    assert item is not None and item.title == "Policy brief on age verification tools"
    assert item.revision == 2 and store.item_count() == 2
