"""Listing pages scraped with CSS selectors: own fixtures (exact values) and corpus pages."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

import pytest

from aggregator.errors import ParseError
from aggregator.models import Selectors
from aggregator.normalise import normalise_document
from aggregator.parse import parse_document
from aggregator.text import html_to_text
from tests.support_parse import fetched, fixture, html_source

COUNCIL = Selectors(
    item="li.gsc-excerpt-item",
    title="h3",
    link="h3 a@href",
    date="time@datetime",
    summary=".gsc-excerpt-item__description",
)
ARCOM = Selectors(
    item="div.fr-card", title=".fr-card__title", link=".fr-card__title", date=".fr-card__detail"
)
BMJ = Selectors(
    item="div.c-teaser",
    title=".c-teaser__headline",
    link="a.c-teaser__link",
    date=".c-teaser__date",
    summary=".c-teaser__text",
)


def test_council_listing_with_time_datetime_attributes() -> None:
    doc = parse_document(
        html_source(COUNCIL, language="en"),
        fetched(
            fixture("consilium_press_releases_listing.html"),
            "https://www.consilium.europa.eu/en/press/press-releases/",
            "text/html; charset=utf-8",
        ),
    )
    assert doc.format == "html"
    assert doc.title == "Press releases - Consilium"
    assert doc.language == "en"
    first, second = doc.items
    assert first.title == (
        "Child sexual abuse: Council agrees its position on new rules to protect children"
    )
    assert first.url == (
        "https://www.consilium.europa.eu/en/press/press-releases/2025/11/26/"
        "child-sexual-abuse-council-agrees-its-position/"
    )
    assert first.published == datetime(2025, 11, 26, 17, 55, tzinfo=timezone(timedelta(hours=1)))
    assert first.summary is not None and " ".join(html_to_text(first.summary).split()) == (
        "The Council today agreed its position on a regulation to prevent and combat child "
        "sexual abuse online."
    )
    assert first.language == "en"
    assert second.published == datetime(2025, 11, 20, tzinfo=UTC)
    assert second.summary is None
    assert doc.warnings == ("1 matched item without a link skipped",)


def test_french_listing_respects_base_href_and_french_dates() -> None:
    doc = parse_document(
        html_source(ARCOM, language="fr"),
        fetched(fixture("arcom_actualites_fr.html"), "https://www.arcom.fr/actualites?page=1"),
    )
    first, second = doc.items
    assert first.title == "Protection des mineurs en ligne : l’Arcom salue l’accord européen"
    # Relative to <base href>, not to the page's own URL.
    assert first.url == (
        "https://www.arcom.fr/nos-ressources/actualites/"
        "protection-des-mineurs-en-ligne-l-arcom-salue-l-accord"
    )
    assert first.published == datetime(2025, 11, 12, tzinfo=UTC)
    assert first.language == "fr"
    assert second.url == "https://www.arcom.fr/actualites/rapport-annuel-2024"
    assert second.published == datetime(2025, 2, 3, tzinfo=UTC)
    assert doc.warnings == ("1 matched item without a link skipped",)  # javascript: link


def test_german_latin1_listing_with_meta_charset() -> None:
    doc = parse_document(
        html_source(BMJ, language="de"),
        fetched(
            fixture("bmj_pressemitteilungen_de_latin1.html"),
            "https://www.bmj.de/DE/Presse/Pressemitteilungen/pressemitteilungen_node.html",
            "text/html",  # no charset: the <meta http-equiv> one decides
        ),
    )
    first, second = doc.items
    assert first.title == "Besserer Schutz von Kindern vor sexualisierter Gewalt im Netz"
    assert first.summary is not None
    assert html_to_text(first.summary) == (
        "Die Bundesministerin begrüßt die Einigung über die Verordnung."
    )
    assert first.url == (
        "https://www.bmj.de/SharedDocs/Pressemitteilungen/DE/2026/0303_Kinderschutz.html"
    )
    assert first.published == datetime(2026, 3, 3, tzinfo=UTC)
    assert second.title == "Gespräch mit Datenschutzbeauftragten"
    assert second.url == (
        "https://www.bmj.de/SharedDocs/Pressemitteilungen/DE/2026/0214_Datenschutz.html?nn=17134"
    )
    assert second.published == datetime(2026, 2, 14, tzinfo=UTC)
    assert doc.warnings == ()


def test_selector_matching_nothing_is_a_warning_not_an_error() -> None:
    selectors = Selectors(item="article.news-teaser", title="h2", link="a")
    doc = parse_document(
        html_source(selectors),
        fetched(fixture("consilium_press_releases_listing.html"), "https://x.eu/"),
    )
    assert doc.items == ()
    assert doc.warnings == ("selector 'article.news-teaser' matched nothing",)


def test_attribute_of_the_item_element_itself() -> None:
    page = (
        b'<html lang="nl"><body>'
        b'<a class="card" href="/nieuws/1" data-date="12-11-2025"><span>Een</span></a>'
        b'<a class="card" href="/nieuws/1"><span>EEN</span></a>'  # the same teaser again
        b'<a class="card" href="https://other.example/2" lang="en"><span>Two</span></a>'
        b"</body></html>"
    )
    selectors = Selectors(item="a.card", title="span", link="@href", date="@data-date")
    doc = parse_document(html_source(selectors), fetched(page, "https://www.rijksoverheid.nl/"))
    assert [(i.title, i.url, i.published, i.language) for i in doc.items] == [
        ("Een", "https://www.rijksoverheid.nl/nieuws/1", datetime(2025, 11, 12, tzinfo=UTC), "nl"),
        ("Two", "https://other.example/2", None, "en"),
    ]


def test_entries_sharing_only_a_link_are_all_kept() -> None:
    # Posts that all link to one profile page: different entries, not one teaser repeated.
    page = b"".join(
        b'<div class="post"><h4><a href="https://www.facebook.com/Bayern/">'
        + title
        + b"</a></h4><span>"
        + day
        + b".03.2026</span></div>"
        for title, day in ((b"Kinderschutz", b"02"), (b"Medienkompetenz", b"03"))
    )
    selectors = Selectors(item="div.post", title="h4 a", link="h4 a", date="span")
    source = html_source(selectors, language="de")
    doc = parse_document(source, fetched(page, "https://www.bayern.de/"))
    assert [i.title for i in doc.items] == ["Kinderschutz", "Medienkompetenz"]
    items = normalise_document(source, doc, now=datetime(2026, 3, 4, tzinfo=UTC))
    assert [i.title for i in items] == ["Kinderschutz", "Medienkompetenz"]
    assert len({i.identity for i in items}) == 2


def test_a_saved_page_resolves_its_links_against_its_canonical_address() -> None:
    page = (
        b'<html><head><link rel="canonical" href="https://www.gov.uk/search/news"></head>'
        b'<body><li><a href="/government/news/one">One</a></li></body></html>'
    )
    selectors = Selectors(item="li", title="a", link="a")
    doc = parse_document(html_source(selectors), fetched(page, "file:///tmp/saved/news.html"))
    assert [i.url for i in doc.items] == ["https://www.gov.uk/government/news/one"]


def test_a_saved_page_without_a_web_address_says_why_its_links_are_skipped() -> None:
    page = b'<html><body><li><a href="/government/news/one">One</a></li></body></html>'
    selectors = Selectors(item="li", title="a", link="a")
    doc = parse_document(html_source(selectors), fetched(page, "file:///tmp/saved/news.html"))
    assert doc.items == ()
    assert doc.warnings[0] == "1 matched item without a link skipped"
    assert (
        "relative links cannot be resolved against file:///tmp/saved/news.html" in (doc.warnings[1])
    )


def test_invalid_selector_is_a_parse_error() -> None:
    selectors = Selectors(item="li[", title="h3", link="a")
    with pytest.raises(ParseError, match="invalid item selector"):
        parse_document(html_source(selectors), fetched(b"<html><li>x</li></html>", "https://x.eu/"))


def test_html_source_without_selectors_is_a_parse_error() -> None:
    source = html_source(COUNCIL)
    with pytest.raises(ParseError, match="without selectors"):
        parse_document(replace(source, selectors=None), fetched(b"<html></html>", "https://x.eu/"))


class Listing(NamedTuple):
    url: str
    language: str
    selectors: Selectors
    min_items: int
    dated: bool  # every item carries a date on this page


# Selectors for the corpus's listing pages (usable as shipped config for the real sites).
LISTINGS = {
    "govuk_search_news-and-communications_braverman_2023-06-02.html": Listing(
        url="https://www.gov.uk/search/news-and-communications?people%5B%5D=suella-braverman",
        language="en",
        selectors=Selectors(
            item="li.gem-c-document-list__item",
            title="a.gem-c-document-list__item-title",
            link="a.gem-c-document-list__item-title",
            date="time@datetime",
            summary="p.gem-c-document-list__item-description",
        ),
        min_items=20,
        dated=True,
    ),
    "stuttgart_de_city_homepage_news_teasers_htmldate.html": Listing(
        url="https://www.stuttgart.de/",
        language="de",
        selectors=Selectors(item="li.tpl_article", title="h2", link="h2 a", summary="article > p"),
        min_items=7,
        dated=False,
    ),
    "deutschland_de_en_homepage_teasers_htmldate.html": Listing(
        url="https://www.deutschland.de/en",
        language="en",
        selectors=Selectors(item="article.cover", title="h3", link="h3 a", summary=".cover__text"),
        min_items=30,
        dated=False,
    ),
    "bayern_de_state_portal_htmldate.html": Listing(
        url="https://www.bayern.de/",
        language="de",
        selectors=Selectors(item="div.fbitem", title="p", link="p a", date=".fbdatum"),
        min_items=4,
        dated=True,
    ),
}


@pytest.mark.corpus
@pytest.mark.parametrize("name", LISTINGS.keys(), ids=[n.split("_")[0] for n in LISTINGS])
def test_corpus_listing_pages(corpus: Path, name: str) -> None:
    listing = LISTINGS[name]
    doc = parse_document(
        html_source(listing.selectors, language=listing.language),
        fetched((corpus / "html" / "listing" / name).read_bytes(), listing.url),
    )
    assert len(doc.items) >= listing.min_items
    assert len({item.url for item in doc.items}) == len(doc.items)
    for item in doc.items:
        assert item.url is not None and item.url.startswith(("https://", "http://"))
        assert item.title and "\ufffd" not in item.title and len(item.title) > 3
        if listing.dated:
            assert item.published is not None
            assert datetime(2015, 1, 1) < item.published.replace(tzinfo=None) < datetime(2024, 1, 1)


@pytest.mark.corpus
def test_corpus_govuk_first_item(corpus: Path) -> None:
    listing = LISTINGS["govuk_search_news-and-communications_braverman_2023-06-02.html"]
    doc = parse_document(
        html_source(listing.selectors, language="en"),
        fetched(
            (
                corpus
                / "html/listing/govuk_search_news-and-communications_braverman_2023-06-02.html"
            ).read_bytes(),
            listing.url,
        ),
    )
    first = doc.items[0]
    assert first.title == "Changes to student visa route will reduce net migration"
    assert first.url == (
        "https://www.gov.uk/government/news/changes-to-student-visa-route-will-reduce-net-migration"
    )
    assert first.published == datetime(2023, 5, 23, tzinfo=UTC)


@pytest.mark.corpus
def test_corpus_eca_news_page_is_rendered_by_javascript(corpus: Path) -> None:
    # The ECA's "all news" page (SharePoint) fills its list in the browser: the served HTML
    # has no news items at all. Scraping it yields nothing, which must surface as the
    # "matched nothing" warning the digest reports, not as an error or as menu links.
    selectors = Selectors(
        item="div.news-list article", title="h3", link="h3 a", date="time@datetime"
    )
    doc = parse_document(
        html_source(selectors, language="en"),
        fetched(
            (corpus / "html/listing/eca_europa_eu_all-news_listing.html").read_bytes(),
            "https://www.eca.europa.eu/en/all-news",
        ),
    )
    assert doc.items == ()
    assert doc.warnings == ("selector 'div.news-list article' matched nothing",)
    assert doc.language == "en-US"
    assert doc.title is not None and "European Court of Auditors" in doc.title


def test_page_text_that_looks_like_markup_is_kept_as_written() -> None:
    page = (
        b"<html><body><li><a href='/1'>Kids &lt;13 &amp; social media: AT&amp;T's new "
        b"&lt;limits&gt;</a><p>Online &lt;safety&gt; &amp; you</p></li></body></html>"
    )
    selectors = Selectors(item="li", title="a", link="a", summary="p")
    source = html_source(selectors, language="en")
    doc = parse_document(source, fetched(page, "https://www.example.org/"))
    (item,) = normalise_document(source, doc, now=datetime(2026, 3, 4, tzinfo=UTC))
    assert item.title == "Kids <13 & social media: AT&T's new <limits>"
    assert item.summary == "Online <safety> & you"


def test_text_a_page_shows_escaped_is_kept_escaped_in_titles_as_in_summaries() -> None:
    # "&amp;lt;b&amp;gt;" is what a page writes to show "&lt;b&gt;" (an article on HTML
    # escaping): the parsed text holds "&lt;b&gt;", and decoding it once more made the title
    # read "<b>" while its summary and the browser say "&lt;b&gt;".
    page = (
        b"<html><body><li><h3><a href='/1'>Escaping &amp;lt;b&amp;gt; in HTML</a></h3>"
        b"<p>Escaping &amp;lt;b&amp;gt; in HTML</p>"
        b"<span data-title='Also &amp;amp; here'></span></li></body></html>"
    )
    selectors = Selectors(item="li", title="h3", link="a", summary="span@data-title")
    source = html_source(selectors, language="en")
    doc = parse_document(source, fetched(page, "https://www.example.org/"))
    (item,) = normalise_document(source, doc, now=datetime(2026, 3, 4, tzinfo=UTC))
    assert item.title == "Escaping &lt;b&gt; in HTML"
    assert item.summary == "Also &amp; here"


def test_posts_under_one_heading_and_link_are_kept_when_their_dates_or_texts_differ() -> None:
    # bayern.de's social wall: every post is headed "Unser Bayern" and links to the profile;
    # only the date and the text tell them apart. A teaser shown again in a sidebar (no
    # date, no text there) is still the same entry.
    posts = (
        (b"06.10.2017", b"Kinderschutz im Netz"),
        (b"05.10.2017", b"Medienkompetenz an Schulen"),
        (b"04.10.2017", b"Medienkompetenz an Schulen"),
    )
    page = b"".join(
        b'<div class="fbitem"><h4><a href="http://www.facebook.de/Bayern/">Unser Bayern</a>'
        b'</h4><span class="fbdatum">' + day + b"</span><p>" + text + b"</p></div>"
        for day, text in posts
    ) + (
        b'<div class="fbitem"><h4><a href="http://www.facebook.de/Bayern/">Unser Bayern</a>'
        b'</h4><span class="fbdatum">06.10.2017</span><p>Kinderschutz im Netz</p></div>'
        b'<div class="fbitem"><h4><a href="http://www.facebook.de/Bayern/">Unser Bayern</a>'
        b"</h4></div>"
    )
    selectors = Selectors(item="div.fbitem", title="h4", link="h4 a", date=".fbdatum", summary="p")
    source = html_source(selectors, language="de")
    doc = parse_document(source, fetched(page, "https://www.bayern.de/"))
    assert [(i.published, i.summary) for i in doc.items] == [
        (datetime(2017, 10, 6, tzinfo=UTC), "Kinderschutz im Netz"),
        (datetime(2017, 10, 5, tzinfo=UTC), "Medienkompetenz an Schulen"),
        (datetime(2017, 10, 4, tzinfo=UTC), "Medienkompetenz an Schulen"),
    ]
    items = normalise_document(source, doc, now=datetime(2026, 3, 4, tzinfo=UTC))
    assert len({i.identity for i in items}) == 3


@pytest.mark.corpus
def test_corpus_social_wall_keeps_every_post_under_its_shared_heading(corpus: Path) -> None:
    page = (corpus / "html" / "listing" / "bayern_de_state_portal_htmldate.html").read_bytes()
    selectors = Selectors(item="div.fbitem", title="h4", link="h4 a", date=".fbdatum", summary="p")
    source = html_source(selectors, language="de")
    doc = parse_document(source, fetched(page, "https://www.bayern.de/"))
    assert len(doc.items) == 5 and len({i.published for i in doc.items}) == 5
    items = normalise_document(source, doc, now=datetime(2026, 3, 4, tzinfo=UTC))
    assert len({i.identity for i in items}) == 5


@pytest.mark.parametrize("featured", ["/n/1?utm_source=home", "/n/1#main"])
def test_a_featured_copy_whose_link_carries_tracking_or_a_fragment_is_the_card(
    featured: str,
) -> None:
    # Two stored items with one canonical URL: the copy, undated, was today's news.
    page = f"""<html><body>
