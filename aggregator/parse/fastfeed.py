"""A fast path beside feedparser for plain RSS 2.0 and Atom 1.0 documents.

feedparser reads a feed through SAX callbacks in Python, a dozen calls an element: most of the
parse stage's CPU. For the documents most sources send (RSS 2.0 or Atom 1.0, no DOCTYPE, the
usual elements) lxml builds the tree in C, and `parse_fast` turns it into the very dict
feedparser would have given (the keys `feed.py` reads, under the same names, with the same
values), so that everything after it runs unchanged.

Exactness comes first: `parse_fast` returns None, and feedparser reads the document as
before, whenever the document is anything but plainly simple: not well-formed (for lxml or
for expat, feedparser's parser), a DOCTYPE, xml:base, an element or attribute outside the
lists below, markup inside a text element, a content type other than text or HTML, a date
our fast date reader cannot read (feedparser's own reading of it would be needed), a second
title, link, summary, content, id or date in one entry (feedparser keeps the first of some,
the last of others), an RSS title that may look like HTML to feedparser. A refusal costs
at most the fast path's own time (a sixth of feedparser's), mostly the lxml parse alone.
tests/test_parse_fastfeed.py parses the corpus, our fixtures, farm feeds and made-up
documents both ways and compares.

What feedparser does and this module repeats (learnt from its source, 6.0):
- element names are matched lower-cased, under the prefix feedparser files their namespace
  under (`dc:creator` is "dc_creator" whatever prefix the document uses; Atom elements, in
  RSS too, have none): one dispatch table for RSS and Atom alike, as in feedparser;
- text is stripped, then (for what feedparser expects text in) read again as UTF-8 when it
  is UTF-8 that was decoded as Latin-1, and C1 control characters are read as cp1252;
- links and ids lose extra slashes after "scheme://"; an RSS <link>'s text loses "&amp;"
  and the ";" of what looks like an entity;
- a permalink guid (and an Atom id) is the link of an entry with no link of its own;
- RSS text types are guessed: a title is plain unless it looks like HTML (refused: below);
- authors are synchronised into "author", "authors" and "author_detail" as feedparser does,
  quirks included (a second author's details start from the first's name and address),
  and an e-mail address in an author's text is split out as feedparser finds one;
- categories' terms come from the term attribute and from the text;
- xml:lang is inherited, "" clears it, and the Content-Language header is the default.
"""

from __future__ import annotations

import contextlib
import pyexpat
import re
from collections.abc import Callable, Mapping
from typing import Any

from lxml import etree

from aggregator.parse.dates import parse_date_fast

# The switch: tests turn it off to compare the fast path with feedparser.
ENABLED = True

_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_ATOM = "http://www.w3.org/2005/Atom"

# The namespaces read here, by their lower-cased URI (feedparser matches them so), with the
# prefix feedparser files their elements under. An element in any other namespace is refused:
# feedparser names those after the document's prefix, and may have handlers for that name.
_NAMESPACES = {
    _ATOM.lower(): "",
    "http://purl.org/rss/1.0/modules/content/": "content",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://purl.org/dc/terms/": "dcterms",
    "http://rssnamespace.org/feedburner/ext/1.0": "feedburner",
    "http://search.yahoo.com/mrss/": "media",
    "http://search.yahoo.com/mrss": "media",
    "http://purl.org/rss/1.0/modules/slash/": "slash",
    "http://wellformedweb.org/commentapi/": "wfw",
    "http://purl.org/rss/1.0/modules/syndication/": "sy",
    "http://www.w3.org/2003/01/geo/wgs84_pos#": "geo",
}
# Root namespaces that make feedparser call a document RSS 0.90 or 1.0 whatever its root.
_RDF_VERSIONS = ("http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/")
# A document prefix that is one of ours, bound to another namespace, would make feedparser
# file our namespace's elements under that one's prefix.
_OUR_PREFIX_DECLARATION = re.compile(
    rb"xmlns:(content|dc|dcterms|feedburner|media|slash|wfw|sy|geo)\s*=\s*([\"'])(.*?)\2"
)
_FIRST_ELEMENT = re.compile(rb"<\w")
_RSS_VERSIONS = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}

