"""OPML 2.0 in and out: subscription lists shared with other feed readers.

Reading: every ``<outline>`` with an ``xmlUrl`` is a feed; the outlines it sits in are its
categories (Miniflux and FreshRSS nest feeds one level deep in category outlines; lemon24's
reader exports a flat list). Categories become tags, except one named like an organisation
kind ("ngo", "institution", ...), which sets the source's `org` instead: that is how our own
export groups sources. The OPML 2.0 ``category`` attribute ("/child-protection,/eu") adds
tags too. Files come from anywhere, so they are parsed with defusedxml (no entity expansion,
no external entities, no DTDs).

Writing: valid OPML 2.0, feed outlines of type "rss" grouped by organisation kind or by first
tag. What OPML has no attribute for (id, org, country, institution, language, timezone,
interval, `enabled = false`, `verified = false`, and the tags exactly as configured) goes
into attributes of our own namespace, which other readers ignore (as FreshRSS does with its
``frss:`` ones), so export then import gives the same sources back. The folders and the
``category`` attribute carry the tags for other readers; on import our ``tags`` attribute
is read as written, so a tag named like an organisation kind ("press") or one the folder
reading would reshape ("data_protection") comes back as it went out.

A URL's user name and password are left out of ``xmlUrl`` unless asked for
(`with_credentials`): an OPML file is made to be shared.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from aggregator.config_edit import id_from_url, slug, unique_id
from aggregator.durations import format_duration
from aggregator.errors import ConfigError
from aggregator.local_time import COUNTRY_ZONES
from aggregator.models import OrgKind, Source, SourceKind
from aggregator.urls import canonical_url, is_web_url, url_problem, without_login

NAMESPACE = "urn:aggregator:opml:1"
PREFIX = "aggregator"
# Source fields carried in our namespace, as attribute name -> Source field.
OWN_ATTRIBUTES = (
    "id",
    "org",
    "country",
    "institution",
    "language",
    "timezone",
    "interval",
    "enabled",
    "verified",
    "tags",
)
# Ids and tags as the settings accept them: an own attribute of this form is taken as it is
# (slugging "ep_press" gave "ep-press", a new source with none of the stored items).
_VERBATIM_ID = re.compile(r"[a-z0-9][a-z0-9\-_.]*")
_VERBATIM_TAG = re.compile(r"[a-z0-9][a-z0-9\-_]*")

GroupBy = Literal["org", "tag"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OpmlFeed:
    xml_url: str
    title: str | None
    html_url: str | None
    categories: tuple[str, ...]  # enclosing outlines' texts, outermost first, then `category`
    own: Mapping[str, str] = field(default_factory=dict)  # our namespace's attributes


@dataclass(frozen=True, slots=True, kw_only=True)
class OpmlDocument:
    title: str | None
    feeds: tuple[OpmlFeed, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Skipped:
    url: str
    title: str | None
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportPlan:
    entries: tuple[dict[str, Any], ...]  # [[source]] tables to append
    skipped: tuple[Skipped, ...]
    # Entries given the id of a stored source removed from the config, at the same URL: its
    # items, their tombstones and its health go on under it. (id, url)
    resumed: tuple[tuple[str, str], ...] = ()


# -- reading -------------------------------------------------------------------------------


def _local(name: str) -> tuple[str | None, str]:
    if name.startswith("{"):
        namespace, _, local = name[1:].partition("}")
        return namespace, local
    return None, name


def _attributes(element: ET.Element) -> tuple[dict[str, str], dict[str, str]]:
    """(plain attributes with lower-case names, our namespace's attributes)."""
    plain: dict[str, str] = {}
    own: dict[str, str] = {}
    for name, value in element.attrib.items():
        namespace, local = _local(name)
        if namespace is None:
            plain[local.lower()] = value.strip()  # xmlUrl, xmlurl and XMLURL all occur
        elif namespace == NAMESPACE:
            own[local] = value.strip()
    return plain, own


def _category_attribute(value: str) -> list[str]:
    """OPML 2.0 ``category``: comma-separated, slash-delimited paths; each part a category."""
    return [part for path in value.split(",") for part in path.split("/") if part.strip()]


def _walk(element: ET.Element, trail: tuple[str, ...]) -> Iterator[OpmlFeed]:
    """The feeds of the outlines under `element`, in document order; a folder's title goes
    into the trail of those under it. With a stack, not recursion: a file nested a thousand
    levels deep stopped the import with a RecursionError."""
    stack: list[tuple[Iterator[ET.Element], tuple[str, ...]]] = [(iter(element), trail)]
    while stack:
        children, trail = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            continue
        if _local(child.tag)[1] != "outline":
            continue
        plain, own = _attributes(child)
        label = plain.get("title") or plain.get("text") or None
        if plain.get("xmlurl"):
            yield OpmlFeed(
                xml_url=plain["xmlurl"],
                title=label,
                html_url=plain.get("htmlurl") or None,
                categories=(*trail, *_category_attribute(plain.get("category", ""))),
                own=own,
            )
        inner = (*trail, label) if label and not plain.get("xmlurl") else trail
        stack.append((iter(child), inner))


def read_opml(data: bytes, *, name: str) -> OpmlDocument:
    """Parse an OPML file's bytes; `name` (the file) goes into the `ConfigError` if it fails."""
    try:
        root = SafeET.fromstring(data)
    except DefusedXmlException as exc:
        # Said in words, not as "EntitiesForbidden(name='x', system_id=None, ...)".
        raise ConfigError(
            name,
            "not a readable OPML file: it declares a DTD or entities, which are refused"
            " (an OPML file needs none; they are how entity-expansion attacks work)",
            expected="OPML 1.0 or 2.0 without a DOCTYPE",
        ) from exc
    except ET.ParseError as exc:
        raise ConfigError(
            name, f"not a readable OPML file: {exc}", expected="OPML 1.0 or 2.0"
        ) from exc
    if _local(root.tag)[1] != "opml":
        raise ConfigError(name, f"the root element is <{_local(root.tag)[1]}>", expected="<opml>")
    body = next((c for c in root if _local(c.tag)[1] == "body"), None)
    if body is None:
        raise ConfigError(name, "no <body> element", expected="<opml><head/><body>...</body>")
    head = next((c for c in root if _local(c.tag)[1] == "head"), None)
    title_element = (
        next((c for c in head if _local(c.tag)[1] == "title"), None) if head is not None else None
    )
    title = (title_element.text or "").strip() or None if title_element is not None else None
    return OpmlDocument(title=title, feeds=tuple(_walk(body, ())))


# -- importing -----------------------------------------------------------------------------

_ORG_KINDS = {kind.value: kind for kind in OrgKind}


def _verbatim_or_slug(value: str, form: re.Pattern[str]) -> str:
    return value if form.fullmatch(value) else slug(value)


def _own_tags(feed: OpmlFeed) -> list[str]:
    """Our ``tags`` attribute: the tags as exported, none of them read as an org kind."""
    names = feed.own.get("tags", "").split(",")
    return [tag for name in names if (tag := _verbatim_or_slug(name.strip(), _VERBATIM_TAG))]


def _entry(
    feed: OpmlFeed, *, taken: Collection[str], default_org: OrgKind, extra_tags: Sequence[str]
) -> dict[str, Any]:
    org = _ORG_KINDS.get(feed.own.get("org", ""))
    tags = _own_tags(feed)
    for category in feed.categories:
        kind = _ORG_KINDS.get(category.strip().lower())
        if kind is not None:
            org = org or kind
        elif slug(category) and "tags" not in feed.own:
            # With our tags attribute, the folders and `category` only repeat them (and
            # reshape them: "data_protection" -> "data-protection"). Without it, they are
            # the tags (another reader's file).
            tags.append(slug(category))
    wanted_id = _verbatim_or_slug(feed.own.get("id", ""), _VERBATIM_ID) or id_from_url(feed.xml_url)
    entry: dict[str, Any] = {
        "id": unique_id(wanted_id, taken),
        "name": feed.title or urlsplit(feed.xml_url).hostname or feed.xml_url,
        "url": feed.xml_url,
        "kind": str(SourceKind.FEED),
        "org": str(org or default_org),
    }
    for key in ("country", "institution", "language", "timezone", "interval"):
        if feed.own.get(key):
            entry[key] = feed.own[key]
    if feed.own.get("enabled", "").strip().lower() == "false":
        entry["enabled"] = False  # a disabled source stays disabled
    if feed.own.get("verified", "").strip().lower() == "false":
        entry["verified"] = False  # and one whose URL was never confirmed stays unconfirmed
    if tags or extra_tags:  # no "tags = []" in the importing config
        entry["tags"] = list(dict.fromkeys([*tags, *extra_tags]))
    return entry


def _zone_of(country: str | None) -> str | None:
    return COUNTRY_ZONES.get(country) if country else None


def plan_import(
    document: OpmlDocument,
    existing: Sequence[Source],
    *,
    default_org: OrgKind = OrgKind.NGO,
    extra_tags: Sequence[str] = (),
    stored_ids: Collection[str] = (),
    moved: Mapping[str, str] | None = None,
    removed: Mapping[str, str] | None = None,
) -> ImportPlan:
    """Which feeds of `document` to add as sources, and which to skip and why.

    A feed is a duplicate when its canonical URL is an existing source's, configured or
    where a 301/308 moved it (`moved`: id -> URL, the store's), or an earlier feed's of the
    same file (one feed filed under two categories, as readers allow). A feed at the URL of
    a stored source no longer configured (`removed`: canonical URL -> its id) takes that id
    back: imported under a new one ("council-2"), each of its items was stored a second time
    and the ones pruned came back.
    """
    known = {canonical_url(url): id for id, url in (moved or {}).items()}
    known.update((canonical_url(s.url), s.id) for s in existing)
    # Ids of sources removed from the config are still the store's: not given again.
    taken = {s.id for s in existing} | set(stored_ids)
    configured = {s.id for s in existing}
    resumed: dict[str, str] = {}
    entries: list[dict[str, Any]] = []
    skipped: list[Skipped] = []
    for feed in document.feeds:
        if not is_web_url(feed.xml_url):
            skipped.append(Skipped(url=feed.xml_url, title=feed.title, reason="not an http(s) URL"))
            continue
        problem = url_problem(feed.xml_url)
        if problem is not None:  # one broken entry must not keep the others out
            skipped.append(Skipped(url=feed.xml_url, title=feed.title, reason=problem))
            continue
        key = canonical_url(feed.xml_url)
        if key in known:
            owner = known[key]
            reason = (
                f"already configured as {owner!r}"
                if owner in {s.id for s in existing}
                else f"repeated in the file (imported as {owner!r})"
            )
            skipped.append(Skipped(url=feed.xml_url, title=feed.title, reason=reason))
            continue
        entry = _entry(feed, taken=taken, default_org=default_org, extra_tags=extra_tags)
        stored_id = (removed or {}).get(key)
        if stored_id is not None and stored_id not in configured and stored_id not in resumed:
            entry["id"] = stored_id
            resumed[stored_id] = feed.xml_url
        entries.append(entry)
        known[key] = entry["id"]
        taken.add(entry["id"])
    return ImportPlan(
        entries=tuple(entries), skipped=tuple(skipped), resumed=tuple(resumed.items())
    )


# -- writing -------------------------------------------------------------------------------


def _site(url: str) -> str:
    """htmlUrl: the site the feed belongs to. Sources keep no home page, so: its root."""
    parts = urlsplit(url)
    # Without a user name and password: a home page needs none, and the file may be shared.
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, "/", "", ""))


