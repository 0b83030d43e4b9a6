"""An HTTP charset against the document's own declaration: the language decides.

Browsers follow the header; a server's default (ISO-8859-1 on every page) then turns a Polish
page's "ą" into "±" although the page names its encoding. The service stored that mojibake
without a warning. Now, when both are single-byte encodings that read the bytes, the one the
text's language is written in wins, with a warning; a <meta> inside a comment declares nothing.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from aggregator.models import Selectors
from aggregator.parse import parse_document
from aggregator.parse.encoding import decode
from tests.support_parse import feed_source, fetched, html_source

SELECTORS = Selectors(item="article", title="h2", link="a", summary="p")

POLISH = (
    "Posłowie przyjęli rozporządzenie",
    "Sejm: źródło sporu to ustawę o ochronie dzieci w sieci, mówią posłowie.",
)
CZECH = (
    "Sněmovna projednala nařízení",
    "Poslanci před hlasováním řešili šifrování a ochranu dětí na internetu.",
)
FRENCH = (
    "À la une : le Sénat adopte la proposition",
    "Après un débat très long, les sénateurs ont voté l'œuvre commune.",
)


def _page(title: str, text: str, *, meta: str, lang: str | None) -> str:
    lang_attribute = f' lang="{lang}"' if lang else ""
    return (
        f'<!doctype html><html{lang_attribute}><head><meta charset="{meta}"><title>t</title>'
        '</head><body><article><h2><a href="/a/1">'
        f"{title}</a></h2><p>{text}</p></article></body></html>"
    )


def _parse(data: bytes, header: str, language: str | None = None) -> tuple[str, str, list[str]]:
    doc = parse_document(
        html_source(SELECTORS, language=language),
        fetched(data, "https://www.sejm.gov.pl/news/", f"text/html; charset={header}"),
    )
    (item,) = doc.items
    return item.title or "", item.summary or "", list(doc.warnings)


@pytest.mark.parametrize(
    ("words", "codec", "meta", "header", "lang", "configured"),
    [
        (POLISH, "iso8859_2", "iso-8859-2", "iso-8859-1", "pl", None),
        (POLISH, "cp1250", "windows-1250", "windows-1252", None, "pl"),
        (CZECH, "cp1250", "windows-1250", "iso-8859-1", "cs", None),
        (FRENCH, "cp1252", "windows-1252", "windows-1250", "fr", None),
        # ISO-8859-2 and windows-1250 are both Polish: the bytes decide between them.
        (POLISH, "cp1250", "windows-1250", "iso-8859-2", "pl", None),
        (POLISH, "iso8859_2", "iso-8859-2", "windows-1250", "pl", None),
        (CZECH, "cp1250", "windows-1250", "iso-8859-2", "cs", "cs"),
    ],
    ids=[
        "pl latin2 under latin1",
        "pl 1250 under 1252",
        "cs 1250 under latin1",
        "fr 1252 under 1250",
        "pl 1250 under latin2",
        "pl latin2 under 1250",
        "cs 1250 under latin2",
    ],
)
def test_the_page_s_own_encoding_beats_a_wrong_header_for_its_language(
    words: tuple[str, str],
    codec: str,
    meta: str,
    header: str,
    lang: str | None,
    configured: str | None,
) -> None:
    title, text = words
    data = _page(title, text, meta=meta, lang=lang).encode(codec)
    got_title, got_text, warnings = _parse(data, header, configured)
    assert (got_title, got_text) == (title, text)
    assert any(
        f"HTTP charset {header!r} contradicts the document's own {meta!r}" in w for w in warnings
    )


def test_a_right_header_beats_a_wrong_meta() -> None:
    # The language is evidence for the header as much as for the page.
    title, text = POLISH
    data = _page(title, text, meta="iso-8859-1", lang="pl").encode("iso8859_2")
    got_title, got_text, warnings = _parse(data, "iso-8859-2")
    assert (got_title, got_text) == (title, text)
    # Read as the header says, and the page's contradiction said.
    assert warnings == [
        "declared encoding 'iso-8859-1' contradicts the HTTP charset 'iso-8859-2':"
        " read as 'iso-8859-2'"
    ]


def test_a_wrong_declaration_alone_does_not_make_mojibake() -> None:
    # No HTTP charset; the feed declares ISO-8859-1 and says it is Polish, in ISO-8859-2.
    title, text = POLISH
    data = (
        '<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel><title>Sejm'
        "</title><language>pl</language><link>https://www.sejm.gov.pl/</link><item>"
        f"<title>{title}</title><link>https://www.sejm.gov.pl/a/1</link>"
        f"<description>{text}</description></item></channel></rss>"
    ).encode("iso8859_2")
    doc = parse_document(
        feed_source(), fetched(data, "https://www.sejm.gov.pl/rss.xml", "text/xml")
    )
    assert [(i.title, i.summary) for i in doc.items] == [(title, text)]
    assert doc.warnings == (
        "declared encoding 'ISO-8859-1' does not fit the text's language (pl): read as iso8859_2",
    )


def test_an_agreeing_pair_reads_without_a_warning() -> None:
    title, text = CZECH
    data = _page(title, text, meta="windows-1250", lang="cs").encode("cp1250")
    assert _parse(data, "windows-1250") == (title, text, [])


def test_a_feed_s_xml_declaration_against_the_header() -> None:
    title, text = POLISH
    data = (
        '<?xml version="1.0" encoding="ISO-8859-2"?><rss version="2.0"><channel><title>Sejm'
        "</title><language>pl</language><link>https://www.sejm.gov.pl/</link><item>"
        f"<title>{title}</title><link>https://www.sejm.gov.pl/a/1</link>"
        f"<description>{text}</description></item></channel></rss>"
    ).encode("iso8859_2")
    doc = parse_document(
        feed_source(),
        fetched(data, "https://www.sejm.gov.pl/rss.xml", "text/xml; charset=iso-8859-1"),
    )
    assert [(i.title, i.summary) for i in doc.items] == [(title, text)]


def test_a_meta_inside_a_comment_declares_nothing() -> None:
    text = "Un budget de 500 000 € pour l'œuvre commune."
    data = (
        '<!doctype html><html lang="fr"><head><!-- <meta charset="utf-8"> -->'
        f'<meta charset="iso-8859-15"></head><body><p>{text}</p></body></html>'
    ).encode("iso8859_15")
    decoded = decode(data, "text/html", "html")
    assert text in decoded.text
    assert decoded.encoding == "iso8859_15" and decoded.warnings == ()


@pytest.mark.parametrize(("label", "codec"), [("x-cp1250", "cp1250"), ("X-CP1252", "cp1252")])
def test_browser_labels_python_does_not_know(label: str, codec: str) -> None:
    title, text = CZECH if codec == "cp1250" else FRENCH
    data = _page(title, text, meta=label, lang=None).encode(codec)
    decoded = decode(data, None, "html")
    assert decoded.encoding == codec and title in decoded.text
    assert decoded.warnings == ()  # not "unknown encoding label", then a detector's guess


def test_a_source_s_country_hints_at_its_encoding() -> None:
    # Undeclared Czech in ISO-8859-2, the source configured with its country alone: the
    # detector's favourite (windows-1250) turned "zneužívání" into "zneuľívání".
    title, text = (
        "Ochrana dětí před zneužíváním",
        "Sněmovna projednala šifrování, ověřování věku a zneužívání dětí na internetu.",
    )
    data = (
        f'<html><body><article><h2><a href="/a/1">{title}</a></h2><p>{text}</p>'
        "</article></body></html>"
    ).encode("iso8859_2")
    source = replace(html_source(SELECTORS), country="CZ")
    doc = parse_document(source, fetched(data, "https://www.psp.cz/news/", "text/html"))
    assert [(i.title, i.summary) for i in doc.items] == [(title, text)]


def test_a_wrong_declared_language_does_not_make_mojibake() -> None:
    # Polish text in ISO-8859-2 and a header that says so; the XML declaration says latin-1
    # and the feed says it is English: the language would pick latin-1, whose reading is
    # plainly garbled.
    title, text = POLISH
    data = (
        '<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><title>Sejm'
        "</title><language>en</language><link>https://www.sejm.gov.pl/</link><item>"
        f"<title>{title}</title><link>https://www.sejm.gov.pl/a/1</link>"
        f"<description>{text}</description></item></channel></rss>"
    ).encode("iso8859_2")
    doc = parse_document(
        feed_source(),
        fetched(data, "https://www.sejm.gov.pl/rss.xml", "text/xml; charset=iso-8859-2"),
    )
    assert [(i.title, i.summary) for i in doc.items] == [(title, text)]


def test_windows_1250_letters_under_an_iso_8859_2_label_read_the_whole_page_as_windows_1250() -> (
    None
):
    # "ś" and "ź" are 0x9C and 0x9F in windows-1250: controls in ISO-8859-2, which no text
    # holds. Read in the label, the page's "ą" (0xB9) came out as "š" ("Sšd Najwyższy").
    title = "Sąd Najwyższy o rozporządzeniu"
    text = "Posłowie będą głosować; źródło: „komunikat” – Kancelaria Sejmu."
    data = _page(title, text, meta="", lang="pl").replace(' charset=""', "").encode("cp1250")
    got_title, got_text, warnings = _parse(data, "iso-8859-2")
    assert (got_title, got_text) == (title, text)
    assert warnings == ["HTTP charset 'iso-8859-2' does not match the bytes: read as cp1250"]


def test_without_a_letter_to_tell_them_apart_the_header_stands() -> None:
    # "Sąd" in windows-1250 is "Sšd" in ISO-8859-2: both are letters, and nothing else in
    # the page tells the two apart, so the page is read as browsers read it.
    data = _page("Sąd", "Sąd Najwyższy", meta="windows-1250", lang="pl").encode("cp1250")
    got_title, _, warnings = _parse(data, "iso-8859-2")
    assert got_title == "Sšd"
    assert warnings == [
        "declared encoding 'windows-1250' contradicts the HTTP charset 'iso-8859-2':"
        " read as 'iso-8859-2'"
    ]


# -- A header alone, no declaration, no language: the reading that is not garbled --------

POLISH_FEED = (
    "<rss><channel><item><title>Posłowie przyjęli sprawozdanie</title><description>Posłowie"
    " przyjęli sprawozdanie w sprawie ochrony dzieci. Rada nie osiągnęła porozumienia w sprawie"
    " rozporządzenia, a Komisja przedstawiła wniosek dotyczący zwalczania przestępstw."
    "</description><link>https://example.pl/a/1</link></item></channel></rss>"
)
BULGARIAN_FEED = (
    "<rss><channel><item><title>Европейската комисия представи регламента</title><description>"
    "Европейската комисия представи предложение за регламент за предотвратяване и борба със"
    " сексуалното насилие над деца. Парламентът прие позицията си.</description>"
    "<link>https://example.bg/a/1</link></item></channel></rss>"
)
FRENCH_FEED = (
    f"<rss><channel><item><title>{FRENCH[0]}</title><description>{FRENCH[1]} « Règlement »"
    " côté Commission, très élevé.</description><link>https://example.fr/a/1</link></item>"
    "</channel></rss>"
)


@pytest.mark.parametrize(
    ("document", "codec", "title"),
    [
        (POLISH_FEED, "iso8859_2", "Posłowie przyjęli sprawozdanie"),
        (BULGARIAN_FEED, "cp1251", "Европейската комисия представи регламента"),
    ],
)
def test_a_server_default_latin1_over_undeclared_text_is_overruled(
    document: str, codec: str, title: str
) -> None:
    # A server's default ISO-8859-1: "Pos³owie przyjêli", "Åâðîïåéñêàòà", stored silently.
    doc = parse_document(
        feed_source(),
        fetched(document.encode(codec), "https://example.org/feed", "text/xml; charset=ISO-8859-1"),
    )
    assert [item.title for item in doc.items] == [title]
    assert doc.warnings == (f"HTTP charset 'ISO-8859-1' reads as garbled text: read as {codec}",)


def test_a_right_latin1_header_over_undeclared_french_stands() -> None:
    doc = parse_document(
        feed_source(),
        fetched(
            FRENCH_FEED.encode("cp1252"),  # "œ": what browsers read ISO-8859-1 as
            "https://example.org/feed",
            "text/xml; charset=ISO-8859-1",
        ),
    )
    assert [item.title for item in doc.items] == [FRENCH[0]]
    assert doc.warnings == ()


@pytest.mark.parametrize("language", [None, "ru"])
def test_koi8r_served_as_windows_1251_is_read_as_koi8r(language: str | None) -> None:
    # Both are encodings Russian is written in, so the language alone kept the header's.
    text = (
        "Как пережить новогоднюю ночь: советы врачей и психологов для всей семьи."
        " Несмотря ни на что, Новый год обязательно наступит."
    )
    document = RUSSIAN_FEED.format(text=text).encode("koi8_r")
    decoded = decode(document, "text/xml; charset=windows-1251", "xml", language=language)
    assert decoded.encoding == "koi8_r"
    assert text in decoded.text
    assert decoded.warnings == (
        "HTTP charset 'windows-1251' reads as garbled text: read as koi8_r",
    )


RUSSIAN_FEED = (
    "<rss><channel><item><title>{text}</title><description>{text}</description></item>"
    "</channel></rss>"
)
