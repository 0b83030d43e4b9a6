"""What an audit of the ISO 8601 layouts found: impossible or space-separated week, ordinal
and basic dates that feedparser silently misread in RSS and Atom, compact dates with words
around them on listing pages, relative Atom ids that feedparser made into links, JSON Feed
reading "24:00" and zone names as the other formats do, and listing pages saying so when a
date's offset is none a zone has.

Feed documents are read twice, by feedparser alone and with the fast path (fastfeed.py),
and the two readings must be equal.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from aggregator.models import ParsedDocument, Selectors
from aggregator.normalise import normalise_document
from aggregator.parse import parse_document
from aggregator.parse.dates import parse_date
from aggregator.parse.feed import parse_feed
from tests.support_fastfeed import BothPathsReader
from tests.support_parse import feed_source, fetched, html_source
from tests.test_parse_left_cases import REGISTER_RSS

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NOV_27_0915_UTC = datetime(2026, 11, 27, 9, 15, tzinfo=UTC)


@pytest.fixture()
def reader(monkeypatch: pytest.MonkeyPatch) -> BothPathsReader:
    return BothPathsReader(monkeypatch, now=NOW)


# -- 1. RSS and Atom: an ISO 8601 date is read right, or not at all -------------------------

# A national register's RSS export, its dates written by a Java CMS in ISO 8601
# (test_parse_left_cases.REGISTER_RSS).
REGISTER_URL = "https://www.example.org/register/feed.xml"

# An agency's Atom feed of its publications.
AGENCY_ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="de">
  <title>Veröffentlichungen</title>
  <id>tag:agentur.example.org,2026:publikationen</id>
  <link rel="alternate" href="https://agentur.example.org/publikationen"/>
  <updated>2026-11-30T10:00:00Z</updated>
  <entry>
    <title>Jahresbericht 2026</title>
    <id>tag:agentur.example.org,2026:publikation-4711</id>
    <link href="https://agentur.example.org/publikationen/4711"/>
    <updated>{date}</updated>
  </entry>
</feed>
"""
AGENCY_URL = "https://agentur.example.org/publikationen.atom"

FEEDS = {"rss": (REGISTER_RSS, REGISTER_URL), "atom": (AGENCY_ATOM, AGENCY_URL)}

IMPOSSIBLE = [
    "2026-W54-1T09:15Z",  # 2026 has 53 weeks
    "2025-W53-1T09:15Z",  # 2025 has 52
    "2026-W48-0T09:15Z",  # weekdays are 1 to 7
    "2026-W48-8T09:15Z",
    "2026-000T09:15Z",  # ordinal days start at 001
    "2026-366T09:15Z",  # 2026 has 365 days
    "20261127T2515Z",  # no hour 25
    "20261127T0960Z",  # no minute 60
    "20261126T2459Z",  # 24 only as 24:00, the end of the day
    "20261126T240001Z",
    "2026-13-01T09:00:00Z",  # the extended layout: feedparser rolled these over
    "2026-11-31T09:00:00Z",
    "2026-11-27T25:00:00Z",
    "2026-W54",  # a week alone too
    "2026-W48T09:15Z",  # a time, but no day
    # RFC 822's layout: dateparser read the day alone, at midnight in the source's zone.
    "Wed, 26 Nov 2025 25:30:00 GMT",
    "Wed, 26 Nov 2025 25:30:00 +0100",
    "Wed, 26 Nov 2025 12:75:00 GMT",
    "Wed, 26 Nov 2025 12:30:61 GMT",  # 60 is a leap second, read as :59
    "Mon, 31 Nov 2025 09:00:00 GMT",
]


@pytest.mark.parametrize("kind", FEEDS)
@pytest.mark.parametrize("written", IMPOSSIBLE)
def test_an_impossible_iso_date_is_unread_and_said_not_misread(
    reader: BothPathsReader, kind: str, written: str
) -> None:
    template, url = FEEDS[kind]
    document = reader.parse(template.format(date=written), url)
    (raw,) = document.items
    assert (raw.published, raw.updated) == (None, None)
    assert document.warnings == (
        f"1 date not understood (such as {written!r}): dated when first seen",
    )
    (item,) = normalise_document(feed_source(), document, now=NOW)
    assert item.published_is_fallback
    assert item.published == NOW


