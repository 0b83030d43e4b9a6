"""parse_date: fast paths for feed dates, dateparser for the dates listing pages write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.parse import dates
from aggregator.parse.dates import parse_date, parse_date_fast


def tz(hours: float) -> timezone:
    return timezone(timedelta(hours=hours))


def day(year: int, month: int, date: int) -> datetime:
    """A date written without a time of day: midnight UTC, whatever the source's zone."""
    return datetime(year, month, date, tzinfo=UTC)


CASES = [
    # (text, languages, expected)
    ("2025-11-12T09:00+01:00", None, datetime(2025, 11, 12, 9, 0, tzinfo=tz(1))),
    ("2025-11-12T08:15:30Z", None, datetime(2025, 11, 12, 8, 15, 30, tzinfo=tz(0))),
    ("2025-11-12 08:15:30.250+02:00", None, datetime(2025, 11, 12, 8, 15, 30, 250000, tz(2))),
    ("2025-11-12", None, day(2025, 11, 12)),
    ("2012-11-13T14:36:22", None, datetime(2012, 11, 13, 14, 36, 22)),
    ("Thu, 13 Nov 2025 12:15:00 +0100", None, datetime(2025, 11, 13, 12, 15, tzinfo=tz(1))),
    ("Wed, 02 Oct 2002 08:00:00 EST", None, datetime(2002, 10, 2, 8, 0, tzinfo=tz(-5))),
    ("Wed, 02 Oct 2002 13:00:00 GMT", None, datetime(2002, 10, 2, 13, 0, tzinfo=tz(0))),
    ("Thu, 12 Nov 2025 10:00:00 CET", None, datetime(2025, 11, 12, 10, 0, tzinfo=tz(1))),
    # RFC 5322: -0000 is UT, the sender's own zone unknown (Python's formatdate writes it).
    ("Wed, 02 Oct 2002 13:00:00 -0000", None, datetime(2002, 10, 2, 13, 0, tzinfo=tz(0))),
    ("Tue, 21 Sep 2021 10:00:00 JST", None, datetime(2021, 9, 21, 10, 0, tzinfo=tz(9))),
    ("Tue, 21 Sep 2021 10:00:00 MSK", None, datetime(2021, 9, 21, 10, 0, tzinfo=tz(3))),
    # 24:00, the end of a day (ISO 8601): the next day's midnight.
    ("Tue, 21 Sep 2021 24:00:00 GMT", None, datetime(2021, 9, 22, 0, 0, tzinfo=tz(0))),
    # A leap second: the second before, as in ISO dates (not the day alone, at midnight).
    ("Wed, 31 Dec 2008 23:59:60 GMT", None, datetime(2008, 12, 31, 23, 59, 59, tzinfo=tz(0))),
    ("2021-09-21T24:00:00+02:00", None, datetime(2021, 9, 22, 0, 0, tzinfo=tz(2))),
    ("Thu, 12 Nov 25 10:00 +0530", None, datetime(2025, 11, 12, 10, 0, tzinfo=tz(5.5))),
    ("Seg, 24 Set 2018 19:42:40 -0300", None, datetime(2018, 9, 24, 19, 42, 40, tzinfo=tz(-3))),
    ("mer, 16 nov 2022 00:38:15 +0100", None, datetime(2022, 11, 16, 0, 38, 15, tzinfo=tz(1))),
    ("12 novembre 2025", ["fr"], day(2025, 11, 12)),
    ("3 février 2025", ["fr"], day(2025, 2, 3)),
    ("1er décembre 2025", ["fr"], day(2025, 12, 1)),
    ("3. März 2026", ["de"], day(2026, 3, 3)),
    ("3. März 2026", ["de-DE"], day(2026, 3, 3)),
    ("14. Februar 2026, 10:30 Uhr", ["de"], datetime(2026, 2, 14, 10, 30)),
    ("12/11/2025", ["fr"], day(2025, 11, 12)),
    ("12.11.2025 09:30", ["de"], datetime(2025, 11, 12, 9, 30)),
    ("11/27/2025", ["en"], day(2025, 11, 27)),  # impossible as day-first
    ("23 May 2023", ["en"], day(2023, 5, 23)),
    # Times dateparser drops, read from the text (local time in the source's zone).
    ("le 12 novembre 2025 à 9 h", ["fr"], datetime(2025, 11, 12, 9, 0)),
    ("12 novembre 2025, 9 h 30", ["fr"], datetime(2025, 11, 12, 9, 30)),
    ("12.11.2025 — 9h", ["fr"], datetime(2025, 11, 12, 9, 0)),
    ("12.11.2025 24:00", ["de"], datetime(2025, 11, 13, 0, 0)),
    ("3 February 2026, 10:30 a.m.", ["en"], datetime(2026, 2, 3, 10, 30)),
    # The time is the second date's: the first is a date without one.
    ("Published 12 November 2025 · Updated 14 November 2025 10:00", ["en"], day(2025, 11, 12)),
    ("12.11.2025 – 14.11.2025 12:00", ["de"], day(2025, 11, 12)),
    ("Publié le 3 février 2026 à 14 h 30", ["fr"], datetime(2026, 2, 3, 14, 30)),
    ("Τρί, 29 Ιούν 2004 12:53:00 GMT", None, datetime(2004, 6, 29, 12, 53, tzinfo=tz(0))),
    # Latvian: the year first, "gada" (of the year), the month in the locative.
    ("2025. gada 6. oktobrī 11:15", ["lv"], datetime(2025, 10, 6, 11, 15)),
    ("Publicēts 2025. gada 12. martā", ["lv"], day(2025, 3, 12)),
    ("2025. gada 6. oktobrī", None, day(2025, 10, 6)),
    # Maltese: "ta’" (of) between the day and the month.
    ("6 ta’ Ottubru 2025, 11:15", ["mt"], datetime(2025, 10, 6, 11, 15)),
    ("6 ta' Ottubru 2025", ["mt"], day(2025, 10, 6)),
]


