"""Parser for `html` sources: listing pages scraped with the source's CSS selectors.

Selectors come from config (`Selectors`): `item` matches one element per entry; `title`,
`link`, `date` and `summary` are relative to it. A selector may end in ``@attr`` to read an
attribute instead of the text (``h3 a@href``, ``time@datetime``); an empty selector before the
``@`` (``@href``) means the item element itself. `link` without ``@`` takes the ``href`` of the
matched element, or of the first ``<a href>`` inside it.

A page whose `item` selector matches nothing is not an error: the site may have been
redesigned, and the digest reports listing pages that stopped yielding from the warning.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import soupsieve
from bs4 import BeautifulSoup, Tag

from aggregator.errors import ParseError
from aggregator.local_time import zone
from aggregator.models import Fetched, ParsedDocument, RawItem, Selectors, Source
from aggregator.parse import guards
from aggregator.parse.copies import Copies
from aggregator.parse.date_order import month_first, shown_order
from aggregator.parse.date_warnings import (
    dates_not_understood,
    unread_date,
    zones_not_known,
    zones_read_as_local,
)
from aggregator.parse.dates import parse_date, parse_relative_date
from aggregator.parse.encoding import decode, source_language
from aggregator.parse.soup import AS_BROWSERS_READ, html_soup
from aggregator.parse.urls import absolute_http_url, anchor_url
from aggregator.text import decoded_text_as_html, html_to_text
from aggregator.urls import canonical_url

_ATTRIBUTE = re.compile(r"^(.*?)@([A-Za-z_:][\w:.-]*)$", re.S)
_SPACES = re.compile(r"\s+")
# What soupsieve raises for a selector it cannot use: a syntax error, or a pseudo-element
# ("h3::text", Scrapy's spelling), which it refuses with NotImplementedError.
_SELECTOR_ERRORS = (soupsieve.SelectorSyntaxError, NotImplementedError)
# Text for screen readers only ("Read more about <title>", "(opens in new tab)"): no part of
# the title or summary a reader sees.
_SCREEN_READER_ONLY = frozenset(
    (
        *("screen-reader-text", "sr-only", "visually-hidden", "visuallyhidden"),
        *("element-invisible", "show-for-sr", "u-visually-hidden", "a11y-hidden"),
    )
)
# Inline styles that hide an element ("display: none", "visibility:hidden !important").
_HIDING_STYLE = re.compile(
    r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*(?:hidden|collapse))"
    r"\s*(?:!\s*important\s*)?(?:;|$)",
    re.IGNORECASE,
)
# Form controls in a card ("Share", a language <select>) are no part of its title or summary,
# unless they are all the text there is (an accordion's title is its <button>).
_CONTROLS = frozenset(("button", "select", "option", "input", "textarea", "datalist"))
# Decoration hidden from screen readers: an icon ("<i class="fa fa-arrow" aria-hidden>", a
# Material icon's ligature "arrow_forward") or a glyph ("»", "|"). Other aria-hidden text
# is shown to the reader, often beside its screen-reader-only twin ("12 Nov" beside "12
# November 2025"), and stays.
_ICON_TAGS = frozenset(("i", "svg", "img"))
_ICON_CLASS = re.compile(r"icon|^fa[srlbd]?$|^fa-", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Target:
    css: str  # empty: the item element itself
    attribute: str | None


def parse_html(source: Source, fetched: Fetched) -> ParsedDocument:
    selectors = source.selectors
    if selectors is None:
        raise ParseError(source.id, "html source without selectors")
    refused = guards.size_refusal(fetched.content)
    if refused:
        raise ParseError(source.id, refused)
    not_a_page = _not_a_page(fetched)
    if not_a_page:
        raise ParseError(source.id, not_a_page)
    written_in = source_language(source.language, source.country)
    decoded = decode(
        fetched.content, fetched.headers.get("content-type"), "html", language=written_in
    )
    if not decoded.text.strip():
        raise ParseError(source.id, "empty document")
    soup = html_soup(decoded.text)

    page_language = _page_language(soup, fetched.headers.get("content-language"))
    warnings = list(decoded.warnings)
    try:
        elements = soup.select(selectors.item, flags=AS_BROWSERS_READ)
    except _SELECTOR_ERRORS as exc:
        raise ParseError(source.id, f"invalid item selector {selectors.item!r}: {exc}") from exc
    if not elements:
        feed = feed_format(decoded.text)
        if feed is None and _is_json(decoded.text):
            # A listing's data endpoint copied for its page: "matched nothing" alone sent
            # the operator to the selectors.
            media = fetched.headers.get("content-type", "").split(";")[0].strip() or "none"
            raise ParseError(
                source.id,
                f"not an HTML page: the server sent JSON data (Content-Type: {media}); an"
                " html source needs the address of the page a browser shows",
            )
        warnings.append(
            f"selector {selectors.item!r} matched nothing"
            + (
                f': the address serves {feed}, not an HTML page; set kind = "feed" for'
                " this source (its selectors are then not needed)"
                if feed
                else ""
            )
        )
    nested = _nested_items(elements)
    try:
        # Read first, all of them: what the listing's dates show of their order ("11/13/2025"
        # is month first) is how its other dates are read ("11/12/2025").
        date_texts = _date_texts(elements, selectors.date, nested)
    except _SELECTOR_ERRORS as exc:
        raise ParseError(source.id, f"invalid selector: {exc}") from exc
    page = _Page(
        base=_base_url(soup, fetched.url),
        language=page_language,
        # The source's language (its country's when it names none) first: a Croatian page
        # that says lang="en" still writes "12. listopada 2026." (October) in Croatian.
        date_languages=tuple(dict.fromkeys(lang for lang in (written_in, page_language) if lang)),
        answered=_server_time(fetched.headers.get("date")),
        zone=zone(source.timezone) if source.timezone else UTC,
        nested=nested,
        country=source.country,
        shown_order=shown_order(date_texts.values()),
    )

    # Copies of one entry (a teaser in a "featured" region, then in the list) are one entry.
    copies = Copies()
    misses = _Misses()
    without_link = 0
    for element in elements:
        paged = misses.paging
        try:
            item = _item(element, selectors, page, misses, date_texts.get(id(element)))
        except _SELECTOR_ERRORS as exc:
            raise ParseError(source.id, f"invalid selector: {exc}") from exc
        if item is None or item.url is None:
            if misses.paging == paged:  # else a "Next page" link, told apart below
                without_link += 1
            continue
        # By canonical link: the featured copy's may carry a tracking parameter or a
        # fragment ("/n/1?utm_source=home", "/n/1#main") that the card's lacks.
        copies.add(canonical_url(item.url), item)
    paging = misses.paging
    warnings.extend(misses.warnings(selectors, len(elements) - without_link - paging))
    if paging:
        warnings.append(
            f"{paging} matched {'item' if paging == 1 else 'items'} without a title linking"
            " to another page of this listing (pagination) skipped"
        )
    if without_link:
        warnings.append(
            f"{without_link} matched {'item' if without_link == 1 else 'items'} without a link"
            " skipped"
        )
        if without_link == len(elements) > 1:  # the selector, not the entries, is wrong
            warnings.append(f"link selector {selectors.link!r} found no web address in any item")
        if not page.base.startswith(("http://", "https://")):
            warnings.append(
                f"relative links cannot be resolved against {page.base}: give the page a"
                ' <base href="https://..."> or <link rel="canonical"> with its web address'
            )
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    return ParsedDocument(
        items=tuple(copies.folded()),
        format="html",
        title=title or None,
        link=fetched.url,
        language=page_language,
        warnings=tuple(warnings),
    )


# Bodies no listing page is: what they are, by their first bytes.
_SIGNATURES = (
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an office document)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
)
_NOT_PAGES = ("application/pdf", "image/", "audio/", "video/", "application/zip")


# A feed's root element near the start of the document, after any prolog and comments.
_FEED_ROOTS = (
    (re.compile(r"<rss[\s>]"), "an RSS feed"),
    (
        re.compile(r"<(?:[\w-]+:)?RDF[\s>].*?<(?:[\w-]+:)?(?:channel|item)[\s>]", re.S),
        "an RSS feed",
    ),
    (
        re.compile(
            r"<(?:[\w-]+:)?feed[\s>].*?(?:www\.w3\.org/2005/Atom|<(?:[\w-]+:)?entry[\s>])", re.S
        ),
        "an Atom feed",
    ),
    (re.compile(r"\A\s*\{.*jsonfeed\.org\\?/version", re.S), "a JSON Feed"),
)


def feed_format(text: str) -> str | None:
    """What feed the document is ("an RSS feed"), or None: an html source's address that
    serves a feed matches no selector, and "matched nothing" alone sent the operator
    to the selectors instead of to `kind`."""
    head = text[:4096]
    return next((what for root, what in _FEED_ROOTS if root.search(head)), None)


def _is_json(text: str) -> bool:
    """Whether the whole document is a JSON object or array (a JSON Feed is a feed:
    `feed_format`)."""
    start = text.lstrip()[:1]
    if start not in ("{", "["):
        return False
    try:
        json.loads(text)
    except ValueError:  # "[if IE]"-style text, or markup after all
        return False
    return True


def _not_a_page(fetched: Fetched) -> str | None:
    """Why the body is no HTML page, or None: "selector matched nothing" on a PDF sent in
    the page's place (a moved page, a download link) left the operator guessing."""
    media = fetched.headers.get("content-type", "").split(";")[0].strip().lower()
    for signature, what in _SIGNATURES:
        if fetched.content.startswith(signature):
            return f"not an HTML page: the server sent {what} (Content-Type: {media or 'none'})"
    if media.startswith(_NOT_PAGES):
        return f"not an HTML page: Content-Type {media}"
    return None