SPACED = {
    "2026-W48-5 09:15Z": NOV_27_0915_UTC,
    "2026-W48-5 09:15+01:00": datetime(2026, 11, 27, 8, 15, tzinfo=UTC),
    "2026W485 0915Z": NOV_27_0915_UTC,
    "2026-331 09:15Z": NOV_27_0915_UTC,
    "2026-331 09:15:30+01:00": datetime(2026, 11, 27, 8, 15, 30, tzinfo=UTC),
}


@pytest.mark.parametrize("kind", FEEDS)
@pytest.mark.parametrize(("written", "expected"), list(SPACED.items()))
def test_a_week_or_ordinal_date_with_a_space_before_its_time_keeps_the_time(
    reader: BothPathsReader, kind: str, written: str, expected: datetime
) -> None:
    # feedparser read them as 1 November (the week) or as midnight (the ordinal date).
    template, url = FEEDS[kind]
    document = reader.parse(template.format(date=written), url)
    assert reader.fast_took_it
    assert document.warnings == ()
    (item,) = normalise_document(feed_source(), document, now=NOW)
    assert not item.published_is_fallback
    assert item.published == expected


@pytest.mark.parametrize("kind", FEEDS)
@pytest.mark.parametrize("written", ["20161231T235960Z", "2016-12-31T23:59:60Z"])
def test_a_leap_second_is_the_second_before_it(
    reader: BothPathsReader, kind: str, written: str
) -> None:
    # As JSON Feed read it already; feedparser made the basic one midnight of the 31st.
    template, url = FEEDS[kind]
    (raw,) = reader.parse(template.format(date=written), url).items
    assert raw.published == datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("20261127", datetime(2026, 11, 27, tzinfo=UTC)),  # feedparser's, and right
        ("2026-331", datetime(2026, 11, 27, tzinfo=UTC)),
        ("2026-11-26T24:00:00Z", datetime(2026, 11, 27, tzinfo=UTC)),  # the end of the 26th
    ],
)
def test_a_possible_iso_date_is_still_read(
    reader: BothPathsReader, written: str, expected: datetime
) -> None:
    document = reader.parse(REGISTER_RSS.format(date=written), REGISTER_URL)
    assert document.items[0].published == expected
    assert document.warnings == ()


@pytest.mark.parametrize("kind", FEEDS)
@pytest.mark.parametrize("written", ["2026-W48", "2026W48"])
def test_a_week_alone_is_its_monday(reader: BothPathsReader, kind: str, written: str) -> None:
    # As JSON Feed read it already (Python's reading); feedparser's was 1 November.
    template, url = FEEDS[kind]
    (raw,) = reader.parse(template.format(date=written), url).items
    assert raw.published == datetime(2026, 11, 23, tzinfo=UTC)


# A press office's RSS whose CMS leaves a placeholder where some dates should be.
PRESS_RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>Press office</title>
    <link>https://press.example.org/</link>
    <description>Press releases</description>
    <item>
      <title>Minister meets the social partners</title>
      <link>https://press.example.org/releases/1</link>
      <pubDate>TBA</pubDate>
    </item>
    <item>
      <title>Budget statement</title>
      <link>https://press.example.org/releases/2</link>
      <pubDate>2026-W48-8T10:00:00+01:00</pubDate>
    </item>
    <item>
      <title>Correction to the budget statement</title>
      <link>https://press.example.org/releases/3</link>
      <pubDate>2026-11-31T10:00:00+01:00</pubDate>
      <dc:date xmlns:dc="http://purl.org/dc/elements/1.1/">2026-11-27T10:00:00+01:00</dc:date>
    </item>
    <item>
      <title>Weekly agenda</title>
      <link>https://press.example.org/releases/4</link>
      <pubDate>Fri, 27 Nov 2026 09:15:00 +0100</pubDate>
    </item>
  </channel>
