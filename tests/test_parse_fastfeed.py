"""The fast path beside feedparser (aggregator/parse/fastfeed.py) gives exactly feedparser's
result, and takes the documents it was made for.

Every document here is parsed twice, with the fast path off (feedparser alone) and on, and
the two outcomes (the ParsedDocument, or the ParseError) must be equal. Acceptance is checked
too, so that the comparison cannot pass by the fast path refusing everything.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import feedparser
import pytest
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.util import FeedParserDict

from aggregator.errors import ParseError
from aggregator.models import Fetched, ParsedDocument
from aggregator.parse import fastfeed
from aggregator.parse.feed import parse_feed
from bench.farm import feed_count_items, render
from bench.tag import farm_source
from tests.conftest import corpus_path
from tests.support_parse import PARSE_DATA, feed_source

URL = "https://feeds.example.org/feed.xml"
Outcome = ParsedDocument | tuple[str, str]


class Both:
    """Parses a document with the fast path off and on; says whether it was accepted."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.accepted: list[bool] = []
        real = fastfeed.parse_fast

        def spy(utf8: bytes, headers: Any) -> dict[str, Any] | None:
            result = real(utf8, headers)
            self.accepted.append(result is not None)
            return result

        monkeypatch.setattr(fastfeed, "parse_fast", spy)

    def outcome(self, fetched: Fetched, *, fast: bool, language: str | None = None) -> Outcome:
        self.monkeypatch.setattr(fastfeed, "ENABLED", fast)
        self.accepted.clear()
        try:
            return parse_feed(feed_source(language=language), fetched)
        except ParseError as exc:
            return ("ParseError", str(exc))

    def compare(self, fetched: Fetched, language: str | None = None) -> tuple[Outcome, bool]:
        """Asserts both outcomes equal; returns the fast one and whether it was accepted."""
        slow = self.outcome(fetched, fast=False, language=language)
        fast = self.outcome(fetched, fast=True, language=language)
        accepted = any(self.accepted)
        assert fast == slow
        return fast, accepted


@pytest.fixture()
def both(monkeypatch: pytest.MonkeyPatch) -> Both:
    return Both(monkeypatch)


def fetched(content: bytes | str, headers: dict[str, str] | None = None) -> Fetched:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return Fetched(url=URL, status_code=200, content=data, headers=headers or {})


def accepted_equal(both: Both, content: str, headers: dict[str, str] | None = None) -> Any:
    """The document is taken by the fast path and parses as with feedparser."""
    doc, accepted = both.compare(fetched(content, headers))
    assert accepted, "the fast path refused it"
    return doc


def refused_equal(both: Both, content: str) -> None:
    """The document is left to feedparser (and so parses as with feedparser)."""
    _, accepted = both.compare(fetched(content))
    assert not accepted, "the fast path took it"


# -- the real-world corpus, our fixtures, the benchmark farm --------------------------------


def _corpus_documents() -> list[str]:
    root = corpus_path()
    return sorted(
        str(path.relative_to(root))
        for folder in ("feeds", "edgecases", "parliament", "derived")
        if (root / folder).is_dir()
        for path in (root / folder).rglob("*")
        if path.suffix in (".xml", ".rss", ".atom", ".rdf")
    )


def _fixture_documents() -> list[Path]:
    data = PARSE_DATA.parent
    return sorted(p for p in data.rglob("*") if p.suffix in (".xml", ".rss", ".atom", ".rdf"))