def _server_time(header: str | None) -> datetime | None:
    """The HTTP Date of the answer, what relative dates count back from; None without one
    (a file:// page), and then they are not read."""
    if not header:
        return None
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Page:
    """What every item of a page is read with."""

    base: str  # what relative links resolve against
    language: str | None  # the page's lang
    date_languages: tuple[str, ...]  # the source's language, then the page's
    answered: datetime | None  # the server's time: what relative dates count back from
    zone: tzinfo  # the source's: what "Yesterday, 18:00" is written in
    nested: frozenset[int]  # ids of matched items inside another matched item
    country: str | None  # the source's: whether "11/12/2025" is month first (date_order.py)
    shown_order: bool | None  # month first (True) as the page's dates show, or day first
    # What each date text read as, by the text and the item's own lang: a listing writes
    # one day on many entries, and dateparser takes milliseconds a date ("3. März 2026").
    dates: dict[tuple[str, str | None], datetime | None] = field(default_factory=dict)


def _date_texts(
    elements: list[Tag], selector: str | None, nested: frozenset[int]
) -> dict[int, str]:
    """The date each matched item writes, by the item's id: none without a date selector."""
    if selector is None:
        return {}
    found = ((id(element), _date_text(_Scope(element, nested), selector)) for element in elements)
    return {key: text for key, text in found if text}