# Keys of elements feedparser handles in no way that reaches what feed.py reads, and that
# hold text only: checked, then skipped. (Its generic handling stores them under their key.)
_INERT_PREFIXES = ("slash_", "wfw_", "sy_", "geo_")
_INERT_KEYS = frozenset(
    {"dc_identifier", "dc_format", "dc_type", "dc_source", "dc_relation", "dc_coverage"}
)
_HANDLED_DCTERMS = frozenset({"dcterms_created", "dcterms_issued", "dcterms_modified"})
# Media RSS elements feedparser keeps aside under names nothing reads (its media:title,
# description, keywords, category and group reach the title, summary and tags: refused).
_INERT_MEDIA = frozenset({"media_credit", "media_rating", "media_restriction", "media_license"})
# Names that mean something to feedparser without a prefix: its handlers, the keys its dict
# translates, and the keys feed.py reads. An element of another name (a site's own
# <thumbnail>, <linkmobile>) is filed under its name, which nothing reads.
_FEEDPARSER_NAMES = frozenset(
    {
        # handlers
        "abstract", "author", "body", "category", "channel", "cloud", "content",
        "contributor", "copyright", "created", "description", "email", "enclosure", "entry",
        "expirationdate", "feed", "fullitem", "generator", "geom", "georssgeom", "guid",
        "height", "homepage", "id", "image", "info", "issued", "item", "keywords", "language",
        "lastbuilddate", "link", "managingeditor", "modified", "name", "newlocation", "pubdate",
        "published", "rights", "rss", "source", "subtitle", "summary", "tagline", "tags",
        "textinput", "title", "updated", "uri", "url", "webmaster", "where", "width",
        # aliases of its dict, and what it stores itself
        "date", "items", "enclosures", "license", "guidislink", "href", "links", "authors",
        "entries", "bozo", "version", "namespaces", "encoding", "headers",
        # read by feed.py
        "ttl",
    }
)  # fmt: skip

# Content types as feedparser maps a `type` attribute; only text and HTML are read here
# (XHTML keeps markup, other types are base64 for feedparser).
_TYPE_NAMES = {
    "text": "text/plain",
    "plain": "text/plain",
    "html": "text/html",
    "xhtml": "application/xhtml+xml",
}
_TEXT_TYPES = ("text/plain", "text/html")
_HTML_TYPES = ("text/html", "application/xhtml+xml")

# feedparser calls an RSS text element plain unless it looks like HTML, which needs a close
# tag or an entity reference in it; where one is, its further rules decide: refused.
_MAY_LOOK_LIKE_HTML = re.compile(r"</\w+>|&#?\w+;")
# "scheme:///x" is "scheme://x" for feedparser.
_EXTRA_SLASHES = re.compile(r"^([A-Za-z][A-Za-z0-9+,.-]*://)/+")
# An RSS link's "&name;" (a query's "&b=" written "&amp;b;=" by a broken generator) is "&name".
_ENTITY_LIKE = re.compile(r"&([A-Za-z0-9_]+);")
# C1 control characters read as the cp1252 characters of the same bytes (0x81, 0x8D, 0x8F,
# 0x90 and 0x9D have none and stay).
_C1_AS_CP1252 = {
    code: bytes([code]).decode("cp1252")
    for code in range(0x80, 0xA0)
    if code not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
}


class _Refused(Exception):
    """The document is not plainly simple: feedparser must read it."""


def parse_fast(utf8: bytes, headers: Mapping[str, str]) -> dict[str, Any] | None:
    """feedparser's result for `utf8` (a document as feed.py hands it to feedparser, with the
    same response headers), or None where only feedparser can tell what it is."""
    if not ENABLED or "content-location" in headers or not _prolog_is_plain(utf8):
        return None
    root = _tree(utf8)
    if root is None or not _expat_accepts(utf8):
        return None
    try:
        return _Reader(headers.get("content-language")).document(root)
    except _Refused:
        return None


def _prolog_is_plain(utf8: bytes) -> bool:
    """No DOCTYPE or entity declaration (feedparser rewrites those), no byte-order mark, and
    our namespaces' prefixes bound to our namespaces only."""
    if utf8.startswith(b"\xef\xbb\xbf"):
        return False
    first = _FIRST_ELEMENT.search(utf8)
    head = utf8[: first.start()] if first else utf8
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        return False
    # Found in text too, harmlessly: a false find only refuses.
    return all(
        _NAMESPACES.get(uri.decode("utf-8", "replace").lower()) == prefix.decode()
        for prefix, _, uri in _OUR_PREFIX_DECLARATION.findall(utf8)
    )