# Corpus documents the fast path must take: ordinary RSS 2.0 and Atom 1.0, some in legacy
# encodings, with relative links, FeedBurner links, e-mail authors, unknown plain elements.
# (The others are RSS 1.0/0.90, broken, an HTML page, or use Media RSS titles and
# descriptions, item images, xml:base, XHTML content: feedparser's.)
CORPUS_ACCEPTED = {
    "derived/consilium_press_releases_scraper_generated_rss.xml",
    "edgecases/feedparser__encoding_bozo_linenoise.xml",
    "edgecases/feedparser__encoding_demoronize-1.xml",
    "edgecases/feedparser__illformed_chardet_koi8r.xml",
    "edgecases/feedparser__illformed_http_high_bit_date.xml",
    "edgecases/feedrs__ilmessaggero_it_nodecl_replacement_char.xml",
    "edgecases/miniflux__windows-1252-incorrect-prolog.xml",
    "edgecases/nextcloudnews__no_guid_feed.xml",
    "edgecases/nodefeedparser__illegally-nested_pcmag.xml",
    "feeds/atom_heise_developer_de_rssparser.atom",
    "feeds/rss2_europarl_top-stories_en_2021-09-21_EXCERPT_1item.xml",
    "feeds/rss2_golem_de_iso8859-1_miniflux.xml",
    "feeds/rss2_ilgiornale_it_a10_atom_prefix_feedrs.xml",
    "feeds/rss2_jn_pt_iso8859-1_rssparser.rss",
    "feeds/rss2_neverwinter_relative_links_nodefeedparser.xml",
    "feeds/rss2_tails_news_ikiwiki_rss2email.rss",
    "feeds/rss2_wordpress_generated_manton_rsparser.rss",
    "feeds/rss_uol_noticias_nodecl_latin1_rssparser.rss",
}


@pytest.mark.corpus
@pytest.mark.parametrize("name", _corpus_documents())
@pytest.mark.parametrize("language", [None, "de_AT"], ids=["no-header", "content-language"])
def test_corpus_document_parses_as_with_feedparser(
    corpus: Path, both: Both, name: str, language: str | None
) -> None:
    headers = {"content-language": language} if language else {}
    _, accepted = both.compare(fetched((corpus / name).read_bytes(), headers))
    assert accepted == (name in CORPUS_ACCEPTED)


@pytest.mark.corpus
def test_corpus_share_taken(corpus: Path) -> None:
    names = _corpus_documents()
    assert set(names) >= CORPUS_ACCEPTED
    feeds = [name for name in names if name.startswith("feeds/")]
    assert sum(name in CORPUS_ACCEPTED for name in feeds) >= 9  # of 16 real feeds


@pytest.mark.parametrize("path", _fixture_documents(), ids=lambda path: path.name)
def test_fixture_parses_as_with_feedparser(both: Both, path: Path) -> None:
    _, accepted = both.compare(fetched(path.read_bytes()))
    # The Atom one has xml:base (feedparser resolves it); the RSS ones are plain.
    assert accepted == (path.suffix != ".atom")


@pytest.mark.parametrize("index", range(50))
def test_farm_feed_taken_and_parses_as_with_feedparser(both: Both, index: int) -> None:
    source = farm_source(index)
    body = render(index, feed_count_items(index), "http://127.0.0.1")
    document = Fetched(url=source.url, status_code=200, content=body)
    slow = both.outcome(document, fast=False)
    fast = both.outcome(document, fast=True)
    assert any(both.accepted), "the fast path refused a farm feed"
    assert fast == slow
    assert isinstance(fast, ParsedDocument)
    assert fast.format == ("rss20" if index % 2 == 0 else "atom10")  # both kinds taken
    assert len(fast.items) == feed_count_items(index)


# -- refusals: what the fast path leaves to feedparser -------------------------------------

RSS = (
    '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:atom="http://www.w3.org/2005/Atom" '
    'xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0" '
    'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
    'xmlns:media="http://search.yahoo.com/mrss/">'
    "<channel><title>Channel</title><link>https://example.org/</link>"
    "<language>en</language>{}</channel></rss>"
)
ATOM = (
    '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
    'xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0">'
    '<title>Feed</title><link href="https://example.org/"/><id>urn:feed</id>{}</feed>'
)
ITEM = (
    "<item><title>T</title><link>https://example.org/1</link>"
    "<pubDate>Mon, 06 Jan 2025 10:22:00 GMT</pubDate>{}</item>"
)
ENTRY = (
    '<entry><title>T</title><link href="https://example.org/1"/><id>urn:1</id>'
    "<updated>2025-01-06T10:22:00Z</updated>{}</entry>"
)

