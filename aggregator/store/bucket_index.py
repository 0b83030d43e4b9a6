"""Dedupe's LSH buckets of stored items, looked up in memory.

Why in memory: in SQL the buckets were 34 rows per item, inserted at random places of a
primary key, and looked up with a join per source; on a cold refresh that was more than half
of the store writer's CPU. Here each item's (band, bucket) pairs are one packed column
(`items.buckets`), and the writer keeps them in sorted numpy arrays: 16 bytes per pair, a
binary search per lookup.

Keeping several writers (worker processes, a scheduler beside a manual refresh) in step:
whoever fingerprints an item numbers it from `dedupe_clock` (`items.dedupe_seq`), under the
lock that makes writers cluster one at a time (PostgreSQL: an advisory lock; SQLite: the
write lock every write transaction takes at BEGIN). Numbers are therefore given in the order
writers take turns and committed before the next writer's turn, so an index that has read
every row numbered up to N has seen every committed row up to N, and reading
`dedupe_seq > N` at the start of a turn brings it up to date (`BucketIndex.catch_up`).

A turn's own rows are not in the shared index until they are committed: they are in the
transaction's `Overlay`, which forgets what a rolled-back savepoint wrote (its numbers are no
longer its items'). A rolled-back transaction takes its overlay with it, and its numbers are
given again later, which the shared index has not read past. A committed write batch's
overlay goes into the shared index at once (`BucketIndex.take_in`), so that the next turn's
catch-up need not read those rows back.

Items deleted since they were indexed (retention, a removed source) are still found here;
the caller drops candidates whose row is gone when it reads their signatures.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, func, select, update

from aggregator.dedupe.pairs import PAIR_BYTES as _PAIR_BYTES
from aggregator.dedupe.pairs import Pair
from aggregator.store.schema import dedupe_clock, items
from aggregator.store.timestamps import from_db, to_db

RawRow = tuple[int, int]  # (item id, first seen in microseconds since the epoch)
_I64 = np.dtype("<i8")
_EMPTY = np.empty(0, dtype=np.int64)


def _keys(array: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The index key of each (band, bucket) row of an (n, 2) array: the bucket alone, since
    it is a hash of the band with its data (dedupe/signatures.py `_bucket`)."""
    return array[:, 1]


def pair_key(pair: Pair) -> int:
    return pair[1]


@dataclass(slots=True)
class _Rows:
    """Index rows sorted by key: key, item id, and in an overlay the clock number its call
    started from. (16 bytes a row in the shared index: a million rows for a thousand feeds.)"""

    keys: npt.NDArray[np.int64] = field(default_factory=lambda: _EMPTY)
    ids: npt.NDArray[np.int64] = field(default_factory=lambda: _EMPTY)
    calls: npt.NDArray[np.int64] | None = None

    @classmethod
    def of(
        cls,
        keys: npt.NDArray[np.int64],
        ids: npt.NDArray[np.int64],
        calls: npt.NDArray[np.int64] | None = None,
    ) -> _Rows:
        order = np.argsort(keys, kind="stable")
        return cls(keys[order], ids[order], None if calls is None else calls[order])

    def __len__(self) -> int:
        return len(self.keys)

    def keep(self, mask: npt.NDArray[np.bool_]) -> _Rows:
        if mask.all():
            return self
        calls = None if self.calls is None else self.calls[mask]
        return _Rows(self.keys[mask], self.ids[mask], calls)

    def absorb(self, other: _Rows) -> None:
        """Both, sorted, in this run: `other` inserted where it belongs (linear, not a sort
        of both). This run's old keys are freed before its new ids are made, so that a merge
        of the shared index (a million rows) holds 8 MiB less at its peak. Only for a run
        nothing else refers to: the index's and the overlay's own."""
        if not len(self):
            self.keys, self.ids, self.calls = other.keys, other.ids, other.calls
            return
        at = np.searchsorted(self.keys, other.keys, side="right")
        if self.calls is not None and other.calls is not None:
            self.calls = np.insert(self.calls, at, other.calls)
        else:
            self.calls = None
        self.keys = np.insert(self.keys, at, other.keys)
        self.ids = np.insert(self.ids, at, other.ids)

    def find(
        self, wanted: npt.NDArray[np.int64], seen_of: dict[int, int], found: dict[int, list[RawRow]]
    ) -> None:
        """Add the (item id, first seen in microseconds) of each wanted key's rows to
        `found`. (Microseconds: a common bucket has many rows, most of them dropped by the
        caller, so none is made a datetime here.)"""
        if not len(self) or not len(wanted):
            return
        start = np.searchsorted(self.keys, wanted, side="left")
        inside = start < len(self.keys)
        hits = np.flatnonzero(inside)
        hits = hits[self.keys[start[hits]] == wanted[hits]]  # most keys are nowhere
        if not len(hits):
            return
        end = np.searchsorted(self.keys, wanted[hits], side="right")
        for key, first, last in zip(
            wanted[hits].tolist(), start[hits].tolist(), end.tolist(), strict=True
        ):
            rows = found.setdefault(key, [])
            rows.extend((i, seen_of[i]) for i in self.ids[first:last].tolist())


