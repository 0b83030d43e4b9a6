"""Stage 3: `RawItem` to `Item`. Pure: no I/O, and the clock comes in as `now`.

The rules, in the order `normalise_item` applies them:

- url: the entry's link, else a GUID that is an absolute http(s) URL, else the document's
  link, else the source's URL. An entry with no title, no text and no link of its own is
  dropped: there is nothing to show or to point to.
- text: the fuller of content and summary, as plain text with paragraph breaks; summary: the
  summary (else the text) on one line, cut on a word boundary; title: plain text on one line,
  else the first words of the text, else the URL.
- published: the entry's published date, else its updated date, in UTC (naive dates are
  read in the source's time zone, `local_time`; UTC without one). A date more than a day
  ahead of `now` or before 1990 is a feed bug, not a date: with no usable date, `published`
  is `now` and `published_is_fallback` says so.
- identity, unique within the source and prefixed by kind: ``g:`` the GUID; ``u:`` the
  canonical URL, when there is no GUID or the document gives the same GUID to different
  entries; ``h:`` a hash of title and date (title and text when there is no date; title,
  date and text for each of the entries of one title and date with different texts).
- language: the entry's, else the document's, else the source's, else detected from the
  text, else (too short to tell) the language most of the document's items are in; always
  reduced to ISO 639-1 ("en-GB" -> "en").
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo

from aggregator.boilerplate import (
    without_copyright_line,
    without_read_more_link,
    without_read_more_words,
    without_wordpress_footer,
)
from aggregator.keys import indexable
from aggregator.language import detect_language, normalise_language
from aggregator.local_time import zone
from aggregator.models import Item, ParsedDocument, RawItem, Source
from aggregator.text import (
    content_fingerprint,
    fallback_title,
    fold_line,
    html_to_text,
    normalised_for_hash,
    truncate_words,
    without_mojibake,
)
from aggregator.urls import (
    canonical_url,
    is_web_url,
    unwrapped,
    with_unsafe_characters_encoded,
    without_login,
    without_tracking,
)

SUMMARY_CHARS = 400
# An item's text and title are cut at these lengths (a statement is far shorter): PostgreSQL
# holds at most 1 MB of full-text index per row, and one item of 2 MB of words made it refuse
# the whole source's save, where SQLite stored it.
MAX_TEXT_CHARS = 200_000
MAX_TITLE_CHARS = 1_000
# How far ahead of `now` a date may be: time zones and clock skew, but not typos.
MAX_FUTURE = timedelta(days=1)
# Older dates come from feeds that print 1970-01-01 (epoch 0) or 0001-01-01 for "unknown".
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
HASH_IDENTITY_HEX = 32  # 128 bits: ample for uniqueness within one source


def normalise_document(source: Source, document: ParsedDocument, *, now: datetime) -> list[Item]:
    """The items of `document`, in document order, with identities unique in the result."""
    return normalise_with_warnings(source, document, now=now)[0]


def normalise_with_warnings(
    source: Source, document: ParsedDocument, *, now: datetime
) -> tuple[list[Item], tuple[str, ...]]:
    """`normalise_document`, and a warning when entries had nothing left to keep once
    cleaned (no title, no text, no link: an image-only description)."""
    shared = _shared_guids(document.items)
    items: list[Item] = []
    empty = undatable = 0
    for raw in document.items:
        guid = _clean(raw.guid)
        item = normalise_item(
            source, raw, now=now, document=document, guid_is_unique=guid not in shared
        )
        if item is None:
            empty += 1
        else:
            items.append(item)
            # A date given and refused (years ahead, before 1990): said, not silently swapped.
            undatable += item.published_is_fallback and (raw.published or raw.updated) is not None
    notes = []
    if empty:
        notes.append(
            f"{empty} {'entry' if empty == 1 else 'entries'} with no title, text or link once"
            " cleaned skipped"
        )
    if undatable:
        notes.append(
            f"{undatable} {'date' if undatable == 1 else 'dates'} more than a day ahead or"
            " before 1990 ignored: dated when first seen"
        )
    unique = _unique_identities(_languages_from_the_document(items))
    kept = _without_relistings(unique)
    if len(kept) < len(unique):
        relisted = len(unique) - len(kept)
        notes.append(
            f"{relisted} {'entry' if relisted == 1 else 'entries'} listed again under another"
            " GUID (same link and title, one text holding the other's) skipped"
        )
    return kept, tuple(notes)


def _without_relistings(items: list[Item]) -> list[Item]:
    """One of the entries a document lists twice under two GUIDs: the same link (canonical),
    the same title, and the same words, or one's text holding the other's (an "-amp" copy of
    an article, its link with a tracking parameter, a teaser beside the full text).
    Different entries at one address (a procedure's events, a live page's updates) differ
    in title, in text, or in date: a daily "Plenary session" at one link, without text, is
    one entry a day, not one entry listed three times (see `RELISTING_DATES_APART`).

    The one kept is the fullest (then the smaller GUID), wherever each stands in the
    document: keeping the first made a feed that swaps the two at each build update the
    stored item back and forth."""
    groups: dict[tuple[str, str], list[int]] = {}
    kept: list[Item] = []
    # The teaser words of the kept entries that met a second one of their group, by place:
    # each text is folded once, not once for every pair it is compared in (a feed of 300
    # "Press release" entries at one link made 45,000 pairs, each folding two texts).
    words: dict[int, str] = {}
    for item in items:
        if not item.identity.startswith("g:"):
            kept.append(item)  # no GUID: identities by link or hash are already unique
            continue
        places = groups.setdefault((item.canonical_url, item.title.casefold()), [])
        same, own = None, ""
        if places:
            own = _teaser_words(item.text)
            same = next(
                (
                    place
                    for place in places
                    if _relisted(item, own, kept[place], _words_at(words, kept, place))
                ),
                None,
            )
        if same is None:
            if places:
                words[len(kept)] = own
            places.append(len(kept))
            kept.append(item)
        elif _preference(item) < _preference(kept[same]):
            kept[same], words[same] = item, own
    return kept


def _words_at(words: dict[int, str], kept: list[Item], place: int) -> str:
    found = words.get(place)
    if found is None:
        found = words[place] = _teaser_words(kept[place].text)
    return found


def _preference(item: Item) -> tuple[int, str]:
    """The fullest text first, then the smaller identity: the same choice in any order."""
    return -len(item.text), item.identity


# Two entries whose dates (given, not fallbacks) are further apart than this are two entries,
# whatever their words: the same entry listed twice is one record of the publishing system,
# with one date. An hour, not a calendar day: a day's boundary falls anywhere in UTC (23:30
# and 00:30 are an hour apart), and a live page's or a session's entries a few hours apart
# are as distinct as a daily one's; a copy's clock may still be minutes off its twin's.
RELISTING_DATES_APART = timedelta(hours=1)


def _relisted(item: Item, words: str, other: Item, other_words: str) -> bool:
    """Whether `item` is `other` listed again; `words` and `other_words` are their texts'
    `_teaser_words`. (Both have the same canonical link and title.)"""
    if not (
        item.published_is_fallback
        or other.published_is_fallback
        or abs(item.published - other.published) <= RELISTING_DATES_APART
    ):
        return False
    if item.content_hash == other.content_hash:
        return True
    # An entry without text is its twin's teaser.
    return words in other_words if len(words) <= len(other_words) else other_words in words


# How a teaser ends where it was cut: "…", "...", WordPress's "[…]", "(…)".
_CUT_MARK = re.compile(r"\s*(?:\[\s*(?:…|\.\.\.)\s*\]|\(\s*(?:…|\.\.\.)\s*\)|…|\.\.\.)\s*\Z")


def _teaser_words(text: str) -> str:
    """The words of a text as a teaser shows them: without the mark where it was cut, and
    with its spacing folded."""
    return " ".join(_CUT_MARK.sub("", text).split())


# An item too short (or too ambiguous) to detect on its own takes the language of the rest of
# its document when the rest agrees this much: a feed is mostly written in one language.
DOCUMENT_LANGUAGE_SHARE = 0.75
DOCUMENT_LANGUAGE_MIN_ITEMS = 2


def _languages_from_the_document(items: list[Item]) -> list[Item]:
    """Items without a language get their document's, when most of its items have one."""
    if all(item.language is not None for item in items):
        return items  # the common case: declared, or detected for every item
    counts = Counter(item.language for item in items if item.language is not None)
    if not counts:
        return items
    language, count = counts.most_common(1)[0]
    if count < DOCUMENT_LANGUAGE_MIN_ITEMS or count < DOCUMENT_LANGUAGE_SHARE * counts.total():
        return items
    return [item if item.language else replace(item, language=language) for item in items]