REFUSED = {
    "xhtml content": ATOM.format(
        ENTRY.format(
            '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
            "<p>Hi</p></div></content>"
        )
    ),
    "doctype": RSS.replace("<rss", '<!DOCTYPE rss [<!ENTITY who "us">]>\n<rss', 1).format(
        ITEM.format("<description>by &who;</description>")
    ),
    "plain doctype": RSS.replace("<rss", "<!DOCTYPE rss>\n<rss", 1).format(ITEM.format("")),
    "unknown namespace element": RSS.format(ITEM.format("<itunes:author>Pod</itunes:author>")),
    "element with a handler": RSS.format(ITEM.format("<media:title>Other</media:title>")),
    "unknown plain element holding elements": RSS.format(
        ITEM.format("<categories><category>Inside</category></categories>")
    ),
    "broken xml": RSS.format(ITEM.format("<description>unclosed</descr>")),
    "undefined entity": RSS.format(ITEM.format("<description>&nbsp;</description>")),
    "xml:base": ATOM.replace("<feed ", '<feed xml:base="https://example.org/a/" ', 1).format(
        ENTRY.format('<link rel="related" href="b"/>')
    ),
    "xml:base on an item": RSS.format(
        ITEM.format('<comments xml:base="https://example.org/">c</comments>')
    ),
    "markup inside a title": RSS.format(ITEM.replace("<title>T", "<title><b>T</b>")),
    "rss title that may be html": RSS.format(
        ITEM.replace("<title>T", "<title>&lt;b&gt;Bold&lt;/b&gt; claim")
    ),
    "rss title with a double-escaped entity": RSS.format(
        ITEM.replace("<title>T", "<title>It&amp;#8217;s")
    ),
    "date only dateparser reads": RSS.format(ITEM.replace("Mon, 06 Jan 2025", "6. Januar 2025")),
    "second title": RSS.format(ITEM.format("<title>Second</title>")),
    "second description becomes content": RSS.format(
        ITEM.format("<description>A</description><description>B</description>")
    ),
    "atom source feed": ATOM.format(ENTRY.format("<source><title>Elsewhere</title></source>")),
    "base64 content": ATOM.format(ENTRY.format('<content type="image/png">iVBORw0K</content>')),
    "rss 1.0": (
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://example.org/">'
        '<title>C</title></channel><item rdf:about="https://example.org/1"><title>T</title>'
        "</item></rdf:RDF>"
    ),
    "atom 0.3": '<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>F</title></feed>',
    "our prefix bound elsewhere": RSS.replace(
        'xmlns:dc="http://purl.org/dc/elements/1.1/"', 'xmlns:dc="http://purl.org/dc/terms/"'
    ).format(ITEM.format("<dc:creator>Jo</dc:creator>")),
    "lang attribute": RSS.format(ITEM.format('<description lang="de">Hallo</description>')),
    "namespaced attribute": RSS.format(
        ITEM.replace("<link>", '<link xmlns:x="urn:x" x:type="text/plain">')
    ),
    "items outside the channel": RSS.replace("</channel></rss>", "</channel>{}</rss>").format(
        "", ITEM.format("")
    ),
    "not a feed": "<html><body><p>Hello</p></body></html>",
    "plain element feedparser knows": RSS.format(ITEM.format("<date>2025-02-01</date>")),
    "image in an item": RSS.format(ITEM.format("<image><url>https://e.org/i.png</url></image>")),
    "dc:title": RSS.format(ITEM.format("<dc:title>Other title</dc:title>")),
}


@pytest.mark.parametrize("content", REFUSED.values(), ids=REFUSED.keys())
def test_refused_and_parsed_by_feedparser(both: Both, content: str) -> None:
    refused_equal(both, content)


def test_refused_when_switched_off(both: Both, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastfeed, "ENABLED", False)
    assert fastfeed.parse_fast(RSS.format(ITEM.format("")).encode(), {}) is None