def _nested_items(elements: list[Tag]) -> frozenset[int]:
    """The matched items that sit inside another matched item (a "div.post" in a
    "div.post"): no part of the outer item's title, link, date or summary."""
    matched = {id(element) for element in elements}
    if len(matched) < 2:
        return frozenset()
    return frozenset(
        id(element)
        for element in elements
        if any(id(parent) in matched for parent in element.parents)
    )


@dataclass(slots=True)
class _Misses:
    """What the optional selectors failed to give, counted over the page's linked items: a
    redesign that breaks them would otherwise only show as items titled by their URL and
    dated when first seen."""

    title: int = 0
    date: int = 0
    summary: int = 0
    paging: int = 0  # matched items that are the listing's "Next page" links: skipped
    unread_dates: list[str] = field(default_factory=list)
    zones: set[str] = field(default_factory=set)  # unknown zone names of dates read as local

    def warnings(self, selectors: Selectors, count: int) -> list[str]:
        if count == 0:
            return []
        found: list[str] = []
        if self.title:
            found.append(
                f"title selector {selectors.title!r} found no text in {self.title} of {count}"
                " items (titled by their link or first words)"
            )
        for name, missed in (("date", self.date), ("summary", self.summary)):
            selector = getattr(selectors, name)
            if selector and missed == count:
                found.append(f"{name} selector {selector!r} matched nothing in any item")
        if self.unread_dates:
            found.append(dates_not_understood(self.unread_dates))
        if self.zones:
            found.append(zones_not_known(self.zones))
        return found


