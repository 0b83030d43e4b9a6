"""Publishing-system footers removed from item text: only known forms, only at the end, and
never an author's own last sentence."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.boilerplate import (
    only_a_footer_removed,
    without_copyright_line,
    without_read_more_link,
    without_read_more_words,
    without_wordpress_footer,
)
from aggregator.models import ParsedDocument, RawItem
from aggregator.normalise import normalise_document
from aggregator.parse import parse_document
from tests.support_parse import feed_source, fetched

YOAST_EN = (
    '<p>The post <a rel="nofollow" href="https://edri.org/x/">EDRi-gram, 16 July 2026</a> '
    'appeared first on <a rel="nofollow" href="https://edri.org">European Digital Rights '
    "(EDRi)</a>.</p>"
)


@pytest.mark.parametrize(
    "footer",
    [
        YOAST_EN,
        '<p>Der Beitrag <a href="https://netzpolitik.org/1">Chatkontrolle</a> erschien zuerst '
        'auf <a href="https://netzpolitik.org">netzpolitik.org</a>.</p>',
        '<p>L&#8217;article <a href="https://lqdn.fr/1">Contrôle</a> est apparu en premier sur '
        '<a href="https://lqdn.fr">La Quadrature du Net</a>.</p>',
        '<p>L’articolo <a href="https://x.it/1">Il regolamento</a> proviene da '
        '<a href="https://x.it">Sito</a>.</p>',
        '<p>L&#039;articolo <a rel="nofollow" href="https://edri.org/x/">Controllo chat</a> '
        'proviene da <a rel="nofollow" href="https://edri.org">EDRi</a>.</p>',
        '<p>La entrada <a href="https://x.es/1">Chat</a> se public&oacute; primero en '
        '<a href="https://x.es/">X</a>.</p>',
        '<p>Artyku&#322; <a href="https://x.pl/1">Czat</a> pochodzi z serwisu '
        '<a href="https://x.pl">X</a>.</p>',
        '<p>The&nbsp;post\n<a href="https://edri.org/x/">T</a> appeared first on\n'
        '<a href="https://edri.org/">EDRi</a>.</p >',
        YOAST_EN + '<img src="http://feeds.feedburner.com/~r/edri/~4/x" height="1" width="1" '
        'alt=""/>',
        YOAST_EN + "<!-- generated --></div>",
    ],
    ids=[
        "en",
        "de",
        "fr-entity",
        "it",
        "it-039",
        "es-oacute",
        "pl-entity",
        "nbsp-newline",
        "feedburner-pixel",
        "comment-and-div",
    ],
)
def test_a_yoast_footer_paragraph_is_removed(footer: str) -> None:
    html = "<p>Summer to-dos, &amp; more!</p>\n" + footer + "\n"
    assert without_wordpress_footer(html) == "<p>Summer to-dos, &amp; more!</p>"


@pytest.mark.parametrize(
    "html",
    [
        # The same words as an author's own sentence, without Yoast's two links.
        "<p>Intro.</p><p>L'articolo 7 del regolamento proviene da una proposta della "
        "Commissione del 2022.</p>",
        "<p>The post by the minister appeared first on X, where it was seen by thousands.</p>",
        "<p>Der Beitrag der Kommission erschien zuerst auf ihrer Website, später im Amtsblatt</p>",
        "<p>La entrada en vigor del reglamento se publicó primero en el Diario Oficial.</p>",
        # Not at the end.
        YOAST_EN + "<p>Then the statement goes on.</p>",
        # Yoast's shape, its second link to no address at all.
        '<p>The post <a href="https://edri.org/x/">T</a> appeared first on '
        '<a href="">EDRi</a>.</p>',
        # Yoast's shape, but its second link is no home page: an author's sentence.
        '<p>L&#8217;articolo <a href="/doc/7">7 del regolamento</a> proviene da '
        '<a href="/com/2022-209">una proposta della Commissione</a>.</p>',
    ],
    ids=[
        "it-sentence",
        "en-sentence",
        "de-sentence",
        "es-sentence",
        "not-last",
        "empty-href",
        "it-links",
    ],
)
def test_anything_else_is_kept_in_the_html(html: str) -> None:
    assert without_wordpress_footer(html) == html


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (
            "The debate took place on 15 September.\n\nSource : © European Union, 2021 - EP",
            "The debate took place on 15 September.",
        ),
        (
            "Shortlisted for the LUX award. Committee on Culture and Education Source : © "
            "European Union, 2024 - EP",
            "Shortlisted for the LUX award. Committee on Culture and Education",
        ),
        ("Le débat a eu lieu. Source : © Union européenne, 2024 - PE", "Le débat a eu lieu."),
        (
            "Die Debatte fand statt. Quelle : © Europäische Union, 2024 – EP",
            "Die Debatte fand statt.",
        ),
        ("O debate. Fonte : © União Europeia, 2021 - PE", "O debate."),
        ("Keskustelu. Lähde : © Euroopan unioni, 2021 - EP", "Keskustelu."),
        ("Η συζήτηση. Πηγή : © Ευρωπαϊκή Ένωση, 2021 - ΕΚ", "Η συζήτηση."),
    ],
    ids=["own-line", "inline", "fr", "de-en-dash", "pt", "fi", "el"],
)
def test_the_parliament_s_copyright_line_at_the_end_is_removed(text: str, kept: str) -> None:
    assert without_copyright_line(text) == kept


@pytest.mark.parametrize(
    "text",
    [
        "Photo: © Reuters, 2024",  # a credit, not the Parliament's line
        "Photo: © European Union, 2021",  # a credit of the Union's photo service: kept
        "Voluntary detection.\n\nPhoto credit: © European Union, 2026",
        "Credits: © European Union, 2024 - EC",
        "Source: © European Union, 2024 - EP, as quoted in the report, is the copyright.",
        "Plain text without any footer.",
        "",
    ],
)
def test_anything_else_is_kept_in_the_text(text: str) -> None:
    assert without_copyright_line(text) == text


@pytest.mark.corpus
def test_the_parliament_s_feed_items_lose_their_copyright_line(corpus: Path) -> None:
    path = corpus / "feeds" / "rss2_europarl_top-stories_en_2021-09-21_EXCERPT_1item.xml"
    source = feed_source("ep-press", language="en")
    document = parse_document(
        source,
        fetched(path.read_bytes(), "https://www.europarl.europa.eu/rss/doc/top-stories/en.xml"),
    )
    (item,) = normalise_document(source, document, now=datetime(2021, 9, 22, tzinfo=UTC))
    assert item.text.endswith("took place on 15 September.")
    assert "European Union, 2021" not in item.summary


@pytest.mark.corpus
def test_edri_entries_lose_yoast_s_footer_and_nothing_else(corpus: Path) -> None:
    dump = corpus / "derived" / "openmag_parsed_items" / "european_digital_rights__edri__HEAD.json"
    entries = json.loads(dump.read_text(encoding="utf-8"))
    with_footer = [e for e in entries if "appeared first on" in e["content"]]
    assert len(with_footer) >= 5
    source = feed_source("edri", language="en")
    for entry in entries:
        raw = RawItem(url=entry["link"], title=entry["title"], content=entry["content"])
        (item,) = normalise_document(
            source,
            _document(raw),
            now=datetime(2026, 11, 26, tzinfo=UTC),
        )
        assert "appeared first on" not in item.text
        if entry in with_footer:  # the statement itself is all there, up to the footer
            assert item.text.split()[-1] not in ("(EDRi).", "EDRi).")
            assert len(item.text) > 100


def _document(raw: RawItem) -> ParsedDocument:
    return ParsedDocument(items=(raw,), format="rss20")


@pytest.mark.parametrize(
    ("html", "kept"),
    [
        (
            '<p>Schools tackle obesity.</p><a href="https://wapo.example/a">Read full article'
            '  &gt;&gt;</a><br clear="both"/><a href="https://share.example/f"><img alt="Add'
            ' to Facebook" src="f.png"/></a>',
            "<p>Schools tackle obesity.</p>",
        ),
        (
            '<p>What is in iOS 11.2.</p><p class="jumpTag"><a href="/a#jump">To read this'
            " article in full, please click here</a></p>",
            '<p>What is in iOS 11.2.</p><p class="jumpTag">',
        ),
        (
            '<p>Der Rat hat entschieden. <a href="/x">Weiterlesen</a></p>',
            "<p>Der Rat hat entschieden.",
        ),
        (
            '<p>Le Conseil a tranché.</p><a href="/x">Lire la suite &raquo;</a>',
            "<p>Le Conseil a tranché.</p>",
        ),
        # A city's and a ministry's teasers (the corpus's Stuttgart page ends each in
        # "mehr..."), and a French "En savoir plus".
        (
            '<p>Die Eiswelt eröffnet die Saison. <a href="/x">mehr...</a></p>',
            "<p>Die Eiswelt eröffnet die Saison.",
        ),
        (
            '<p>Das Kabinett hat beschlossen.</p><a href="/x">Mehr erfahren</a>',
            "<p>Das Kabinett hat beschlossen.</p>",
        ),
        (
            '<p>Le ministère publie son rapport.</p><a href="/x">En savoir plus</a>',
            "<p>Le ministère publie son rapport.</p>",
        ),
        # A marked link (an ellipsis, an arrow) is a button also right after a sentence's
        # words, as the Stuttgart page writes its first teaser.
        (
            '<p>Stuttgarter Chansongfest 2017 <a href="/event/show/27332">mehr...</a><br/></p>',
            "<p>Stuttgarter Chansongfest 2017",
        ),
        (
            '<p>The LIBE vote is on Tuesday <a href="/x">Read more &raquo;</a></p>',
            "<p>The LIBE vote is on Tuesday",
        ),
        # What no reader sees after it (a <noscript> note, a comment) does not keep it.
        (
            '<p>Le Conseil a adopté sa position.</p><ul><li>Point</li></ul><p><a href="/c/23">'
            "Lire la suite »</a></p><noscript>Activez JavaScript</noscript><!-- fin -->",
            "<p>Le Conseil a adopté sa position.</p><ul><li>Point</li></ul><p>",
        ),
    ],
)
def test_a_closing_read_more_link_is_removed(html: str, kept: str) -> None:
    assert without_read_more_link(html) == kept


@pytest.mark.parametrize(
    "html",
    [
        '<p>Learn <a href="/x">more »</a></p>',  # inside a sentence
        '<p>Erfahren Sie <a href="/x">mehr…</a></p>',  # "mehr" finishes the sentence
        '<p>The vote is on Tuesday <a href="/x">read more</a></p>',  # no mark: words
        '<p>See <a href="/x">read more</a> on the Council page.</p>',  # words follow it
        '<p>The report. <a href="/x">The Council position</a></p>',  # no read-more words
    ],
)
def test_other_closing_links_are_kept(html: str) -> None:
    assert without_read_more_link(html) == html


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("name", "trailer"),
    [
        ("rss2_washingtonpost_wellness_nodefeedparser.xml", "Read full article"),
        ("rss2_macworld_leading_whitespace_nodecl_rsparser.rss", "To read this article in full"),
    ],
)
def test_corpus_feeds_lose_their_read_more_links(corpus: Path, name: str, trailer: str) -> None:
    path = corpus / "feeds" / name
    assert trailer.encode() in path.read_bytes()
    source = feed_source()
    document = parse_document(source, fetched(path.read_bytes(), "https://example.org/feed"))
    items = normalise_document(source, document, now=datetime.now(UTC))
    assert len(items) >= 20
    assert not [i.title for i in items if trailer in i.text or trailer in i.summary]


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Já são 500 mil testes. Leia mais (09/24/2018 - 19h22)", "Já são 500 mil testes."),
        ("The Council adopted its position. Read more »", "The Council adopted its position."),
        ("Le Conseil a tranché. Lire la suite...", "Le Conseil a tranché."),
        ("Der Rat hat entschieden. Weiterlesen", "Der Rat hat entschieden."),
    ],
)
def test_a_closing_plain_text_read_more_sentence_is_removed(text: str, kept: str) -> None:
    assert without_read_more_words(text) == kept
    # An item stored with it before is updated in place, without a revision.
    assert only_a_footer_removed(text, kept)


@pytest.mark.parametrize(
    "text",
    [
        "Children should read more.",  # the words end a sentence, are not one
        "Read more",  # nothing before it: the whole text
        "Leia mais sobre o regulamento aqui.",  # words follow them
        "Die Kinder wollen mehr.",  # German "more" in a sentence, not a link's "mehr..."
        "Le gouvernement veut en savoir plus sur le chiffrement.",
    ],
)
def test_read_more_words_that_are_not_a_trailer_are_kept(text: str) -> None:
    assert without_read_more_words(text) == text


@pytest.mark.corpus
def test_corpus_plain_text_leia_mais_trailers_are_removed(corpus: Path) -> None:
    path = corpus / "feeds" / "rss_uol_noticias_nodecl_latin1_rssparser.rss"
    assert b"Leia mais (" in path.read_bytes()
    source = feed_source()
    document = parse_document(source, fetched(path.read_bytes(), "https://example.org/feed"))
    items = normalise_document(source, document, now=datetime.now(UTC))
    assert len(items) >= 10
    assert not [i.title for i in items if "Leia mais" in i.text or "Leia mais" in i.summary]
