"""Selectors that point at the item itself, attribute names as developer tools show them, and
warnings when the optional selectors stop matching (a redesign), on pages modelled on the
domain's listing pages."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.errors import ConfigError, ParseError
from aggregator.models import Fetched, ParsedDocument, Selectors
from aggregator.parse import parse_document
from aggregator.settings import load_sources
from tests.support_parse import fetched, html_source

# INHOPE's articles: each card is itself the link.
INHOPE = b"""<!doctype html><html lang="en"><body><main>
<a class="article-card" href="/EN/articles/ai-generated-csam-report" data-url="/x/1">
  <span class="article-card__date">12 November 2025</span>
  <h3 class="article-card__title">What hotlines see of AI-generated CSAM</h3>
</a>
<a class="article-card" href="/EN/articles/annual-report-2024" data-url="/x/2">
  <span class="article-card__date">3 June 2025</span>
  <h3 class="article-card__title">INHOPE annual report 2024</h3>
</a>
</main></body></html>"""
URL = "https://inhope.org/EN/articles"


def _parse(page: bytes, selectors: Selectors, url: str = URL) -> ParsedDocument:
    return parse_document(html_source(selectors, language="en"), fetched(page, url, "text/html"))


@pytest.mark.parametrize("link", ["a.article-card", "@href", ":scope"])
def test_a_link_selector_may_name_the_item_itself(link: str) -> None:
    selectors = Selectors(
        item="a.article-card", title=".article-card__title", link=link, date=".article-card__date"
    )
    doc = _parse(INHOPE, selectors)
    assert [(i.url, i.title) for i in doc.items] == [
        ("https://inhope.org/EN/articles/ai-generated-csam-report", INHOPE_TITLES[0]),
        ("https://inhope.org/EN/articles/annual-report-2024", INHOPE_TITLES[1]),
    ]
    assert doc.warnings == ()


INHOPE_TITLES = ("What hotlines see of AI-generated CSAM", "INHOPE annual report 2024")


def test_the_item_s_own_data_attribute() -> None:
    selectors = Selectors(item="a.article-card", title="h3", link="@data-url")
    assert [i.url for i in _parse(INHOPE, selectors).items] == [
        "https://inhope.org/x/1",
        "https://inhope.org/x/2",
    ]


def test_the_shipped_inhope_source_scrapes_its_cards(tmp_path: Path) -> None:
    shipped = next(s for s in load_sources(Path("config")) if s.id == "inhope")
    assert shipped.selectors is not None
    doc = parse_document(shipped, fetched(INHOPE, shipped.url, "text/html"))
    assert [i.title for i in doc.items] == list(INHOPE_TITLES)


def test_item_selectors_check_accepts_an_attribute_of_the_item(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text(
        '[[source]]\nid = "inhope"\nname = "INHOPE"\nurl = "https://inhope.org/EN/articles"\n'
        'kind = "html"\norg = "ngo"\n[source.selectors]\nitem = "a.article-card"\n'
        'title = "h3"\nlink = "@data-url"\n',
        encoding="utf-8",
    )
    (source,) = load_sources(tmp_path)
    assert source.selectors is not None and source.selectors.link == "@data-url"
    (tmp_path / "sources.toml").write_text(
        (tmp_path / "sources.toml").read_text().replace('"@data-url"', '"h3[@data-url"'),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="invalid CSS selector"):
        load_sources(tmp_path)


EDRI = b"""<!doctype html><html lang="en"><body>
<article class="post"><h2 class="post-title"><a href="/2025/11/chat-control-council/">
Chat control: the Council's position</a></h2>
<time dateTime="2025-11-26T18:05:00+01:00" class="date">26 November</time>
<p class="excerpt">Member states agreed a mandate.</p></article>
<article class="post"><h2 class="post-title"><a href="/2025/11/age-verification/">
Age verification is not a silver bullet</a></h2>
<time dateTime="2025-11-20T09:00:00+01:00" class="date">20 November</time>
<p class="excerpt">Our analysis of the blueprint.</p></article>
</body></html>"""


def test_attribute_names_as_developer_tools_show_them() -> None:
    selectors = Selectors(item="article.post", title="h2", link="h2 a", date="time@dateTime")
    doc = _parse(EDRI, selectors, "https://edri.org/our-work/")
    assert [i.published for i in doc.items] == [
        datetime.fromisoformat("2025-11-26T18:05:00+01:00"),
        datetime.fromisoformat("2025-11-20T09:00:00+01:00"),
    ]


def test_a_redesign_that_breaks_the_title_date_and_summary_selectors_is_told() -> None:
    selectors = Selectors(
        item="article.post",
        title="h2.entry-title",
        link="h2 a",
        date="span.date",
        summary="div.summary",
    )
    doc = _parse(EDRI, selectors, "https://edri.org/our-work/")
    assert len(doc.items) == 2  # still stored: the links are there
    assert doc.warnings == (
        "title selector 'h2.entry-title' found no text in 2 of 2 items (titled by their link"
        " or first words)",
        "date selector 'span.date' matched nothing in any item",
        "summary selector 'div.summary' matched nothing in any item",
    )


def test_a_date_selector_matching_some_items_is_not_a_redesign() -> None:
    page = EDRI.replace(b'<time dateTime="2025-11-20T09:00:00+01:00" class="date">', b"<i>")
    page = page.replace(b"20 November</time>", b"</i>")
    selectors = Selectors(item="article.post", title="h2", link="h2 a", date="time@datetime")
    doc = _parse(page, selectors, "https://edri.org/our-work/")
    assert doc.warnings == ()
    assert [i.published is None for i in doc.items] == [False, True]


def test_dates_not_understood_are_counted_with_an_example() -> None:
    page = (
        b'<html lang="fr"><body><div class="n"><a href="/1">Un</a><span>il y a 3 jours</span>'
        b'</div><div class="n"><a href="/2">Deux</a><span>12 novembre 2025</span></div>'
        b"</body></html>"
    )
    selectors = Selectors(item="div.n", title="a", link="a", date="span")
    doc = _parse(page, selectors, "https://www.senat.fr/")
    assert doc.warnings == (
        "1 date not understood (such as 'il y a 3 jours'): dated when first seen",
    )
    assert [i.published is None for i in doc.items] == [True, False]


def test_an_item_s_own_lang_reads_its_date() -> None:
    # A multilingual listing: the page says English, each item its own language.
    page = """<html lang="en"><body>
