"""Dates as documents write them, to datetimes. Aware when the text gives a zone, else naive;
a date without a time of day is midnight UTC (see `_date_only_in_utc`).

Feeds mostly use RFC 822 (RSS) or RFC 3339 (Atom, JSON Feed): those take fast paths that cost
microseconds. Listing pages write dates in their own language ("12 novembre 2025",
"3. März 2026", "12/11/2025"): those go to dateparser, restricted to the page's languages and
to absolute dates (no "yesterday", which would need a clock), and with all of day, month and
year required (no silent filling-in of the current year).

Listing pages also write words around their dates ("Publié le 3 février 2026", "Stand:
03.03.2026 14:00 Uhr", "12 November 2025 | Press release"). When the whole text is no date, a
few windows of it around its numbers are tried: those cost a capped number of dateparser calls,
must give the year in four digits, and are kept only if every bare number in them is part of
the date read, so that "Regulation 2024/1689" or "page 1 of 12, 2025" stay no date.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import cache, lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aggregator.parse.date_order import EITHER_ORDER

# dateparser is imported by the first date the fast paths cannot read: most feeds never need
# it, and it is ~4 MiB and ~0.1 s in every parse worker.
if TYPE_CHECKING:
    from dateparser.date import DateDataParser

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}")
_FOUR_DIGITS = re.compile(r"(?<!\d)\d{4}(?!\d)")
# A zone as dates write it: an offset ("+0100", "+01:00", and garbage such as "+zz:00", which
# _zone_offset refuses), an offset after UTC or GMT ("UTC-05:00", "GMT+1"), or a name.
_ZONE = r"[+-][\w:]{1,6}|(?i:UTC|GMT|UT)[+-]\d{1,2}(?::?\d{2})?|[A-Za-z]{1,5}"
_RFC822 = re.compile(
    r"^(?:[^\W\d_]+\.?,?\s*)?(\d{1,2})\s+([^\W\d_]{3,})\.?\s+(\d{4}|\d{2})"
    r"(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?(?:\s+(" + _ZONE + r"))?$"
)
# Java's Date.toString ("Mon Jul 27 16:31:00 CEST 2026"): asctime's layout, the month before
# the day and the year last, with a zone before the year. Read as RFC 822 once reordered.
# (asctime's own, without a zone, is left to feedparser, which reads it as UTC.)
_ASCTIME = re.compile(
    r"^(?:[^\W\d_]+\.?,?\s+)?([^\W\d_]{3,})\.?\s+(\d{1,2})\s+(\d{1,2}:\d{2}(?::\d{2})?)"
    r"\s+(\S+)\s+(\d{4})$"
)
# A zone after a date the fast paths read without it: a name after an ISO or numeric date
# ("2026-07-27 16:31:00 CEST", as PHP's "Y-m-d H:i:s T" writes it), an IANA name
# ("Europe/Paris", "Etc/GMT"), or an offset no zone has ("2026-07-27T16:31:00+zz:00").
# Abbreviations in capitals only, as zones write them: "10:00 est" (French) is dateparser's.
_ZONE_AFTER = re.compile(
    r"^(.*\d)\s?\(?((?i:UTC|GMT|UT)[+-]\d{1,2}(?::?\d{2})?|[A-Z]{1,5}|[+-][\w:]{1,6}"
    r"|[A-Z][A-Za-z_]+(?:/[\w+-]+)+)\)?$"
)
_OFFSET = re.compile(r"(?i:UTC|GMT|UT)?([+-])(\d{1,2})(?::?(\d{2}))?")
_MAX_OFFSET = timedelta(hours=14)  # Kiribati's: no zone is further from UTC
# Zone names in RFC 822 (the US ones), and those European feeds use: each names one offset.
# (The US generic names RFC 822 also has are _GENERIC_ZONES.)
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
    "MET": 1,
    "MEST": 2,
    "WEST": 1,
    "BST": 1,
    "CEST": 2,
    "MESZ": 2,
    "EET": 2,
    "EEST": 3,
    # Those of feeds from elsewhere that the press quotes (IST is India's, Israel's or
    # Ireland's: dateparser's guess).
    "MSK": 3,
    "EAT": 3,
    "CAT": 2,
    "SAST": 2,
    "WAT": 1,
    "PKT": 5,
    "ICT": 7,
    "WIB": 7,
    "SGT": 8,
    "HKT": 8,
    "AWST": 8,
    "JST": 9,
    "KST": 9,
    "AEST": 10,
    "AEDT": 11,
    "NZST": 12,
    "NZDT": 13,
    "AKST": -9,
    "AKDT": -8,
    "HST": -10,
}
# Generic names: a zone's standard time in winter and its daylight time in summer ("9:00 AM
# ET" on 1 July is EDT, -04:00), where EST and EDT, GMT and BST, CET and CEST each name one
# offset. The US names (AT for Atlantic), which feedparser reads; NT (Newfoundland), which
# dateparser reads; "UK" ("10am UK time", as the British press writes). With the standard
# offset, which feedparser and dateparser give every day of the year.
_GENERIC_ZONES = {
    "UK": ("Europe/London", timedelta(0)),
    "AT": ("America/Halifax", timedelta(hours=-4)),
    "ET": ("America/New_York", timedelta(hours=-5)),
    "CT": ("America/Chicago", timedelta(hours=-6)),
    "MT": ("America/Denver", timedelta(hours=-7)),
    "PT": ("America/Los_Angeles", timedelta(hours=-8)),
    "NT": ("America/St_Johns", timedelta(hours=-3, minutes=-30)),
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
# Months written out in full, in the languages of _MONTH_NAMES (longer than four letters):
# a longer word is read as a month only if it is one of these.
_FULL_MONTH_NAMES = """
    january february march april june july august september october november december
    janvier février fevrier avril juillet août aout septembre octobre novembre décembre
    januar februar märz maerz juni juli oktober dezember
    enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre
    diciembre gennaio febbraio aprile maggio giugno luglio settembre ottobre dicembre
    janeiro fevereiro março marco maio junho julho setembro outubro novembro dezembro
    januari februari maart augustus
    """
_FULL_MONTHS = frozenset(_FULL_MONTH_NAMES.split())
_NUMERIC = re.compile(
    r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})(?:[ T,]+(\d{1,2})[:h.](\d{2})(?::(\d{2}))?)?$"
)
# The EU's official languages, then those of neighbours whose press our sources quote.
DEFAULT_LANGUAGES = (
    *("en", "fr", "de", "nl", "it", "es", "pt", "da", "sv", "fi", "et", "lv", "lt", "pl"),
    *("cs", "sk", "sl", "hu", "ro", "bg", "el", "hr", "mt", "ga", "uk", "ru", "nb", "tr"),
)
_SPACES = re.compile(r"\s+")
# The ordinal indicators of Italian, Spanish and Portuguese days ("1º", "1ª", "1.º"), which
# dateparser does not read; it reads the degree sign some pages put in their place ("1°").
_ORDINAL_INDICATOR = re.compile(r"(?<=\d)\.?[ºª]")
# Numeric dates with a space after each dot, as Czech, Slovak, Croatian ("12. 11. 2025") and
# Hungarian ("2025. 11. 12.") pages write them: made compact, so they read inside a text too.
_SPACED_HOURS = re.compile(r"(?<!\d)(\d{1,2}) h (\d{2})(?!\d)")
_SPACED_DMY = re.compile(r"(?<![\d.])(\d{1,2})\. ?(\d{1,2})\. ?(\d{4})(?![\d])")
_SPACED_YMD = re.compile(r"(?<![\d.])(\d{4})\. ?(\d{1,2})\. ?(\d{1,2})\.?(?![\d])")
# The dash of a date range: an en or em dash anywhere; a hyphen or a slash only between
# a year and the next date's first digits ("12.11.2025-14.11.2025", ISO intervals).
_RANGE_DASH = re.compile(
    r"\s*[–—]\s*|(?<=\d{4})-(?=\d{1,2}[./]\d)|(?<=\d{4}-\d{2}-\d{2})/(?=\d{4}-\d{2}-\d{2})"
)
# Tokens that end one date's stretch of text: "12 November 2025 · Updated 14 November 2025"
# holds two dates, not one.
_SEPARATORS = frozenset("·|•–—/")
_SEPARATOR_SPLIT = re.compile("[" + re.escape("".join(sorted(_SEPARATORS))) + "]")
# Dates inside running text: see _within.
_YEAR = re.compile(r"(?<!\d)\d{4}(?!\d)")
_DIGITS = re.compile(r"\d+")
# What a number in a date looks like: a day, month or year ("12", "1er", "12th", "2025"), a
# compact date ("12.11.2025", "2025-11-12T09:00:00+01:00"), a time ("14:30", "10h30", "2pm")
# or a zone offset ("+0100", "GMT+01:00"); not "2024/1689", "123/2025" or "C-311/18".
_DATE_PART = re.compile(
    r"\d{1,4}[^\W\d_]{0,3}"
    r"|\d{1,4}([./-])\d{1,2}\1\d{1,4}(?:T[\d:.,+\-Z]+)?"
    r"|\d{1,2}[:h.]\d{2}(?:[:.]\d{2})?[^\W\d_]{0,2}"
    r"|[A-Z]{0,4}[+-]\d{1,2}(?::?\d{2})?"
)
_PUNCTUATION = "()[],.;:|"
_NUMBER = re.compile(r"(\d+)[^\W\d_]{0,3}")
_MONTH_SOURCE = re.compile(r"[^\W\d_]|\d[./-]\d")  # a letter, or a compact date's separator
_MAX_STARTS = 3  # numbers a date may start at: "Case C-311/18 of 16 July 2020" needs the second
_MAX_INNER_WORDS = 5  # words between a date's first and last number
_MAX_NATURAL_CALLS = 3  # dateparser calls per text (~0.3 ms each for one language, ~3 ms for all)
_DATEPARSER_SETTINGS = {
    "PARSERS": ["custom-formats", "absolute-time"],
    "REQUIRE_PARTS": ["day", "month", "year"],
    # EU usage, MDY when told (_parser); a month's name or a 4-digit first field overrides it
    "DATE_ORDER": "DMY",
}


def parse_date(
    text: str,
    languages: Sequence[str] | None = None,
    *,
    full_year: bool = False,
    month_first: bool = False,
) -> datetime | None:
    """Parse one date; None when the text is not a full date. Never raises.

    `languages` (ISO 639-1 codes, region subtags ignored) narrow dateparser's search; without
    them it tries the EU's languages. `full_year`: the year must be written in four digits,
    as on a listing page, where "12 Nov 25" may as well be the 12th with 25 comments (a
    feed's RFC 822 date may have two, as that RFC allowed). `month_first`: "11/12/2025" is
    12 November, as in the US (see date_order.py); a date with dots ("11.12.2025") is day
    first all the same.
    """
    cleaned = _clean(text)
    if cleaned is None:
        return None
    if full_year and not _FOUR_DIGITS.search(cleaned):
        cleaned = in_extended_iso(cleaned)  # "Published: 20261127T0915Z" writes it in full
        if not _FOUR_DIGITS.search(cleaned):
            return None
    # Only for dates with slashes or dashes: dateparser would read "11.12.2025 9 AM" too.
    month_first = month_first and EITHER_ORDER.search(cleaned) is not None
    found = _fast(cleaned, month_first=month_first)
    if found is None and _impossible_rfc822(cleaned):
        return None  # dateparser would read the day alone, and drop the zone too
    if found is None:
        cleaned = in_extended_iso(cleaned)  # "Published: 20261127T0915Z" reads as an extended one
        codes = _language_codes(languages) if languages else _languages_of(cleaned)
        if "sl" in codes:
            cleaned = _slovenian_as_dateparser_reads(cleaned)
        found = _natural(cleaned, codes, month_first=month_first) or _within(
            cleaned, codes, month_first=month_first
        )
        found = _with_written_time(found, cleaned)
        found = _in_written_zone(found, cleaned)
    return _date_only_in_utc(found, cleaned)


# RFC 822's English names, which feeds write whatever their language.
_ENGLISH_DATE_WORDS = frozenset(
    {
        *("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "sept", "oct", "nov"),
        *("dec", "january", "february", "march", "april", "june", "july", "august"),
        *("september", "october", "november", "december"),
        *("mon", "tue", "wed", "thu", "fri", "sat", "sun", "monday", "tuesday", "wednesday"),
        *("thursday", "friday", "saturday", "sunday"),
    }
)


def _languages_of(text: str) -> tuple[str, ...]:
    """The languages to try for a date given none: English for one in RFC 822's or Java's
    layout with English names (a feed's, with a zone the fast path does not know), for which
    dateparser then tries one language, not all of DEFAULT_LANGUAGES (~2 ms a date, not ~8;
    ~1 ms, not ~13, for one it cannot read)."""
    if (match := _RFC822.match(text)) is not None:
        zone = match.group(7)
    elif (match := _ASCTIME.match(text)) is not None:
        zone = match.group(4)
    else:
        # Not read by the fast paths, yet in English date words only (a zone name aside):
        # "Mon, 010 Jun 2026 10:00:00 GMT" tried in every language cost ~30 ms a date,
        # and a feed of 400 such dates held a parse worker for half a minute.
        zone = None
    words = [word.rstrip(".,") for word in text.split() if word != zone]
    words = [word for word in words if word.isalpha()]
    english = all(
        w.lower() in _ENGLISH_DATE_WORDS or (zone is None and w.isupper() and _known_zone(w))
        for w in words
    )
    return ("en",) if words and english else DEFAULT_LANGUAGES


# Relative dates ("il y a 3 jours", "2 hours ago", "gestern") are read up to a week back, to
# the hour within a day and to the day beyond: "3 hours ago" read an hour later is the same
# hour, and a week-old "1 week ago" would drift by a day at every refresh.
RELATIVE_HORIZON = timedelta(days=7)
_RELATIVE_SETTINGS = {"PARSERS": ["relative-time"], "PREFER_DATES_FROM": "past"}


def parse_relative_date(
    text: str, languages: Sequence[str] | None, *, base: datetime, local: tzinfo = UTC
) -> datetime | None:
    """A relative date in a listing page, counted back from `base` (the server's time of
    the answer) in `local`, the source's zone: "Yesterday" read at 00:30 in Brussels is the
    Brussels day before, and "Yesterday, 18:00" is 18:00 there. None when the text is none,
    or one more than RELATIVE_HORIZON back."""
    cleaned = _SPACES.sub(" ", text).strip()
    if not cleaned or len(cleaned) > 60:
        return None
    found = _relative_reading(cleaned, languages)
    if found is None and any(mark in cleaned for mark in _SEPARATORS):
        # "News | 2 hours ago": the part that is a relative date.
        parts = _SEPARATOR_SPLIT.split(cleaned)
        found = next(filter(None, (_relative_reading(p.strip(), languages) for p in parts)), None)
    if found is None:
        return None
    first, later = found
    if first == later:  # "Today, 14:30": a day counted back, at the time the text writes
        return _at_written_time(first, base.astimezone(local))
    back = _RELATIVE_BASE - first
    if back < timedelta(0) or back >= RELATIVE_HORIZON:
        return None
    if back < timedelta(days=1):  # "2 hours ago": to the hour
        return (base.astimezone(UTC) - back).replace(minute=0, second=0, microsecond=0)
    # "3 days ago": the source's day, as a date alone is (midnight UTC: _date_only_in_utc).
    day = (base.astimezone(local).replace(tzinfo=None) - back).date()
    return datetime.combine(day, time(), tzinfo=UTC)


def _at_written_time(found: datetime, now: datetime) -> datetime | None:
    """`found`'s time of day on the day it is counted back to from `now` (local), in UTC."""
    days = (found.date() - _RELATIVE_BASE.date()).days
    if days > 0 or -days >= RELATIVE_HORIZON.days:  # "Tomorrow, 10:00" is no publication
        return None
    day = now.date() + timedelta(days=days)
    return datetime.combine(day, found.time(), tzinfo=now.tzinfo).astimezone(UTC)


def _relative_reading(
    text: str, languages: Sequence[str] | None
) -> tuple[datetime, datetime] | None:
    """`text` read against _RELATIVE_BASE and against _RELATIVE_BASE_LATER: a time of day
    the text writes ("Hier à 18h00") reads the same against both, a time counted from the
    base ("il y a 2 heures", "hier") moves with it."""
    first = _relative(text, languages, _RELATIVE_BASE)
    if first is None:
        return None
    later = _relative(text, languages, _RELATIVE_BASE_LATER)
    return None if later is None else (first, later)


def _relative(text: str, languages: Sequence[str] | None, base: datetime) -> datetime | None:
    if not text:
        return None
    try:
        found = _relative_parser(_language_codes(languages), base).get_date_data(text).date_obj
    except Exception:  # dateparser's assorted errors on odd input: no date
        return None
    # A zone the text names ("Today 14:30 CET") is left out: compared with the naive bases.
    return found.replace(tzinfo=None) if isinstance(found, datetime) else None


# A document's dates are each read three times: checked as fastfeed reads the document, then
# an entry's published and updated dates (the same text in most feeds) by feed.py. Sized for
# the dates of a large document, so that the last two are found here.
@lru_cache(maxsize=2048)
def parse_date_fast(text: str) -> datetime | None:
    """Only the fast paths (ISO 8601, RFC 822, numeric day-first): microseconds, never raises."""
    cleaned = _clean(text)
    return _date_only_in_utc(_fast(cleaned), cleaned) if cleaned is not None else None


# A time of day as pages and feeds write one: "09:00", "14h30", "9 h 30", "9.30", "9 h",
# "2pm", "10:30 a.m.", "14 Uhr". Groups: hour, minute, a/p.
_CLOCK = re.compile(
    r"(?<![\d.:])(\d{1,2})\s?(?:[:h.]\s?(\d{2})(?!\d)|h\b|(?=\s?[ap]\.?m\b)|(?=\s?uhr\b))"
    r"(?:\s?([ap])\.?m\b\.?)?",
    re.IGNORECASE,
)


def _clock_of(text: str) -> re.Match[str] | None:
    """The time of day written with the text's first date (see `_first_date`)."""
    return _CLOCK.search(_without_date_digits(_first_date(text)))


def _first_date(text: str) -> str:
    """The text up to its second year, if any ("Published 12 November 2025 · Updated 14
    November 2025 10:00": the time is the second date's), up to the word holding it
    ("14.11.2025", "2025")."""
    years = list(_YEAR.finditer(text))
    return text[: text.rfind(" ", 0, years[1].start()) + 1] if len(years) > 1 else text


def _in_written_zone(found: datetime | None, text: str) -> datetime | None:
    """dateparser's reading `found` in the zone the text names after the time of its first
    date, where the reading left the zone out or gave it one offset all year: the window of
    "Published 4 March 2026 9:00 AM GMT" it read may end before the zone, it does not know
    "CT", and it reads "ET" as -05:00 in July too."""
    clock = _clock_of(text)
    named = None if clock is None else _ZONE_WORD.match(clock.string, clock.end())
    if found is None or named is None:
        return found
    zone = named[1]
    # Names in capitals, as zones write them: "9:00 at the Council" names none.
    if not (zone.isupper() or "/" in zone):
        return found
    if found.tzinfo is not None:
        generic = _GENERIC_ZONES.get(zone)
        if generic is None or found.utcoffset() != generic[1]:
            return found  # read with its zone (or another's: "09:00+02:00 CEST")
    return _in_zone(found.replace(tzinfo=None), zone) or found


def _with_written_time(found: datetime | None, text: str) -> datetime | None:
    """`found` at the time of day the text writes, where the reading lost it: dateparser
    reads "le 12 novembre 2025 à 9 h" as midnight, and "12.11.2025 24:00" as the 12th's."""
    if found is None or (found.hour, found.minute, found.second) != (0, 0, 0):
        return found
    clock = _clock_of(text)
    if clock is None:
        return found
    hour, minute = int(clock[1]), int(clock[2] or 0)
    half = (clock[3] or "").lower()
    if half == "p" and hour < 12:
        hour += 12
    elif half == "a" and hour == 12:
        hour = 0
    if (hour, minute) == (24, 0):  # the end of the day
        return found + timedelta(days=1)
    if hour > 23 or minute > 59:
        return found
    return found.replace(hour=hour, minute=minute)


def _date_only_in_utc(found: datetime | None, text: str) -> datetime | None:
    """A date without a time ("2023-05-23", "12 novembre 2025") as midnight UTC, so that it
    reads as that day in UTC and in every European zone, as feedparser and other readers
    give it. Read as midnight in the source's zone (as a naive date with a time is), it
    showed as the previous day in every UTC display (JSON, export)."""
    if (
        found is None
        or found.tzinfo is not None
        or (found.hour, found.minute, found.second, found.microsecond) != (0, 0, 0, 0)
        or _clock_of(text)
    ):
        return found
    return found.replace(tzinfo=UTC)


# Compact dates whose separators look like a time's ("12.11.2025" holds "12.11"): taken out
# before looking for a time of day.
_COMPACT_DATE = re.compile(r"\d{1,4}([./-])\d{1,2}\1\d{1,4}")


def _without_date_digits(text: str) -> str:
    return _COMPACT_DATE.sub(" ", text)


# Latvian writes "2025. gada 6. oktobrī" ("in the year 2025, on 6 October"), the month in
# the locative; dateparser knows "6. oktobris 2025" only. The month's nominative, by locative.
_LATVIAN_MONTHS = {
    "janvārī": "janvāris", "februārī": "februāris", "martā": "marts", "aprīlī": "aprīlis",
    "maijā": "maijs", "jūnijā": "jūnijs", "jūlijā": "jūlijs", "augustā": "augusts",
    "septembrī": "septembris", "oktobrī": "oktobris", "novembrī": "novembris",
    "decembrī": "decembris",
}  # fmt: skip
_LATVIAN_MONTHS |= {nominative: nominative for nominative in _LATVIAN_MONTHS.values()}
_LATVIAN_DATE = re.compile(
    r"\b(?:(?P<year>\d{4})\.?\s*gad[aā]\s+)?(?P<day>\d{1,2})\.\s*(?P<month>"
    + "|".join(_LATVIAN_MONTHS)
    + r")(?!\w)",
    re.IGNORECASE,
)
_MALTESE_OF = re.compile(r"\b(\d{1,2}) ta['’]\s*(?=[^\W\d_])")


def _latvian_as_dateparser_reads(text: str) -> str:
    def rewritten(match: re.Match[str]) -> str:
        month = _LATVIAN_MONTHS[match["month"].lower()]
        return f"{match['day']}. {month}" + (f" {match['year']}" if match["year"] else "")

    return _LATVIAN_DATE.sub(rewritten, text)


# Slovenian writes a date's month in the genitive ("12. novembra 2025"), which dateparser's
# Slovenian knows only in the nominative ("november"). Only for Slovenian text: Polish
# "12 marca" is March to dateparser as it is, and would not be as "marec".
_SLOVENIAN_MONTHS = {
    "januarja": "januar", "februarja": "februar", "marca": "marec", "aprila": "april",
    "maja": "maj", "junija": "junij", "julija": "julij", "avgusta": "avgust",
    "septembra": "september", "oktobra": "oktober", "novembra": "november",
    "decembra": "december",
}  # fmt: skip
_SLOVENIAN_DATE = re.compile(
    r"\b(?P<day>\d{1,2})\.\s*(?P<month>" + "|".join(_SLOVENIAN_MONTHS) + r")(?!\w)",
    re.IGNORECASE,
)


def _slovenian_as_dateparser_reads(text: str) -> str:
    return _SLOVENIAN_DATE.sub(
        lambda match: f"{match['day']}. {_SLOVENIAN_MONTHS[match['month'].lower()]}", text
    )


# A time written with dots and seconds right after a year in four digits ("Tue, 24 Nov 2026
# 09.00.00 +0100", as some CMSs write RFC 822): read as a date ("09.00.00", day.month.year),
# its time was lost, and feedparser read it as midnight.
_DOTTED_TIME = re.compile(r"(?<=\d{4} )([01]?\d|2[0-3])\.([0-5]\d)\.([0-5]\d)(?![\d.])")


def _clean(text: str) -> str | None:
    cleaned = _SPACES.sub(" ", text).strip()
    if len(cleaned) > 200 or not any(c.isdigit() for c in cleaned):
        return None  # every full date has a year in digits: spares dateparser's slow "no"
    cleaned = _starting_in_extended_iso(cleaned)
    if "º" in cleaned or "ª" in cleaned:  # "1º novembre 2026", "1.ª de março": the 1st
        cleaned = _ORDINAL_INDICATOR.sub("", cleaned)
    if " h " in cleaned:  # "à 14 h 30", as French writes a time: "14h30", as dateparser reads
        cleaned = _SPACED_HOURS.sub(r"\1h\2", cleaned)
    if "gada" in cleaned or "ī " in cleaned or "ā " in cleaned:
        cleaned = _latvian_as_dateparser_reads(cleaned)
    if " ta" in cleaned:  # Maltese "6 ta’ Ottubru 2025": "of" between day and month
        cleaned = _MALTESE_OF.sub(r"\1 ", cleaned)
    if "." in cleaned:  # "24 Nov 2026 09.00.00 +0100": a time with dots, after the year
        cleaned = _DOTTED_TIME.sub(r"\1:\2:\3", cleaned)
    if ". " in cleaned:
        cleaned = _SPACED_DMY.sub(r"\1.\2.\3", cleaned)
        cleaned = _SPACED_YMD.sub(_ymd_as_iso, cleaned)
    if "–" in cleaned or "—" in cleaned or "/" in cleaned or "-" in cleaned:
        # A range written without spaces ("12.11.2025–14.11.2025", "2025-11-12/2025-11-14")
        # is a range all the same: spaced, its dash parts the two dates (_SEPARATORS).
        cleaned = _RANGE_DASH.sub(" – ", cleaned)
    return cleaned


# ISO 8601's other layouts of a date and time: the basic format ("20261127T091500Z",
# "20261127T0915+0100"), mixed ones ("2026-11-27T0915Z", "20261127T09:15:00Z"), week dates
# ("2026-W48-5T09:15Z") and ordinal dates ("2026-331T09:15Z"), "t" and "z" in lower case (as
# RFC 3339 allows). feedparser reads most of them as midnight, and a week date as the 1st of
# its month; our readers (fromisoformat aside) and `zone_word` know the extended layout only.
# The zone after the time is left as written: the readers know all of its layouts.
_ISO_LAYOUTS = re.compile(
    # At the text's start or after a space, a colon or a bracket ("Published: 20261127T0915Z",
    # "(2026-W48-5)"), not inside a number or a reference ("C-2026-331T...", "1/20261127T...").
    r"(?<![\w./+-])"
    r"(?P<year>\d{4})"
    r"(?:(?P<dash>-?)(?P<month>\d{2})(?P=dash)(?P<day>\d{2})"
    r"|-?W(?P<week>\d{2})(?:-?(?P<weekday>\d))?"
    r"|(?P<ordinal_dash>-?)(?P<ordinal>\d{3}))"
    r"(?:(?P<sep>[Tt ])(?P<hour>\d{2})(?:(?P<colon>:?)(?P<minute>\d{2})"
    r"(?:(?P=colon)(?P<second>\d{2})(?P<fraction>[.,]\d+)?)?)?)?"
    r"(?P<zulu>z(?![^\W\d_]))?"  # UTC in lower case, as RFC 3339 allows (not "zone")
    # The time ends there: a zone, a space, punctuation, or nothing follows ("20261127T0915
    # CET", "(20261127T0915Z)"); not a digit or a letter ("20261127T09h15").
    r"(?=[Zz+\s(),;|-]|\.(?!\d)|$)"
)
# The extended layout most feeds write ("2026-11-27T09:15:00+01:00"): nothing to rewrite,
# told by one cheap look (the rewrite's own look costs a date some 3 µs).
_EXTENDED_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}[^z]*)?")
# Where an ISO 8601 date may be in a text: four digits, then what the layouts go on with.
_MAY_HOLD_ISO = re.compile(r"\d{4}[-W\d]")
# A week date ("2026-W48-5", "2026W48"), which feedparser reads as the 1st of its month.
_WEEK_DATE = re.compile(r"\d{4}-?W\d")