@pytest.mark.parametrize(("text", "languages", "expected"), CASES, ids=[case[0] for case in CASES])
def test_parse_date(text: str, languages: list[str] | None, expected: datetime) -> None:
    found = parse_date(text, languages)
    assert found == expected
    assert (found.tzinfo is None) == (expected.tzinfo is None)
    if found.tzinfo is not None:
        assert found.utcoffset() == expected.utcoffset()


# Listing pages write words around their dates. Each case runs with the page's language and
# with none (the EU's languages).
DATES_IN_TEXT = [
    ("Publié le 3 février 2026", "fr", day(2026, 2, 3)),
    ("Stand: 03.03.2026 14:00 Uhr", "de", datetime(2026, 3, 3, 14, 0)),
    ("Published: 12 November 2025", "en", day(2025, 11, 12)),
    ("Veröffentlicht am 3. März 2026", "de", day(2026, 3, 3)),
    ("Opublikowano: 12 listopada 2025", "pl", day(2025, 11, 12)),
    ("Updated 5 March 2026, 10:30", "en", datetime(2026, 3, 5, 10, 30)),
    ("Pubblicato il 12 novembre 2025 ore 14:30", "it", datetime(2025, 11, 12, 14, 30)),
    ("12 November 2025 | Press release", "en", day(2025, 11, 12)),
    ("Date: 2025-11-12", "en", day(2025, 11, 12)),
    ("Posted on November 12, 2025 by EDRi", "en", day(2025, 11, 12)),
    ("Publicado el 12 de noviembre de 2025 a las 10:30", "es", datetime(2025, 11, 12, 10, 30)),
    ("Közzétéve: 2025. november 12.", "hu", day(2025, 11, 12)),
    ("Posted November 12, 2025 at 2 p.m.", "en", datetime(2025, 11, 12, 14, 0)),
    ("3 Feb 2026 1 comment", "en", day(2026, 2, 3)),  # the comment count is no time
    ("Case C-311/18 of 16 July 2020", "en", day(2020, 7, 16)),
    # A zone in the text keeps the date aware; none leaves it naive.
    (
        "Published 12 November 2025 10:00 CET by admin",
        "en",
        datetime(2025, 11, 12, 10, 0, tzinfo=tz(1)),
    ),
    (
        "Last modified: Thu, 13 Nov 2025 12:15:00 +0100",
        "en",
        datetime(2025, 11, 13, 12, 15, tzinfo=tz(1)),
    ),
    (
        "Released 2025-11-12T09:00:00+01:00 (Brussels)",
        "en",
        datetime(2025, 11, 12, 9, 0, tzinfo=tz(1)),
    ),
    # Numeric dates with a space after each dot, as Czech, Slovak, Croatian and Hungarian
    # listings write them, with words around.
    ("Datum: 12. 11. 2025", "cs", day(2025, 11, 12)),
    ("12. 11. 2025 | Tisková zpráva", "cs", day(2025, 11, 12)),
    ("Vydáno: 5. 11. 2025 14:30", "cs", datetime(2025, 11, 5, 14, 30)),
    ("Objavljeno: 12. 11. 2025.", "hr", day(2025, 11, 12)),
    ("Közzétéve: 2025. 11. 12.", "hu", day(2025, 11, 12)),
    # Two dates: the first (WordPress's "Published ... · Updated ...").
    ("Published 12 November 2025 · Updated 14 November 2025", "en", day(2025, 11, 12)),
    ("Publié le 3 février 2026 | Mis à jour le 5 février 2026", "fr", day(2026, 2, 3)),
    # Ranges, also written without spaces: their first day.
    ("12.11.2025–14.11.2025", "de", day(2025, 11, 12)),
    ("12.11.2025-14.11.2025", "de", day(2025, 11, 12)),
    ("12/11/2025–14/11/2025", "fr", day(2025, 11, 12)),
    ("12 November 2025–14 November 2025", "en", day(2025, 11, 12)),
    ("2025-11-12/2025-11-14", "en", day(2025, 11, 12)),
    ("Termin: 12.11.2025, 10:00–12:00 Uhr", "de", datetime(2025, 11, 12, 10, 0)),
]