# Calls' chunks an overlay keeps apart before merging them: each lookup searches each chunk.
OVERLAY_CHUNKS = 4
# The shared index's sorted runs, at most (its first included), and the share of the first's
# rows the others may hold, before they are merged into it.
MAX_RUNS = 8
SMALL_RUNS_SHARE = 0.1


@dataclass(slots=True)
class Overlay:
    """The pairs written by this transaction, not yet in the shared index."""

    transaction: Any
    _chunks: list[_Rows] = field(default_factory=list)
    _seen_of: dict[int, int] = field(default_factory=dict)  # item id -> first seen (µs)
    # Each call's first clock number, and the item it numbered so.
    _taken: dict[int, int] = field(default_factory=dict)
    _counts: dict[int, int] = field(default_factory=dict)  # each call's first -> how many

    @property
    def first_number(self) -> int | None:
        """The transaction's first clock number, if it took any: its own rows start there."""
        return min(self._taken, default=None)

    def took(self, first: int, item_id: int, count: int = 1) -> None:
        """A call numbered `item_id` `first`, and its other items after (`count` in all; its
        pairs may be added later)."""
        self._taken[first] = item_id
        self._counts[first] = count

    @property
    def last_number(self) -> int | None:
        """The last clock number the transaction's standing calls took."""
        return max((first + self._counts.get(first, 1) - 1 for first in self._taken), default=None)

    def rows(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], dict[int, int]]:
        """Every pair's key and item, and each item's first-seen time (µs)."""
        if not self._chunks:
            return _EMPTY, _EMPTY, {}
        keys = np.concatenate([chunk.keys for chunk in self._chunks])
        ids = np.concatenate([chunk.ids for chunk in self._chunks])
        return keys, ids, self._seen_of

    def verify(self, conn: Connection) -> None:
        """Forget what calls whose savepoint was rolled back wrote: their numbers are no
        longer their items' (the clock went back with them; on PostgreSQL another writer may
        have taken those numbers since). One query, by the calls' first numbers."""
        if not self._taken:
            return
        rows = conn.execute(
            select(items.c.dedupe_seq, items.c.id).where(
                items.c.dedupe_seq.in_(sorted(self._taken))
            )
        )
        stored = {int(seq): int(item_id) for seq, item_id in rows}
        gone = {first for first, item_id in self._taken.items() if stored.get(first) != item_id}
        if not gone:
            return
        for first in gone:
            del self._taken[first]
            self._counts.pop(first, None)
        lost = np.array(sorted(gone), dtype=np.int64)
        chunks = [c.keep(~np.isin(c.calls, lost)) for c in self._chunks if c.calls is not None]
        self._chunks = [c for c in chunks if len(c)]

    def add(
        self,
        first: int,
        keys: Sequence[int] | npt.NDArray[np.int64],
        items: Sequence[tuple[int, datetime, int]],
    ) -> None:
        """The pairs of a call's items: `keys` in item order, and per item (id, first seen,
        how many of the keys are its). `first`: the call's first number (see `took`)."""
        for item_id, seen, _ in items:
            self._seen_of[item_id] = _micros(seen)
        counts = [count for _, _, count in items]
        self._chunks.append(
            _Rows.of(
                np.array(keys, dtype=np.int64),
                np.repeat(np.array([i for i, _, _ in items], dtype=np.int64), counts),
                np.full(len(keys), first, dtype=np.int64),
            )
        )
        if len(self._chunks) > OVERLAY_CHUNKS:
            # The small chunks into the first, each inserted where it belongs.
            oldest, *rest = self._chunks
            for chunk in rest:
                oldest.absorb(chunk)
            self._chunks = [oldest]

    def find(self, wanted: npt.NDArray[np.int64], found: dict[int, list[RawRow]]) -> None:
        for chunk in self._chunks:
            chunk.find(wanted, self._seen_of, found)


