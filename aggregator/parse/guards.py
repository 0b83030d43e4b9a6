"""Documents we refuse before parsing: too large, or carrying entity declarations.

Internal entity declarations are how "billion laughs" bombs work (a few hundred bytes that
expand to gigabytes). No feed or listing page needs them, so refusing is cheaper and safer
than trusting every parser on the way to bound the expansion.
"""

from __future__ import annotations

import re

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024

_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)
_ROOT_START = re.compile(rb"<[A-Za-z_]")
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
    # Declarations only count in the prolog, before the root element: the same text inside
    # CDATA or escaped content is harmless. Comments go first, since one may hold a '<tag';
    # an entity value may hold one too, but its declaration starts before it.
    stripped = _COMMENT.sub(b"", utf8)
    root = _ROOT_START.search(stripped)
    prolog = stripped[: root.start()] if root else stripped
    if _ENTITY.search(prolog):
        return "document declares XML entities (refused: entity expansion risk)"
    return None