def _tree(utf8: bytes) -> etree._Element | None:
    # No entities resolved, no DTD, no network, no huge trees: the guards feed.py relies on.
    # Comments and processing instructions are dropped, as SAX hands feedparser none.
    parser = etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(utf8, parser)
    except etree.XMLSyntaxError:
        return None
    # A warning (an XML version other than 1.0, a namespace problem) is a refusal too.
    return None if parser.error_log else root


def _expat_accepts(utf8: bytes) -> bool:
    """Whether expat, feedparser's parser, finds the document well-formed: where it does not,
    feedparser falls back to its loose parser. (C speed: no handlers.)"""
    parser = pyexpat.ParserCreate(None, " ")
    try:
        parser.Parse(utf8, True)
    except pyexpat.ExpatError:
        return False
    return True


def _key(element: etree._Element) -> str:
    """An element's name as feedparser dispatches it: "title", "dc_creator"."""
    tag = element.tag
    if not isinstance(tag, str):
        raise _Refused  # an entity reference (none without a DOCTYPE)
    key = _KEYS.get(tag)
    if key is None:
        if tag[0] != "{":
            key = tag.lower()
        else:
            uri, local = tag[1:].split("}", 1)
            prefix = _NAMESPACES.get(uri.lower())
            if prefix is None:
                raise _Refused
            key = f"{prefix}_{local.lower()}" if prefix else local.lower()
        if len(_KEYS) < 4096:
            _KEYS[tag] = key
    return key


_KEYS: dict[str, str] = {}


def _attributes(element: etree._Element, *, strict: bool = True) -> dict[str, str]:
    """The attributes by lower-cased name, as feedparser's handlers see them (values of rel
    and type lower-cased), xml:lang under "xml:lang". Refused: xml:base and anything else
    feedparser would read as a base or a language, and (`strict`) namespaced attributes,
    which feedparser also files under their bare name."""
    items = element.items()
    found: dict[str, str] = {}
    for name, value in items:
        if name[0] == "{":
            if name == _XML_LANG:
                found["xml:lang"] = value
                continue
            local = name.split("}", 1)[1].lower()
            if strict or local in ("base", "lang"):
                raise _Refused
            continue
        lowered = name.lower()
        if lowered in ("base", "lang") or lowered in found:
            raise _Refused
        found[lowered] = value.lower() if lowered in ("rel", "type") else value
    return found


def _only(attributes: dict[str, str], *allowed: str) -> dict[str, str]:
    for name in attributes:
        if name != "xml:lang" and name not in allowed:
            raise _Refused
    return attributes


def _text_only(element: etree._Element) -> str:
    """The text of an element that holds no element: markup inside a text element is
    XHTML to feedparser, kept as markup. (Comments are gone already.)"""
    if len(element):
        raise _Refused
    return element.text or ""


def _fixed(text: str) -> str:
    """What feedparser does to a text it expects: UTF-8 read as Latin-1 is read again as
    UTF-8, and C1 controls as cp1252."""
    if text.isascii():
        return text
    with contextlib.suppress(UnicodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_C1_AS_CP1252)


def _popped(element: etree._Element, *, uri: bool = False) -> str:
    """An element's text as feedparser keeps it."""
    text = _text_only(element).strip()
    if uri and text:
        text = _EXTRA_SLASHES.sub(r"\1", text)
    return _fixed(text)


def _language(element: etree._Element, inherited: str | None) -> str | None:
    own = element.get(_XML_LANG)
    if own is None:
        return inherited
    return own or None  # xml:lang="" says no language


class _Scope:
    """The feed or one entry being read: its dict, and what feedparser tracks while in it."""

    __slots__ = ("data", "entry", "has_content", "language", "seen")

    def __init__(self, data: dict[str, Any], language: str | None, *, entry: bool) -> None:
        self.data = data
        self.language = language
        self.entry = entry
        self.has_content = False
        self.seen: set[str] = set()

    def once(self, key: str) -> None:
        """A second element of this kind: feedparser keeps the first title, the last of most
        others, and makes a second summary the content. Not repeated: refused."""
        if key in self.seen:
            raise _Refused
        self.seen.add(key)


_Handler = Callable[["_Reader", _Scope, etree._Element, str], None]


