"""A list of patterns compiled into one matcher: `any`, `none`, and each entry of `all`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from aggregator.tag.haystack import PREFIX_KEY, Haystack
from aggregator.tag.patterns import REGEX_PREFIX, PatternError
from aggregator.tag.phrase import Phrase, compile_phrase
from aggregator.tag.regex import Regex, compile_regex


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
    # expression source -> the whole words a text needs for it to match (Phrase.words)
    words: dict[str, frozenset[str]] = field(default_factory=dict)
    # expression source of a phrase in `by_prefix` -> its Phrase.keys, for the index
    first_keys: dict[str, frozenset[str] | None] = field(default_factory=dict)
    # expression source of a phrase -> the literal text its matches start with (Phrase.lead)
    leads: dict[str, str] = field(default_factory=dict)

    def search(self, text: Haystack) -> bool:
        lower = text.lower
        words = text.words
        if not self.anchors.isdisjoint(words):
            for word in self.anchors.intersection(words):
                if any(self._found(p, lower, words) for p in self.by_anchor[word]):
                    return True
        if not self.prefixes.isdisjoint(text.prefixes):
            for prefix in self.prefixes.intersection(text.prefixes):
                if any(self._found(p, lower, words) for p in self.by_prefix[prefix]):
                    return True
        if any(p.search(lower) is not None for p in self.unanchored):
            return True
        return any(
            r.search(lower if r.lower else text.folded)
            for r in self.regexes
            if r.keys is None or not r.keys.isdisjoint(text.prefixes)
        )

    def _found(self, phrase: re.Pattern[str], lower: str, words: frozenset[str]) -> bool:
        return self.words[phrase.pattern] <= words and phrase.search(lower) is not None


class PatternCache:
    """Each pattern compiled once, however many lists name it.

    A list such as ``@child-abuse`` is expanded into every rule that uses it, so one load
    meets the same pattern many times; compiling and analysing it again each time was most
    of what loading the rules cost. `Phrase` and `Regex` are frozen, so the lists share them.
    Errors are not kept: a bad pattern raises wherever it is met.
    """

    def __init__(self) -> None:
        self._patterns: dict[str, Phrase | Regex] = {}
        self._expressions: dict[str, re.Pattern[str]] = {}

    def pattern(self, pattern: str) -> Phrase | Regex:
        compiled = self._patterns.get(pattern)
        if compiled is None:
            if pattern.startswith(REGEX_PREFIX):
                compiled = compile_regex(pattern[len(REGEX_PREFIX) :])
            else:
                compiled = compile_phrase(pattern)
            self._patterns[pattern] = compiled
        return compiled

    def expression(self, phrase: Phrase) -> re.Pattern[str]:
        """The compiled expression of a phrase (two spellings may fold to one)."""
        expression = self._expressions.get(phrase.source)
        if expression is None:
            expression = self._expressions[phrase.source] = re.compile(phrase.source)
        return expression


def compile_any(patterns: Sequence[object], cache: PatternCache | None = None) -> AnyOf:
    """Compile a list of patterns into one `AnyOf` (each pattern once per `cache`).

    Each pattern keeps its own expression: joining phrases into one alternation defeats the
    engine's literal-prefix search, and joining regular expressions would renumber their groups.
    """
    if cache is None:
        cache = PatternCache()
    phrases: list[Phrase] = []
    regexes: list[Regex] = []
    for pattern in patterns:
        if not isinstance(pattern, str):
            kind = type(pattern).__name__
            raise PatternError(pattern, f"pattern is not a string but {kind}", "a string")
        compiled = cache.pattern(pattern)
        if isinstance(compiled, Regex):
            regexes.append(compiled)
        else:
            phrases.append(compiled)
    by_anchor: dict[str, list[re.Pattern[str]]] = {}
    by_prefix: dict[str, list[re.Pattern[str]]] = {}
    unanchored: list[re.Pattern[str]] = []
    words: dict[str, frozenset[str]] = {}
    first_keys: dict[str, frozenset[str] | None] = {}
    leads: dict[str, str] = {}
    for item in dict.fromkeys(phrases):  # equal phrases once
        pattern = cache.expression(item)
        words[item.source] = words.get(item.source, item.words) & item.words
        leads[item.source] = item.lead
        if item.anchor is None:
            unanchored.append(pattern)
        elif item.prefix:
            by_prefix.setdefault(item.anchor[:PREFIX_KEY], []).append(pattern)
            first_keys[item.source] = item.keys
        else:
            by_anchor.setdefault(item.anchor, []).append(pattern)
    return AnyOf(
        by_anchor={word: tuple(patterns) for word, patterns in by_anchor.items()},
        by_prefix={prefix: tuple(patterns) for prefix, patterns in by_prefix.items()},
        unanchored=tuple(unanchored),
        regexes=tuple(regexes),
        anchors=frozenset(by_anchor),
        prefixes=frozenset(by_prefix),
        words=words,
        first_keys=first_keys,
        leads=leads,
    )
