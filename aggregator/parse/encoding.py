"""Decide a document's character encoding and decode it, the way browsers do.

Order of evidence: a byte-order mark, then the HTTP ``charset``, then the document's own
declaration (``<?xml encoding=...?>``, ``<meta charset>``), then detection
(charset-normalizer). Labels lie often enough that each claim is checked against the bytes:

- a label the bytes do not decode under is dropped (a page "in utf-8" that is really
  windows-1252);
- a single-byte label (latin-1, windows-1252, ...) on bytes that are valid, non-ASCII UTF-8
  is overruled in favour of UTF-8: real latin-1 text is practically never valid UTF-8, while
  UTF-8 served under a stale latin-1 label is common (miniflux's "incorrect prolog" cases);
- bytes that are mostly UTF-8 are read as UTF-8 even where a few bytes are not, whether
  labelled utf-8, labelled with a legacy encoding as above, or not labelled at all
  (`_MOSTLY_UTF8_RATIO` says what "mostly" is): one stray byte (0xA9, a "©" pasted from a
  windows-1252 template) must not turn every other character into mojibake. Each stray byte
  is read as windows-1252, which is what such bytes are in practice, and each cut-off UTF-8
  sequence becomes U+FFFD; a warning says how many;
- detection never picks UTF-8 for bytes that failed strict UTF-8 decoding, and prefers
  windows-1252 when it is as plausible as the detector's favourite, because that is the web's
  default for the Western European languages most of our sources use;
- a single-byte reading that no language's letters fit ("Pe³na tre¶æ", Polish ISO-8859-2
  read as ISO-8859-1, looks clean to the detector's chaos measure) gives way to the
  encoding of a language that reads the bytes as its own letters (`garble`): in the
  source's or the document's language when there is one, else in whichever fits best.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Literal

import charset_normalizer
from charset_normalizer.md import mess_ratio

from aggregator.parse.garble import (
    ALPHABETS,
    LATIN_ALPHABETS,
    enough_to_improve_on,
    plainly_less_garbled,
    reading,
)

Markup = Literal["xml", "html", "json"]

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 first: its little-endian BOM starts with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([\w.:-]+)["']""", re.IGNORECASE)
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([\w.:-]+)""",
    re.IGNORECASE,
)
_COMMENT = re.compile(rb"<!--.*?(?:-->|\Z)", re.S)
# Browsers look for <meta charset> in the first 1024 bytes; real pages put it later than that
# often enough (long <head> comments, inline scripts) that a wider window pays off.
_META_WINDOW = 16 * 1024

# Labels that browsers read as windows-1252 (WHATWG Encoding Standard): its C1 range holds
# the curly quotes and dashes that "latin-1" documents use in practice.
_AS_WINDOWS_1252 = frozenset({"latin_1", "iso8859_1", "ascii", "cp1252"})
_UNICODE = frozenset(
    {"utf_8", "utf_16", "utf_16_le", "utf_16_be", "utf_32", "utf_32_le", "utf_32_be"}
)
_WESTERN = ("cp1252", "latin_1", "iso8859_15")
_DETECTION_MARGIN = 0.01  # chaos (0..1) within which windows-1252 beats the favourite

# The legacy encodings of a language's texts, for a document that declares none. The
# detector alone reads undeclared Polish ISO-8859-2 as Celtic ISO-8859-14 (their letters
# differ in a few bytes, and both look like text): what the source is configured in, or what
# the document says its language is, settles it.
_ENCODINGS_OF_LANGUAGE: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("pl", "cs", "sk", "hu", "sl", "hr", "bs"), ("iso8859_2", "cp1250")),
    "ro": ("iso8859_16", "iso8859_2", "cp1250"),
    **dict.fromkeys(("lt", "lv"), ("cp1257", "iso8859_13", "iso8859_4")),
    "et": ("cp1257", "iso8859_13", "iso8859_15", "cp1252"),
    "el": ("iso8859_7", "cp1253"),
    **dict.fromkeys(("bg", "ru", "uk", "be", "mk", "sr"), ("cp1251", "koi8_r", "koi8_u")),
    "tr": ("cp1254", "iso8859_9"),
    "mt": ("iso8859_3",),
}
_LANGUAGE_MARGIN = 0.05  # chaos within which the language's encoding beats the favourite
# The letters beyond ASCII of the languages above written in the Latin script. Of a language's
# encodings that read a document about as cleanly, the one that reads the most of these wins:
# Latvian in windows-1257 also reads as ISO-8859-4, and the detector scored that cleaner
# ("«Rīga»" as "ĢRîgaģ": "Ģ", "î" are letters, just not Latvian ones). Not for Cyrillic or
# Greek, whose encodings all read the bytes as letters of the script.
_ALPHABET_OF_LANGUAGE: dict[str, frozenset[str]] = {
    language: frozenset(letter for letter in LATIN_ALPHABETS[language] if letter.islower())
    for language in _ENCODINGS_OF_LANGUAGE
    if language in LATIN_ALPHABETS
}
# The single-byte encodings a language is written in: the above, and the Western ones.
_LEGACY_OF_LANGUAGE: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        (
            *("en", "fr", "de", "nl", "it", "es", "pt", "da", "sv", "fi", "ga", "lb"),
            *("ca", "eu", "gl", "is", "no", "nb", "nn"),
        ),
        ("cp1252", "iso8859_15"),
    ),
    **_ENCODINGS_OF_LANGUAGE,
}
# Where XML feeds and HTML pages say their language, read from the raw bytes (ASCII-safe in
# every encoding the detector gets to see).
_DECLARED_LANGUAGE = re.compile(
    rb"""<(?:dc:)?language>\s*([a-z]{2,3})\b|\b(?:xml:)?lang\s*=\s*["']?([a-z]{2,3})\b""",
    re.IGNORECASE,
)
_LANGUAGE_WINDOW = 64 * 1024

# Mostly UTF-8: at least this many valid multi-byte sequences per invalid byte. Text in a
# legacy encoding forms valid UTF-8 sequences only by chance: Western single-byte text almost
# never (an accented letter is followed by a letter, not by a byte in 0x80-0xBF), and even
# the worst cases measured, EUC-JP, Shift_JIS and GBK text, stay near one valid sequence for
# three invalid bytes (only a document with no more than three to five CJK or Thai characters
# in all can reach two). UTF-8 with a stray byte has dozens of valid sequences per invalid
# byte, and feedparser's "linenoise" case (two valid, one stray) still passes.
_MOSTLY_UTF8_RATIO = 2
_ASCII_BYTES = bytes(range(0x80))