<article lang="pl"><a href="/pl/1">Sejm przyjął</a><span>12 listopada 2025</span></article>
<article lang="cs"><a href="/cs/1">Sněmovna schválila</a><span>12. listopadu 2025</span></article>
<article lang="el"><a href="/el/1">Η Βουλή ενέκρινε</a><span>12 Νοεμβρίου 2025</span></article>
<article lang="de"><a href="/de/1">Bundestag beschließt</a><span>3. März 2026</span></article>
</body></html>""".encode()
    selectors = Selectors(item="article", title="a", link="a", date="span")
    doc = _parse(page, selectors, "https://missingchildreneurope.eu/news/")
    assert [(i.language, i.published.date() if i.published else None) for i in doc.items] == [
        ("pl", datetime(2025, 11, 12).date()),
        ("cs", datetime(2025, 11, 12).date()),
        ("el", datetime(2025, 11, 12).date()),
        ("de", datetime(2026, 3, 3).date()),
    ]
    assert doc.warnings == ()


@pytest.mark.parametrize(
    ("body", "content_type", "said"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "application/pdf", "the server sent a PDF"),
        (b"%PDF-1.4\n", "text/html", "the server sent a PDF document (Content-Type: text/html)"),
        (b"\x89PNG\r\n\x1a\n", "image/png", "a PNG image"),
        (b"<html></html>", "video/mp4", "Content-Type video/mp4"),
    ],
)
def test_a_body_that_is_no_page_is_named(body: bytes, content_type: str, said: str) -> None:
    selectors = Selectors(item="article", title="h2", link="a")
    with pytest.raises(ParseError, match="not an HTML page") as caught:
        parse_document(
            html_source(selectors), fetched(body, "https://www.coe.int/news", content_type)
        )
    assert said in str(caught.value)


def test_relative_dates_count_back_from_the_server_s_time() -> None:
    page = """<html lang="fr"><body>
<div class="n"><a href="/1">Audition en commission</a><span>il y a 3 jours</span></div>
<div class="n"><a href="/2">Communiqué</a><span>hier</span></div>
<div class="n"><a href="/3">Déclaration</a><span>il y a 2 heures</span></div>
<div class="n"><a href="/4">Rapport annuel</a><span>il y a 3 semaines</span></div>
<div class="n"><a href="/5">Note</a><span>Actualité | il y a 2 heures</span></div>
</body></html>""".encode()
    selectors = Selectors(item="div.n", title="a", link="a", date="span")
    answer = Fetched(
        url="https://www.senat.fr/presse/",
        status_code=200,
        content=page,
        headers={"content-type": "text/html", "date": "Wed, 26 Nov 2025 10:37:12 GMT"},
    )
    doc = parse_document(html_source(selectors, language="fr"), answer)
    assert [i.published for i in doc.items] == [
        datetime(2025, 11, 23, tzinfo=UTC),  # days: to the day
        datetime(2025, 11, 25, tzinfo=UTC),
        datetime(2025, 11, 26, 8, tzinfo=UTC),  # hours: to the hour
        None,  # three weeks back is too vague to date: first seen
        datetime(2025, 11, 26, 8, tzinfo=UTC),  # with words beside it
    ]
    assert doc.warnings == (
        "1 date not understood (such as 'il y a 3 semaines'): dated when first seen",
    )
