"""Listing pages as the audit of their parsing found them: Scrapy's pseudo-elements in
selectors, relative dates with a time of day and in the source's zone, the source's country
reading page dates, one press release shown twice, items nested in items, hidden text, the
ordinal "1º" and backslashes in links. Pages modelled on the EU institutions', national
parliaments' and NGOs' own listings."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.cli import EXIT_CONFIG, main
from aggregator.errors import ConfigError, ParseError
from aggregator.models import Fetched, ParsedDocument, Selectors, Source
from aggregator.parse import parse_document
from aggregator.parse.dates import parse_date
from aggregator.parse.urls import absolute_http_url
from aggregator.settings import load_sources
from aggregator.text import html_to_text
from tests.support_config import write_config
from tests.support_parse import fetched, html_source

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

# The server's Date: Friday 27 November 2026, 10:00 UTC (11:00 in Brussels).
FRIDAY = "Fri, 27 Nov 2026 10:00:00 GMT"


def _source(
    selectors: Selectors,
    *,
    language: str | None = None,
    country: str | None = None,
    timezone: str | None = "Europe/Brussels",
) -> Source:
    return replace(html_source(selectors, language=language), country=country, timezone=timezone)


def _parse(source: Source, page: str, url: str, date: str | None = FRIDAY) -> ParsedDocument:
    headers = {"content-type": "text/html; charset=utf-8"}
    if date is not None:
        headers["date"] = date
    return parse_document(
        source, Fetched(url=url, status_code=200, content=page.encode(), headers=headers)
    )


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _text(summary: str | None) -> str | None:
    """A summary's text on one line (the parser gives markup)."""
    return None if summary is None else " ".join(html_to_text(summary).split())


# --- 1. Scrapy's pseudo-elements ---------------------------------------------------------

EDRI_SOURCES = """\
[[source]]
id = "edri"
name = "EDRi"
url = "https://edri.org/our-work/"
kind = "html"
org = "ngo"
[source.selectors]
item = "article.news-card"
title = "{title}"
link = "{link}"
"""