# -- tricky equalities: taken by the fast path, and exactly feedparser's ---------------------

TAKEN = {
    "rss title with < and &": RSS.format(ITEM.replace("<title>T", "<title>5 &lt; 6 &amp; 7")),
    "rss title with a lone tag": RSS.format(ITEM.replace("<title>T", "<title>&lt;template&gt;")),
    "cdata description": RSS.format(
        ITEM.format("<description><![CDATA[<p>Para &amp; <b>bold</b></p>]]></description>")
    ),
    "comment inside text": RSS.format(ITEM.format("<description>a <!-- x --> b</description>")),
    "guid not a permalink, no link": RSS.format(
        '<item><title>T</title><guid isPermaLink="false">tag:example.org,2025:1</guid></item>'
    ),
    "guid permalink, no link": RSS.format(
        "<item><title>T</title><guid>https://example.org/from-guid</guid></item>"
    ),
    "guid 'True' is no permalink": RSS.format(
        '<item><title>T</title><guid isPermaLink="True">https://example.org/g</guid></item>'
    ),
    "relative links": RSS.replace(
        "https://example.org/</link>", "https://example.org/news/</link>"
    ).format(ITEM.replace("https://example.org/1", "../2025/item-1")),
    "extra slashes and broken query": RSS.format(
        ITEM.replace("https://example.org/1", "https:///example.org/1?a=1&amp;amp;b;=2")
    ),
    "several authors and categories": RSS.format(
        ITEM.format(
            "<dc:creator>Ana Lima</dc:creator><dc:creator>Bo Berg</dc:creator>"
            '<category domain="https://example.org/tags">Policy</category>'
            "<category> Policy </category><category>Encryption</category>"
            "<dc:subject>Child protection</dc:subject><category></category>"
        )
    ),
    "rss author with e-mail": RSS.format(ITEM.format("<author>jo@example.org (Jo Lee)</author>")),
    "rss author e-mail only": RSS.format(ITEM.format("<author>press@example.org</author>")),
    "rss author name then e-mail": RSS.format(
        ITEM.format("<author>Jo Lee jo@example.brussels</author>")
    ),
    "two rss authors with e-mails": RSS.format(
        ITEM.format(
            "<author>a@example.org (Ann)</author><dc:creator>Bob &lt;b@example.org&gt;</dc:creator>"
        )
    ),
    "content before description": RSS.format(
        ITEM.format(
            "<content:encoded><![CDATA[<p>Full text</p>]]></content:encoded>"
            "<description>Teaser</description>"
        )
    ),
    "content only": RSS.format(
        ITEM.format("<content:encoded>&lt;p&gt;Body&lt;/p&gt;</content:encoded>")
    ),
    "feedburner origlink": RSS.format(
        ITEM.format("<feedburner:origLink>https://example.org/real</feedburner:origLink>")
    ),
    "enclosure only": RSS.format(
        '<item><enclosure url="https://example.org/a.mp3" type="Audio/MPEG" length="1"/></item>'
    ),
    "source with url": RSS.format(
        ITEM.format('<source url="https://example.net/rss">Example Net</source>')
    ),
    "atom:link alternate in an item": RSS.format(
        '<item><title>T</title><atom:link href="https://example.org/alt"/></item>'
    ),
    "channel link from atom:id": RSS.replace("<link>https://example.org/</link>", "").format(
        "<atom:id>https://example.org/home</atom:id>"
    ),
    "mojibake and c1 controls": RSS.format(
        ITEM.replace("<title>T", "<title>Ã©tÃ©").format(
            "<description>\u0093quoted\u0094</description>"
        )
    ),
    "languages from xml:lang": RSS.replace("<channel>", '<channel xml:lang="fr_BE">').format(
        ITEM.format('<description xml:lang="nl">Hallo</description>')
        + '<item xml:lang=""><title>No language</title></item>'
    ),
    "unknown plain and inert elements": RSS.format(
        ITEM.format(
            "<thumbnail>https://example.org/t.jpg</thumbnail><linkmobile>m</linkmobile>"
            '<media:thumbnail url="https://example.org/t.jpg"/><comments>c</comments>'
        )
    ),
    "rss 0.92": RSS.replace('version="2.0"', 'version="0.92"').format(ITEM.format("")),
    "atom id is the link": ATOM.format(
        "<entry><id>https://example.org/by-id</id><title>T</title>"
        "<updated>2025-01-06T10:22:00+01:00</updated></entry>"
    ),
    "atom relative id is no link": ATOM.format(
        "<entry><id>17</id><title>T</title><updated>2025-01-06T10:22:00Z</updated></entry>"
    ),
    "atom alternates by language": ATOM.replace("<feed ", '<feed xml:lang="de" ', 1).format(
        ENTRY.replace('<link href="https://example.org/1"/>', "").format(
            '<link rel="alternate" hreflang="en" href="https://example.org/en/1"/>'
            '<link rel="alternate" hreflang="de" type="text/html" href="https://example.org/de/1"/>'
            '<link rel="enclosure" href="https://example.org/1.pdf" type="application/pdf"/>'
        )
    ),
    "atom authors": ATOM.replace(
        "<id>urn:feed</id>",
        "<id>urn:feed</id><author><name>Office</name><email>press@example.org</email></author>",
    ).format(
        ENTRY.format(
            "<author><name>Ana</name><email>ana@example.org</email></author>"
            "<author><name>Bo</name></author>"
        )
        + ENTRY.replace("urn:1", "urn:2").format("")
    ),
    "atom html title, text summary, html content": ATOM.format(
        ENTRY.replace("<title>T", '<title type="html">A &amp;lt;b&amp;gt; title').format(
            '<summary type="text">1 &lt; 2</summary>'
            '<content type="html">&lt;p&gt;Body&lt;/p&gt;</content>'
        )
    ),
    "atom content with src": ATOM.format(
        "<entry><id>urn:3</id><title>T</title><updated>2025-01-06T10:22:00Z</updated>"
        '<content src="https://example.org/doc.pdf" type="text/html"/></entry>'
    ),
    "atom categories": ATOM.format(
        ENTRY.format(
            '<category term="EU" scheme="s"/><category term="" label="L"/>'
            '<category term=" Tech ">Extra</category>'
        )
    ),
    "atom author named by an address": ATOM.format(
        ENTRY.format("<author><name>a@example.org</name><email>b@example.org</email></author>")
    ),
    "atom plain content, no summary": ATOM.format(
        ENTRY.format('<content type="text">1 &lt; 2\n  and more</content>')
    ),
    "atom alternate that is no page": ATOM.format(
        "<entry><id>https://example.org/by-id</id><title>T</title>"
        '<updated>2025-01-06T10:22:00Z</updated><link rel="alternate" type="application/pdf" '
        'href="https://example.org/1.pdf"/></entry>'
    ),
    "atom feed link from id": ATOM.replace('<link href="https://example.org/"/>', "")
    .replace("urn:feed", "https://example.org/feed-id")
    .format(ENTRY.format("")),
}


