"""How garbled a single-byte reading of a document looks, by the letters of its languages.

charset-normalizer's chaos measure scores "Pe³na tre¶æ komunikatu, ¿ó³æ" (Polish ISO-8859-2
read as ISO-8859-1) as clean text: each character there is printable, and it does not know
which of them belong together. What gives such mojibake away:

- signs inside words: read in the wrong code page, a letter's byte lands on a sign, so
  "±", "³", "¶", "¼" stand between letters, where no text has them (Czech "¹" and "¾" for
  "š" and "ž", Greek capitals with tonos as "¸", "¹", "º");
- letters of no one language: Hungarian "ő" read as "õ", Croatian "č" and "đ" as "è" and
  "ð", Romanian "ț" as "þ" are letters, but no language has them along with the rest;
- Greek or Cyrillic letters inside a word of Latin ones ("Sψren"): Western text read as
  ISO-8859-7 or windows-1251.

A reading's misfit in a language counts the non-ASCII characters that are any of these.
The languages' letters are a table: which single-byte encodings a language is written in is
`encoding`'s business.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

# The letters beyond ASCII of each language written in the Latin script. Not a spelling
# reference: what tells a reading in the language's encoding from one in another. English
# has none of its own ("café" is French to this table).
_LATIN_ALPHABETS: dict[str, str] = {
    "pl": "ąćęłńóśźż",
    "cs": "áčďéěíňóřšťúůýž",
    "sk": "áäčďéíĺľňóôŕšťúýž",
    "hu": "áéíóöőúüű",
    **dict.fromkeys(("sl", "hr", "bs"), "čćđšž"),
    "ro": "ăâîșțşţ",
    "lv": "āčēģīķļņšūž",
    "lt": "ąčęėįšųūž",
    "et": "äõöüšž",
    "tr": "çğıöşüâîû",
    "mt": "ċġħżàèìòù",
    "sq": "çë",
    "fr": "àâæçéèêëîïôœùûüÿ",
    "de": "äöüß",
    "lb": "äëéöüè",
    "nl": "éèëïöüáóúç",
    "it": "àèéìíîòóùú",
    **dict.fromkeys(("es", "gl"), "áéíñóúü"),
    "ca": "àçéèíïòóúü",
    "eu": "ñ",
    "pt": "áàâãçéêíóôõú",
    "da": "æøåé",
    **dict.fromkeys(("no", "nb", "nn"), "æøåéèóô"),
    "sv": "åäöé",
    "fi": "äöåšž",
    "is": "áðéíóúýþæö",
    "ga": "áéíóú",
    "en": "",
}
_CYRILLIC = frozenset(chr(c) for c in range(0x400, 0x460))
_GREEK = frozenset(chr(c) for c in range(0x386, 0x3D0))

LATIN_ALPHABETS: dict[str, frozenset[str]] = {
    language: frozenset(letters + letters.upper()) for language, letters in _LATIN_ALPHABETS.items()
}
ALPHABETS: dict[str, frozenset[str]] = {
    **LATIN_ALPHABETS,
    **dict.fromkeys(("bg", "ru", "uk", "be", "mk", "sr"), _CYRILLIC),
    "el": _GREEK,
}

# Signs a word may hold anywhere: apostrophes, dashes, the Catalan middle dot
# ("col·lecció"), the soft hyphen. Never evidence of anything.
_IN_WORDS = "'’‘´`·\u00ad‐‑–—…"
# Signs that touch a word at one end in real text: quotes («Wort», „Wort“), Spanish openers
# ("¿Qué"), marks ("Brand®"), units ("m²", "m³", "20 °C", "ºC"), ordinals ("Nº"), money.
# Between two letters they are as odd as any other sign.
_AT_WORD_ENDS = frozenset("«»‹›„“”‚¿¡®™©°²³¹ºª€£$§†‡•%‰")
# Exponents end the word of a unit, and units are written in ASCII: "km²", not "przyjħ³"
# (Polish "przyjął" read as ISO-8859-3, where "ħ" is a Maltese letter).
_EXPONENTS = frozenset("¹²³")


def _is_sign(char: str) -> bool:
    # ª and º, ordinal indicators, are letters to Unicode but signs in text; "³" and "¼"
    # are numbers to it.
    return char in "ªº" or not (char.isalpha() or char.isspace() or char < "\x80")


# The signs of the single-byte encodings web pages are written in: where mojibake puts them.
_WEB_SINGLE_BYTE = (
    *(f"cp{n}" for n in range(1250, 1259)),
    *(f"iso8859_{n}" for n in (1, 2, 3, 4, 5, 7, 9, 10, 13, 14, 15, 16)),
    *("koi8_r", "koi8_u"),
)
_SIGN_CHARACTERS = "".join(
    sorted(
        {
            char
            for codec in _WEB_SINGLE_BYTE
            for char in bytes(range(0x80, 0x100)).decode(codec, errors="ignore")
            if _is_sign(char) and char not in _IN_WORDS
        }
    )
)
_SIGN_SET = frozenset(_SIGN_CHARACTERS)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_SCRIPT_LETTERS = re.compile(r"[\u0370-\u04ff]+")  # Greek and Cyrillic


@dataclass(frozen=True, slots=True)
class Reading:
    """What a reading's non-ASCII characters are made of."""

    letters: Counter[str]  # non-ASCII letters, by character
    odd: int  # signs standing where text has none, letters in a word of another script
    characters: int  # non-ASCII letters and signs, all told

    def misfit(self, language: str) -> int:
        """How many of the non-ASCII characters are odd or letters the language does not
        have; all of them for a language of no known alphabet."""
        alphabet = ALPHABETS.get(language.split("-")[0].lower())
        if alphabet is None:
            return self.characters
        foreign = sum(count for letter, count in self.letters.items() if letter not in alphabet)
        return foreign + self.odd

    def least_misfit(self, languages: Iterable[str]) -> int:
        """The misfit in the one of `languages` the reading fits best."""
        return min((self.misfit(language) for language in languages), default=self.characters)


