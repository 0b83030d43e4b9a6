"""The dedupe tokeniser against a plain reference: the fast path must give the same words,
keyword flags and sentence breaks (they decide matches and the template guard)."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from aggregator.dedupe.signatures import _NOT_NAMES, tokenise_sentences, words

_WORD = re.compile(r"\w+", re.UNICODE)
_GAP = re.compile(r"[.!?:;]['\"\u2019\u201d)\]]*\s|\n")
_END = re.compile(r"[.!?]['\"\u2019\u201d)\]]*\s*$")


def reference(text: str) -> tuple[tuple[str, ...], tuple[bool, ...], frozenset[int]]:
    """One regex search per pair of neighbouring words: slow, and obviously right."""
    text = unicodedata.normalize("NFKC", text)
    matches = list(_WORD.finditer(text))
    words = [m.group() for m in matches]
    breaks = {0}
    for index in range(1, len(matches)):
        if _GAP.search(text, matches[index - 1].end(), matches[index].start()):
            breaks.add(index)
    if matches and _END.search(text, matches[-1].end()):
        breaks.add(len(matches))
    keyword = tuple(
        any(ch.isdigit() for ch in w) or (w[:1].isupper() and w.casefold() not in _NOT_NAMES)
        for w in words
    )
    return tuple(w.casefold() for w in words), keyword, frozenset(breaks)


PIECES = st.sampled_from(
    [
        "The",
        "Council",
        "agreed",
        "the",
        "1.5",
        "million",
        "2023/1215",
        "²",
        "x_y",
        "Ümlaut",
        "ÉCPAT",
        "der",
        ".",
        "!",
        "?",
        ":",
        ";",
        ",",
        "'",
        '"',
        "\u2019",
        "\u201d",
        ")",
        "]",
        " ",
        "  ",
        "\n",
        "\t",
        "...",
        "ﬁle",
        "Ⅻ",
        "٣",
        "-",
    ]
)


@given(st.lists(PIECES, max_size=40).map("".join))
def test_tokenise_sentences_matches_the_reference(text: str) -> None:
    expected = reference(text)
    assert tokenise_sentences(text) == expected
    assert words(text) == expected[0]


def test_tokenise_sentences_on_press_release_text() -> None:
    text = (
        "BRUSSELS. The Council adopted its position on 12 May 2025: 43 suspects were "
        "arrested! \u201cWe act now.\u201d Read more\nEnd of release"
    )
    tokens, keyword, breaks = tokenise_sentences(text)
    assert tokens[:3] == ("brussels", "the", "council")
    assert keyword[tokens.index("council")] and not keyword[tokens.index("adopted")]
    assert breaks == reference(text)[2]
    assert tokens.index("the") in breaks and tokens.index("43") in breaks
