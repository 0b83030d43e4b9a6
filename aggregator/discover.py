"""Find the feed behind any page, or propose how to scrape the page when it has none.

`discover` fetches the page with the project's own `Retriever` and parses every candidate
with the project's own parse stage, so what it reports ("12 items, newest 2026-03-02") is
what a refresh of the new source will see. Candidates, in order:

1. the URL itself, when it already is a feed;
2. the page's ``<link rel="alternate">`` of a feed type (RSS, Atom, JSON Feed), comment
   feeds last;
3. common paths in the page's folder, then on the site's root (/feed, /rss.xml, ...), the
   ones CMSs publish.

With no feed, `propose_selectors` guesses the listing's item selector from the page's shape:
a group of three or more sibling elements of the same tag and classes, each holding a link,
ideally a heading and a date. The guess is checked by running the html parser with it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Literal
from urllib.parse import quote, urlsplit, urlunsplit

from bs4 import BeautifulSoup, Tag

from aggregator.errors import FetchError, ParseError
from aggregator.fetch import Retriever
from aggregator.models import (
    CacheValidators,
    Fetched,
    OrgKind,
    ParsedDocument,
    RawItem,
    Selectors,
    Source,
    SourceKind,
)
from aggregator.parse import parse_document
from aggregator.parse.encoding import decode
from aggregator.parse.soup import html_soup
from aggregator.parse.urls import absolute_http_url
from aggregator.text import html_to_text

# Media types of <link rel="alternate"> that name a feed. application/json alone is not
# enough: WordPress announces its REST API with it on every page (see `_is_feed_link`).
FEED_TYPES = {
    "application/rss+xml": "rss",
    "application/rdf+xml": "rss",
    "application/atom+xml": "atom",
    "application/feed+json": "json",
    "application/json": "json",
}

# Paths CMSs publish a site feed under (WordPress, Drupal, Hugo, Jekyll, Ghost, ...).
COMMON_PATHS = ("/feed", "/rss.xml", "/atom.xml", "/feed.json", "/index.xml", "/feed/")

# A listing has at least this many entries; fewer look like a menu or a footer.
MIN_ITEMS = 3
# A proposal must give at least this many titled items when the html parser runs it (one
# entry of a short list may lack a link: "meeting calendar, no page yet").
MIN_PARSED = 2
# "Most members have it": the share of a group's members a feature must be found in.
MOST = 0.6
# Regions of a page that repeat links but are never the listing.
_CHROME = frozenset({"nav", "header", "footer", "aside"})
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_DATE_CLASS = re.compile(r"date|time|published", re.I)
# Classes that say where or in which state an element is, not what it is.
_UNSTABLE_CLASS = re.compile(r"^(active|first|last|odd|even|current|is-.*|js-.*|.*\d{3,}.*)$")
# Classes of menus, breadcrumbs and share buttons: repeated links that are not entries.
_CHROME_CLASS = re.compile(r"menu|nav|breadcrumb|social|share|lang|skip|footer|pager|tabs", re.I)

Via = Literal["page", "alternate", "path"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedLink:
    url: str
    type: str
    title: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundFeed:
    url: str  # where the feed was fetched (after redirects)
    via: Via
    title: str | None
    format: str  # "rss20", "atom10", "json11", ...
    item_count: int
    newest: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ListingProposal:
    selectors: Selectors
    item_count: int  # items the html parser finds with these selectors
    sample_titles: tuple[str, ...]
    newest: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    url: str
    outcome: str  # "feed", or why not: "HTTP 404", "not a feed: ..."


@dataclass(frozen=True, slots=True, kw_only=True)
class Discovery:
    page_url: str  # the page as fetched, after redirects
    # The page's address to configure: the URL asked for, unless only permanent redirects
    # led on. A temporary one's target ("?page=1", a dated path, a login wall) is not it.
    address: str
    page_title: str | None
    feed: FoundFeed | None
    proposal: ListingProposal | None  # only when no feed was found
    attempts: tuple[Attempt, ...]


# -- pure parts ----------------------------------------------------------------------------


def _soup(fetched: Fetched) -> BeautifulSoup:
    decoded = decode(fetched.content, fetched.headers.get("content-type"), "html")
    return html_soup(decoded.text)


def _attr(element: Tag, name: str) -> str | None:
    value = element.get(name)
    if isinstance(value, list):
        value = " ".join(value)
    return value.strip() or None if isinstance(value, str) else None


def _base(soup: BeautifulSoup, url: str) -> str:
    base = soup.find("base", href=True)
    if isinstance(base, Tag):
        return absolute_http_url(_attr(base, "href"), url) or url
    return url


def _is_feed_link(media: str, href: str, title: str | None) -> bool:
    if media not in FEED_TYPES:
        return False
    if media == "application/json":  # a JSON Feed only when it says so, not /wp-json/...
        said = f"{href} {title or ''}".lower()
        return "feed" in said and "wp-json" not in said
    return True


# Characters a URL keeps as they are when percent-encoding the rest (RFC 3986's reserved
# ones, and "%" itself: what is encoded already stays so).
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"


def feed_links(soup: BeautifulSoup, page_url: str) -> list[FeedLink]:
    """The page's feed links, absolute, in page order with comment feeds moved last."""
    base = _base(soup, page_url)
    found: dict[str, FeedLink] = {}
    for link in soup.find_all("link", href=True):
        if not isinstance(link, Tag):
            continue
        rel = (_attr(link, "rel") or "").lower().split()
        media = (_attr(link, "type") or "").split(";")[0].strip().lower()
        href = _attr(link, "href") or ""
        title = _attr(link, "title")
        if "alternate" not in rel or not _is_feed_link(media, href, title):
            continue
        url = absolute_http_url(href, base)
        if url:
            # Written as the config will keep it: a space (" /my feed.xml") percent-encoded.
            url = quote(url, safe=_URL_SAFE)
        if url and url not in found:
            found[url] = FeedLink(url=url, type=FEED_TYPES[media], title=title)
    links = list(found.values())
    return sorted(links, key=_is_comment_feed)  # stable: page order otherwise