def reading(text: str) -> Reading:
    """The non-ASCII letters and the odd characters of `text` (a document's first 64 KiB)."""
    found = Counter(_NON_ASCII.findall(text))
    letters = Counter({c: n for c, n in found.items() if c.isalpha() and c not in "ªº"})
    signs = [c for c in found if c in _SIGN_SET]
    odd = 0
    if signs:  # the runs of the signs there are: one pattern of them all is slower
        for run in re.finditer(f"[{re.escape(''.join(sorted(signs)))}]+", text):
            odd += _odd_signs(text, *run.span())
    if any("\u0370" <= c <= "\u04ff" for c in letters):
        # Greek or Cyrillic letters touching a Latin one: a word of no script.
        for run in _SCRIPT_LETTERS.finditer(text):
            start, end = run.span()
            if _is_latin(text, start - 1) or _is_latin(text, end):
                odd += end - start
    characters = letters.total() + sum(found[sign] for sign in signs)
    return Reading(letters=letters, odd=odd, characters=characters)


def _odd_signs(text: str, start: int, end: int) -> int:
    """How many of the signs text[start:end] stand where text has none."""
    chars = text[start:end]
    before = start > 0 and text[start - 1].isalpha()
    after = end < len(text) and text[end].isalpha()
    if before and after:
        return len(chars)
    if not (before or after):
        return 0
    odd = sum(1 for char in chars if char not in _AT_WORD_ENDS)
    if before:
        return odd + (chars[0] in _EXPONENTS and not text[start - 1].isascii())
    # An ordinal indicator opens no word ("ºi" is Romanian "și" in windows-1252), but the
    # "ºC" of a temperature.
    return odd + (chars[-1] in "ºª" and text[end].islower())


def _is_latin(text: str, index: int) -> bool:
    return 0 <= index < len(text) and text[index].isascii() and text[index].isalpha()


# A reading is plainly less garbled than another when it is clean (at most this share of its
# non-ASCII characters misfit) and misfits fewer characters, by at least one and by this share
# of the characters the two readings disagree on: a Western page with a Danish name in it
# ("Søren", "Sřren" in ISO-8859-2) is no Czech page, and real text in its own encoding has
# (nearly) no misfit for another reading to improve on.
_CLEAN_SHARE = 0.1
_DISAGREEMENT_SHARE = 0.25


def enough_to_improve_on(claimed_misfit: int, disagreeing: int) -> bool:
    """Whether a reading misfitting `claimed_misfit` characters leaves another, disagreeing
    with it on `disagreeing` characters, enough to be plainly less garbled."""
    return claimed_misfit >= max(1, _DISAGREEMENT_SHARE * disagreeing)


def plainly_less_garbled(
    other: Reading, other_misfit: int, claimed_misfit: int, disagreeing: int
) -> bool:
    """Whether `other`, misfitting `other_misfit` characters, reads plainly less garbled
    than a reading that misfits `claimed_misfit`, the two disagreeing on `disagreeing`."""
    clean = other_misfit <= _CLEAN_SHARE * other.characters
    return clean and enough_to_improve_on(claimed_misfit - other_misfit, disagreeing)