class _Reader:
    def __init__(self, base_language: str | None) -> None:
        self.base_language = base_language
        self.rss = False
        self.feed: dict[str, Any] = {}
        self.entries: list[dict[str, Any]] = []
        self.dates: set[str] = set()  # those parse_date_fast reads

    def document(self, root: etree._Element) -> dict[str, Any]:
        if self.base_language:
            self.feed["language"] = self.base_language.replace("_", "-")
        if any(uri.lower() in _RDF_VERSIONS for uri in root.nsmap.values()):
            raise _Refused
        language = _language(root, self.base_language)
        if root.tag == "rss":
            self.rss = True
            version = self._rss_version(_only(_attributes(root), "version"))
            channel = self._only_channel(root)
            _only(_attributes(channel))
            if language:
                self.feed["language"] = language.replace("_", "-")
            self._header(_Scope(self.feed, _language(channel, language), entry=False), channel)
        elif root.tag == f"{{{_ATOM}}}feed":
            version = "atom10"
            _only(_attributes(root))
            if language:
                self.feed["language"] = language.replace("_", "-")
            self._header(_Scope(self.feed, language, entry=False), root)
        else:
            raise _Refused  # RSS 1.0 and 0.90 (RDF), Atom 0.3, CDF, not a feed
        return {"version": version, "feed": self.feed, "entries": self.entries, "bozo": False}

    @staticmethod
    def _rss_version(attributes: dict[str, str]) -> str:
        given = attributes.get("version", "")
        return _RSS_VERSIONS.get(given) or ("rss20" if given.startswith("2.") else "rss")

    @staticmethod
    def _only_channel(root: etree._Element) -> etree._Element:
        children = list(root)
        if len(children) != 1 or children[0].tag != "channel":
            raise _Refused  # items outside the channel, two channels
        return children[0]

    # -- walking ------------------------------------------------------------------------

    def _header(self, scope: _Scope, parent: etree._Element) -> None:
        for child in parent:
            key = _key(child)
            if key in ("item", "entry"):
                self._entry(scope, child)
                continue
            handler = _FEED_HANDLERS.get(key) or _inert(key)
            handler(self, scope, child, key)

    def _entry(self, feed: _Scope, element: etree._Element) -> None:
        _only(_attributes(element))
        entry: dict[str, Any] = {}
        self.entries.append(entry)
        scope = _Scope(entry, _language(element, feed.language), entry=True)
        for child in element:
            key = _key(child)
            handler = _ENTRY_HANDLERS.get(key) or _inert(key)
            handler(self, scope, child, key)

    # -- text constructs: title, summary, content... -----------------------------------

    def _detail(
        self, scope: _Scope, element: etree._Element, default: str, *extra: str
    ) -> dict[str, Any]:
        """feedparser's "*_detail" of a text element: type, language, base and value."""
        attributes = _only(_attributes(element), "type", *extra)
        given = attributes.get("type", default)
        kind = _TYPE_NAMES.get(given, given)
        if kind not in _TEXT_TYPES:
            raise _Refused
        text = _text_only(element).strip()
        if self.rss and kind == "text/plain" and _MAY_LOOK_LIKE_HTML.search(text):
            raise _Refused
        language = _language(element, scope.language)
        return {
            "type": kind,
            "language": language.replace("_", "-") if language else language,
            "base": "",
            "value": _fixed(text),
        }

    def _title(self, scope: _Scope, element: etree._Element, key: str) -> None:
        scope.once("title")
        detail = self._detail(scope, element, "text/plain")
        scope.data["title"] = detail["value"]
        scope.data["title_detail"] = detail

    def _subtitle(self, scope: _Scope, element: etree._Element, key: str) -> None:
        scope.once("subtitle")  # RSS's channel description is the feed's subtitle
        detail = self._detail(scope, element, "text/html" if key == "description" else "text/plain")
        scope.data["subtitle"] = detail["value"]
        scope.data["subtitle_detail"] = detail

    def _summary(self, scope: _Scope, element: etree._Element, key: str) -> None:
        # With a summary and no content before it, feedparser makes this one the content.
        if "summary" in scope.data and not scope.has_content:
            raise _Refused
        scope.once("summary")
        detail = self._detail(scope, element, "text/html" if key == "description" else "text/plain")
        scope.data["summary"] = detail["value"]
        scope.data["summary_detail"] = detail

    def _content(self, scope: _Scope, element: etree._Element, key: str) -> None:
        scope.once("content")
        scope.has_content = True
        if key == "content_encoded":
            detail = self._detail(scope, element, "text/html")
        else:
            detail = self._detail(scope, element, "text/plain", "src")
            src = _attributes(element).get("src")
            if src:
                detail["src"] = src
        scope.data.setdefault("content", []).append(detail)
        scope.data.setdefault("summary", detail["value"])  # the only body is the summary too

    def _checked_text(self, scope: _Scope, element: etree._Element, key: str) -> None:
        """A text construct nothing reads (rights): only checked."""
        self._detail(scope, element, "text/plain")

    # -- links and ids ------------------------------------------------------------------

    def _link(self, scope: _Scope, element: etree._Element, key: str) -> None:
        attributes = _only(
            _attributes(element), "href", "rel", "type", "hreflang", "title", "length"
        )
        attributes.setdefault("rel", "alternate")
        attributes.setdefault(
            "type", "application/atom+xml" if attributes["rel"] == "self" else "text/html"
        )
        data = scope.data
        links: list[dict[str, str]] = data.setdefault("links", [])
        links.append(attributes)
        if "href" in attributes:  # Atom's, and atom:link in RSS: the text is ignored
            if len(element):
                raise _Refused
            href = attributes["href"] = _EXTRA_SLASHES.sub(r"\1", attributes["href"])
            if attributes["rel"] == "alternate" and _is_html(attributes["type"]):
                data["link"] = href
            return
        scope.once("link")
        text = _popped(element, uri=True)
        if scope.entry:
            text = _ENTITY_LIKE.sub(r"&\1", text.replace("&amp;", "&"))
            data["link"] = text
            if text:
                attributes["href"] = text
        else:
            data["link"] = attributes["href"] = _ENTITY_LIKE.sub(r"&\1", text)

    def _id(self, scope: _Scope, element: etree._Element, key: str) -> None:
        scope.once("id")
        # A guid is a permalink unless it says otherwise (in exactly these letters).
        is_link = _only(_attributes(element), "ispermalink").get("ispermalink", "true") == "true"
        value = _popped(element, uri=is_link)
        scope.data["id"] = value
        if is_link:
            scope.data.setdefault("link", value)

    def _enclosure(self, scope: _Scope, element: etree._Element, key: str) -> None:
        attributes = _only(_attributes(element), "url", "length", "type")
        if len(element):
            raise _Refused
        url = attributes.pop("url", None)
        if url:
            attributes["href"] = url
        elif url is not None:
            attributes["url"] = url  # feedparser moves an empty one nowhere
        attributes["rel"] = "enclosure"
        scope.data.setdefault("links", []).append(attributes)

    # -- dates, plain text fields -------------------------------------------------------

    def _date(self, scope: _Scope, element: etree._Element, key: str) -> None:
        field = _DATE_FIELDS[key]
        scope.once(field)
        _only(_attributes(element))
        value = _popped(element)
        if scope.entry:
            scope.data[field] = value
            # feed.py reads feedparser's own parse of a date ("*_parsed") only where
            # parse_date_fast cannot: those are left to feedparser.
            if value and value not in self.dates:
                if parse_date_fast(value) is None:
                    raise _Refused
                self.dates.add(value)

    def _kept_text(self, scope: _Scope, element: etree._Element, key: str) -> None:
        """A text field feed.py reads, filed under its key (language under "language")."""
        field = "language" if key == "dc_language" else key
        scope.once(field)
        _only(_attributes(element))
        scope.data[field] = _popped(element)

    def _plain_text(self, scope: _Scope, element: etree._Element, key: str) -> None:
        """A text field nothing reads: only checked (no attributes, no markup)."""
        _only(_attributes(element))
        _text_only(element)

    def _empty(self, scope: _Scope, element: etree._Element, key: str) -> None:
        """An element whose attributes feedparser keeps aside (cloud, media:content)."""
        _attributes(element, strict=False)
        for child in element:
            if _key(child) != "media_thumbnail":
                raise _Refused
            self._empty(scope, child, "media_thumbnail")

    # -- people and categories ----------------------------------------------------------

    def _author(self, scope: _Scope, element: etree._Element, key: str) -> None:
        """<author>, <dc:creator>, Atom's <author> with <name>, <email>, <uri>; feedparser
        keeps "authors", "author_detail" and "author" in step after each part."""
        _only(_attributes(element))
        data = scope.data
        data.setdefault("authors", []).append({})
        own = element.text or ""
        for child in element:
            part = _key(child)
            _only(_attributes(child))
            if part in ("name", "email"):
                _save_author(data, part, _text_only(child).strip())
            elif part in ("uri", "url", "homepage"):
                _save_author(data, "href", _popped(child, uri=True))
            else:
                raise _Refused
            own += child.tail or ""
        if own.strip() and len(element):
            raise _Refused  # text beside the parts
        data["author"] = _fixed(own.strip())
        _sync_author(data)

    def _publisher(self, scope: _Scope, element: etree._Element, key: str) -> None:
        """An RSS channel's managingEditor or webMaster: read by nothing (the feed's author
        counts for Atom only). Only checked."""
        if not self.rss:
            raise _Refused
        self._plain_text(scope, element, key)

    def _contributor(self, scope: _Scope, element: etree._Element, key: str) -> None:
        """Atom's <contributor>: kept by feedparser beside the authors; only checked."""
        _only(_attributes(element))
        if (element.text or "").strip():
            raise _Refused
        for child in element:
            if _key(child) not in ("name", "email", "uri"):
                raise _Refused
            self._plain_text(scope, child, "")

    def _category(self, scope: _Scope, element: etree._Element, key: str) -> None:
        attributes = _only(_attributes(element), "term", "scheme", "domain", "label")
        tags: list[dict[str, str | None]] = scope.data.setdefault("tags", [])
        scheme = attributes.get("scheme", attributes.get("domain"))
        _add_tag(tags, attributes.get("term"), scheme, attributes.get("label"))
        value = _popped(element)
        if value:
            # The text names the category the attributes began, else one of its own.
            if tags and not tags[-1]["term"]:
                tags[-1]["term"] = value
            else:
                _add_tag(tags, value, None, None)

    def _source(self, scope: _Scope, element: etree._Element, key: str) -> None:
        """RSS's <source url="...">Feed title</source>. (Atom's holds a feed's header:
        refused.)"""
        scope.once("source")
        attributes = _only(_attributes(element), "url")
        source: dict[str, str] = {}
        if "url" in attributes:
            source["href"] = attributes["url"]
        title = _popped(element)
        if title:
            source["title"] = title
        scope.data["source"] = source

    # -- RSS channel extras -------------------------------------------------------------

    def _image(self, scope: _Scope, element: etree._Element, key: str) -> None:
        """The channel's image: feedparser files its title and link inside it."""
        _only(_attributes(element))
        for child in element:
            if _key(child) not in ("title", "url", "link", "width", "height", "description"):
                raise _Refused
            self._plain_text(scope, child, "")

    def _skip(self, scope: _Scope, element: etree._Element, key: str) -> None:
        """skipHours and skipDays: hours and days nothing reads."""
        _only(_attributes(element))
        for child in element:
            if _key(child) not in ("hour", "day"):
                raise _Refused
            self._plain_text(scope, child, "")

    def _generator(self, scope: _Scope, element: etree._Element, key: str) -> None:
        _only(_attributes(element), "uri", "version", "href")
        _text_only(element)