</rss>
"""


def test_entries_left_undated_are_counted_in_one_warning(reader: BothPathsReader) -> None:
    document = reader.parse(PRESS_RSS, "https://press.example.org/rss")
    assert document.warnings == ("2 dates not understood (such as 'TBA'): dated when first seen",)
    items = normalise_document(feed_source(), document, now=NOW)
    assert [item.published_is_fallback for item in items] == [True, True, False, False]
    # An entry whose other date reads is dated by it, and not counted.
    assert items[2].published == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


# -- 2. listing pages: compact ISO dates with words around them -----------------------------

# A ministry's list of notices: each card says what its date is.
NOTICES_PAGE = """<!doctype html><html lang="en"><head><title>Notices</title></head><body>
<ul class="notices">
  <li class="notice"><a href="/notices/1">Call for evidence on the data strategy</a>
    <span class="meta">{first}</span></li>
  <li class="notice"><a href="/notices/2">Consultation outcome published</a>
    <span class="meta">{second}</span></li>
</ul></body></html>"""
NOTICES = Selectors(item="li.notice", title="a", link="a", date="span.meta")


def _listing(page: str, selectors: Selectors = NOTICES) -> ParsedDocument:
    return parse_document(
        html_source(selectors, language="en"),
        fetched(page.encode(), "https://ministry.example.org/notices", "text/html"),
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Published: 20261127T091500Z", "Updated 2026-W48-5T09:15Z"),
        ("Published: 2026-11-27T09:15:00Z", "Updated 2026-331T09:15Z"),
        ("Published (20261127T1015+0100)", "Updated: 2026-11-27T0915z"),
    ],
)
def test_a_compact_iso_date_with_words_before_it_is_read(first: str, second: str) -> None:
    document = _listing(NOTICES_PAGE.format(first=first, second=second))
    assert [item.published for item in document.items] == [NOV_27_0915_UTC] * 2
    assert document.warnings == ()


@pytest.mark.parametrize(
    "text",
    [
        "Reference 20261127",
        "Decision 2026-331",
        "Regulation 2024/1689",
        "Case 20261127 0915",
        "Published: 20261327T0915Z",  # no 13th month
        "Published: 2026-13-01T09:00Z",  # dateparser made it the 13th of January
    ],
)
def test_numbers_and_impossible_dates_in_a_text_are_no_date(text: str) -> None:
    assert parse_date(text, ["en"], full_year=True) is None
    assert parse_date(text) is None


# -- 3. Atom: a relative id is no address, whatever xml:base says --------------------------

# A blog's Atom feed with xml:base (its generator's), ids written as paths or numbers, and
# entries without a link of their own.
BLOG_ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example.net/">
  <title>Digital rights blog</title>
  <id>https://blog.example.net/</id>
  <link rel="alternate" href="https://blog.example.net/"/>
  <link rel="self" href="/feed.atom"/>
  <updated>2026-11-30T10:00:00Z</updated>
  <entry>
    <title>Why we bet on encryption</title>
    <id>/posts/bet</id>
    <updated>2026-11-27T09:15:00Z</updated>
    <summary>Our position on client-side scanning.</summary>
  </entry>
  <entry xml:base="https://blog.example.net/podcast/">
    <title>Episode 12: digital rights</title>
    <id>12</id>
    <link rel="enclosure" type="audio/mpeg" href="ep12.mp3"/>
    <updated>2026-11-27T10:00:00Z</updated>
    <summary>A conversation on the chat control proposal.</summary>
  </entry>
  <entry>
    <title>Open letter on the AI Act guidelines</title>
    <id>https://blog.example.net/posts/open-letter</id>
    <updated>2026-11-27T11:00:00Z</updated>
    <summary>Forty organisations signed.</summary>
  </entry>
  <entry>
    <title>Annual report</title>
    <id>tag:blog.example.net,2026:annual-report</id>
    <link href="posts/annual-report"/>
    <updated>2026-11-27T12:00:00Z</updated>
    <summary>Our year in review.</summary>
  </entry>
  <entry>
    <title>Hearing in the LIBE committee</title>
    <id>/posts/hearing</id>
    <link href="/posts/hearing"/>
    <updated>2026-11-27T13:00:00Z</updated>
    <summary>Our testimony.</summary>
  </entry>
</feed>
"""
BLOG_URL = "https://blog.example.net/feed.atom"


