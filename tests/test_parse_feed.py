"""Feeds: our own fixtures with exact expected values, and refusals of what is not a feed."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from aggregator.errors import ParseError
from aggregator.models import Fetched, Item, ParsedDocument
from aggregator.normalise import normalise_document
from aggregator.parse import fastfeed, parse_document
from aggregator.parse.guards import MAX_DOCUMENT_BYTES
from tests.support_parse import feed_source, fetched, fixture


def tz(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


def parse(doc: Fetched, language: str | None = None) -> ParsedDocument:
    return parse_document(feed_source(language=language), doc)


def test_europarl_press_rss() -> None:
    doc = parse(
        fetched(
            fixture("europarl_press_rss.xml"),
            "https://www.europarl.europa.eu/rss/doc/press-releases/en.xml",
            "application/rss+xml",
        )
    )
    assert doc.format == "rss20"
    assert doc.title == "European Parliament - Press room"
    assert doc.link == "https://www.europarl.europa.eu/news/en/press-room"
    assert doc.language == "en"
    assert doc.ttl == timedelta(minutes=30)
    assert doc.warnings == ()
    first, second = doc.items
    assert first.guid == "20251110IPR31234"
    assert first.title == "Child sexual abuse online: Parliament ready to negotiate with Council"
    assert first.url == (
        "https://www.europarl.europa.eu/news/en/press-room/20251110IPR31234/"
        "child-sexual-abuse-online-parliament-ready-to-negotiate-with-council"
    )
    assert first.summary is not None and "end-to-end encryption" in first.summary
    assert "&amp;" in first.summary  # HTML left as the feed gave it, unsanitised
    assert first.published == datetime(2025, 11, 13, 12, 15, tzinfo=tz(1))
    assert first.published.utcoffset() == timedelta(hours=1)
    assert first.categories == ("LIBE", "Justice and home affairs")
    assert first.author == "Press Service"
    assert first.language == "en"
    # A site-relative link in RSS resolves against the channel's link.
    assert second.url == (
        "https://www.europarl.europa.eu/news/en/press-room/20240405IPR20050/"
        "interim-regulation-on-voluntary-detection-extended"
    )
    assert second.published == datetime(2024, 4, 10, 18, 2, tzinfo=tz(2))


def test_iwf_atom_with_xml_base_and_languages() -> None:
    doc = parse(fetched(fixture("iwf_news.atom"), "https://www.iwf.org.uk/news-media/feed.atom"))
    assert doc.format == "atom10"
    assert doc.language == "en-GB"
    assert doc.link == "https://www.iwf.org.uk/news-media/"
    first, second = doc.items
    assert first.url == (
        "https://www.iwf.org.uk/news-media/news/record-levels-of-ai-child-sexual-abuse-imagery/"
    )
    assert first.guid == "tag:iwf.org.uk,2025:news/1841"
    assert first.title == "Record levels of AI child sexual abuse imagery &ndash; IWF annual data"
    assert first.published == datetime(2025, 11, 12, 9, 0, tzinfo=UTC_)
    assert first.updated == datetime(2025, 11, 12, 11, 30, tzinfo=UTC_)
    assert first.author == "IWF Press Office"
    assert first.categories == ("AI", "Annual report")
    assert first.summary == "Analysts confirmed a sharp rise in AI-generated imagery."
    assert first.content == (
        "<p>Analysts confirmed a <strong>sharp rise</strong> in AI-generated imagery.</p>"
    )
    assert first.language == "en-GB"
    assert second.title == "IWF begrüßt die Position des Rates"
    assert second.language == "de"
    # Only <updated>: it is the entry's publication date too.
    assert second.published == datetime(2025, 11, 27, 16, 45, tzinfo=tz(1))
    assert second.updated == second.published


UTC_ = UTC


def test_wordpress_rss_in_windows_1252() -> None:
    doc = parse(fetched(fixture("edri_wordpress_windows1252.rss"), "https://edri.org/feed/"))
    assert doc.format == "rss20"
    assert doc.language == "en-GB"
    first, second = doc.items
    assert first.title == "Chat control: the Council’s “compromise” still breaks encryption"
    assert first.guid == "https://edri.org/?p=45123"  # not a permalink: the <link> is the URL
    assert first.url == (
        "https://edri.org/our-work/chat-control-council-compromise-still-breaks-encryption/"
    )
    assert first.author == "Ella Jakubowska"
    # CDATA holds HTML: its character reference is the HTML's, for normalise to decode.
    assert first.summary == "Member states’ sécurité concerns do not justify mass scanning&#8230;"
    assert first.content == (
        "<p>Member states’ sécurité concerns do not justify mass scanning.</p>"
    )
    assert first.categories == ("Privacy and data protection", "CSA Regulation")
    assert first.published == datetime(2025, 11, 12, 9, 30, tzinfo=UTC_)
    assert second.guid == second.url == "https://edri.org/our-work/stop-scanning-me-open-letter/"


def test_http_charset_that_lies_is_overruled() -> None:
    # The server says utf-8; the bytes are windows-1252 (and say so): no mojibake stored.
    doc = parse(
        fetched(
            fixture("edri_wordpress_windows1252.rss"),
            "https://edri.org/feed/",
            "application/rss+xml; charset=utf-8",
        )
    )
    assert doc.items[0].title is not None and "Council’s" in doc.items[0].title
    assert any("does not match" in warning for warning in doc.warnings)


def test_utf16_feed_is_reencoded_for_feedparser() -> None:
    text = fixture("iwf_news.atom").decode("utf-8")
    data = text.replace('encoding="utf-8"', 'encoding="utf-16"').encode("utf-16")
    doc = parse(fetched(data, "https://www.iwf.org.uk/news-media/feed.atom"))
    assert doc.items[1].title == "IWF begrüßt die Position des Rates"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("header", [None, "application/atom+xml; charset=utf-16"])
def test_utf16_without_byte_order_mark_is_read_in_its_byte_order_without_a_warning(
    codec: str, header: str | None
) -> None:
    # XML 1.0 Appendix F: "<?" in 16-bit units tells the byte order; "charset=utf-16"
    # without a mark is big-endian (RFC 2781), so neither contradicts the bytes.
    text = fixture("iwf_news.atom").decode("utf-8")
    data = text.replace('encoding="utf-8"', 'encoding="UTF-16"').encode(codec)
    doc = parse(fetched(data, "https://www.iwf.org.uk/news-media/feed.atom", header))
    assert doc.items[1].title == "IWF begrüßt die Position des Rates"
    assert doc.warnings == ()


def test_utf16_without_byte_order_mark_under_a_wrong_label_names_the_label() -> None:
    text = fixture("iwf_news.atom").decode("utf-8")
    data = text.encode("utf-16-be")  # still declares utf-8
    doc = parse(fetched(data, "https://www.iwf.org.uk/feed.atom", "text/xml; charset=iso-8859-1"))
    assert doc.items[1].title == "IWF begrüßt die Position des Rates"
    assert doc.warnings == (
        "HTTP charset 'iso-8859-1' does not match the bytes: read as utf_16_be",
        "declared encoding 'utf-8' does not match the bytes: read as utf_16_be",
    )


def test_an_entry_s_xml_base_ends_with_the_entry() -> None:
    # A planet-style feed, xml:base on each entry: the next entry's relative link resolved
    # against the previous entry's base (feedparser had no document address to go back to).
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:base="/blog/">
    <title>t</title><id>urn:x</id><updated>2025-01-01T00:00:00Z</updated>
    <entry xml:base="https://other.example/sub/"><title>One</title><id>urn:1</id>
    <link href="p1"/><updated>2025-01-01T00:00:00Z</updated></entry>
    <entry><title>Two</title><id>urn:2</id><link href="/posts/2"/>
    <updated>2025-01-01T00:00:00Z</updated></entry>
    <entry xml:base="sub/"><title>Three</title><id>urn:3</id><link href="post/3"/>
    <updated>2025-01-01T00:00:00Z</updated></entry></feed>"""
    doc = parse(fetched(atom, "https://site.example/feeds/all.atom"))
    assert [item.url for item in doc.items] == [
        "https://other.example/sub/p1",
        "https://site.example/posts/2",
        "https://site.example/blog/sub/post/3",
    ]


