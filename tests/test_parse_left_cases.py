"""Cases an audit left: ISO 8601 dates in their basic and mixed layouts, RSS guids that are
no address, and Atom entries read by their id (never their <source>'s).

Every document is read twice, by feedparser alone and with the fast path (fastfeed.py), and
the two readings must be equal; where the fast path was made for the document, it must take
it too.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from aggregator.normalise import normalise_document
from aggregator.parse.dates import parse_date, parse_date_fast
from aggregator.parse.feed import parse_feed
from tests.support_fastfeed import BothPathsReader
from tests.support_parse import feed_source, fetched

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def tz(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


@pytest.fixture()
def reader(monkeypatch: pytest.MonkeyPatch) -> BothPathsReader:
    return BothPathsReader(monkeypatch, now=NOW)


# -- 1. ISO 8601 dates in the basic and mixed layouts --------------------------------------

# A register's RSS export, as a Java CMS writes it: ISO 8601's basic format in <pubDate>.
REGISTER_RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>Register of Commission documents</title>
    <link>https://www.example.org/register/</link>
    <description>Documents added to the register</description>
    <language>en</language>
    <item>
      <title>Commission decision on the accession negotiations</title>
      <link>https://www.example.org/register/doc/C-2026-8812</link>
      <guid isPermaLink="false">C(2026) 8812</guid>
      <pubDate>{date}</pubDate>
    </item>
  </channel>
</rss>
"""

# An Atom feed of a national agency's publications, its dates written compactly.
AGENCY_ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="de">
  <title>Veröffentlichungen</title>
  <id>tag:agentur.example.org,2026:publikationen</id>
  <link rel="alternate" href="https://agentur.example.org/publikationen"/>
  <link rel="self" href="https://agentur.example.org/publikationen.atom"/>
  <updated>2026-11-30T10:00:00Z</updated>
  <entry>
    <title>Jahresbericht 2026</title>
    <id>tag:agentur.example.org,2026:publikation-4711</id>
    <link href="https://agentur.example.org/publikationen/4711"/>
    <updated>{date}</updated>
  </entry>
