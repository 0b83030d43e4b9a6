"""Whether a text is folded already: shared by the parse stage's and the tagger's folding,
which import nothing of each other (the tagger runs without lxml)."""

from __future__ import annotations


def single_spaced(text: str) -> bool:
    """Whether an ASCII text is its own " ".join(text.split()): its only whitespace (ASCII's
    is these ten characters, to str.split) is single spaces between other characters. Ten
    searches in C (most for one character, a memchr) cost a quarter of the split and join."""
    return not (
        "  " in text
        or "\n" in text
        or "\t" in text
        or "\r" in text
        or "\x0b" in text
        or "\x0c" in text
        or "\x1c" in text
        or "\x1d" in text
        or "\x1e" in text
        or "\x1f" in text
        or text[:1] == " "
        or text[-1:] == " "
    )