def test_relative_links_resolve_against_final_url_without_channel_link() -> None:
    data = (
        b'<rss version="2.0"><channel><title>t</title>'
        b"<item><title>a</title><link>news/a.html</link></item>"
        b"<item><title>b</title><guid>/news/b.html</guid></item>"
        b"<item><title>c</title><link>javascript:alert(1)</link></item>"
        b"</channel></rss>"
    )
    doc = parse(fetched(data, "https://www.ecpat.org/feeds/rss.xml"))
    assert [item.url for item in doc.items] == [
        "https://www.ecpat.org/feeds/news/a.html",
        "https://www.ecpat.org/news/b.html",  # guid as permalink (the RSS default)
        None,
    ]
    assert doc.items[1].guid == "/news/b.html"  # the identity stays as the feed gave it


def test_json_feed_11() -> None:
    doc = parse(fetched(fixture("ecpat_jsonfeed.json"), "https://ecpat.org/feed.json"))
    assert doc.format == "json11"
    assert doc.title == "ECPAT International - News"
    assert doc.link == "https://ecpat.org/"
    assert doc.language == "en"
    first, second = doc.items
    assert first.guid == "https://ecpat.org/?p=24511"
    assert first.url == (
        "https://ecpat.org/story/eu-regulation-to-prevent-and-combat-child-sexual-abuse/"
    )
    assert first.title == "EU regulation to prevent and combat child sexual abuse: where we stand"
    assert first.content == "<p>Civil society organisations call on the Council to act.</p>"
    assert first.summary == "Civil society organisations call on the Council to act."
    assert first.published == datetime(2025, 11, 12, 10, 0, tzinfo=tz(1))
    assert first.updated == datetime(2025, 11, 13, 8, 15, tzinfo=UTC_)
    assert first.author == "ECPAT International, Policy team"
    assert first.categories == ("EU", "CSAM")
    assert first.language == "en"
    assert second.guid == "24498"  # numeric ids of 1.0-era feeds, as text
    assert second.url == (
        "https://www.consilium.europa.eu/en/press/press-releases/2025/11/26/"
        "child-sexual-abuse-council-position/"
    )
    assert second.content == "The Council agreed its negotiating mandate."
    assert second.language == "fr"
    assert doc.warnings == ("1 items without an id or URL skipped",)


def test_json_feed_10_author_and_sniffing_by_content_type() -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1",
        "title": "Missing Children Europe",
        "feed_url": "https://missingchildreneurope.eu/feed.json",
        "items": [
            {
                "id": "1",
                "url": "news/hotline-116000",
                "title": "116 000 hotline",
                "author": {"name": "MCE"},
                "date_published": "2025-05-25T00:00:00+02:00",
                "tags": "not-a-list",
                "content_text": 42,
            }
        ],
    }
    data = b"\n  " + json.dumps(feed).encode()
    doc = parse(fetched(data, "https://missingchildreneurope.eu/feed.json"))
    assert doc.format == "json10"
    (item,) = doc.items
    assert item.url == "https://missingchildreneurope.eu/news/hotline-116000"
    assert item.author == "MCE"
    assert item.categories == ()
    assert item.content is None
    assert "JSON Feed field 'content_text' is not a string: ignored" in doc.warnings


