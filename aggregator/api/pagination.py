"""Opaque cursors for keyset pagination.

A cursor is base64url JSON: the sort order, the key of the last row served, the snapshot
(highest item id the first page saw), a fingerprint of the query's filters and, when the
query has an age such as `since=1h`, the time the first page was served at, against which
every page reads the age (read against each request's own clock, the next page's window
had moved, and its fingerprint with it). Without an age the cursor holds no time, so the
same request gives the same cursor (and body, and ETag). Handing a cursor to another
query (other filters or sort) is a 422 naming `cursor`, not a page of something else.
Clients must treat cursors as opaque.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aggregator.api.problems import bad_parameter

VERSION = 1
MAX_CURSOR_CHARS = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class Cursor:
    sort: str
    key: tuple[Any, ...]
    snapshot: int
    query: str  # fingerprint of the filters
    served_at: datetime | None = None  # when the first page was: what ages are read against


def fingerprint(params: Mapping[str, Sequence[str] | str | int | None]) -> str:
    """A short hash of the filters, order-insensitive for repeatable ones."""
    canonical = {
        name: sorted(value) if isinstance(value, list | tuple) else value
        for name, value in sorted(params.items())
        if value not in (None, [], ())
    }
    return hashlib.sha256(json.dumps(canonical, default=str).encode()).hexdigest()[:16]


def encode(cursor: Cursor) -> str:
    data = {
        "v": VERSION,
        "s": cursor.sort,
        "k": list(cursor.key),
        "n": cursor.snapshot,
        "q": cursor.query,
    }
    if cursor.served_at is not None:
        data["t"] = cursor.served_at.isoformat()
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _data(text: str) -> Any:
    if len(text) > MAX_CURSOR_CHARS:
        raise bad_parameter("cursor", "too long to be a cursor this API issued")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad_parameter("cursor", "not a cursor this API issued") from None


def served_at(text: str | None) -> datetime | None:
    """When the first page of the cursor's query was served (None for a first page, or a
    cursor without it); read before the filters, which ages are resolved against."""
    if text is None:
        return None
    data = _data(text)
    value = data.get("t") if isinstance(data, dict) else None
    if value is None:
        return None
    if not _is(value, datetime):
        raise bad_parameter("cursor", "not a cursor this API issued")
    return datetime.fromisoformat(value)


def decode(text: str, *, sort: str, query: str, key_types: Sequence[type]) -> Cursor:
    """The cursor, checked against the query it is used with; a 422 problem otherwise."""
    data = _data(text)
    if (
        not isinstance(data, dict)
        or data.get("v") != VERSION
        or not isinstance(data.get("k"), list)
        or not _int(data.get("n"))
    ):
        raise bad_parameter("cursor", "not a cursor this API issued")
    key = data["k"]
    if data.get("s") != sort or data.get("q") != query:
        raise bad_parameter("cursor", "the cursor belongs to another query (filters or sort)")
    if len(key) != len(key_types) or not all(
        _is(value, kind) for value, kind in zip(key, key_types, strict=True)
    ):
        raise bad_parameter("cursor", "not a cursor this API issued")
    return Cursor(
        sort=sort, key=tuple(key), snapshot=int(data["n"]), query=query, served_at=served_at(text)
    )


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


class Count(int):
    """A cursor key that is a count (of sources): PostgreSQL compares it as an INTEGER, and
    a larger one made a crafted cursor a 503 ("integer out of range") instead of a 422."""


def _is(value: object, kind: type) -> bool:
    if kind is Count:
        return _int(value) and isinstance(value, int) and value < 2**31
    if kind is int:
        return _int(value)
    if kind is datetime:  # carried as ISO text, of a time in UTC the store can hold
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
            if parsed is None or parsed.tzinfo is None:
                return False
            parsed.astimezone(UTC)  # 9999-12-31T23:59-12:00 is past the year 9999 in UTC
        except (ValueError, OverflowError):
            return False
        return True
    if kind is float:  # not NaN or infinite, which sort nowhere
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    return isinstance(value, kind)


def before_id(text: str | None, *, query: str) -> int | None:
    """The id a newest-first, id-keyed list resumes below (clusters, digests)."""
    if text is None:
        return None
    key: int = decode(text, sort="id", query=query, key_types=(int,)).key[0]
    return key


def next_id_cursor(last_id: int | None, *, more: bool, query: str) -> str | None:
    """The cursor after an id-keyed page, or None on the last page."""
    if not more or last_id is None:
        return None
    return encode(Cursor(sort="id", key=(last_id,), snapshot=0, query=query))