def test_a_relative_atom_id_under_xml_base_makes_no_link(reader: BothPathsReader) -> None:
    document = reader.parse(BLOG_ATOM, BLOG_URL)
    assert [(raw.guid, raw.url) for raw in document.items] == [
        ("/posts/bet", None),  # was "https://blog.example.net/posts/bet", made up
        ("12", None),  # was ".../podcast/12"
        ("https://blog.example.net/posts/open-letter",) * 2,  # an address: the entry's page
        ("tag:blog.example.net,2026:annual-report", "https://blog.example.net/posts/annual-report"),
        # Beside a link of its own, the id is left as before: stored items keep their identity.
        ("https://blog.example.net/posts/hearing",) * 2,
    ]


def test_entries_whose_atom_id_is_relative_point_to_the_feed_as_link_less_ones_do(
    reader: BothPathsReader,
) -> None:
    bet, episode, letter, report, _ = reader.items(BLOG_ATOM, BLOG_URL)
    assert (bet.identity, episode.identity) == ("g:/posts/bet", "g:12")
    for item in (bet, episode):
        assert item.url == "https://blog.example.net/"
        assert item.canonical_url.startswith("https://blog.example.net/#entry-")
    assert bet.canonical_url != episode.canonical_url
    assert letter.url == "https://blog.example.net/posts/open-letter"
    assert report.url == "https://blog.example.net/posts/annual-report"


# An RSS feed with xml:base (as some generators write it): feedparser resolved its permalink
# guids against it too.
BASED_RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xml:base="https://www.example.org/newsroom/">
  <channel>
    <title>Newsroom</title>
    <link>https://www.example.org/newsroom/</link>
    <description>Statements and press releases</description>
    <item>
      <title>Statement on the Council's general approach</title>
      <guid>12345</guid>
      <pubDate>Fri, 27 Nov 2026 09:15:00 +0100</pubDate>
    </item>
    <item>
      <title>Agenda of the week</title>
      <guid>/newsroom/agenda-48</guid>
      <pubDate>Fri, 27 Nov 2026 16:00:00 +0100</pubDate>
    </item>
  </channel>
</rss>
"""


def test_an_rss_guid_that_is_no_address_makes_no_link_under_xml_base_either(
    reader: BothPathsReader,
) -> None:
    statement, agenda = reader.parse(BASED_RSS, "https://www.example.org/newsroom/rss").items
    assert (statement.guid, statement.url) == ("12345", None)
    # A path from the site's root is the entry's page in RSS: a link, as without xml:base.
    assert agenda.url == "https://www.example.org/newsroom/agenda-48"


# -- 4. JSON Feed reads "24:00" and zone names as RSS and Atom do ----------------------------


def _json_feed_date(written: str) -> tuple[datetime | None, tuple[str, ...]]:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Agency news",
        "home_page_url": "https://agentur.example.org/",
        "items": [
            {
                "id": "4711",
                "url": "https://agentur.example.org/publikationen/4711",
                "title": "Jahresbericht 2026",
                "content_text": "Der Jahresbericht ist erschienen.",
                "date_published": written,
            }
        ],
    }
    document = parse_feed(
        feed_source(), fetched(json.dumps(feed).encode(), "https://agentur.example.org/feed.json")
    )
    return document.items[0].published, document.warnings


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2026-11-26T24:00Z", datetime(2026, 11, 27, tzinfo=UTC)),
        ("2026-11-26T24:00:00+01:00", datetime(2026, 11, 26, 23, 0, tzinfo=UTC)),
        ("2026-11-27T0915 CET", datetime(2026, 11, 27, 8, 15, tzinfo=UTC)),
        ("2026-11-27T09:15:00 CET", datetime(2026, 11, 27, 8, 15, tzinfo=UTC)),
        ("2026-W48-5 09:15Z", NOV_27_0915_UTC),
    ],
)
def test_a_json_feed_date_reads_as_the_same_date_in_rss(
    reader: BothPathsReader, written: str, expected: datetime
) -> None:
    published, warnings = _json_feed_date(written)
    (in_rss,) = reader.parse(REGISTER_RSS.format(date=written), REGISTER_URL).items
    assert published == in_rss.published
    assert published is not None and published.astimezone(UTC) == expected
    assert warnings == ()


@pytest.mark.parametrize("written", ["2024-13-01", "2026-W54-1T09:15Z", "20261127T2515Z"])
def test_an_impossible_json_feed_date_is_unread_and_said(written: str) -> None:
    published, warnings = _json_feed_date(written)
    assert published is None
    assert warnings == (f"1 date not understood (such as {written!r}): dated when first seen",)


def test_a_json_feed_date_alone_is_midnight_utc_as_before() -> None:
    assert _json_feed_date("2026-11-27")[0] == datetime(2026, 11, 27, tzinfo=UTC)
    assert _json_feed_date("2026-W48-5")[0] == datetime(2026, 11, 27, tzinfo=UTC)
    assert _json_feed_date("2026-W48")[0] == datetime(2026, 11, 23, tzinfo=UTC)


# -- 5. listing pages warn of an offset no zone has, as feeds do ---------------------------

# An institution's agenda page: machine-readable dates in <time datetime>, two of them with
# an offset its template got wrong.
AGENDA_PAGE = """<!doctype html><html lang="en"><head><title>Agenda</title></head><body>
<div class="agenda">
  <article class="event"><h3><a href="/agenda/hearing">Hearing on the budget</a></h3>
    <time datetime="2026-11-27T09:15+25:00">27 November, 09:15</time></article>
  <article class="event"><h3><a href="/agenda/vote">Committee vote</a></h3>
    <time datetime="20261127T0915+2500">27 November, 09:15</time></article>
  <article class="event"><h3><a href="/agenda/press">Press conference</a></h3>
    <time datetime="2026-11-27T11:00+01:00">27 November, 11:00</time></article>