REFUSED = {
    "empty body": (b"", "empty document"),
    "blank body": (b" \r\n\t ", "empty document"),
    "html page": (
        b"<!DOCTYPE html><html><head><title>Consilium</title></head><body><p>Hi</p></body></html>",
        "the document is an HTML page",
    ),
    "plain text": (b"Service Unavailable", "not a feed"),
    "other xml": (
        b'<?xml version="1.0"?><sitemap><url>https://x.eu/</url></sitemap>',
        "not a feed",
    ),
    "invalid json": (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "invalid JSON"),
    "json not a feed": (b'{"hello": "world"}', "not a JSON Feed"),
    "json array": (b"[1, 2]", "not a JSON Feed"),
    "json api answer with items": (
        b'{"total_count": 2, "items": [{"id": 1, "name": "x"}, {"id": 2, "name": "y"}]}',
        "not a JSON Feed: no 'version', and its items have no url, title or content",
    ),
    "billion laughs": (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
        b' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
        b' <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n]>\n'
        b'<rss version="2.0"><channel><item><title>&lol3;</title></item></channel></rss>',
        "entity",
    ),
    "entity hidden after comment": (
        b'<!-- <a> --><!DOCTYPE rss [<!ENTITY x "y"><!ENTITY x2 "&x;&x;">]>'
        b'<rss version="2.0"><channel/></rss>',
        "entity",
    ),
    "entity behind a tag in a processing instruction": (
        b'<!DOCTYPE rss [<?x <a?><!ENTITY lol "lol"><!ENTITY l2 "&lol;&lol;">]>'
        b'<rss version="2.0"><channel><title>&l2;</title></channel></rss>',
        "entity",
    ),
    "external entity behind a tag in a literal": (
        b'<!DOCTYPE rss SYSTEM "<a" [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<rss version="2.0"><channel><title>&xxe;</title></channel></rss>',
        "entity",
    ),
    "entity behind a comment opened in a processing instruction": (
        b'<?x <!-- ?><!DOCTYPE rss [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><!-- -->'
        b'<rss version="2.0"><channel><title>&a;</title></channel></rss>',
        "entity",
    ),
    "entity after an unterminated processing instruction": (
        b'<?x <!DOCTYPE rss [<!ENTITY a "aaaa">]><rss version="2.0"><channel/></rss>',
        "entity",
    ),
    "utf-16 entity bomb": (
        '<!DOCTYPE r [<!ENTITY a "a"><!ENTITY b "&a;">]><rss version="2.0"><channel/></rss>'.encode(
            "utf-16"
        ),
        "entity",
    ),
    # json.loads recurses per level: a RecursionError was reported as a bug.
    "JSON nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
}