@pytest.mark.parametrize("content", TAKEN.values(), ids=TAKEN.keys())
def test_taken_and_equal_to_feedparser(both: Both, content: str) -> None:
    accepted_equal(both, content)


@pytest.mark.parametrize("header", ["de_AT", "", "en"])
def test_content_language_header(both: Both, header: str) -> None:
    content = RSS.replace("<language>en</language>", "").format(ITEM.format(""))
    accepted_equal(both, content, {"content-language": header})
    accepted_equal(both, ATOM.format(ENTRY.format("")), {"content-language": header})


def test_a_few_values(both: Both) -> None:
    """The equalities above hold for the values feedparser gives, not for two blanks."""
    doc = accepted_equal(both, TAKEN["rss author with e-mail"])
    assert doc.items[0].author == "Jo Lee"
    doc = accepted_equal(both, TAKEN["guid not a permalink, no link"])
    assert (doc.items[0].guid, doc.items[0].url) == ("tag:example.org,2025:1", None)
    doc = accepted_equal(both, TAKEN["relative links"])
    assert doc.items[0].url == "https://example.org/2025/item-1"
    doc = accepted_equal(both, TAKEN["several authors and categories"])
    assert doc.items[0].author == "Ana Lima, Bo Berg"
    assert doc.items[0].categories == ("Policy", "Encryption", "Child protection")
    doc = accepted_equal(both, TAKEN["atom alternates by language"])
    assert doc.items[0].url == "https://example.org/de/1"
    doc = accepted_equal(both, TAKEN["mojibake and c1 controls"])
    assert (doc.items[0].title, doc.items[0].summary) == ("été", "“quoted”")


