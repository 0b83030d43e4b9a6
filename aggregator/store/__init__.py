"""Stage 6: the store. The `Store` protocol, and `open_store` for its one SQL implementation.

    store = open_store("sqlite:///var/aggregator.sqlite")        # or postgresql+psycopg://...
    store.sync_sources(sources, now=now)
    refreshed = store.save_refresh(source.id, items, now=now, ...)

Every datetime going in must be tz-aware; every datetime coming out is tz-aware UTC, on
SQLite as on PostgreSQL. Database failures raise `StoreError` (the URL's password masked).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from aggregator.errors import SourceError
from aggregator.models import (
    CacheValidators,
    Item,
    NotModifiedRecord,
    Refreshed,
    Revision,
    Rhythm,
    Source,
    SourceHealth,
    StoredItem,
)
from aggregator.store.sql import SqlStore, open_store

if TYPE_CHECKING:  # the dedupe stage is imported by the first write that needs it
    from aggregator.dedupe.records import Fingerprint

__all__ = ["SqlStore", "Store", "open_store"]


class Store(Protocol):
    """What the pipeline, the digest and the front ends need from the database."""

    def close(self) -> None:
        """Release the database connections."""

    def sync_sources(self, sources: Sequence[Source], *, now: datetime) -> None:
        """Make the stored sources match the config.

        Upserts name, kind, org, configured URL and enabled. A changed configured URL
        replaces the current URL and drops the cache validators (and is due at once); a new
        source is due at `now`. Sources no longer configured are disabled, their items kept.
        """

    def source_health(self, ids: Sequence[str] | None = None) -> list[SourceHealth]:
        """Fetch state and health of the given sources (all when None), by id, with item counts."""

    def fetch_state(self, source_id: str) -> SourceHealth | None:
        """One source's fetch state (current URL, validators, failures), its items not
        counted; None if unknown."""

    def fetch_states(self, ids: Sequence[str]) -> list[SourceHealth]:
        """`fetch_state` of each of the given sources that is known, by id."""

    def known_hashes(self, source_id: str) -> dict[str, str]:
        """identity -> content_hash of the source's stored items, to skip unchanged ones cheaply."""

    def save_refresh(
        self,
        source_id: str,
        items: Sequence[Item],
        *,
        now: datetime,
        seconds: float,
        validators: CacheValidators,
        url: str,
        permanent_url: str | None,
        next_fetch_at: datetime,
        seen: int,
        warnings: Sequence[str] = (),
        fingerprints: Mapping[str, Fingerprint] | None = None,
        document_digest: str | None = None,
        rhythm: Rhythm | None = None,
    ) -> Refreshed:
        """Store a fetched document's items and the source's success, in one transaction.

        New (source, identity): inserted with revision 1, first_seen = last_changed = now, in a
        new cluster of its own. Known with another content_hash: the old version is kept in
        item_revisions, the row updated to revision + 1 and last_changed = now. Same hash:
        counted as unchanged. Tags of new and changed items are replaced by `Item.tags`.
        Identities in tombstones (pruned) are skipped; an identity repeated in `items` is
        stored once, with a warning. The source row gets the validators, `permanent_url` (if
        any), status new/updated/unchanged, a cleared error state and `next_fetch_at`; a
        fetch_log row is appended. On any error nothing is written (StoreError).
        `fingerprints` (identity -> Fingerprint, computed where the items were parsed) spare
        the writer computing them; one that does not fit its item is ignored.
        `document_digest` (`aggregator.same_document`) is kept as the source's, replacing the
        last one (None forgets it). `rhythm`: what the document said of how often to ask it,
        kept as the source's (`SourceHealth.rhythm`); None keeps the stored one.
        """

    def record_not_modified(
        self,
        source_id: str,
        *,
        now: datetime,
        seconds: float,
        next_fetch_at: datetime,
        permanent_url: str | None = None,
        validators: CacheValidators | None = None,
    ) -> None:
        """A 304: status "not modified", counts as a success (clears the error state);
        `permanent_url`: the 304 came through 301/308 only, from there. `validators`: the
        ETag / Last-Modified the 304 carried replace the stored ones (a None field keeps
        the stored one), as RFC 9111 4.3.4 updates a cache's stored headers."""

    def record_not_modified_many(self, records: Sequence[NotModifiedRecord]) -> None:
        """Many 304s at once, as `record_not_modified` writes each, in a few statements
        whatever their number. All or none: an unknown source fails the whole call."""

    def record_failure(
        self,
        source_id: str,
        error: SourceError,
        *,
        now: datetime,
        seconds: float,
        next_fetch_at: datetime,
    ) -> None:
        """A failed fetch: status error / blocked / rate limited, failures + 1, failing_since
        kept (or set to `now` on the first failure), the error text and kind, a fetch_log row."""

    def make_rereads_due(self, readings: Mapping[str, str], *, now: datetime) -> None:
        """Make due at `now` the sources of `readings` (id -> the reading digest of the
        caller's config) whose stored items were read with another (`sources.reread_due`),
        unless a server's wait is on."""

    def apply_readings(self, readings: Mapping[str, str]) -> None:
        """Record the readings a refresh is about to read its sources with; a source read
        with another loses its stored validators first (`sources.apply_readings`)."""

    def waiting_sources(self, *, now: datetime) -> list[SourceHealth]:
        """Sources (enabled or not) that drew a Retry-After not yet come at `now`
        (retry_after > now, whatever their status since: see `sources.waiting`), their items
        not counted: a refresh asks their hosts nothing before then."""

    def postpone(self, source_id: str, *, until: datetime) -> None:
        """Move the source's next fetch to `until` when it is earlier, and write nothing
        else (a source not asked because its host is held)."""

    def catch_up_search(self, *, wait: float | None = None) -> int:
        """Index the items stored since the last search; how many. Call before searching;
        `wait`: seconds to wait for another writer at most (else the busy timeout)."""

    def due_source_ids(self, *, now: datetime, early: timedelta = timedelta(0)) -> list[str]:
        """Sources whose next_fetch_at is unset or <= now + early, and whose server asked
        to wait (Retry-After) no later than that (`sources.due_condition`); most overdue
        first. Whether a source is enabled is the caller's config's to say."""

    def iter_items(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        source_ids: Sequence[str] | None = None,
        changed_since: datetime | None = None,
    ) -> Iterator[StoredItem]:
        """Items first seen in [since, until), ordered by (first_seen, id), with their tags;
        with `changed_since`, only those first seen or last changed (a new revision) at or
        after it (an incremental export).

        Streams page by page: memory stays flat however large the archive. Half-open
        windows tile: consecutive digest windows never skip or repeat an item.
        """

    def get_item(self, item_id: int) -> StoredItem | None:
        """One item with its tags; None if there is no such item."""

    def revisions(self, item_id: int) -> list[Revision]:
        """Earlier versions of an item, oldest first. `recorded_at` is when that version
        became current (first seen, or the change that produced it)."""

    def item_count(self) -> int:
        """How many items are stored."""
