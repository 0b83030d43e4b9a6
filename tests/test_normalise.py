"""Stage 3, normalise: hand-written RawItems, one rule at a time, then real corpus feeds."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from aggregator.models import Fetched, Item, OrgKind, ParsedDocument, RawItem, Source, SourceKind
from aggregator.normalise import (
    SUMMARY_CHARS,
    hash_identity,
    normalise_document,
    normalise_item,
    normalise_with_warnings,
)
from aggregator.parse import parse_document
from aggregator.text import content_fingerprint, without_mojibake
from aggregator.urls import canonical_url
from tests.support_parse import feed_source, fetched

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
SOURCE = Source(
    id="ep-press",
    name="European Parliament press",
    url="https://www.europarl.europa.eu/rss/doc/press-releases/en.xml",
    kind=SourceKind.FEED,
    org=OrgKind.PARLIAMENT,
)
EN_TEXT = "Parliament adopted its position on the regulation to prevent and combat child abuse."
DE_TEXT = (
    "Das Parlament hat seinen Standpunkt zur Verordnung zur Bekämpfung von Missbrauch festgelegt."
)


def document(
    *items: RawItem, link: str | None = None, language: str | None = None
) -> ParsedDocument:
    return ParsedDocument(items=items, format="rss20", link=link, language=language)


def item(raw: RawItem, *, source: Source = SOURCE, doc: ParsedDocument | None = None) -> Item:
    result = normalise_item(source, raw, now=NOW, document=doc or document(raw))
    assert result is not None
    return result


def raw(**fields: object) -> RawItem:
    base: dict[str, object] = {"title": "Vote on the CSA regulation", "summary": EN_TEXT}
    base.update(fields)
    return RawItem(**base)  # type: ignore[arg-type]


# -- identity -------------------------------------------------------------------------------


def test_identity_is_the_guid_when_there_is_one() -> None:
    result = item(raw(guid=" 20240510IPR1 ", url="https://e.eu/a"))
    assert result.identity == "g:20240510IPR1"
    assert result.guid == "20240510IPR1"


def test_identity_is_the_canonical_url_without_a_guid() -> None:
    result = item(raw(url="HTTPS://E.eu/press/?utm_source=rss#top"))
    assert result.identity == "u:https://e.eu/press"
    # The link as given, less its tracking parameters (what a reader of the digest clicks).
    assert result.url == "HTTPS://E.eu/press/#top"
    assert result.canonical_url == "https://e.eu/press"


def test_a_link_keeps_its_own_parameters_and_loses_the_tracking_ones() -> None:
    link = "https://www.politico.eu/article/x/?page=2&utm_source=RSS_Feed&utm_medium=RSS&b=%C3%A9"
    result = item(raw(url=link))
    assert result.url == "https://www.politico.eu/article/x/?page=2&b=%C3%A9"  # order kept
    untouched = "https://e.eu/p?&id=3&sort=desc"
    assert item(raw(url=untouched)).url == untouched
    # The at_ and pk_ families by their known names only: a site's own "at_home" or "pk_id"
    # stays. comScore's ns_ is tracking whatever its name ("ns_src", "ns_source").
    family = "https://e.eu/g?at_home=1&at_medium=rss&pk_id=42&pk_campaign=feed&ns_src=3&ns_source=x"
    assert item(raw(url=family)).url == "https://e.eu/g?at_home=1&pk_id=42"


def test_identity_is_a_hash_of_title_and_date_without_guid_or_url() -> None:
    published = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    result = item(raw(published=published))
    assert result.identity == hash_identity("Vote on the CSA regulation", EN_TEXT, published)
    assert re.fullmatch(r"h:[0-9a-f]{32}", result.identity)
    # With a date, an edited body keeps the identity; another date makes another item.
    assert item(raw(published=published, summary="Edited.")).identity == result.identity
    other_day = item(raw(published=published + timedelta(days=1)))
    assert other_day.identity != result.identity


def test_hash_identity_without_a_date_uses_the_text_and_not_the_clock() -> None:
    first = item(raw(summary="First dateless statement."))
    second = item(raw(summary="Second dateless statement."))
    assert first.published_is_fallback and second.published_is_fallback
    assert first.identity != second.identity  # same title, different text
    later = normalise_item(
        SOURCE, raw(summary="First dateless statement."), now=NOW + timedelta(hours=5),
        document=document(),
    )  # fmt: skip
    assert later is not None and later.identity == first.identity


def test_identity_kinds_never_collide() -> None:
    url = "https://e.eu/a"
    assert item(raw(guid=url)).identity == f"g:{url}"
    assert item(raw(url=url)).identity == f"u:{url}"


def test_guid_not_unique_falls_back_to_the_url() -> None:
    entry = raw(guid="1", url="https://e.eu/a")
    result = normalise_item(SOURCE, entry, now=NOW, document=document(entry), guid_is_unique=False)
    assert result is not None
    assert result.identity == "u:https://e.eu/a"
    assert result.guid == "1"  # still recorded


def test_document_detects_a_guid_given_to_different_entries() -> None:
    a = raw(guid="same", url="https://e.eu/a", title="First")
    b = raw(guid="same", url="https://e.eu/b", title="Second")
    c = raw(guid="unique", url="https://e.eu/c")
    items = normalise_document(SOURCE, document(a, b, c), now=NOW)
    assert [i.identity for i in items] == ["u:https://e.eu/a", "u:https://e.eu/b", "g:unique"]


def test_document_drops_an_entry_repeated_verbatim() -> None:
    a = raw(guid="same", url="https://e.eu/a")
    items = normalise_document(SOURCE, document(a, a, raw(guid="other")), now=NOW)
    assert [i.identity for i in items] == ["g:same", "g:other"]


def test_document_rekeys_entries_that_share_guid_and_link() -> None:
    # A feed whose every entry has the home page as guid and link: title and date tell apart.
    day = datetime(2024, 5, 1, tzinfo=UTC)
    a = raw(guid="https://e.eu/", url="https://e.eu/", title="First", published=day)
    b = raw(guid="https://e.eu/", url="https://e.eu/", title="Second", published=day)
    items = normalise_document(SOURCE, document(a, b), now=NOW)
    assert [i.identity for i in items] == [
        hash_identity("First", EN_TEXT, day),
        hash_identity("Second", EN_TEXT, day),
    ]


def test_entries_with_one_link_title_and_date_but_different_texts_are_two_items() -> None:
    # Two "Press release" entries of one day, both linking to the listing: the texts tell
    # them apart; one of them was silently lost. The same text twice is still one item.
    day = datetime(2024, 3, 2, tzinfo=UTC)
    welcome = raw(url="https://e.eu/press", title="Press release", published=day)
    reject = replace(welcome, summary="The ministry rejects the proposal.")
    items = normalise_document(SOURCE, document(welcome, reject, welcome), now=NOW)
    assert [i.text for i in items] == [EN_TEXT, "The ministry rejects the proposal."]
    assert len({i.identity for i in items}) == 2


def test_an_entry_among_others_of_its_title_and_day_keeps_its_identity() -> None:
    # Which of them has the longest text says nothing of which entry is which: a longer one
    # coming (or an edit) passed the title-and-day identity, and its stored item, to another.
    day = datetime(2024, 3, 2, 10, 0, tzinfo=UTC)
    europol = raw(title="Weekly statement", summary="Europol announced arrests.", published=day)
    council = replace(europol, summary="The Council adopted its position on the regulation.")
    parliament = replace(
        europol, summary="The Parliament's committee voted on the detection orders and safeguards."
    )

    def identities(*entries: RawItem) -> dict[str, str]:
        items = normalise_document(SOURCE, document(*entries), now=NOW)
        return {i.text: i.identity for i in items}

    two = identities(europol, council)
    three = identities(parliament, europol, council)
    assert len(set(three.values())) == 3
    assert {text: three[text] for text in two} == two
    # The same texts a week later are other entries, not one item with those of the week before.
    week = [replace(entry, published=day + timedelta(days=7)) for entry in (europol, council)]
    assert len(normalise_document(SOURCE, document(europol, council, *week), now=NOW)) == 4


def test_a_reader_s_link_has_its_spaces_encoded_and_no_stale_session() -> None:
    # A plain-text digest's link ended at the space; a stale servlet session id in it made
    # each refresh's copy a new page.
    result = item(raw(url="https://e.eu/a b/c d.html;jsessionid=A1B2?lang=en&PHPSESSID=x"))
    assert result.url == "https://e.eu/a%20b/c%20d.html?lang=en"
    assert result.canonical_url == "https://e.eu/a%20b/c%20d.html?lang=en"
    again = item(raw(url="https://e.eu/a b/c d.html;jsessionid=ZZ99?lang=en"))
    assert again.identity == result.identity


def test_document_identities_are_unique() -> None:
    entries = [raw(url="https://e.eu/same", title=f"T{n % 3}") for n in range(9)]
    items = normalise_document(SOURCE, document(*entries), now=NOW)
    identities = [i.identity for i in items]
    assert len(identities) == len(set(identities)) == 3


# -- url ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "doc_link", "expected"),
    [
        ({"url": "https://e.eu/a", "guid": "https://e.eu/g"}, "https://e.eu/", "https://e.eu/a"),
        ({"guid": "https://e.eu/g"}, "https://e.eu/", "https://e.eu/g"),
        ({"guid": "tag:e.eu,2024:1"}, "https://e.eu/home", "https://e.eu/home"),
        ({"url": "   "}, "https://e.eu/home", "https://e.eu/home"),
        ({}, None, SOURCE.url),
    ],
    ids=["entry-link", "guid-url", "document-link", "blank-link", "source-url"],
)
def test_url_fallbacks(fields: dict[str, str], doc_link: str | None, expected: str) -> None:
    entry = raw(**fields)
    result = item(entry, doc=document(entry, link=doc_link))
    assert result.url == expected
    if ("url" in fields and fields["url"].strip()) or ("guid" in fields and "//" in fields["guid"]):
        assert result.canonical_url == canonical_url(expected)
    else:  # a link not its own: its canonical URL is its own all the same
        assert result.canonical_url.startswith(canonical_url(expected) + "#entry-")


def test_entries_without_links_are_never_one_page() -> None:
    # Two statements in a feed without <link>s: both get the channel's link to click, and
    # canonical URLs of their own, so dedupe cannot fold them "by URL".
    first = raw(title="Council adopts position", summary="The Council adopted its position.")
    second = raw(title="Commissioner visits hotline", summary="A visit to the Dublin hotline.")
    items = normalise_document(SOURCE, document(first, second, link="http://e.eu/news"), now=NOW)
    assert [i.url for i in items] == ["http://e.eu/news", "http://e.eu/news"]
    assert len({i.canonical_url for i in items}) == 2
    again = normalise_document(SOURCE, document(first, link="http://e.eu/news"), now=NOW)
    assert again[0].canonical_url == items[0].canonical_url  # stable from refresh to refresh


def test_an_entry_listed_again_under_another_guid_is_skipped() -> None:
    original = raw(
        guid="euractiv-889911",
        url="https://www.euractiv.com/section/tech/news/chat-control/",
        title="Chat control: Council agrees position",
        summary="Member states agreed a mandate.",
    )
    copy = replace(
        original,
        guid="euractiv-889911-amp",
        url="https://www.euractiv.com/section/tech/news/chat-control?utm_source=twitter",
    )
    other_event = replace(original, guid="euractiv-889912", title="Chat control: what next")
    items, warnings = normalise_with_warnings(
        SOURCE, document(original, copy, other_event), now=NOW
    )
    assert [i.guid for i in items] == ["euractiv-889911", "euractiv-889912"]
    assert warnings == (
        "1 entry listed again under another GUID (same link and title, one text holding the"
        " other's) skipped",
    )


def test_a_live_page_s_updates_at_one_address_are_all_kept() -> None:
    # Same link, title and day; each update its own text: entries of their own.
    updates = [
        raw(
            guid=f"upd-{n}",
            url="https://www.europarl.europa.eu/news/en/live/csar-plenary",
            title="Live: plenary debate on the CSA Regulation",
            summary=text,
            published=datetime(2024, 5, 10, tzinfo=UTC),
        )
        for n, text in enumerate(
            ["The rapporteur opens the debate.", "The Commissioner answers the questions."]
        )
    ]
    items, warnings = normalise_with_warnings(SOURCE, document(*updates), now=NOW)
    assert [i.guid for i in items] == ["upd-0", "upd-1"] and warnings == ()


@pytest.mark.parametrize("cut", ["…", "...", " […]", " [...]", " (…)"])
def test_a_teaser_cut_with_an_ellipsis_is_its_full_text_s_twin(cut: str) -> None:
    full = raw(
        guid="t2",
        url="https://example.org/t?utm_source=x",
        title="Ministers agree compromise",
        summary="Ministers agreed on the detection orders compromise in Brussels. Encryption"
        " stays out of scope.",
    )
    teaser = replace(
        full,
        guid="t1",
        url="https://example.org/t",
        summary=f"Ministers agreed on the detection orders{cut}",
    )
    items = normalise_document(SOURCE, document(teaser, full), now=NOW)
    assert [i.guid for i in items] == ["t2"]


@pytest.mark.parametrize("other_link", ["https://e.eu/vote?utm_source=x", "https://e.eu/vote#top"])
def test_a_listing_s_teaser_of_an_entry_without_guid_is_its_twin(other_link: str) -> None:
    # A listing page links one article twice (a tracking parameter, a fragment), once with
    # its summary cut: no GUID, so both had the link's identity, then one text each.
    day = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)
    full = raw(
        url="https://e.eu/vote",
        title="Committee vote",
        summary="The committee voted on the proposal today after a long debate.",
        published=day,
    )
    teaser = replace(full, url=other_link, summary="The committee voted…")
    for order in ((full, teaser), (teaser, full)):
        items = normalise_document(SOURCE, document(*order), now=NOW)
        assert [i.text for i in items] == [full.summary]
    # Two texts neither of which is the other's teaser are still two entries.
    other = replace(full, summary="The committee postponed the vote to November.")
    assert len(normalise_document(SOURCE, document(full, other), now=NOW)) == 2


def test_dates_refused_as_too_far_ahead_are_said() -> None:
    entries = [
        raw(guid="a", url="https://e.eu/a", published=datetime(2035, 1, 1, tzinfo=UTC)),
        raw(guid="b", url="https://e.eu/b", title="Another", published=NOW - timedelta(hours=1)),
        raw(guid="c", url="https://e.eu/c", title="Undated"),
    ]
    items, warnings = normalise_with_warnings(SOURCE, document(*entries), now=NOW)
    assert [i.published_is_fallback for i in items] == [True, False, True]
    assert warnings == (
        "1 date more than a day ahead or before 1990 ignored: dated when first seen",
    )


def test_of_an_entry_listed_twice_the_fuller_is_kept_whatever_the_order() -> None:
    # An "-amp" copy with the teaser only: swapping the two at each build must not move the
    # stored item back and forth between them.
    full = raw(
        guid="https://www.politico.eu/article/chat-control-mandate/",
        url="https://www.politico.eu/article/chat-control-mandate/",
        title="Chat control: the Council's mandate",
        summary="Member states agreed a mandate. Scanning of encrypted chats is out.",
    )
    teaser = replace(
        full,
        guid="https://www.politico.eu/article/chat-control-mandate/?amp",
        url="https://www.politico.eu/article/chat-control-mandate/?utm_source=rss",
        summary="Member states agreed a mandate.",
    )
    for order in ((full, teaser), (teaser, full)):
        items = normalise_document(SOURCE, document(*order), now=NOW)
        assert [i.guid for i in items] == [full.guid]


def test_document_link_is_not_an_identity() -> None:
    entry = raw(guid="tag:e.eu,2024:1")
    doc = document(entry, link="https://e.eu/home")
    unique = normalise_item(SOURCE, entry, now=NOW, document=doc, guid_is_unique=False)
    assert unique is not None and unique.identity.startswith("h:")


def test_an_entry_with_nothing_is_dropped() -> None:
    empty = RawItem(guid="x", title="  ", summary="<p> </p>", content="")
    assert normalise_item(SOURCE, empty, now=NOW, document=document(empty)) is None
    assert normalise_document(SOURCE, document(empty), now=NOW) == []


def test_an_entry_with_only_a_link_is_kept_and_titled_by_it() -> None:
    entry = RawItem(url="https://e.eu/doc.pdf")
    result = item(entry)
    assert result.title == "https://e.eu/doc.pdf"
    assert result.text == ""


# -- title, text, summary ---------------------------------------------------------------------


def test_title_is_plain_text_on_one_line() -> None:
    result = item(raw(title="  Council &amp; Parliament:\n <b>deal</b>  reached "))
    assert result.title == "Council & Parliament: deal reached"


def test_missing_title_is_the_first_words_of_the_text() -> None:
    result = item(raw(title=None, summary="<p>" + EN_TEXT + "</p>"))
    assert (
        result.title
        == "Parliament adopted its position on the regulation to prevent and combat child…"
    )


def test_text_is_the_fuller_of_content_and_summary() -> None:
    body = "<p>First paragraph.</p><p>Second &amp; last paragraph.</p>"
    fuller = item(raw(summary="Teaser.", content=body))
    assert fuller.text == "First paragraph.\n\nSecond & last paragraph."
    assert fuller.summary == "Teaser."  # the author's teaser, not the body's start
    shorter = item(raw(summary=body, content="Short."))
    assert shorter.text == "First paragraph.\n\nSecond & last paragraph."


def test_summary_is_short_and_on_one_line() -> None:
    long_text = "<p>" + " ".join(["word"] * 300) + "</p><p>next</p>"
    result = item(raw(summary=None, content=long_text))
    assert len(result.summary) <= SUMMARY_CHARS + 1
    assert result.summary.endswith("word…")
    assert "\n" not in result.summary
    assert result.text.endswith("word\n\nnext")


def test_script_in_a_summary_never_reaches_the_text() -> None:
    result = item(raw(summary="<p>Hello</p><script>track()</script><style>p{}</style>"))
    assert result.text == "Hello"


def test_content_hash_is_the_fingerprint_of_title_and_text() -> None:
    result = item(raw())
    assert result.content_hash == content_fingerprint(result.title, result.text)
    reformatted = item(raw(title="Vote on the CSA regulation!", summary=f"<p>{EN_TEXT}</p>"))
    assert reformatted.content_hash == result.content_hash


def test_author_and_categories_are_cleaned() -> None:
    result = item(
        raw(author="  Press   service ", categories=(" LIBE ", "LIBE", "", "Child safety"))
    )
    assert result.author == "Press service"
    assert result.categories == ("LIBE", "Child safety")
    assert item(raw(author="  ")).author is None


# -- dates ----------------------------------------------------------------------------------


CET = timezone(timedelta(hours=2))
MAY_2 = datetime(2024, 5, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("published", "updated", "expected", "fallback"),
    [
        (datetime(2024, 5, 1, 9, tzinfo=CET), None, datetime(2024, 5, 1, 7, tzinfo=UTC), False),
        (datetime(2024, 5, 1, 9, 0), None, datetime(2024, 5, 1, 9, 0, tzinfo=UTC), False),
        (None, datetime(2024, 5, 2, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC), False),
        (None, None, NOW, True),
        (NOW + timedelta(hours=23), None, NOW + timedelta(hours=23), False),
        (NOW + timedelta(days=1, seconds=1), None, NOW, True),
        (datetime(2031, 1, 1, tzinfo=UTC), MAY_2, MAY_2, False),
        (datetime(1970, 1, 1, tzinfo=UTC), None, NOW, True),
        (datetime(1989, 12, 31, 23, 0, tzinfo=UTC), None, NOW, True),
        (datetime(1990, 1, 1, tzinfo=UTC), None, datetime(1990, 1, 1, tzinfo=UTC), False),
        # .NET's DateTime.MinValue with a European offset: before year 1 in UTC.
        (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))), None, NOW, True),
        (datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-12))), None, NOW, True),
    ],
    ids=[
        "aware-converted-to-utc", "naive-taken-as-utc", "updated-when-no-published", "missing",
        "less-than-a-day-ahead", "more-than-a-day-ahead", "bad-published-good-updated",
        "epoch-zero", "before-1990", "1990-is-fine", "year-1-plus-1h", "year-9999-minus-12h",
    ],
)  # fmt: skip
def test_published(
    published: datetime | None, updated: datetime | None, expected: datetime, fallback: bool
) -> None:
    result = item(raw(published=published, updated=updated))
    assert result.published == expected
    assert result.published.tzinfo is UTC
    assert result.published_is_fallback is fallback


def test_updated_is_utc_or_none_when_implausible() -> None:
    updated = datetime(2024, 5, 3, 10, 0, tzinfo=CET)
    assert item(raw(updated=updated)).updated == datetime(2024, 5, 3, 8, 0, tzinfo=UTC)
    assert item(raw(updated=datetime(2099, 1, 1, tzinfo=UTC))).updated is None
    assert item(raw()).updated is None


def test_a_date_without_an_offset_is_local_time_in_the_sources_zone() -> None:
    berlin = dataclasses.replace(SOURCE, timezone="Europe/Berlin")
    winter = raw(published=datetime(2024, 1, 12, 11, 15))
    summer = raw(published=datetime(2023, 7, 1, 11, 15))
    assert item(winter, source=berlin).published == datetime(2024, 1, 12, 10, 15, tzinfo=UTC)
    assert item(summer, source=berlin).published == datetime(2023, 7, 1, 9, 15, tzinfo=UTC)
    # A date that says its offset keeps it; without a zone, a naive date is UTC.
    aware = raw(published=datetime(2024, 1, 12, 11, 15, tzinfo=timezone(timedelta(hours=-5))))
    assert item(aware, source=berlin).published == datetime(2024, 1, 12, 16, 15, tzinfo=UTC)
    assert item(winter).published == datetime(2024, 1, 12, 11, 15, tzinfo=UTC)


def test_now_in_another_zone_is_converted_and_naive_now_is_refused() -> None:
    entry = raw()
    result = normalise_item(SOURCE, entry, now=NOW.astimezone(CET), document=document(entry))
    assert result is not None and result.published == NOW and result.published.tzinfo is UTC
    with pytest.raises(ValueError, match="tz-aware"):
        normalise_item(SOURCE, entry, now=NOW.replace(tzinfo=None), document=document(entry))


# -- language -------------------------------------------------------------------------------


def test_language_of_the_entry_wins() -> None:
    entry = raw(language="de-DE", summary=EN_TEXT)
    source = dataclasses.replace(SOURCE, language="fr")
    assert item(entry, source=source, doc=document(entry, language="nl")).language == "de"


def test_language_of_the_document_next() -> None:
    entry = raw(summary=EN_TEXT)
    source = dataclasses.replace(SOURCE, language="fr")
    assert item(entry, source=source, doc=document(entry, language="en-GB")).language == "en"


def test_language_of_the_source_next() -> None:
    entry = raw(summary=EN_TEXT)
    assert item(entry, source=dataclasses.replace(SOURCE, language="fr_FR")).language == "fr"


def test_language_detected_last() -> None:
    assert item(raw(title="Chatkontrolle", summary=DE_TEXT)).language == "de"
    assert item(raw(title="Vote", summary="Short.")).language is None


def test_an_item_too_short_to_tell_takes_its_documents_language() -> None:
    german = [
        raw(title=f"Meldung {n}", summary=DE_TEXT, guid=f"de-{n}", url=f"https://x.de/{n}")
        for n in range(3)
    ]
    short = raw(title="Chatkontrolle", summary="Abstimmung.", guid="s", url="https://x.de/s")
    items = normalise_document(SOURCE, document(*german, short), now=NOW)
    assert [i.language for i in items] == ["de", "de", "de", "de"]

    # Not when the rest of the document is mixed, or is a single item.
    english = raw(title="Vote", summary=EN_TEXT, guid="en", url="https://x.de/en")
    mixed = normalise_document(SOURCE, document(german[0], english, short), now=NOW)
    assert [i.language for i in mixed] == ["de", "en", None]
    alone = normalise_document(SOURCE, document(german[0], short), now=NOW)
    assert [i.language for i in alone] == ["de", None]


def test_unusable_declared_language_is_skipped() -> None:
    entry = raw(language="english", summary=DE_TEXT)
    assert item(entry, doc=document(entry, language="  ")).language == "de"


# -- real feeds -------------------------------------------------------------------------------


@pytest.mark.corpus
def test_corpus_feeds_normalise_cleanly(corpus: Path) -> None:
    from aggregator.parse import parse_document  # the real stage before this one

    total = 0
    for path in sorted((corpus / "feeds").iterdir()):
        source = dataclasses.replace(SOURCE, id=path.stem, url=f"https://feeds.example/{path.name}")
        fetched = Fetched(url=source.url, status_code=200, content=path.read_bytes())
        items = normalise_document(source, parse_document(source, fetched), now=NOW)
        identities = [i.identity for i in items]
        assert len(identities) == len(set(identities)), path.name
        for normal in items:
            assert normal.published.tzinfo is UTC
            assert normal.published <= NOW + timedelta(days=1)
            assert normal.title and "\n" not in normal.title, path.name
            assert canonical_url(normal.canonical_url) == normal.canonical_url
            assert not re.search(r"<(p|div|br|script)\b", normal.text), (path.name, normal.text)
            assert normal.identity[:2] in ("g:", "u:", "h:")
        total += len(items)
    assert total > 200


def test_entries_with_nothing_left_once_cleaned_are_counted_in_a_warning() -> None:
    from aggregator.normalise import normalise_with_warnings

    empty = RawItem(summary='<a href="http://example.com"><img></a><br>')
    kept = raw(guid="k", url="https://x.eu/k")
    items, warnings = normalise_with_warnings(SOURCE, document(empty, kept), now=NOW)
    assert [i.identity for i in items] == ["g:k"]
    assert warnings == ("1 entry with no title, text or link once cleaned skipped",)
    assert normalise_with_warnings(SOURCE, document(kept), now=NOW)[1] == ()


def test_an_entry_given_its_feed_s_address_is_not_given_its_password() -> None:
    # No link of its own, none in the channel: its link was the source's URL as configured,
    # "http://user:secretpw@...", in the export, the API, the feeds and the digest.
    source = Source(
        id="nl",
        name="nl",
        url="http://user:secretpw@127.0.0.1:18932/feed?token=abc",
        kind=SourceKind.FEED,
        org=OrgKind.PRESS,
    )
    document = ParsedDocument(
        format="rss20",
        items=(RawItem(title="An entry with no link at all", guid="nl-1", summary="Body."),),
    )
    (item,) = normalise_document(source, document, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert item.url == "http://127.0.0.1:18932/feed?token=abc"
    assert "secretpw" not in item.canonical_url


# A CMS that read its own UTF-8 as windows-1252 once, then served it as UTF-8: the document
# is valid UTF-8, so only the text itself shows what happened.
_DOUBLE_ENCODED_RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>FR</title><link>https://fr.example/</link>
<language>fr</language>
<item><title>{title}</title><link>https://fr.example/1</link><guid>x</guid>
<pubDate>Wed, 26 Nov 2025 12:00:00 GMT</pubDate><description>{body}</description></item>
</channel></rss>"""