def normalise_item(
    source: Source,
    raw: RawItem,
    *,
    now: datetime,
    document: ParsedDocument,
    guid_is_unique: bool = True,
) -> Item | None:
    """One entry as an `Item`, or None when it has no title, no text and no link."""
    if now.tzinfo is None:
        raise ValueError("now must be tz-aware")
    now = now.astimezone(UTC)
    guid = _clean(raw.guid)
    own_url = _clean(raw.url) or (
        guid if guid is not None and raw.guid_is_link and is_web_url(guid) else None
    )
    own_url = unwrapped(own_url) if own_url is not None else None

    summary_text = _text_of(raw.summary) if raw.summary else ""
    content_text = _text_of(raw.content) if raw.content and raw.content != raw.summary else ""
    text = _at_most(content_text if len(content_text) > len(summary_text) else summary_text)
    title = (
        truncate_words(html_to_text(without_mojibake(raw.title)), MAX_TITLE_CHARS)
        if raw.title
        else ""
    )
    if not title and not text and own_url is None:
        return None
    # Shown to readers without its tracking parameters, as Miniflux does; compared by its
    # canonical form.
    # The feed's address last, without its login: it was the item's link as configured,
    # password and all, in the export, the API, the feeds and the digest's email.
    # A login in an entry's own link is no part of it either: the export, the API and the
    # digest's email pass the link on.
    own = without_login(own_url) if own_url is not None and "@" in own_url else own_url
    url = with_unsafe_characters_encoded(
        without_tracking(own or _clean(document.link) or without_login(source.url))
    )
    title_is_fallback = not title
    if title_is_fallback:
        title = fallback_title(text, url)

    local = zone(source.timezone) if source.timezone else UTC
    published = _usable_date(raw.published, now, local) or _usable_date(raw.updated, now, local)
    canonical = indexable(canonical_url(url))
    if own_url is None:
        # Given its feed's link, which says nothing of which entry it is: a canonical URL of
        # its own, so two such entries are never one story "by URL" (dedupe), nor one page.
        entry = hash_identity(title, text, None).removeprefix("h:")[:16]
        canonical = f"{canonical}#entry-{entry}"
    elif (anchor := _anchor_of_the_page(url, document.link)) is not None:
        # An anchor of the listing page itself ("#statement-3"): the anchor names the entry,
        # so it stays in the canonical URL, or every such entry would be one page.
        canonical = f"{canonical}#{anchor}"
    if guid is not None and guid_is_unique:
        identity = f"g:{indexable(guid)}"
    elif own_url is not None:
        identity = f"u:{canonical}"
    else:
        identity = hash_identity(title, text, published)

    return Item(
        source_id=source.id,
        identity=identity,
        guid=guid,
        url=url,
        canonical_url=canonical,
        title=title,
        summary=truncate_words(summary_text or text, SUMMARY_CHARS),
        text=text,
        published=published or now,
        published_is_fallback=published is None,
        updated=_usable_date(raw.updated, now, local),
        language=_language(raw, document, source, title, text),
        author=_clean(fold_line(raw.author)) if raw.author else None,
        content_hash=content_fingerprint(title, text),
        categories=_categories(raw.categories),
        title_is_fallback=title_is_fallback,
    )


