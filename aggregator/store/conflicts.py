"""Transactions another one got in the way of (PostgreSQL), told apart and tried again.

A prune beside a refresh, or two refreshes of overlapping sources, can deadlock on
PostgreSQL (the server then aborts one of them), or one can delete a row the other's next
statement references. Neither says anything about the store: the same operation again,
once the other transaction has gone on, goes through.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import sqlalchemy

if TYPE_CHECKING:
    from aggregator.errors import StoreError

T = TypeVar("T")

# 40P01 deadlock detected, 40001 serialization failure, 23503 foreign key violation (the row
# it references was deleted meanwhile).
CONFLICT_SQLSTATES = frozenset({"40P01", "40001", "23503"})
TRIES = 4
PAUSE_S = 0.1  # before the next try, times the try, with jitter


def is_conflict(exc: BaseException) -> bool:
    """Whether `exc`, or an error it was raised from, is such a conflict."""
    from aggregator.errors import StoreConflict

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, StoreConflict):
            return True
        sqlstate = getattr(getattr(seen, "orig", seen), "sqlstate", None)
        if sqlstate in CONFLICT_SQLSTATES:
            return True
        seen = seen.__cause__
    return False


def pause(attempt: int) -> float:
    """Seconds to wait before try `attempt + 1`: longer each time, never in step with the
    other transaction's own retries."""
    return PAUSE_S * attempt * (1 + random.random())


def store_error(message: str, exc: BaseException) -> StoreError:
    """The StoreError to raise from `exc`: a `StoreConflict` when it is one (tried again by
    the callers that can), else a plain StoreError."""
    from aggregator.errors import StoreConflict, StoreError

    return (StoreConflict if is_conflict(exc) else StoreError)(message)


def retrying(operation: Callable[[], T], *, tries: int = TRIES) -> T:
    """`operation()` (a whole transaction), again after a conflict, `tries` times at most;
    the last try's error is raised as it is."""
    for attempt in range(1, tries):
        try:
            return operation()
        except sqlalchemy.exc.SQLAlchemyError as exc:
            if not is_conflict(exc):
                raise
            time.sleep(pause(attempt))
    return operation()