def _is_html(kind: str) -> bool:
    return _TYPE_NAMES.get(kind, kind) in _HTML_TYPES


def _inert(key: str) -> _Handler:
    """The handler of an element feedparser merely files under its key, nothing reading it
    (slash:comments, sy:updatePeriod, dc:identifier, a site's own <thumbnail>): checked,
    skipped. Anything else is refused."""
    if key.startswith(_INERT_PREFIXES) or key in _INERT_KEYS or key in _INERT_MEDIA:
        return _inert_element
    # Without a prefix ("_" would make it look like one: <content_encoded>).
    if "_" not in key and key not in _FEEDPARSER_NAMES:
        return _inert_element
    if key.startswith("dcterms_") and key not in _HANDLED_DCTERMS and key != "dcterms_valid":
        return _inert_element
    if key.startswith("feedburner_") and key != "feedburner_browserfriendly":
        return _inert_element
    raise _Refused


def _inert_element(reader: _Reader, scope: _Scope, element: etree._Element, key: str) -> None:
    _attributes(element, strict=False)
    _text_only(element)


def _save_author(data: dict[str, Any], part: str, value: str) -> None:
    data.setdefault("author_detail", {})[part] = value
    _sync_author(data)
    data.setdefault("authors", [{}])[-1][part] = value