</div></body></html>"""
AGENDA = Selectors(item="article.event", title="h3", link="h3 a", date="time@datetime")


def test_a_listing_page_date_in_an_offset_no_zone_has_is_warned_of_as_in_a_feed(
    reader: BothPathsReader,
) -> None:
    page = _listing(AGENDA_PAGE, AGENDA)
    assert [item.published for item in page.items] == [
        datetime(2026, 11, 27, 9, 15),  # the source's local time, as in a feed
        datetime(2026, 11, 27, 9, 15),
        datetime(2026, 11, 27, 11, 0, tzinfo=timezone(timedelta(hours=1))),
    ]
    feed = REGISTER_RSS.replace(
        "</channel>",
        "<item><title>Vote</title><link>https://www.example.org/register/doc/2</link>"
        "<pubDate>20261127T0915+2500</pubDate></item></channel>",
    )
    in_rss = reader.parse(feed.format(date="2026-11-27T09:15+25:00"), REGISTER_URL)
    assert page.warnings == in_rss.warnings
    assert page.warnings == (
        "dates in a time zone not known here (+2500, +25:00) were read in the source's time"
        " zone (set `timezone` in sources.toml if that is wrong)",
    )


# Layouts whose feedparser reading is wrong without a word: read by ours instead (found by
# serving such feeds; each was stored at the wrong instant with no warning).
FEEDPARSER_MISREAD = {
    "2026/07/27 16:31:00 +0200": datetime(2026, 7, 27, 14, 31, tzinfo=UTC),  # 1 November to it
    "2025/03/05 10:00 +0100": datetime(2025, 3, 5, 9, 0, tzinfo=UTC),
    "Mon, 27 Jul 2026 4:31:00 PM +0200": datetime(2026, 7, 27, 14, 31, tzinfo=UTC),  # 04:31
    "Mon, 27 Jul 2026 12:10:00 AM +0200": datetime(2026, 7, 26, 22, 10, tzinfo=UTC),
    "Mon, 27 Jul 2026 4:31 PM +0000": datetime(2026, 7, 27, 16, 31, tzinfo=UTC),
    "Tue, 24 Nov 2026 09.00.00 +0100": datetime(2026, 11, 24, 8, 0, tzinfo=UTC),  # midnight
}


@pytest.mark.parametrize("kind", FEEDS)
@pytest.mark.parametrize(("written", "expected"), list(FEEDPARSER_MISREAD.items()))
def test_a_date_feedparser_misreads_is_read_by_ours(
    reader: BothPathsReader, kind: str, written: str, expected: datetime
) -> None:
    template, url = FEEDS[kind]
    document = reader.parse(template.format(date=written), url)
    assert document.warnings == ()
    (item,) = normalise_document(feed_source(), document, now=NOW)
    assert not item.published_is_fallback
    assert item.published == expected
