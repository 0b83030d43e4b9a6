"""A point in time as an operator or a client writes it: an ISO 8601 date or datetime (UTC
unless it says otherwise), or an age counted back from now ("7d", "24h", "30m").

One reading for the command line's `--since` and the API's `since` / `until`. A bare number is
no time: a Unix timestamp and a year look alike, and guessing was how "1795625220" became a
midnight.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

FORMS = "an ISO date (2026-11-01), datetime (2026-11-01T09:00+01:00) or an age (7d, 24h, 30m)"

_AGE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}")
# An offset whose "+" a query string turned into a space: "T09:00 01:00".
_PLUS_READ_AS_SPACE = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


class BadTime(ValueError):
    """Not a time in one of the `FORMS`, or out of the range of dates (years 1-9999)."""


def parse_when(text: str, *, now: datetime) -> datetime:
    """`text` as an aware UTC datetime; raises BadTime saying what was expected."""
    age = _AGE.match(text)
    cleaned = text.strip()
    if cleaned.startswith("-") and _AGE.match(cleaned[1:]):
        raise BadTime(f"an age is counted back from now without a sign: write {cleaned[1:]}")
    try:
        if age:
            return now - timedelta(**{_UNITS[age.group(2)]: int(age.group(1))})
        if not _ISO_START.match(cleaned):
            raise ValueError(cleaned)
        # "...T09:00+01:00" put in a URL unencoded arrives as "...T09:00 01:00": a query
        # string reads "+" as a space. No other reading of that space is possible.
        cleaned = _PLUS_READ_AS_SPACE.sub(r"\1+\2", cleaned)
        value = datetime.fromisoformat(cleaned)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except ValueError:
        raise BadTime(f"expected {FORMS}") from None
    except OverflowError:  # 1000000d ago, or 0001-01-01 east of UTC: before year 1
        raise BadTime("out of range (expected a time between the years 1 and 9999)") from None