def _sync_author(data: dict[str, Any]) -> None:
    """feedparser's "author" from the latest author's details; with none yet, the details
    from "author" (the previous author's, for a second one). It splits an e-mail address out
    of that."""
    detail: dict[str, str] = data.get("authors", [{}])[-1]
    if detail:
        name, email = detail.get("name"), detail.get("email")
        if name and email:
            data["author"] = f"{name} ({email})"
        elif name or email:
            data["author"] = name or email
        return
    author = data.get("author")
    if not author:
        return
    name, email = _split_email(author)
    if name or email:
        data.setdefault("author_detail", detail)  # the very dict: later parts land in both
    if name:
        detail["name"] = name
    if email:
        detail["email"] = email


# An e-mail address as feedparser finds one in an author's text ("jo@example.org (Jo)"):
# ASCII, a top-level domain of 2 to 4 letters (or an IP address's last number).
_EMAIL = re.compile(
    r"[A-Za-z0-9_.+-]+@(?:\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.|(?:[A-Za-z0-9-]+\.)+)"
    r"(?:[A-Za-z]{2,4}|[0-9]{1,3})\]?(?:\?subject=\S+)?"
)


def _split_email(author: str) -> tuple[str, str | None]:
    """The name and the e-mail address in an author's text, as feedparser splits them: the
    address is cut out with the brackets around it, and one parenthesis at either end."""
    match = _EMAIL.search(author)
    if match is None:
        return author, None
    email = match.group(0)
    name = author.replace(email, "")
    for empty in ("()", "<>", "&lt;&gt;"):
        name = name.replace(empty, "")
    name = name.strip()
    name = name[1:] if name.startswith("(") else name
    name = name[:-1] if name.endswith(")") else name
    return name.strip(), email