def _feed_outline(parent: ET.Element, source: Source, url: str) -> None:
    attributes = {
        "type": "rss",
        "text": source.name,
        "title": source.name,
        "xmlUrl": url,
        "htmlUrl": _site(url),
    }
    if source.tags:
        attributes["category"] = ",".join(f"/{tag}" for tag in source.tags)
    own: dict[str, str | None] = {
        "id": source.id,
        "org": str(source.org),
        "country": source.country,
        "institution": source.institution,
        "language": source.language,
        # Not when the country gives it: the importing config then derives it the same way.
        "timezone": None if _zone_of(source.country) == source.timezone else source.timezone,
        # Always written: the importing config's [defaults] interval may be another.
        "interval": format_duration(source.interval),
        "enabled": None if source.enabled else "false",
        "verified": None if source.verified else "false",
        # As configured: the folders and `category` say them to other readers, but a tag
        # named like an org kind reads back as the org ("press"), not as a tag.
        "tags": ",".join(source.tags),
    }
    for key in OWN_ATTRIBUTES:
        value = own[key]
        if value:
            attributes[f"{{{NAMESPACE}}}{key}"] = value
    ET.SubElement(parent, "outline", attributes)


def _by_name(source: Source) -> tuple[str, str]:
    return source.name.lower(), source.id