def in_extended_iso(text: str) -> str:
    """`text` with the ISO 8601 dates and times in it in the extended layout
    ("20261127T0915+0100" is "2026-11-27T09:15+0100", "Updated 2026-W48-5T09:15Z" is
    "Updated 2026-11-27T09:15Z"); else as it is. A basic or ordinal date is taken only with
    a time of day: alone, "20261127" and "2026-331" are as often a reference number on a
    listing page. An impossible date or time (a 13th month, hour 25) is left as it is."""
    if text[:4].isdigit() and _EXTENDED_ISO.fullmatch(text):
        return text
    if _MAY_HOLD_ISO.search(text) is None:
        return text
    return _ISO_LAYOUTS.sub(_in_extended_layout, text)


def _starting_in_extended_iso(text: str) -> str:
    """`in_extended_iso` of the date the text starts with, what the fast paths read: for
    the RFC 822 dates most feeds write, a look at four characters."""
    if not text[:4].isdigit() or _EXTENDED_ISO.fullmatch(text):
        return text
    match = _ISO_LAYOUTS.match(text)
    return text if match is None else _in_extended_layout(match) + text[match.end() :]


def _in_extended_layout(match: re.Match[str]) -> str:
    """One `_ISO_LAYOUTS` date in the extended layout; as written when it is none."""
    written = match.group(0)
    day = _iso_day(match)
    hour, separator, minute = match.group("hour", "sep", "minute")
    if day is None or (hour is None and match["week"] is None):
        return written
    if hour is not None and not _possible_time(match):
        return written
    if separator == " " and (minute is None or not _unmistakable_day(match)):
        return written  # "20261127 0915", "2026-11-27 12 novembre": numbers, as far as we know
    extended = day.isoformat()
    if hour is not None:
        second, fraction = match.group("second", "fraction")
        extended += f"{'T' if separator in 'Tt' else ' '}{hour}:{minute or '00'}"
        extended += f":{second}{fraction or ''}" if second else ""
    return extended + ("Z" if match["zulu"] else "")