@pytest.mark.parametrize("with_language", [True, False], ids=["page language", "EU languages"])
@pytest.mark.parametrize(
    ("text", "language", "expected"), DATES_IN_TEXT, ids=[case[0] for case in DATES_IN_TEXT]
)
def test_date_with_words_around_it(
    text: str, language: str, expected: datetime, with_language: bool
) -> None:
    found = parse_date(text, [language] if with_language else None)
    assert found == expected
    assert (found.tzinfo is None) == (expected.tzinfo is None)
    if found.tzinfo is not None:
        assert found.utcoffset() == expected.utcoffset()


# Numbers in a text that are no date: an act's or a document's number, a count, a page.
NUMBERS_NOT_DATES = [
    "Regulation 2024/1689",
    "Press release 123/2025",
    "Directive 2011/93/EU",
    "Regulation (EU) 2022/2065",
    "COM(2022) 209 final",
    "Session 12 of 2025",
    "Article 5 of 2023",
    "Top 10 of 2025",
    "Page 1 of 12, 2025 archive",
    "Opened 1 of 3 2025 sessions",
    "Vote: 12 3 2025 today",
    "Agenda item 3: 2025 budget",
    "Published: yesterday",  # relative: would need a clock
    "Updated 12 November",  # no year: not guessed
    "Stand: 03.03.26",  # inside a text, the year must be written in full
]


@pytest.mark.parametrize("languages", [["en"], None], ids=["en", "EU languages"])
@pytest.mark.parametrize("text", NUMBERS_NOT_DATES, ids=NUMBERS_NOT_DATES)
def test_number_in_text_is_no_date(text: str, languages: list[str] | None) -> None:
    assert parse_date(text, languages) is None