</feed>
"""

NOV_27_0915_UTC = datetime(2026, 11, 27, 9, 15, tzinfo=UTC)
NOV_27_0915_CET = datetime(2026, 11, 27, 9, 15, tzinfo=tz(1))

COMPACT_DATES = {
    # The basic format, with each zone layout.
    "20261127T091500Z": NOV_27_0915_UTC,
    "20261127T0915Z": NOV_27_0915_UTC,
    "20261127T09Z": datetime(2026, 11, 27, 9, tzinfo=UTC),
    "20261127T091500+0100": NOV_27_0915_CET,
    "20261127T0915+0100": NOV_27_0915_CET,
    "20261127T091500+01": NOV_27_0915_CET,
    "20261127T091500+01:00": NOV_27_0915_CET,
    "20261127T091500-0500": datetime(2026, 11, 27, 9, 15, tzinfo=tz(-5)),
    "20261127T0915-05": datetime(2026, 11, 27, 9, 15, tzinfo=tz(-5)),
    "20261127T091500.250Z": datetime(2026, 11, 27, 9, 15, 0, 250_000, tzinfo=UTC),
    "20261127T091500,5Z": datetime(2026, 11, 27, 9, 15, 0, 500_000, tzinfo=UTC),
    # Lower-case designators, as RFC 3339 allows.
    "20261127t091500z": NOV_27_0915_UTC,
    "2026-11-27t09:15:00z": NOV_27_0915_UTC,
    # Mixed layouts: a basic date with an extended time, and the other way round.
    "20261127T09:15:00Z": NOV_27_0915_UTC,
    "20261127T09:15+01:00": NOV_27_0915_CET,
    "2026-11-27T0915Z": NOV_27_0915_UTC,
    "2026-11-27T091500+01:00": NOV_27_0915_CET,
    # Week dates (feedparser reads them as the 1st of the month) and ordinal dates.
    "2026-W48-5T09:15:00+01:00": NOV_27_0915_CET,
    "2026W485T0915Z": NOV_27_0915_UTC,
    "2026-331T09:15Z": NOV_27_0915_UTC,
    "2026331T0915Z": NOV_27_0915_UTC,
    # The end of the day, as ISO 8601 allows: the next day's midnight.
    "20261127T2400Z": datetime(2026, 11, 28, tzinfo=UTC),
}


@pytest.mark.parametrize(("written", "expected"), list(COMPACT_DATES.items()))
def test_an_rss_date_in_iso_8601_basic_or_mixed_layout_keeps_its_time_and_zone(
    reader: BothPathsReader, written: str, expected: datetime
) -> None:
    document = reader.parse(REGISTER_RSS.format(date=written))
    assert reader.fast_took_it
    (item,) = document.items
    assert item.published == expected
    assert item.published is not None and item.published.utcoffset() == expected.utcoffset()
    assert document.warnings == ()


@pytest.mark.parametrize(("written", "expected"), list(COMPACT_DATES.items()))
def test_an_atom_date_in_iso_8601_basic_or_mixed_layout_keeps_its_time_and_zone(
    reader: BothPathsReader, written: str, expected: datetime
) -> None:
    document = reader.parse(AGENCY_ATOM.format(date=written))
    assert reader.fast_took_it
    (item,) = document.items
    assert item.updated == item.published == expected


BRUSSELS = replace(feed_source(), timezone="Europe/Brussels")


@pytest.mark.parametrize(
    "written", ["20261127T091500", "20261127T0915", "2026-11-27T0915", "20261127T09:15"]
)
def test_a_compact_date_without_a_zone_is_the_sources_local_time_as_an_extended_one_is(
    reader: BothPathsReader, written: str
) -> None:
    (compact,) = reader.items(REGISTER_RSS.format(date=written), source=BRUSSELS)
    (extended,) = reader.items(REGISTER_RSS.format(date="2026-11-27T09:15:00"), source=BRUSSELS)
    assert compact.published == extended.published == datetime(2026, 11, 27, 8, 15, tzinfo=UTC)


@pytest.mark.parametrize("written", ["20261127T0000", "2026-11-27T0000", "20261127T000000"])
def test_a_compact_local_midnight_is_a_time_not_a_date_alone(
    reader: BothPathsReader, written: str
) -> None:
    # A date alone is midnight UTC; midnight written as a time is the source's midnight.
    (item,) = reader.items(REGISTER_RSS.format(date=written), source=BRUSSELS)
    assert item.published == datetime(2026, 11, 26, 23, 0, tzinfo=UTC)


def test_a_compact_date_with_a_zone_name_after_it_is_read_at_that_zone(
    reader: BothPathsReader,
) -> None:
    (item,) = reader.parse(REGISTER_RSS.format(date="20261127T0915 CET")).items
    assert item.published == NOV_27_0915_CET


def test_a_compact_date_in_a_zone_nobody_knows_is_local_time_with_the_warning(
    reader: BothPathsReader,
) -> None:
    # As "2026-11-27T09:15:00 XYZT" is: the time as written, in the source's zone, said so.
    document = reader.parse(REGISTER_RSS.format(date="20261127T0915 XYZT"))
    assert document.items[0].published == datetime(2026, 11, 27, 9, 15)
    assert len(document.warnings) == 1
    assert "(XYZT)" in document.warnings[0]
    (item,) = normalise_document(BRUSSELS, document, now=NOW)
    assert item.published == datetime(2026, 11, 27, 8, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "20261327T0915Z",  # no 13th month
        "20261127T2515Z",  # no 25th hour
        "2026-W54-1T09:00Z",  # no 54th week
        "2026367T09:00Z",  # 2026 has 365 days
    ],
)
def test_an_impossible_compact_date_is_no_date(text: str) -> None:
    assert parse_date_fast(text) is None
    assert parse_date(text) is None


@pytest.mark.parametrize("text", ["20261127", "2026331", "Decision 2026-331", "Case 20261127"])
def test_numbers_without_a_time_are_not_read_as_compact_dates(text: str) -> None:
    # On a listing page an eight-digit number or "2026-331" is a reference as often as a
    # date. (A feed's <pubDate>20261127</pubDate> is feedparser's: midnight UTC, as ours.)
    assert parse_date_fast(text) is None


def test_a_week_date_alone_is_that_day(reader: BothPathsReader) -> None:
    (item,) = reader.parse(REGISTER_RSS.format(date="2026-W48-5")).items
    assert item.published == datetime(2026, 11, 27, tzinfo=UTC)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2026-W48-5T09:15:00+01:00", NOV_27_0915_CET),  # was 09:15 UTC: its zone dropped
        ("2026-W48-5", datetime(2026, 11, 27, tzinfo=UTC)),
        ("20261127T091500+0100", NOV_27_0915_CET),
        ("2026-11-27t09:15:00z", NOV_27_0915_UTC),
    ],
)
def test_a_json_feed_date_in_another_iso_8601_layout_keeps_its_zone(
    written: str, expected: datetime
) -> None:
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
        feed_source(),
        fetched(json.dumps(feed).encode(), "https://agentur.example.org/feed.json"),
    )
    (item,) = document.items
    assert item.published == expected
    assert item.published is not None and item.published.utcoffset() == expected.utcoffset()


# -- 2. an RSS guid that is no address is no link -------------------------------------------

# A CMS's feed whose items have no <link>, and guids that are its database keys.
NEWSROOM_RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>Newsroom</title>
    <link>https://www.example.org/newsroom/</link>
    <description>Statements and press releases</description>
    <item>
      <title>Statement on the Council's general approach</title>
      <description>The Council agreed its position today.</description>
      <guid>12345</guid>
      <pubDate>Fri, 27 Nov 2026 09:15:00 +0100</pubDate>
    </item>
    <item>
      <title>Press release: new members of the board</title>
      <description>Three new members were appointed.</description>
      <guid isPermaLink="true">article-12346</guid>
      <pubDate>Fri, 27 Nov 2026 10:30:00 +0100</pubDate>
    </item>
    <item>
      <title>Podcast: the week in Brussels</title>
      <guid>12347</guid>
      <enclosure url="https://media.example.org/podcast/12347.mp3" type="audio/mpeg"
        length="1048576"/>
      <pubDate>Fri, 27 Nov 2026 12:00:00 +0100</pubDate>
    </item>
    <item>
      <title>Hearing on the budget</title>
      <guid>www.example.org/newsroom/hearing-budget</guid>
      <pubDate>Fri, 27 Nov 2026 14:00:00 +0100</pubDate>
    </item>
    <item>
      <title>Speech at the plenary</title>
      <guid>https://www.example.org/newsroom/speech-plenary</guid>
      <pubDate>Fri, 27 Nov 2026 15:00:00 +0100</pubDate>
    </item>
    <item>
      <title>Agenda of the week</title>
      <guid>/newsroom/agenda-48</guid>
      <pubDate>Fri, 27 Nov 2026 16:00:00 +0100</pubDate>
    </item>
  </channel>
</rss>
"""