@dataclass(frozen=True, slots=True, kw_only=True)
class Exported:
    data: bytes  # the OPML file
    # Sources OPML cannot carry (html listings, procedures: other readers could not fetch
    # them), by id.
    left_out: tuple[str, ...] = ()
    # Feed sources whose URL's user name and password were left out of the file, by id.
    logins_removed: tuple[str, ...] = ()


def _exported_urls(
    feeds: Sequence[Source], urls: Mapping[str, str], *, with_credentials: bool
) -> tuple[dict[str, str], tuple[str, ...]]:
    """id -> the URL to write, and the ids of those whose login was left out."""
    written: dict[str, str] = {}
    removed: list[str] = []
    for source in feeds:
        url = urls.get(source.id, source.url)
        written[source.id] = url if with_credentials else without_login(url)
        if written[source.id] != url:
            removed.append(source.id)
    return written, tuple(sorted(removed))


def write_opml(
    sources: Sequence[Source],
    *,
    now: datetime,
    title: str = "aggregator sources",
    group_by: GroupBy = "org",
    urls: Mapping[str, str] | None = None,
    with_credentials: bool = False,
) -> Exported:
    """OPML 2.0 of the feed sources. `urls`: id -> the URL a source is fetched from when not
    its configured one (where a 301/308 moved it). A URL's user name and password are left
    out unless `with_credentials`: the file is made to be shared, and they are secrets."""
    ET.register_namespace(PREFIX, NAMESPACE)
    root = ET.Element("opml", {"version": "2.0"})
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now, usegmt=True)
    ET.SubElement(head, "docs").text = "https://opml.org/spec2.opml"
    body = ET.SubElement(root, "body")
    feeds = [s for s in sources if s.kind is SourceKind.FEED]
    left_out = tuple(s.id for s in sources if s.kind is not SourceKind.FEED)
    written, logins_removed = _exported_urls(feeds, urls or {}, with_credentials=with_credentials)
    groups: dict[str, list[Source]] = {}
    loose: list[Source] = []  # grouped by tag, but without one: straight in the body
    for source in feeds:
        if group_by == "org":
            groups.setdefault(str(source.org), []).append(source)
        elif source.tags:
            groups.setdefault(source.tags[0], []).append(source)
        else:
            loose.append(source)
    for group in sorted(groups):
        outline = ET.SubElement(body, "outline", {"text": group, "title": group})
        for source in sorted(groups[group], key=_by_name):
            _feed_outline(outline, source, written[source.id])
    for source in sorted(loose, key=_by_name):
        _feed_outline(body, source, written[source.id])
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return Exported(data=data + b"\n", left_out=left_out, logins_removed=logins_removed)


__all__ = [
    "NAMESPACE",
    "Exported",
    "ImportPlan",
    "OpmlDocument",
    "OpmlFeed",
    "Skipped",
    "plan_import",
    "read_opml",
    "write_opml",
]