def _unmistakable_day(match: re.Match[str]) -> bool:
    """Whether an `_ISO_LAYOUTS` match's day is a date whatever follows it: a week date, or
    one written with its dashes ("2026-11-27", "2026-331"), not a run of digits."""
    return match["week"] is not None or "-" in (match["dash"], match["ordinal_dash"])


def _iso_day(match: re.Match[str]) -> date | None:
    """The day an `_ISO_LAYOUTS` match names (calendar, week or ordinal), None if none is."""
    year = int(match["year"])
    try:
        if match["week"] is not None:
            if match["weekday"] is None:  # a week alone is its Monday; with a time, no day
                return None if match["hour"] else date.fromisocalendar(year, int(match["week"]), 1)
            return date.fromisocalendar(year, int(match["week"]), int(match["weekday"]))
        if match["ordinal"] is not None:
            ordinal = int(match["ordinal"])
            if not 1 <= ordinal <= date(year, 12, 31).timetuple().tm_yday:
                return None
            return date(year, 1, 1) + timedelta(days=ordinal - 1)
        return date(year, int(match["month"]), int(match["day"]))
    except ValueError:  # a 13th month, a 54th week, a weekday 8
        return None


def _possible_time(match: re.Match[str]) -> bool:
    """Whether an `_ISO_LAYOUTS` match's time of day is one: 24:00 only as the end of the
    day, second 60 only as a leap second (read as :59, see `_iso`)."""
    hour, minute, second = int(match["hour"]), int(match["minute"] or 0), int(match["second"] or 0)
    if hour == 24:
        return minute == second == 0 and not (match["fraction"] or "").strip(".,0")
    return hour < 24 and minute < 60 and second <= 60


