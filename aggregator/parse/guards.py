"""Documents we refuse before parsing: too large, or carrying entity declarations.

Internal entity declarations are how "billion laughs" bombs work (a few hundred bytes that
expand to gigabytes). No feed or listing page needs them, so refusing is cheaper and safer
than trusting every parser on the way to bound the expansion.
"""

from __future__ import annotations

import re

# The parsers' own ceiling, whatever `fetch.max_bytes` (which the fetchers enforce, 10 MB by
# default, at most this) allows: a larger document is no feed or listing page.
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024

_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)


def size_refusal(data: bytes) -> str | None:
    """Why `data` is too large to parse, or None."""
    if len(data) > MAX_DOCUMENT_BYTES:
        return f"document too large: {len(data)} bytes (limit {MAX_DOCUMENT_BYTES})"
    return None


def entity_refusal(utf8: bytes) -> str | None:
    """Why the (UTF-8, so ASCII-searchable) document must not be parsed, or None."""
    if not _ENTITY.search(utf8):
        return None  # the common case costs one scan in C
    # Declarations only count in a DOCTYPE's internal subset, which comes in the prolog,
    # before the root element: the same text inside CDATA or escaped content is harmless.
    # The prolog is read as XML reads it, one construct after another, so that a '<tag' or a
    # '<!--' inside a processing instruction or a comment hides nothing.
    doctype = _doctype_in_prolog(utf8)
    if doctype is not None and _ENTITY.search(utf8, doctype):
        return "document declares XML entities (refused: entity expansion risk)"
    return None


def _doctype_in_prolog(data: bytes) -> int | None:
    """Where the prolog's DOCTYPE starts (or an unterminated construct that may hide one),
    or None when the root element comes first."""
    at, end = 0, len(data)
    while at < end:
        lt = data.find(b"<", at)
        if lt < 0:
            return None
        if data.startswith(b"<?", lt):
            close = data.find(b"?>", lt + 2)
        elif data.startswith(b"<!--", lt):
            close = data.find(b"-->", lt + 4)
        elif data[lt + 2 : lt + 9].upper() == b"DOCTYPE" and data[lt + 1 : lt + 2] == b"!":
            return lt
        else:
            return None  # the root element (or something that is not a prolog)
        if close < 0:
            return lt  # unterminated: no telling where the prolog ends, so refuse to guess
        at = close + 2
    return None
