"""Items: saving a refreshed document's items, reading them back, their revisions and tags.

Functions take an open `Connection` inside the caller's transaction. Writes are batched
(executemany, multi-row INSERT ... RETURNING), so a 30-item document costs a handful of
statements, not a hundred.
"""

from __future__ import annotations

import functools
import json
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    DateTime,
    RowMapping,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import BindParameter

from aggregator.keys import indexable
from aggregator.models import Item, Revision, StoredItem
from aggregator.store.schema import clusters, item_revisions, item_tags, items, tombstones
from aggregator.store.sources import pending_reading
from aggregator.store.timestamps import from_db, from_db_or_none, to_db, to_db_or_none
from aggregator.text import normalised_for_hash
from aggregator.urls import same_page_key, same_page_variants

T = TypeVar("T")
K = TypeVar("K")  # what `_one_row_one_entry` pairs rows and entries by

# Bound parameters per IN list: far below SQLite's and PostgreSQL's limits.
CHUNK = 500

# Every column a StoredItem needs (not the dedupe signature blob).
ITEM_COLUMNS = (
    items.c.id,
    items.c.source_id,
    items.c.identity,
    items.c.guid,
    items.c.url,
    items.c.canonical_url,
    items.c.title,
    items.c.summary,
    items.c.text,
    items.c.published,
    items.c.published_is_fallback,
    items.c.updated,
    items.c.language,
    items.c.author,
    items.c.content_hash,
    items.c.first_seen,
    items.c.last_changed,
    items.c.revision,
    items.c.cluster_id,
    items.c.categories,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Saved:
    new: int
    updated: int
    unchanged: int
    warnings: tuple[str, ...]
    changed_ids: tuple[int, ...] = ()  # new and updated items: what dedupe must (re)assign
    changed_identities: tuple[str, ...] = ()  # their identities, in the same order
    new_rows: tuple[NewRow, ...] = ()  # the new items' rows, as inserted


@dataclass(frozen=True, slots=True, kw_only=True)
class NewRow:
    """What dedupe reads of a new item's row, as `save` inserted it: handed to dedupe in
    the same transaction, so that it need not read back the rows just written (a twentieth
    of a cold refresh's store writer)."""

    item_id: int
    source_id: str
    cluster_id: int  # its cluster of one
    title: str
    text: str
    canonical_url: str
    published: datetime  # UTC, as stored
    first_seen: datetime


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def known_hashes(conn: Connection, source_id: str) -> dict[str, str]:
    """identity -> content hash of the source's stored items, whose tagging and
    fingerprinting a refresh can skip when they come back unchanged; none when the source's
    configuration changed since they were saved (their tags are to be made again)."""
    if pending_reading(conn, source_id) is not None:
        return {}
    rows = conn.execute(
        select(items.c.identity, items.c.content_hash).where(items.c.source_id == source_id)
    )
    return {identity: content_hash for identity, content_hash in rows}


def _content(item: Item) -> dict[str, Any]:
    """The columns an item's document decides (as opposed to what the store keeps)."""
    return {
        "guid": item.guid,
        "text": item.text,
        "published": to_db(item.published),
        "published_is_fallback": item.published_is_fallback,
        "updated": to_db_or_none(item.updated),
        "language": item.language,
        "content_hash": item.content_hash,
        **_about(item),
    }


def _unique(batch: Sequence[Item]) -> tuple[list[Item], list[str]]:
    """First item per identity (a feed may list one entry twice), and a warning per repeat."""
    kept: dict[str, Item] = {}
    repeated: list[str] = []
    for item in batch:
        if item.identity in kept:
            repeated.append(item.identity)
        else:
            kept[item.identity] = item
    warnings = (
        [f"{len(repeated)} repeated item(s) ignored, e.g. {repeated[0]!r}"] if repeated else []
    )
    return list(kept.values()), warnings


def _tombstoned(conn: Connection, source_id: str, identities: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for part in chunks(identities):
        found.update(
            conn.execute(_tombstones_of(), {"source_id": source_id, "values": part}).scalars()
        )
    return found


# The lookups `save` makes for every source that holds items (a refresh's tick: each of a
# thousand sources), built once: building and keying a statement for each call took about
# as long as SQLite took to answer it.
@functools.cache
def _tombstones_of() -> Select[Any]:
    return select(tombstones.c.identity).where(
        tombstones.c.source_id == bindparam("source_id"),
        tombstones.c.identity.in_(bindparam("values", expanding=True)),
    )


@functools.cache
def _rows_of(column: str) -> Select[Any]:
    """The source's rows (`_SAVE_COLUMNS`) whose `column` is one of the `values`."""
    return select(*_SAVE_COLUMNS).where(
        items.c.source_id == bindparam("source_id"),
        items.c[column].in_(bindparam("values", expanding=True)),
    )


# What `save` compares a stored row with: its identity, the alias checks' GUID and URL, its
# content hash, the dates an update keeps, and what an entry may change beside its words.
_SAVE_COLUMNS = (
    items.c.id,
    items.c.identity,
    items.c.guid,
    items.c.canonical_url,
    items.c.content_hash,
    items.c.published,
    items.c.published_is_fallback,
    items.c.first_seen,
    items.c.title,
    items.c.url,
    items.c.author,
    items.c.categories,
    items.c.summary,
)
# The columns an entry may change without a new revision (its words are the same): a link
# moved to https or to a new address, an author or a category added, a summary rewritten
# beside the same full text (an RSS description beside its content:encoded), a title whose
# capitals or punctuation were corrected (the content hash folds both).
_ABOUT_COLUMNS = ("title", "url", "canonical_url", "author", "categories", "summary")


def _existing(conn: Connection, source_id: str, identities: Sequence[str]) -> dict[str, RowMapping]:
    found: dict[str, RowMapping] = {}
    for part in chunks(identities):
        rows = conn.execute(_rows_of("identity"), {"source_id": source_id, "values": part})
        found.update((row.identity, row) for row in rows.mappings())
    return found


def _holds_anything(conn: Connection, source_id: str) -> bool:
    """Has the source a stored item or a tombstone (an item retention or an operator
    deleted)? Two indexed probes: both tables' keys start with the source."""
    return bool(conn.execute(_holds_anything_probe(), {"source_id": source_id}).scalar())


@functools.cache
def _holds_anything_probe() -> Select[Any]:
    """Both probes in one statement, built once: this runs for every source of a refresh."""
    source: BindParameter[str] = bindparam("source_id")
    return select(
        or_(
            exists().where(items.c.source_id == source),
            exists().where(tombstones.c.source_id == source),
        )
    )


def alias(item: Item) -> str | None:
    """The identity the item had, or will have, when its document does or does not give its
    GUID to another entry as well: "u:" its URL for a "g:" GUID identity, and the reverse."""
    if item.guid is None:
        return None
    if item.identity.startswith("g:"):
        return f"u:{item.canonical_url}"
    if item.identity.startswith("u:"):
        return f"g:{indexable(item.guid)}"
    return None


def _stored_as_alias(
    conn: Connection, source_id: str, missing: Sequence[Item], claimed: set[str]
) -> dict[str, RowMapping]:
    """Rows stored under the alias of an item not found under its own identity, by the
    item's identity.

    A GUID that starts or stops being repeated in a document moves an item between its "g:"
    and "u:" identity (normalise.py); without this it was stored a second time. A row is the
    item's only when it has the item's GUID and canonical URL, and no other item of the
    document has the row's identity.
    """
    wanted: dict[str, list[Item]] = {}
    for item in missing:
        name = alias(item)
        if name is not None and name not in claimed:
            wanted.setdefault(name, []).append(item)
    found: dict[str, RowMapping] = {}
    for name, row in _existing(conn, source_id, sorted(wanted)).items():
        for item in wanted[name]:
            if row["guid"] == item.guid and row["canonical_url"] == item.canonical_url:
                found[item.identity] = row
                break
    return found


# A procedure event's identity: procedure, day and kind (parse/procedure_items.event_guid).
_EVENT_IDENTITY = re.compile(r"^g:urn:ep-procedure:(.+):(\d{4}-\d{2}-\d{2}):([^:]+)$")
# How far a corrected event date may move and still be the same event.
EVENT_CORRECTION_DAYS = 14


def _corrected_events(
    conn: Connection, source_id: str, missing: Sequence[Item], listed: set[str]
) -> dict[str, RowMapping]:
    """Procedure events stored under another day: the Parliament corrected the date.

    An event's identity holds its day, so a corrected date reads as a new event. A stored
    event of the same procedure and kind, at most EVENT_CORRECTION_DAYS away, that the
    document no longer lists, is the one corrected (the nearest, when several): it is
    updated, not joined by a second item for one event.
    """
    wanted = [(item, m) for item in missing if (m := _EVENT_IDENTITY.match(item.identity))]
    if not wanted:
        return {}
    rows = conn.execute(
        select(*_SAVE_COLUMNS).where(
            items.c.source_id == source_id, items.c.identity.like("g:urn:ep-procedure:%")
        )
    ).mappings()
    gone: list[tuple[RowMapping, str, date, str]] = []
    for row in rows:
        found = _EVENT_IDENTITY.match(row["identity"])
        if found and row["identity"] not in listed:
            gone.append((row, found[1], date.fromisoformat(found[2]), found[3]))
    matched: dict[str, RowMapping] = {}
    taken: set[int] = set()
    for item, found in wanted:
        day = date.fromisoformat(found[2])
        near = [
            (abs((old_day - day).days), row["id"], row)
            for row, reference, old_day, kind in gone
            if reference == found[1]
            and kind == found[3]
            and row["id"] not in taken
            and abs((old_day - day).days) <= EVENT_CORRECTION_DAYS
        ]
        if near:
            _, row_id, row = min(near, key=lambda n: (n[0], n[1]))
            matched[item.identity] = row
            taken.add(row_id)
    return matched


def _is_site_root(url: str) -> bool:
    """An entry without a link of its own is given its site's; that says nothing of which
    entry it is."""
    return "/" not in same_page_key(url).removeprefix("//").rstrip("/")


def _same_entry(row: RowMapping, item: Item) -> bool:
    """The stored entry and the new one are one post: the same words, or the same title on
    the same real date (its text edited). Another title on the same day at the same address
    is another entry: a procedure page's next event, dated to the day."""
    if row["content_hash"] == item.content_hash:
        return True
    dated = not row["published_is_fallback"] and not item.published_is_fallback
    return (
        dated
        and from_db(row["published"]) == item.published
        and row["title"].casefold() == item.title.casefold()
    )


def _renamed(
    conn: Connection,
    source_id: str,
    unique: Sequence[Item],
    missing: Sequence[Item],
    *,
    listed: set[str],
    taken: set[int],
) -> dict[str, RowMapping]:
    """Rows of entries that came back under another GUID or link, by the item's identity.

    A GUID carrying a session token or a timestamp, a feed that starts (or stops) giving
    GUIDs, a site moved to https: each read as a new item, and a whole feed was stored a
    second time. A stored row is the item's when the document no longer lists the row's
    identity, the row is of the same page (link up to scheme and "www."), that page is one
    entry's alone in the document, and the two have the same words or the same date. A
    weekly newsletter at one fixed address has a new date each week: it stays a new item.
    """
    listed_pages = Counter(same_page_key(item.canonical_url) for item in unique)
    wanted = {
        same_page_key(item.canonical_url): item
        for item in missing
        if item.identity.startswith(("g:", "u:"))
        and not item.identity.startswith("g:urn:ep-procedure:")
        and listed_pages[same_page_key(item.canonical_url)] == 1
        and not _is_site_root(item.canonical_url)
    }
    found: dict[str, RowMapping] = {}
    if wanted:
        urls = {u for item in wanted.values() for u in same_page_variants(item.canonical_url)}
        rows: dict[str, list[RowMapping]] = {}
        for row in _unlisted(conn, source_id, items.c.canonical_url, urls, listed, taken):
            rows.setdefault(same_page_key(row["canonical_url"]), []).append(row)
        for page, item in wanted.items():
            same = [row for row in rows.get(page, ()) if _same_entry(row, item)]
            if len(same) == 1:
                found[item.identity] = same[0]
    used = taken | {row["id"] for row in found.values()}
    found.update(_under_a_guid_now_shared(conn, source_id, missing, found, listed, used))
    used |= {row["id"] for row in found.values()}
    found.update(_with_the_same_words(conn, source_id, missing, found, listed, used))
    used |= {row["id"] for row in found.values()}
    found.update(_edited_without_a_date(conn, source_id, missing, found, listed, used))
    used |= {row["id"] for row in found.values()}
    found.update(_edited_among_namesakes(conn, source_id, missing, found, listed, used))
    used |= {row["id"] for row in found.values()}
    found.update(_retitled(conn, source_id, missing, found, listed, used))
    return found


def _unlisted(
    conn: Connection,
    source_id: str,
    column: Any,
    values: Iterable[str],
    listed: set[str],
    taken: set[int],
) -> Iterator[RowMapping]:
    """The source's stored rows whose `column` is one of `values`, but for those the
    document lists (by identity) and those another entry took already: the candidates of
    an entry that came back under another identity."""
    for part in chunks(sorted(values)):
        found = conn.execute(_rows_of(column.name), {"source_id": source_id, "values": part})
        for row in found.mappings():
            if row["identity"] not in listed and row["id"] not in taken:
                yield row


def _with_the_same_words(
    conn: Connection,
    source_id: str,
    missing: Sequence[Item],
    found: Mapping[str, RowMapping],
    listed: set[str],
    taken: set[int],
) -> dict[str, RowMapping]:
    """Rows of entries that came back, word for word, under an identity of another kind or
    address: a link whose canonical form a release reads otherwise (a session id dropped, a
    "#!" route kept), two entries of one title and day that are now told apart by their
    texts. A stored row is the entry's when the document no longer lists the row, the two
    have the same title and text (and the same date, where both have one), and neither has
    a twin: one row, one entry."""
    wanted: dict[str, list[Item]] = {}
    for item in missing:
        # A title alone says little: only an entry known by its title and date may be
        # matched without text (below).
        if item.identity in found or not (item.text or item.identity.startswith("h:")):
            continue
        if item.identity.startswith("g:urn:ep-procedure:"):
            continue
        wanted.setdefault(item.content_hash, []).append(item)
    renamed: dict[str, RowMapping] = {}
    for row, item in _one_row_one_entry(
        _unlisted(conn, source_id, items.c.content_hash, wanted.keys(), listed, taken),
        "content_hash",
        wanted,
    ):
        dated = not row["published_is_fallback"] and not item.published_is_fallback
        if not item.text:
            # A title-only entry without GUID or link ("Termine der Woche"): the same
            # title next week is another entry. Its date read otherwise (a zone applied, a
            # lost time of day found) is the same one.
            if dated and _by_hash(row, item) and _read_otherwise(row, item):
                renamed[item.identity] = row
            continue
        # An entry with neither GUID nor link of its own is known by its title and date
        # ("h:"): a corrected date gives it a new identity, and it is the same entry.
        if not dated or from_db(row["published"]) == item.published or _by_hash(row, item):
            renamed[item.identity] = row
    return renamed


# The widest a zone moves a time of day (UTC-12 to UTC+14 read as UTC).
_ZONE_SPAN = timedelta(hours=14)


def _read_otherwise(row: RowMapping, item: Item) -> bool:
    """Is the entry's date the stored one read otherwise, not another day's entry: a zone
    applied (whole quarter hours, within a zone's reach), or a time of day found where the
    stored date had none (midnight) on the same day."""
    before, after = from_db(row["published"]), item.published
    if before.time() == time(0) and before.date() == after.astimezone(UTC).date():
        return True  # the day alone was read before
    moved = abs(after - before)
    return moved <= _ZONE_SPAN and moved % timedelta(minutes=15) == timedelta(0)


def _one_row_one_entry(
    rows: Iterable[RowMapping],
    key: str | Callable[[RowMapping], K],
    wanted: Mapping[K, list[Item]],
) -> Iterator[tuple[RowMapping, Item]]:
    """Each row paired with the entry wanted under its key (a column's value, or what `key`
    makes of the row), where that key is one row's and one entry's alone: with a twin on
    either side, which is which cannot be told. Rows of a key not wanted are passed over."""
    key_of = (lambda row: row[key]) if isinstance(key, str) else key
    found: dict[K, list[RowMapping]] = {}
    for row in rows:
        at = key_of(row)
        if at in wanted:
            found.setdefault(at, []).append(row)
    for at, stored in found.items():
        entries = wanted[at]
        if len(stored) == 1 and len(entries) == 1:
            yield stored[0], entries[0]


def _by_hash(row: RowMapping, item: Item) -> bool:
    return bool(row["identity"].startswith("h:") and item.identity.startswith("h:"))


def _edited_without_a_date(
    conn: Connection,
    source_id: str,
    missing: Sequence[Item],
    found: Mapping[str, RowMapping],
    listed: set[str],
    taken: set[int],
) -> dict[str, RowMapping]:
    """Rows of dateless entries with neither GUID nor link of their own whose text was
    edited: such an entry is known by its title and text ("h:"), so the edit gave it a new
    identity, and a second item. Same title, both without a date, one row and one entry."""
    wanted: dict[str, list[Item]] = {}
    for item in missing:
        if item.identity in found or not item.identity.startswith("h:"):
            continue
        if item.published_is_fallback:
            wanted.setdefault(item.title, []).append(item)
    rows = (
        row
        for row in _unlisted(conn, source_id, items.c.title, wanted.keys(), listed, taken)
        if row["identity"].startswith("h:") and row["published_is_fallback"]
    )
    return {item.identity: row for row, item in _one_row_one_entry(rows, "title", wanted)}


def _edited_among_namesakes(
    conn: Connection,
    source_id: str,
    missing: Sequence[Item],
    found: Mapping[str, RowMapping],
    listed: set[str],
    taken: set[int],
) -> dict[str, RowMapping]:
    """Rows of edited entries with neither GUID nor link of their own among others of
    their title and date: each of those is known by its title, date and text ("h:",
    normalise.py), so an edit gave it a new identity, and a second item. As for a dateless
    entry (`_edited_without_a_date`): the row is stored by title ("h:") with the entry's
    title and date, it is the one such row the document no longer lists and no other entry
    took, and the entry is the one such entry left; of two edited at once, which was which
    cannot be told. (An entry alone on its title and date is known by them: its edit is
    found by identity.)"""
    wanted: dict[tuple[str, datetime], list[Item]] = {}
    for item in missing:
        if item.identity in found or not item.identity.startswith("h:"):
            continue
        if not item.published_is_fallback:
            wanted.setdefault((item.title, item.published), []).append(item)
    if not wanted:
        return {}
    titles = {title for title, _ in wanted}
    rows = (
        row
        for row in _unlisted(conn, source_id, items.c.title, titles, listed, taken)
        if row["identity"].startswith("h:") and not row["published_is_fallback"]
    )

    def day(row: RowMapping) -> tuple[str, datetime]:
        return row["title"], from_db(row["published"])

    return {item.identity: row for row, item in _one_row_one_entry(rows, day, wanted)}


# Words a text needs before it tells an entry apart: "Read more" or "Live streaming" under
# two agenda entries of one day is no evidence that one is the other retitled.
_RETITLED_MIN_WORDS = 4


def _retitled(
    conn: Connection,
    source_id: str,
    missing: Sequence[Item],
    found: Mapping[str, RowMapping],
    listed: set[str],
    taken: set[int],
) -> dict[str, RowMapping]:
    """Rows of entries without a link of their own (a listing's agenda entries all linking
    to one calendar page; a feed's entries with no link at all) whose title was corrected:
    such an entry is known by its title and date, or by its title and text without a date
    ("h:"), so the correction gave it a new identity, and a second item. The row is the
    entry's when the document no longer lists it, and the two have the same link (as
    shown: a linkless entry's canonical URL holds its title), the same date or none, and
    the same text, of a few words at least; one row, one entry."""
    Key = tuple[str, datetime | None, str]

    def key(url: str, published: datetime | None, text: str) -> Key:
        return same_page_key(url), published, normalised_for_hash("", text)

    wanted: dict[Key, list[Item]] = {}
    for item in missing:
        if item.identity in found or not item.identity.startswith("h:"):
            continue
        if len(item.text.split()) < _RETITLED_MIN_WORDS:
            continue
        dated = None if item.published_is_fallback else item.published
        wanted.setdefault(key(item.url, dated, item.text), []).append(item)
    if not wanted:
        return {}
    urls = {item.url for entries in wanted.values() for item in entries}
    rows = [
        row
        for row in _unlisted(conn, source_id, items.c.url, urls, listed, taken)
        if row["identity"].startswith("h:")
    ]
    texts: dict[int, str] = {}
    for part in chunks([row["id"] for row in rows]):
        read = conn.execute(select(items.c.id, items.c.text).where(items.c.id.in_(part)))
        texts.update((int(item_id), text) for item_id, text in read)

    def key_of_row(row: RowMapping) -> Key:
        dated = None if row["published_is_fallback"] else from_db(row["published"])
        return key(row["url"], dated, texts.get(row["id"], ""))

    return {item.identity: row for row, item in _one_row_one_entry(rows, key_of_row, wanted)}


def _under_a_guid_now_shared(
    conn: Connection,
    source_id: str,
    missing: Sequence[Item],
    found: Mapping[str, RowMapping],
    listed: set[str],
    taken: set[int],
) -> dict[str, RowMapping]:
    """Rows stored under a GUID the document now gives to several entries (a feed whose
    every entry has the home page as GUID): those entries fall back to another identity, and
    the one stored when the GUID was still its own alone was stored a second time."""
    by_guid: dict[str, list[Item]] = {}
    for item in missing:
        if item.guid and not item.identity.startswith("g:") and item.identity not in found:
            by_guid.setdefault(f"g:{indexable(item.guid)}", []).append(item)
    rows: dict[str, list[RowMapping]] = {}
    for row in _unlisted(conn, source_id, items.c.identity, by_guid.keys(), listed, taken):
        rows.setdefault(row["identity"], []).append(row)
    renamed: dict[str, RowMapping] = {}
    for identity, stored in rows.items():
        same = [item for item in by_guid[identity] if _same_entry(stored[0], item)]
        if len(stored) == 1 and len(same) == 1:
            renamed[same[0].identity] = stored[0]
    return renamed


def _rename(conn: Connection, renamed: Sequence[tuple[int, Item]], *, now: datetime) -> None:
    """The rows found under their old GUID or link take the new ones, so the next refresh
    finds them by identity (and skips their unchanged entries before parsing)."""
    _set_columns(
        conn,
        [
            (
                item_id,
                {
                    "identity": item.identity,
                    "guid": item.guid,
                    "url": item.url,
                    "canonical_url": item.canonical_url,
                },
            )
            for item_id, item in renamed
        ],
        now=now,
    )


def _set_columns(
    conn: Connection, rows: Sequence[tuple[int, Mapping[str, Any]]], *, now: datetime
) -> None:
    """Some columns of some item rows, in place (no revision): one statement for them all,
    which notes the time in `modified_at` (`export --since`). Every mapping names the same
    columns."""
    if not rows:
        return
    names = list(rows[0][1])
    conn.execute(
        update(items)
        .where(items.c.id == bindparam("b_id"))
        .values({**{name: bindparam(f"b_{name}") for name in names}, "modified_at": to_db(now)}),
        [{"b_id": item_id, **{f"b_{k}": v for k, v in values.items()}} for item_id, values in rows],
    )


def _pruned(
    conn: Connection, source_id: str, unique: Sequence[Item], missing: Sequence[Item]
) -> set[str]:
    """Identities of the items retention or an operator deleted (tombstoned), also when
    tombstoned under their alias (only an alias no other item of the document shares)."""
    identities = {item.identity for item in unique}
    names = [alias(item) for item in missing]
    counts: dict[str, int] = {}
    for name in names:
        if name is not None:
            counts[name] = counts.get(name, 0) + 1
    aliases = {
        name: item.identity
        for name, item in zip(names, missing, strict=True)
        if name is not None and counts[name] == 1 and name not in identities
    }
    pruned = _tombstoned(conn, source_id, [*identities, *aliases])
    return {aliases.get(name, name) for name in pruned}


def save(
    conn: Connection,
    source_id: str,
    batch: Sequence[Item],
    *,
    now: datetime,
    reread: bool = False,
) -> Saved:
    """Insert new items, update changed ones (keeping the old version), skip pruned ones.

    `reread`: the source's configuration changed since its items were saved (its tags,
    language, country...): the unchanged items take the tags and language the document's
    new reading gives them, without a revision (the words are the same)."""
    unique, warnings = _unique(batch)
    identities = [item.identity for item in unique]
    stored: dict[str, RowMapping] = {}
    pruned: set[str] = set()
    renamed: dict[str, RowMapping] = {}
    if _holds_anything(conn, source_id):
        # Every lookup below is of the source's own rows and tombstones. A source read for
        # the first time (each source of a first refresh) has none: its dozen lookup
        # queries a source were a fifth of a cold refresh's store writer.
        stored = _existing(conn, source_id, identities)
        missing = [item for item in unique if item.identity not in stored]
        stored.update(_stored_as_alias(conn, source_id, missing, set(identities)))
        missing = [item for item in missing if item.identity not in stored]
        stored.update(_corrected_events(conn, source_id, missing, set(identities)))
        pruned = _pruned(conn, source_id, unique, missing)
        renamed = _renamed(
            conn,
            source_id,
            unique,
            [
                item
                for item in missing
                if item.identity not in stored and item.identity not in pruned
            ],
            listed=set(identities),
            taken={row["id"] for row in stored.values()},
        )
        stored.update(renamed)
    unique = _keeping_what_the_reading_lost(conn, unique, stored)
    fresh: list[Item] = []
    changed: list[tuple[int, Item, RowMapping]] = []
    redated: list[tuple[int, Item]] = []
    moved: list[tuple[int, Item]] = []
    kept: list[tuple[int, Item]] = []
    for item in unique:
        if item.identity in pruned:
            continue
        old = stored.get(item.identity)
        if old is None:
            fresh.append(item)
        elif old["content_hash"] != item.content_hash:
            changed.append((old["id"], item, old))
        else:
            kept.append((old["id"], item))
            if _redated(old, item):
                redated.append((old["id"], item))
            if _about_changed(old, item):
                # A summary the reading lost (a selector that finds nothing) is kept.
                kept_summary = item.summary or old["summary"]
                moved.append((old["id"], replace(item, summary=kept_summary)))
    unchanged = len(kept)
    _rename(
        conn,
        [(row["id"], item) for item in unique if (row := renamed.get(item.identity))],
        now=now,
    )
    changed, refreshed = _footer_only(conn, changed)
    new_rows = _insert_new(conn, source_id, fresh, now=now)
    new_ids = [row.item_id for row in new_rows]
    _update_changed(conn, changed, now=now)
    _rewrite_in_place(conn, refreshed, now=now)
    _set_dates(conn, redated, now=now)
    if redated:
        # The primary is the earliest published: a corrected date may pass it to another.
        from aggregator.store.primaries import choose_primaries_again, clusters_of

        choose_primaries_again(conn, clusters_of(conn, [i for i, _ in redated]), now=now)
    _set_about(conn, moved, now=now)
    unchanged += len(refreshed)
    retagged = [*kept, *refreshed] if reread else []
    _replace_tags(
        conn,
        [
            *zip(new_ids, fresh, strict=True),
            *((item_id, item) for item_id, item, _ in changed),
            *retagged,
        ],
        replace=[*(item_id for item_id, _, _ in changed), *(item_id for item_id, _ in retagged)],
    )
    _set_columns(
        conn, [(item_id, {"language": item.language}) for item_id, item in retagged], now=now
    )
    return Saved(
        new=len(fresh),
        updated=len(changed),
        unchanged=unchanged,
        warnings=tuple(warnings),
        changed_ids=(*new_ids, *(item_id for item_id, _, _ in changed)),
        changed_identities=(
            *(item.identity for item in fresh),
            *(item.identity for _, item, _ in changed),
        ),
        new_rows=tuple(new_rows),
    )


def _keeping_what_the_reading_lost(
    conn: Connection, batch: list[Item], stored: Mapping[str, RowMapping]
) -> list[Item]:
    """The batch, where an item the document now gives without its date, title or text (a
    redesigned listing page whose selectors find nothing; a feed entry that dropped its
    date) keeps the stored one: a reading that lost a field is no update of it, and the
    item's stored title, date and text were replaced by its link and first sighting."""
    lost: dict[int, Item] = {}
    kept: list[Item] = []
    for item in batch:
        old = stored.get(item.identity)
        if old is None or old["content_hash"] == item.content_hash:
            kept.append(item)
            continue
        if item.published_is_fallback and not old["published_is_fallback"]:
            item = replace(item, published=from_db(old["published"]), published_is_fallback=False)
        elif _moves_past_first_sighting(old, item):
            # As for an unchanged item (`_redated`): a feed that dates every entry at each
            # build would move an edited entry to the top.
            item = replace(item, published=from_db(old["published"]))
        elif _dated_by_its_last_edit(item) and not old["published_is_fallback"]:
            # An Atom entry with <updated> alone (RSS 1.0's dc:date likewise) is dated by its
            # last edit: the edit moves `updated`, not the publication the item was dated by.
            item = replace(item, published=min(item.published, from_db(old["published"])))
        if item.title_is_fallback or not item.text:
            lost[old["id"]] = item
        kept.append(item)
    if not lost:
        return kept
    before: dict[int, Any] = {}
    for part in chunks(list(lost)):
        rows = conn.execute(
            select(items.c.id, items.c.title, items.c.summary, items.c.text).where(
                items.c.id.in_(part)
            )
        )
        before.update((row.id, row) for row in rows)
    # Imported here: text cleaning (lxml) is not needed by a refresh that stores nothing new,
    # and its import was a hundredth of a warm refresh of 1,000 sources.
    from aggregator.text import content_fingerprint, fallback_title

    mended: dict[str, Item] = {}
    for item_id, item in lost.items():
        row = before.get(item_id)
        if row is None:
            continue
        # The stored title unless it was a stand-in too (the first words of the stored text,
        # or the link): then the new one, made from the new text, is as good.
        stand_in = row.title in (fallback_title(row.text, item.url), item.url)
        title = row.title if item.title_is_fallback and not stand_in else item.title
        text, summary = (row.text, row.summary) if not item.text else (item.text, item.summary)
        mended[item.identity] = replace(
            item,
            title=title,
            text=text,
            summary=summary,
            content_hash=content_fingerprint(title, text),
            title_is_fallback=False,
        )
    return [mended.get(item.identity, item) for item in kept]


def _moves_past_first_sighting(old: RowMapping, item: Item) -> bool:
    if old["published_is_fallback"] or item.published_is_fallback:
        return False
    first_seen = from_db(old["first_seen"])
    return from_db(old["published"]) <= first_seen < item.published


def _about_changed(old: RowMapping, item: Item) -> bool:
    """Whether an unchanged item's title (as written), link, author, categories or summary
    are not the stored ones."""
    about = _about(item)
    return any(
        old[name] != about[name] for name in _ABOUT_COLUMNS if name != "summary" or item.summary
    )


def _about(item: Item) -> dict[str, Any]:
    """The `_ABOUT_COLUMNS` of the item's row, as `_content` writes them."""
    return {
        "title": item.title,
        "url": item.url,
        "canonical_url": item.canonical_url,
        "author": item.author,
        "categories": json.dumps(list(item.categories), ensure_ascii=False),
        "summary": item.summary,
    }


def _set_about(conn: Connection, moved: Sequence[tuple[int, Item]], *, now: datetime) -> None:
    """Title as written, link, author, categories and summary only, in place: no revision
    (the words are the same), no "updated" in a digest. The item's tags stay until its words
    change or `aggregator retag` applies the rules to what is stored."""
    _set_columns(conn, [(item_id, _about(item)) for item_id, item in moved], now=now)


def _dated_by_its_last_edit(item: Item) -> bool:
    return not item.published_is_fallback and item.updated == item.published


def _redated(old: RowMapping, item: Item) -> bool:
    """An unchanged item whose document now gives a date (it had none), or another one (the
    publisher corrected it): the date is the document's to say. A date that disappears
    leaves the stored one, and so does one after the item was first seen: a feed that
    dates every entry "now" at each build would otherwise move its old items to the top."""
    if item.published_is_fallback:
        return False
    if old["published_is_fallback"]:
        return True
    return from_db(old["published"]) != item.published and item.published <= from_db(
        old["first_seen"]
    )


def _set_dates(conn: Connection, redated: Sequence[tuple[int, Item]], *, now: datetime) -> None:
    """Dates only: no revision (the words are the same) and no "updated" in a digest."""
    _set_columns(
        conn,
        [
            (item_id, {"published": to_db(item.published), "published_is_fallback": False})
            for item_id, item in redated
        ],
        now=now,
    )


def _footer_only(
    conn: Connection, changed: list[tuple[int, Item, RowMapping]]
) -> tuple[list[tuple[int, Item, RowMapping]], list[tuple[int, Item]]]:
    """Split the changed items: those whose stored text differs from the new by a footer
    alone (stored before footers were removed, boilerplate.py) are rewritten in place, not
    updated: no revision, no "updated" in the next digest for every entry of the source."""
    if not changed:
        return changed, []
    stored: dict[int, tuple[str, str]] = {}
    for part in chunks([item_id for item_id, _, _ in changed]):
        rows = conn.execute(
            select(items.c.id, items.c.title, items.c.text).where(items.c.id.in_(part))
        )
        stored.update((row.id, (row.title, row.text)) for row in rows)
    from aggregator.boilerplate import only_a_footer_removed  # as in `_keeping_what_..._lost`

    updated: list[tuple[int, Item, RowMapping]] = []
    refreshed: list[tuple[int, Item]] = []
    for item_id, item, old in changed:
        title, text = stored.get(item_id, ("", ""))
        if title == item.title and only_a_footer_removed(text, item.text):
            refreshed.append((item_id, item))
        else:
            updated.append((item_id, item, old))
    return updated, refreshed


def _rewrite_in_place(
    conn: Connection, refreshed: Sequence[tuple[int, Item]], *, now: datetime
) -> None:
    _set_columns(
        conn,
        [
            (
                item_id,
                {"summary": item.summary, "text": item.text, "content_hash": item.content_hash},
            )
            for item_id, item in refreshed
        ],
        now=now,
    )


def _insert_new(
    conn: Connection, source_id: str, fresh: Sequence[Item], *, now: datetime
) -> list[NewRow]:
    """Each new item gets its own cluster of one; dedupe merges clusters later.

    clusters and items reference each other: clusters first (no primary yet), then items
    pointing at them, then each cluster's primary found through the indexed items.cluster_id.
    """
    if not fresh:
        return []
    stamp = to_db(now)
    # RETURNING without sort_by_parameter_order: SQLAlchemy can then send many rows per
    # statement (with it, SQLite inserts one row per statement, ~0.2 ms each). The clusters
    # are interchangeable empty singletons, so any order of their ids will do; the items'
    # ids are matched back through their identities.
    cluster_ids = _new_singletons(conn, len(fresh), stamp)
    rows = [
        {
            **_content(item),
            # Without a date of its own, an item is dated when it was first seen: this very
            # moment, not the slightly earlier one its document was read at.
            **({"published": stamp} if item.published_is_fallback else {}),
            "source_id": source_id,
            "identity": item.identity,
            "first_seen": stamp,
            "last_changed": stamp,
            "revision": 1,
            "cluster_id": cluster_id,
        }
        for item, cluster_id in zip(fresh, cluster_ids, strict=True)
    ]
    if conn.dialect.name == "sqlite":
        by_identity = _insert_sqlite(conn, rows)
    else:
        by_identity = {
            identity: int(item_id)
            for item_id, identity in conn.execute(
                insert(items).returning(items.c.id, items.c.identity), rows
            )
        }
    item_ids = [by_identity[item.identity] for item in fresh]
    inserted = [
        NewRow(
            item_id=item_id,
            source_id=source_id,
            cluster_id=row["cluster_id"],
            title=row["title"],
            text=row["text"],
            canonical_url=row["canonical_url"],
            published=from_db(row["published"]),
            first_seen=from_db(stamp),
        )
        for item_id, row in zip(item_ids, rows, strict=True)
    ]
    # Each cluster's primary is its one item, known here: set by primary key (a subquery
    # per cluster through items.cluster_id cost a tenth of a cold refresh's inserting).
    primaries = list(zip(item_ids, cluster_ids, strict=True))
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("UPDATE clusters SET primary_item_id = ? WHERE id = ?", primaries)
    else:
        conn.execute(
            update(clusters)
            .where(clusters.c.id == bindparam("c_id"))
            .values(primary_item_id=bindparam("c_primary")),
            [{"c_id": cluster, "c_primary": item} for item, cluster in primaries],
        )
    return inserted


def _new_singletons(conn: Connection, count: int, stamp: datetime) -> list[int]:
    """The ids of `count` new clusters of one, sorted. On SQLite straight to the driver, as
    the items are (`_insert_sqlite`): SQLAlchemy's executemany with RETURNING took longer
    than inserting the rows."""
    if conn.dialect.name != "sqlite":
        return sorted(
            conn.execute(
                insert(clusters).returning(clusters.c.id),
                [{"size": 1, "created_at": stamp, "updated_at": stamp} for _ in range(count)],
            ).scalars()
        )
    moment = _sqlite_value(stamp)
    found: list[int] = []
    for start in range(0, count, _SQLITE_CLUSTERS_AT_ONCE):
        rows = min(_SQLITE_CLUSTERS_AT_ONCE, count - start)
        statement = (
            "INSERT INTO clusters (size, created_at, updated_at)"
            f" VALUES {', '.join(['(1, ?, ?)'] * rows)} RETURNING id"
        )
        found.extend(int(i) for (i,) in conn.exec_driver_sql(statement, (moment, moment) * rows))
    return sorted(found)


_SQLITE_CLUSTERS_AT_ONCE = 500
_SQLITE_TAGS_AT_ONCE = 500
_SQLITE_ROWS_AT_ONCE = 100  # 19 parameters a row; SQLite 3.35+ (RETURNING) allows 32,766
# The items columns `_sqlite_value` converts: the others bind as they are.
_DATE_COLUMNS = frozenset(c.name for c in items.columns if isinstance(c.type, DateTime))


def _sqlite_value(value: object) -> object:
    """A column's value as SQLAlchemy's SQLite types store it: a (UTC) datetime as its
    DATETIME text, which reads back the same. (sqlite3 binds a bool as 0 or 1 itself.)"""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return value


def _insert_sqlite(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """New items' rows straight to the driver, many rows a statement; identity -> id.

    Why: processing each row's parameters (19 columns, three dates) took SQLAlchemy longer
    than SQLite took to insert the row, on the store writer, the slowest stage of a cold
    refresh. The rows are those SQLAlchemy's insert takes on PostgreSQL; their dates are UTC
    already (`to_db`). A row's values are taken in one call and only its date columns are
    converted: a call per value was a twelfth of the writer's time.
    """
    columns = list(rows[0])
    values_of = operator.itemgetter(*columns)
    dates = [n for n, column in enumerate(columns) if column in _DATE_COLUMNS]
    row_marks = "(" + ", ".join("?" * len(columns)) + ")"
    found: dict[str, int] = {}
    # Each date converted once: two of a row's three dates are the moment of the save.
    converted: dict[object, object] = {}
    for part in chunks(rows, _SQLITE_ROWS_AT_ONCE):
        statement = (
            f"INSERT INTO items ({', '.join(columns)})"
            f" VALUES {', '.join([row_marks] * len(part))} RETURNING id, identity"
        )
        flat: list[object] = []
        for row in part:
            values = list(values_of(row))
            for n in dates:
                value = values[n]
                stored = converted.get(value)
                if stored is None:
                    stored = converted[value] = _sqlite_value(value)
                values[n] = stored
            flat.extend(values)
        found.update(
            (identity, int(item_id))
            for item_id, identity in conn.exec_driver_sql(statement, tuple(flat))
        )
    return found


def _update_changed(
    conn: Connection, changed: Sequence[tuple[int, Item, RowMapping]], *, now: datetime
) -> None:
    if not changed:
        return
    ids = [item_id for item_id, _, _ in changed]
    # The version being replaced goes to item_revisions first, stamped with the time it
    # became current (its last_changed), so revisions + the item row tell the whole history.
    for part in chunks(ids):
        conn.execute(
            insert(item_revisions).from_select(
                ["item_id", "revision", "title", "summary", "text", "content_hash", "recorded_at"],
                select(
                    items.c.id,
                    items.c.revision,
                    items.c.title,
                    items.c.summary,
                    items.c.text,
                    items.c.content_hash,
                    items.c.last_changed,
                ).where(items.c.id.in_(part)),
            )
        )
    stmt = (
        update(items)
        .where(items.c.id == bindparam("b_id"))
        .values(revision=items.c.revision + 1, last_changed=to_db(now))
    )
    params = []
    for item_id, item, old in changed:
        values = _content(item)
        if item.published_is_fallback:
            # A stand-in for "first seen": the stored first_seen is the true one.
            values["published"] = old["first_seen"]
        params.append({"b_id": item_id, **values})
    conn.execute(stmt, params)


def _replace_tags(
    conn: Connection, tagged: Iterable[tuple[int, Item]], *, replace: Sequence[int]
) -> None:
    for part in chunks(replace):
        conn.execute(delete(item_tags).where(item_tags.c.item_id.in_(part)))
    rows = [(item_id, tag) for item_id, item in tagged for tag in dict.fromkeys(item.tags)]
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        # Straight to the driver: eight rows an item (most are automatic tags), and building
        # each row's parameters took SQLAlchemy about as long as SQLite took to insert it.
        # Many rows a statement: measured alone, 100,000 rows took 0.12 s instead of 0.17.
        for tagged_part in chunks(rows, _SQLITE_TAGS_AT_ONCE):
            marks = ", ".join(["(?, ?)"] * len(tagged_part))
            flat = tuple(value for row in tagged_part for value in row)
            conn.exec_driver_sql(f"INSERT INTO item_tags (item_id, tag) VALUES {marks}", flat)
    else:
        conn.execute(insert(item_tags), [{"item_id": i, "tag": tag} for i, tag in rows])


def tags_of(conn: Connection, item_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    found: dict[int, list[str]] = {}
    for part in chunks(item_ids):
        rows = conn.execute(
            select(item_tags.c.item_id, item_tags.c.tag)
            .where(item_tags.c.item_id.in_(part))
            .order_by(item_tags.c.item_id, item_tags.c.tag)
        )
        for item_id, tag in rows:
            found.setdefault(item_id, []).append(tag)
    return {item_id: tuple(tags) for item_id, tags in found.items()}


def to_stored(m: RowMapping, tags: tuple[str, ...]) -> StoredItem:
    """A stored item from a row of `items` (all its columns) and its tags."""
    return StoredItem(
        id=m["id"],
        source_id=m["source_id"],
        identity=m["identity"],
        guid=m["guid"],
        url=m["url"],
        canonical_url=m["canonical_url"],
        title=m["title"],
        summary=m["summary"],
        text=m["text"],
        published=from_db(m["published"]),
        published_is_fallback=bool(m["published_is_fallback"]),
        updated=from_db_or_none(m["updated"]),
        language=m["language"],
        author=m["author"],
        content_hash=m["content_hash"],
        first_seen=from_db(m["first_seen"]),
        last_changed=from_db(m["last_changed"]),
        revision=m["revision"],
        cluster_id=m["cluster_id"],
        tags=tags,
        categories=tuple(json.loads(m["categories"] or "[]")),
    )


def page(
    conn: Connection,
    *,
    since: datetime | None,
    until: datetime | None,
    source_ids: Sequence[str] | None,
    after: tuple[datetime, int] | None,
    limit: int,
    changed_since: datetime | None = None,
) -> list[StoredItem]:
    """One page of items by (first_seen, id), starting after the key `after` (keyset paging)."""
    stmt = select(*ITEM_COLUMNS).order_by(items.c.first_seen, items.c.id).limit(limit)
    if since is not None:
        stmt = stmt.where(items.c.first_seen >= to_db(since))
    if changed_since is not None:
        # New, a new revision, or changed in place (a date, a link, tags, its cluster): an
        # incremental export that asked for first_seen alone never saw an item's later
        # versions. Paging stays by first_seen.
        stamp = to_db(changed_since)
        stmt = stmt.where(
            or_(
                items.c.first_seen >= stamp,
                items.c.last_changed >= stamp,
                items.c.modified_at >= stamp,
            )
        )
    if until is not None:
        stmt = stmt.where(items.c.first_seen < to_db(until))
    if source_ids is not None:
        stmt = stmt.where(items.c.source_id.in_(list(source_ids)))
    if after is not None:
        seen_at, last_id = to_db(after[0]), after[1]
        stmt = stmt.where(
            items.c.first_seen >= seen_at,
            or_(
                items.c.first_seen > seen_at,
                and_(items.c.first_seen == seen_at, items.c.id > last_id),
            ),
        )
    rows = conn.execute(stmt).mappings().all()
    tags = tags_of(conn, [row["id"] for row in rows])
    return [to_stored(row, tags.get(row["id"], ())) for row in rows]


def get(conn: Connection, item_id: int) -> StoredItem | None:
    row = conn.execute(select(*ITEM_COLUMNS).where(items.c.id == item_id)).mappings().first()
    if row is None:
        return None
    return to_stored(row, tags_of(conn, [item_id]).get(item_id, ()))


def revisions(conn: Connection, item_id: int) -> list[Revision]:
    rows = conn.execute(
        select(item_revisions)
        .where(item_revisions.c.item_id == item_id)
        .order_by(item_revisions.c.revision)
    )
    return [
        Revision(
            item_id=row.item_id,
            revision=row.revision,
            title=row.title,
            summary=row.summary,
            text=row.text,
            content_hash=row.content_hash,
            recorded_at=from_db(row.recorded_at),
        )
        for row in rows
    ]


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(items)).scalar_one())


def retag(conn: Connection, tags_by_item: Mapping[int, Sequence[str]], *, now: datetime) -> None:
    """Replace the tags of the given items (`aggregator retag`)."""
    ids = list(tags_by_item)
    for part in chunks(ids):
        conn.execute(delete(item_tags).where(item_tags.c.item_id.in_(part)))
        conn.execute(update(items).where(items.c.id.in_(part)).values(modified_at=to_db(now)))
    rows = [{"item_id": i, "tag": tag} for i in ids for tag in dict.fromkeys(tags_by_item[i])]
    if rows:
        conn.execute(insert(item_tags), rows)