@pytest.mark.parametrize(
    ("title", "body"),
    [
        (
            "Le ministÃ¨re de lâ€™IntÃ©rieur dÃ©fend la rÃ©forme",
            "Ã‰tat de droit, sÃ©curitÃ© : lâ€™avis du Conseil",
        ),
        # The same, written as numeric references of the windows-1252 reading.
        (
            "Le minist&#195;&#168;re de l&#226;&#8364;&#8482;Int&#195;&#169;rieur "
            "d&#195;&#169;fend la r&#195;&#169;forme",
            "&#195;&#8240;tat de droit, s&#195;&#169;curit&#195;&#169; : "
            "l&#226;&#8364;&#8482;avis du Conseil",
        ),
    ],
    ids=["as-characters", "as-references"],
)
def test_utf8_read_as_windows_1252_by_the_publisher_is_read_again(title: str, body: str) -> None:
    source = feed_source()
    rss = _DOUBLE_ENCODED_RSS.format(title=title, body=body).encode()
    document = parse_document(source, fetched(rss, "https://fr.example/feed"))
    (item,) = normalise_document(source, document, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert item.title == "Le ministère de l’Intérieur défend la réforme"
    assert item.text == "État de droit, sécurité : l’avis du Conseil"


@pytest.mark.parametrize(
    "text",
    [
        "Zażółć gęślą jaźń",
        "naïve café — « chat control », 3 €",
        "Straße, Ärger, Øresund, Łódź, Ἀθῆναι, Київ",
        "Ô© is no word, but ô© could be one's initials",
    ],
)
def test_text_that_is_no_mojibake_is_left_as_it_is(text: str) -> None:
    assert without_mojibake(text) == text


def test_a_login_in_an_entry_s_own_link_is_not_passed_on() -> None:
    # The export, the API and the digest's email pass an item's link on.
    rss = (
        b'<rss version="2.0"><channel><title>x</title><link>https://e.example/</link>'
        b"<item><title>a</title><link>https://user:secret@example.com/news/p</link></item>"
        b"</channel></rss>"
    )
    source = feed_source()
    document = parse_document(source, fetched(rss, "https://e.example/rss"))
    (item,) = normalise_document(source, document, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert item.url == item.canonical_url == "https://example.com/news/p"


def _read_as_windows_1252(text: str) -> str:
    """`text`'s UTF-8 as a CMS that read it as windows-1252 stores it: the five bytes that
    code page leaves undefined as C1 controls (MySQL's latin1, PHP's utf8_encode)."""
    undefined = (0x81, 0x8D, 0x8F, 0x90, 0x9D)
    return "".join(chr(b) if b in undefined else bytes([b]).decode("cp1252") for b in text.encode())


@pytest.mark.parametrize(
    "text",
    [
        "Rada ministrů schválila návrh o ochraně dětí a zločinech",
        "Съобщение за пресата на Съвета",
        "Η Ευρωπαϊκή Επιτροπή προτείνει",
        "Árvíztűrő tükörfúrógép és gyermekvédelem",
    ],
)
@pytest.mark.parametrize("as_references", [False, True], ids=["characters", "references"])
def test_garbled_text_whose_bytes_windows_1252_lacks_is_repaired_whole(
    text: str, as_references: bool
) -> None:
    # Those bytes are C1 controls, which were dropped before the repair: Czech, Greek and
    # Cyrillic came out half repaired ("ochranÄ› dÄ›tÃ").
    garbled = _read_as_windows_1252(text)
    if as_references:
        garbled = "".join(c if ord(c) < 128 else f"&#{ord(c)};" for c in garbled)
    rss = _DOUBLE_ENCODED_RSS.format(title=garbled, body=garbled).encode()
    source = feed_source()
    document = parse_document(source, fetched(rss, "https://fr.example/feed"))
    (item,) = normalise_document(source, document, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert (item.title, item.text) == (text, text)