<div class="c"><h3><a href="{featured}">Council agrees position on CSAR</a></h3>
<p>The Council today agreed its…</p></div>
<div class="c"><h3><a href="/n/1">Council agrees position on CSAR</a></h3>
<span class="d">12 November 2025, 10:15</span>
<p>The Council today agreed its negotiating mandate on the regulation.</p></div>
</body></html>""".encode()
    selectors = Selectors(item="div.c", title="h3", link="h3 a", date=".d", summary="p")
    source = html_source(selectors, language="en")
    doc = parse_document(source, fetched(page, "https://www.example.org/"))
    (item,) = normalise_document(source, doc, now=datetime(2026, 3, 4, tzinfo=UTC))
    assert item.canonical_url == "https://www.example.org/n/1"
    assert item.published == datetime(2025, 11, 12, 10, 15, tzinfo=UTC)
    assert not item.published_is_fallback
    assert item.summary == "The Council today agreed its negotiating mandate on the regulation."


def test_inline_markup_joins_words_and_screen_reader_text_is_left_out() -> None:
    page = (
        "<html><body>"
        '<li><h3><a href="/1">Kinder<b>schutz</b> on <em>chat control</em>: the <abbr>CSAR</abbr>’s'
        ' next steps<span class="screen-reader-text"> (opens in new tab)</span></a></h3>'
        "<p>“<a href='/r'>The report</a>” is out. <a href='/1'>Lire la suite »</a></p></li>"
        "</body></html>"
    ).encode()
    selectors = Selectors(item="li", title="h3", link="a", summary="p")
    source = html_source(selectors, language="en")
    doc = parse_document(source, fetched(page, "https://www.example.org/"))
    (item,) = normalise_document(source, doc, now=datetime(2026, 3, 4, tzinfo=UTC))
    assert item.title == "Kinderschutz on chat control: the CSAR’s next steps"
    assert item.summary == "“The report” is out."


def test_a_featured_copy_above_the_card_lends_it_nothing_and_takes_its_date() -> None:
    # The copy has no date or summary; the card below it has both: one entry, with both.
    page = b"""<html><body>