@pytest.mark.parametrize(("data", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_refused_with_parse_error(data: bytes, message: str) -> None:
    with pytest.raises(ParseError) as raised:
        parse(fetched(data, "https://example.org/feed"))
    assert raised.value.source_id == "test-feed"
    assert message in str(raised.value)


def test_entity_text_inside_cdata_is_not_refused() -> None:
    data = (
        b'<rss version="2.0"><channel><item><title>XML tips</title><link>https://x.eu/a</link>'
        b"<description><![CDATA[Never accept <!ENTITY declarations]]></description>"
        b"</item></channel></rss>"
    )
    assert len(parse(fetched(data, "https://x.eu/feed")).items) == 1


def test_oversized_document_is_refused_unparsed() -> None:
    item = b"<item><title>x</title><link>https://x.eu/a</link></item>"
    data = b'<rss version="2.0"><channel>' + item * (MAX_DOCUMENT_BYTES // len(item) + 1)
    with pytest.raises(ParseError, match="too large"):
        parse(fetched(data + b"</channel></rss>", "https://x.eu/feed"))


def test_valid_feed_without_items_is_an_empty_document() -> None:
    data = b'<rss version="2.0"><channel><title>Quiet NGO</title></channel></rss>'
    doc = parse(fetched(data, "https://x.eu/feed"))
    assert doc.items == ()
    assert doc.title == "Quiet NGO"
    # Said, so a first refresh of an empty feed does not read as a healthy unchanged one.
    assert doc.warnings == ("the feed lists no entries",)


def test_a_json_feed_without_items_says_so() -> None:
    data = b'{"version": "https://jsonfeed.org/version/1.1", "title": "Quiet", "items": []}'
    doc = parse(fetched(data, "https://x.eu/feed.json"))
    assert doc.items == () and doc.warnings == ("the feed lists no entries",)


def test_ill_formed_feed_with_items_is_kept_with_a_warning() -> None:
    data = (
        b'<rss version="2.0"><channel><title>Broken < co</title>'
        b"<item><title>Still readable</title><link>https://x.eu/a</link></item>"
    )
    doc = parse(fetched(data, "https://x.eu/feed"))
    assert [item.title for item in doc.items] == ["Still readable"]
    # Where the parser stopped, in words, not "SAXParseException: <unknown>:1:..."
    assert (
        doc.warnings[0]
        == "feed is not well-formed: not well-formed (invalid token) at line 1, column 43"
    )


@pytest.mark.parametrize(
    ("name", "tag"), [("europarl_press_rss.xml", b"<item>"), ("iwf_news.atom", b"<entry")]
)
def test_a_truncated_feed_keeps_its_whole_entries_and_skips_the_cut_one(
    name: str, tag: bytes
) -> None:
    whole = fixture(name)
    source = feed_source()
    complete = parse_document(source, fetched(whole, "https://example.org/feed"))
    assert len(complete.items) >= 2
    second = whole.index(tag, whole.index(tag) + 1)
    cut = parse_document(source, fetched(whole[: second + 60], "https://example.org/feed"))
    assert [i.title for i in cut.items] == [complete.items[0].title]
    assert cut.warnings[0].startswith("feed is not well-formed")
    assert cut.warnings[1] == "the document ends inside its last entry: that entry was skipped"
    # Cut after the last entry's end: every entry is whole, and kept.
    tail = parse_document(source, fetched(whole[: whole.rindex(b"</")], "https://example.org/feed"))
    assert [i.title for i in tail.items] == [i.title for i in complete.items]
    assert len(tail.warnings) == 1


@pytest.mark.parametrize(
    "cut",
    [
        b'<?xml version="1.0"?>\n<rss version="2.0"><chan',
        b'<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><ent',
        b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0">\n<',
    ],
)
def test_a_feed_cut_off_before_anything_of_it_is_an_error_not_an_empty_feed(cut: bytes) -> None:
    # "Unchanged" with a warning made an endpoint broken for good look healthy.
    with pytest.raises(ParseError, match="feed is not well-formed and nothing could be read: "):
        parse_document(feed_source(), fetched(cut, "https://example.org/feed"))


def test_a_feed_cut_off_after_its_channel_is_kept_as_an_empty_feed() -> None:
    cut = b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>EDRi</title>\n<ite'
    doc = parse_document(feed_source(), fetched(cut, "https://example.org/feed"))
    assert doc.items == () and doc.warnings[0].startswith("feed is not well-formed")


def test_a_feed_source_whose_address_serves_a_page_is_told_the_feed_the_page_names() -> None:
    page = (
        b'<!DOCTYPE html><html lang="en"><head><title>EDRi</title>'
        b'<link rel="alternate" type="application/rss+xml" title="EDRi" href="/feed/">'
        b"</head><body><h1>News</h1></body></html>"
    )
    with pytest.raises(ParseError) as caught:
        parse_document(feed_source(), fetched(page, "https://edri.org/news/"))
    assert caught.value.message == (
        "not a feed: the document is an HTML page; it names its feed at"
        " https://edri.org/feed/: set url to that"
    )
    bare = b"<!DOCTYPE html><html><head><title>Consilium</title></head><body>x</body></html>"
    with pytest.raises(ParseError, match='"aggregator sources add URL", or read it as a'):
        parse_document(feed_source(), fetched(bare, "https://www.consilium.europa.eu/en/"))


_NUMERIC_DATES = b"""<rss version="2.0"><channel><title>Thorn</title>
<link>https://thorn.example/</link>{language}
<item><title>A</title><link>https://thorn.example/a</link><pubDate>11/12/2025</pubDate></item>
<item><title>B</title><link>https://thorn.example/b</link><pubDate>{second}</pubDate></item>
</channel></rss>"""
NOV_12, DEC_11 = datetime(2025, 11, 12, tzinfo=UTC), datetime(2025, 12, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    ("language", "second", "country", "first_read"),
    [
        # Its own dates show the order: "11/25/2025" is month first, so "11/12" is too.
        (b"", b"11/25/2025 10:00", None, NOV_12),
        # Nothing shown: the source's country, else the feed's language region, says.
        (b"", b"11/10/2025 10:00", "US", NOV_12),
        (
            b"<language>en-US</language>",
            b"11/10/2025 10:00",
            None,
            datetime(2025, 11, 12, tzinfo=UTC),
        ),
        # Else day first, as in every EU country.
        (b"<language>en</language>", b"11/10/2025 10:00", None, DEC_11),
    ],
)
def test_a_feed_s_numeric_dates_are_read_in_the_order_its_source_writes(
    language: bytes, second: bytes, country: str | None, first_read: datetime
) -> None:
    rss = _NUMERIC_DATES.replace(b"{language}", language).replace(b"{second}", second)
    source = dataclasses.replace(feed_source(), country=country)
    doc = parse_document(source, fetched(rss, "https://thorn.example/feed"))
    assert doc.items[0].published == first_read


def test_a_feed_of_rss_0_91_s_dtd_reads_the_entities_it_declares_without_a_warning() -> None:
    # No parser reads the DTD offline: "&eacute;" was an undefined entity, and a valid feed
    # was warned "not well-formed" at every refresh.
    rss = (
        b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<!DOCTYPE rss PUBLIC "-//Netscape'
        b' Communications//DTD RSS 0.91//EN"\n "http://my.netscape.com/publish/formats/rss-0.91'
        b'.dtd">\n<rss version="0.91"><channel><title>LQDN</title>'
        b"<link>https://www.laquadrature.net/</link><description>x</description>"
        b"<item><title>La r&eacute;glementation &laquo; CSAR &raquo; &amp; vous</title>"
        b"<link>https://www.laquadrature.net/1</link></item></channel></rss>"
    )
    items = _normalised(rss)
    assert [i.title for i in items] == ["La réglementation « CSAR » & vous"]
    source = feed_source()
    assert parse_document(source, fetched(rss, "https://example.org/feed")).warnings == ()


def _normalised(body: bytes, url: str = "https://example.org/feed") -> list[Item]:
    source = feed_source()
    document = parse_document(source, fetched(body, url))
    return normalise_document(source, document, now=datetime(2026, 1, 1, tzinfo=UTC))


def test_plain_text_fields_are_not_read_as_markup() -> None:
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><title type="text">Generics: List&lt;T&gt; in C# &amp; Java</title><id>urn:1</id>
<link href="https://example.org/1"/><updated>2025-01-01T00:00:00Z</updated>
<summary type="text">AT&amp;T and kids &lt;13.

A second paragraph.</summary></entry>
<entry><title type="html">A &lt;b&gt;bold&lt;/b&gt; move</title><id>urn:2</id>
<link href="https://example.org/2"/><updated>2025-01-01T00:00:00Z</updated></entry></feed>"""
    plain, marked_up = _normalised(atom)
    assert plain.title == "Generics: List<T> in C# & Java"
    assert plain.text == "AT&T and kids <13.\n\nA second paragraph."
    assert marked_up.title == "A bold move"  # type="html": markup, read as such
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "j",
        "items": [
            {
                "id": "1",
                "url": "https://example.org/j1",
                "title": "Q&A: <script> tags & you",
                "content_text": "Line & one\n\nLine <two>",
            }
        ],
    }
    (item,) = _normalised(json.dumps(feed).encode())
    assert (item.title, item.text) == ("Q&A: <script> tags & you", "Line & one\n\nLine <two>")


@pytest.mark.parametrize("fast", [True, False], ids=["fastfeed", "feedparser"])
def test_an_atom_text_body_keeps_its_written_tags_in_the_summary_too(
    fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its only body, copied into the summary without its type, was read again as markup:
    # the text said "write <b>bold</b>", the summary "write bold".
    monkeypatch.setattr(fastfeed, "ENABLED", fast)
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><title>Markup advice</title><id>urn:1</id><link href="https://example.org/1"/>
<updated>2025-01-01T00:00:00Z</updated>
<content type="text">Write &lt;b&gt;bold&lt;/b&gt;; kids &lt;13 &amp;&amp; 5 &lt; 7.</content>
</entry></feed>"""
    (item,) = _normalised(atom)
    assert item.text == "Write <b>bold</b>; kids <13 && 5 < 7."
    assert item.summary == item.text


def test_feedburner_links_give_the_articles_own_address_and_authors_their_names() -> None:
    rss = b"""<rss version="2.0" xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0">
<channel><title>JN</title><link>https://www.jn.pt/</link>
<item><title>Nova presidente</title><link>http://feeds.jn.pt/~r/JN/~3/UBnb8Ra3Q1U/</link>
<feedburner:origLink>https://www.jn.pt/nacional/nova-presidente-9021600.html</feedburner:origLink>
<author>redazione@ilgiornale-web.it (Angela Leucci)</author></item></channel></rss>"""
    (item,) = _normalised(rss)
    assert item.url == "https://www.jn.pt/nacional/nova-presidente-9021600.html"
    assert item.author == "Angela Leucci"
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>h</title>
<author><name>heise online</name></author>
<entry><title>Ohne</title><id>urn:a</id><link href="https://heise.de/a"/>
<updated>2025-01-01T00:00:00Z</updated></entry>
<entry><title>Mit</title><id>urn:b</id><link href="https://heise.de/b"/>
<author><name>Jane Doe</name></author><updated>2025-01-01T00:00:00Z</updated></entry></feed>"""
    inherited, own = _normalised(atom)
    assert (inherited.author, own.author) == ("heise online", "Jane Doe")


@pytest.mark.parametrize(
    ("written", "name"),
    [
        ("press@digital-strategy.brussels (Jane Doe)", "Jane Doe"),
        ("(Jane Doe)", "Jane Doe"),
        ("Jane Doe <jane@example.org>", "Jane Doe"),
        ("J. Doe (Brussels office)", "J. Doe (Brussels office)"),
        ("jane@example.org", "jane@example.org"),
    ],
)
def test_rss_author_forms_give_the_name(written: str, name: str) -> None:
    escaped = written.replace("<", "&lt;").replace(">", "&gt;")
    rss = (
        '<rss version="2.0"><channel><title>t</title><item><title>x</title>'
        f"<link>https://example.org/1</link><author>{escaped}</author></item></channel></rss>"
    ).encode()
    (item,) = _normalised(rss)
    assert item.author == name


def test_a_feed_cut_inside_a_cdata_section_skips_the_cut_entry() -> None:
    rss = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>Whole</title><link>https://example.org/1</link></item>"
        b"<item><title><![CD"
    )
    doc = parse_document(feed_source(), fetched(rss, "https://example.org/feed"))
    assert [i.title for i in doc.items] == ["Whole"]
    assert "the document ends inside its last entry: that entry was skipped" in doc.warnings


def test_an_article_behind_pheedo_s_click_counter_is_no_advert() -> None:
    rss = b"""<rss version="2.0" xmlns:pheedo="http://www.pheedo.com/namespace/pheedo">
<channel><title>Paper</title><link>https://paper.example/</link>
<item><title>Featured Advertiser</title><link>http://ads.pheedo.com/click.phdo?s=ad1</link>
<description>An advert.</description></item>
<item><title>Council agrees position</title><link>http://ads.pheedo.com/click.phdo?i=real15</link>
<pheedo:origLink>https://paper.example/news/council-position</pheedo:origLink>
<description>The Council agreed its position.</description></item></channel></rss>"""
    (item,) = _normalised(rss)
    assert item.url == "https://paper.example/news/council-position"


def test_a_zone_name_feedparser_does_not_know_is_not_read_as_utc() -> None:
    # feedparser reads "10:00:00 PHT" as 10:00 UTC; the Philippines are at +08:00.
    rss = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><title>One</title><link>https://example.org/1</link>
    <pubDate>Tue, 21 Sep 2021 10:00:00 PHT</pubDate></item></channel></rss>"""
    source = feed_source()
    document = parse_document(source, fetched(rss, "https://example.org/feed"))
    (item,) = normalise_document(source, document, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert item.published == datetime(2021, 9, 21, 2, 0, tzinfo=UTC)


def test_a_zone_name_nobody_knows_is_read_as_local_time_and_said_so() -> None:
    # Neither our table nor dateparser knows "NZT": the time is read in the source's zone
    # (Europe/Brussels by default), and the source's warning names the zone.
    rss = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><title>One</title><link>https://example.org/1</link>
    <pubDate>Tue, 21 Sep 2021 10:00:00 NZT</pubDate></item>
    <item><title>Two</title><link>https://example.org/2</link>
    <pubDate>Tue, 21 Sep 2021 10:00:00 +1200</pubDate></item></channel></rss>"""
    source = feed_source()
    document = parse_document(source, fetched(rss, "https://example.org/feed"))
    assert [w for w in document.warnings if "NZT" in w] == [
        "dates in a time zone not known here (NZT) were read in the source's time zone"
        " (set `timezone` in sources.toml if that is wrong)"
    ]
    known = parse_document(source, fetched(rss.replace(b"NZT", b"PHT"), "https://example.org/feed"))
    assert not [w for w in known.warnings if "time zone" in w]


@pytest.mark.parametrize(
    "document",
    [
        b'<rss version="2.0"><channel><item><title>cut &#55357;</title>'
        b"<link>https://example.org/1</link><description>a &#xD83D; b</description>"
        b"</item></channel></rss>",
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [{"id": "1",'
        b' "url": "https://example.org/1", "title": "cut \\ud83d",'
        b' "content_text": "a \\udc00 b"}]}',
    ],
    ids=["rss character reference", "json escape"],
)
def test_half_an_emoji_is_a_replacement_character_not_a_failed_source(document: bytes) -> None:
    # An excerpt that cut an emoji's surrogate pair in two: no UTF-8 text can hold the half.
    source = feed_source()
    parsed = parse_document(source, fetched(document, "https://example.org/feed"))
    (item,) = normalise_document(source, parsed, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert item.title == "cut \ufffd"
    assert item.text == "a \ufffd b"
    item.text.encode("utf-8")  # storable


@pytest.mark.parametrize(
    ("written", "title"),
    [
        ("<![CDATA[Line one<br>Line two]]>", "Line one Line two"),
        (
            "<![CDATA[Minister<o:p></o:p> speaks on chat control]]>",
            "Minister speaks on chat control",
        ),
        ("<![CDATA[Breaking <span>news</span><script>alert(1)</script>]]>", "Breaking news"),
        ("<![CDATA[It&apos;s <em>done</em>]]>", "It's done"),
        ("Line one&lt;br /&gt;Line two", "Line one Line two"),
        ("Generics: List&lt;T&gt; &amp; more", "Generics: List<T> & more"),
        ("Kids &lt;13 &amp; social media", "Kids <13 & social media"),
        ("<![CDATA[Vector<int> & friends]]>", "Vector<int> & friends"),
        ("<![CDATA[<img src='x.png'>]]>", "Body."),  # no title: the text stands in
        # A lone element is the title's subject, not markup that swallows the rest.
        ("Why the &lt;template&gt; element matters", "Why the <template> element matters"),
        ("Use &lt;b&gt; for bold, not &lt;strong&gt;?", "Use <b> for bold, not <strong>?"),
        ('Fix &lt;a href="x"&gt; handling', 'Fix <a href="x"> handling'),
        (
            "&lt;script&gt;alert(1)&lt;/script&gt; XSS found in plugin",
            "<script>alert(1)</script> XSS found in plugin",
        ),
    ],
)
def test_an_rss_title_with_html_tags_is_html_whatever_feedparser_guessed(
    written: str, title: str
) -> None:
    # feedparser calls an RSS title plain unless every tag is one it allows and one closes:
    # "<br>", Word's "<o:p>" or a "<script>" were stored and exported as written.
    rss = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>{written}</title><link>https://example.org/1</link>"
        "<description>Body.</description></item></channel></rss>"
    ).encode()
    (item,) = _normalised(rss)
    assert item.title == title


def test_an_xml_base_in_an_rss_feed_does_not_move_its_relative_links_off_the_site() -> None:
    # RSS's relative links mean the site's (the channel link), not the feed's address, even
    # where an xml:base appears somewhere in the document.
    rss = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <link>https://site.example/news/</link>
    <item><title>A</title><link>/news/a.html</link>
    <description xml:base="https://site.example/news/">Text.</description></item>
    <item><title>B</title><link>b.html</link></item></channel></rss>"""
    doc = parse(fetched(rss, "https://feeds.example.org/path/feed.xml"))
    assert [item.url for item in doc.items] == [
        "https://site.example/news/a.html",
        "https://site.example/news/b.html",
    ]


def _json_feed(items: list[dict[str, object]], **top: object) -> bytes:
    return json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "title": "t", **top, "items": items}
    ).encode()


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("2024-03-01T23:59:60Z", datetime(2024, 3, 1, 23, 59, 59, tzinfo=UTC)),  # leap second
        ("2024-03-01t10:00:00z", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-W09-5", datetime(2024, 3, 1, tzinfo=UTC)),  # an ISO week date
        ("2024-13-01T10:00:00Z", None),  # no 13th month: refused, not the 13th of January
        ("Mon, 04 Mar 2024 10:00:00 +0100", datetime(2024, 3, 4, 10, tzinfo=tz(1))),
    ],
)
def test_json_feed_dates_of_rfc_3339_shape_are_read_strictly(
    written: str, read: datetime | None
) -> None:
    item = {"id": "1", "url": "https://e.org/1", "title": "x", "date_published": written}
    doc = parse(fetched(_json_feed([item]), "https://e.org/feed.json", "application/feed+json"))
    assert doc.items[0].published == read


def test_json_feed_items_take_the_feeds_author_and_the_servers_language() -> None:
    items: list[dict[str, object]] = [
        {"id": "1", "url": "https://e.org/1", "title": "x", "summary": "<p>Hello <b>world</b></p>"},
        {"id": "2", "url": "https://e.org/2", "title": "y", "authors": [{"name": "Own"}]},
    ]
    body = _json_feed(items, authors=[{"name": "Feed Author"}])
    doc = parse(
        Fetched(
            url="https://e.org/feed.json",
            status_code=200,
            content=body,
            headers={"content-type": "application/feed+json", "content-language": "de"},
        )
    )
    assert [i.author for i in doc.items] == ["Feed Author", "Own"]
    assert doc.language == "de"
    (first, _) = normalise_document(feed_source(), doc, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert first.summary == "Hello world"  # HTML in a summary is read as HTML


@pytest.mark.parametrize(
    "body",
    [
        b" " * 100 + _json_feed([{"id": "1", "url": "https://e.org/1", "title": "x"}]),
        _json_feed([{"id": "1", "url": "https://e.org/1", "title": "x"}]).decode().encode("utf-16"),
    ],
    ids=["after blank lines", "utf-16"],
)
def test_a_json_feed_is_told_by_its_bytes_whatever_the_content_type(body: bytes) -> None:
    doc = parse(fetched(body, "https://e.org/feed.json", "text/plain"))
    assert doc.format == "json11" and doc.items[0].title == "x"


def test_a_number_too_long_for_python_is_a_parse_error_not_a_bug() -> None:
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "n": ' + b"1" * 5000 + b', "items": []}'
    )
    with pytest.raises(ParseError, match="invalid JSON"):
        parse(fetched(body, "https://e.org/feed.json", "application/json"))


