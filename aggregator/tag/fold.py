"""Text folding shared by patterns and the text they are matched against.

Both sides go through the same fold, so a rule written as "contrôle des chats" matches
"Controle des chats", and "Straße" matches "Strasse". Case is kept (patterns are compiled
case-insensitive instead) so that a `re:` pattern can still ask for case with ``(?-i:...)``.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from functools import lru_cache

from aggregator.spacing import single_spaced

# Letters that NFKD does not decompose but that readers treat as a base letter plus a mark,
# or as a spelling variant (ß/ss). Typographic apostrophes and hyphens become ASCII so that
# "survivors’ rights" and "end‑to‑end" (non-breaking hyphens) match plain patterns.
_TABLE = {
    "ß": "ss",
    "ẞ": "SS",
    "æ": "ae",
    "Æ": "AE",
    "œ": "oe",
    "Œ": "OE",
    "ø": "o",
    "Ø": "O",
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "ı": "i",
    "\u2018": "'",
    "\u2019": "'",
    "\u02bc": "'",
    "\u2010": "-",
    "\u2011": "-",
    "\u00ad": "",  # soft hyphen: invisible, splits words in scraped HTML
}
# str.translate with a table looks up every character in Python; a regex finds the few there are.
_SPECIAL = re.compile("[" + "".join(map(re.escape, _TABLE)) + "]")
# NFKD puts the diacritics of Latin, Greek and Cyrillic letters in these blocks.
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def _strip_accents(text: str) -> str:
    text = _SPECIAL.sub(lambda match: _TABLE[match.group()], text)
    return _MARKS.sub("", unicodedata.normalize("NFKD", text))


# Folding a text is folding each of its runs of non-ASCII characters: NFKD leaves ASCII
# characters alone, and it reorders only combining marks, never across an ASCII character.
# The ASCII encoder finds those runs in C, a hundred times faster than a scan by a regular
# expression or unicodedata, and hands each one to this error handler, whose answer (bytes,
# UTF-8) it copies in; most texts have a few runs ("’", "…", "é"), the same ones again.
_FOLD_RUNS = "aggregator.tag.fold"


@lru_cache(maxsize=4096)
def _folded_run(run: str) -> bytes:
    return _strip_accents(run).encode("utf-8", "surrogatepass")


def _fold_run(error: UnicodeError) -> tuple[bytes, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return _folded_run(error.object[error.start : error.end]), error.end


codecs.register_error(_FOLD_RUNS, _fold_run)


def fold(text: str) -> str:
    """Accent-fold `text` and collapse whitespace to single spaces; case is kept."""
    if not text.isascii():
        text = text.encode("ascii", _FOLD_RUNS).decode("utf-8", "surrogatepass")
    if text.isascii() and single_spaced(text):
        return text  # as normalise leaves item texts: splitting and joining would copy it
    # str.split() splits where re's \s matches (both are Py_UNICODE_ISSPACE), in a third of
    # the time of _SPACE.sub(" ", text).strip().
    return " ".join(text.split())


def fold_non_ascii(source: str) -> str:
    """Fold only the non-ASCII characters of a regular expression's source.

    Every piece of regex syntax is ASCII, so this leaves escapes such as ``\\S`` or ``\\B``
    alone while an accented literal ("contrôle") is folded like the text it will meet.
    """
    if source.isascii():
        return source
    return "".join(ch if ch.isascii() else _strip_accents(ch) for ch in source)