@pytest.mark.parametrize(
    ("title", "link", "said"),
    [
        (
            "h3::text",
            "h3 a",
            "invalid CSS selector 'h3::text': Pseudo-element found at position 2"
            "; did you mean 'h3'?",
        ),
        (
            "h3",
            "h3 a::attr(href)",
            "invalid CSS selector 'h3 a::attr(href)': Pseudo-element"
            " found at position 4; did you mean 'h3 a@href'?",
        ),
        ("h3 a::after", "h3 a", "invalid CSS selector 'h3 a::after': Pseudo-element found"),
    ],
)
def test_a_pseudo_element_is_an_invalid_selector_of_the_config(
    tmp_path: Path, title: str, link: str, said: str
) -> None:
    (tmp_path / "sources.toml").write_text(
        EDRI_SOURCES.format(title=title, link=link), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_sources(tmp_path)
    key = "title" if "::" in title else "link"
    assert caught.value.key == f"source[0].selectors.{key}"
    assert caught.value.line == (9 if key == "title" else 10)
    assert said in str(caught.value)
    assert ("did you mean" in str(caught.value)) == ("::after" not in title)


def test_sources_check_and_refresh_refuse_a_pseudo_element_with_exit_2(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edri = {
        "id": "edri",
        "name": "EDRi",
        "url": "https://edri.org/our-work/",
        "kind": "html",
        "org": "ngo",
        "selectors": {"item": "article.news-card", "title": "h3::text", "link": "h3 a"},
    }
    config = write_config(env / "config", [edri])
    for argv in (["sources", "check"], ["refresh"]):
        assert main(["--config", str(config), *argv]) == EXIT_CONFIG, argv
        err = capsys.readouterr().err
        assert "Traceback" not in err and "NotImplementedError" not in err, err
        assert "sources.toml:9: source[0].selectors.title: invalid CSS selector 'h3::text'" in err


@pytest.mark.parametrize(
    "selectors",
    [
        Selectors(item="article.news-card", title="h3::text", link="h3 a"),
        Selectors(item="article.news-card::before", title="h3", link="h3 a"),
    ],
)
def test_a_pseudo_element_reaching_the_parser_fails_the_source_not_the_refresh(
    selectors: Selectors,
) -> None:
    page = (
        '<html lang="en"><body><article class="news-card"><h3><a href="/a">EDRi statement'
        "</a></h3></article></body></html>"
    )
    with pytest.raises(ParseError, match="Pseudo-element"):
        _parse(_source(selectors), page, "https://edri.org/our-work/")


# --- 2, 3. Relative dates: the time of day as written, the day in the source's zone --------

NEWSROOM = Selectors(item="li.news", title="a", link="a", date="span.date")


def _newsroom(lang: str, dates: list[str]) -> str:
    entries = "".join(
        f'<li class="news"><span class="date">{date}</span><a href="/press/{n}">Press release'
        f" {n}</a></li>"
        for n, date in enumerate(dates)
    )
    return f'<html lang="{lang}"><body><ul class="newsroom">{entries}</ul></body></html>'


@pytest.mark.parametrize(
    ("lang", "server_date", "text", "expected"),
    [
        # 10:00 UTC is 11:00 in Brussels; the times are Brussels times.
        ("en", FRIDAY, "Today, 09:00", _utc(2026, 11, 27, 8, 0)),
        ("en", FRIDAY, "Today, 14:30", _utc(2026, 11, 27, 13, 30)),
        ("en", FRIDAY, "Yesterday, 18:00", _utc(2026, 11, 26, 17, 0)),
        ("de", FRIDAY, "Heute, 14:30 Uhr", _utc(2026, 11, 27, 13, 30)),
        ("de", FRIDAY, "Gestern, 18:00 Uhr", _utc(2026, 11, 26, 17, 0)),
        ("fr", FRIDAY, "Aujourd'hui à 14h30", _utc(2026, 11, 27, 13, 30)),
        ("fr", FRIDAY, "Hier à 18h00", _utc(2026, 11, 26, 17, 0)),
        ("it", FRIDAY, "Oggi, 14:30", _utc(2026, 11, 27, 13, 30)),
        # Summer time: Brussels is UTC+2.
        ("fr", "Mon, 27 Jul 2026 07:00:00 GMT", "Hier à 18h00", _utc(2026, 7, 26, 16, 0)),
    ],
)
def test_a_relative_day_with_a_time_of_day_is_that_time_in_the_source_s_zone(
    lang: str, server_date: str, text: str, expected: datetime
) -> None:
    source = _source(NEWSROOM, language=lang)
    doc = _parse(
        source, _newsroom(lang, [text]), "https://www.europarl.europa.eu/news/", server_date
    )
    assert [item.published for item in doc.items] == [expected]
    assert doc.warnings == ()


def test_tomorrow_at_a_time_is_no_publication_date() -> None:
    doc = _parse(
        _source(NEWSROOM, language="en"),
        _newsroom("en", ["Tomorrow, 10:00"]),
        "https://www.europarl.europa.eu/news/",
    )
    assert [item.published for item in doc.items] == [None]


def test_relative_days_are_the_source_s_days() -> None:
    # 23:30 UTC on Thursday 26 is 00:30 on Friday 27 in Berlin: "Yesterday" is Thursday.
    page = _newsroom("de", ["Yesterday", "gestern", "vor 2 Tagen", "Heute"])
    doc = _parse(
        _source(NEWSROOM, language="de", country="DE", timezone="Europe/Berlin"),
        page,
        "https://www.bundestag.de/presse/hib",
        "Thu, 26 Nov 2026 23:30:00 GMT",
    )
    assert [item.published for item in doc.items] == [
        _utc(2026, 11, 26),  # Thursday in Berlin, as a date alone is: midnight UTC
        _utc(2026, 11, 26),
        _utc(2026, 11, 25),
        _utc(2026, 11, 26, 23, 0),  # today: to the hour (00:00 in Berlin)
    ]


# --- 5. The source's country reads the page's dates ---------------------------------------

DATED = Selectors(item="div.vijest", title="h3", link="h3 a", date="time")


def _dated_page(lang: str | None, dates: list[str]) -> str:
    said = f' lang="{lang}"' if lang else ""
    entries = "".join(
        f'<div class="vijest"><h3><a href="/vijesti/{n}">Vijest {n}</a></h3><time>{date}</time>'
        "</div>"
        for n, date in enumerate(dates)
    )
    return f"<html{said}><body>{entries}</body></html>"


@pytest.mark.parametrize("lang", [None, "en"])
def test_a_croatian_source_reads_listopad_as_october(lang: str | None) -> None:
    # The Sabor: "listopad" is October in Croatian, November in Polish and Czech.
    source = _source(DATED, country="HR", timezone=None)
    doc = _parse(
        source,
        _dated_page(lang, ["12. listopada 2026.", "3. studenoga 2026."]),
        "https://www.sabor.hr/hr/press/priopcenja",
    )
    assert [item.published for item in doc.items] == [_utc(2026, 10, 12), _utc(2026, 11, 3)]


def test_a_german_source_reads_its_dates_whatever_the_page_s_wrong_lang() -> None:
    source = _source(DATED, country="DE", timezone=None)
    page = _dated_page("en-US", ["3. März 2026", "12 November 2025"])
    doc = _parse(source, page, "https://www.bundesregierung.de/breg-de/aktuelles")
    assert [item.published for item in doc.items] == [_utc(2026, 3, 3), _utc(2025, 11, 12)]


def test_the_page_s_own_lang_still_reads_its_dates() -> None:
    source = _source(DATED, country="DE", timezone=None)
    doc = _parse(
        source, _dated_page("fr", ["12 novembre 2025"]), "https://www.auswaertiges-amt.de/fr/"
    )
    assert [item.published for item in doc.items] == [_utc(2025, 11, 12)]


# --- 6. One press release shown twice on one page ----------------------------------------

COUNCIL = Selectors(item=".item", title="h3", link="h3 a", date="time", summary="p")
CSA = "Child sexual abuse: Council agrees position on regulation"
FULL = (
    "The Council today agreed its position on the regulation to prevent and combat child"
    " sexual abuse online."
)


def _council_page(hero_date: str, hero_summary: str, list_date: str, list_summary: str) -> str:
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Press releases - Consilium</title></head><body>
<div class="hero item"><h3><a href="/en/press/press-releases/2026/11/25/csa-position/">{CSA}</a>
</h3>{hero_date}<p>{hero_summary}</p></div>
<ul class="press-releases">
<li class="item"><h3><a href="/en/press/press-releases/2026/11/25/csa-position/">{CSA}</a></h3>
{list_date}<p>{list_summary}</p></li>
<li class="item"><h3><a href="/en/press/press-releases/2026/11/24/jha/">Justice and Home Affairs
Council, 24 November 2026</a></h3><time>24.11.2026 18:00</time><p>Main results.</p></li>
</ul></body></html>"""


DATE_ALONE = '<time datetime="2026-11-25">25 November 2026</time>'
DATE_AND_TIME = "<time>25.11.2026 10:15</time>"
CUT = "The Council today agreed its position on the regulation…"


@pytest.mark.parametrize(
    ("hero_date", "hero_summary"),
    [
        (DATE_ALONE, CUT),  # both differences
        (DATE_ALONE, FULL),  # the date alone
        (DATE_AND_TIME, CUT),  # the summary cut
    ],
)
@pytest.mark.parametrize("hero_first", [True, False])
def test_a_press_release_shown_twice_is_one_item_with_the_fuller_copy_s_fields(
    hero_date: str, hero_summary: str, hero_first: bool
) -> None:
    page = _council_page(hero_date, hero_summary, DATE_AND_TIME, FULL)
    if not hero_first:  # the teaser after the list (a "most read" box)
        page = _council_page(DATE_AND_TIME, FULL, hero_date, hero_summary)
    doc = _parse(
        _source(COUNCIL, language="en"),
        page,
        "https://www.consilium.europa.eu/en/press/press-releases/",
    )
    assert [(item.title, item.published, item.summary) for item in doc.items] == [
        (CSA, datetime(2026, 11, 25, 10, 15), FULL),
        (
            "Justice and Home Affairs Council, 24 November 2026",
            datetime(2026, 11, 24, 18, 0),
            "Main results.",
        ),
    ]


@pytest.mark.parametrize(
    ("hero_date", "hero_summary"),
    [
        ("<time>25.11.2026 09:00</time>", FULL),  # another time of the day: another entry
        ('<time datetime="2026-11-24">24 November 2026</time>', FULL),  # another day
        (DATE_AND_TIME, "The Council today agreed its position on the AI Act…"),  # other words
    ],
)
def test_copies_that_differ_otherwise_stay_two_entries(hero_date: str, hero_summary: str) -> None:
    page = _council_page(hero_date, hero_summary, DATE_AND_TIME, FULL)
    doc = _parse(
        _source(COUNCIL, language="en"),
        page,
        "https://www.consilium.europa.eu/en/press/press-releases/",
    )
    assert [item.title for item in doc.items] == [
        CSA,
        CSA,
        "Justice and Home Affairs Council, 24 November 2026",
    ]


def test_a_refresh_stores_a_press_release_shown_twice_once(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = _council_page(DATE_ALONE, CUT, DATE_AND_TIME, FULL).encode()
    url = http_server.add("/en/press/press-releases/", body=page, content_type="text/html")
    council = {
        "id": "council",
        "name": "Council of the EU",
        "url": url,
        "kind": "html",
        "org": "institution",
        "language": "en",
        "timezone": "Europe/Brussels",
        "selectors": {
            "item": ".item",
            "title": "h3",
            "link": "h3 a",
            "date": "time",
            "summary": "p",
        },
    }
    config = write_config(env / "config", [council])
    assert main(["--config", str(config), "refresh", "--json"]) == 0
    [refreshed] = json.loads(capsys.readouterr().out)["sources"]
    assert refreshed["new"] == 2, refreshed
    assert main(["--config", str(config), "export", "--format", "jsonl"]) == 0
    exported = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    csa = [item for item in exported if item["title"] == CSA]
    assert [(item["published"], item["summary"]) for item in csa] == [
        ("2026-11-25T09:15:00+00:00", FULL)
    ]


# --- 7. Items nested in items -------------------------------------------------------------

POSTS = Selectors(
    item="div.post", title="h2", link="h2 a", date="time@datetime", summary="div.excerpt"
)
# A WordPress theme of an NGO's news: a post's card holds a "related" post card of the same
# class, placed before the post's own date and excerpt.
NESTED = """<html lang="en"><body><main>
<div class="post">
  <div class="related"><div class="post">
    <h2><a href="/news/2026/11/earlier-statement/">Our earlier statement on chat control</a></h2>
    <time datetime="2026-10-02T09:00:00+02:00">2 October 2026</time>
    <div class="excerpt">What we said in October.</div>
  </div></div>
  <h2><a href="/news/2026/11/council-position/">Council position: what it means</a></h2>
  <div class="excerpt">Our analysis of the Council's position.<div class="post">
    <h2><a href="/news/2026/09/open-letter/">Open letter</a></h2></div></div>
</div>
<div class="post">
  <h2><a href="/news/2026/11/ep-vote/">Parliament vote</a></h2>
  <time datetime="2026-11-20T12:00:00+01:00">20 November 2026</time>
  <div class="excerpt">The plenary voted.</div>
</div>
</main></body></html>"""


def test_an_item_s_fields_are_its_own_not_those_of_an_item_nested_in_it() -> None:
    doc = _parse(_source(POSTS, language="en"), NESTED, "https://edri.org/our-work/")
    fields = [(i.url, i.title, i.published, _text(i.summary)) for i in doc.items]
    assert fields == [
        (
            "https://edri.org/news/2026/11/council-position/",
            "Council position: what it means",
            None,
            "Our analysis of the Council's position.",
        ),
        (
            "https://edri.org/news/2026/11/earlier-statement/",
            "Our earlier statement on chat control",
            datetime.fromisoformat("2026-10-02T09:00:00+02:00"),
            "What we said in October.",
        ),
        ("https://edri.org/news/2026/09/open-letter/", "Open letter", None, None),
        (
            "https://edri.org/news/2026/11/ep-vote/",
            "Parliament vote",
            datetime.fromisoformat("2026-11-20T12:00:00+01:00"),
            "The plenary voted.",
        ),
    ]


def test_a_link_selector_without_an_anchor_of_its_own_takes_none_from_a_nested_item() -> None:
    selectors = Selectors(item="div.post", title="h2", link="div.links")
    page = """<html lang="en"><body>
<div class="post"><h2>Newsletter</h2><div class="links"><div class="post"><h2>Inside</h2>
<div class="links"><a href="/inside">Inside</a></div></div></div></div></body></html>"""
    doc = _parse(_source(selectors, language="en"), page, "https://edri.org/")
    assert [(i.url, i.title) for i in doc.items] == [("https://edri.org/inside", "Inside")]
    assert doc.warnings == ("1 matched item without a link skipped",)


# --- 8. Hidden text, icons and form controls ----------------------------------------------

CARDS = Selectors(item="article.ecl-content-item", title="h3", link="h3 a", summary=".ecl-desc")
COMMISSION = """<!DOCTYPE html><html lang="en"><body><main>
<article class="ecl-content-item"><h3><a href="/commission/presscorner/detail/en/ip_26_101">
Commission proposes rules<span hidden>IP/26/101</span></a></h3><div class="ecl-desc">New rules
to prevent child sexual abuse.<span style="display: none">tracking-id-9</span>
<button class="ecl-button" type="button">Share</button><select class="ecl-select"><option>English
</option><option>français</option></select><input type="text" value="search">
<textarea>Comment</textarea></div></article>
<article class="ecl-content-item"><h3><a href="/commission/presscorner/detail/en/ip_26_102">
Statement by the President<span style="visibility:hidden !important"> (draft)</span>
<span class="ecl-icon" aria-hidden="true">external</span></a></h3><div class="ecl-desc">
<span aria-hidden="true">»</span> Read the statement <i class="fa fa-arrow-right"
aria-hidden="true">arrow_forward</i></div></article>
<article class="ecl-content-item"><h3><a href="/commission/presscorner/detail/en/ip_26_103">
<span aria-hidden="true">Daily News</span> 25 / 11 / 2026</a></h3><div class="ecl-desc">
<div hidden="until-found">Full text of the Daily News.</div></div></article>
<article class="ecl-content-item"><h3><a href="/commission/presscorner/detail/en/ip_26_104">
<button class="ecl-accordion__toggle">Questions and answers</button></a></h3></article>
</main></body></html>"""


def test_hidden_text_icons_and_form_controls_are_no_part_of_titles_and_summaries() -> None:
    doc = _parse(_source(CARDS, language="en"), COMMISSION, "https://ec.europa.eu/commission/")
    assert [(item.title, _text(item.summary)) for item in doc.items] == [
        ("Commission proposes rules", "New rules to prevent child sexual abuse."),
        ("Statement by the President", "Read the statement"),
        # aria-hidden words a reader sees stay, and so does text "until found".
        ("Daily News 25 / 11 / 2026", "Full text of the Daily News."),
        # A control is the title when it is all the text there is (an accordion's toggle).
        ("Questions and answers", None),
    ]


# --- 9. The ordinal indicators "º" and "ª" ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("1º novembre 2026", "it", _utc(2026, 11, 1)),
        ("1° novembre 2026", "it", _utc(2026, 11, 1)),
        ("1º de diciembre de 2025", "es", _utc(2025, 12, 1)),
        ("1.º de março de 2026", "pt", _utc(2026, 3, 1)),
        ("1ª de março de 2026", "pt", _utc(2026, 3, 1)),
        ("Nº 12/2025", "es", None),  # a number, not a day
    ],
)
def test_ordinal_indicators_of_the_first_of_the_month(
    text: str, language: str, expected: datetime | None
) -> None:
    assert parse_date(text, [language], full_year=True) == expected


def test_a_camera_listing_reads_the_first_of_the_month() -> None:
    selectors = Selectors(item="li.comunicato", title="a", link="a", date="span.data")
    page = (
        '<html lang="it"><body><ul><li class="comunicato"><span class="data">1º novembre 2026'
        '</span><a href="/comunicati/2026/11/01/">Approvato il decreto</a></li></ul></body></html>'
    )
    doc = _parse(
        _source(selectors, language="it", timezone="Europe/Rome"),
        page,
        "https://comunicati.camera.it/",
    )
    assert [item.published for item in doc.items] == [_utc(2026, 11, 1)]
    assert doc.warnings == ()


# --- 10. Backslashes in links --------------------------------------------------------------

CONSILIUM = "https://www.consilium.europa.eu/en/press/press-releases/"


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("\\en\\press\\backslash", "https://www.consilium.europa.eu/en/press/backslash"),
        ("2026\\11\\26\\csa\\", CONSILIUM + "2026/11/26/csa/"),
        ("\\\\www.bundestag.de\\presse", "https://www.bundestag.de/presse"),
        ("https:\\\\www.bundestag.de\\presse", "https://www.bundestag.de/presse"),
        # After the path a backslash is a character, as in a browser.
        ("x\\y?q=a\\b#c\\d", CONSILIUM + "x/y?q=a\\b#c\\d"),
    ],
)
def test_backslashes_in_a_web_link_s_path_are_slashes(link: str, expected: str) -> None:
    assert absolute_http_url(link, CONSILIUM) == expected


def test_a_listing_link_with_backslashes_resolves_as_a_browser_resolves_it() -> None:
    selectors = Selectors(item="li", title="a", link="a")
    page = (
        '<html lang="en"><body><ul><li><a href="\\en\\press\\backslash">Backslash</a></li>'
        "</ul></body></html>"
    )
    doc = parse_document(html_source(selectors), fetched(page.encode(), CONSILIUM, "text/html"))
    assert [item.url for item in doc.items] == [
        "https://www.consilium.europa.eu/en/press/backslash"
    ]