def _stray_byte(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D: undefined in windows-1252
        return "\ufffd"


_SEQUENCE_LENGTH = {0xC: 2, 0xD: 2, 0xE: 3, 0xF: 4}  # by a lead byte's high nibble
_STRAY_BYTES = tuple(_stray_byte(byte) if byte >= 0x80 else "\ufffd" for byte in range(0x100))


def _read_strays(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler for mostly-UTF-8 bytes, one invalid stretch at a time.

    A lead byte with the continuation bytes that follow it (up to its sequence's length) is
    a UTF-8 sequence cut short (a summary truncated mid-character) or malformed (an encoded
    surrogate, an overlong form): one U+FFFD, as browsers do. So is a lead byte alone at the
    very end, or right before the lead byte of another sequence ("Za\xc3\xc5\x82": an "ó"
    cut to its first byte, then "ł"): windows-1252 text has two such letters in a row
    ("Ã" then "Å") practically never. Any other byte on its own is a stray, in practice
    windows-1252 (the "©", "é" or "’" of a pasted snippet, followed by ASCII).
    """
    if not isinstance(error, UnicodeDecodeError):
        raise error
    data, start = error.object, error.start
    lead = data[start]
    length = _SEQUENCE_LENGTH.get(lead >> 4, 1) if lead <= 0xF4 else 1
    end = start + 1
    while end < min(start + length, len(data)) and 0x80 <= data[end] <= 0xBF:
        end += 1
    if end == start + 1 and length > 1 and (end == len(data) or _LEADS[data[end]]):
        return "\ufffd", end  # cut to its lead byte
    return (_STRAY_BYTES[lead] if end == start + 1 else "\ufffd"), end


_LEADS = tuple(0xC2 <= byte <= 0xF4 for byte in range(0x100))
_STRAYS_HANDLER = "aggregator.utf-8-strays"
codecs.register_error(_STRAYS_HANDLER, _read_strays)


@dataclass(frozen=True, slots=True, kw_only=True)
class Decoded:
    text: str  # without the byte-order mark
    encoding: str  # Python codec name actually used
    declared: str | None  # what the bytes or headers claimed, when it was overruled
    warnings: tuple[str, ...] = ()


# Labels browsers know (WHATWG Encoding Standard) and Python's codec registry does not.
_WHATWG_LABELS = {
    **{f"x-cp{n}": f"cp{n}" for n in range(1250, 1259)},
    "x-mac-roman": "mac_roman",
    "x-mac-cyrillic": "mac_cyrillic",
    "x-sjis": "shift_jis",
    "x-euc-jp": "euc_jp",
    "x-gbk": "gbk",
    "windows-874": "cp874",
    "dos-874": "cp874",
}
# Codecs browsers decode with a superset of (WHATWG Encoding Standard): documents labelled
# Shift_JIS or EUC-KR are written by Windows software in its code page, with characters
# ("①", "髙", "～", "똠") that Python's strict codecs of the label refuse, and a refused
# label threw the whole declaration away for detection's guess.
_SUPERSET_CODEC = {
    "shift_jis": "cp932",
    "euc_jp": "euc_jis_2004",  # NEC's row 13 ("①"), which JIS X 0213 took over
    "euc_kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "big5": "big5hkscs",
    "iso8859_9": "cp1254",
    "tis_620": "cp874",
    "iso8859_11": "cp874",
}
# What a browser may decode a page in (WHATWG's encodings, as Python codecs): the detector
# also offers DOS and Mac code pages ("Grüne" read as cp775's "Gr³ne", a windows-1252 feed
# as mac_iceland) that no web page is written in.
_WEB_CODECS = frozenset(
    {
        *_UNICODE,
        *("ascii", "latin_1", "cp866", "koi8_r", "koi8_u", "mac_roman", "mac_cyrillic"),
        *(f"iso8859_{n}" for n in (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16)),
        *(f"cp{n}" for n in (874, *range(1250, 1259))),
        *("tis_620", "gb2312", "gbk", "gb18030", "big5", "big5hkscs", "hz"),
        *("euc_jp", "euc_jis_2004", "iso2022_jp", "shift_jis", "cp932", "euc_kr", "cp949"),
    }
)


_SINGLE_BYTE = frozenset(
    {
        *("latin_1", "cp866", "koi8_r", "koi8_u", "mac_roman", "mac_cyrillic", "cp874"),
        *(f"iso8859_{n}" for n in (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16)),
        *(f"cp{n}" for n in range(1250, 1259)),
        "tis_620",
    }
)


# ISO-8859 encodings and the Windows code page written under their labels: ISO-8859 leaves
# 0x80-0x9F to C1 controls, which no text holds, and there the Windows sibling has its
# quotes, dashes and letters (a Word "„" pasted into an ISO-8859-2 page, the "ś" and "ź" of
# windows-1250 text labelled ISO-8859-2). Only those bytes are read in the sibling: the
# rest of the document is what its label says (browsers read it so, letters and all).
_WINDOWS_SIBLING = {
    "iso8859_2": "cp1250",
    "iso8859_4": "cp1257",
    "iso8859_5": "cp1251",
    "iso8859_6": "cp1256",
    "iso8859_7": "cp1253",
    "iso8859_8": "cp1255",
    "iso8859_13": "cp1257",
    "iso8859_15": "cp1252",
}
# The other way: the ISO-8859 codec a Windows codec was made from. Not the inverse of the
# table above: ISO-8859-4 (Baltic, 1988) reads its C1 bytes as windows-1257 too, but
# windows-1257 extends ISO-8859-13, with which it shares every letter. Compared with ISO-8859-4,
# Latvian in windows-1257 lost its «» quotes (0xAB, 0xBB: "Ģ", "ģ" there) and more.
_ISO_SIBLING = {
    "cp1250": "iso8859_2",
    "cp1251": "iso8859_5",
    "cp1252": "iso8859_15",
    "cp1253": "iso8859_7",
    "cp1255": "iso8859_8",
    "cp1256": "iso8859_6",
    "cp1257": "iso8859_13",
}
_C1 = re.compile("[\x80-\x9f]")


@cache
def _c1_in_sibling(sibling: str) -> dict[int, str]:
    """C1 control -> the sibling's character for that byte ("" where it has none)."""
    return {byte: bytes([byte]).decode(sibling, errors="ignore") for byte in range(0x80, 0xA0)}


def _with_c1_read_in_sibling(text: str, name: str) -> str:
    """`text`, decoded with ISO-8859 codec `name`, with its C1 controls read as the bytes
    they were in the Windows sibling (ISO-8859 maps each byte to the code point of its value)."""
    sibling = _WINDOWS_SIBLING.get(name)
    if sibling is None or not _C1.search(text):
        return text
    return text.translate(_c1_in_sibling(sibling))


def _letters_only_the_sibling_has(data: bytes, name: str) -> str | None:
    """The Windows sibling of ISO-8859 codec `name`, when `data` holds a byte that is a
    control in `name` and a letter in the sibling ("ś", "ź" and "š" of windows-1250 are
    0x9C, 0x9F and 0x9A); else None. No ISO-8859 text holds such a byte, so the document is
    in the sibling, letters and all: read in its label, its "ą" (0xB9) came out as "š"."""
    sibling = _WINDOWS_SIBLING.get(name)
    if sibling is None:
        return None
    letters = _c1_letters(sibling)
    return sibling if any(byte in letters for byte in data) else None


@cache
def _c1_letters(sibling: str) -> frozenset[int]:
    return frozenset(byte for byte, char in _c1_in_sibling(sibling).items() if char.isalpha())


@cache
def _byte_table(codec: str) -> tuple[str, ...]:
    """What each byte is in single-byte `codec` ("" where it is undefined)."""
    return tuple(bytes([byte]).decode(codec, errors="ignore") for byte in range(0x100))


def _language_letters(
    data: bytes, language: str, wanted: Sequence[str], chaos: Mapping[str, float], best: float
) -> dict[str, int]:
    """How many bytes each of the language's encodings that reads `data` about as cleanly
    as the best (twice the usual margin) reads as a letter of the language; {} for a
    language of no known alphabet."""
    alphabet = _ALPHABET_OF_LANGUAGE.get(language.split("-")[0])
    if alphabet is None:
        return {}
    near = [e for e in wanted if e in chaos and chaos[e] <= best + 2 * _LANGUAGE_MARGIN]
    counts = {byte: found for byte in range(0x80, 0x100) if (found := data.count(byte))}
    letters: dict[str, int] = {}
    for codec in near:
        table = _byte_table(codec)
        letters[codec] = sum(
            count
            for byte, count in counts.items()
            if table[byte] in alphabet or table[byte].lower() in alphabet
        )
    return letters


def _letters_where_they_differ(data: bytes, first: str, second: str) -> tuple[int, int]:
    """How many letters each single-byte codec reads at the bytes the two read differently:
    the ISO-8859-2 "ś" and "ą" (0xB6, 0xB1) are "¶" and "±" in windows-1250."""
    first_table, second_table = _byte_table(first), _byte_table(second)
    first_letters = second_letters = 0
    for byte in range(0x80, 0x100):
        if first_table[byte] != second_table[byte] and (count := data.count(byte)):
            first_letters += count * first_table[byte].isalpha()
            second_letters += count * second_table[byte].isalpha()
    return first_letters, second_letters


def _sibling_over_sibling(data: bytes, header_codec: str, own_codec: str) -> bool | None:
    """Whether the document's codec wins when it and the header's are an ISO-8859 codec and
    its Windows sibling, decided by the bytes; None when they are no such pair.

    Both read every byte, and the two readings differ only in a few letters, so they look
    alike to a chaos measure: "Sšd" against "Sąd". A letter only the Windows one has settles
    it; else the reading with more letters where they differ ("wolno¶ci" is not Polish);
    else the header, as browsers read it."""
    if _WINDOWS_SIBLING.get(header_codec) == own_codec:
        iso, windows = header_codec, own_codec
    elif _WINDOWS_SIBLING.get(own_codec) == header_codec:
        iso, windows = own_codec, header_codec
    else:
        return None
    return _sibling_the_bytes_prefer(data, iso, windows) == own_codec


def _sibling_the_bytes_prefer(data: bytes, iso: str, windows: str) -> str | None:
    """Of an ISO-8859 codec and its Windows sibling, the one `data` is in: the sibling when
    it holds a letter only the sibling has, else the reading with more letters where the two
    differ; None when the bytes cannot tell."""
    if _letters_only_the_sibling_has(data, iso) is not None:
        return windows
    iso_letters, windows_letters = _letters_where_they_differ(data, iso, windows)
    if iso_letters == windows_letters:
        return None
    return iso if iso_letters > windows_letters else windows


def _better_of_siblings(data: bytes, chosen: str, fitting: Sequence[str]) -> str:
    """`chosen`, or its ISO-8859 or Windows sibling when that fits the language too and the
    bytes prefer it: both read alike to a chaos measure ("wolno¶ci" against "wolności"),
    so the rule of `_sibling_over_sibling` decides, a tie leaving `chosen`."""
    sibling = _WINDOWS_SIBLING.get(chosen) or _ISO_SIBLING.get(chosen)
    if sibling is None or sibling not in fitting:
        return chosen
    iso, windows = (chosen, sibling) if chosen in _WINDOWS_SIBLING else (sibling, chosen)
    return _sibling_the_bytes_prefer(data, iso, windows) or chosen


# With no language to go by, how many characters two readings must at least disagree on
# before the letters alone overrule a declared encoding: one "õ" for "ő" is no evidence of
# Hungarian. (The detector's guess is no declaration: one "ģ" for "ł" is enough there.)
_UNHINTED_DISAGREEMENTS = 3
# The single-byte encodings languages are written in, in the order of the table above: what
# a reading the letters find garbled is compared with.
_LANGUAGE_CODECS = tuple(
    dict.fromkeys(c for codecs in _LEGACY_OF_LANGUAGE.values() for c in codecs)
)


@cache
def _reading_table(codec: str) -> tuple[str, ...]:
    """What each byte reads as in single-byte `codec`, C1 bytes as in its Windows sibling."""
    return tuple(_try_decode(bytes([byte]), codec) or "" for byte in range(0x100))


def _less_garbled(
    data: bytes,
    claimed: tuple[str, str],
    codecs: Iterable[str],
    language: str | None,
    texts: Mapping[str, str] | None = None,
    *,
    evidence: int = _UNHINTED_DISAGREEMENTS,
) -> tuple[str, str] | None:
    """(codec, text): of the single-byte `codecs`' readings of `data` (in `texts` where
    already decoded), the one that misfits the fewest characters, when it reads plainly less
    garbled than the `claimed` (codec, text) by the letters (`garble`); None when none does.

    A claimed reading that is plausible text in some language stands: Italian "è" is no
    garbled Greek "θ", whatever language the source is configured in. Else, with a language
    of a known alphabet, both readings are measured in it; without one, each in the
    language it fits best, and they must disagree on a few characters (`evidence`).
    Not by the chaos measure: it finds short, correct Polish in windows-1250 more chaotic
    (0.07) than its "Rz¹d przyj¹³" in windows-1252 (0)."""
    claimed_codec, claimed_text = claimed
    if claimed_codec not in _SINGLE_BYTE:
        return None  # a multi-byte reading: its letters are no alphabet's
    mine = reading(claimed_text[:_LANGUAGE_WINDOW])
    if mine.least_misfit(ALPHABETS) == 0:
        return None  # plausible text in some language
    hint = language.split("-")[0].lower() if language else None
    if hint is not None and not ALPHABETS.get(hint):
        hint = None  # English has no letters of its own to go by
    languages = (hint,) if hint else tuple(ALPHABETS)
    claimed_misfit = mine.least_misfit(languages)
    counts = Counter(data[:_LANGUAGE_WINDOW].translate(None, _ASCII_BYTES)).items()
    claimed_table = _reading_table(claimed_codec)
    best: tuple[int, str, str] | None = None
    for codec in codecs:
        if codec == claimed_codec or codec not in _SINGLE_BYTE:
            continue
        table = _reading_table(codec)
        disagreeing = letters = claimed_letters = lost = 0
        for byte, found in counts:
            if table[byte] != claimed_table[byte]:
                disagreeing += found
                letters += found * table[byte].isalpha()
                claimed_letters += found * claimed_table[byte].isalpha()
                lost += found * (not table[byte])  # undefined there: the reading drops it
        # Where they disagree, the other reads letters, at least as many as the claimed one
        # ("©" is no garbled Greek); and the claimed one misfits enough to improve on.
        if (
            disagreeing < (1 if hint else evidence)
            or letters < max(claimed_letters, disagreeing / 2)
            or not enough_to_improve_on(claimed_misfit, disagreeing)
        ):
            continue
        text = (texts or {}).get(codec) or _try_decode(data, codec)
        if text is None:
            continue
        theirs = reading(text[:_LANGUAGE_WINDOW])
        their_misfit = theirs.least_misfit(languages) + lost
        if plainly_less_garbled(theirs, their_misfit, claimed_misfit, disagreeing) and (
            best is None or their_misfit < best[0]
        ):
            best = (their_misfit, codec, text)
    return None if best is None else best[1:]


def codec_name(label: str) -> str | None:
    """The Python codec for an encoding label, or None when the label is unknown."""
    lowered = label.strip().lower()
    try:
        name = codecs.lookup(_WHATWG_LABELS.get(lowered, lowered)).name
    except LookupError:
        return None
    normal = name.replace("-", "_")
    return "cp1252" if normal in _AS_WINDOWS_1252 else _SUPERSET_CODEC.get(normal, normal)


def http_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _CHARSET_PARAM.search(content_type)
    return match.group(1) if match else None


def declared_in_document(data: bytes, markup: Markup) -> str | None:
    """The encoding the document declares for itself, or None."""
    match = _XML_DECL.match(data[:1024])
    if match:
        return match.group(1).decode("ascii")
    if markup == "html":
        window = data[:_META_WINDOW]
        if b"<!--" in window:  # a <meta> commented out declares nothing, as browsers read it
            window = _COMMENT.sub(b"", window)
        meta = _META_CHARSET.search(window)
        if meta:
            return meta.group(1).decode("ascii")
    return None


# A country whose pages are written in one language, for a source that names its country
# and not its language: what its legacy-encoded pages are most likely in.
COUNTRY_LANGUAGE = {
    **{c: "de" for c in ("DE", "AT", "LI")},
    **{c: "fr" for c in ("FR", "MC")},
    **{"IT": "it", "ES": "es", "PT": "pt", "NL": "nl", "DK": "da", "SE": "sv", "IE": "en"},
    **{"GB": "en", "UK": "en", "PL": "pl", "CZ": "cs", "SK": "sk", "HU": "hu", "SI": "sl"},
    **{"HR": "hr", "RO": "ro", "BG": "bg", "GR": "el", "CY": "el", "LT": "lt", "LV": "lv"},
    **{"EE": "et", "MT": "mt", "TR": "tr", "UA": "uk", "RS": "sr", "NO": "nb", "EL": "el"},
}


def source_language(language: str | None, country: str | None) -> str | None:
    """The language hint of a source: its configured language, else its country's."""
    if language:
        return language
    return COUNTRY_LANGUAGE.get((country or "").strip().upper())


def decode(
    data: bytes, content_type: str | None, markup: Markup, *, language: str | None = None
) -> Decoded:
    """Decode `data`; never fails (the last resort maps every byte to a character).

    `language`: what the source is written in (ISO 639-1: `source_language`), a hint for
    detection and for a header that contradicts the document."""
    for bom, bom_codec in _BOMS:
        if data.startswith(bom):
            body = data[len(bom) :]
            if bom_codec == "utf-8":  # stray bytes read as in a mostly-UTF-8 document
                strict = _try_decode(body, "utf_8")
                bom_text = body.decode("utf-8", errors=_STRAYS_HANDLER)
                bad = strict is None
            else:
                bom_text = body.decode(bom_codec, errors="replace")
                bad = "\ufffd" in bom_text
            warnings = ("invalid bytes for the byte-order mark's encoding",) if bad else ()
            return Decoded(
                text=bom_text,
                encoding=bom_codec.replace("-", "_"),
                declared=None,
                warnings=warnings,
            )

    if markup == "xml" and (wide := _wide_without_bom(data, content_type)) is not None:
        return wide

    # UTF-8 last: the default of XML and JSON, and the encoding of nearly every unlabelled
    # page that decodes under it strictly.
    # (label, declared): the last is the default, which no one declared, so it overrules none.
    header, own = http_charset(content_type), declared_in_document(data, markup)
    claims = [(header, _HEADER), (own, _DOCUMENT), ("utf-8", None)]
    # Found only where a choice between two single-byte readings needs them: scanning the
    # document's first 64 KiB for language declarations cost more than all the rest of a
    # plain UTF-8 feed's decoding.
    languages = _Languages(data, language)
    if header and own and _document_over_header(data, header, own, languages):
        claims = [(own, _DOCUMENT), ("utf-8", None)]
        decoded = _decode_claims(data, claims, language)
        note = f"HTTP charset {header!r} contradicts the document's own {own!r}: read as {own!r}"
        return replace(decoded, declared=header, warnings=(note, *decoded.warnings))
    decoded = _decode_claims(data, claims, language)
    taken = next(
        (
            (label, claimant)
            for label, claimant in ((header, _HEADER), (own, _DOCUMENT))
            if label is not None and codec_name(label) == decoded.encoding
        ),
        None,
    )
    if taken is None:
        if decoded.encoding != "utf_8" and "utf_8" in {codec_name(c) for c in (header, own) if c}:
            return _utf8_with_strays_if_cleaner(data, decoded)
        return decoded  # detection, or UTF-8 over a legacy label: said already
    label, claimant = taken
    better = _language_over_claim(data, decoded, label, claimant, languages)
    if better is not None:
        return better
    # No language to go by, and no declaration the claim won against: a claim whose reading
    # is plainly garbled gives way (a server's default, or a <meta> copied from a template).
    uncontested = claimant == _DOCUMENT or codec_name(own or label) == decoded.encoding
    legacy = decoded.encoding not in _UNICODE and not data.isascii()
    if uncontested and legacy and next(iter(languages), None) is None:
        cleaner = _cleaner_than_claimed(data, decoded, by_chaos=own is None)
        if cleaner is not None:
            codec, text = cleaner
            note = f"{claimant} {label!r} reads as garbled text: read as {codec}"
            return Decoded(text=text, encoding=codec, declared=label, warnings=(note,))
    if claimant == _HEADER and own and codec_name(own) not in (None, decoded.encoding):
        # The header won, as browsers read it; the page said otherwise.
        note = f"declared encoding {own!r} contradicts the HTTP charset {label!r}"
        return replace(decoded, warnings=(*decoded.warnings, f"{note}: read as {label!r}"))
    return decoded


# XML 1.0 Appendix F: a document without a byte-order mark that opens with "<" in 32-bit
# units (00 00 00 3C, 3C 00 00 00) is UTF-32 (UCS-4), with "<?" in 16-bit units UTF-16, of
# that byte order, whatever it then declares. UTF-32 first: "<" then three NULs is no UTF-16
# text, and such a document read as UTF-8 failed at its first NUL.
_WIDE_OPENINGS = (
    (b"\x00\x00\x00<", "utf_32_be"),
    (b"<\x00\x00\x00", "utf_32_le"),
    (b"<\x00?\x00", "utf_16_le"),
    (b"\x00<\x00?", "utf_16_be"),
)


def _wide_without_bom(data: bytes, content_type: str | None) -> Decoded | None:
    """UTF-16 (or UTF-32) XML without a byte-order mark, read in the byte order its first
    characters show. A "utf-16" label is borne out by them (RFC 2781 reads it big-endian
    without a mark; Python little-endian), so only a label of another encoding (of another
    width) is warned about."""
    codec = next((c for opening, c in _WIDE_OPENINGS if data.startswith(opening)), None)
    text = _try_decode(data, codec) if codec is not None else None
    if codec is None or text is None:
        return None
    own = declared_in_document(text[:1024].encode("ascii", "replace"), "xml")
    claims = ((http_charset(content_type), _HEADER), (own, _DOCUMENT))
    wrong = [
        (label, claimant)
        for label, claimant in claims
        if label is not None and not (codec_name(label) or "").startswith(codec[:6])
    ]
    notes = tuple(
        f"{claimant} {label!r} does not match the bytes: read as {codec}"
        for label, claimant in wrong
    )
    return Decoded(
        text=text, encoding=codec, declared=wrong[0][0] if wrong else None, warnings=notes
    )


def _language_over_claim(
    data: bytes, decoded: Decoded, label: str, claimant: str, languages: Iterable[str]
) -> Decoded | None:
    """The text in its language's encoding, when the single-byte encoding it was read in
    is not one its language is written in and reads plainly more garbled ("Pos³owie": a
    Polish page declared ISO-8859-1); None to keep `decoded`."""
    if decoded.encoding in _UNICODE or data.isascii():
        return None
    for language in languages:
        legacy = _LEGACY_OF_LANGUAGE.get(language.split("-")[0], ())
        if not legacy:
            continue
        # One of the language's own encodings stands, unless another of them reads plainly
        # less garbled: Russian KOI8-R served as windows-1251 ("лБЛ РЕТЕЦЙФШ"). Not for a
        # Western language: its two encodings differ in eight characters, and comparing
        # them cost every Western document in a legacy encoding two readings' measures.
        fits = decoded.encoding in legacy
        if fits and language.split("-")[0] not in _ENCODINGS_OF_LANGUAGE:
            return None
        others = [c for c in legacy if c != decoded.encoding]
        readings = [(c, t) for c in others if (t := _try_decode(data, c)) is not None]
        if not readings:
            return None
        scored = [(mess_ratio(t[:_LANGUAGE_WINDOW]), c, t) for c, t in readings]
        mess, codec, text = min(scored, key=lambda found: found[0])
        if len(readings) > 1:
            # Of the language's own readings, the cleanest by the chaos measure may be the
            # garbled one: short Polish in ISO-8859-2 read as windows-1250 ("gę¶l± jaĽń")
            # scores cleaner than itself. The letters decide between them.
            found = dict(readings)
            sibling = _least_garbled_reading(data, codec, found, language)
            if sibling != codec:
                codec, text = sibling, found[sibling]
                mess = mess_ratio(text[:_LANGUAGE_WINDOW])
        if mess + _LANGUAGE_MARGIN >= mess_ratio(decoded.text[:_LANGUAGE_WINDOW]):
            # The chaos measure misses mojibake made of printable characters ("Pe³na
            # tre¶æ", "Országgyûlés"): the language's letters see it.
            claimed = (decoded.encoding, decoded.text)
            found = dict(readings)
            better = None if fits else _less_garbled(data, claimed, found, language, found)
            if better is None:
                return None
            codec, text = better
        note = (
            f"{claimant} {label!r} reads as garbled text: read as {codec}"
            if fits
            else f"{claimant} {label!r} does not fit the text's language ({language}):"
            f" read as {codec}"
        )
        return Decoded(text=text, encoding=codec, declared=label, warnings=(note,))
    return None


def _cleaner_than_claimed(
    data: bytes, decoded: Decoded, *, by_chaos: bool
) -> tuple[str, str] | None:
    """(codec, text): the text in the single-byte encoding of some language that reads
    plainly less garbled than the claimed one, when no language is known to decide. A
    server's default ISO-8859-1 on an undeclared Polish feed stored "Pos³owie", on a
    Bulgarian one "Åâðîïåéñêàòà"; None to keep `decoded`. Where the chaos measure sees
    nothing amiss ("Pe³na tre¶æ": every character printable), the letters decide
    (`_less_garbled`). `by_chaos`: whether the chaos measure may overrule the claim too
    (not a document's own: it finds short Japanese in its declared Shift_JIS chaotic)."""
    if decoded.encoding in _UNICODE or data.isascii():
        return None
    claimed = (decoded.encoding, decoded.text)
    cleaner = _cleaner_by_chaos(data, decoded) if by_chaos else None
    if cleaner is not None:
        claimed = cleaner  # garbled: only which reading is best is left to settle
    others = (codec for codec in _LANGUAGE_CODECS if codec != decoded.encoding)
    return _less_garbled(data, claimed, others, None) or cleaner


def _cleaner_by_chaos(data: bytes, decoded: Decoded) -> tuple[str, str] | None:
    """`_cleaner_than_claimed` by the chaos measure: of the readings about as clean as the
    cleanest, the one whose letters best fit a language it is written in wins, then the one
    that reads the most letters of its language (Polish in ISO-8859-2, not in a Nordic
    encoding that reads "ł" as "ģ", nor in ISO-8859-3, Maltese and Esperanto's)."""
    claimed = mess_ratio(decoded.text[:_LANGUAGE_WINDOW])
    if claimed <= _LANGUAGE_MARGIN:  # reads cleanly: the claim stands
        return None
    scored: dict[str, tuple[float, str]] = {}
    for encodings in _ENCODINGS_OF_LANGUAGE.values():
        for codec in encodings:
            if codec != decoded.encoding and codec not in scored:
                text = _try_decode(data, codec)
                if text is not None:
                    scored[codec] = (mess_ratio(text[:_LANGUAGE_WINDOW]), text)
    if not scored:
        return None
    cleanest = min(mess for mess, _ in scored.values())
    if cleanest + _LANGUAGE_MARGIN >= claimed:
        return None

    def letters(codec: str) -> int:
        text = scored[codec][1][:_LANGUAGE_WINDOW]
        return max(
            (
                sum(text.count(letter) for letter in _ALPHABET_OF_LANGUAGE.get(language, ()))
                for language, encodings in _ENCODINGS_OF_LANGUAGE.items()
                if codec in encodings
            ),
            default=0,
        )

    near = [c for c, (mess, _) in scored.items() if mess <= cleanest + _LANGUAGE_MARGIN]
    codec = max(near, key=lambda c: (-_misfit(scored[c][1]), letters(c), -scored[c][0]))
    return codec, scored[codec][1]


def _misfit(text: str) -> int:
    """How many characters of a reading misfit the language it fits best: Polish read as
    ISO-8859-3 is garbled in every language ("Rzħd", "Wiadomoĥĉ"), in ISO-8859-2 in none."""
    return reading(text[:_LANGUAGE_WINDOW]).least_misfit(ALPHABETS)


def _document_over_header(data: bytes, header: str, own: str, languages: Iterable[str]) -> bool:
    """Whether the document's own single-byte encoding beats the HTTP header's other one.

    Browsers follow the header. But a server's default (ISO-8859-1 on every page of a Polish
    site that writes ISO-8859-2 in its <meta>) turns every "ą" into "±" while the page says
    what it is: the language (the source's, or the document's) decides between two
    readings that are both "valid"; without one, the reading that looks less garbled, by a
    clear margin.
    """
    header_codec, own_codec = codec_name(header), codec_name(own)
    if header_codec is None or own_codec is None or header_codec == own_codec:
        return False
    if header_codec in _UNICODE or own_codec in _UNICODE or data.isascii():
        return False  # UTF-8 against a legacy label is settled by the bytes (decode)
    if (siblings := _sibling_over_sibling(data, header_codec, own_codec)) is not None:
        return siblings
    own_text, header_text = _try_decode(data, own_codec), _try_decode(data, header_codec)
    if own_text is None or header_text is None:
        return False  # the claims' order finds the one that decodes
    own_mess = mess_ratio(own_text[:_LANGUAGE_WINDOW])
    header_mess = mess_ratio(header_text[:_LANGUAGE_WINDOW])
    texts = {own_codec: own_text, header_codec: header_text}
    for language in languages:
        legacy = _LEGACY_OF_LANGUAGE.get(language.split("-")[0], ())
        if legacy:
            if (own_codec in legacy) != (header_codec in legacy):
                # Unless its reading is plainly the more garbled (by the chaos measure, or
                # by the letters): the declared language can be as wrong as the declared
                # encoding ("en" on a Polish feed).
                mine, theirs = (own_codec, header_codec)
                if own_codec not in legacy:
                    mine, theirs = theirs, mine
                chosen, other = (
                    (own_mess, header_mess) if own_codec in legacy else (header_mess, own_mess)
                )
                garbled = _less_garbled(data, (mine, texts[mine]), (theirs,), None, texts)
                if chosen <= other + _LANGUAGE_MARGIN and garbled is None:
                    return own_codec in legacy
            break
    if own_mess + _LANGUAGE_MARGIN < header_mess:
        return True
    # Both read cleanly to the chaos measure ("Pe³na tre¶æ" too): the letters decide, and
    # the page's own word is evidence enough that the header's one garbled letter is one.
    header_reading = (header_codec, header_text)
    return _less_garbled(data, header_reading, (own_codec,), None, texts, evidence=1) is not None


# Who made a claim, as warnings name it: the operator looks in the right place.
_HEADER = "HTTP charset"
_DOCUMENT = "declared encoding"


def _decode_claims(
    data: bytes, claims: list[tuple[str | None, str | None]], language: str | None
) -> Decoded:
    """The first claim the bytes bear out, else detection. A claim: (label, who made it;
    None for the default, which no one declared, so it overrules none)."""
    overruled: str | None = None
    overruled_as: str | None = None  # "HTTP charset 'utf-8'", for the warnings
    unknown: str | None = None  # a label no codec answers to
    for label, claimant in claims:
        if label is None:
            continue
        name = codec_name(label)
        if name is None:
            unknown = unknown or label
            continue
        # Markup in UTF-16 or UTF-32 has a NUL beside every ASCII character: bytes with none
        # are not in it, whatever the label says (a "charset=utf-16" on a UTF-8 feed).
        wide = name.startswith(("utf_16", "utf_32"))
        decoded = None if wide and b"\x00" not in data[:1024] else _try_decode(data, name)
        if decoded is None:
            mostly = _mostly_utf8(data) if name == "utf_8" else None
            if mostly is None:
                if claimant is not None and overruled is None:
                    overruled, overruled_as = label, f"{claimant} {label!r}"
                continue
            text, strays = mostly
            return Decoded(
                text=text,
                encoding="utf_8",
                declared=overruled or unknown,
                warnings=(*_mismatch(overruled_as, unknown, read_as="utf_8"), strays),
            )
        if name not in _UNICODE and not data.isascii():
            as_utf8 = _try_decode(data, "utf_8")
            said = f"{claimant or _DOCUMENT} {label!r}"
            notes = [f"{said} does not match the bytes: read as utf-8"]
            if as_utf8 is None and (mostly := _mostly_utf8(data)) is not None:
                as_utf8, strays = mostly
                notes.append(strays)
            if as_utf8 is not None:
                return Decoded(
                    text=as_utf8, encoding="utf_8", declared=label, warnings=tuple(notes)
                )
        if (sibling := _letters_only_the_sibling_has(data, name)) is not None:
            note = f"{claimant or _DOCUMENT} {label!r} does not match the bytes: read as {sibling}"
            return Decoded(
                text=data.decode(sibling, errors="replace"),
                encoding=sibling,
                declared=label,
                warnings=(*_mismatch(overruled_as, unknown), note),
            )
        return Decoded(
            text=decoded,
            encoding=name,
            declared=overruled or unknown,
            warnings=_mismatch(overruled_as, unknown, read_as=name),
        )
    return _detect(data, overruled, unknown, _languages(data, language), said=overruled_as)


class _Languages:
    """`_languages(data, configured)`, found the first time they are asked for."""

    __slots__ = ("_configured", "_data", "_found")

    def __init__(self, data: bytes, configured: str | None) -> None:
        self._data = data
        self._configured = configured
        self._found: tuple[str, ...] | None = None

    def __iter__(self) -> Iterator[str]:
        if self._found is None:
            self._found = _languages(self._data, self._configured)
        return iter(self._found)


def _languages(data: bytes, configured: str | None) -> tuple[str, ...]:
    """The source's configured language, then the ones the document declares."""
    found = [configured.lower()] if configured else []
    for match in _DECLARED_LANGUAGE.finditer(data[:_LANGUAGE_WINDOW]):
        code = (match[1] or match[2]).decode("ascii").lower()
        if code not in found:
            found.append(code)
    return tuple(found)


def _try_decode(data: bytes, name: str) -> str | None:
    try:
        return _with_c1_read_in_sibling(data.decode(name), name)
    except (UnicodeDecodeError, LookupError):
        return None


def _mismatch(
    overruled_as: str | None, unknown: str | None = None, *, read_as: str | None = None
) -> tuple[str, ...]:
    notes = [f"unknown encoding label {unknown!r}: ignored"] if unknown else []
    if overruled_as:
        # What it was read as instead: the operator sees what the text is now.
        said = f": read as {'utf-8' if read_as == 'utf_8' else read_as}" if read_as else ""
        notes.append(f"{overruled_as} does not match the bytes{said}")
    return tuple(notes)


def _utf8_counts(data: bytes) -> tuple[int, int, int]:
    """ASCII bytes, valid multi-byte UTF-8 sequences, and bytes that are neither."""
    escaped = data.decode("utf-8", errors="surrogateescape")
    invalid = len(data) - len(escaped.encode("utf-8", errors="ignore"))
    ascii_count = len(data) - len(data.translate(None, _ASCII_BYTES))
    return ascii_count, len(escaped) - ascii_count - invalid, invalid


def _mostly_utf8(data: bytes) -> tuple[str, str] | None:
    """The text and a warning, when bytes that fail strict UTF-8 are mostly UTF-8 all the same.

    Mostly: at least `_MOSTLY_UTF8_RATIO` valid multi-byte sequences for each invalid byte.
    ASCII is no evidence either way, and pure ASCII never gets here.
    """
    ascii_count, multibyte, invalid = _utf8_counts(data)
    if invalid == 0 or multibyte < _MOSTLY_UTF8_RATIO * invalid:
        return None
    text = data.decode("utf-8", errors=_STRAYS_HANDLER)
    stretches = len(text) - ascii_count - multibyte  # one character for each
    replaced = text.count("\ufffd") - data.count("\ufffd".encode())
    read = ((stretches - replaced, "read as windows-1252"), (replaced, "replaced by U+FFFD"))
    found = [(count, how) for count, how in read if count]
    how = found[0][1] if len(found) == 1 else ", ".join(f"{count} {how}" for count, how in found)
    return text, f"invalid utf-8 in {stretches} {_places(stretches)}: {how}"


def _utf8_with_strays_if_cleaner(data: bytes, detected: Decoded) -> Decoded:
    """Declared UTF-8 that detection overruled, read as UTF-8 with its stray bytes in
    windows-1252 when that reads plainly cleaner: a feed whose older entries are windows-1252
    ("Council\x92s") and whose newer ones are UTF-8 has too few UTF-8 sequences to count as
    mostly UTF-8, and any single-byte reading garbles every UTF-8 entry ("Zarzalejos‚Äô")."""
    if _utf8_counts(data)[1] == 0:
        return detected  # not one valid UTF-8 sequence: nothing to keep
    text = data.decode("utf-8", errors=_STRAYS_HANDLER)
    if mess_ratio(text[:_LANGUAGE_WINDOW]) + _LANGUAGE_MARGIN >= mess_ratio(
        detected.text[:_LANGUAGE_WINDOW]
    ):
        return detected
    note = "declared utf-8 holds windows-1252 bytes too: read as utf-8, the strays as windows-1252"
    return Decoded(text=text, encoding="utf_8", declared=None, warnings=(note,))


def _places(count: int) -> str:
    return "place" if count == 1 else "places"


def _score_missing(data: bytes, encodings: tuple[str, ...], chaos: dict[str, float]) -> None:
    """Score the language's encodings the detector left out of its list (it often leaves
    out ISO-8859-16 for Romanian text, whose windows-1250 reading looks as clean): with its
    own measure of how garbled a reading is, so they compare with what it did list."""
    for encoding in encodings:
        if encoding not in chaos:
            text = _try_decode(data, encoding)
            if text is not None:
                chaos[encoding] = mess_ratio(text[:_LANGUAGE_WINDOW])


def _least_garbled_reading(
    data: bytes, chosen: str, codecs: Iterable[str], language: str | None = None
) -> str:
    """The detector's `chosen`, or the one of `codecs` that reads `data` plainly less garbled
    by the letters (`_less_garbled`; in `language`, when there is one)."""
    text = _try_decode(data, chosen)
    if text is None:
        return chosen
    better = _less_garbled(data, (chosen, text), codecs, language, evidence=1)
    return chosen if better is None else better[0]


def _detect(
    data: bytes,
    overruled: str | None,
    unknown: str | None,
    languages: tuple[str, ...] = (),
    *,
    said: str | None = None,
) -> Decoded:
    if overruled:
        note = f"{said or _DOCUMENT + ' ' + repr(overruled)} does not match the bytes"
    elif unknown:
        note = f"unknown encoding label {unknown!r}"
    else:
        note = "no encoding declared"
    overruled = overruled or unknown
    found = [
        m for m in charset_normalizer.from_bytes(data) if m.encoding != "utf_8" or data.isascii()
    ]
    matches = [m for m in found if m.encoding in _WEB_CODECS] or found
    if matches:
        best = min(m.chaos for m in matches)
        western = [
            m for m in matches if m.encoding in _WESTERN and m.chaos <= best + _DETECTION_MARGIN
        ]
        chosen = western[0].encoding if western else matches[0].encoding
        chaos = {m.encoding: m.chaos for m in matches}
        for language in languages:
            wanted = _ENCODINGS_OF_LANGUAGE.get(language.split("-")[0], ())
            _score_missing(data, wanted, chaos)
            fitting = [e for e in wanted if e in chaos and chaos[e] <= best + _LANGUAGE_MARGIN]
            letters = _language_letters(data, language, wanted, chaos, best)
            if letters and max(letters.values()) > max((letters[e] for e in fitting), default=0):
                # One a little less clean reads more of the language's letters than those
                # within the margin: the detector's measure counts «» beside a letter as
                # noise, and Latvian news quotes every name so.
                most = max(letters.values())
                fitting = [e for e, count in letters.items() if count == most]
            if fitting:
                # On a tie, the language's own order: Romanian text reads the same in
                # ISO-8859-16 and windows-1250 but for s and t with a comma below, which
                # only ISO-8859-16 has (windows-1250 gives the cedilla forms instead).
                chosen = min(fitting, key=lambda e: (-letters.get(e, 0), chaos[e], wanted.index(e)))
                chosen = _better_of_siblings(data, chosen, fitting)
                # Short Polish in ISO-8859-2 looks the more chaotic, and windows-1250's "tre¶ć"
                # won: the language's letters see what is garbled.
                chosen = _least_garbled_reading(data, chosen, wanted, language)
                break
            if wanted:  # the first language with encodings of its own decides
                break
        else:
            # A Western language (and none of the above) rules out what it is not written
            # in: "Grüne" and "è" are no cp1250 or cp1257 text, whatever reads as clean.
            western_languages = [
                lang for lang in languages if lang.split("-")[0] in _LEGACY_OF_LANGUAGE
            ]
            if western_languages and chosen not in _WESTERN:
                _score_missing(data, _WESTERN, chaos)
                limit = best + _LANGUAGE_MARGIN
                fitting = [e for e in _WESTERN if e in chaos and chaos[e] <= limit]
                if fitting:
                    chosen = min(fitting, key=lambda e: (chaos[e], _WESTERN.index(e)))
            if western_languages and chosen in _WESTERN:
                # French "œ" in ISO-8859-15 is "½" in windows-1252 ("l'½uvre").
                language = western_languages[0]
                chosen = _least_garbled_reading(
                    data, codec_name(chosen) or chosen, _WESTERN, language
                )
            elif not western_languages:
                # No language at all: the letters rank the readings the detector finds
                # about as clean. Undeclared Polish is ISO-8859-2, not the ISO-8859-3 of
                # Maltese and Esperanto it scored cleanest ("Rzħd", "Wiadomoĥĉ").
                codecs = dict.fromkeys((*_LANGUAGE_CODECS, *chaos))
                chosen = _least_garbled_reading(data, codec_name(chosen) or chosen, codecs)
        name = codec_name(chosen) or chosen
        detected = _try_decode(data, name)
        if detected is not None and name != "cp1252" and _try_decode(data, "cp1252") == detected:
            # Every byte reads the same in windows-1252, the web's own single-byte default
            # (German "Grüße" is alike in cp1250): that is the name the warning gives.
            name = "cp1252"
        if detected is not None:
            return Decoded(
                text=detected,
                encoding=name,
                declared=overruled,
                warnings=(f"{note}: detected {name}",),
            )
    # Nothing plausible: windows-1252 keeps every readable ASCII and Western character, and
    # latin-1 maps the five bytes windows-1252 leaves undefined.
    guessed = _try_decode(data, "cp1252")
    if guessed is not None:
        return Decoded(
            text=guessed,
            encoding="cp1252",
            declared=overruled,
            warnings=(f"{note}: guessed cp1252",),
        )
    return Decoded(
        text=data.decode("latin_1"),
        encoding="latin_1",
        declared=overruled,
        warnings=(f"{note}: guessed latin-1",),
    )