def _is_comment_feed(link: FeedLink) -> bool:
    said = f"{link.url} {link.title or ''}".lower()
    return "comment" in said or "kommentar" in said or "commentaire" in said


def common_feed_urls(page_url: str) -> list[str]:
    """The common paths in the page's folder, then on the site's root: a site installed in
    a folder (`/blog/`, `/en/news/`) publishes its feed there, and only the root was tried."""
    parts = urlsplit(page_url)
    folder = parts.path[: parts.path.rfind("/") + 1] if "/" in parts.path else "/"
    bases = dict.fromkeys([folder.rstrip("/"), ""])  # "" for the root; once if the same
    return [
        urlunsplit((parts.scheme, parts.netloc, base + path, "", ""))
        for base in bases
        for path in COMMON_PATHS
    ]


def newest_date(items: Sequence[RawItem]) -> datetime | None:
    dates = [d for item in items for d in (item.published, item.updated) if d is not None]
    aware = [d if d.tzinfo else d.replace(tzinfo=UTC) for d in dates]
    return max(aware).astimezone(UTC) if aware else None


# -- selector proposal ---------------------------------------------------------------------


def _classes(element: Tag) -> tuple[str, ...]:
    value = element.get("class")
    names: list[str] = value.split() if isinstance(value, str) else list(value or [])
    return tuple(sorted(c for c in names if not _UNSTABLE_CLASS.match(c)))


def _css_ident(name: str) -> bool:
    return re.fullmatch(r"-?[A-Za-z_][\w-]*", name) is not None


def _simple_selector(element: Tag) -> str:
    classes = [c for c in _classes(element) if _css_ident(c)][:2]
    return element.name + "".join(f".{c}" for c in classes)