def _impossible_iso(text: str) -> bool:
    """Whether `text` starts with an ISO 8601 date, in any layout, that names no day or no
    time of day: "2026-13-01", "2026-W54-1", "2026-000T09:15Z", "20261127T2515Z",
    "2026-11-27 24:30". (A basic ordinal date alone, seven digits, is a number.)"""
    match = _ISO_LAYOUTS.match(text)
    if match is None:
        return False
    # A time after a space only as `_in_extended_layout` takes one: "2026-11-27 12 novembre"
    # is a date, then a number.
    with_time = match["hour"] is not None and (
        match["sep"] != " " or (match["minute"] is not None and _unmistakable_day(match))
    )
    if not with_time and match["ordinal"] is not None and not match["ordinal_dash"]:
        return False
    if _iso_day(match) is None:
        return True
    return with_time and not _possible_time(match)


def feedparser_misreads(text: str) -> bool:
    """Whether `text` is an ISO 8601 date that feedparser reads wrong, so that its reading
    must not stand in for ours: one that cannot be (a 13th month, week 54, day 000, hour 25,
    which it rolls over into other days, or reads as midnight), or one in a layout other
    than the extended one (a week date is the 1st of its month to it; a basic, ordinal or
    week date with a time, or one with a space before the time, is midnight)."""
    cleaned = _SPACES.sub(" ", text).strip()
    return (
        _impossible_iso(cleaned)
        or _WEEK_DATE.match(cleaned) is not None
        or in_extended_iso(cleaned) != cleaned
    )


