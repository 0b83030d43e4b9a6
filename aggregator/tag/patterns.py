"""Patterns of config/tags.toml compiled to regular expressions, once, at load time.

A pattern is one of:

- a plain phrase: ``"chat control"``. Whole words only: it matches where no letter or digit
  touches either end, so "CSAR" matches "CSAR," and "#CSAR" but not "CSARS" or "Csarnok".
  Case and accents are folded ("Contrôle" matches "controle", "Straße" matches "strasse").
  A space in a phrase stands for any run of spaces or hyphens ("chat control" matches
  "chat-control" and a URL slug "chat-control-1-0"); a hyphen stands for a hyphen, a space or
  nothing ("client-side" matches "client side" and "clientside").
- a phrase ending in ``*``: the last word is a prefix ("detection order*" matches "detection
  orders"; "chatkontroll*" matches "Chatkontrolle").
- ``re:`` and a Python regular expression, searched in the same folded text (accents removed,
  whitespace collapsed), case-insensitively. Write word boundaries yourself (``\\b``).
  An expression written in lower case runs on the lower-cased text without the IGNORECASE
  flag, which is six times faster and means the same; one with capital letters runs on the
  text with its case kept, so ``(?-i:DSA)`` can ask for upper case.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from aggregator.tag.fold import fold, fold_non_ascii

REGEX_PREFIX = "re:"
FLAGS = re.IGNORECASE  # for `re:` patterns; phrases are lower-cased instead

_SEPARATOR = re.compile(r"([\s-]+)")
_WORD = re.compile(r"\w")
_LEADING_WORD = re.compile(r"\w+")
_WORDS = re.compile(r"\w+")
_ESCAPE = re.compile(r"\\N\{[^}]*\}|\\.")
# A regular expression that matches an empty string here would tag every item.
_EMPTY_PROBES = ("", " ", "a", "a b-c 1.")


class PatternError(ValueError):
    """A pattern is not valid. The loader turns it into a ConfigError with file and line."""

    def __init__(self, pattern: object, message: str, expected: str | None = None) -> None:
        self.pattern = pattern
        self.message = message
        self.expected = expected
        super().__init__(f"{pattern!r}: {message}")


@dataclass(frozen=True, slots=True)
class Phrase:
    """A compiled plain phrase: its expression over lower-cased folded text, and its anchor.

    The anchor is the phrase's first word (or the prefix it must start with). A text whose
    words contain no anchor of a list cannot match any phrase of it, so the expression is not
    even run: most lists match most items nowhere, and a set lookup is far cheaper than a
    regular-expression scan of a long body.
    """

    source: str
    anchor: str | None  # None: the phrase starts with punctuation; always search
    prefix: bool  # the anchor is a word prefix, not a whole word


def phrase(text: str) -> Phrase:
    """Compile a plain phrase (see the module docstring for what matches)."""
    folded = fold(text).lower()
    prefix = folded.endswith("*")
    if prefix:
        folded = folded[:-1].rstrip()
    if not folded:
        raise PatternError(text, "empty phrase", "at least one word")
    if "*" in folded:
        raise PatternError(text, "'*' inside a phrase", "'*' only at the end, as a word prefix")
    if prefix and not _WORD.match(folded[-1]):
        raise PatternError(text, "'*' must follow a letter or digit", 'e.g. "order*"')
    pieces = _SEPARATOR.split(folded)
    parts: list[str] = []
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            parts.append(re.escape(piece))
        elif piece.strip("-"):  # contains whitespace
            parts.append(r"[\s-]+")
        else:  # hyphens only
            parts.append(r"[\s-]?")
    if _WORD.match(folded[0]):
        # The word boundary before the phrase is checked after its first piece, not before
        # it: an expression that starts with a literal lets the engine jump to where that
        # literal occurs instead of trying every position (ten times faster on long texts).
        parts.insert(1, rf"(?<!\w.{{{len(pieces[0])}}})")
    if not prefix and _WORD.match(folded[-1]):
        parts.append(r"(?!\w)")
    source = "".join(parts)
    anchor, anchor_is_prefix = _anchor(pieces, prefix)
    return Phrase(source=source, anchor=anchor, prefix=anchor_is_prefix)


def _anchor(pieces: list[str], prefix: bool) -> tuple[str | None, bool]:
    """The word the text must contain for the phrase to match, and whether it is a prefix."""
    first = _LEADING_WORD.match(pieces[0])
    if first is None:
        return None, False
    word = first.group(0)
    if word != pieces[0]:  # "l'age", "jugendschutz.net": the text has this exact word
        return word, False
    if len(pieces) == 1:  # one word, maybe with "*"
        return word, prefix
    # A hyphen may stand for nothing ("cyber-grooming" matches "cybergrooming"), so the first
    # word of the text may be longer than the phrase's.
    return word, not pieces[1].strip("-")


@dataclass(frozen=True, slots=True)
class Regex:
    """A ``re:`` pattern, with a faster probe when it starts with ``\\b``.

    An expression that starts with ``\\b`` makes the engine try every position of the text;
    without it, a leading literal or group lets the engine skip to candidate characters. The
    probe (the expression minus its leading ``\\b``) matches wherever the whole one does, so a
    text the probe misses is skipped, and the whole expression only runs from the probe's first
    hit on. Most texts miss most probes.
    """

    expression: re.Pattern[str]
    probe: re.Pattern[str] | None = None
    lower: bool = True  # written in lower case: runs on the lower-cased text
    # First letters a word of the text must start with for a match (see `anchor_keys`).
    keys: frozenset[str] | None = None

    def search(self, text: str) -> bool:
        if self.probe is None:
            return self.expression.search(text) is not None
        hit = self.probe.search(text)
        return hit is not None and self.expression.search(text, hit.start()) is not None


def _probe(source: str, flags: int) -> re.Pattern[str] | None:
    if not source.startswith(r"\b") or source[2:3] in ("", "*", "+", "?", "{", "|", ")"):
        return None
    try:
        return re.compile(source[2:], flags)
    except re.error:  # "\b(" ... unbalanced once cut: no probe, the expression still works
        return None


_LEAD_WORD = re.compile(r"([a-z0-9]+)(.?)")
_LEAD_GROUP = re.compile(r"\\b\(\?:((?:[^()\[\]\\]|\\[a-zA-Z])*)\)(.?)")
_QUANTIFIERS = ("?", "*", "{")


def anchor_keys(source: str) -> frozenset[str] | None:
    """The first one to three letters a word must start with wherever `source` matches.

    Only for the shapes that are certain: ``\\bword...`` and ``\\b(?:alt|alt...)...`` with
    every alternative starting with letters or digits, and no top-level ``|``. A literal
    character made optional by ``?``, ``*`` or ``{`` does not count. None: no such letters
    are known, and the expression always runs.
    """
    if not source.startswith(r"\b") or _top_level_bar(source):
        return None
    group = _LEAD_GROUP.match(source)
    if group is not None:
        if group.group(2) in _QUANTIFIERS:
            return None
        alternatives = group.group(1).split("|")
    else:
        alternatives = [source[2:]]
    keys: set[str] = set()
    for alternative in alternatives:
        lead = _LEAD_WORD.match(alternative)
        if lead is None:
            return None
        word = lead.group(1)[:-1] if lead.group(2) in _QUANTIFIERS else lead.group(1)
        if not word:
            return None
        keys.add(word[:_PREFIX_KEY])
    return frozenset(keys)


def _top_level_bar(source: str) -> bool:
    """Whether `source` has a "|" outside every group (escapes and classes skipped)."""
    depth = 0
    index = 0
    in_class = False
    while index < len(source):
        ch = source[index]
        if ch == "\\":
            index += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return True
        index += 1
    return False


def has_capitals(source: str) -> bool:
    """Capital letters in a regex source, not counting escapes such as \\B, \\W or \\N{...}."""
    return any(ch.isupper() for ch in _ESCAPE.sub("", source))


def regex_source(source: str) -> Regex:
    """Compile and check the regular expression of a ``re:`` pattern (prefix removed)."""
    raw = REGEX_PREFIX + source
    if not source:
        raise PatternError(raw, "empty regular expression", "a regular expression after 're:'")
    source = fold_non_ascii(source)
    flags = FLAGS if has_capitals(source) else 0
    try:
        compiled = re.compile(source, flags)
    except re.error as exc:
        message = f"invalid regular expression: {exc}"
        raise PatternError(raw, message, "a Python `re` pattern") from exc
    try:
        re.compile(f"(?:{source})", flags)
    except re.error as exc:
        # Typically a global flag such as "(?s)" not at the start once wrapped.
        raise PatternError(
            raw, f"regular expression cannot be used as a group: {exc}", "scoped flags (?s:...)"
        ) from exc
    for probe in _EMPTY_PROBES:
        match = compiled.search(probe if flags else probe.lower())
        if match is not None and match.end() == match.start():
            raise PatternError(
                raw, "regular expression matches an empty string", "a pattern that needs text"
            )
    return Regex(
        expression=compiled,
        probe=_probe(source, flags),
        lower=not flags,
        # Keys are lower-case letters: certain only for an expression without IGNORECASE.
        keys=None if flags else anchor_keys(source),
    )


# Between the fields of one haystack. Neither space nor hyphen nor a word character, so no
# phrase runs from one field into the next; a regular expression with ".{0,80}" may.
FIELD_SEPARATOR = " \u00a6 "  # broken bar
# A prefix anchor ("kindesmissbrauch*") is filed under its first three letters: a cheap
# necessary condition (words are cut to three letters, not to every anchor's length), and the
# expression itself decides.
_PREFIX_KEY = 3
_SHORTER = range(1, _PREFIX_KEY)


class Haystack:
    """The text a rule searches (one field, or several joined), prepared once per item."""

    __slots__ = ("folded", "lower", "prefixes", "words")

    def __init__(
        self, folded: str, lower: str, words: frozenset[str], prefixes: frozenset[str]
    ) -> None:
        self.folded = folded  # for `re:` patterns with capitals, which may ask for case
        self.lower = lower  # for phrases and lower-case `re:` patterns
        self.words = words
        self.prefixes = prefixes  # the first 1, 2 and 3 letters of every word

    @classmethod
    def of(cls, raw: str) -> Haystack:
        """Fold and index one field."""
        folded = fold(raw)
        lower = folded.lower()
        words = frozenset(_WORDS.findall(lower))
        firsts = {w[:_PREFIX_KEY] for w in words}
        prefixes = frozenset(firsts.union(*({w[:n] for w in firsts} for n in _SHORTER)))
        return cls(folded, lower, words, prefixes)

    @classmethod
    def join(cls, parts: Sequence[Haystack]) -> Haystack:
        parts = [p for p in parts if p.folded]
        if len(parts) == 1:
            return parts[0]
        return cls(
            FIELD_SEPARATOR.join(p.folded for p in parts),
            FIELD_SEPARATOR.join(p.lower for p in parts),
            frozenset().union(*(p.words for p in parts)),
            frozenset().union(*(p.prefixes for p in parts)),
        )


@dataclass(frozen=True, slots=True)
class AnyOf:
    """Matches when any of its phrases or regular expressions is found in any haystack.

    Phrases are filed under their anchor word; a phrase is searched for only in a text that
    contains its anchor, so a long body costs a few set lookups for the lists it cannot match.
    """

    by_anchor: dict[str, tuple[re.Pattern[str], ...]] = field(default_factory=dict)
    by_prefix: dict[str, tuple[re.Pattern[str], ...]] = field(default_factory=dict)
    unanchored: tuple[re.Pattern[str], ...] = ()  # phrases starting with punctuation
    regexes: tuple[Regex, ...] = ()
    anchors: frozenset[str] = frozenset()  # the keys of by_anchor, for a set test in C
    prefixes: frozenset[str] = frozenset()  # the keys of by_prefix: first three letters

    def search(self, text: Haystack) -> bool:
        lower = text.lower
        if not self.anchors.isdisjoint(text.words):
            for word in self.anchors.intersection(text.words):
                if any(p.search(lower) is not None for p in self.by_anchor[word]):
                    return True
        if not self.prefixes.isdisjoint(text.prefixes):
            for prefix in self.prefixes.intersection(text.prefixes):
                if any(p.search(lower) is not None for p in self.by_prefix[prefix]):
                    return True
        if any(p.search(lower) is not None for p in self.unanchored):
            return True
        return any(
            r.search(lower if r.lower else text.folded)
            for r in self.regexes
            if r.keys is None or not r.keys.isdisjoint(text.prefixes)
        )


def compile_any(patterns: Sequence[object]) -> AnyOf:
    """Compile a list of patterns into one `AnyOf`.

    Each pattern keeps its own expression: joining phrases into one alternation defeats the
    engine's literal-prefix search, and joining regular expressions would renumber their groups.
    """
    phrases: list[Phrase] = []
    regexes: list[Regex] = []
    for pattern in patterns:
        if not isinstance(pattern, str):
            kind = type(pattern).__name__
            raise PatternError(pattern, f"pattern is not a string but {kind}", "a string")
        if pattern.startswith(REGEX_PREFIX):
            regexes.append(regex_source(pattern[len(REGEX_PREFIX) :]))
        else:
            phrases.append(phrase(pattern))
    by_anchor: dict[str, list[re.Pattern[str]]] = {}
    by_prefix: dict[str, list[re.Pattern[str]]] = {}
    unanchored: list[re.Pattern[str]] = []
    for item in dict.fromkeys(phrases):  # equal phrases once
        pattern = re.compile(item.source)
        if item.anchor is None:
            unanchored.append(pattern)
        elif item.prefix:
            by_prefix.setdefault(item.anchor[:_PREFIX_KEY], []).append(pattern)
        else:
            by_anchor.setdefault(item.anchor, []).append(pattern)
    return AnyOf(
        by_anchor={word: tuple(patterns) for word, patterns in by_anchor.items()},
        by_prefix={prefix: tuple(patterns) for prefix, patterns in by_prefix.items()},
        unanchored=tuple(unanchored),
        regexes=tuple(regexes),
        anchors=frozenset(by_anchor),
        prefixes=frozenset(by_prefix),
    )