def _link_of(element: Tag) -> Tag | None:
    if element.name == "a" and _attr(element, "href"):
        return element
    for anchor in element.find_all("a", href=True):
        if isinstance(anchor, Tag) and not (_attr(anchor, "href") or "#").startswith(
            ("#", "javascript:", "mailto:")
        ):
            return anchor
    return None


def _in_chrome(element: Tag) -> bool:
    return any(parent.name in _CHROME for parent in element.parents if isinstance(parent, Tag))


@dataclass(frozen=True, slots=True)
class _Group:
    parent: Tag
    members: tuple[Tag, ...]
    score: float


def _sibling_groups(soup: BeautifulSoup) -> Iterator[_Group]:
    for parent in soup.find_all(True):
        if not isinstance(parent, Tag) or parent.name in _CHROME:
            continue
        by_shape: dict[tuple[str, tuple[str, ...]], list[Tag]] = {}
        for child in parent.find_all(True, recursive=False):
            if isinstance(child, Tag):
                by_shape.setdefault((child.name, _classes(child)), []).append(child)
        for members in by_shape.values():
            if len(members) >= MIN_ITEMS:
                score = _score(members)
                if score > 0:
                    yield _Group(parent=parent, members=tuple(members), score=score)


def _fraction(members: Sequence[Tag], test: Callable[[Tag], bool]) -> float:
    return sum(1 for m in members if test(m)) / len(members)


def _has_date(element: Tag) -> bool:
    return element.find("time") is not None or any(
        isinstance(e, Tag) and _DATE_CLASS.search(" ".join(_classes(e)))
        for e in element.find_all(True)
    )


def _score(members: Sequence[Tag]) -> float:
    """How much a group of siblings looks like the entries of a news listing."""
    links = [_link_of(m) for m in members]
    # One entry of a short list may lack a link ("no page yet"); most must have one.
    if sum(link is not None for link in links) < MOST * len(members):
        return 0.0
    texts = [link.get_text(" ", strip=True) for link in links if link is not None]
    long_links = sum(len(t) >= 15 for t in texts) / len(members)
    headings = _fraction(members, lambda m: m.find(_HEADINGS) is not None)
    dates = _fraction(members, _has_date)
    articles = _fraction(members, lambda m: m.name == "article" or m.find("article") is not None)
    if max(headings, dates, articles) < 0.5 and long_links < MOST:
        return 0.0  # short bare links: a menu or a tag cloud
    if _in_chrome(members[0]) or _chrome_classes(members[0]):
        return 0.0  # no proposal beats proposing the site's menu
    return math.sqrt(len(members)) * (0.3 + long_links + 2 * headings + 1.5 * dates + articles)


def _chrome_classes(element: Tag) -> bool:
    for node in (element, element.parent):
        if isinstance(node, Tag) and any(
            _CHROME_CLASS.search(name) for name in (*_classes(node), _attr(node, "id") or "")
        ):
            return True
    return False


def _item_selector(soup: BeautifulSoup, group: _Group) -> str:
    """A selector matching exactly the group's members, as short as we can make it."""
    simple = _simple_selector(group.members[0])
    if len(soup.select(simple)) == len(group.members):
        return simple
    parent = group.parent
    anchor = f"#{_attr(parent, 'id')}" if _css_ident(_attr(parent, "id") or "") else None
    scoped = f"{anchor or _simple_selector(parent)} > {simple}"
    return scoped


def _contains(element: Tag, *, name: str) -> bool:
    return element.find(name) is not None


def _common_child(members: Sequence[Tag], names: Sequence[str]) -> str | None:
    """The first tag name of `names` present in most members."""
    for name in names:
        if _fraction(members, partial(_contains, name=name)) >= MOST:
            return name
    return None


