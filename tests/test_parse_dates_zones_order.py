"""What a review of listing-page dates found: a zone named after AM or PM was dropped when
words came before the date, generic zone names (ET, PT...) had their winter offset all
year, and numeric dates were read day first on US pages that prove month first."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest

from aggregator.cli import main
from aggregator.models import Fetched, ParsedDocument, Selectors, Source
from aggregator.parse import dates, parse_document
from aggregator.parse.date_order import month_first, shown_order
from aggregator.parse.dates import parse_date, parse_date_fast
from tests.support_config import write_config
from tests.support_parse import html_source

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _aware(found: datetime | None) -> datetime:
    assert found is not None and found.tzinfo is not None, found
    return found


# --- 1. A zone after AM or PM, with words before the date ---------------------------------

ZONE_AFTER_WORDS = [
    ("Published 4 March 2026 9:00 AM GMT", _utc(2026, 3, 4, 9)),
    ("Updated: March 4, 2026 at 9:00 a.m. ET", _utc(2026, 3, 4, 14)),
    ("Posted 4 March 2026 9:00 AM EST", _utc(2026, 3, 4, 14)),
    ("By Reuters | March 4, 2026 9:00 AM ET", _utc(2026, 3, 4, 14)),
    ("Published 4 March 2026, 9:00 AM ET", _utc(2026, 3, 4, 14)),
    ("Published 4 March 2026 9 AM ET", _utc(2026, 3, 4, 14)),
    # A name dateparser does not know: read by ours, after its reading without it.
    ("Published 4 March 2026 9:00 PM CT", _utc(2026, 3, 5, 3)),
    ("Posted 4 March 2026 9 AM CT", _utc(2026, 3, 4, 15)),
    ("Published 4 March 2026 9:00 AM (CET)", _utc(2026, 3, 4, 8)),
    ("Published 4 March 2026 9:00 a.m. Europe/Paris", _utc(2026, 3, 4, 8)),
    ("Le 4 mars 2026 à 9h30 CET", _utc(2026, 3, 4, 8, 30)),
]


@pytest.mark.parametrize(
    ("text", "expected"), ZONE_AFTER_WORDS, ids=[c[0] for c in ZONE_AFTER_WORDS]
)
def test_a_zone_after_am_or_pm_is_applied_with_words_before_the_date(
    text: str, expected: datetime
) -> None:
    assert _aware(parse_date(text, ["en", "fr"], full_year=True)) == expected


DATED = [
    "4 March 2026 9:00 AM GMT",
    "March 4, 2026 at 9:00 a.m. ET",
    "4 March 2026, 9:00 PM CT",
    "July 1, 2026 9:00 AM PT",
    "1 July 2026 09:00 CEST",
    "4 March 2026 9:00 AM EST",
]
WORDS_BEFORE = ["Published ", "Updated: ", "By Reuters | ", "Posted on "]


@pytest.mark.parametrize("words", WORDS_BEFORE)
@pytest.mark.parametrize("text", DATED)
def test_words_before_a_date_change_nothing_of_its_reading(words: str, text: str) -> None:
    alone = _aware(parse_date(text, ["en"], full_year=True))
    assert parse_date(words + text, ["en"], full_year=True) == alone
    assert parse_date(words + text, None, full_year=True) == alone


def test_a_word_after_a_time_is_no_zone_unless_written_as_one() -> None:
    # "at" is not Atlantic time: naive, the source's local time, as before.
    assert parse_date("4 March 2026 9:00 at the Council", ["en"]) == datetime(2026, 3, 4, 9)
    # The time and zone of a second date are not the first date's.
    text = "Published 12 November 2025 · Updated 14 November 2025 10:00 AM ET"
    assert parse_date(text, ["en"]) == _utc(2025, 11, 12)


# --- 2. Generic names follow their zone's summer time --------------------------------------

GENERIC = {
    "ET": "America/New_York",
    "CT": "America/Chicago",
    "MT": "America/Denver",
    "PT": "America/Los_Angeles",
    "AT": "America/Halifax",
    "NT": "America/St_Johns",
    "UK": "Europe/London",
}


@pytest.mark.parametrize(("name", "zone"), GENERIC.items(), ids=list(GENERIC))
def test_a_generic_zone_name_has_its_zone_s_offset_on_every_day(name: str, zone: str) -> None:
    for month in range(1, 13):
        written = datetime(2026, month, 15, 9, 0)
        expected = written.replace(tzinfo=ZoneInfo(zone)).utcoffset()
        for text in (
            f"{written:%a, %d %b %Y %H:%M:%S} {name}",  # RFC 822: the fast path
            f"{written:%Y-%m-%d %H:%M} {name}",  # PHP's layout: the fast path
            f"{written:%a %b %d %H:%M:%S} {name} 2026",  # Java's
            f"{written:%B} 15, 2026 9:00 AM {name}",  # dateparser's, or ours after it
            f"Published {written:%B} 15, 2026 9:00 AM {name}",
        ):
            assert _aware(parse_date(text, ["en"])).utcoffset() == expected, text
            assert dates.unknown_zone(text) is None, text


REVIEWED_GENERIC = [
    ("July 1, 2026 9:00 AM ET", _utc(2026, 7, 1, 13)),
    ("1 July 2026 09:00 PT", _utc(2026, 7, 1, 16)),
    ("2026-07-01 09:00 CT", _utc(2026, 7, 1, 14)),
    ("Wed, 01 Jul 2026 09:00:00 MT", _utc(2026, 7, 1, 15)),
    ("4 March 2026 9:00 AM ET", _utc(2026, 3, 4, 14)),  # before the US summer time
    ("March 8, 2026 1:30 AM ET", _utc(2026, 3, 8, 6, 30)),  # the night it begins
    ("March 8, 2026 3:30 AM ET", _utc(2026, 3, 8, 7, 30)),
    ("Published 1 July 2026 10am UK time", _utc(2026, 7, 1, 9)),
]


@pytest.mark.parametrize(
    ("text", "expected"), REVIEWED_GENERIC, ids=[c[0] for c in REVIEWED_GENERIC]
)
def test_generic_names_on_summer_days(text: str, expected: datetime) -> None:
    assert _aware(parse_date(text, ["en"], full_year=True)) == expected


def test_the_fast_path_reads_a_generic_name_on_its_day_too() -> None:
    # Feeds: their RFC 822 dates take the fast path alone.
    found = parse_date_fast("Wed, 01 Jul 2026 09:00:00 ET")
    assert _aware(found).utcoffset() == timedelta(hours=-4)


FIXED = [
    ("Wed, 01 Jul 2026 09:00:00 EST", -5),
    ("Wed, 14 Jan 2026 09:00:00 EDT", -4),
    ("Wed, 14 Jan 2026 09:00:00 CEST", 2),
    ("Wed, 01 Jul 2026 09:00:00 CET", 1),
    ("Wed, 01 Jul 2026 09:00:00 GMT", 0),
    ("Wed, 14 Jan 2026 09:00:00 BST", 1),
    ("1 July 2026 9:00 AM PST", -8),
    ("Published 1 July 2026 9:00 AM CET", 1),
]


@pytest.mark.parametrize(("text", "hours"), FIXED, ids=[c[0] for c in FIXED])
def test_a_name_of_one_offset_keeps_it_all_year(text: str, hours: int) -> None:
    assert _aware(parse_date(text, ["en"])).utcoffset() == timedelta(hours=hours)


# --- 3. Month or day first -------------------------------------------------------------------

ORDERS = [
    # (text, month first?, expected)
    ("11/12/2025", False, _utc(2025, 12, 11)),
    ("11/12/2025", True, _utc(2025, 11, 12)),
    ("11-12-2025", True, _utc(2025, 11, 12)),
    ("13/11/2025", True, _utc(2025, 11, 13)),  # only one reading: whatever we are told
    ("11/13/2025", False, _utc(2025, 11, 13)),
    ("11.12.2025", True, _utc(2025, 12, 11)),  # dots: day first, as where they are written
    ("Posted 11/12/2025", True, _utc(2025, 11, 12)),
    ("11/12/2025 9:00 AM", True, datetime(2025, 11, 12, 9)),  # dateparser's reading
    ("11/12/2025 9:00 AM", False, datetime(2025, 12, 11, 9)),
    ("Posted 11/12/2025 9:00 AM ET", True, _utc(2025, 11, 12, 14)),
    ("11.12.2025 9:00 AM", True, datetime(2025, 12, 11, 9)),
    ("12 November 2025", True, _utc(2025, 11, 12)),  # a month's name is a month
    ("2025-11-12", True, _utc(2025, 11, 12)),
]


@pytest.mark.parametrize(
    ("text", "first", "expected"), ORDERS, ids=[f"{c[0]}-{c[1]}" for c in ORDERS]
)
def test_a_numeric_date_is_read_in_the_order_asked(
    text: str, first: bool, expected: datetime
) -> None:
    assert parse_date(text, ["en"], full_year=True, month_first=first) == expected


def test_the_listing_s_dates_show_their_order() -> None:
    assert shown_order(["11/12/2025", "11/13/2025", None]) is True
    assert shown_order(["11/12/2025", "Published 13/11/2025"]) is False
    assert shown_order(["11/12/2025", "03/04/2026"]) is None  # nothing proves either
    assert shown_order(["11/13/2025", "13/11/2025"]) is None  # both: nothing proved
    assert shown_order(["13.11.2025", "2025-11-13", "Regulation 2024/1689"]) is None
    assert shown_order(["11/13/2025–11/14/2025"]) is True  # a range
    assert shown_order(["11/12/2025-11/13/2025"]) is True


@pytest.mark.parametrize(
    ("shown", "country", "languages", "expected"),
    [
        (True, "BE", ("en-GB",), True),  # the page's own dates first
        (False, "US", ("en-US",), False),
        (None, "US", ("en",), True),
        (None, "us", (None, None), True),
        (None, "BE", ("en-US",), False),  # the operator's word over a CMS's default lang
        (None, "UK", ("en-US",), False),
        (None, None, ("en-US",), True),
        (None, None, (None, "en-US"), True),  # the page's, the item having none
        (None, None, ("en-GB", "en-US"), False),  # the item's own first
        (None, None, ("en", "en-US"), True),  # "en" names no region
        (None, None, ("en_us",), True),
        (None, None, ("es-419",), False),
        (None, None, ("en",), False),
        (None, None, (), False),
    ],
)
def test_the_order_follows_the_strongest_evidence(
    shown: bool | None, country: str | None, languages: tuple[str | None, ...], expected: bool
) -> None:
    assert month_first(shown, country, languages) is expected


US_SELECTORS = Selectors(item="div.n", title="a", link="a", date=".f")


def _us_page(*dated: str, lang: str = "en-US") -> str:
    rows = "".join(
        f'<div class="n"><a href="/us/{n}">Item {n}</a><span class="f">{date}</span></div>'
        for n, date in enumerate(dated, start=1)
    )
    return f'<!DOCTYPE html><html lang="{lang}"><body>{rows}</body></html>'


def _parse(page: str, *, country: str | None, timezone: str = "America/New_York") -> ParsedDocument:
    source: Source = replace(
        html_source(US_SELECTORS, language="en"), country=country, timezone=timezone
    )
    headers = {"content-type": "text/html; charset=utf-8"}
    fetched = Fetched(
        url="https://agency.example/us/", status_code=200, content=page.encode(), headers=headers
    )
    return parse_document(source, fetched)


def _published(doc: ParsedDocument) -> list[datetime | None]:
    return [item.published for item in doc.items]


@pytest.mark.parametrize("country", ["US", None])
def test_a_us_listing_reads_its_dates_month_first(country: str | None) -> None:
    doc = _parse(_us_page("11/12/2025", "11/13/2025", "03/04/2026"), country=country)
    assert _published(doc) == [_utc(2025, 11, 12), _utc(2025, 11, 13), _utc(2026, 3, 4)]
    assert doc.warnings == ()


@pytest.mark.parametrize(
    ("country", "lang", "expected"),
    [
        ("US", "en", _utc(2025, 11, 12)),
        (None, "en-US", _utc(2025, 11, 12)),
        ("BE", "en-US", _utc(2025, 12, 11)),
        (None, "en", _utc(2025, 12, 11)),
        (None, "en-GB", _utc(2025, 12, 11)),
    ],
)
def test_without_proof_on_the_page_the_country_then_the_lang_decide(
    country: str | None, lang: str, expected: datetime
) -> None:
    doc = _parse(_us_page("11/12/2025", lang=lang), country=country)
    assert _published(doc) == [expected]


def test_the_page_s_dates_prove_their_order_over_the_country_and_lang() -> None:
    month_first_page = _us_page("11/12/2025", "11/13/2025", lang="en-GB")
    assert _published(_parse(month_first_page, country="BE"))[0] == _utc(2025, 11, 12)
    day_first_page = _us_page("11/12/2025", "13/11/2025", lang="en-US")
    assert _published(_parse(day_first_page, country="US"))[0] == _utc(2025, 12, 11)


def test_an_item_s_own_lang_decides_on_a_page_of_another() -> None:
    page = (
        '<html lang="en-GB"><body><div class="n" lang="en-US"><a href="/us/1">A</a>'
        '<span class="f">11/12/2025</span></div><div class="n"><a href="/us/2">B</a>'
        '<span class="f">11/12/2025</span></div></body></html>'
    )
    assert _published(_parse(page, country=None)) == [_utc(2025, 11, 12), _utc(2025, 12, 11)]


# --- End to end: a refresh through a real HTTP server ----------------------------------------

# The reviewer's page (source zone Europe/Brussels): each date as written, and as stored.
ZONED = [
    ("One", "Published 4 March 2026 9:00 AM GMT", "2026-03-04T09:00:00+00:00"),
    ("Two", "4 March 2026 9:00 AM GMT", "2026-03-04T09:00:00+00:00"),
    ("Three", "Updated: March 4, 2026 at 9:00 a.m. ET", "2026-03-04T14:00:00+00:00"),
    ("Four", "July 1, 2026 9:00 AM ET", "2026-07-01T13:00:00+00:00"),
    ("Five", "1 July 2026 09:00 PT", "2026-07-01T16:00:00+00:00"),
    ("Six", "2026-07-01 09:00 CT", "2026-07-01T14:00:00+00:00"),
]
ZONES_PAGE = '<html lang="en"><body>{}</body></html>'.format(
    "".join(
        f'<div class="n"><a href="/z/{n}">{title}</a><span class="f">{date}</span></div>'
        for n, (title, date, _) in enumerate(ZONED, start=1)
    )
)


def _listing(source_id: str, url: str, **more: str) -> dict[str, object]:
    return {
        "id": source_id,
        "name": source_id,
        "url": url,
        "kind": "html",
        "org": "press",
        "language": "en",
        **more,
        "selectors": {"item": "div.n", "title": "a", "link": "a", "date": ".f"},
    }


def test_a_refresh_stores_zoned_and_numeric_dates_as_written(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zones = http_server.add("/zones/", body=ZONES_PAGE.encode(), content_type="text/html")
    us_page = _us_page("11/12/2025", "11/13/2025", "03/04/2026")
    us = http_server.add("/us/", body=us_page.encode(), content_type="text/html")
    sources = [
        _listing("zones", zones, timezone="Europe/Brussels"),
        _listing("us-agency", us, country="US", timezone="America/New_York"),
    ]
    config = write_config(env / "config", sources)
    assert main(["--config", str(config), "refresh", "--json"]) == 0
    refreshed = json.loads(capsys.readouterr().out)["sources"]
    assert sorted((s["id"], s["new"]) for s in refreshed) == [("us-agency", 3), ("zones", 6)]
    assert main(["--config", str(config), "export", "--format", "jsonl"]) == 0
    exported = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    published = {item["title"]: item["published"] for item in exported}
    assert published == {
        **{title: stored for title, _, stored in ZONED},
        "Item 1": "2025-11-12T00:00:00+00:00",
        "Item 2": "2025-11-13T00:00:00+00:00",
        "Item 3": "2026-03-04T00:00:00+00:00",
    }