# -- many made-up documents mixing the tricky parts -----------------------------------------

TEXTS = (
    "Plain", "  spaced \n text ", "Q&amp;A", "&lt;b&gt;x&lt;/b&gt;", "<![CDATA[<p>p</p> & q]]>",
    "List&lt;T&gt;", "café", "Ã©tÃ©", "\u0093c1\u0094", "&amp;amp;", "it&amp;#8217;s", "", "中文",
    "a <!-- c --> b", "&lt;template&gt;",
)  # fmt: skip
LINKS = (
    "https://example.org/a", "/rel/path", "rel", "http:///x.example/y", "https://e.org/?a=1&amp;b=2",
    "https://e.org/?a=1&amp;amp;b;=2", "", " https://e.org/s ", "urn:uuid:1", "https://e.org/é",
)  # fmt: skip
DATES = (
    "Mon, 06 Jan 2025 10:22:00 GMT", "2025-01-06T10:22:00+01:00", "2025-01-06", "not a date",
    "Tue, 7 Jan 2025 09:00:00 +0100", "2025-01-06T10:22:00", "Mon, 06 Jan 2025 10:22:00 XYZ", "",
)  # fmt: skip
AUTHORS = (
    "Jane Doe", "jane@example.org (Jane Doe)", "Jane <jane@example.org>", "jane@example.org",
    "Jane jane@example.brussels", "(Jane)", "", "x@[1.2.3.4] (IP)",
)  # fmt: skip


def _lang(rng: random.Random) -> str:
    value = rng.choice((None, None, None, "en", "de_DE", ""))
    return "" if value is None else f' xml:lang="{value}"'


def _rss_item(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 8)):
        text, link, date = rng.choice(TEXTS), rng.choice(LINKS), rng.choice(DATES)
        person = rng.choice(("author", "dc:creator"))
        permalink = rng.choice(("", ' isPermaLink="false"'))
        domain = rng.choice(("", ' domain="d"'))
        rel = rng.choice(("alternate", "self"))
        parts.append(
            rng.choice(
                (
                    f"<title{_lang(rng)}>{text}</title>",
                    f"<link>{link}</link>",
                    f"<description{_lang(rng)}>{text}</description>",
                    f"<content:encoded>{text}</content:encoded>",
                    f"<guid{permalink}>{link}</guid>",
                    f"<pubDate>{date}</pubDate>",
                    f"<dc:date>{date}</dc:date>",
                    f"<{person}>{rng.choice(AUTHORS)}</{person}>",
                    f"<category{domain}>{rng.choice(('A', ' B ', ''))}</category>",
                    f'<atom:link href="{link}" rel="{rel}"/>',
                    f"<feedburner:origLink>{link}</feedburner:origLink>",
                    f'<enclosure url="{link}" type="A/B"/>',
                )
            )
        )
    return f"<item{_lang(rng)}>{''.join(parts)}</item>"


