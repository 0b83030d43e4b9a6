"""Every feed of the real-world corpus parses, into items a later stage can trust.

Links are absolute http(s), dates are tz-aware wherever the feed gives a zone, and titles
of the feeds in legacy or mislabelled encodings read as the words they are.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aggregator.models import Fetched, ParsedDocument
from aggregator.parse import parse_document
from tests.conftest import corpus_path
from tests.support_parse import feed_source

pytestmark = pytest.mark.corpus


def _feed_files() -> list[str]:
    root = corpus_path()
    found = [
        f"{folder}/{path.name}"
        for folder in ("feeds", "edgecases")
        if (root / folder).is_dir()
        for path in sorted((root / folder).iterdir())
    ]
    return [*found, "derived/consilium_press_releases_scraper_generated_rss.xml"]


# Files that are valid (or salvageable) documents with no entries in them. Every other file
# must yield at least one item; none may raise ParseError.
NO_ITEMS = {
    "edgecases/feedparser__encoding_bozo_invalid-bytes-with-bom.xml",  # channel only
    "edgecases/feedparser__encoding_http_text_xml_charset_overrides_encoding.xml",  # empty rss
    "edgecases/feedparser__illformed_http_high_bit_date.xml",  # channel with a date only
    "edgecases/feedparser__illformed_rss_incomplete_cdata.xml",  # the one item is cut off
    "edgecases/feedparser__illformed_undeclared_namespace.xml",  # channel only
    "edgecases/miniflux__windows-1252-incorrect-prolog.xml",  # channel title only
}
# Deliberately undecodable test input: the "right" text does not exist.
GARBLED = {
    "edgecases/feedparser__encoding_bozo_linenoise.xml",
    "edgecases/feedparser__encoding_bozo_double-encoded-html.xml",
    "edgecases/feedparser__encoding_bozo_invalid-bytes-with-bom.xml",
}
# UTF-8 read as latin-1/windows-1252 and re-encoded: "Ã©" for "é", "â€™" for "’".
MOJIBAKE = re.compile("Ã[\u0080-\u00bf]|â€|Â[\u00a0-\u00bf]")


def parse_file(corpus: Path, name: str) -> ParsedDocument:
    data = (corpus / name).read_bytes()
    return parse_document(
        feed_source(),
        Fetched(url="https://feeds.example.org/feed.xml", status_code=200, content=data),
    )


@pytest.mark.parametrize("name", _feed_files(), ids=lambda name: name.split("/")[-1])
def test_corpus_feed_parses(corpus: Path, name: str) -> None:
    doc = parse_file(corpus, name)
    if name in NO_ITEMS:
        assert doc.items == ()
        return
    assert doc.items, f"no items from {name}"
    for item in doc.items:
        if item.url is not None:
            assert re.match(r"https?://[^/\s]+", item.url), item.url
        for date in (item.published, item.updated):
            if date is not None and date.tzinfo is None:
                # Naive only where the document gave no zone (W3C-DTF without offset).
                assert "feeds/rss1_rdf_gmane" in name or "nextcloud" in name, (name, date)
        if name not in GARBLED:
            for text in (item.title, doc.title):
                assert text is None or ("\ufffd" not in text and not MOJIBAKE.search(text))


def test_no_items_files_exist(corpus: Path) -> None:
    # Keeps NO_ITEMS honest when the corpus changes.
    assert all((corpus / name).is_file() for name in NO_ITEMS)


KNOWN_TITLES = [
    # (file, a title that must appear exactly)
    ("feeds/rss2_jn_pt_iso8859-1_rssparser.rss", "Mãe de utente é a nova presidente da Raríssimas"),
    (
        "feeds/rss_uol_noticias_nodecl_latin1_rssparser.rss",
        "Ibope: Bolsonaro perde de Haddad, Ciro e Alckmin em simulações de 2º turno",
    ),
    (
        "feeds/rss090_rdf_heise_newsticker_de_miniflux.xml",
        "OLED-TVs: Vorsichtsmaßnahmen gegen Einbrennen",
    ),
    ("feeds/atom_bbc_chinese_zh_rss2email.atom", "白宫提名艾伦为北约最高司令官"),
    ("edgecases/feedparser__illformed_chardet_koi8r.xml", "Как пережить новогоднюю ночь"),
    ("edgecases/miniflux__utf8-incorrect-prolog.xml", "Café"),
    (
        "edgecases/feedrs__ilmessaggero_it_nodecl_replacement_char.xml",
        "Missili Polonia, cosa è successo? Tensione Nato-Russia, Mosca: non siamo stati noi",
    ),
]


@pytest.mark.parametrize(("name", "title"), KNOWN_TITLES, ids=lambda v: str(v).split("/")[-1][:40])
def test_corpus_known_encoding_titles(corpus: Path, name: str, title: str) -> None:
    assert title in [item.title for item in parse_file(corpus, name).items]


def test_corpus_golem_latin1_words(corpus: Path) -> None:
    doc = parse_file(corpus, "feeds/rss2_golem_de_iso8859-1_miniflux.xml")
    text = " ".join(f"{item.title} {item.summary}" for item in doc.items)
    assert "Übertragungen" in text and "künftig" in text


def test_corpus_utf8_under_windows_1252_label(corpus: Path) -> None:
    doc = parse_file(corpus, "edgecases/miniflux__windows-1252-incorrect-prolog.xml")
    assert doc.title == "Euro €"


def test_corpus_windows_1252_bytes_without_label(corpus: Path) -> None:
    doc = parse_file(corpus, "edgecases/feedparser__encoding_demoronize-1.xml")
    assert doc.items[0].summary == "don’t"


def test_corpus_relative_links_resolve_against_channel_link(corpus: Path) -> None:
    doc = parse_file(corpus, "feeds/rss2_neverwinter_relative_links_nodefeedparser.xml")
    # The channel's own link is relative too: it resolves against the final URL first.
    assert doc.link == "https://feeds.example.org/en/games/neverwinter/news"
    assert doc.items[0].url == (
        "https://feeds.example.org/en/games/neverwinter/news/detail/"
        "10743874-neverwinter-%26-jingle-jam-humble-bundle%21"
    )


def test_corpus_json_feed(corpus: Path) -> None:
    doc = parse_file(corpus, "feeds/jsonfeed_npr_technology_trafilatura.json")
    assert doc.format == "json10"
    assert len(doc.items) == 25
    assert all(item.published is not None and item.published.tzinfo for item in doc.items)


def test_corpus_localized_rfc822_dates_keep_their_offset(corpus: Path) -> None:
    doc = parse_file(corpus, "feeds/rss_uol_noticias_nodecl_latin1_rssparser.rss")
    published = doc.items[0].published
    assert published is not None and published.isoformat() == "2018-09-24T19:42:40-03:00"


def test_corpus_feedburner_items_with_an_empty_nested_item_keep_their_orig_link(
    corpus: Path,
) -> None:
    # Each item holds an illegal `<item />` before its feedburner:origLink.
    data = (corpus / "edgecases/nodefeedparser__illegally-nested_pcmag.xml").read_bytes()
    for variant in (data, data.replace(b"<item />", b"<item></item>")):
        doc = parse_document(
            feed_source(),
            Fetched(url="https://feeds.example.org/", status_code=200, content=variant),
        )
        assert len(doc.items) == 10
        assert doc.warnings == ()
        assert all(item.url and item.url.startswith("http://www.pcmag.com/") for item in doc.items)