def test_an_rss_guid_that_is_no_address_is_the_identity_not_the_link(
    reader: BothPathsReader,
) -> None:
    document = reader.parse(NEWSROOM_RSS)
    assert reader.fast_took_it
    assert [(raw.guid, raw.url) for raw in document.items] == [
        ("12345", None),
        ("article-12346", None),
        ("12347", None),  # an enclosure is no page of the item's
        ("www.example.org/newsroom/hearing-budget", None),  # no scheme: a guess, not a link
        (
            "https://www.example.org/newsroom/speech-plenary",
            "https://www.example.org/newsroom/speech-plenary",
        ),
        ("/newsroom/agenda-48", "https://www.example.org/newsroom/agenda-48"),  # the site's path
    ]


def test_items_whose_guid_is_no_address_point_to_the_channel_and_are_never_one_by_url(
    reader: BothPathsReader,
) -> None:
    items = reader.items(NEWSROOM_RSS)
    unlinked = items[:4]
    assert [item.identity for item in unlinked] == [
        "g:12345",
        "g:article-12346",
        "g:12347",
        "g:www.example.org/newsroom/hearing-budget",
    ]
    # As every item without a link of its own: the channel's link to show, and a canonical
    # URL of its own, so that dedupe never takes two of them for one story by URL.
    assert {item.url for item in unlinked} == {"https://www.example.org/newsroom/"}
    canonicals = [item.canonical_url for item in unlinked]
    assert all(c.startswith("https://www.example.org/newsroom#entry-") for c in canonicals)
    assert len(set(canonicals)) == 4
    assert items[4].url == items[4].canonical_url == items[4].guid
    assert items[5].url == "https://www.example.org/newsroom/agenda-48"


