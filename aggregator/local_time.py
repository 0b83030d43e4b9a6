"""The time zone a source's dates without an offset are in ("06.10.2017 11:15" on a page).

A listing page writes local time and rarely says which: the source's `timezone` setting says,
else its country's (below), else the `[defaults]` one, else none and such dates are taken as
UTC. Countries with one zone for their mainland only: where a country spans several (Spain's
Canaries, Portugal's Azores), the mainland's is the one its national bodies publish in.
"""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo

COUNTRY_ZONES = {
    "AT": "Europe/Vienna",
    "BE": "Europe/Brussels",
    "BG": "Europe/Sofia",
    "CH": "Europe/Zurich",
    "CY": "Asia/Nicosia",
    "CZ": "Europe/Prague",
    "DE": "Europe/Berlin",
    "DK": "Europe/Copenhagen",
    "EE": "Europe/Tallinn",
    "ES": "Europe/Madrid",
    "FI": "Europe/Helsinki",
    "FR": "Europe/Paris",
    "GB": "Europe/London",
    "GR": "Europe/Athens",
    "HR": "Europe/Zagreb",
    "HU": "Europe/Budapest",
    "IE": "Europe/Dublin",
    "IS": "Atlantic/Reykjavik",
    "IT": "Europe/Rome",
    "LI": "Europe/Vaduz",
    "LT": "Europe/Vilnius",
    "LU": "Europe/Luxembourg",
    "LV": "Europe/Riga",
    "MT": "Europe/Malta",
    "NL": "Europe/Amsterdam",
    "NO": "Europe/Oslo",
    "PL": "Europe/Warsaw",
    "PT": "Europe/Lisbon",
    "RO": "Europe/Bucharest",
    "SE": "Europe/Stockholm",
    "SI": "Europe/Ljubljana",
    "SK": "Europe/Bratislava",
    "UA": "Europe/Kyiv",
    # The EU's own codes (Interinstitutional Style Guide), which EU sources' configs use:
    # "EL" for Greece and "UK" for the United Kingdom, where ISO 3166 has GR and GB.
    "EL": "Europe/Athens",
    "UK": "Europe/London",
}


def source_zone(configured: str | None, default: str | None, country: str | None) -> str | None:
    """The zone name a source's naive dates are read in: its own, its country's, the default."""
    return configured or (COUNTRY_ZONES.get(country) if country else None) or default


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