def _ymd_as_iso(match: re.Match[str]) -> str:
    year, month, day = match.groups()
    return f"{year}-{int(month):02d}-{int(day):02d}"


def _fast(text: str, *, month_first: bool = False) -> datetime | None:
    return _fast_as_written(text, month_first=month_first) or _with_zone_after(
        text, month_first=month_first
    )


def _fast_as_written(text: str, *, month_first: bool = False) -> datetime | None:
    numeric = _numeric_month_first if month_first else _numeric
    for fast in (_iso, _rfc822, numeric, _asctime):
        try:
            found = fast(text)
        except (ValueError, OverflowError):  # out-of-range fields: 31 February, hour 25
            found = None
        if found is not None:
            return found
    return None


def _with_zone_after(text: str, *, month_first: bool = False) -> datetime | None:
    """A date and time the fast paths read, then a zone they do not take there (_ZONE_AFTER):
    at the zone's offset; naive (the source's time) after an offset no zone has, as
    dateparser reads it, slowly. None for a name we do not know: dateparser knows more."""
    match = _ZONE_AFTER.match(text)
    if match is None:
        return None
    written, zone = match.groups()
    if not _known_zone(zone) and zone[0] not in "+-":
        return None
    found = _fast_as_written(written, month_first=month_first)
    if found is None or found.tzinfo is not None or _clock_of(written) is None:
        return None  # a zone after a zone, or after a date without a time: no reading of ours
    return _in_zone(found, zone) or found


