"""Durations as people write them in config files: "90s", "30m", "2h", "1d", or whole minutes.

A bare integer means minutes because that is the unit source intervals are thought in; a
string always carries its unit so that "30" can never be read as thirty seconds by mistake.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")

DURATION_EXAMPLES = '"90s", "30m", "2h", "1d" or whole minutes'


class DurationTooLong(ValueError):
    """A duration beyond what a timedelta holds (about 2.7 million years): the settings say
    "too long" with their own, much smaller, maximum rather than "not a duration"."""


def parse_duration(value: object) -> timedelta:
    """Read a duration; raise ValueError naming the accepted forms when it is not one."""
    # bool is an int subclass: `interval = true` is a mistake, not one minute.
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, timedelta):
        return value
    try:
        if isinstance(value, int):
            if value < 0:
                raise ValueError(f"negative duration: {value!r}")
            return timedelta(minutes=value)
        if isinstance(value, str):
            match = _PATTERN.match(value)
            if match:
                return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    except OverflowError:  # "99999999999d": a ValueError, so that callers need catch one kind
        raise DurationTooLong(f"duration too long: {value!r}") from None
    raise ValueError(f"not a duration: {value!r}")


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling in the config syntax: 300 s -> "5m", 86400 s -> "1d"."""
    seconds = int(value.total_seconds())
    for unit, size in sorted(_UNITS.items(), key=lambda kv: -kv[1]):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
