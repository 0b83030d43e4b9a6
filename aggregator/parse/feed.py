"""Parser for `feed` sources: RSS 0.9x/1.0/2.0 and Atom through feedparser, JSON Feed by ours.

feedparser is wrapped, never exposed: it gets a byte stream we have already decoded and
re-encoded as UTF-8 (with a declaration that says so), the response headers that matter, and
none of the work we do ourselves (HTML sanitising and URI resolution inside content happen
later, in normalise). Its dict-with-aliases result is turned into `RawItem` records here.
"""

from __future__ import annotations

import io
import re
import xml.sax
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from html.entities import name2codepoint
from typing import Any

import feedparser

from aggregator.errors import ParseError
from aggregator.models import Fetched, ParsedDocument, RawItem, Source
from aggregator.parse import fastfeed, guards
from aggregator.parse.date_order import EITHER_ORDER, shown_order
from aggregator.parse.date_order import month_first as told_month_first
from aggregator.parse.date_warnings import (
    dates_not_understood,
    unread_date,
    zones_not_known,
    zones_read_as_local,
)
from aggregator.parse.dates import feedparser_misreads, parse_date, parse_date_fast, zone_word
from aggregator.parse.empty import NO_ENTRIES
from aggregator.parse.encoding import decode, source_language
from aggregator.parse.jsonfeed import parse_json_feed
from aggregator.parse.urls import absolute_http_url
from aggregator.parse.written_ids import resolved_by_feedparser, written_ids
from aggregator.text import fold_line, has_html_tags, html_to_text, plain_as_html

