"""Datetimes in and out of the database: always tz-aware UTC at the store's edge.

SQLite has no time zones: SQLAlchemy stores a datetime as naive ISO text (dropping any
tzinfo), so every value is converted to UTC *before* it is written, and every value read
back is marked UTC. PostgreSQL's ``timestamptz`` returns aware values in the session's
zone; those are converted to UTC too, so both databases give identical records.
"""

from __future__ import annotations

from datetime import UTC, datetime


def to_db(value: datetime) -> datetime:
    """A tz-aware datetime as UTC, ready to bind. A naive datetime is a bug in the caller."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime given to the store: {value!r} (expected tz-aware UTC)")
    return value.astimezone(UTC)


def to_db_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else to_db(value)


def from_db(value: datetime) -> datetime:
    """A datetime read back: naive (SQLite) means UTC; aware (PostgreSQL) is converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def from_db_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else from_db(value)