def _add_tag(
    tags: list[dict[str, str | None]], term: str | None, scheme: str | None, label: str | None
) -> None:
    if not (term or scheme or label):
        return
    tag = {"term": term, "scheme": scheme, "label": label}
    if tag not in tags:
        tags.append(tag)


# Dates by key, filed as feedparser files them (RSS's pubDate is "published", dc:date is
# "updated").
_DATE_FIELDS = {
    "pubdate": "published",
    "published": "published",
    "issued": "published",
    "dcterms_issued": "published",
    "updated": "updated",
    "modified": "updated",
    "dc_date": "updated",
    "dcterms_modified": "updated",
    "lastbuilddate": "updated",
    "created": "created",
    "dcterms_created": "created",
}

_ENTRY_HANDLERS: dict[str, _Handler] = {
    "title": _Reader._title,
    "link": _Reader._link,
    "description": _Reader._summary,
    "summary": _Reader._summary,
    "content": _Reader._content,
    "content_encoded": _Reader._content,
    "guid": _Reader._id,
    "id": _Reader._id,
    "author": _Reader._author,
    "dc_creator": _Reader._author,
    "dc_author": _Reader._author,
    "contributor": _Reader._contributor,
    "category": _Reader._category,
    "dc_subject": _Reader._category,
    "enclosure": _Reader._enclosure,
    "source": _Reader._source,
    "comments": _Reader._plain_text,
    "rights": _Reader._checked_text,
    "feedburner_origlink": _Reader._kept_text,
    "media_content": _Reader._empty,
    "media_thumbnail": _Reader._empty,
    **{key: _Reader._date for key in _DATE_FIELDS if key != "lastbuilddate"},
}

_FEED_HANDLERS: dict[str, _Handler] = {
    "title": _Reader._title,
    "subtitle": _Reader._subtitle,
    "description": _Reader._subtitle,
    "link": _Reader._link,
    "id": _Reader._id,
    "language": _Reader._kept_text,
    "dc_language": _Reader._kept_text,
    "ttl": _Reader._kept_text,
    "author": _Reader._author,
    "managingeditor": _Reader._publisher,
    "webmaster": _Reader._publisher,
    "contributor": _Reader._contributor,
    "category": _Reader._category,
    "generator": _Reader._generator,
    "rights": _Reader._checked_text,
    "copyright": _Reader._checked_text,
    "docs": _Reader._plain_text,
    "icon": _Reader._plain_text,
    "logo": _Reader._plain_text,
    "rating": _Reader._plain_text,
    "cloud": _Reader._empty,
    "image": _Reader._image,
    "skiphours": _Reader._skip,
    "skipdays": _Reader._skip,
    **dict.fromkeys(_DATE_FIELDS, _Reader._date),
}