def _item(
    element: Tag, selectors: Selectors, page: _Page, misses: _Misses, date_text: str | None
) -> RawItem | None:
    scope = _Scope(element, page.nested)
    link = _link(scope, selectors.link)
    url = absolute_http_url(link, page.base) or anchor_url(link, page.base)
    if url is None:
        return None
    own_language = _own_language(element)
    summary = _summary(scope, selectors.summary) if selectors.summary else None
    title = _value(scope, selectors.title)
    published = _published(date_text, own_language, page) if date_text else None
    if title is None and _another_page_of_the_listing(url, page.base):
        misses.paging += 1  # "Next page", "Load more": the listing's own navigation
        return None
    misses.title += title is None
    misses.date += selectors.date is not None and date_text is None
    misses.summary += selectors.summary is not None and summary is None
    item = RawItem(
        url=url,
        # The page's text as read, not markup: "Kids <13" is no tag.
        title=decoded_text_as_html(title) if title else None,
        summary=summary,
        published=published,
        language=own_language or page.language,
    )
    misses.unread_dates.extend(unread_date(item, [date_text]))
    misses.zones.update(zones_read_as_local(item, [date_text]))
    return item


def _published(date_text: str, own_language: str | None, page: _Page) -> datetime | None:
    key = (date_text, own_language)
    if key in page.dates:
        return page.dates[key]
    # A mixed listing's item in Polish has its date in Polish, whatever the page's lang.
    date_languages = [lang for lang in (own_language, *page.date_languages) if lang]
    in_order = month_first(page.shown_order, page.country, (own_language, page.language))
    published = parse_date(date_text, date_languages or None, full_year=True, month_first=in_order)
    if published is None and page.answered is not None:
        # "il y a 3 jours": counted back from the server's time of the answer.
        published = parse_relative_date(
            date_text, date_languages or None, base=page.answered, local=page.zone
        )
    page.dates[key] = published
    return published


def _split(selector: str) -> _Target:
    match = _ATTRIBUTE.match(selector.strip())
    if match:
        # The HTML parser lower-cases attribute names: "time@dateTime", as a browser's
        # developer tools show it, is "datetime" in the parsed page.
        return _Target(css=match.group(1).strip(), attribute=match.group(2).lower())
    return _Target(css=selector.strip(), attribute=None)


@dataclass(frozen=True, slots=True)
class _Scope:
    """An item element, and the matched items inside it that are none of its parts."""

    element: Tag
    nested: frozenset[int]

    def owns(self, tag: Tag) -> bool:
        """Whether `tag` is the item's own, not (inside) a matched item nested in it."""
        if not self.nested:
            return True
        for part in (tag, *tag.parents):
            if part is self.element:
                return True
            if id(part) in self.nested:
                return False
        return True

    def own_parts(self, tag: Tag) -> Iterator[Tag]:
        """`tag`'s descendant elements that are the item's own, in document order."""
        return (part for part in tag.descendants if isinstance(part, Tag) and self.owns(part))