_XML_DECL_ENCODING = re.compile(r"""^(<\?xml[^>]*?encoding\s*=\s*)["'][^"']*["']""")
# An empty `<item/>` (or `<item></item>`) inside an item (FeedBurner's feeds of PCMag and
# others): feedparser starts a new entry at it, and the item's own elements after it (its
# feedburner:origLink) go to that empty entry. It holds nothing, so it goes before parsing
# (no line moves).
_EMPTY_ITEM = re.compile(r"<item\s*/>|<item>\s*</item>")
# A character reference to half of a UTF-16 surrogate pair ("&#55357;": an emoji cut in two
# by an excerpt): feedparser turns it into a lone surrogate, which no UTF-8 text can hold,
# and the whole source failed. Replaced by U+FFFD, as HTML parsers do.
_SURROGATE_REFERENCE = re.compile(r"&#(?:[xX]0*([dD][89a-fA-F][0-9a-fA-F]{2})|0*(5[5-7]\d{3}));")
_HTML_START = re.compile(
    r"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)


def parse_feed(source: Source, fetched: Fetched) -> ParsedDocument:
    """Parse an RSS, Atom or JSON Feed document, told apart by its bytes."""
    refused = guards.size_refusal(fetched.content)
    if refused:
        raise ParseError(source.id, refused)
    if _looks_like_json(fetched.content, fetched.headers.get("content-type")):
        return parse_json_feed(source, fetched)
    return parse_xml_feed(source, fetched)


def _replacement_of_surrogate(match: re.Match[str]) -> str:
    hexadecimal, decimal = match.groups()
    value = int(hexadecimal, 16) if hexadecimal else int(decimal)
    return "&#xFFFD;" if 0xD800 <= value <= 0xDFFF else match.group(0)


# RSS 0.91's DTD, which declares HTML's Latin-1 entities ("&eacute;"): a parser that does
# not read it (none does, offline) calls them undefined, and a valid feed was warned "not
# well-formed" at every refresh.
_NETSCAPE_DOCTYPE = re.compile(
    r"<!DOCTYPE\s+rss\s+PUBLIC\s+[\"']-//Netscape Communications//DTD RSS 0\.91//EN"
)
_NAMED_REFERENCE = re.compile(r"&([A-Za-z][A-Za-z0-9]{1,31});")
_XML_ENTITIES = frozenset(("amp", "lt", "gt", "quot", "apos"))


def _netscape_entities_as_numbers(text: str) -> str:
    """A document of RSS 0.91's DTD with the entities it declares written as numbers."""
    if not _NETSCAPE_DOCTYPE.search(text, 0, 4096):
        return text

    def number(reference: re.Match[str]) -> str:
        name = reference[1]
        code = None if name in _XML_ENTITIES else name2codepoint.get(name)
        return reference[0] if code is None else f"&#{code};"

    return _NAMED_REFERENCE.sub(number, text)


def _looks_like_json(data: bytes, content_type: str | None) -> bool:
    # Past any blank lines a generator left (not only 64 bytes' worth), and in UTF-16 too.
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        head = head[2:].replace(b"\x00", b"").lstrip(b" \t\r\n")
    if head.startswith((b"{", b"[")):  # an array is no JSON Feed, but should be told so
        return True
    if head.startswith(b"<"):
        return False
    media = (content_type or "").split(";")[0].strip().lower()
    return media in ("application/feed+json", "application/json")


def parse_xml_feed(source: Source, fetched: Fetched) -> ParsedDocument:
    decoded = decode(
        fetched.content,
        fetched.headers.get("content-type"),
        "xml",
        language=source_language(source.language, source.country),
    )
    text = decoded.text.lstrip()  # a declaration after blank lines is an XML error otherwise
    if not text:
        raise ParseError(source.id, "empty document")
    # Read anyway, as browsers do, but said: strict readers (feedparser, feed-rs) refuse it.
    blank_before_declaration = len(text) < len(decoded.text) and text.startswith("<?xml")
    text = _EMPTY_ITEM.sub("", text)
    text = _netscape_entities_as_numbers(text)
    escaped = _with_bare_ampersands_escaped(text)
    if escaped is not None:
        text = escaped
    if "&#" in text:
        text = _SURROGATE_REFERENCE.sub(_replacement_of_surrogate, text)
    utf8 = _XML_DECL_ENCODING.sub(r'\1"utf-8"', text, count=1).encode("utf-8")
    refused = guards.entity_refusal(utf8)
    if refused:
        raise ParseError(source.id, refused)
    utf8 = guards.with_safe_entities_expanded(utf8)  # an old MT feed's <!ENTITY nbsp "&#160;">

    headers = {"content-type": "application/xml; charset=utf-8"}
    if "content-language" in fetched.headers:
        headers["content-language"] = fetched.headers["content-language"]
    if b"xml:base" in utf8 and _ATOM_ROOT.match(utf8):
        # Without a document address feedparser has no outermost base: an entry's xml:base
        # then stays in force for the entries after it, and a relative xml:base is lost.
        # (Atom only: it would also resolve RSS's relative links, which mean the site's.)
        headers["content-location"] = fetched.url
    # Plain RSS 2.0 and Atom 1.0 read by lxml into feedparser's very result; anything else
    # (None) by feedparser itself.
    result = fastfeed.parse_fast(utf8, headers)
    ids_as_written: list[str | None] | None = None
    if result is None:
        result = feedparser.parse(
            io.BytesIO(utf8),  # bytes would be tried as a file name first
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
        if b"xml:base" in utf8 and not result.get("bozo"):
            # feedparser resolved the ids against a base (written_ids.py).
            ids_as_written = written_ids(utf8, len(result.get("entries") or ()))
    version: str = result.get("version") or ""
    entries: list[Any] = result.get("entries") or []
    # feedparser puts an XML declaration of its own on a line before a document without one.
    added_lines = 0 if text.startswith("<?xml") else 1
    if not version and not entries:
        raise ParseError(source.id, _not_a_feed(text, result, added_lines, fetched.url))

    warnings = list(decoded.warnings)
    if blank_before_declaration:
        warnings.append(
            "feed is not well-formed: blank space before the XML declaration (read anyway)"
        )
    if result.get("bozo"):
        problem = _describe(result.get("bozo_exception"), added_lines)
        warnings.append(f"feed is not well-formed: {problem}")
        if entries and _ends_inside_an_entry(utf8):
            # A truncated download: the last entry is whatever its first bytes held (a title
            # cut short, no date, no link), and would be stored as an item of its own.
            entries = entries[:-1]
            warnings.append("the document ends inside its last entry: that entry was skipped")
        if _nothing_read(result, entries):
            # Broken before anything of it (a download cut short in its first lines): that
            # was "unchanged" with a warning, an endpoint broken for good looked healthy,
            # and the same bytes were skipped unread at every refresh after.
            raise ParseError(
                source.id, f"feed is not well-formed and nothing could be read: {problem}"
            )
    feed: Mapping[str, Any] = result.get("feed") or {}
    link = absolute_http_url(feed.get("link"), fetched.url)
    # Atom says relative links resolve against the document's URL (or xml:base, which
    # feedparser already applied); RSS says nothing, and in practice means the site's link.
    base = link if version.startswith("rss") and link else fetched.url
    feed_language = _feed_language(feed, fetched.headers)

    # Atom: an entry without an author has the feed's (RFC 4287, 4.2.1).
    feed_author = _author(feed) if version.startswith("atom") else None
    items: list[RawItem] = []
    empty = adverts = 0
    in_order = _numeric_month_first(entries, source, feed_language)
    zones: set[str] = set()  # unknown zone names of dates read as local time
    unread: list[str] = []  # the dates of entries none of whose dates could be read
    for index, entry in enumerate(entries):
        if _is_advert(entry):
            adverts += 1
            continue
        item = _raw_item(
            entry,
            base,
            feed_language,
            source.language,
            feed_author,
            rss=version.startswith("rss"),
            written_id=ids_as_written[index] if ids_as_written else None,
            month_first=in_order,
        )
        if item is None:
            empty += 1
        else:
            items.append(item)
            written = _written_dates(entry)
            zones.update(zones_read_as_local(item, written))
            unread.extend(unread_date(item, written))
    if empty:
        warnings.append(
            f"{empty} {'entry' if empty == 1 else 'entries'} with no title, link, id or text"
            " skipped"
        )
    elif not entries:
        warnings.append(NO_ENTRIES)
    if adverts:
        warnings.append(f"{adverts} {'advert' if adverts == 1 else 'adverts'} skipped")
    if unread:
        warnings.append(dates_not_understood(unread))
    if zones:
        warnings.append(zones_not_known(zones))
    return ParsedDocument(
        items=tuple(items),
        format=version or "unknown",
        title=_plain_title(feed, rss=version.startswith("rss")),
        link=link,
        language=feed_language,
        warnings=tuple(warnings),
        ttl=_ttl(feed.get("ttl")),
    )


# Ad servers that feed syndication services put entries of their own into feeds ("Featured
# Advertiser", linking to a click counter): no statement of the source.
_AD_HOSTS = (
    "ads.pheedo.com",
    "feedads.g.doubleclick.net",
    "ads.feedblitz.com",
    "rss.buysellads.com",
)


def _is_advert(entry: dict[str, Any]) -> bool:
    if _field(entry, "feedburner_origlink") or _field(entry, "pheedo_origlink"):
        return False  # a real article behind the service's click counter
    link = _field(entry, "link")
    if not isinstance(link, str) or "//" not in link:
        return False
    host = link.split("//", 1)[1].split("/", 1)[0].split(":", 1)[0].lower()
    return host in _AD_HOSTS


# FeedParserDict answers `get` through alias tables and special cases in Python, at several
# microseconds a call, a dozen calls an entry; the keys read here are stored under their own
# names, so a plain dict lookup finds the same value. The one special case kept: feedparser
# answers "updated" with "published" when an entry has no <updated> (an RSS pubDate), and
# items have always had that date as their `updated`.
_MISSING = object()
_FALLBACK = {"updated": "published", "updated_parsed": "published_parsed"}


def _field(entry: dict[str, Any], key: str) -> Any:
    value = dict.get(entry, key, _MISSING)
    if value is _MISSING:
        fallback = _FALLBACK.get(key)
        value = None if fallback is None else dict.get(entry, fallback)
    return value


def _raw_item(
    entry: dict[str, Any],
    base: str,
    feed_language: str | None,
    source_language: str | None,
    feed_author: str | None = None,
    *,
    rss: bool = False,
    written_id: str | None = None,
    month_first: bool = False,
) -> RawItem | None:
    """One entry as a `RawItem`. `written_id`: its id as the document writes it, where
    feedparser may have resolved it against a base (written_ids.py)."""
    guid = _text(_field(entry, "id"))
    if not resolved_by_feedparser(written_id, guid):
        written_id = None
    elif _link_made_of_id(entry, rss=rss, written_id=written_id):
        # "12", or "/posts/bet" in Atom: no address, and normalise would take the one made
        # of it for the entry's. (Beside a link of its own it is left as feedparser gives
        # it: the items stored under it keep their identity.)
        guid = written_id
    # Feeds run through FeedBurner or Pheedo link to a click counter; the article's own
    # address, which other sources link to and dedupe compares, is in origLink.
    language = (
        _detail_language(entry, ("title_detail", "summary_detail"))
        or _text(_field(entry, "language"))  # an RSS item's own dc:language
        or feed_language
    )
    own_link = _own_link(entry, rss=rss, written_id=written_id)
    url = absolute_http_url(
        _field(entry, "feedburner_origlink") or _field(entry, "pheedo_origlink"), base
    ) or absolute_http_url(_alternate_in(entry, language) or own_link, base)
    title = _marked_up(entry, "title", rss=rss)
    summary = _marked_up(entry, "summary", rss=rss)
    content = _content(entry)
    if summary and (content == summary or _copied_body(entry)):
        summary = None  # feedparser copies the only body into both
    if not (guid or url or title or summary or content):
        return None
    languages = [lang for lang in (language, source_language) if lang]
    updated = _date(entry, "updated", languages, month_first=month_first)
    return RawItem(
        guid=guid,
        url=url,
        title=title,
        summary=summary,
        content=content,
        # An entry's only date is its best publication date: Atom requires <updated> but
        # not <published>, and feedparser files RSS 1.0's dc:date under "updated".
        published=_date(entry, "published", languages, month_first=month_first)
        or _date(entry, "created", languages, month_first=month_first)
        or updated,
        updated=updated,
        # Atom (RFC 4287 4.2.1): an entry's authors, else its source feed's, else the feed's.
        author=_author(entry) or _author(_field(entry, "source") or {}) or feed_author,
        language=language,
        # No link, yet a guid: it said isPermaLink="false" (else it would be the link).
        guid_is_link=not (rss and guid and not _field(entry, "link")),
        categories=tuple(
            dict.fromkeys(
                term.strip()
                for tag in _field(entry, "tags") or ()
                if isinstance(term := _field(tag, "term"), str) and term.strip()
            )
        ),
    )


# The root element is Atom's <feed> (after the declaration, comments and a doctype).
_ATOM_ROOT = re.compile(
    rb"\s*(?:<\?[^>]*\?>\s*|<!--.*?-->\s*|<!DOCTYPE[^>]*>\s*)*<(?:[\w.-]+:)?feed[\s>/]", re.S
)


def _own_link(entry: dict[str, Any], *, rss: bool, written_id: str | None = None) -> str | None:
    """The entry's link; for an Atom entry without one, the address of its out-of-line
    content (<content src>: RFC 4287 needs no alternate link then).

    feedparser gives an entry without a link of its own its id as link (an RSS guid is a
    permalink unless it says otherwise), also beside an enclosure or a rel="self" link: an
    id that is no address ("12345", "article-12345", "tag:...") was resolved against the
    channel's link into a made-up one, which dedupe then took for the item's URL. Whether
    the id is an address is told by `written_id`, the id as written, where feedparser
    resolved it already."""
    given = _field(entry, "link")
    link = given if isinstance(given, str) else None
    if link is not None and _link_made_of_id(entry, rss=rss, written_id=written_id):
        link = None
    if _field(entry, "links"):
        return link or _any_alternate(entry)
    for content in _field(entry, "content") or ():
        src = _field(content, "src")
        if isinstance(src, str) and src.strip():
            return src
    return link


def _link_made_of_id(entry: dict[str, Any], *, rss: bool, written_id: str | None) -> bool:
    """Whether the entry's link is feedparser's copy of an id that is no address: as
    `written_id` writes it, where feedparser resolved it, else as feedparser gives it."""
    link = _field(entry, "link")
    return (
        isinstance(link, str)
        and _is_copied_id(entry, link)
        and not _id_is_address(written_id or link, rss=rss)
    )


def _is_copied_id(entry: dict[str, Any], link: str) -> bool:
    """Whether the entry's link is feedparser's copy of its id (guid), no link it gave."""
    if link != _field(entry, "id"):
        return False
    links = _field(entry, "links") or ()
    return not any(isinstance(given, dict) and given.get("href") == link for given in links)


def _id_is_address(value: str, *, rss: bool) -> bool:
    """Whether an id names the entry's page: an absolute http(s) URL; in RSS also a path
    from the site's root ("/news/b.html"), which some generators write as the permalink.
    (An Atom id is an absolute IRI: a relative one is none.)"""
    if absolute_http_url(value, None) is not None:
        return True
    return rss and value.startswith("/")


# RFC 4287 4.2.7.2: a relation may be written as its IANA IRI, the same as its short name.
_IANA_RELATION = "http://www.iana.org/assignments/relation/"


def _relation(link: dict[str, Any]) -> str:
    rel = str(link.get("rel") or "alternate")
    return rel.removeprefix(_IANA_RELATION)


def _any_alternate(entry: dict[str, Any]) -> str | None:
    """An entry's first alternate link whatever its type, where feedparser chose none: a
    Council entry whose only alternate is its PDF, or one written with the relation's IRI
    (both are the entry's address, RFC 4287 4.2.7.2)."""
    for link in _field(entry, "links") or ():
        if isinstance(link, dict) and _relation(link) == "alternate":
            href = link.get("href")
            if isinstance(href, str) and href.strip():
                return href
    return None


def _alternate_in(entry: dict[str, Any], language: str | None) -> str | None:
    """Of an Atom entry's alternate pages in several languages (hreflang), the one in the
    entry's own language; None to take feedparser's choice (its last alternate)."""
    links = _field(entry, "links")
    if not language or not isinstance(links, list) or len(links) < 2:
        return None
    wanted = language.lower().split("-")[0]
    for link in links:
        if not isinstance(link, dict) or _relation(link) != "alternate":
            continue
        hreflang = str(link.get("hreflang") or "").lower().split("-")[0]
        if hreflang == wanted and isinstance(link.get("href"), str):
            return str(link["href"])
    return None


def _written_dates(entry: dict[str, Any]) -> list[object]:
    """An entry's dates as written, in the order `_raw_item` reads them."""
    return [_field(entry, key) for key in ("published", "created", "updated")]


def _content(entry: dict[str, Any]) -> str | None:
    contents = _field(entry, "content") or ()
    # Prefer an HTML body over a plain-text alternative when a feed offers both.
    for wanted in ("text/html", "application/xhtml+xml", None):
        for part in contents:
            if wanted is None or _field(part, "type") == wanted:
                value = _text(_field(part, "value"))
                if value:
                    return plain_as_html(value) if _is_plain(part) else value
    return None


def _copied_body(entry: dict[str, Any]) -> bool:
    """Whether the entry's summary is its only body copied, as written: feedparser (and
    fastfeed) copy it without its type, and an Atom type="text" body ("write <b>bold</b>")
    was then read again as markup, its words lost from the summary."""
    if dict.get(entry, "summary_detail") is not None:
        return False
    summary = _text(_field(entry, "summary"))
    return any(_text(_field(part, "value")) == summary for part in _field(entry, "content") or ())


def _marked_up(entry: dict[str, Any], key: str, *, rss: bool = False) -> str | None:
    """A text field as HTML: feedparser has decoded a plain-text one ("List&lt;T&gt;" is
    "List<T>"), which normalise must not read as markup.

    RSS does not say what its titles are, and feedparser calls one plain unless every tag in
    it is one it allows and one closes: "Line one<br>Line two" or "Minister<o:p></o:p>"
    were stored as written. An RSS field with unmistakable markup in it is HTML; a lone
    "<template>" is the title's subject. (Atom's type="text" says plain, and is taken at its
    word.)"""
    value = _text(_field(entry, key))
    if value is None:
        return None
    detail = dict.get(entry, f"{key}_detail")
    if detail is None or not _is_plain(detail) or (rss and has_html_tags(value)):
        return value
    return plain_as_html(value)


def _plain_title(feed: Mapping[str, Any], *, rss: bool) -> str | None:
    """The document's title as plain text on one line, made as normalise makes an item's:
    "Justice &amp;amp; Home Affairs &lt;i&gt;News&lt;/i&gt;" reached `sources add` as the
    name "Justice &amp; Home Affairs <i>News</i>". An Atom type="text" title is taken as
    written ("Use <br> tags" stays)."""
    if not isinstance(feed, dict):
        return _text(feed.get("title"))
    marked = _marked_up(feed, "title", rss=rss)
    return (fold_line(html_to_text(marked)) or None) if marked else None


_EMAIL_THEN_NAME = re.compile(r"^(?:[^\s()<>@]+@[^\s()<>]+)?\s*\(\s*(?P<name>[^()]+?)\s*\)$")
_NAME_THEN_EMAIL = re.compile(r"^(?P<name>[^<>()]+?)\s*<[^<>@\s]+@[^<>\s]+>$")


def _author(entry: Mapping[str, Any]) -> str | None:
    """The author's name. RSS writes "email (Name)" (feedparser's own split of it fails on
    domains such as .brussels), or "Name <email>"; Atom has a <name>, which feedparser
    gives as "Name (email)" beside its details. Several authors (Atom <author>s, RSS
    dc:creators) are all named, the lead first: feedparser's "author" is the last alone."""
    listed = dict.get(entry, "authors") if isinstance(entry, dict) else None
    if isinstance(listed, list) and len(listed) > 1:
        names = [n for a in listed if isinstance(a, dict) and (n := _text(a.get("name")))]
        if len(set(names)) > 1:
            return ", ".join(dict.fromkeys(names))
    raw = _text(dict.get(entry, "author") if isinstance(entry, dict) else None)
    if raw is None:
        return None
    for form in (_EMAIL_THEN_NAME, _NAME_THEN_EMAIL):
        match = form.match(raw)
        if match:
            return match.group("name")
    detail = dict.get(entry, "author_detail") if isinstance(entry, dict) else None
    name = _text(_field(detail, "name")) if isinstance(detail, dict) else None
    return name if name and raw.startswith(name) else raw


def _is_plain(detail: Any) -> bool:
    return bool(_field(detail, "type") == "text/plain")


# The zone names feedparser applies (its RFC 822 table); any other it ignores, reading the
# time as UTC.
_FEEDPARSER_ZONES = frozenset(
    {
        *("UT", "GMT", "Z", "ADT", "AST", "AT", "EDT", "EST", "ET", "CDT", "CST", "CT"),
        *("MDT", "MST", "MT", "PDT", "PST", "PT", "MET", "MEST", "A", "N", "M", "Y"),
    }
)


def _numeric_month_first(entries: list[Any], source: Source, feed_language: str | None) -> bool:
    """Whether the document's numeric dates ("11/12/2025") are month first, as a listing's
    are told (date_order.py): by what its own dates show, else the source's country, else
    the region of its language ("en-US"). Most feeds write RFC 822 or ISO dates: none to
    tell, and day first (as in every EU country) is never asked."""
    numeric = [
        text
        for entry in entries
        for text in _written_dates(entry)
        if isinstance(text, str) and EITHER_ORDER.search(text)
    ]
    if not numeric:
        return False
    return told_month_first(shown_order(numeric), source.country, (feed_language, source.language))


def _date(
    entry: dict[str, Any], key: str, languages: list[str], *, month_first: bool = False
) -> datetime | None:
    raw = _field(entry, key)
    if not isinstance(raw, str) or not raw.strip():
        return None
    if month_first and EITHER_ORDER.search(raw):
        # The fast paths read numbers day first: "11/12/2025" of a US feed is 12 November.
        return parse_date(raw, languages or None, month_first=True)
    # Cheapest first: our fast paths keep the document's offset; then our full reading
    # (dateparser); feedparser's reading (in UTC) is the last resort.
    found = parse_date_fast(raw)
    if found is not None:
        return found
    if feedparser_misreads(raw):
        # An ISO 8601 date that cannot be ("2026-W54-1", hour 25) or in a layout feedparser
        # reads wrong ("2026-W48-5 09:15Z" is 1 November to it): ours, or none.
        return parse_date(raw, languages or None)
    # Ours before feedparser's: feedparser reads some layouts wrong without a word, and
    # silently ("2026/07/27 16:31:00 +0200" is 1 November to it, "4:31:00 PM +0200" is
    # 04:31 UTC, "09.00.00 +0100" midnight). Its reading stands in only where ours finds no
    # date (a few dates a feed at most, so dateparser's cost here is small).
    found = parse_date(raw, languages or None)
    reading = _feedparser_reading(entry, key)
    if found is not None or reading is None:
        return found
    # feedparser applies an offset in digits, but a zone name it does not know it ignores
    # (the time read as UTC), and after an ISO date a name costs the time too ("2026-07-27
    # 16:31:00 CEST" is midnight).
    zone = zone_word(raw)
    if zone is None:
        return reading
    # Only feedparser read it: with the zone applied if feedparser knows its name, else the
    # time as written, which normalise reads in the source's zone (warned of, as a zone
    # nobody knows is: _zones_read_as_local).
    return reading if zone.upper() in _FEEDPARSER_ZONES else reading.replace(tzinfo=None)


# An ampersand that begins no reference: XML has none, but feeds do ("Q&A", "AT&T", an
# unescaped "?a=1&b=2"). feedparser's loose parser read "&A" as an entity and wrote it back
# as "&A;" ("Q&A; on chat control"), and the whole document was "not well-formed".
_BARE_AMPERSAND = re.compile(r"&(?!#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z_][\w.-]*;)")
_CDATA = re.compile(r"(<!\[CDATA\[.*?\]\]>)", re.S)


def _with_bare_ampersands_escaped(text: str) -> str | None:
    """`text` with each bare ampersand written `&amp;`, as its writer meant it (not inside
    CDATA, where an ampersand is the character itself); None when it has none."""
    if "&" not in text or _BARE_AMPERSAND.search(text) is None:
        return None
    parts = _CDATA.split(text)  # odd places: the CDATA sections, left as they are
    return "".join(
        part if place % 2 else _BARE_AMPERSAND.sub("&amp;", part)
        for place, part in enumerate(parts)
    )


def _feedparser_reading(entry: dict[str, Any], key: str) -> datetime | None:
    """feedparser's own reading of a date ("*_parsed"), in UTC."""
    parsed_tuple = _field(entry, f"{key}_parsed")
    if not parsed_tuple:
        return None
    try:
        year, month, day, hour, minute, second = parsed_tuple[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _feed_language(feed: Mapping[str, Any], headers: Mapping[str, str]) -> str | None:
    language = _text(feed.get("language")) or _detail_language(
        feed, ("title_detail", "subtitle_detail")
    )
    return language or _text(headers.get("content-language"))


def _detail_language(entry: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        detail = dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)
        if detail:
            language = _text(_field(detail, "language"))
            if language:
                return language
    return None


def _ttl(value: object) -> timedelta | None:
    try:
        minutes = int(str(value).strip())
    except ValueError:
        return None
    # A long or absurd one counts, ten years at most, as other server times do: the
    # schedule caps it at schedule.max_interval. Dropped (a year or more), it gave one
    # plain interval.
    return timedelta(minutes=min(minutes, _TEN_YEARS_IN_MINUTES)) if minutes > 0 else None


_TEN_YEARS_IN_MINUTES = 10 * 365 * 24 * 60


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    return stripped or None


def _not_a_feed(text: str, result: Mapping[str, Any], added_lines: int, url: str) -> str:
    if _HTML_START.match(text[:4096]):
        return f"not a feed: the document is an HTML page; {_what_the_page_offers(text, url)}"
    if result.get("bozo"):
        return f"not a feed: {_describe(result.get('bozo_exception'), added_lines)}"
    return "not a feed: no RSS, RDF or Atom root element"


def _what_the_page_offers(text: str, url: str) -> str:
    """What to do with a feed source's address that serves a page: the feed the page
    names (`<link rel="alternate">`), else how to read the page itself."""
    from aggregator.discover import feed_links  # imports parsing: not at import time
    from aggregator.parse.soup import html_soup

    links = feed_links(html_soup(text), url)
    if links:
        return f"it names its feed at {links[0].url}: set url to that"
    return (
        'find its feed with "aggregator sources add URL", or read it as a listing with'
        ' kind = "html" and [source.selectors]'
    )


_ENTRY_START = re.compile(rb"<(?:[\w.-]+:)?(?:item|entry)[\s>/]")
_ENTRY_END = re.compile(rb"</(?:[\w.-]+:)?(?:item|entry)\s*>")


def _ends_inside_an_entry(data: bytes) -> bool:
    """A broken document's last entry was never closed: it ends inside it (cut off mid-
    download, whatever error the parser met first: "no element found", a CDATA cut short)."""
    last_start = max((m.start() for m in _ENTRY_START.finditer(data)), default=-1)
    last_end = max((m.start() for m in _ENTRY_END.finditer(data)), default=-1)
    return last_start > last_end


def _nothing_read(result: Mapping[str, Any], entries: Sequence[Any]) -> bool:
    """Whether a document the XML parser gave up on yielded nothing: no entry, and no
    title, link or description of the feed either. (A feed read whole but for its closing
    tag, or whose one entry is cut off, is kept, with its warnings.)"""
    if entries or not isinstance(result.get("bozo_exception"), xml.sax.SAXParseException):
        return False
    feed: Mapping[str, Any] = result.get("feed") or {}
    return not any(feed.get(key) for key in ("title", "link", "subtitle", "updated"))


def _describe(exc: object, added_lines: int = 0) -> str:
    """What the XML parser met, and where: "mismatched tag at line 2, column 5" (its own
    text reads "SAXParseException: <unknown>:2:5: mismatched tag"). `added_lines`: lines
    put before the document's own, not counted."""
    if isinstance(exc, xml.sax.SAXParseException):
        number = exc.getLineNumber()
        if number is None:
            return str(exc.getMessage())
        line = max(number - added_lines, 1)
        return f"{exc.getMessage()} at line {line}, column {exc.getColumnNumber()}"
    if isinstance(exc, BaseException):
        text = str(exc)
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return "unknown error"