class BucketIndex:
    """Every pair of the items first seen since `low`, as of clock number `seq`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seq = 0
        self.low: datetime | None = None
        self._reset(None)

    def __len__(self) -> int:
        return sum(len(run) for run in self._runs)

    def catch_up(self, conn: Connection, low: datetime, *, before: int | None = None) -> None:
        """Read the rows numbered since the last catch-up, and the older rows first seen
        since `low` when the index does not reach back that far (an updated old item's
        lookups do); all rows since `low` for a new index, or when the clock went back (a
        new database at the same URL). `before`: the transaction's own first number, when
        it has taken some; its own rows, not committed, are not read."""
        if self.low is None or current_number(conn) < self.seq:
            self._reset(low)
            query = select(*_INDEX_COLUMNS).where(
                items.c.dedupe_seq.is_not(None), items.c.first_seen >= to_db(low)
            )
            if before is not None:
                query = query.where(items.c.dedupe_seq < before)
            self._add(conn.execute(query))
            return
        if low < self.low:
            older = select(*_INDEX_COLUMNS).where(
                items.c.dedupe_seq <= self.seq,
                items.c.first_seen >= to_db(low),
                items.c.first_seen < to_db(self.low),
            )
            self.low = low
            self._add(conn.execute(older))
        else:
            self._forget_before(low)
        query = select(*_INDEX_COLUMNS).where(items.c.dedupe_seq > self.seq)
        if before is not None:
            query = query.where(items.c.dedupe_seq < before)
        self._add(conn.execute(query))

    def take_in(self, overlay: Overlay) -> None:
        """The rows of a transaction that has just committed, from its overlay (`verify`d
        just before the commit), as the next `catch_up` would read them: on a cold refresh,
        reading each write batch's rows back in the next one was a thirtieth of the writer.

        Only when this index has read nothing of them yet, and had read every row before
        them: the transaction's catch-ups read every committed row numbered below its first
        number while it held the clock (see the module's doc), so its own numbers follow
        on from what the index holds. Else the next catch-up reads them, as before."""
        first, last = overlay.first_number, overlay.last_number
        if first is None or last is None or self.low is None or self.seq >= first:
            return
        keys, ids, seen_of = overlay.rows()
        own = np.unique(ids)
        known = [i for i in own.tolist() if i in self._seq_of]
        if known:  # items fingerprinted again: their old pairs go
            self._drop(np.array(known, dtype=np.int64))
        for item_id in own.tolist():
            self._seq_of[item_id] = last  # an upper bound: the next number of it is higher
            self._seen_of[item_id] = seen_of[item_id]
        if len(keys):
            self._runs.append(_Rows.of(keys.copy(), ids.copy()))
            self._merge_runs()
        self.seq = last

    def forget(self) -> None:
        """Hold nothing: the next `catch_up` reads every row of its window again."""
        self._reset(None)

    def _reset(self, low: datetime | None) -> None:
        self.seq, self.low = 0, low
        # Sorted runs: the first holds most rows; what later catch-ups read is kept in small
        # runs beside it, and merged into it only once they are large (`_merge_runs`):
        # merging each catch-up's few thousand rows copied the whole index, a million rows.
        self._runs: list[_Rows] = []
        self._seq_of: dict[int, int] = {}  # item id -> the number of its indexed pairs
        self._seen_of: dict[int, int] = {}  # item id -> first seen (µs)

    def _add(self, rows: Iterable[Any]) -> None:
        # The pairs are gathered in one buffer and read as one array: a process's first
        # catch-up reads the whole window (~30,000 items, ~17 MiB of pairs). A list of the
        # rows' blobs joined at the end held them twice, and its peak stayed in the heap.
        blobs = bytearray()
        ids: list[int] = []
        counts: list[int] = []
        replaced: list[int] = []
        for row in rows:
            item_id, seq = int(row.id), int(row.dedupe_seq)
            self.seq = max(self.seq, seq)
            if row.buckets is None:
                continue
            known = self._seq_of.get(item_id)
            if known is not None:
                if known >= seq:
                    continue
                replaced.append(item_id)  # updated since: its old pairs go
            self._seq_of[item_id] = seq
            self._seen_of[item_id] = _micros(from_db(row.first_seen))
            blobs += row.buckets
            ids.append(item_id)
            counts.append(len(row.buckets) // _PAIR_BYTES)
        if replaced:
            self._drop(np.array(replaced, dtype=np.int64))
        if blobs:
            # The keys copied out, so that the buffer (twice their size) goes before the sort.
            keys = _keys(np.frombuffer(blobs, dtype=_I64).reshape(-1, 2)).copy()
            del blobs
            new = _Rows.of(keys, np.repeat(np.array(ids, dtype=np.int64), counts))
            self._runs.append(new)
            self._merge_runs()

    def _merge_runs(self) -> None:
        """Merge the small runs into the first once there are too many, or they hold a tenth
        of its rows: each merge copies the first run, so it happens seldom, and a lookup
        searches few runs."""
        if len(self._runs) < 2:
            return
        first, rest = self._runs[0], self._runs[1:]
        small = sum(len(run) for run in rest)
        if len(self._runs) <= MAX_RUNS and small <= SMALL_RUNS_SHARE * len(first):
            return
        joined = _Rows.of(
            np.concatenate([run.keys for run in rest]), np.concatenate([run.ids for run in rest])
        )
        del rest
        self._runs = [first]
        first.absorb(joined)

    def _drop(self, ids: npt.NDArray[np.int64]) -> None:
        kept = (run.keep(~np.isin(run.ids, ids)) for run in self._runs)
        self._runs = [run for run in kept if len(run)]

    def _forget_before(self, low: datetime) -> None:
        """Drop items first seen before `low`: no lookup from now on reaches them (one that
        does makes `catch_up` read them again)."""
        assert self.low is not None
        if low - self.low < COMPACT_AFTER:
            return
        self.low = low
        floor = _micros(low)
        old = {i for i, seen in self._seen_of.items() if seen < floor}
        if old:
            self._drop(np.array(sorted(old), dtype=np.int64))
            for item_id in old:
                del self._seen_of[item_id], self._seq_of[item_id]

    def find(self, wanted: npt.NDArray[np.int64], found: dict[int, list[RawRow]]) -> None:
        for run in self._runs:
            run.find(wanted, self._seen_of, found)


# How far `low` moves before items older than it are dropped: not at every catch-up (each
# call's `low` is a little later), which would copy the arrays every time, nor right after
# an updated old item's lookup reached back (the next one would read those rows again).
COMPACT_AFTER = timedelta(days=7)
_INDEX_COLUMNS = (items.c.id, items.c.buckets, items.c.first_seen, items.c.dedupe_seq)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


# One index per database: keyed by the engine's pool, which an engine shares with the
# engines made from it by execution_options (the store's writer is one of those).
_INDEXES: weakref.WeakKeyDictionary[Any, BucketIndex] = weakref.WeakKeyDictionary()
_INDEXES_LOCK = threading.Lock()
_OVERLAY_KEY = "aggregator.dedupe.overlay"


def index_for(conn: Connection) -> BucketIndex:
    pool = conn.engine.pool
    with _INDEXES_LOCK:
        index = _INDEXES.get(pool)
        if index is None:
            index = _INDEXES[pool] = BucketIndex()
        return index


def overlay_for(conn: Connection) -> Overlay:
    """This transaction's overlay (a new transaction starts a new one)."""
    transaction = conn.get_transaction()
    overlay: Overlay | None = conn.info.get(_OVERLAY_KEY)
    if overlay is None or overlay.transaction is not transaction:
        overlay = Overlay(transaction)
        conn.info[_OVERLAY_KEY] = overlay
    return overlay


def take_numbers(conn: Connection, count: int) -> int:
    """Advance the clock by `count`; the first of the numbers taken. Call it under the
    cluster lock, inside the transaction that writes the numbered rows."""
    last = conn.execute(
        update(dedupe_clock)
        .where(dedupe_clock.c.id == 1)
        .values(seq=dedupe_clock.c.seq + count)
        .returning(dedupe_clock.c.seq)
    ).scalar()
    if last is None:  # a database made without the migration's row (metadata.create_all)
        start = conn.execute(select(func.coalesce(func.max(items.c.dedupe_seq), 0))).scalar_one()
        last = int(start) + count
        conn.execute(dedupe_clock.insert().values(id=1, seq=last))
    return int(last) - count + 1


def current_number(conn: Connection) -> int:
    found = conn.execute(select(dedupe_clock.c.seq).where(dedupe_clock.c.id == 1)).scalar()
    return int(found or 0)