def test_text_without_a_date_costs_few_dateparser_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    texts: list[str] = []
    natural = dates._natural

    def counting(
        text: str, languages: tuple[str, ...], month_first: bool = False
    ) -> datetime | None:
        texts.append(text)
        return natural(text, languages, month_first=month_first)

    monkeypatch.setattr(dates, "_natural", counting)
    sentence = (
        "In 2023, 12 member states and 5 others voted in 2024 on 3 texts and 7 amendments in"
        " the committee, then 2 more in plenary before the long summer break."
    )
    assert parse_date(sentence, ["en"]) is None
    assert len(texts) <= 1 + dates._MAX_NATURAL_CALLS  # the whole text, then a few windows
    assert all(len(text) < 60 for text in texts[1:])


NOT_DATES = ["", "   ", "garbage", "News", "99/99/9999", "31.02.2025", "12 novembre", "Upcoming"]


@pytest.mark.parametrize("text", NOT_DATES, ids=[repr(t) for t in NOT_DATES])
def test_not_a_full_date_is_none(text: str) -> None:
    assert parse_date(text, ["fr"]) is None


def test_tzinfo_is_a_plain_offset() -> None:
    # Library tzinfo classes (pytz, dateutil) do not survive every pickle or comparison.
    found = parse_date("3. März 2026 14:30 MEZ", ["de"])
    assert found is not None
    assert type(found.tzinfo) is timezone
    assert found.utcoffset() == timedelta(hours=1)


def test_fast_path_skips_dateparser() -> None:
    assert parse_date_fast("Thu, 13 Nov 2025 12:15:00 +0100") is not None
    assert parse_date_fast("3. März 2026") is None


# No deadline: dateparser's first call per language set loads its data (hundreds of ms), and
# this asserts "never raises", not a speed.
@settings(deadline=None)
@given(st.text(max_size=60), st.one_of(st.none(), st.lists(st.sampled_from(["fr", "de", "xx"]))))
def test_never_raises(text: str, languages: list[str] | None) -> None:
    found = parse_date(text, languages)
    assert found is None or isinstance(found, datetime)


def test_a_word_that_only_starts_like_a_month_is_no_month() -> None:
    assert parse_date("5 decisions 2025", ["en"]) is None
    assert parse_date("12 Marching 2025", ["en"]) is None
    assert parse_date("12 November 2025 10:00 +0100") == datetime(
        2025, 11, 12, 10, 0, tzinfo=timezone(timedelta(hours=1))
    )
    assert parse_date("Seg, 24 Set 2018 19:42:40 -0300") == datetime(
        2018, 9, 24, 19, 42, 40, tzinfo=timezone(timedelta(hours=-3))
    )
    assert parse_date("3 März 2026") == day(2026, 3, 3)


@pytest.mark.parametrize("language", ["fr", "de", "pl", "it"])
def test_english_dates_are_read_on_pages_in_other_languages(language: str) -> None:
    for text in ("November 12, 2025", "Posted on November 12, 2025 by EDRi"):
        assert parse_date(text, [language]) == day(2025, 11, 12)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12 Nov 25", None),  # two digits: maybe the 12th with 25 comments
        ("12/11/25", None),
        ("12 Nov 2025", day(2025, 11, 12)),
        ("5 października 2025", day(2025, 10, 5)),
    ],
)
def test_listing_pages_need_a_four_digit_year(text: str, expected: datetime | None) -> None:
    assert parse_date(text, ["en", "pl"], full_year=True) == expected


def test_feeds_keep_rfc822_two_digit_years() -> None:
    assert parse_date("Sat, 07 Sep 02 00:00:01 GMT") == datetime(2002, 9, 7, 0, 0, 1, tzinfo=UTC)


def test_a_four_digit_year_is_taken_as_written() -> None:
    # "0025" is year 25 (normalise then dates the item when first seen, as it does for any
    # date before 1990), not 2025 as a two-digit "25" would be: the same as ISO "0025-11-12".
    assert parse_date("Wed, 12 Nov 0025 10:00:00 GMT") == datetime(25, 11, 12, 10, tzinfo=UTC)
    assert parse_date("12 Nov 0025") == parse_date("0025-11-12") == day(25, 11, 12)