def _find(scope: _Scope, css: str) -> Tag | None:
    """The first match inside the item (not inside an item nested in it), else the item
    itself when it matches: with `item = "a.card"`, `link = "a.card"` (or `"@href"`, or
    `":scope"`) means the card's own link."""
    element = scope.element
    if not css or css == ":scope":
        return element
    # A reader sees the first visible match: a hidden copy before it ("display:none", the
    # `hidden` attribute, screen-reader text, a <noscript> "enable JavaScript" link) was
    # taken for the title, link or date. A hidden match is used only when no other is.
    first: Tag | None = None
    for tag in element.css.iselect(css, flags=AS_BROWSERS_READ):
        if not scope.owns(tag):
            continue
        if not _out_of_sight(tag, element):
            return tag
        first = first or tag
    return first or (element if element.css.match(css, flags=AS_BROWSERS_READ) else None)


def _another_page_of_the_listing(url: str, page: str) -> bool:
    """Whether `url` is the listing's own address with another query ("?page=2")."""
    here, there = urlsplit(page), urlsplit(url)
    return there.query != here.query and (there.netloc.lower(), there.path.rstrip("/")) == (
        here.netloc.lower(),
        here.path.rstrip("/"),
    )


def _out_of_sight(tag: Tag, item: Tag) -> bool:
    """Whether `tag`, or an element between it and the item, is not shown to a reader."""
    node: Tag | None = tag
    while node is not None and node is not item:
        if node.name in _NEVER_SHOWN or _hidden(node):
            return True
        node = node.parent
    return False


# Content a browser running scripts does not show: the fallback of <noscript>, a <template>.
_NEVER_SHOWN = frozenset(("noscript", "template"))


def _value(scope: _Scope, selector: str) -> str | None:
    target = _split(selector)
    found = _find(scope, target.css)
    if found is None:
        return None
    if target.attribute:
        return _attribute(found, target.attribute)
    return _text(found, scope.nested)


def _summary(scope: _Scope, selector: str) -> str | None:
    """The summary as markup (an attribute's value as text): normalise reads it as it reads
    a feed's, so a closing "Lire la suite »" link goes and inline markup joins its words."""
    target = _split(selector)
    found = _find(scope, target.css)
    if found is None:
        return None
    if target.attribute:
        value = _attribute(found, target.attribute)
        return decoded_text_as_html(value) if value else None
    markup = _visible_markup(found, scope.nested)
    return markup if html_to_text(markup).strip() else None


def _link(scope: _Scope, selector: str) -> str | None:
    target = _split(selector)
    found = _find(scope, target.css)
    if found is None:
        return None
    if target.attribute:
        return _attribute(found, target.attribute)
    if found.has_attr("href"):
        return _attribute(found, "href")
    anchors = (tag for tag in scope.own_parts(found) if tag.name == "a" and tag.has_attr("href"))
    anchor = next(anchors, None)
    return _attribute(anchor, "href") if anchor is not None else None


def _date_text(scope: _Scope, selector: str) -> str | None:
    target = _split(selector)
    found = _find(scope, target.css)
    if found is None:
        return None
    if target.attribute:
        # An element without the attribute shows its date as text: "span.date,
        # time@datetime" matched a <span> whose date was lost, without a word.
        return _attribute(found, target.attribute) or _text(found, scope.nested)
    # A <time datetime> says the date machine-readably even when the selector names only it.
    return (
        _attribute(found, "datetime") or _attribute(found, "content") or _text(found, scope.nested)
    )


def _attribute(element: Tag, name: str) -> str | None:
    value = element.get(name)
    if isinstance(value, list):  # multi-valued attributes such as class
        value = " ".join(value)
    return value.strip() or None if isinstance(value, str) else None