def _anchor_of_the_page(url: str, page: str | None) -> str | None:
    """The fragment of `url` when it points into `page` (the document's own address), not
    a route ("#!/x") or another page's section."""
    address, _, fragment = url.partition("#")
    if not fragment or fragment.startswith(("!", "/")) or not page:
        return None
    return fragment if canonical_url(address) == canonical_url(page.partition("#")[0]) else None


def _text_of(html: str) -> str:
    """Plain text of a body, without the footers publishing systems add (boilerplate.py)."""
    return without_read_more_words(
        without_copyright_line(
            html_to_text(without_read_more_link(without_wordpress_footer(without_mojibake(html))))
        )
    )


def _at_most(text: str) -> str:
    """`text` cut at a word boundary to at most MAX_TEXT_CHARS, paragraphs kept."""
    if len(text) <= MAX_TEXT_CHARS:
        return text
    cut = text[:MAX_TEXT_CHARS]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    return (cut[:space] if space > MAX_TEXT_CHARS // 2 else cut).rstrip() + " …"


def hash_identity(title: str, text: str, published: datetime | None) -> str:
    """ "h:" identity from the title and date; title and text when there is no date.

    Without a date the text must take part, or every dateless "Press release" of a source
    would be one item; with a date it stays out, so an edited body keeps its identity.
    """
    basis = normalised_for_hash(title, "" if published is not None else text)
    stamp = published.isoformat() if published is not None else ""
    digest = hashlib.sha256(f"{basis}\n{stamp}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"h:{digest[:HASH_IDENTITY_HEX]}"


def told_apart_identity(title: str, text: str, published: datetime | None) -> str:
    """ "h:" identity from the title, the date and the text: an entry's among others of its
    document with its title and date (`_unique_identities`). The date takes part, or the
    same title and text on two days ("Weekly statement", its standing paragraph) would be
    one item, and so would a dateless entry of that title and text."""
    basis = normalised_for_hash(title, text)
    stamp = published.isoformat() if published is not None else ""
    digest = hashlib.sha256(f"{basis}\n{stamp}\ntold apart".encode("utf-8", "surrogatepass"))
    return f"h:{digest.hexdigest()[:HASH_IDENTITY_HEX]}"


def _shared_guids(raws: Iterable[RawItem]) -> set[str]:
    """GUIDs the document gives to two different entries (an exact repeat is not different)."""
    first: dict[str, RawItem] = {}
    shared: set[str] = set()
    for raw in raws:
        guid = _clean(raw.guid)
        if guid is None:
            continue
        seen = first.setdefault(guid, raw)
        if seen is not raw and seen != raw:
            shared.add(guid)
    return shared


def _unique_identities(items: list[Item]) -> list[Item]:
    """Drop exact repeats; re-key different items that still share an identity.

    Identity collisions left after the GUID check come from documents that give several
    entries the same link (a listing page, a feed whose every link is its home page). Those
    items fall back to the title-and-date identity; what still collides is the same item,
    and the fullest of its copies is kept (in the first one's place), whatever their order.
    """
    unique = list(dict.fromkeys(items))  # a feed that repeats an entry verbatim
    counts = Counter(item.identity for item in unique)
    if all(count == 1 for count in counts.values()):
        return unique  # the common case
    rekeyed = []
    for item in unique:
        if counts[item.identity] > 1:
            published = None if item.published_is_fallback else item.published
            item = replace(item, identity=hash_identity(item.title, item.text, published))
        rekeyed.append(item)
    # Two entries with one title and one day but different texts ("Press release" twice on
    # 2 March, one link for both) are two items, each known by its title, day and text: all
    # alike, not the longest text by title and day and the others by their texts, which
    # passed the title-and-day identity (and with it the stored row) to another entry
    # whenever a longer text came or an edit made one the longest. Not a teaser of the
    # fullest text, cut with "…" (a listing's two links to one article, one with a tracking
    # parameter or a fragment): that is the same entry listed twice, as `_relisted` says of
    # entries with a GUID, and it takes the fullest's identity. A title and day of one entry
    # alone (its copies and teasers) keeps the title-and-day identity: an edit of its text
    # stays an edit.
    texts: dict[str, set[str]] = {}
    fullest: dict[str, Item] = {}  # identity -> its item with the longest text
    fullest_words: dict[str, str] = {}  # identity -> the teaser words of that text
    for item in rekeyed:
        if item.identity.startswith("h:") and item.text:
            texts.setdefault(item.identity, set()).add(normalised_for_hash("", item.text))
            words = _teaser_words(item.text)
            if item.identity not in fullest or len(words) > len(fullest_words[item.identity]):
                fullest[item.identity], fullest_words[item.identity] = item, words
    apart = {
        item.identity
        for item in rekeyed
        if len(texts.get(item.identity, ())) > 1
        and _teaser_words(item.text) not in fullest_words[item.identity]
    }
    if apart:
        rekeyed = [
            _told_apart(item, fullest[item.identity], fullest_words[item.identity])
            if item.identity in apart
            else item
            for item in rekeyed
        ]
    result: list[Item] = []
    place: dict[str, int] = {}
    for item in rekeyed:
        if item.identity in place:
            at = place[item.identity]
            result[at] = min(item, result[at], key=_preference)
        else:
            place[item.identity] = len(result)
            result.append(item)
    return result


def _told_apart(item: Item, fullest: Item, fullest_words: str) -> Item:
    """`item`, one of several entries of its title and day, under its identity of title,
    day and text; a teaser of the fullest text (or an entry without text) under the
    fullest's, whose copy it is."""
    words = _teaser_words(item.text)
    text = fullest.text if words in fullest_words else item.text
    published = None if item.published_is_fallback else item.published
    return replace(item, identity=told_apart_identity(item.title, text, published))


def _usable_date(value: datetime | None, now: datetime, local: tzinfo) -> datetime | None:
    """`value` in UTC (a naive one read in `local`), or None when it cannot be right."""
    if value is None:
        return None
    try:
        utc = (value.replace(tzinfo=local) if value.tzinfo is None else value).astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 (.NET's MinValue) is before year 1 in UTC
        return None
    if utc < EARLIEST or utc > now + MAX_FUTURE:
        return None
    return utc


def _language(
    raw: RawItem, document: ParsedDocument, source: Source, title: str, text: str
) -> str | None:
    for declared in (raw.language, document.language, source.language):
        language = normalise_language(declared)
        if language is not None:
            return language
    return detect_language(f"{title}\n{text}")


def _categories(categories: tuple[str, ...]) -> tuple[str, ...]:
    cleaned = (fold_line(category.translate(_CONTROLS)) for category in categories)
    return tuple(dict.fromkeys(category for category in cleaned if category))


_CONTROLS: dict[int, str | None] = {
    **dict.fromkeys([*range(0x00, 0x09), *range(0x0E, 0x20)]),
    0x0B: " ",  # vertical tab and form feed are whitespace: a space, not nothing
    0x0C: " ",
}
# Whether there is one to take out: a search in C, where str.translate with a dict looks up
# every character in Python's dict, and the fields _clean sees seldom have one.
_ANY_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _clean(value: str | None) -> str | None:
    """A field as given, trimmed, without control characters: a NUL in a JSON Feed id or
    author is no part of it, and PostgreSQL holds no NUL in text."""
    if value is None:
        return None
    if _ANY_CONTROL.search(value) is not None:
        value = value.translate(_CONTROLS)
    value = value.strip()
    return value or None
