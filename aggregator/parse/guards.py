"""Documents we refuse before parsing: too large, or carrying unsafe entity declarations.

Internal entity declarations are how "billion laughs" bombs work (a few hundred bytes that
expand to gigabytes: entities made of other entities), and how one huge entity referenced
a million times blows a document up quadratically. Old Movable Type and WordPress feeds
declare a few harmless ones all the same (`<!DOCTYPE rss [<!ENTITY nbsp "&#160;">]>`), and
feedparser reads their entries. So an internal subset of nothing but short plain-text
entities is accepted, and those entities are substituted here, within a budget, before any
parser sees the document (`with_safe_entities_expanded`); every other declaration is refused
rather than trusting every parser on the way to bound the expansion. (feedparser's own
rewriting of a DOCTYPE does not bound it: it takes `<!ENTITY` lines from anywhere in the
prolog, comments included, and its fallback parser expanded a 100 KB entity a thousand
times after expat had stopped.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The parsers' own ceiling, whatever `fetch.max_bytes` (which the fetchers enforce, 10 MB by
# default, at most this) allows: a larger document is no feed or listing page.
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024

# What a harmless internal subset holds: a few named characters or words (HTML's whole
# named set, 252 entities, would fit), each short. The subset then stays a few kilobytes,
# and since no value may name another entity, nothing expands beyond its own value.
MAX_SAFE_ENTITIES = 256
MAX_ENTITY_VALUE_BYTES = 64
# What substituting them may add to the document: as much as the document itself (and 1 MB
# for a small one). A feed spelling its publisher "&org;" in every entry grows by a few per
# cent; one that doubles by its entities is a blow-up, not a feed.
MIN_EXPANSION_BUDGET = 1024 * 1024

REFUSAL = "document declares XML entities (refused: entity expansion risk)"

_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)

_LITERAL = rb"(?:\"[^\"]*\"|'[^']*')"
# "<!DOCTYPE name", an external ID, and the spaces before "[" or ">". Anything else (a
# lower-case "doctype", a stray quote) is not read past: refused when entities are declared.
_DOCTYPE_HEAD = re.compile(
    rb"<!DOCTYPE\s+[^\s\[\]>\"']+"
    rb"(?:\s+(?:SYSTEM\s*" + _LITERAL + rb"|PUBLIC\s*" + _LITERAL + rb"\s*" + _LITERAL + rb"))?"
    rb"\s*"
)
_NAME = rb"[A-Za-z_:\x80-\xff][A-Za-z0-9_:.\-\x80-\xff]*"


def _safe_value(quote: bytes) -> bytes:
    """A value of plain text and character references: no "&name;" (another entity: how
    bombs nest), no "%" (parameter entities), no "<" (markup). (SYSTEM or PUBLIC, an
    external entity, a file or the network, is no value: refused.)"""
    return rb"(?:[^%&<" + quote + rb"]|&#[0-9]{1,7};|&#x[0-9A-Fa-f]{1,6};)*"


_SUBSET_TOKEN = re.compile(
    rb"(?P<space>\s+)|(?P<comment><!--.*?-->)|(?P<end>\]\s*>)"
    rb"|<!ENTITY\s+(?P<name>" + _NAME + rb")\s+"
    rb"(?:\"(?P<double>" + _safe_value(b'"') + rb")\"|'(?P<single>" + _safe_value(b"'") + rb")')"
    rb"\s*>",
    re.S,
)
# XML's own five: a declaration of them must mean what they mean already; not substituted.
_PREDEFINED = frozenset({b"lt", b"gt", b"amp", b"apos", b"quot"})
# A value's quotes and ">" as character references, so that it reads the same in an
# attribute (either quote) and in content ("]]>" is no text there).
_VALUE_ESCAPES = {ord('"'): b"&#34;", ord("'"): b"&#39;", ord(">"): b"&#62;"}


@dataclass(frozen=True, slots=True)
class _Subset:
    """A DOCTYPE's internal subset of safe declarations only."""

    start: int  # its "["
    end: int  # just past its "]"
    body: int  # just past the DOCTYPE's ">": where references can be
    entities: dict[bytes, bytes]  # name: replacement, as text the document can hold


def size_refusal(data: bytes) -> str | None:
    """Why `data` is too large to parse, or None."""
    if len(data) > MAX_DOCUMENT_BYTES:
        return f"document too large: {len(data)} bytes (limit {MAX_DOCUMENT_BYTES})"
    return None


def entity_refusal(utf8: bytes) -> str | None:
    """Why the (UTF-8, so ASCII-searchable) document must not be parsed, or None.

    None also for a document whose DOCTYPE declares only safe entities: parse it as
    `with_safe_entities_expanded` gives it."""
    if not _ENTITY.search(utf8):
        return None  # the common case costs one scan in C
    found = _declarations(utf8)
    if isinstance(found, str):
        return found
    if found is not None and _expanded(utf8, found) is None:
        return REFUSAL
    return None


