"""Checks on request parameters that the declared types cannot express.

Each failure is a 422 problem naming the parameter: a value the database would refuse
(a NUL character on PostgreSQL, an integer past 64 bits) must never surface as a 500.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

from pydantic import StringConstraints

from aggregator.api.problems import bad_parameter
from aggregator.when import BadTime, parse_when

MAX_ID = 2**63 - 1  # BIGINT on PostgreSQL, INTEGER on SQLite
MAX_TEXT = 200  # source ids and tags are String(200) in the schema
# PostgreSQL refuses NUL in text: declared in the OpenAPI document, so clients know.
NO_NUL = "^[^\x00]*$"
CURSOR_CHARS = 1000

# Declared types of text parameters: checked by FastAPI, and documented in the schema.
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT, pattern=NO_NUL)]
SearchText = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=NO_NUL)]
CursorText = Annotated[
    str, StringConstraints(min_length=1, max_length=CURSOR_CHARS, pattern="^[A-Za-z0-9_-]+$")
]


def text(name: str, value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise bad_parameter(name, "must not contain NUL characters")
    if value is not None and "\ufffd" in value:
        # What the server makes of percent-encoded bytes that are no UTF-8 (%ff): no tag,
        # source or word has it, and an empty answer would read as "nothing matches".
        raise bad_parameter(name, "must be UTF-8 (percent-encoded bytes that are no UTF-8)")
    return value


# Values of one repeated parameter, at most. Tags must all match: each is a condition of its
# own, and a thousand of them made SQLite refuse the query ("expression tree too large"),
# which surfaced as "store unavailable".
MAX_VALUES = 200
MAX_TAGS = 32


def texts(name: str, values: Sequence[str] | None, *, most: int = MAX_VALUES) -> tuple[str, ...]:
    for value in values or ():
        text(name, value)
        if not value.strip():
            # `tag=` matched nothing, and a feed of it shared the unfiltered feed's id.
            raise bad_parameter(name, "must not be empty")
        if len(value) > MAX_TEXT:
            raise bad_parameter(name, f"at most {MAX_TEXT} characters")
    unique = tuple(dict.fromkeys(values or ()))
    if len(unique) > most:
        raise bad_parameter(name, f"at most {most} values")
    return unique


_LANGUAGE = re.compile(r"[a-z]{2}")


def languages(name: str, values: Sequence[str] | None) -> tuple[str, ...]:
    """ISO 639-1 codes, as items carry them: "de", not "DE" or "german"."""
    from aggregator.codes import LANGUAGE_CODES

    found = texts(name, values)
    for value in found:
        if not _LANGUAGE.fullmatch(value) or value not in LANGUAGE_CODES:
            raise bad_parameter(name, f"{value!r} is no ISO 639-1 code (expected one like 'de')")
    return found


def when(name: str, value: str | None, *, now: datetime) -> datetime | None:
    """`since` / `until`: an ISO 8601 date or datetime (UTC if no zone), or an age (7d)."""
    if value is None:
        return None
    try:
        return parse_when(text(name, value) or "", now=now)
    except BadTime as exc:
        raise bad_parameter(name, str(exc)) from None


def utc(name: str, value: datetime | None) -> datetime | None:
    """A datetime parameter as UTC; a value without a zone is taken as UTC."""
    if value is None:
        return None
    try:
        if value.tzinfo is None or value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise bad_parameter(name, "out of the range of dates this API stores") from None