@pytest.mark.parametrize(
    "document",
    [
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><title>x</title>'
        b"<id>urn:1</id><link href='https://e.org/1'/><author><name>Alice Smith</name></author>"
        b"<author><name>Bob Jones</name><email>b@e.org</email></author></entry></feed>",
        b'<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t'
        b"</title><item><title>x</title><link>https://e.org/1</link>"
        b"<dc:creator>Alice Smith</dc:creator><dc:creator>Bob Jones</dc:creator></item>"
        b"</channel></rss>",
    ],
    ids=["atom", "rss dc:creator"],
)
def test_every_author_of_an_entry_is_named_the_lead_first(document: bytes) -> None:
    # feedparser's "author" is the last one alone: the lead author was dropped.
    doc = parse(fetched(document, "https://e.org/feed"))
    assert doc.items[0].author == "Alice Smith, Bob Jones"


def test_of_alternates_in_several_languages_the_entry_s_own_is_its_link() -> None:
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
    <entry xml:lang="fr"><title>Contr\xc3\xb4le</title><id>urn:1</id>
    <link rel="alternate" hreflang="de" href="https://e.org/de/l1"/>
    <link rel="alternate" hreflang="fr" href="https://e.org/fr/l1"/>
    <link rel="alternate" hreflang="en" href="https://e.org/en/l1"/></entry></feed>"""
    doc = parse(fetched(atom, "https://e.org/feed"))
    assert (doc.items[0].url, doc.items[0].language) == ("https://e.org/fr/l1", "fr")


def test_an_atom_entry_copied_from_another_feed_has_its_source_s_author() -> None:
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>Planet</title>
    <author><name>Planet Editors</name></author>
    <entry><title>x</title><id>urn:1</id><link href="https://e.org/1"/>
    <source><id>urn:o</id><title>Orig</title><author><name>Original Author</name></author>
    </source></entry>
    <entry><title>y</title><id>urn:2</id><link href="https://e.org/2"/></entry></feed>"""
    doc = parse(fetched(atom, "https://e.org/feed"))
    assert [i.author for i in doc.items] == ["Original Author", "Planet Editors"]


