"""The text a rule searches, folded and indexed once per item."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aggregator.tag.fold import fold

_WORDS = re.compile(r"\w+")

# Between the fields of one haystack. Neither space nor hyphen nor a word character, so no
# phrase runs from one field into the next; a regular expression with ".{0,80}" may.
FIELD_SEPARATOR = " \u00a6 "  # broken bar
# A prefix anchor ("kindesmissbrauch*") is filed under its first three letters: a cheap
# necessary condition (words are cut to three letters, not to every anchor's length), and the
# expression itself decides.
PREFIX_KEY = 3
_SHORTER = range(1, PREFIX_KEY)
# Every ASCII character that is not a word character, to a space.
_ASCII_NON_WORD = str.maketrans(
    {chr(c): " " for c in range(128) if not (chr(c).isalnum() or chr(c) == "_")}
)


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
        if lower.isascii():
            # The same words as _WORDS.findall (in ASCII, \w is [A-Za-z0-9_]) in a third of
            # the time: str.translate and str.split have fast paths for ASCII text.
            words = frozenset(lower.translate(_ASCII_NON_WORD).split())
        else:
            words = frozenset(_WORDS.findall(lower))
        firsts = {w[:PREFIX_KEY] for w in words}
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
