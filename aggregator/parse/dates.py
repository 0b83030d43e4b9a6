"""Dates as documents write them, to datetimes. Aware when the text gives a zone, else naive.

Feeds mostly use RFC 822 (RSS) or RFC 3339 (Atom, JSON Feed): those take fast paths that cost
microseconds. Listing pages write dates in their own language ("12 novembre 2025",
"3. März 2026", "12/11/2025"): those go to dateparser, restricted to the page's languages and
to absolute dates (no "yesterday", which would need a clock), and with all of day, month and
year required (no silent filling-in of the current year).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from functools import cache, lru_cache
from typing import TYPE_CHECKING

# dateparser is imported by the first date the fast paths cannot read: most feeds never need
# it, and it is ~4 MiB and ~0.1 s in every parse worker.
if TYPE_CHECKING:
    from dateparser.date import DateDataParser

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}")
_RFC822 = re.compile(
    r"^(?:[^\W\d_]+\.?,?\s*)?(\d{1,2})\s+([^\W\d_]{3,})\.?\s+(\d{4}|\d{2})"
    r"(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?(?:\s+([+-]\d{4}|[A-Za-z]{1,5}))?$"
)
# Zone names in RFC 822 (the US ones) and those European feeds use.
_ZONES = {
    "UT": 0,
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "WET": 0,
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
    "CET": 1,
    "MEZ": 1,
    "WEST": 1,
    "BST": 1,
    "CEST": 2,
    "MESZ": 2,
    "EET": 2,
    "EEST": 3,
}
# RFC 822 dates with the month in another language ("Seg, 24 Set 2018 19:42:40 -0300") are
# common in European feeds. Month abbreviations of the EU's larger Latin-script languages, by
# their first four, then three letters; none of them names two different months.
_MONTH_NAMES = {
    "Jan": "jan janv ene gen",
    "Feb": "feb fév févr fev",
    "Mar": "mar mär märz mars mrt maa",
    "Apr": "apr avr abr",
    "May": "may mai mag mei",
    "Jun": "jun juin giu",
    "Jul": "jul juil lug",
    "Aug": "aug aoû août ago",
    "Sep": "sep sept set",
    "Oct": "oct okt ott out",
    "Nov": "nov",
    "Dec": "dec déc dez dic",
}
_MONTHS = {
    name: number
    for number, names in enumerate(_MONTH_NAMES.values(), start=1)
    for name in names.split()
}
_NUMERIC = re.compile(
    r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})(?:[ T,]+(\d{1,2})[:h.](\d{2})(?::(\d{2}))?)?$"
)
# The EU's official languages, then those of neighbours whose press our sources quote.
DEFAULT_LANGUAGES = (
    *("en", "fr", "de", "nl", "it", "es", "pt", "da", "sv", "fi", "et", "lv", "lt", "pl"),
    *("cs", "sk", "sl", "hu", "ro", "bg", "el", "hr", "mt", "ga", "uk", "ru", "nb", "tr"),
)
_SPACES = re.compile(r"\s+")
_DATEPARSER_SETTINGS = {
    "PARSERS": ["custom-formats", "absolute-time"],
    "REQUIRE_PARTS": ["day", "month", "year"],
    "DATE_ORDER": "DMY",  # EU usage; a textual month or a 4-digit first field overrides it
}


def parse_date(text: str, languages: Sequence[str] | None = None) -> datetime | None:
    """Parse one date; None when the text is not a full date. Never raises.

    `languages` (ISO 639-1 codes, region subtags ignored) narrow dateparser's search; without
    them it tries the EU's languages.
    """
    cleaned = _clean(text)
    if cleaned is None:
        return None
    return _fast(cleaned) or _natural(cleaned, _language_codes(languages))


def parse_date_fast(text: str) -> datetime | None:
    """Only the fast paths (ISO 8601, RFC 822, numeric day-first): microseconds, never raises."""
    cleaned = _clean(text)
    return _fast(cleaned) if cleaned is not None else None


def _clean(text: str) -> str | None:
    cleaned = _SPACES.sub(" ", text).strip()
    if len(cleaned) > 200 or not any(c.isdigit() for c in cleaned):
        return None  # every full date has a year in digits: spares dateparser's slow "no"
    return cleaned


def _fast(text: str) -> datetime | None:
    for fast in (_iso, _rfc822, _numeric):
        try:
            found = fast(text)
        except (ValueError, OverflowError):  # out-of-range fields: 31 February, hour 25
            found = None
        if found is not None:
            return found
    return None


def _iso(text: str) -> datetime | None:
    if not _ISO.match(text):
        return None
    value = text.replace(" ", "T", 1) if len(text) > 10 and text[10] == " " else text
    return _fixed_offset(datetime.fromisoformat(value))


def _rfc822(text: str) -> datetime | None:
    match = _RFC822.match(text)
    if not match:
        return None
    # The regex dropped the weekday, in whatever language ("mer,", "Di.,").
    day, month_name, year_text, hour, minute, second, zone = match.groups()
    lowered = month_name.lower()
    month = _MONTHS.get(lowered[:4]) or _MONTHS.get(lowered[:3])
    if month is None:
        return None
    year = int(year_text)
    if year < 100:  # two-digit years, as RFC 822 allowed
        year += 2000 if year < 50 else 1900
    naive = datetime(year, month, int(day), int(hour or 0), int(minute or 0), int(second or 0))
    if zone is None or zone == "-0000":  # RFC 5322: -0000 means "zone unknown"
        return naive
    if zone[0] in "+-":
        minutes = int(zone[1:3]) * 60 + int(zone[3:5])
        offset = timedelta(minutes=-minutes if zone[0] == "-" else minutes)
    elif zone.upper() in _ZONES:
        offset = timedelta(hours=_ZONES[zone.upper()])
    else:
        return None  # a zone name we do not know: dateparser knows more
    return naive.replace(tzinfo=timezone(offset))


def _numeric(text: str) -> datetime | None:
    match = _NUMERIC.match(text)
    if not match:
        return None
    first, second, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
    # Day first, as in every EU language; US month-first only when the day cannot be second.
    day, month = (second, first) if second > 12 >= first else (first, second)
    hour, minute, sec = (int(g) if g else 0 for g in match.group(4, 5, 6))
    return datetime(year, month, day, hour, minute, sec)


def _natural(text: str, languages: tuple[str, ...]) -> datetime | None:
    try:
        found = _parser(languages).get_date_data(text).date_obj
    except Exception:
        # dateparser raises assorted errors (ValueError, KeyError, OverflowError, regex
        # errors) on odd input; a date we cannot read is simply no date.
        return None
    if not isinstance(found, datetime):
        return None
    return _fixed_offset(found)


@lru_cache(maxsize=64)
def _parser(languages: tuple[str, ...]) -> DateDataParser:
    from dateparser.date import DateDataParser

    known = tuple(lang for lang in languages if lang in _known_languages())
    return DateDataParser(languages=list(known or DEFAULT_LANGUAGES), settings=_DATEPARSER_SETTINGS)


@cache
def _known_languages() -> frozenset[str]:
    from dateparser.data import language_order

    return frozenset(language_order)


def _language_codes(languages: Sequence[str] | None) -> tuple[str, ...]:
    codes = tuple(
        dict.fromkeys(lang.split("-")[0].split("_")[0].lower() for lang in languages or () if lang)
    )
    # Unrestricted, dateparser tries some 200 locales per date (~0.2 s each): the EU's
    # languages and its neighbours' cover our sources at a tenth of the cost.
    return codes or DEFAULT_LANGUAGES


def _fixed_offset(value: datetime) -> datetime:
    """Replace library tzinfo objects (pytz, dateutil) with a plain, picklable offset."""
    offset = value.utcoffset()
    if offset is None:
        return value.replace(tzinfo=None)
    return value.replace(tzinfo=timezone(offset))
