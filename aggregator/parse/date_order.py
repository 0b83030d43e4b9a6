"""Which comes first in a numeric date such as "11/12/2025": the day, as in Europe (11
December), or the month, as in the United States (12 November).

The order is taken from the best evidence there is, strongest first:

1. The listing's own dates: a page that writes "11/13/2025" writes month first (13 is no
   month), one that writes "13/11/2025" day first; a page showing both proves nothing.
2. The source's `country`, as configured: the operator's word.
3. The item's own `lang`, else the page's, by its region ("en-US"; "en" names none).
4. Else day first, as in every EU country.

Whatever the order, a date only the other can read ("13/11/2025", told month first) is read
so.

The source's country comes before the page's lang because a CMS writes its default lang
whatever the site's country: the European Court of Auditors' listing says lang="en-US".

Only dates with slashes or dashes follow it: one with dots ("11.12.2025") is written so in
day-first countries, and is read day first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Where the month comes first: the United States, and the US territories that have a code of
# their own (American Samoa, Guam, the Northern Mariana Islands, the minor outlying islands,
# the US Virgin Islands). Left out: those with both orders in use (Canada, the Philippines,
# Puerto Rico) and those we are not sure of.
MONTH_FIRST_COUNTRIES = frozenset({"US", "AS", "GU", "MP", "UM", "VI"})

# A date either order could have written: two numbers of one or two digits, then a year in
# four, with slashes or dashes ("11/12/2025", "11-12-2025", of "11/12/2025-11/14/2025" both).
EITHER_ORDER = re.compile(r"(?<![\d./])(\d{1,2})([/-])(\d{1,2})\2(\d{4})(?![\d/])")
# A language tag's region: "en-US", "en_us", "zh-Hant-TW" (not "es-419", a continent).
_REGION = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z]{4})?[-_]([A-Za-z]{2})(?:[-_]|$)")


def shown_order(texts: Iterable[str | None]) -> bool | None:
    """Whether the dates of one listing (`texts`) show the month first (True) or the day
    first (False): some can only be read that way and none only the other. None when none
    shows an order, or they show both."""
    month_first = day_first = False
    for text in texts:
        for match in EITHER_ORDER.finditer(text or ""):
            first, second = int(match[1]), int(match[3])
            month_first |= 1 <= first <= 12 < second <= 31
            day_first |= 1 <= second <= 12 < first <= 31
    return month_first if month_first != day_first else None


def month_first(shown: bool | None, country: str | None, languages: Iterable[str | None]) -> bool:
    """Whether a numeric date is read month first: what the listing shows (`shown_order`),
    else the source's country, else the region of the first of `languages` (the item's
    lang, then the page's) that names one."""
    if shown is not None:
        return shown
    if country:
        return country.strip().upper() in MONTH_FIRST_COUNTRIES
    for language in languages:
        region = _REGION.match(language.strip()) if language else None
        if region is not None:
            return region[1].upper() in MONTH_FIRST_COUNTRIES
    return False