# Zones written in other layouts than RFC 822's: read by the fast paths, at their offset.
ZONES_ELSEWHERE = [
    # Java's Date.toString
    ("Mon Jul 27 16:31:00 CEST 2026", datetime(2026, 7, 27, 16, 31, tzinfo=tz(2))),
    ("2026-07-27T16:31:00 CEST", datetime(2026, 7, 27, 16, 31, tzinfo=tz(2))),
    # PHP's "Y-m-d H:i:s T"
    ("2026-07-27 16:31:00 CEST", datetime(2026, 7, 27, 16, 31, tzinfo=tz(2))),
    ("27.07.2026 16:31 MESZ", datetime(2026, 7, 27, 16, 31, tzinfo=tz(2))),
    ("Mon, 27 Jul 2026 16:31:00 UTC-05:00", datetime(2026, 7, 27, 16, 31, tzinfo=tz(-5))),
    ("Mon, 27 Jul 2026 16:31:00 UTC+01:00", datetime(2026, 7, 27, 16, 31, tzinfo=tz(1))),
    ("Mon, 27 Jul 2026 16:31:00 GMT+2", datetime(2026, 7, 27, 16, 31, tzinfo=tz(2))),
    ("Mon, 27 Jul 2026 16:31:00 (CET)", datetime(2026, 7, 27, 16, 31, tzinfo=tz(1))),
    ("Wed, 19 Aug 2009 18:28:00 Etc/GMT", datetime(2009, 8, 19, 18, 28, tzinfo=UTC)),
    ("Mon, 27 Jul 2026 16:31:00 Europe/Paris", datetime(2026, 7, 27, 16, 31, tzinfo=tz(2))),
    ("Tue, 27 Jan 2026 16:31:00 Europe/Paris", datetime(2026, 1, 27, 16, 31, tzinfo=tz(1))),
]


@pytest.mark.parametrize(("text", "expected"), ZONES_ELSEWHERE, ids=[c[0] for c in ZONES_ELSEWHERE])
def test_a_zone_in_another_layout_is_read_by_the_fast_paths(text: str, expected: datetime) -> None:
    found = parse_date_fast(text)
    assert found == expected
    assert found is not None and found.utcoffset() == expected.utcoffset()


# The US generic names, as feedparser reads them.
US_GENERIC = [("AT", -4), ("ET", -5), ("CT", -6), ("MT", -7), ("PT", -8)]


@pytest.mark.parametrize(("zone", "hours"), US_GENERIC, ids=[c[0] for c in US_GENERIC])
def test_us_generic_zone_names(zone: str, hours: int) -> None:
    expected = datetime(2004, 1, 26, 16, 31, tzinfo=tz(hours))
    assert parse_date_fast(f"Mon, 26 Jan 2004 16:31:00 {zone}") == expected
    assert dates.unknown_zone(f"Mon, 26 Jan 2004 16:31:00 {zone}") is None