def _atom_entry(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 8)):
        text, link, date = rng.choice(TEXTS), rng.choice(LINKS), rng.choice(DATES)
        kind = rng.choice(("", ' type="text"', ' type="html"', ' type="TEXT/HTML"'))
        stamp = rng.choice(("published", "updated"))
        rel = rng.choice(("alternate", "self"))
        hreflang = rng.choice(("en", "de"))
        person = "".join(
            f"<{part}>{rng.choice(('Ana', '', 'a@example.org', 'https://e.org/'))}</{part}>"
            for part in rng.sample(("name", "email", "uri"), rng.randint(0, 3))
        )
        term = rng.choice(("A", "", " B "))
        parts.append(
            rng.choice(
                (
                    f"<title{kind}{_lang(rng)}>{text}</title>",
                    f"<summary{kind}>{text}</summary>",
                    f"<content{kind}>{text}</content>",
                    f"<id>{link}</id>",
                    f"<{stamp}>{date}</{stamp}>",
                    f'<link href="{link}" rel="{rel}" hreflang="{hreflang}"/>',
                    f"<author>{person}</author>",
                    f'<category term="{term}">{rng.choice(("", "C"))}</category>',
                    f"<feedburner:origLink>{link}</feedburner:origLink>",
                )
            )
        )
    return f"<entry{_lang(rng)}>{''.join(parts)}</entry>"


def _made_up(rng: random.Random) -> str:
    if rng.random() < 0.6:
        items = "".join(_rss_item(rng) for _ in range(rng.randint(0, 3)))
        return RSS.replace("<channel>", f"<channel{_lang(rng)}>").format(items)
    entries = "".join(_atom_entry(rng) for _ in range(rng.randint(0, 3)))
    return ATOM.replace("<feed ", f"<feed{_lang(rng)} ", 1).format(entries)


def test_made_up_documents_parse_as_with_feedparser(both: Both) -> None:
    taken = 0
    for seed in range(300):
        rng = random.Random(seed)
        content = _made_up(rng)
        headers = rng.choice(({}, {}, {"content-language": "fr_CA"}))
        try:
            _, accepted = both.compare(fetched(content, headers))
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}: {content}") from exc
        taken += accepted
    assert taken >= 60  # a real share taken, the rest refused (mostly repeated elements)


# -- what the fast path assumes of feedparser ------------------------------------------------


def test_namespaces_are_filed_as_feedparser_files_them() -> None:
    known = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
    for uri, prefix in fastfeed._NAMESPACES.items():
        assert known[uri] == prefix, uri


# feedparser 6.0's Media RSS handlers: credit, license, rating and restriction file what
# they hold under their own names; the others reach titles, summaries and tags.
MEDIA_HANDLERS = {
    "media_category", "media_content", "media_credit", "media_description", "media_group",
    "media_keywords", "media_license", "media_player", "media_rating", "media_restriction",
    "media_thumbnail", "media_title",
}  # fmt: skip


def test_feedparser_handlers_are_known() -> None:
    """An element name feedparser handles must not be taken for an inert one: fails when a
    feedparser upgrade adds handlers."""
    names = {
        name.split("_", 2)[2]
        for name in dir(feedparser.api.StrictFeedParser)
        if name.startswith(("_start_", "_end_"))
    }
    for name in names:
        key = name.lower()
        if "_" not in key:
            assert key in fastfeed._FEEDPARSER_NAMES, key
            continue
        prefix = key.split("_", 1)[0]
        assert not key.startswith(fastfeed._INERT_PREFIXES), key
        assert key not in fastfeed._INERT_KEYS, key
        if prefix == "media":  # those taken as inert keep what they hold aside
            assert key in MEDIA_HANDLERS, key
        if prefix == "dcterms":
            assert key in fastfeed._HANDLED_DCTERMS | {"dcterms_valid"}, key
        if prefix == "feedburner":
            assert key == "feedburner_browserfriendly", key
    aliases = {key for key in FeedParserDict.keymap if "_" not in key}
    assert aliases <= fastfeed._FEEDPARSER_NAMES


def test_c1_controls_read_as_feedparser_reads_them() -> None:
    assert {code: char for code, char in fastfeed._C1_AS_CP1252.items()} == dict(_cp1252)
