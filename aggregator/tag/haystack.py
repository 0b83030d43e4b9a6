"""The text a rule searches, folded and indexed once per item."""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from operator import itemgetter

from aggregator.tag.fold import fold

_WORDS = re.compile(r"\w+")

# Joins the parts of one field (a summary and the body, two categories). Not a space or hyphen,
# so no phrase can run across two parts; spaces either side, so that folding the parts and
# joining them is folding the joined text (index.py).
PART_SEPARATOR = " | "
# Between the fields of one haystack. Neither space nor hyphen nor a word character, so no
# phrase runs from one field into the next; a regular expression with ".{0,80}" may.
FIELD_SEPARATOR = " \u00a6 "  # broken bar
# A prefix anchor ("kindesmissbrauch*") is filed under its first three letters: a cheap
# necessary condition (words are cut to three letters, not to every anchor's length), and the
# expression itself decides.
PREFIX_KEY = 3
# A word's first three letters, and its shorter prefixes (slicing in C, for map()).
_FIRST = itemgetter(slice(PREFIX_KEY))
_SHORTER = tuple(itemgetter(slice(n)) for n in range(1, PREFIX_KEY))
# Every byte that is not an ASCII word character, to a space (for bytes.translate).
_ASCII_NON_WORD = bytes(
    c if c < 128 and (chr(c).isalnum() or chr(c) == "_") else ord(" ") for c in range(256)
)


class Haystack:
    """The text a rule searches (one field, or several joined), prepared once per item.

    The reference path (`AnyOf.search`); tagging an item reads its fields through the index
    (index.py), which needs only some of this."""

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
        words = words_of(lower)
        firsts = frozenset(map(_FIRST, words))
        prefixes = firsts.union(*(map(cut, firsts) for cut in _SHORTER))
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


def words_of(lower: str) -> frozenset[str]:
    """The words (runs of ``\\w``) of a lower-cased folded text."""
    return frozenset(tokens_of(lower))


def tokens_of(lower: str) -> list[str]:
    """The runs of ``\\w`` of a lower-cased folded text, in order, as ``re.findall`` gives them."""
    try:
        # What folding leaves outside ASCII is mostly punctuation ("“", "—", "€"): a space
        # for it keeps the words apart as well (see _space_run).
        data = lower.encode("ascii", _SPACE_RUNS)
    except _WordRun:
        return _WORDS.findall(lower)
    # In ASCII, \w is [A-Za-z0-9_]: every other byte becomes a space, and split() cuts the
    # words out, in C with no per-character lookups (str.translate does one per character).
    return data.translate(_ASCII_NON_WORD).decode("ascii").split()


def word_bytes_of(lower: str) -> list[bytes]:
    """`tokens_of(lower)`, each word encoded in UTF-8: in ASCII text, cut out of the encoded
    text and never decoded (the index looks words up as bytes, index.py)."""
    try:
        data = lower.encode("ascii", _SPACE_RUNS)
    except _WordRun:
        return [word.encode("utf-8", "surrogatepass") for word in _WORDS.findall(lower)]
    return data.translate(_ASCII_NON_WORD).split()


class _WordRun(Exception):
    """A run of non-ASCII characters has a word character ("ж"): no ASCII fast path."""


_SPACE_RUNS = "aggregator.tag.haystack"


def _space_run(error: UnicodeError) -> tuple[bytes, int]:
    """Encoding error handler: a run of non-ASCII characters with no word character is a
    space (it separates words as well as it did); one with a word character stops it all."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    if _WORDS.search(error.object, error.start, error.end) is not None:
        raise _WordRun
    return b" ", error.end


codecs.register_error(_SPACE_RUNS, _space_run)