def with_safe_entities_expanded(utf8: bytes) -> bytes:
    """The document with its safe entities (`entity_refusal` said None) substituted and
    their declarations gone: feedparser's DOCTYPE rewriting loses declarations that share
    a line with the DOCTYPE, and its fallback parser then left "&copy2;" as written. Line
    breaks stay where they were, so the parser's line numbers still point at the right
    line. Unchanged when there is nothing to expand."""
    if not _ENTITY.search(utf8):
        return utf8
    found = _declarations(utf8)
    if found is None or isinstance(found, str):
        return utf8
    expanded = _expanded(utf8, found)
    return utf8 if expanded is None else expanded


def _declarations(utf8: bytes) -> _Subset | str | None:
    """The safe internal subset of a document that has "<!ENTITY" in it; a refusal; or None
    when no declaration can be read from it (the text outside the prolog: CDATA)."""
    doctype, prolog_end = _doctype_in_prolog(utf8)
    if doctype is None:
        # No DOCTYPE: nothing is declared. But feedparser takes "<!ENTITY" lines from
        # anywhere before the first element, comments included, into a DOCTYPE of its own.
        return REFUSAL if _ENTITY.search(utf8, 0, prolog_end) else None
    subset = _safe_subset(utf8, doctype)
    if subset is None:
        return REFUSAL
    # Declarations only count in a DOCTYPE's internal subset; any other "<!ENTITY" in a
    # document with a DOCTYPE (before it, or anywhere after it) is refused as before.
    if _ENTITY.search(utf8, 0, subset.start) or _ENTITY.search(utf8, subset.end):
        return REFUSAL
    return subset


def _safe_subset(data: bytes, doctype: int) -> _Subset | None:
    """The DOCTYPE at `doctype` read as one of safe declarations only, or None (refuse)."""
    head = _DOCTYPE_HEAD.match(data, doctype)
    if head is None or data[head.end() : head.end() + 1] != b"[":
        return None  # "<!ENTITY" is somewhere, and not in a subset we can read
    start = head.end()
    at = start + 1
    entities: dict[bytes, bytes] = {}
    declared = 0
    while True:
        token = _SUBSET_TOKEN.match(data, at)
        if token is None:
            return None  # another declaration, a parameter entity, an unsafe value
        at = token.end()
        if token["end"] is not None:
            end = token.start() + 1
            return _Subset(start=start, end=end, body=at, entities=entities)
        name = token["name"]
        if name is None:
            continue  # space, a comment
        value = token["double"] if token["double"] is not None else token["single"]
        declared += 1
        if declared > MAX_SAFE_ENTITIES or len(value) > MAX_ENTITY_VALUE_BYTES:
            return None
        if name not in _PREDEFINED:
            entities.setdefault(name, _escaped(value))  # XML: the first declaration binds


def _escaped(value: bytes) -> bytes:
    return b"".join(_VALUE_ESCAPES.get(byte, bytes((byte,))) for byte in value)


def _expanded(data: bytes, subset: _Subset) -> bytes | None:
    """`data` with the subset's declarations gone (their line breaks kept) and its entities
    substituted after the DOCTYPE, outside CDATA sections, comments and processing
    instructions (where "&name;" is text); None when that adds more than the budget.

    A value's character references are substituted as written, for the parser to read:
    "&#160;" is a no-break space where it lands, and "&#60;" a "<" of text, never markup."""
    between = data[subset.start : subset.end]
    lines = b"\n" * (between.count(b"\n") + between.count(b"\r") - between.count(b"\r\n"))
    # The line breaks after the DOCTYPE, not inside it: feedparser drops a DOCTYPE whole.
    head = data[: subset.start] + data[subset.end : subset.body] + lines
    body = data[subset.body :]
    if not subset.entities:
        return head + body
    names = b"|".join(re.escape(name) for name in subset.entities)
    references = re.compile(rb"<!\[CDATA\[.*?\]\]>|<!--.*?-->|<\?.*?\?>|&(" + names + rb");", re.S)
    budget = max(len(data), MIN_EXPANSION_BUDGET)
    parts: list[bytes] = [head]
    done = 0
    for found in references.finditer(body):
        name = found[1]
        if name is None:
            continue  # CDATA, a comment, a processing instruction: left as they are
        value = subset.entities[name]
        budget -= len(value) - len(found[0])
        if budget < 0:
            return None
        parts += (body[done : found.start()], value)
        done = found.end()
    parts.append(body[done:])
    return b"".join(parts)


def _doctype_in_prolog(data: bytes) -> tuple[int | None, int]:
    """Where the prolog's DOCTYPE starts (or an unterminated construct that may hide one),
    or None when the root element comes first; and where the prolog ends (the root
    element, else the end of the document)."""
    at, end = 0, len(data)
    while at < end:
        lt = data.find(b"<", at)
        if lt < 0:
            return None, end
        if data.startswith(b"<?", lt):
            close = data.find(b"?>", lt + 2)
        elif data.startswith(b"<!--", lt):
            close = data.find(b"-->", lt + 4)
        elif data[lt + 2 : lt + 9].upper() == b"DOCTYPE" and data[lt + 1 : lt + 2] == b"!":
            return lt, end
        else:
            return None, lt  # the root element (or something that is not a prolog)
        if close < 0:
            return lt, end  # unterminated: no telling where the prolog ends, so refuse to guess
        at = close + 2
    return None, end