# -- 3. Atom: the id is the link when it is an address; a <source>'s never -----------------

SYNDICATED_ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Civil society news, syndicated</title>
  <id>https://planet.example.net/</id>
  <link rel="alternate" href="https://planet.example.net/"/>
  <link rel="self" href="https://planet.example.net/atom.xml"/>
  <updated>2026-11-30T10:00:00Z</updated>
  <entry>
    <title>Open letter on the chat control proposal</title>
    <id>https://ngo.example.org/2026/11/open-letter</id>
    <updated>2026-11-27T09:15:00Z</updated>
    <summary>Forty organisations signed.</summary>
  </entry>
  <entry>
    <title>Annual report published</title>
    <id>https://ngo.example.org/2026/11/annual-report</id>
    <link rel="self" href="https://ngo.example.org/api/posts/881"/>
    <link rel="enclosure" type="application/pdf"
      href="https://ngo.example.org/files/annual-report.pdf"/>
    <updated>2026-11-27T10:00:00Z</updated>
  </entry>
  <entry>
    <source>
      <id>https://other.example.com/feed.atom</id>
      <title>Other NGO</title>
      <link rel="alternate" href="https://other.example.com/"/>
      <link rel="self" href="https://other.example.com/feed.atom"/>
      <updated>2026-11-26T08:00:00Z</updated>
    </source>
    <title>Consultation response on the AI Act guidelines</title>
    <id>https://other.example.com/posts/consultation-response</id>
    <updated>2026-11-27T11:00:00Z</updated>
  </entry>
  <entry>
    <title>Hearing in the LIBE committee</title>
    <id>tag:other.example.com,2026:post-77</id>
    <updated>2026-11-27T12:00:00Z</updated>
    <source>
      <id>https://other.example.com/feed.atom</id>
      <title>Other NGO</title>
      <link rel="alternate" href="https://other.example.com/"/>
    </source>
  </entry>
  <entry>
    <title>Statement without an id</title>
    <updated>2026-11-27T13:00:00Z</updated>
    <summary>A syndicated entry whose generator wrote no id.</summary>
    <source>
      <id>https://third.example.com/feed.atom</id>
      <link rel="alternate" href="https://third.example.com/"/>
    </source>
  </entry>
  <entry>
    <title>Episode 12: digital rights</title>
    <id>12</id>
    <link rel="enclosure" type="audio/mpeg" href="https://media.example.net/ep12.mp3"/>
    <updated>2026-11-27T14:00:00Z</updated>
  </entry>
</feed>
"""


def test_an_atom_entry_without_a_link_is_at_its_id_when_that_is_an_address(
    reader: BothPathsReader,
) -> None:
    items = reader.parse(SYNDICATED_ATOM).items
    assert [(raw.guid, raw.url) for raw in items[:3]] == [
        ("https://ngo.example.org/2026/11/open-letter",) * 2,
        ("https://ngo.example.org/2026/11/annual-report",) * 2,  # self and enclosure: no page
        ("https://other.example.com/posts/consultation-response",) * 2,
    ]


def test_an_atom_sources_id_and_link_are_never_the_entrys(reader: BothPathsReader) -> None:
    items = reader.parse(SYNDICATED_ATOM).items
    hearing, statement = items[3], items[4]
    assert (hearing.guid, hearing.url) == ("tag:other.example.com,2026:post-77", None)
    assert (statement.guid, statement.url) == (None, None)
    assert items[2].updated == datetime(2026, 11, 27, 11, 0, tzinfo=UTC)  # not the source's
    normalised = normalise_document(feed_source(), reader.parse(SYNDICATED_ATOM), now=NOW)
    assert all("example.com/feed.atom" not in item.url for item in normalised)
    assert normalised[4].identity.startswith("h:")


def test_an_atom_id_that_is_no_address_makes_no_link_beside_other_links(
    reader: BothPathsReader,
) -> None:
    episode = reader.parse(SYNDICATED_ATOM).items[5]
    assert (episode.guid, episode.url) == ("12", None)
