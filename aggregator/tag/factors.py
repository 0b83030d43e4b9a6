"""Literal strings a regular expression cannot match without: a substring test before a search.

``\\b(?:abus|violences?) sexuel\\w* (?:sur|envers) ...`` cannot match a text without " sexuel"
in it. A substring test (``in``, a fast search in C) answers that for most texts in a fraction
of what the engine takes to try every position where "a" or "v" starts a word. The factors are
read from the expression's parse tree, so they are certain or absent, never guessed.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

# The parse tree of the `re` module (sre_parse before 3.11). Not a public API: anything it does
# not give as expected means "no factors", and the expression simply always runs.
_parser: Any
_c: Any
try:
    _parser = importlib.import_module("re._parser")
    _c = importlib.import_module("re._constants")
except ImportError:  # pragma: no cover - a Python without the module: no shortcut
    _parser = None

_ZERO_WIDTH_AT = "AT"  # \b, ^, $: consume nothing, so the literals either side stay adjacent
_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")


def required_factors(source: str, flags: int) -> tuple[str, ...] | None:
    """Strings one of which is in every text `source` matches (compiled with `flags`, no
    IGNORECASE anywhere); None when no such strings are known."""
    if _parser is None or flags & re.IGNORECASE:
        return None
    try:
        parsed = _parser.parse(source, flags)
        if parsed.state.flags & re.IGNORECASE:
            return None
        found = _sequence(list(parsed))
    except Exception:  # the private parser changed shape: no shortcut, never a wrong one
        return None
    if not found or "" in found:
        return None
    return tuple(sorted(found, key=lambda s: (-len(s), s)))


def _sequence(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    """Factors of a concatenation: the most selective of those of its parts."""
    options: list[frozenset[str]] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            options.append(frozenset({"".join(run)}))
            run.clear()

    for op, arg in items:
        name = str(op)
        if op is _c.LITERAL:
            run.append(chr(arg))
            continue
        if name == _ZERO_WIDTH_AT:
            continue
        flush()
        found: frozenset[str] | None = None
        if op is _c.SUBPATTERN:
            _group, add_flags, _del_flags, body = arg
            if not add_flags & re.IGNORECASE:
                found = _sequence(list(body))
        elif op is _c.ATOMIC_GROUP:
            found = _sequence(list(arg))
        elif op is _c.BRANCH:
            alternatives = [_sequence(list(a)) for a in arg[1]]
            if all(alternatives):
                found = frozenset().union(*(a for a in alternatives if a))
        elif name in _REPEATS:
            low, _high, body = arg
            if low >= 1:
                found = _sequence(list(body))
        if found:
            options.append(found)
    flush()
    if not options:
        return None
    # Most selective: the longest shortest string, then the fewest strings to test.
    return max(options, key=lambda o: (min(map(len, o)), -len(o)))