@pytest.mark.parametrize("offset", ["+zz:00", "+00:zz", "+99:99", "-2500"])
def test_an_offset_no_zone_has_is_the_time_as_written_without_dateparser(
    offset: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What dateparser read too (the time as written, in the source's zone), but at ~10 ms
    # a date; said so by unknown_zone.
    monkeypatch.setattr(dates, "_natural", lambda text, languages, **_: pytest.fail(text))
    for text in (f"Sun, 16 Dec 2012 11:47:32 {offset}", f"2012-12-16T11:47:32{offset}"):
        assert parse_date(text) == datetime(2012, 12, 16, 11, 47, 32)
        assert dates.unknown_zone(text) == offset


def test_an_rfc822_date_in_english_costs_dateparser_one_language(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[tuple[str, ...]] = []
    natural = dates._natural

    def recording(
        text: str, languages: tuple[str, ...], month_first: bool = False
    ) -> datetime | None:
        asked.append(languages)
        return natural(text, languages, month_first=month_first)

    monkeypatch.setattr(dates, "_natural", recording)
    assert parse_date("Tue, 21 Sep 2021 10:00:00 PHT") == datetime(2021, 9, 21, 10, tzinfo=tz(8))
    assert asked == [("en",)]
    asked.clear()
    parse_date("Seg, 24 Set 2018 19:42:40 PHT")  # Portuguese: all languages, as before
    assert asked[0] == dates.DEFAULT_LANGUAGES


ZONE_WORDS = [
    ("Mon Jul 27 16:31:00 CEST 2026", "CEST"),
    ("2026-07-27 16:31:00 XYZ", "XYZ"),
    ("Monday, July 27, 2026 4:31 PM (CET)", "CET"),
    ("Mon, 27 Jul 2026 16:31:00 UTC-05:00", "UTC-05:00"),
    ("2026-07-27T16:31:00+zz:00", "+zz:00"),
    ("Mon, 27 Jul 2026 16:31:00 +0200 (CEST)", None),  # the offset in digits comes first
    ("2026-07-27T16:31:00+02:00", None),
    ("Monday, July 27, 2026 4:31 PM", None),
    ("Mon Jul 27 16:31:00 2026", None),
]


@pytest.mark.parametrize(("text", "zone"), ZONE_WORDS, ids=[c[0] for c in ZONE_WORDS])
def test_zone_word(text: str, zone: str | None) -> None:
    assert dates.zone_word(text) == zone


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("Tue, 21 Sep 2021 10:00:00 NZT", "NZT"),
        ("Mon Jul 27 16:31:00 NZT 2026", "NZT"),
        ("2026-07-27T16:31:00 NZT", "NZT"),
        ("Mon, 27 Jul 2026 16:31:00 Mars/Olympus", "Mars/Olympus"),
        ("2026-07-27 16:31:00 CEST", None),
        ("Mon, 27 Jul 2026 16:31:00 Europe/Paris", None),
        ("14.02.2026, 10:30 Uhr", None),  # a word, not a zone
    ],
)
def test_unknown_zone_in_any_layout(text: str, zone: str | None) -> None:
    assert dates.unknown_zone(text) == zone


SLOVENIAN_MONTHS = (
    "januarja", "februarja", "marca", "aprila", "maja", "junija", "julija", "avgusta",
    "septembra", "oktobra", "novembra", "decembra",
)  # fmt: skip


@pytest.mark.parametrize(("month", "name"), list(enumerate(SLOVENIAN_MONTHS, start=1)))
def test_slovenian_dates_in_the_genitive(month: int, name: str) -> None:
    # dateparser's Slovenian knows "november", not "12. novembra 2025" as pages write it.
    assert parse_date(f"12. {name} 2025", ["sl"]) == datetime(2025, month, 12, tzinfo=UTC)
    assert parse_date(f"Objavljeno 3. {name} 2025 ob 10:15", ["sl"]) == datetime(
        2025, month, 3, 10, 15
    )


def test_polish_march_is_not_read_as_slovenian() -> None:
    assert parse_date("12 marca 2025", ["pl"]) == datetime(2025, 3, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "english_only"),
    [
        ("Mon, 26 Nov 2025 10:00:00 XYZT", True),  # RFC 822's layout, a zone nobody knows
        # Not RFC 822's layout, English date words and a known zone only: tried in every
        # language, each such date cost ~30 ms, and a feed of 400 held a worker half a minute.
        ("Mon, 010 Jun 2026 10:00:00 GMT", True),
        ("Monday 3rd of June 2026, 10:00 CEST", False),  # "of": a word of a sentence
        ("Lun, 010 Jun 2026 10:00:00 GMT", False),  # a French weekday
        ("Mon, 010 Jun 2026 10:00:00 gmt", False),  # out of RFC 822's layout, a word
    ],
)
def test_a_date_in_english_date_words_only_is_read_as_english(
    text: str, english_only: bool
) -> None:
    from aggregator.parse.dates import DEFAULT_LANGUAGES, _languages_of

    assert _languages_of(text) == (("en",) if english_only else DEFAULT_LANGUAGES)