def _date_selector(members: Sequence[Tag]) -> str | None:
    if _fraction(members, lambda m: m.find("time", datetime=True) is not None) >= MOST:
        return "time@datetime"
    if _fraction(members, lambda m: m.find("time") is not None) >= MOST:
        return "time"
    counts: dict[str, int] = {}
    for member in members:
        for element in member.find_all(True):
            if isinstance(element, Tag):
                for cls in _classes(element):
                    if _DATE_CLASS.search(cls) and _css_ident(cls):
                        counts[cls] = counts.get(cls, 0) + 1
    best = max(counts.items(), key=lambda kv: kv[1], default=None)
    return f".{best[0]}" if best and best[1] >= MOST * len(members) else None


def _selectors_for(soup: BeautifulSoup, group: _Group) -> Selectors:
    members = group.members
    heading = _common_child(members, _HEADINGS)
    if heading is not None:
        title = heading
        linked = _fraction(members, lambda m: m.select_one(f"{heading} a[href]") is not None)
        link = (
            f"{heading} a@href" if linked >= MOST else ("@href" if members[0].name == "a" else "a")
        )
    elif members[0].name == "a":
        title, link = "@title" if _attr(members[0], "title") else "span", "@href"
    else:
        title, link = "a", "a@href"
    summary = "p" if _common_child(members, ("p",)) else None
    return Selectors(
        item=_item_selector(soup, group),
        title=title,
        link=link,
        date=_date_selector(members),
        summary=summary,
    )


def propose_selectors(soup: BeautifulSoup, *, limit: int = 3) -> list[Selectors]:
    """The likeliest listing selectors for the page, best first (at most `limit`)."""
    groups = sorted(_sibling_groups(soup), key=lambda g: g.score, reverse=True)
    proposals: list[Selectors] = []
    for group in groups:
        selectors = _selectors_for(soup, group)
        if selectors not in proposals:
            proposals.append(selectors)
        if len(proposals) == limit:
            break
    return proposals


# -- discovery through the fetch and parse stages ------------------------------------------


def probe_source(source_id: str, url: str, kind: SourceKind = SourceKind.FEED) -> Source:
    """A throwaway source for the Retriever and the parsers, which speak in sources."""
    return Source(id=source_id, name=source_id, url=url, kind=kind, org=OrgKind.NGO)


def _feed(source_id: str, fetched: Fetched, via: Via, asked: str) -> tuple[FoundFeed | None, str]:
    try:
        document = parse_document(probe_source(source_id, fetched.url), fetched)
    except ParseError as exc:
        return None, f"not a feed: {exc.message}"
    return (
        FoundFeed(
            # The URL asked for, unless only permanent redirects led on: a temporary one
            # (a CDN's signed, expiring address) is not the feed's address.
            url=fetched.permanent_redirect or asked,
            via=via,
            title=document.title,
            format=document.format,
            item_count=len(document.items),
            newest=newest_date(document.items),
        ),
        "feed",
    )


_FEED_ROOT = re.compile(rb"<(?:rss|feed|rdf:rdf)[\s>]")


def _looks_like_feed(fetched: Fetched) -> bool:
    media = fetched.headers.get("content-type", "").split(";")[0].strip().lower()
    head = fetched.content[:256].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if "html" in media:
        # Feeds served as text/html are common enough (refresh reads them by their bytes):
        # a feed's root element early on settles it.
        return _FEED_ROOT.search(fetched.content[:2048].lower()) is not None
    return media.endswith(("xml", "json")) or head.startswith((b"<?xml", b"<rss", b"<feed", b"{"))


def check_listing(source_id: str, fetched: Fetched, selectors: Selectors) -> ParsedDocument | None:
    """The page parsed with `selectors` by the html parser; None when they are unusable."""
    source = Source(
        id=source_id,
        name=source_id,
        url=fetched.url,
        kind=SourceKind.HTML,
        org=OrgKind.NGO,
        selectors=selectors,
    )
    try:
        return parse_document(source, fetched)
    except ParseError:
        return None