def test_an_atom_entry_with_out_of_line_content_links_to_it() -> None:
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
    <link href="https://e.org/"/>
    <entry><title>x</title><id>1</id>
    <content src="https://e.org/e4.html" type="text/html"/></entry></feed>"""
    doc = parse(fetched(atom, "https://e.org/feed"))
    assert doc.items[0].url == "https://e.org/e4.html"
    relative_id = atom.replace(
        b' src="https://e.org/e4.html" type="text/html"/>', b">Text</content>"
    )
    # Its id "1" is no address: the entry has none of its own (it was "https://e.org/1").
    assert parse(fetched(relative_id, "https://e.org/feed")).items[0].url is None


def _dated(kind: str, date: str) -> bytes:
    """A one-entry feed dated `date`: RSS 2.0 pubDate, Atom updated or published, RSS 1.0
    dc:date."""
    if kind == "rss":
        return f"""<rss version="2.0"><channel><title>t</title><item><title>x</title>
        <link>https://e.org/1</link><pubDate>{date}</pubDate></item></channel></rss>""".encode()
    if kind in ("atom updated", "atom published"):
        element = kind.split()[1]
        return f"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry>
        <title>x</title><id>urn:1</id><link href="https://e.org/1"/>
        <{element}>{date}</{element}></entry></feed>""".encode()
    return f"""<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
    <channel rdf:about="https://e.org/"><title>t</title><link>https://e.org/</link></channel>
    <item rdf:about="https://e.org/1"><title>x</title><link>https://e.org/1</link>
    <dc:date>{date}</dc:date></item></rdf:RDF>""".encode()


DATE_KINDS = ["rss", "atom updated", "atom published", "rss1 dc:date"]
# Zone names feedparser ignores (reading the time as UTC), or which cost it the time.
ZONED_ELSEWHERE = [
    ("Mon Jul 27 16:31:00 CEST 2026", datetime(2026, 7, 27, 14, 31, tzinfo=UTC)),
    ("2026-07-27T16:31:00 CEST", datetime(2026, 7, 27, 14, 31, tzinfo=UTC)),
    ("2026-07-27 16:31:00 CEST", datetime(2026, 7, 27, 14, 31, tzinfo=UTC)),
    ("Mon, 27 Jul 2026 16:31:00 UTC-05:00", datetime(2026, 7, 27, 21, 31, tzinfo=UTC)),
    ("Mon, 27 Jul 2026 16:31:00 UTC+01:00", datetime(2026, 7, 27, 15, 31, tzinfo=UTC)),
    # The US generic names, as feedparser reads them.
    ("Mon, 26 Jan 2004 16:31:00 AT", datetime(2004, 1, 26, 20, 31, tzinfo=UTC)),
    ("Mon, 26 Jan 2004 16:31:00 ET", datetime(2004, 1, 26, 21, 31, tzinfo=UTC)),
    ("Mon, 26 Jan 2004 16:31:00 CT", datetime(2004, 1, 26, 22, 31, tzinfo=UTC)),
    ("Mon, 26 Jan 2004 16:31:00 MT", datetime(2004, 1, 26, 23, 31, tzinfo=UTC)),
    ("Mon, 26 Jan 2004 16:31:00 PT", datetime(2004, 1, 27, 0, 31, tzinfo=UTC)),
    ("Wed, 19 Aug 2009 18:28:00 Etc/GMT", datetime(2009, 8, 19, 18, 28, tzinfo=UTC)),
]


@pytest.mark.parametrize("kind", DATE_KINDS)
@pytest.mark.parametrize(("date", "expected"), ZONED_ELSEWHERE, ids=[c[0] for c in ZONED_ELSEWHERE])
def test_a_zone_in_another_layout_than_rfc822_is_applied(
    kind: str, date: str, expected: datetime
) -> None:
    doc = parse(fetched(_dated(kind, date), "https://e.org/feed"))
    (item,) = doc.items
    assert item.published is not None and item.published.tzinfo is not None
    assert item.published == expected
    assert not [w for w in doc.warnings if "time zone" in w]


UNKNOWN_ZONES = [
    ("Tue, 21 Sep 2021 10:00:00 NZT", "NZT"),
    ("Tue Sep 21 10:00:00 NZT 2021", "NZT"),
    ("2021-09-21T10:00:00 NZT", "NZT"),
    ("2021-09-21 10:00:00 NZT", "NZT"),
    ("Tue, 21 Sep 2021 10:00:00 +zz:00", "+zz:00"),
]


@pytest.mark.parametrize("kind", DATE_KINDS)
@pytest.mark.parametrize(("date", "zone"), UNKNOWN_ZONES, ids=[c[0] for c in UNKNOWN_ZONES])
def test_a_zone_nobody_knows_in_any_layout_is_read_as_local_time_and_said_so(
    kind: str, date: str, zone: str
) -> None:
    # Not as UTC (feedparser's reading, the zone ignored): the time as written, which
    # normalise reads in the source's zone, with a warning naming the zone.
    doc = parse(fetched(_dated(kind, date), "https://e.org/feed"))
    (item,) = doc.items
    assert item.published == datetime(2021, 9, 21, 10, 0)
    assert [w for w in doc.warnings if "time zone" in w] == [
        f"dates in a time zone not known here ({zone}) were read in the source's time zone"
        " (set `timezone` in sources.toml if that is wrong)"
    ]


def test_blank_space_before_the_xml_declaration_is_read_with_a_warning() -> None:
    body = b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>T</title><item><title>Kept</title><link>https://x.eu/a</link></item></channel></rss>'
    clean = parse(fetched(body, "https://x.eu/feed"))
    assert clean.warnings == ()
    doc = parse(fetched(b"\n \r\n" + body, "https://x.eu/feed"))
    assert [item.title for item in doc.items] == ["Kept"]
    assert doc.warnings == (
        "feed is not well-formed: blank space before the XML declaration (read anyway)",
    )
    # Blank space before a root element with no declaration is well-formed XML.
    bare = parse(fetched(b"\n\n" + body.split(b"\n", 1)[1], "https://x.eu/feed"))
    assert bare.warnings == ()


@pytest.mark.parametrize(
    ("ttl", "expected"),
    [
        ("90", timedelta(minutes=90)),
        # A year or more was dropped, and the feed fetched again an interval later: it is
        # kept (ten years at most), and the schedule caps it at max_interval.
        ("600000", timedelta(minutes=600000)),
        ("999999999999", timedelta(days=3650)),
        ("0", None),
        ("-5", None),
        ("soon", None),
    ],
)
def test_an_rss_ttl_counts_up_to_ten_years(ttl: str, expected: timedelta | None) -> None:
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://example.org/</link><ttl>{ttl}</ttl><item><title>a</title>"
        "<link>https://example.org/a</link></item></channel></rss>"
    ).encode()
    assert parse(fetched(body, "https://example.org/feed.xml")).ttl == expected


def test_text_written_decomposed_is_stored_composed() -> None:
    # "Genève" as "Gene" + U+0300: it looks the same, but a search for the word as typed
    # found nothing on PostgreSQL. The content hash was NFC already: no item is "updated".
    import unicodedata

    title = "Décret de Genève sur la sécurité à Köln"
    text = "Les ministres réunis à Genève ont adopté le décret."
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        "<link>https://example.org/</link><item>"
        f"<title>{unicodedata.normalize('NFD', title)}</title>"
        "<link>https://example.org/a</link>"
        f"<description>&lt;p&gt;{unicodedata.normalize('NFD', text)}&lt;/p&gt;</description>"
        "</item></channel></rss>"
    ).encode()
    source = feed_source()
    doc = parse(fetched(body, "https://example.org/feed.xml"))
    (item,) = normalise_document(source, doc, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert (item.title, item.summary, item.text) == (title, text, text)


def test_bare_ampersands_are_the_characters_their_writer_meant() -> None:
    # feedparser's loose parser read "&A" as an entity: "Q&A; on chat control with AT&T;".
    data = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>t</title>'
        b"<link>https://example.com/</link><description>d</description><item>"
        b"<title>Q&A on chat control with AT&T and R&D staff</title>"
        b"<link>https://example.com/1?a=1&b=2</link><guid>1</guid>"
        b"<description>M&A news: P&O ferries &amp; more</description></item><item>"
        b"<title><![CDATA[Q&A in CDATA &amp; kept]]></title><link>https://example.com/2</link>"
        b"</item></channel></rss>"
    )
    source = feed_source()
    doc = parse_document(source, fetched(data, "https://example.com/feed"))
    assert doc.warnings == ()  # well-formed once its ampersands are escaped
    first, second = normalise_document(source, doc, now=datetime(2026, 11, 27, tzinfo=UTC))
    assert first.title == "Q&A on chat control with AT&T and R&D staff"
    assert first.summary == "M&A news: P&O ferries & more"
    assert first.url == "https://example.com/1?a=1&b=2"
    assert second.title == "Q&A in CDATA & kept"
