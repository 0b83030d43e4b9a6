"""What response headers say about time: validators, freshness and Retry-After. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from aggregator.models import CacheValidators

# The latest a server's time is taken as: callers cap waits far below it (a day, a week), and
# `now` plus an absurd Retry-After or max-age (999999999999 s) is past datetime's year 9999.
_LONGEST = timedelta(days=3650)


def _sendable(value: str | None) -> bool:
    # An ETag may hold bytes beyond ASCII (RFC 9110 obs-text), read as latin-1; sent back,
    # such a header failed to encode and aborted the refresh. It is left out instead: the
    # request is unconditional, and an unchanged document is still recognised by its bytes.
    return bool(value and value.isascii() and value.isprintable())


def request_headers(validators: CacheValidators) -> dict[str, str]:
    """The conditional-GET headers for what the last fetch left us."""
    headers = {}
    if validators.etag and _sendable(validators.etag):
        headers["If-None-Match"] = validators.etag
    if validators.last_modified and _sendable(validators.last_modified):
        headers["If-Modified-Since"] = validators.last_modified
    return headers


def _seconds(value: str) -> int | None:
    """Delta-seconds: ASCII digits only ("²" is a digit to str.isdigit, not to int)."""
    return int(value) if value.isascii() and value.isdigit() else None


def _after(now: datetime, seconds: int) -> datetime:
    return now + min(timedelta(seconds=min(seconds, 10**12)), _LONGEST)


def validators_of(headers: Mapping[str, str]) -> CacheValidators:
    return CacheValidators(
        etag=headers.get("etag") or None, last_modified=headers.get("last-modified") or None
    )


def http_date(value: str) -> datetime | None:
    """An HTTP-date as aware UTC, or None when it is not one (e.g. ``Expires: 0``)."""
    try:
        parsed = parsedate_to_datetime(value)
        if parsed.tzinfo is None:  # "-0000" means UTC too, just "not from a known zone"
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):  # 9999-12-31 -1200: past 9999
        return None


def retry_after(value: str | None, now: datetime) -> datetime | None:
    """When Retry-After (delta-seconds or HTTP-date) allows the next request; None if unusable,
    or if it is a date already past: that asks for no wait at all (a server whose clock is
    behind), and taken as `now` it was told as a wait that had ended before it began."""
    if value is None:
        return None
    value = value.strip()
    seconds = _seconds(value)
    if seconds is not None:
        # 0 asks for no wait, as a date already past does: nothing to hold.
        return _after(now, seconds) if seconds > 0 else None
    when = http_date(value)
    if when is None:
        return None
    if when < now:
        return None  # no wait: not "never again" either
    return min(when, now + _LONGEST)


def fresh_until(headers: Mapping[str, str], now: datetime) -> datetime | None:
    """Until when the server says the response stays fresh: max-age first, then Expires."""
    directives = _cache_control(headers.get("cache-control", ""))
    if "no-store" in directives or "no-cache" in directives:
        return None
    max_age = _seconds(directives.get("max-age") or "")
    if max_age is not None:
        # `Age` is how long a cache in between already held it: that much is used up.
        used = _seconds(headers.get("age", "0").strip()) or 0
        return _after(now, max(0, max_age - used))
    expires = headers.get("expires")
    if expires is None:
        return None
    when = http_date(expires)
    if when is None:
        return None
    # Freshness is Expires - Date by the server's own clock (RFC 9111 4.2.1): a server
    # whose clock runs hours ahead pushed the next fetch back by as much.
    sent = http_date(headers.get("date") or "")
    if sent is not None:
        when = now + (when - sent)
    return min(when, now + _LONGEST) if when > now else None


def _cache_control(value: str) -> dict[str, str | None]:
    directives: dict[str, str | None] = {}
    for part in value.split(","):
        name, sep, arg = part.strip().partition("=")
        if name:
            directives[name.lower()] = arg.strip().strip('"') if sep else None
    return directives