def _text(element: Tag, nested: frozenset[int] = frozenset()) -> str | None:
    """The element's text as a reader sees it: "Kinder<b>schutz</b>" is one word, and
    "<em>chat control</em>: next" has no space before the colon (get_text(" ") put one at
    every tag); hidden and screen-reader-only text left out."""
    return _SPACES.sub(" ", html_to_text(_visible_markup(element, nested))).strip() or None


def _visible_markup(element: Tag, nested: frozenset[int] = frozenset()) -> str:
    """The element's markup without what a reader does not see as its text: hidden parts,
    screen-reader-only text, icons, form controls (unless they are all the text there is),
    and the matched items nested in it."""
    unseen: list[Tag] = []
    controls: list[Tag] = []
    for part in element.descendants:
        if isinstance(part, Tag):
            if id(part) in nested or _unseen(part):
                unseen.append(part)
            elif part.name in _CONTROLS:
                controls.append(part)
    if not unseen and not controls:
        return element.decode_contents()
    markup = _without(element, [*unseen, *controls])
    if controls and not html_to_text(markup).strip():
        markup = _without(element, unseen)  # the text is the control's: an accordion's title
    return markup


def _unseen(part: Tag) -> bool:
    if _hidden(part):
        return True
    return str(part.get("aria-hidden", "")).strip().lower() == "true" and _decoration(part)


def _hidden(part: Tag) -> bool:
    """Not shown: screen-reader-only, the `hidden` attribute, or a hiding inline style."""
    classes = part.get("class") or ()
    if not _SCREEN_READER_ONLY.isdisjoint(classes):
        return True
    hidden = part.get("hidden")
    if hidden is not None and str(hidden).strip().lower() != "until-found":
        return True  # "until-found" is collapsed text the browser's search opens: content
    style = part.get("style")
    return isinstance(style, str) and _HIDING_STYLE.search(style) is not None


def _decoration(part: Tag) -> bool:
    if part.name in _ICON_TAGS or any(_ICON_CLASS.search(name) for name in part.get("class") or ()):
        return True
    return not any(character.isalnum() for character in part.get_text())


def _without(element: Tag, parts: list[Tag]) -> str:
    """`element`'s markup without `parts` (its descendants); the page's own element is left
    as it is for the other selectors."""
    if not parts:
        return element.decode_contents()
    dropped = {id(part) for part in parts}
    shown = copy.copy(element)
    # The copy's descendants are the element's, in the same order.
    twins = [
        twin
        for original, twin in zip(element.descendants, shown.descendants, strict=True)
        if id(original) in dropped
    ]
    for twin in twins:
        twin.extract()
    return shown.decode_contents()


def _base_url(soup: BeautifulSoup, final_url: str) -> str:
    """What relative links resolve against: <base href>, else the page's own URL. A page
    read from a file (a saved copy, `file://`) has no web address of its own: its canonical
    link or og:url stands in, as the address the copy was saved from."""
    base = soup.find("base", href=True)
    if isinstance(base, Tag):
        resolved = absolute_http_url(_attribute(base, "href"), final_url)
        if resolved:
            return resolved
    if final_url.startswith(("http://", "https://")):
        return final_url
    for found, name in (
        (soup.find("link", rel="canonical", href=True), "href"),
        (soup.find("meta", property="og:url", content=True), "content"),
    ):
        if isinstance(found, Tag):
            resolved = absolute_http_url(_attribute(found, name), final_url)
            if resolved:
                return resolved
    return final_url


def _page_language(soup: BeautifulSoup, header: str | None) -> str | None:
    html = soup.find("html")
    if isinstance(html, Tag):
        language = _attribute(html, "lang") or _attribute(html, "xml:lang")
        if language:
            return language
    return header.split(",")[0].strip() or None if header else None


def _own_language(element: Tag) -> str | None:
    """The item's own lang attribute, when it differs from the page's (a mixed listing)."""
    return _attribute(element, "lang")
