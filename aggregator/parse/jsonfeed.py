"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1), by our own small parser.

Tolerant the way feed readers must be: a field of the wrong type is ignored (with a warning),
an item without an id or URL is skipped, 1.0's single ``author`` and 1.1's ``authors`` are
both read, and numeric ids (common in 1.0 feeds) are taken as strings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aggregator.errors import ParseError
from aggregator.models import Fetched, ParsedDocument, RawItem, Source
from aggregator.parse.date_warnings import (
    dates_not_understood,
    unread_date,
    zones_not_known,
    zones_read_as_local,
)
from aggregator.parse.dates import parse_date
from aggregator.parse.empty import NO_ENTRIES
from aggregator.parse.encoding import decode, source_language
from aggregator.parse.urls import absolute_http_url
from aggregator.text import has_html_tags, plain_as_html

_VERSION_PREFIX = "https://jsonfeed.org/version/"
_FORMATS = {"1": "json10", "1.1": "json11"}


def parse_json_feed(source: Source, fetched: Fetched) -> ParsedDocument:
    decoded = decode(
        fetched.content,
        fetched.headers.get("content-type"),
        "json",
        language=source_language(source.language, source.country),
    )
    if not decoded.text.strip():
        raise ParseError(source.id, "empty document")
    try:
        document = json.loads(decoded.text)
    except ValueError as exc:  # also a number past Python's 4,300 digits, not a JSONDecodeError
        raise ParseError(source.id, f"not a JSON Feed: invalid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ParseError(source.id, "not a JSON Feed: the top level is not an object")
    if "\\u" in decoded.text:  # only an escape can make a lone surrogate
        document = _without_lone_surrogates(document)
    warnings = list(decoded.warnings)
    version = document.get("version")
    if isinstance(version, str) and version.startswith(_VERSION_PREFIX):
        number = version.removeprefix(_VERSION_PREFIX).rstrip("/")
        format_ = _FORMATS.get(number, "json1x")
    elif isinstance(listed := document.get("items"), list) and _feed_like(listed):
        format_ = "json1x"
        warnings.append("JSON Feed without a valid 'version'")
    elif isinstance(listed, list):
        # An API's {"items": [{"id": 1, "name": ...}]}: a list called items is no feed.
        raise ParseError(
            source.id,
            "not a JSON Feed: no 'version', and its items have no url, title or content",
        )
    else:
        raise ParseError(source.id, "not a JSON Feed: no 'version' and no 'items' list")

    fields = _Fields(warnings)
    home = absolute_http_url(fields.text(document, "home_page_url"), fetched.url)
    feed_url = absolute_http_url(fields.text(document, "feed_url"), fetched.url)
    base = home or feed_url or fetched.url
    # As the RSS and Atom parsers do: the document's own language, else the server's.
    language = fields.text(document, "language") or (
        fetched.headers.get("content-language", "").strip() or None
    )
    # An item without an author has the feed's (the spec: "authors" at the top level).
    feed_author = _author(document)

    items: list[RawItem] = []
    raw_items = document.get("items")
    if not isinstance(raw_items, list):
        raw_items = []
        warnings.append("JSON Feed 'items' is not a list")
    skipped = 0
    unread: list[str] = []  # the dates of items none of whose dates could be read
    zones: set[str] = set()  # unknown zone names of dates read as local time
    for raw in raw_items:
        item = (
            _item(raw, base, language, source.language, fields, feed_author)
            if isinstance(raw, dict)
            else None
        )
        if item is None:
            skipped += 1
        else:
            items.append(item)
            written = [raw.get("date_published"), raw.get("date_modified")]
            unread.extend(unread_date(item, written))
            zones.update(zones_read_as_local(item, written))
    if skipped:
        warnings.append(f"{skipped} items without an id or URL skipped")
    elif not raw_items and isinstance(document.get("items"), list):
        warnings.append(NO_ENTRIES)
    if unread:
        warnings.append(dates_not_understood(unread))
    if zones:
        warnings.append(zones_not_known(zones))
    return ParsedDocument(
        items=tuple(items),
        format=format_,
        title=fields.text(document, "title"),
        link=home,
        language=language,
        warnings=tuple(dict.fromkeys(warnings)),
    )


def _item(
    raw: Mapping[str, Any],
    base: str,
    feed_language: str | None,
    source_language: str | None,
    fields: _Fields,
    feed_author: str | None = None,
) -> RawItem | None:
    guid = raw.get("id")
    guid_text = (
        str(guid).strip() if isinstance(guid, str | int) and not isinstance(guid, bool) else None
    )
    url = absolute_http_url(fields.text(raw, "url"), base) or absolute_http_url(
        fields.text(raw, "external_url"), base
    )
    if not guid_text and not url:
        return None
    language = fields.text(raw, "language") or feed_language
    languages = [lang for lang in (language, source_language) if lang]
    published = fields.text(raw, "date_published")
    modified = fields.text(raw, "date_modified")
    tags = raw.get("tags")
    return RawItem(
        guid=guid_text or None,
        url=url,
        # Titles, summaries and content_text are plain text (the spec): "AT&T" is no entity.
        title=_plain(fields.text(raw, "title")),
        # The spec says plain text; publishers put HTML there too, read as readers read it.
        summary=_summary(fields.text(raw, "summary")),
        content=fields.text(raw, "content_html") or _plain(fields.text(raw, "content_text")),
        published=_date(published, languages),
        updated=_date(modified, languages),
        author=_author(raw) or feed_author,
        language=language,
        categories=tuple(dict.fromkeys(t.strip() for t in tags if isinstance(t, str) and t.strip()))
        if isinstance(tags, list)
        else (),
    )


def _feed_like(items: list[Any]) -> bool:
    """Some item has what a JSON Feed item is read for."""
    wanted = ("url", "external_url", "title", "content_html", "content_text", "summary")
    return any(isinstance(item, dict) and any(key in item for key in wanted) for item in items)


def _plain(text: str | None) -> str | None:
    return plain_as_html(text) if text else None


def _summary(text: str | None) -> str | None:
    return text if text and has_html_tags(text) else _plain(text)


def _date(text: str | None, languages: list[str]) -> datetime | None:
    """RFC 3339, as the spec says, or whatever feeds write ("Mon, 01 Jan 2024 ..."), read as
    RSS and Atom dates are: "2026-11-26T24:00Z" is the 27th's midnight, a zone name after
    the time applies ("2026-11-27T0915 CET"), a leap second is the second before it, a date
    alone is midnight UTC, and an ISO 8601 date that cannot be ("2024-13-01", a week 54,
    hour 25) is none (the lenient reader made it the 13th of January)."""
    return parse_date(text, languages) if text else None


def _author(raw: Mapping[str, Any]) -> str | None:
    authors = raw.get("authors")
    candidates = list(authors) if isinstance(authors, list) else []
    candidates.append(raw.get("author"))  # 1.0
    names = [
        a["name"].strip()
        for a in candidates
        if isinstance(a, dict) and isinstance(a.get("name"), str) and a["name"].strip()
    ]
    return ", ".join(dict.fromkeys(names)) or None


class _Fields:
    """Reads string fields, noting (once per field) those of the wrong type."""

    def __init__(self, warnings: list[str]) -> None:
        self._warnings = warnings

    def text(self, obj: Mapping[str, Any], key: str) -> str | None:
        value = obj.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self._warnings.append(f"JSON Feed field {key!r} is not a string: ignored")
            return None
        return value.strip() or None


def _without_lone_surrogates(value: Any) -> Any:
    """The document with each half of a UTF-16 surrogate pair that has no other half
    ("\\ud83d": an emoji cut in two by an excerpt) replaced by U+FFFD; no UTF-8 text can
    hold one, and the whole source failed. Whole pairs were joined by json already."""
    if isinstance(value, str):
        if not any("\ud800" <= c <= "\udfff" for c in value):
            return value
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {key: _without_lone_surrogates(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    return value