@lru_cache(maxsize=64)
def _named_zone(name: str) -> ZoneInfo | None:
    """The IANA zone of that name ("Europe/Paris"), else None."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _asctime(text: str) -> datetime | None:
    match = _ASCTIME.match(text)
    if not match:
        return None
    month, day, clock, zone, year = match.groups()
    return _rfc822(f"{day} {month} {year} {clock} {zone}")


def _iso(text: str) -> datetime | None:
    if not _ISO.match(text):
        return None
    value = text.replace(" ", "T", 1) if len(text) > 10 and text[10] == " " else text
    # A leap second ("23:59:60"), which datetime cannot hold: the second before.
    if value[16:19] == ":60":
        value = f"{value[:17]}59{value[19:]}"
    if value[10:16] == "T24:00" and not value[16:19].strip(":0"):  # the end of the day
        found = datetime.fromisoformat(value[:10] + "T00:00" + value[16:])
        return _fixed_offset(found + timedelta(days=1))
    return _fixed_offset(datetime.fromisoformat(value))


def _rfc822(text: str) -> datetime | None:
    match = _RFC822.match(text)
    if not match:
        return None
    # The regex dropped the weekday, in whatever language ("mer,", "Di.,").
    day, month_name, year_text, hour, minute, second, zone = match.groups()
    lowered = month_name.lower()
    if len(lowered) > 4 and lowered not in _FULL_MONTHS:
        return None  # "5 decisions 2025" is no date: only a month's name or abbreviation
    month = _MONTHS.get(lowered[:4]) or _MONTHS.get(lowered[:3])
    if month is None:
        return None
    year = int(year_text)
    if len(year_text) == 2:  # two-digit years, as RFC 822 allowed; "0025" is year 25
        year += 2000 if year < 50 else 1900
    naive = _with_hour_24(year, month, int(day), int(hour or 0), int(minute or 0), second)
    if zone is None:
        return naive
    # A name we do not know: dateparser knows more. An offset no zone has ("+zz:00",
    # "+99:99"): the time as written, as dateparser reads it too, but slowly.
    return _in_zone(naive, zone) or (naive if zone[0] in "+-" else None)


def _impossible_rfc822(text: str) -> bool:
    """Whether `text` is laid out as an RFC 822 date that names no day or no time of day:
    "26 Nov 2025 25:30:00 GMT", "12:75", second 61, "31 Nov 2025". ("Wed, 26 Nov 2025
    25:30:00 GMT" read by dateparser was 26 November at midnight, in the source's zone.)"""
    if _RFC822.match(text) is None:
        return False
    try:
        _rfc822(text)
    except (ValueError, OverflowError):
        return True
    return False


def _in_zone(naive: datetime, zone: str) -> datetime | None:
    """`naive`, a date and time written in `zone` ("+0100", "CEST", "ET", "Europe/Paris"),
    at the offset the zone has then: a generic name's or an IANA name's on that day
    (summer time or not). None for a zone we do not know, or an offset no zone has."""
    generic = _GENERIC_ZONES.get(zone.upper())
    named = _named_zone(generic[0] if generic else zone) if generic or "/" in zone else None
    if named is not None:
        return _fixed_offset(naive.replace(tzinfo=named))
    offset = generic[1] if generic else _zone_offset(zone)  # (without tzdata: standard time)
    return None if offset is None else naive.replace(tzinfo=timezone(offset))


def _known_zone(zone: str) -> bool:
    """Whether `_in_zone` reads `zone`."""
    return (
        zone.upper() in _GENERIC_ZONES
        or _zone_offset(zone) is not None
        or ("/" in zone and _named_zone(zone) is not None)
    )


def _zone_offset(zone: str) -> timedelta | None:
    """The offset a zone gives ("+0100", "+01:00", "CEST", "UTC-05:00", "GMT+1"), or None: a
    name we do not know, or an offset no zone has ("+zz:00", "+99:99")."""
    if zone.upper() in _ZONES:
        return timedelta(hours=_ZONES[zone.upper()])
    match = _OFFSET.fullmatch(zone)
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
    if offset > _MAX_OFFSET or int(minutes or 0) > 59:
        return None
    return -offset if sign == "-" else offset


def _with_hour_24(
    year: int, month: int, day: int, hour: int, minute: int, second: str | None
) -> datetime:
    """The time, where "24:00:00" (the end of a day, as ISO 8601 allows) is the next day's
    midnight: refused, the date went to dateparser, which dropped the zone and the day."""
    if hour == 24 and minute == 0 and not int(second or 0):
        return datetime(year, month, day) + timedelta(days=1)
    # A leap second ("23:59:60"), which datetime cannot hold: the second before, as `_iso`.
    seconds = int(second or 0)
    return datetime(year, month, day, hour, minute, 59 if seconds == 60 else seconds)


# Where a date names its zone: after its time of day ("16:31:00 CEST", "4:31 PM (CET)",
# "16:31:00 CEST 2026", "16:31:00 UTC-05:00", "16:31:00 Europe/Paris", "16:31:00+zz:00").
_TIME_OF_DAY = re.compile(r"\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?")
_HALF_DAY = re.compile(r"\s*[ap]\.?m\b\.?", re.IGNORECASE)
# (An offset in digits followed by a letter is one all the same: "-06:00Textra".)
_ZONE_WORD = re.compile(
    r"\s*\(?([A-Za-z][\w/]*(?:[+-][\d:]+)?|[+-]\d{1,2}(?::?\d{2})?(?![\d:])|[+-][\w:]+)"
)


def zone_word(text: str) -> str | None:
    """The zone a date names after its time of day, as written ("CEST", "UTC-05:00",
    "Europe/Paris", "+zz:00"), else None; None too for an offset in digits ("+0100")."""
    text = in_extended_iso(text.strip())  # "20261127T0915 CET" has its time of day too
    clock = _TIME_OF_DAY.search(text)
    if clock is None:
        return None
    rest = text[clock.end() :]
    half = _HALF_DAY.match(rest)
    match = _ZONE_WORD.match(rest[half.end() :] if half else rest)
    if match is None:
        return None
    zone = match.group(1)
    return None if zone[0] in "+-" and _zone_offset(zone) is not None else zone


def unknown_zone(text: str) -> str | None:
    """The zone a date names that neither the fast paths nor feedparser read (feedparser
    takes its time as UTC, or drops the time), else None: "IST", "NZT", "Mars/Olympus",
    "+zz:00". dateparser may know the name ("IST"): the caller checks its reading."""
    cleaned = in_extended_iso(_SPACES.sub(" ", text).strip())
    match = _RFC822.match(cleaned)
    zone = match.group(7) if match else zone_word(cleaned)
    if zone is None or _known_zone(zone):  # (an IANA name: read by _with_zone_after)
        return None
    # Outside RFC 822's layout, only what looks like a zone: letters in capitals, an IANA
    # name, an offset ("14:00 Uhr" names none).
    if match is None and not (zone.isupper() or "/" in zone or zone[0] in "+-"):
        return None
    return zone


def _numeric(text: str, *, month_first: bool = False) -> datetime | None:
    match = _NUMERIC.match(text)
    if not match:
        return None
    first, second, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
    # Day first, as in every EU language, unless told otherwise (never with dots); either
    # way the other order when the first number cannot be a month, or the second a day.
    if month_first and text[match.end(1)] != ".":
        first, second = second, first
    day, month = (second, first) if second > 12 >= first else (first, second)
    hour, minute, sec = (int(g) if g else 0 for g in match.group(4, 5, 6))
    return datetime(year, month, day, hour, minute, sec)


def _numeric_month_first(text: str) -> datetime | None:
    return _numeric(text, month_first=True)


def _natural(
    text: str, languages: tuple[str, ...], *, month_first: bool = False
) -> datetime | None:
    if _impossible_iso(text):  # dateparser read "2026-13-01T09:00Z" as 13 January
        return None
    try:
        found = _parser(languages, "MDY" if month_first else "DMY").get_date_data(text).date_obj
    except Exception:
        # dateparser raises assorted errors (ValueError, KeyError, OverflowError, regex
        # errors) on odd input; a date we cannot read is simply no date.
        return None
    if not isinstance(found, datetime):
        return None
    return _fixed_offset(found)


def _within(text: str, languages: tuple[str, ...], *, month_first: bool = False) -> datetime | None:
    """The date in a text with words around it ("Publié le 3 février 2026"), or None.

    Windows of the text start at one of its first numbers and end at a later number close
    enough to belong to the same date, longest first (a time or zone is kept when there is one).
    The ISO and numeric fast paths try each window, then dateparser, at most
    _MAX_NATURAL_CALLS times in all.
    """
    tokens = text.split(" ")
    # Each token with a digit: whether it can be part of a date ("2024/1689" cannot).
    numbers = {
        i: _DATE_PART.fullmatch(t.strip(_PUNCTUATION)) is not None
        for i, t in enumerate(tokens)
        if _has_digit(t)
    }
    starts = [i for i, date_like in numbers.items() if date_like][:_MAX_STARTS]
    tried = {text}  # the whole text failed already
    calls = 0
    for start in starts:
        for window in _windows(tokens, numbers, start):
            if window in tried or not _could_be_date(window):
                continue
            tried.add(window)
            found = _fast_in_text(window, month_first=month_first)
            if found is None:
                if calls == _MAX_NATURAL_CALLS:
                    return None
                calls += 1
                found = _natural(window, languages, month_first=month_first)
            if found is not None and _explained(window, found):
                return found
    return None


def _windows(tokens: list[str], numbers: dict[int, bool], start: int) -> Iterator[str]:
    ends = [start]
    words = 0  # between the date's numbers: "12 de noviembre de 2025 a las 10:30" has five
    for index, date_like in numbers.items():
        if index <= start:
            continue
        if any(token in _SEPARATORS for token in tokens[ends[-1] + 1 : index]):
            break
        words += index - ends[-1] - 1
        if not date_like or words > _MAX_INNER_WORDS:
            break
        ends.append(index)
    for end in reversed(ends):
        inner = tokens[start : end + 1]
        year_at = next((i for i, token in enumerate(inner) if _YEAR.search(token)), None)
        if year_at is None:
            continue
        # The word before is needed when no word separates the first number from the year:
        # it must be the month ("November 12, 2025"). The word after is needed when the last
        # number is not the year: a zone or "pm" after a time, "d." after a Lithuanian day.
        month_before = (
            year_at > 0
            and start > 0
            and _is_word(tokens[start - 1])
            and not any(_has_letter(token) for token in inner[1:year_at])
        )
        word_after = (
            year_at < len(inner) - 1 and end + 1 < len(tokens) and _is_word(tokens[end + 1])
        )
        first = start - 1 if month_before else start
        if word_after and _HALF_DAY.fullmatch(tokens[end + 1]) and _zone_after(tokens, end + 2):
            yield " ".join(tokens[first : end + 3])  # "9:00 AM GMT", "9:00 a.m. ET"
        if word_after:
            yield " ".join(tokens[first : end + 2])
        yield " ".join(tokens[first : end + 1])


def _zone_after(tokens: list[str], at: int) -> bool:
    """Whether tokens[at] looks like a zone's name: capitals ("GMT", "(CET)"), or an IANA
    name."""
    if at >= len(tokens):
        return False
    word = tokens[at].strip("()")
    return (word.isalpha() and word.isupper()) or ("/" in word and _is_word(word))


def _could_be_date(window: str) -> bool:
    # Inside a text, a date gives its year in full, a day, and a month as a word or in a
    # compact date ("12.11.2025"): what lacks one is not worth a dateparser call.
    return (
        _YEAR.search(window) is not None
        and len(_DIGITS.findall(window)) >= 2
        and _MONTH_SOURCE.search(window) is not None
    )


def _fast_in_text(window: str, *, month_first: bool = False) -> datetime | None:
    # Not _rfc822: it knows months by their first letters, which inside running text would
    # read "5 decisions 2025" as 5 December. dateparser knows whole month names.
    for fast in (_iso, _numeric_month_first if month_first else _numeric):
        try:
            found = fast(window)
        except (ValueError, OverflowError):
            found = None
        if found is not None:
            return found
    return None


def _explained(window: str, found: datetime) -> bool:
    """Whether the date read accounts for the window's numbers.

    The year must be written in full, the day must be written, and every bare number must be
    the day, the year or part of the time: a month is a name or sits in a compact date
    ("12.11.2025"), so "1 of 12, 2025" or "12 3 2025" inside a text are no date.
    """
    if str(found.year) not in _YEAR.findall(window):
        return False
    if found.day not in {int(run) for run in _DIGITS.findall(window)}:
        return False
    parts = [found.day, found.year, found.hour, found.minute, found.second]
    tokens = window.split(" ")
    for index, token in enumerate(tokens):
        number = _NUMBER.fullmatch(token.strip(_PUNCTUATION))  # "12", "1er", "12th", "2pm"
        if number is None:
            continue
        value = int(number.group(1))
        if value in parts:
            parts.remove(value)
        elif value == found.hour - 12 and found.hour in parts and _pm(tokens[index:]):
            parts.remove(found.hour)
        else:
            return False
    return True


def _pm(tokens: list[str]) -> bool:
    """Whether a number is followed by "pm" ("2pm", "2 p.m.", "2 PM")."""
    after = tokens[0].lstrip("0123456789") or (tokens[1] if len(tokens) > 1 else "")
    return after[:1] in ("p", "P")


def _has_digit(token: str) -> bool:
    return any(c.isdigit() for c in token)


def _has_letter(token: str) -> bool:
    return any(c.isalpha() for c in token)


def _is_word(token: str) -> bool:
    return _has_letter(token) and not _has_digit(token)


@lru_cache(maxsize=64)
def _parser(languages: tuple[str, ...], order: str = "DMY") -> DateDataParser:
    from dateparser.date import DateDataParser

    known = tuple(lang for lang in languages if lang in _known_languages())
    settings = {**_DATEPARSER_SETTINGS, "DATE_ORDER": order}
    return DateDataParser(languages=list(known or DEFAULT_LANGUAGES), settings=settings)


# Relative dates are read against fixed bases (one parser per language set and base, cached),
# then moved to the server's time. Two bases on one day, at different times: see
# _relative_reading.
_RELATIVE_BASE = datetime(2000, 1, 15, 12, 0)
_RELATIVE_BASE_LATER = datetime(2000, 1, 15, 13, 17)


@lru_cache(maxsize=32)
def _relative_parser(languages: tuple[str, ...], base: datetime) -> DateDataParser:
    from dateparser.date import DateDataParser

    known = tuple(lang for lang in languages if lang in _known_languages())
    return DateDataParser(
        languages=list(known or DEFAULT_LANGUAGES),
        settings={**_RELATIVE_SETTINGS, "RELATIVE_BASE": base},
    )


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
    if not codes:
        return DEFAULT_LANGUAGES
    # English as well: EU bodies and NGOs write English dates on pages in any language.
    return codes if "en" in codes else (*codes, "en")


def _fixed_offset(value: datetime) -> datetime:
    """Replace library tzinfo objects (pytz, dateutil) with a plain, picklable offset."""
    offset = value.utcoffset()
    if offset is None:
        return value.replace(tzinfo=None)
    return value.replace(tzinfo=timezone(offset))
