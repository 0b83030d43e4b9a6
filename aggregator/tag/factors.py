"""Literal strings a regular expression cannot match without: a substring test before a search.

``\\b(?:abus|violences?) sexuel\\w* (?:sur|envers) ...`` cannot match a text without " sexuel"
in it. A substring test (``in``, a fast search in C) answers that for most texts in a fraction
of what the engine takes to try every position where "a" or "v" starts a word. The factors are
read from the expression's parse tree, so they are certain or absent, never guessed.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

# The parse tree of the `re` module (sre_parse before 3.11). Not a public API: anything it does
# not give as expected means "no factors", and the expression simply always runs.
_parser: Any
_c: Any
try:
    _parser = importlib.import_module("re._parser")
    _c = importlib.import_module("re._constants")
except ImportError:  # pragma: no cover - a Python without the module: no shortcut
    _parser = None

# The parse tree of an expression, as `parse` gives it: built once, read by each function below.
Tree = Any

_ZERO_WIDTH_AT = "AT"  # \b, ^, $: consume nothing, so the literals either side stay adjacent
_ZERO_WIDTH = (_ZERO_WIDTH_AT, "ASSERT", "ASSERT_NOT")  # and lookarounds
# In `word_conditions`: "pre*" is a word starting with "pre" (never a word character).
PREFIX_MARK = "*"
_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")


def parse(source: str, flags: int) -> Tree | None:
    """The parse tree of `source` compiled with `flags`, to hand to the functions below as
    `tree`: parsing is most of what each of them costs, and they only read the tree. None
    when there is none (each function then parses, and finds nothing, itself)."""
    if _parser is None:
        return None
    try:
        return _parser.parse(source, flags)
    except Exception:  # not an expression, or the private parser changed shape
        return None


def _tree(source: str, flags: int, tree: Tree | None) -> Tree:
    return _parser.parse(source, flags) if tree is None else tree


def required_factors(
    source: str, flags: int, *, tree: Tree | None = None
) -> tuple[str, ...] | None:
    """Strings one of which is in every text `source` matches (compiled with `flags`); None
    when no such strings are known. Literals under IGNORECASE do not count; those in a scope
    that turns it off, ``(?-i:DSA)``, do. `tree`: `parse(source, flags)`, if at hand."""
    if _parser is None:
        return None
    try:
        parsed = _tree(source, flags, tree)
        found = _sequence(list(parsed), bool((flags | parsed.state.flags) & re.IGNORECASE))
    except Exception:  # the private parser changed shape: no shortcut, never a wrong one
        return None
    if not found or "" in found:
        return None
    return tuple(sorted(found, key=lambda s: (-len(s), s)))


def required_factor_sets(
    source: str, flags: int, *, tree: Tree | None = None
) -> tuple[frozenset[str], ...]:
    """Every set of strings `required_factors` chose its one from: one of each set is in every
    text `source` matches (one set per part of the expression's top-level sequence), most
    selective first; () when none is known."""
    if _parser is None:
        return ()
    try:
        parsed = _tree(source, flags, tree)
        found = _factor_sets(list(parsed), bool((flags | parsed.state.flags) & re.IGNORECASE))
    except Exception:  # the private parser changed shape: no shortcut, never a wrong one
        return ()
    return tuple(sorted((f for f in found if "" not in f), key=_factor_selectivity, reverse=True))


def literal_prefix(source: str) -> str:
    """The literal text every match of `source` (compiled without flags) starts with; "" when
    none is known."""
    if _parser is None:
        return ""
    try:
        parsed = _parser.parse(source, 0)
        if parsed.state.flags & re.IGNORECASE:
            return ""
        prefix: list[str] = []
        for op, arg in parsed:
            if op is not _c.LITERAL:
                break
            prefix.append(chr(arg))
    except Exception:  # the private parser changed shape: no shortcut, never a wrong one
        return ""
    return "".join(prefix)


def match_leads(source: str, flags: int, *, tree: Tree | None = None) -> tuple[str, ...] | None:
    """Strings one of which every match of `source` (compiled with `flags`) starts with, at
    its start; None when not known. "\\b(?:survivors?|victims?)\\b.{0,40}...": ("survivor",
    "victim"): the zero-width items before them (``\\b``, lookarounds) consume nothing.
    `tree`: `parse(source, flags)`, if at hand."""
    if _parser is None:
        return None
    try:
        parsed = _tree(source, flags, tree)
        ignorecase = bool((flags | parsed.state.flags) & re.IGNORECASE)
        found = _leads(list(parsed), ignorecase, [_LEAD_WAYS])
    except Exception:  # the private parser changed shape: no shortcut, never a wrong one
        return None
    if "" in found:
        return None
    return tuple(sorted(found))


_LEAD_WAYS = 64  # groups followed into, at most, for `match_leads`
_WIDE = 4096  # characters: a match that may be longer is taken as unbounded


def max_width(source: str, flags: int, *, tree: Tree | None = None) -> int | None:
    """The most characters a match of `source` can span, when bounded (lookarounds look
    further, but match nothing); None when not known. `tree`: `parse(source, flags)`."""
    if _parser is None:
        return None
    try:
        _low, high = _tree(source, flags, tree).getwidth()
    except Exception:  # the private parser changed shape: no shortcut, never a wrong one
        return None
    return high if isinstance(high, int) and high < _WIDE else None


def _leads(items: list[tuple[Any, Any]], ignorecase: bool, budget: list[int]) -> frozenset[str]:
    """The literal texts a concatenation's matches start with, one per way through its groups
    (as far as it is literal): "" when a way starts with something else."""
    head: list[str] = []
    for index, (op, arg) in enumerate(items):
        name = str(op)
        if op is _c.LITERAL and not ignorecase:
            head.append(chr(arg))
            continue
        if name in _ZERO_WIDTH:
            continue  # consumes nothing: the next character is still the next one
        ways: list[tuple[list[tuple[Any, Any]], bool]] = []
        if op is _c.BRANCH:
            ways = [(list(way), ignorecase) for way in arg[1]]
        elif op is _c.SUBPATTERN:
            _group, add_flags, del_flags, body = arg
            inner = (ignorecase or bool(add_flags & re.IGNORECASE)) and not (
                del_flags & re.IGNORECASE
            )
            ways = [(list(body), inner)]
        budget[0] -= len(ways)
        if not ways or budget[0] < 0 or any(scope != ignorecase for _way, scope in ways):
            # Not followed (a scope of other flags would read the rest in its own).
            if op is _c.SUBPATTERN and ways and budget[0] >= 0:
                inner_leads = _leads(ways[0][0], ways[0][1], budget)
                return frozenset("".join(head) + lead for lead in inner_leads)
            break
        rest = items[index + 1 :]
        return frozenset(
            "".join(head) + lead
            for way, scope in ways
            for lead in _leads([*way, *rest], scope, budget)
        )
    return frozenset({"".join(head)})


def _sequence(items: list[tuple[Any, Any]], ignorecase: bool) -> frozenset[str] | None:
    """Factors of a concatenation: the most selective of those of its parts."""
    options = _factor_sets(items, ignorecase)
    if not options:
        return None
    return max(options, key=_factor_selectivity)


def _factor_selectivity(option: frozenset[str]) -> tuple[int, int]:
    # Most selective: the longest shortest string, then the fewest strings to test.
    return min(map(len, option)), -len(option)


def _factor_sets(items: list[tuple[Any, Any]], ignorecase: bool) -> list[frozenset[str]]:
    """The factors of each part of a concatenation (one of each set is in every match)."""
    options: list[frozenset[str]] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            options.append(frozenset({"".join(run)}))
            run.clear()

    for op, arg in items:
        name = str(op)
        if op is _c.LITERAL and not ignorecase:
            run.append(chr(arg))
            continue
        if name == _ZERO_WIDTH_AT:
            continue
        flush()
        found: frozenset[str] | None = None
        if op is _c.SUBPATTERN:
            _group, add_flags, del_flags, body = arg
            inner = (ignorecase or bool(add_flags & re.IGNORECASE)) and not (
                del_flags & re.IGNORECASE
            )
            found = _sequence(list(body), inner)
        elif op is _c.ATOMIC_GROUP:
            found = _sequence(list(arg), ignorecase)
        elif op is _c.BRANCH:
            alternatives = [_sequence(list(a), ignorecase) for a in arg[1]]
            if all(alternatives):
                found = frozenset().union(*(a for a in alternatives if a))
        elif name in _REPEATS:
            low, _high, body = arg
            if low >= 1:
                found = _sequence(list(body), ignorecase)
        if found:
            options.append(found)
    flush()
    return options


# Whole words: what a match certainly has among the words of the text it is found in. A run
# of literal word characters is a whole word of the text when something that is not a word
# character bounds it on each side: a literal, a `\b`, a `(?!\w)`, or a class of non-word
# characters that must match once (`\s`, `[\s-]`, `\s+`; `\s*` if what comes after it does).
_WORD_CHAR = re.compile(r"\w")
_WORD_RUNS = re.compile(r"\w+")
_NON_WORD_CATEGORIES = ("CATEGORY_SPACE", "CATEGORY_NOT_WORD")
_OPAQUE_FLAGS = re.ASCII | re.LOCALE  # \w and \b would not be those of the text's words
_FEW = 4  # a character class of at most this many literals is read as alternatives
_Items = list[tuple[Any, Any]]
T = TypeVar("T")
_Options = list[frozenset[str]]


@dataclass(frozen=True, slots=True)
class _Scope:
    """How literals read where they are: under IGNORECASE or not, and whether the expression
    runs on the lower-cased text (else on the folded text, case kept; see regex.py)."""

    ignorecase: bool
    on_lower: bool
    # Read for `word_conditions`: word prefixes count, a run of separators that may be empty
    # is a way through with and without one, and lookarounds are only zero-width.
    extended: bool = False

    def char(self, code: int) -> str | None:
        """What a literal is in the lower-cased text, or None when that is not certain.

        An ASCII letter under IGNORECASE also matches the Kelvin sign, the long s and the
        dotless i, but folding has made those ASCII letters already. Other characters may
        have case variants that are not their lower case, except where the expression runs
        on the lower-cased text and matches case."""
        ch = chr(code)
        if ch.isascii():
            return ch.lower()
        return ch if self.on_lower and not self.ignorecase else None

    def inner(self, add_flags: int, del_flags: int) -> _Scope:
        ignorecase = (self.ignorecase or bool(add_flags & re.IGNORECASE)) and not (
            del_flags & re.IGNORECASE
        )
        return _Scope(ignorecase, self.on_lower, self.extended)


def required_words(
    source: str, flags: int, *, on_lower: bool, tree: Tree | None = None
) -> tuple[frozenset[str], ...]:
    """Sets of words such that every text `source` matches in has, among its words (runs of
    ``\\w`` of the lower-cased text), a word of each set; most selective first, () when none
    are known. `on_lower`: the expression runs on the lower-cased text (regex.py).

    "\\bforordning\\w* om digitala tjanster\\b" matches only in a text with the words "om",
    "digitala" and "tjanster". A set lookup among a text's words says what a substring test
    would, and for many expressions at once (index.py). `tree`: `parse(source, flags)`.
    """
    found = _read(
        source,
        flags,
        tree,
        _Scope(False, on_lower),
        lambda items, scope: _words(items, scope, left=False, right=False),
    )
    return () if found is None else tuple(sorted(set(found), key=_selectivity))


def _read(
    source: str,
    flags: int,
    tree: Tree | None,
    scope: _Scope,
    reader: Callable[[_Items, _Scope], T],
) -> T | None:
    """`reader` over the parsed expression, in `scope` with its IGNORECASE as the
    expression's flags and inline flags say; None for an expression whose flags make its
    literals unreadable (or when the parser is missing or changed shape)."""
    if _parser is None or flags & _OPAQUE_FLAGS:
        return None
    try:
        parsed = _tree(source, flags, tree)
        if parsed.state.flags & _OPAQUE_FLAGS:
            return None
        ignorecase = bool((flags | parsed.state.flags) & re.IGNORECASE)
        return reader(list(parsed), replace(scope, ignorecase=ignorecase))
    except Exception:  # the private parser changed shape: no shortcut, never a wrong one
        return None


def _selectivity(option: frozenset[str]) -> tuple[int, int, list[str]]:
    # The longest shortest word ("of" is in most English texts), then the fewest words; a
    # prefix ("ki*") by its letters.
    return -min(len(word.rstrip(PREFIX_MARK)) for word in option), len(option), sorted(option)


def _best(options: _Options) -> frozenset[str] | None:
    return min(options, key=_selectivity) if options else None


def _words(items: _Items, scope: _Scope, *, left: bool, right: bool) -> _Options:
    """The word sets of a concatenation (a word of each is in the text); `left`/`right`:
    whether what comes before/after it is certainly no word character."""
    options: _Options = []
    index = 0
    while index < len(items):
        op, arg = items[index]
        if op is not _c.LITERAL or scope.char(arg) is None:
            before = _ends_non_word(items, index, scope, left)
            after = _starts_non_word(items, index + 1, scope, right)
            options.extend(_structure(op, arg, scope, before, after))
            index += 1
            continue
        start = index
        chars: list[str] = []
        while index < len(items) and items[index][0] is _c.LITERAL:
            char = scope.char(items[index][1])
            if char is None:
                break
            chars.append(char)
            index += 1
        run = "".join(chars)
        run_left = _ends_non_word(items, start, scope, left)
        group = _alternatives(items[index], scope) if index < len(items) else None
        if group is None:
            right_end = _starts_non_word(items, index, scope, right)
            options.extend(_whole(run, run_left, right_end, scope))
            continue
        # "groom(?:ing|ed)", "survivors?", "sexuali[sz]ed": the run's last word runs into the
        # group, and maybe on into the literals after it: each way through, as one run.
        inner, alternatives = group
        end = index + 1
        while end < len(items) and items[end][0] is _c.LITERAL and scope.char(items[end][1]):
            end += 1
        after = _starts_non_word(items, end, scope, right)
        found = [
            _best(
                _words(
                    [*items[start:index], *a, *items[index + 1 : end]],
                    inner,
                    left=run_left,
                    right=after,
                )
            )
            for a in alternatives
        ]
        if all(found):
            options.append(frozenset().union(*(f for f in found if f)))
        options.extend(_whole(run, run_left, False, scope))
        index += 1
    return options


def _alternatives(item: tuple[Any, Any], scope: _Scope) -> tuple[_Scope, list[_Items]] | None:
    """The alternatives of a group of alternatives or of an optional part, as concatenations
    (with the scope they are read in)."""
    op, arg = item
    if op is _c.BRANCH:
        return scope, [list(a) for a in arg[1]]
    if op is _c.SUBPATTERN:
        _group, add_flags, del_flags, body = arg
        body = list(body)
        inner = scope.inner(add_flags, del_flags)
        if inner == scope and len(body) == 1:
            return _alternatives(body[0], scope)
    if str(op) in _REPEATS and arg[0] == 0 and arg[1] == 1:
        return scope, [[], list(arg[2])]
    if scope.extended and str(op) in _REPEATS and arg[0] == 0:
        # "[\s-]*": for the words a match has, a run of separators is one separator or none.
        body = list(arg[2])
        if _non_word_item(body, scope):
            return scope, [[], body]
    if str(op) == "IN":  # [sz]: a few letters, each a way through
        members = list(arg)
        if 0 < len(members) <= _FEW and all(member[0] is _c.LITERAL for member in members):
            return scope, [[member] for member in members]
    return None


def _structure(op: Any, arg: Any, scope: _Scope, left: bool, right: bool) -> _Options:
    if op is _c.SUBPATTERN:
        _group, add_flags, del_flags, body = arg
        if add_flags & _OPAQUE_FLAGS:
            return []
        return _words(list(body), scope.inner(add_flags, del_flags), left=left, right=right)
    if op is _c.ATOMIC_GROUP:
        return _words(list(arg), scope, left=left, right=right)
    if op is _c.BRANCH:
        found = [_best(_words(list(a), scope, left=left, right=right)) for a in arg[1]]
        if all(found):
            return [frozenset().union(*(f for f in found if f))]
        return []
    if str(op) in _REPEATS:
        low, _high, body = arg
        if low >= 1:  # the first repetition: what follows it is not known
            return _words(list(body), scope, left=left, right=False)
    return []


def _whole(run: str, left: bool, right: bool, scope: _Scope) -> _Options:
    """The whole words of a literal run, each a set of its own; read extended, also its last
    word as a prefix where the word may go on ("kindesmissbrauch\\w*")."""
    found: _Options = []
    for word in _WORD_RUNS.finditer(run):
        if not (word.start() > 0 or left):
            continue
        if word.end() < len(run) or right:
            found.append(frozenset({word.group()}))
        elif scope.extended:
            found.append(frozenset({word.group() + PREFIX_MARK}))
    return found


def _starts_non_word(items: _Items, index: int, scope: _Scope, right: bool) -> bool:
    """Whether what `items[index:]` matches, after a word character, certainly starts with a
    non-word character (`right`: whether what follows the whole list does)."""
    if index == len(items):
        return right
    op, arg = items[index]
    name = str(op)
    if name == _ZERO_WIDTH_AT and str(arg) == "AT_BOUNDARY":
        return True  # a boundary after a word character
    if name == "ASSERT_NOT" and arg[0] == 1 and _is_word_class(list(arg[1])):
        return True  # (?!\w)
    if name in _ZERO_WIDTH:
        # Nothing consumed: what comes next decides, when read extended.
        return scope.extended and _starts_non_word(items, index + 1, scope, right)
    group = _group(op, arg, scope)
    if group is not None:
        # Each way through the group ("\s+", "(?:de )?", "(?:la |les )") starts with a
        # non-word character, or matches nothing and what follows it does.
        inner, low, ways = group
        after = low == 0 and _starts_non_word(items, index + 1, scope, right)
        return all(
            _starts_non_word(way, 0, inner, after if not way else False) for way in ways
        ) and (low > 0 or after)
    return _non_word_item([items[index]], scope)


def _ends_non_word(items: _Items, index: int, scope: _Scope, left: bool) -> bool:
    """Whether what `items[:index]` matches, before a word character, certainly ends with a
    non-word character (`left`: whether what precedes the whole list does)."""
    if index == 0:
        return left
    op, arg = items[index - 1]
    name = str(op)
    if name == _ZERO_WIDTH_AT and str(arg) == "AT_BOUNDARY":
        return True
    if name == "ASSERT_NOT" and arg[0] == -1 and _is_word_class(list(arg[1])):
        return True  # (?<!\w)
    if name in _ZERO_WIDTH:
        # Nothing consumed: what comes before decides, when read extended.
        return scope.extended and _ends_non_word(items, index - 1, scope, left)
    group = _group(op, arg, scope)
    if group is not None:
        inner, low, ways = group
        before = low == 0 and _ends_non_word(items, index - 1, scope, left)
        return all(
            _ends_non_word(way, len(way), inner, before if not way else False) for way in ways
        ) and (low > 0 or before)
    return _non_word_item([items[index - 1]], scope)


def _group(op: Any, arg: Any, scope: _Scope) -> tuple[_Scope, int, list[_Items]] | None:
    """A group as its ways through (concatenations), the scope they are read in, and the
    least number of times it must match (0: it may match nothing)."""
    name = str(op)
    if op is _c.BRANCH:
        ways = [list(a) for a in arg[1]]
        return scope, (0 if any(not way for way in ways) else 1), ways
    if op is _c.SUBPATTERN:
        _group_id, add_flags, del_flags, body = arg
        if add_flags & _OPAQUE_FLAGS:
            return None
        body = list(body)
        return scope.inner(add_flags, del_flags), (1 if body else 0), [body]
    if name in _REPEATS:
        low, _high, body = arg
        body = list(body)
        return scope, (low if body else 0), [body]
    return None


def _non_word_item(body: _Items, scope: _Scope) -> bool:
    """Whether `body` is one item that matches one non-word character."""
    if len(body) != 1:
        return False
    op, arg = body[0]
    if op is _c.LITERAL:
        char = scope.char(arg)
        return char is not None and _WORD_CHAR.match(char) is None
    return str(op) == "IN" and _non_word_class(arg, scope)


def _is_word_class(items: _Items) -> bool:
    if len(items) != 1 or str(items[0][0]) != "IN":
        return False
    members = list(items[0][1])
    return len(members) == 1 and str(members[0][1]) == "CATEGORY_WORD"


def _non_word_class(members: Any, scope: _Scope) -> bool:
    """Whether a character class (the body of IN) matches only non-word characters."""
    members = list(members)
    if members and str(members[0][0]) == "NEGATE":
        return any(
            str(op) == "CATEGORY" and str(value) == "CATEGORY_WORD" for op, value in members[1:]
        )
    for op, value in members:
        if op is _c.LITERAL:
            char = scope.char(value)
            if char is None or _WORD_CHAR.match(char):
                return False
        elif str(op) != "CATEGORY" or str(value) not in _NON_WORD_CATEGORIES:
            return False
    return bool(members)


# Word conditions: the two readings above, extended and together. What a word of the text must
# be ("ai") or start with ("kindesmissbrauch*"), as far as the expression spells it.
_LONG_HEAD = 40  # letters of the word where a match starts, read at most
_LONG_BUDGET = 4096  # steps of that reading, at most
_OPEN_END = frozenset({PREFIX_MARK})


def word_conditions(
    source: str, flags: int, *, on_lower: bool, tree: Tree | None = None
) -> tuple[frozenset[str], ...]:
    """Sets of word conditions such that every text `source` matches in has, among its words
    (runs of ``\\w`` of the lower-cased text), a word meeting one condition of each set; most
    selective first, () when none are known. A condition is a word ("ai": a word that is
    "ai") or a prefix ("ai*": a word that starts with "ai"). `on_lower`, `tree`: as for
    `required_words`.

    `required_words` read further: the last word of a literal run that may go on is a prefix
    ("\\bkindesmissbrauch\\w*": "kindesmissbrauch*"), a run of separators that may be empty
    joins the words either side or not ("\\bai[\\s-]*genererad": "ai" and "genererad*", or
    "aigenererad*"), and lookarounds do not hide a boundary ("\\b(?<!befristete )verordnung\\b":
    "verordnung"). And the word where every match starts, as far as it is spelled
    (`word_starts` with no limit of three letters): "\\b(?:ai|computer)[\\s-]*generated\\b"
    starts at "ai", "aigenerated", "computer" or "computergenerated".
    """
    read = _read(
        source,
        flags,
        tree,
        _Scope(False, on_lower, True),
        lambda items, scope: (
            set(_words(items, scope, left=False, right=False)),
            _heads(items, scope, _LONG_HEAD, "start", [_LONG_BUDGET]),
        ),
    )
    if read is None:
        return ()
    found, starts = read
    if starts and not starts & {"", PREFIX_MARK}:
        found.add(starts)
    # A prefix of a letter or two ("c*": the parser takes the "c" out of "csam|child") is in
    # most texts: such a set says little, and every word that meets it costs a lookup.
    return tuple(sorted((option for option in found if not _weak(option)), key=_selectivity))


_WEAK_PREFIX = 3  # letters: a shorter prefix condition is met by too many words


def _weak(option: frozenset[str]) -> bool:
    return any(
        word.endswith(PREFIX_MARK) and len(word) - len(PREFIX_MARK) < _WEAK_PREFIX
        for word in option
    )


# Word starts: what ``word[:3]`` is for the text's word where a match begins (a word of fewer
# letters, whole), so that an expression is looked up under those keys like a prefix phrase.
_HEAD = 3  # haystack.PREFIX_KEY
_Heads = frozenset[str] | None


def word_starts(
    source: str, flags: int, *, on_lower: bool, tree: Tree | None = None
) -> frozenset[str] | None:
    """The values ``word[:3]`` can take for the word of the text where a match of `source`
    starts, when every match starts a word (``\\b`` or ``(?<!\\w)`` before a word character);
    None when they are not known.

    "\\bai[\\s-]*genererad" matches where a word is "ai" (a space or hyphen follows) or starts
    with "aig" ("aigenererad"): {"ai", "aig"}. `tree`: `parse(source, flags)`.
    """
    found = _read(
        source,
        flags,
        tree,
        _Scope(False, on_lower),
        lambda items, scope: _heads(items, scope, _HEAD, "start", [256]),
    )
    if not found or "" in found:
        return None
    return found


def _heads(items: _Items, scope: _Scope, left: int, state: str, budget: list[int]) -> _Heads:
    """The word characters (up to `left` more) that `items` matches first, as a set of the
    strings they can be, a shorter one where the word certainly ends; None: not known.

    `state`: "start" (no boundary seen), "word" (a boundary, no word character yet) or "in"
    (inside the word)."""
    budget[0] -= 1
    if budget[0] < 0:
        return None
    # Read extended, a word whose next characters are not known is known by its prefix: the
    # characters read so far, then "*".
    open_end = _OPEN_END if scope.extended and state == "in" else None
    if left == 0 and state == "in":
        return open_end or frozenset({""})
    if not items:
        return open_end  # what follows the expression may go on with the word
    (op, arg), rest = items[0], items[1:]
    name = str(op)
    if op is _c.LITERAL:
        char = scope.char(arg)
        if char is None:
            return open_end
        if state == "start":
            return None
        if _WORD_CHAR.match(char) is None:
            return frozenset({""}) if state == "in" else None
        tail = _heads(rest, scope, left - 1, "in", budget)
        return None if tail is None else frozenset(char + t for t in tail)
    if name in _ZERO_WIDTH and not _word_boundary(op, arg):
        # Consumes nothing: read extended, what comes next decides.
        return _heads(rest, scope, left, state, budget) if scope.extended else None
    if name == _ZERO_WIDTH_AT:
        return frozenset({""}) if state == "in" else _heads(rest, scope, left, "word", budget)
    if name == "ASSERT_NOT":
        direction, body = arg
        if direction == 1:  # (?!\w)
            return frozenset({""}) if state == "in" else None
        return None if state == "in" else _heads(rest, scope, left, "word", budget)  # (?<!\w)
    if op is _c.BRANCH:
        return _union([_heads([*a, *rest], scope, left, state, budget) for a in arg[1]])
    if op is _c.SUBPATTERN:
        _group, add_flags, del_flags, body = arg
        if scope.inner(add_flags, del_flags) != scope:
            return open_end
        return _heads([*body, *rest], scope, left, state, budget)
    if name in _REPEATS:
        low, high, body = arg
        body = list(body)
        if _non_word_item(body, scope) and state == "in":
            ends = frozenset({""})
            return ends if low > 0 else _union([ends, _heads(rest, scope, left, state, budget)])
        if low == 0 and high == 1:
            skip = _heads(rest, scope, left, state, budget)
            return _union([skip, _heads([*body, *rest], scope, left, state, budget)])
        return open_end
    if name == "IN" and state == "in" and _non_word_class(arg, scope):
        return frozenset({""})
    return open_end


def _word_boundary(op: Any, arg: Any) -> bool:
    """Whether a zero-width item is ``\\b``, ``(?!\\w)`` or ``(?<!\\w)``."""
    if str(op) == _ZERO_WIDTH_AT:
        return str(arg) == "AT_BOUNDARY"
    return str(op) == "ASSERT_NOT" and _is_word_class(list(arg[1]))


def _union(found: list[_Heads]) -> _Heads:
    if any(f is None for f in found):
        return None
    return frozenset().union(*(f for f in found if f is not None))