def best_listing(source_id: str, fetched: Fetched) -> ListingProposal | None:
    """The first proposed selectors that yield at least `MIN_PARSED` items with titles."""
    for selectors in propose_selectors(_soup(fetched)):
        document = check_listing(source_id, fetched, selectors)
        if document is None:
            continue
        # As the digest will show them: "AT&T", not the "<pre>AT&amp;T</pre>" read.
        titled = [html_to_text(item.title) for item in document.items if item.title]
        if len(titled) >= MIN_PARSED:
            return ListingProposal(
                selectors=selectors,
                item_count=len(document.items),
                sample_titles=tuple(titled[:3]),
                newest=newest_date(document.items),
            )
    return None


async def discover(
    url: str, retriever: Retriever, *, now: datetime, source_id: str = "discover"
) -> Discovery:
    """Find the feed of the page at `url`, else propose a listing source.

    Fetch failures of the page itself propagate (`FetchError`, `Blocked`): there is nothing
    to discover. Failures of candidate feed URLs are recorded in `attempts` and skipped.
    """
    probe = probe_source(source_id, url)
    page = await retriever.retrieve(probe, url, CacheValidators(), now=now)
    if not isinstance(page, Fetched):  # no validators were sent: a 304 is the server's error
        raise FetchError(source_id, f"{url}: 304 Not Modified to an unconditional request")
    attempts: list[Attempt] = []
    if _looks_like_feed(page):
        found, outcome = _feed(source_id, page, "page", url)
        attempts.append(Attempt(url=page.url, outcome=outcome))
        if found:
            return Discovery(
                page_url=page.url,
                address=page.permanent_redirect or url,
                page_title=found.title,
                feed=found,
                proposal=None,
                attempts=tuple(attempts),
            )
    soup = _soup(page)
    title_tag = soup.find("title")
    page_title = title_tag.get_text(" ", strip=True) or None if isinstance(title_tag, Tag) else None
    candidates: list[tuple[str, Via]] = [
        (link.url, "alternate") for link in feed_links(soup, page.url)
    ]
    candidates += [(u, "path") for u in common_feed_urls(page.url)]
    tried = {page.url}
    for candidate, via in candidates:
        if candidate in tried:
            continue
        tried.add(candidate)
        found, outcome = await _try(retriever, source_id, candidate, via, now=now)
        attempts.append(Attempt(url=candidate, outcome=outcome))
        if found:
            return Discovery(
                page_url=page.url,
                address=page.permanent_redirect or url,
                page_title=page_title,
                feed=found,
                proposal=None,
                attempts=tuple(attempts),
            )
    return Discovery(
        page_url=page.url,
        address=page.permanent_redirect or url,
        page_title=page_title,
        feed=None,
        proposal=best_listing(source_id, page),
        attempts=tuple(attempts),
    )


async def _try(
    retriever: Retriever, source_id: str, url: str, via: Via, *, now: datetime
) -> tuple[FoundFeed | None, str]:
    try:
        fetched = await retriever.retrieve(
            probe_source(source_id, url), url, CacheValidators(), now=now
        )
    except FetchError as exc:
        return None, exc.message
    if not isinstance(fetched, Fetched):
        return None, "304 Not Modified to an unconditional request"
    return _feed(source_id, fetched, via, url)


# How far back "newest" is worth a remark: an abandoned feed is worth a second look.
STALE_AFTER = timedelta(days=180)

__all__ = [
    "COMMON_PATHS",
    "FEED_TYPES",
    "STALE_AFTER",
    "Attempt",
    "Discovery",
    "FeedLink",
    "FoundFeed",
    "ListingProposal",
    "best_listing",
    "check_listing",
    "common_feed_urls",
    "discover",
    "feed_links",
    "newest_date",
    "propose_selectors",
]
