"""Whether a text is folded already: shared by the parse stage's and the tagger's folding,
which import nothing of each other (the tagger runs without lxml)."""

from __future__ import annotations

import re

# No-break spaces: the plain one, the narrow one French sets before ":", "%", inside « »
# and in "3 440", and the figure space. Between two words they hold them together.
GLUE = "\u00a0\u202f\u2007"
_RUN = re.compile(r"\s+")
_BREAKABLE = re.compile(rf"[^\S{GLUE}]+")
_GLUE_RUN = re.compile(rf"[{GLUE}]+")


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


def has_glue(text: str) -> bool:
    return "\u00a0" in text or "\u202f" in text or "\u2007" in text


def fold_spaces(text: str) -> str:
    """`" ".join(text.split())`, except that a no-break space standing alone between two
    words is kept, as the writer set it ("6\u00a0%", "«\u00a0chat control\u00a0»"): folded,
    a plain-text digest broke its line between "6" and "%". One beside other spaces ("text.
    &nbsp; Next", as editors write) is folded with them."""
    if not has_glue(text):
        return " ".join(text.split())
    return _RUN.sub(_space_or_glue, text).strip()


def _space_or_glue(run: re.Match[str]) -> str:
    found = run.group()
    return found if len(found) == 1 and found in GLUE else " "


GLUED_AT_MOST = 30  # characters held together by no-break spaces, before they break too


def breakable_words(text: str) -> list[str]:
    """The words of folded text that a line may break between: a no-break space is no break,
    unless what it glues runs past GLUED_AT_MOST characters (editors that put one in place of
    every space would leave a line nowhere to break)."""
    if not has_glue(text):
        return text.split()
    found: list[str] = []
    for word in _BREAKABLE.split(text):
        if len(word) > GLUED_AT_MOST and has_glue(word):
            found.extend(part for part in _GLUE_RUN.split(word) if part)
        elif word:
            found.append(word)
    return found
