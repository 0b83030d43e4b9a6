"""Plain phrases ("chat control", "detection order*") compiled for the lower-cased folded text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aggregator.tag.fold import fold
from aggregator.tag.haystack import PREFIX_KEY
from aggregator.tag.patterns import PatternError

_SEPARATOR = re.compile(r"([\s-]+)")
_WORD = re.compile(r"\w")
_LEADING_WORD = re.compile(r"\w+")


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
    # Words the text has wherever the phrase matches (a necessary condition, checked as a
    # subset of the text's words before the expression runs).
    words: frozenset[str] = frozenset()
    # For a prefix anchor: what the first three letters of a word of the text (the whole word
    # when it is shorter) are wherever the phrase matches, one of these (see `_first_keys`);
    # None when that is not known.
    keys: frozenset[str] | None = None
    # The literal text every match starts with (its first piece, escaped into `source`): the
    # index looks for it with str.find before running the expression. It is what
    # factors.literal_prefix reads from the parse tree, known here without parsing.
    lead: str = ""


def compile_phrase(text: str) -> Phrase:
    """Compile a plain phrase (see patterns.py for what matches)."""
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
    return Phrase(
        source=source,
        anchor=anchor,
        prefix=anchor_is_prefix,
        words=_whole_words(pieces, prefix),
        keys=_first_keys(pieces, prefix) if anchor_is_prefix else None,
        lead=pieces[0],
    )


def _whole_words(pieces: list[str], prefix: bool) -> frozenset[str]:
    """The runs of letters and digits of the phrase that are whole words wherever it matches.

    A run is whole when something that is not a letter or digit bounds it on each side: inside
    its piece, a separator with a space (``[\\s-]+`` matches at least one space or hyphen), or
    the phrase's own boundary checks at either end. A hyphen-only separator may match nothing
    ("client-side" matches "clientside"), and the last word of a prefix phrase runs on, so
    runs next to those are not whole words.
    """
    words: set[str] = set()
    last = len(pieces) - 1
    for index in range(0, len(pieces), 2):
        piece = pieces[index]
        left = index == 0 or bool(pieces[index - 1].strip("-"))
        right = (index == last and not prefix) or (
            index < last and bool(pieces[index + 1].strip("-"))
        )
        for run in _LEADING_WORD.finditer(piece):
            if (run.start() > 0 or left) and (run.end() < len(piece) or right):
                words.add(run.group())
    return frozenset(words)


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


def _first_keys(pieces: list[str], prefix: bool) -> frozenset[str] | None:
    """For a phrase filed under a prefix anchor: the values ``word[:PREFIX_KEY]`` can take for
    the text's word where the phrase starts, or None when they are not known.

    An anchor of three letters or more gives its first three. A shorter one ("eu-kommission",
    "j-cat") is followed by a hyphen-only separator, which matches a space or a hyphen (the
    word is the anchor itself) or nothing (the word runs on into the next piece's letters).
    """
    anchor = pieces[0]
    if len(anchor) >= PREFIX_KEY:
        return frozenset({anchor[:PREFIX_KEY]})
    if len(pieces) == 1:  # "ai*": any word starting with the anchor
        return None
    following = pieces[2]
    run = _LEADING_WORD.match(following)
    joined = anchor + (run.group() if run else "")
    if len(joined) >= PREFIX_KEY:
        return frozenset({anchor, joined[:PREFIX_KEY]})
    if run is not None and run.group() == following and (len(pieces) > 3 or prefix):
        return None  # the word may run on into a later piece: not known
    return frozenset({anchor, joined})