<div class="item"><a href="/a">Position adopted</a></div>
<div class="item"><a href="/a">Position adopted</a><time datetime="2025-11-12T10:33:00+01:00">
12 Nov</time><p>MEPs adopted their position.</p></div>
</body></html>"""
    selectors = Selectors(item="div.item", title="a", link="a", date="time", summary="p")
    source = html_source(selectors, language="en")
    doc = parse_document(source, fetched(page, "https://www.example.org/"))
    (item,) = normalise_document(source, doc, now=datetime(2026, 3, 4, tzinfo=UTC))
    assert item.published == datetime(2025, 11, 12, 9, 33, tzinfo=UTC)
    assert item.summary == "MEPs adopted their position."


# An older government site's XHTML, served with its XML prolog.
XHTML_PAGE = (
    '<?xml version="1.0" encoding="iso-8859-1"?>\n'
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"'
    ' "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
    '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="de" lang="de"><head>'
    "<title>Pressemitteilungen</title></head><body>\n"
    '<div class="it"><h3><a href="/p/1">Größere Maßnahmen für Kinderschutz</a></h3>'
    '<span class="d">3. März 2026</span><p>Ausschuss für Verbraucherschutz äußert sich.</p>'
    "</div>\n"
    '<div class="it"><h3><a href="/p/2">Öffentliche Anhörung</a></h3>'
    '<span class="d">12. Dezember 2025</span><p>Über Verschlüsselung.</p></div>\n'
    "</body></html>"
)


def test_an_xhtml_page_with_an_xml_prolog_is_read_without_bs4_s_warning(tmp_path: Path) -> None:
    # bs4's XMLParsedAsHTMLWarning printed eleven lines on the operator's screen. In a process
    # of its own: another test's import may have put the filter in place already here.
    import subprocess
    import sys

    page = tmp_path / "xhtml.html"
    page.write_bytes(XHTML_PAGE.encode("latin-1"))
    script = (
        "import sys; from pathlib import Path\n"
        "from aggregator.models import Selectors\n"
        "from aggregator.parse import parse_document\n"
        "from tests.support_parse import fetched, html_source\n"
        "selectors = Selectors(item='div.it', title='h3', link='h3 a', date='.d')\n"
        "doc = parse_document(html_source(selectors), fetched(Path(sys.argv[1]).read_bytes(),"
        " 'https://gov.example/'))\n"
        "print([item.title for item in doc.items])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(page)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    assert done.stdout.strip() == "['Größere Maßnahmen für Kinderschutz', 'Öffentliche Anhörung']"
    assert done.stderr == ""


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("europarl_press_rss.xml", "an RSS feed"),
        ("iwf_news.atom", "an Atom feed"),
        ("ecpat_jsonfeed.json", "a JSON Feed"),
    ],
)
def test_an_html_source_whose_address_serves_a_feed_is_told_to_use_kind_feed(
    name: str, what: str
) -> None:
    # "matched nothing" alone sent the operator to the selectors; the kind is what is wrong.
    selectors = Selectors(item="div.news-item", title="h3", link="h3 a@href")
    doc = parse_document(html_source(selectors), fetched(fixture(name), "https://example.org/x"))
    assert doc.items == ()
    (warning,) = doc.warnings
    assert warning.startswith("selector 'div.news-item' matched nothing: the address serves")
    assert what in warning and 'set kind = "feed"' in warning


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            b'{"items": [{"title": "Chat control vote", "url": "/news/1"}], "total": 1}',
            "application/json",
        ),
        (b'\n  [{"title": "Chat control vote"}]', "text/html; charset=utf-8"),
    ],
)
def test_an_html_source_whose_address_serves_json_data_fails_saying_so(
    body: bytes, content_type: str
) -> None:
    # A listing's data endpoint, copied from the browser's network panel for the page.
    selectors = Selectors(item="div.news-item", title="h3", link="h3 a@href")
    answer = replace(
        fetched(body, "https://example.org/api/news"), headers={"content-type": content_type}
    )
    with pytest.raises(ParseError, match="not an HTML page: the server sent JSON data"):
        parse_document(html_source(selectors), answer)


def test_entries_linking_to_anchors_of_the_page_are_kept_apart() -> None:
    # A page of one statement per anchor: the anchors were dropped as "without a link".
    page = (
        b'<html><body><div class="entry"><h3>Joint statement on the CSA Regulation</h3>'
        b'<a href="#s1">Permalink</a><p>Fourteen NGOs call on the Council.</p></div>'
        b'<div class="entry"><h3>Statement on encryption</h3><a href="#s2">Permalink</a>'
        b"<p>End-to-end encryption must stay.</p></div>"
        b'<div class="entry"><h3>Button</h3><a href="#">Open</a></div></body></html>'
    )
    source = html_source(Selectors(item="div.entry", title="h3", link="a@href", summary="p"))
    doc = parse_document(source, fetched(page, "https://ngo.example/statements.html"))
    assert [i.url for i in doc.items] == [
        "https://ngo.example/statements.html#s1",
        "https://ngo.example/statements.html#s2",
    ]
    assert doc.warnings == ("1 matched item without a link skipped",)  # the bare "#"
    items = normalise_document(source, doc, now=datetime(2026, 1, 1, tzinfo=UTC))
    # Each anchor names its entry: two pages to dedupe, not one page twice.
    assert [i.canonical_url for i in items] == [
        "https://ngo.example/statements.html#s1",
        "https://ngo.example/statements.html#s2",
    ]


def test_a_field_is_read_from_the_first_match_a_reader_sees() -> None:
    # A hidden copy before the visible one (display:none, the hidden attribute, text for
    # screen readers, a <noscript> link) was taken for the title, link, date or summary.
    page = (
        b'<div class="item"><h3 style="display: none">Hidden</h3><h3><a href="/h/1">Vote'
        b' one</a></h3><span class="date">12 November 2025</span></div>'
        b'<div class="item"><div hidden><h3>Hidden too</h3><a href="/h/gone">x</a></div>'
        b'<h3><a href="/h/2">Vote two</a></h3><span class="date">11 November 2025</span></div>'
        b'<div class="item"><h3 class="sr-only">For screen readers</h3><h3><a href="/h/3">Vote'
        b' three</a></h3><span class="date" style="display:none">1 January 2019</span>'
        b'<span class="date">10 November 2025</span><p class="s" hidden>Hidden summary</p>'
        b'<p class="s">Shown summary</p></div>'
        b'<div class="item"><noscript><a href="/enable-js">Enable JavaScript</a></noscript>'
        b'<h3><a href="/h/4">Vote four</a></h3><span class="date">9 November 2025</span></div>'
        # A hidden match is used when there is no other: the machine-readable date only.
        b'<div class="item"><h3><a href="/h/5">Vote five</a></h3>'
        b'<span class="date" hidden>8 November 2025</span></div>'
    )
    selectors = Selectors(item="div.item", title="h3", link="a", date="span.date", summary="p.s")
    doc = parse_document(html_source(selectors), fetched(page, "https://ep.example/agenda"))
    assert [(i.title, i.url.rsplit("/", 1)[1], i.published.day) for i in doc.items] == [
        ("Vote one", "1", 12),
        ("Vote two", "2", 11),
        ("Vote three", "3", 10),
        ("Vote four", "4", 9),
        ("Vote five", "5", 8),
    ]
    assert doc.items[2].summary == "Shown summary"


def test_a_teaser_whose_title_was_cut_is_one_entry_with_its_whole_one() -> None:
    # A carousel cuts the title the list shows whole: two items of one link.
    page = (
        '<div class="slider"><div class="card"><h3><a href="/news/deal?utm_source=home">'
        "Council and Parliament reach provisional…</a></h3>"
        '<span class="date">12 November 2025</span></div></div>'
        '<div class="card"><h3><a href="/news/deal">Council and Parliament reach provisional'
        ' agreement on child sexual abuse rules</a></h3><span class="date">12 November 2025'
        "</span><p>The Council and the Parliament agreed.</p></div>"
        '<div class="card"><h3><a href="/news/deal">Council and Parliament reach provisional'
        ' agreement: the next steps…</a></h3><span class="date">12 November 2025</span></div>'
    ).encode()
    selectors = Selectors(item="div.card", title="h3", link="h3 a", date="span.date", summary="p")
    doc = parse_document(html_source(selectors), fetched(page, "https://consilium.example/"))
    titles = [i.title for i in doc.items]
    assert titles == [
        "Council and Parliament reach provisional agreement on child sexual abuse rules",
        "Council and Parliament reach provisional agreement: the next steps…",
    ]
    assert doc.items[0].summary == "The Council and the Parliament agreed."


def test_the_listing_s_own_next_page_links_are_no_entries() -> None:
    # A pager inside the list container was stored as an entry titled by its URL.
    page = (
        b'<div class="list"><article class="news-item"><h3><a href="/n/1">Vote on the CSA'
        b" Regulation</a></h3></article>"
        b'<article class="news-item"><h3><a href="?id=7">A statement known by its query'
        b"</a></h3></article>"
        b'<div class="news-item pager"><a href="?page=2">Next page</a></div>'
        b'<article class="news-item"><a class="more" href="?page=2">Load more news</a>'
        b"</article></div>"
    )
    selectors = Selectors(item=".news-item", title="h3", link="a")
    doc = parse_document(html_source(selectors), fetched(page, "https://ep.example/news"))
    assert [i.url for i in doc.items] == [
        "https://ep.example/n/1",
        "https://ep.example/news?id=7",
    ]
    assert doc.warnings == (
        "2 matched items without a title linking to another page of this listing"
        " (pagination) skipped",
    )


def test_a_date_element_without_the_attribute_named_gives_its_text() -> None:
    # "span.date, time@datetime": the <span> has no datetime, and its date was lost.
    page = (
        b'<ul><li><a href="/g/1">One</a><span class="date">12 November 2025</span></li>'
        b'<li><a href="/g/2">Two</a><time datetime="2025-11-11T09:00:00Z">yesterday</time>'
        b'</li><li><a href="/g/3">Three</a><time>1 July 2025, 10:00 CEST</time></li></ul>'
    )
    selectors = Selectors(item="li", title="a", link="a", date="span.date, time@datetime")
    doc = parse_document(html_source(selectors), fetched(page, "https://ecpat.example/news"))
    assert [i.published for i in doc.items] == [
        datetime(2025, 11, 12, tzinfo=UTC),
        datetime(2025, 11, 11, 9, tzinfo=UTC),
        datetime(2025, 7, 1, 8, tzinfo=UTC),
    ]
    assert doc.warnings == ()


def test_selectors_are_read_as_browsers_read_them() -> None:
    # soupsieve's strict default refused a descendant in :has(), which browsers take.
    page = b'<ul><li><h3><a href="/a">A release</a></h3></li><li><a href="/nav">Nav</a></li></ul>'
    for item in ("li:has(h3 a)", "li:has(> h3 a)", "li:has(>h3>a)"):
        selectors = Selectors(item=item, title="h3", link="a")
        doc = parse_document(html_source(selectors), fetched(page, "https://ep.example/"))
        assert [i.url for i in doc.items] == ["https://ep.example/a"], item


def test_a_link_selector_that_finds_no_address_in_any_item_is_named() -> None:
    page = b'<ul><li><h3><a href="/a">One</a></h3></li><li><h3><a href="/b">Two</a></h3></li></ul>'
    selectors = Selectors(item="li", title="h3", link="h4 a")
    doc = parse_document(html_source(selectors), fetched(page, "https://ep.example/"))
    assert doc.items == ()
    assert doc.warnings == (
        "2 matched items without a link skipped",
        "link selector 'h4 a' found no web address in any item",
    )


def test_a_page_that_matches_nothing_is_not_called_a_feed() -> None:
    selectors = Selectors(item="div.news-item", title="h3", link="h3 a@href")
    page = fixture("consilium_press_releases_listing.html")
    doc = parse_document(html_source(selectors), fetched(page, "https://example.org/x"))
    assert doc.warnings == ("selector 'div.news-item' matched nothing",)
