"""``re:`` patterns that can run for minutes on one text, refused when the rules are read.

Python's `re` backtracks: a repetition of a part that is itself a repetition with nothing
required between its turns (``(a+)+``, ``(?:\\w+\\s?)+``) can split a run of text between
the turns in a number of ways that doubles with each character, and tries them all when the
rest of the pattern fails after it. One such rule and one text held a refresh for good,
every source with it, and `sources check` had said "ok".

A heuristic, for the common shape: a part repeated many times whose every element may match
nothing, but for one repeated many times. A required element in each turn (``(?:\\s\\w+)*``,
each turn one space and a word) splits the text one way, and is allowed; so is a bounded
repetition (``(?:\\w+\\s){1,3}``) and an atomic or possessive one, which never backtracks.
"""

from __future__ import annotations

from typing import Any

from aggregator.tag.factors import parse

# A repetition allowed more than this many times counts as "many" (`{0,40}`, `+`, `*`).
MANY = 10
_REPEATS = ("MAX_REPEAT", "MIN_REPEAT")  # a possessive repeat (`*+`) never backtracks
_ZERO_WIDTH = ("AT", "ASSERT", "ASSERT_NOT")


def nested_repetition(source: str, flags: int) -> bool:
    """Does `source` repeat many times a part that is a many-times repetition with nothing
    required around it in each turn?"""
    tree = parse(source, flags)
    return tree is not None and _any_ambiguous(list(tree))


def _any_ambiguous(items: list[tuple[Any, Any]]) -> bool:
    for op, arg in items:
        name = str(op)
        if name in _REPEATS:
            _low, high, body = arg
            if high > MANY and _only_repetition(list(body)):
                return True
            if _any_ambiguous(list(body)):
                return True
        elif name == "SUBPATTERN":
            if _any_ambiguous(list(arg[-1])):
                return True
        elif name == "BRANCH":
            if any(_any_ambiguous(list(way)) for way in arg[1]):
                return True
        elif name in ("ASSERT", "ASSERT_NOT") and _any_ambiguous(list(arg[-1])):
            return True
    return False


def _only_repetition(items: list[tuple[Any, Any]]) -> bool:
    """A turn's elements: one or more repeated many times, and the rest able to match
    nothing (optional, zero-width, or groups of such)."""
    many = False
    for op, arg in items:
        name = str(op)
        if name in _REPEATS:
            low, high, body = arg
            if high > MANY:
                many = True
            elif low > 0 and not _may_be_empty(list(body)):
                return False
        elif name == "SUBPATTERN":
            inner = list(arg[-1])
            if _only_repetition(inner):
                many = True
            elif not _may_be_empty(inner):
                return False
        elif name not in _ZERO_WIDTH:
            return False  # a literal, a class, a branch: required in each turn
    return many


def _may_be_empty(items: list[tuple[Any, Any]]) -> bool:
    for op, arg in items:
        name = str(op)
        if name in _REPEATS:
            if arg[0] > 0 and not _may_be_empty(list(arg[2])):
                return False
        elif name == "SUBPATTERN":
            if not _may_be_empty(list(arg[-1])):
                return False
        elif name not in _ZERO_WIDTH:
            return False
    return True
