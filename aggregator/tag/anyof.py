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
            regexes.append(compile_regex(pattern[len(REGEX_PREFIX) :]))
        else:
            phrases.append(compile_phrase(pattern))
    by_anchor: dict[str, list[re.Pattern[str]]] = {}
    by_prefix: dict[str, list[re.Pattern[str]]] = {}
    unanchored: list[re.Pattern[str]] = []
    words: dict[str, frozenset[str]] = {}
    first_keys: dict[str, frozenset[str] | None] = {}
    for item in dict.fromkeys(phrases):  # equal phrases once
        pattern = re.compile(item.source)
        words[item.source] = words.get(item.source, item.words) & item.words
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
    )
