"""What response headers say about time: validators, freshness and Retry-After. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from aggregator.models import CacheValidators


def request_headers(validators: CacheValidators) -> dict[str, str]:
    """The conditional-GET headers for what the last fetch left us."""
    headers = {}
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    return headers


def validators_of(headers: Mapping[str, str]) -> CacheValidators:
    return CacheValidators(
        etag=headers.get("etag") or None, last_modified=headers.get("last-modified") or None
    )


def http_date(value: str) -> datetime | None:
    """An HTTP-date as aware UTC, or None when it is not one (e.g. ``Expires: 0``)."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # "-0000" means UTC too, just "not from a known zone"
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def retry_after(value: str | None, now: datetime) -> datetime | None:
    """When Retry-After (delta-seconds or HTTP-date) allows the next request; None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return now + timedelta(seconds=int(value))
    when = http_date(value)
    if when is None:
        return None
    return max(when, now)  # a date in the past means "now", not "never again"


def fresh_until(headers: Mapping[str, str], now: datetime) -> datetime | None:
    """Until when the server says the response stays fresh: max-age first, then Expires."""
    directives = _cache_control(headers.get("cache-control", ""))
    if "no-store" in directives or "no-cache" in directives:
        return None
    max_age = directives.get("max-age")
    if max_age is not None and max_age.isdigit():
        age = headers.get("age", "0").strip()
        # `Age` is how long a cache in between already held it: that much is used up.
        used = int(age) if age.isdigit() else 0
        return now + timedelta(seconds=max(0, int(max_age) - used))
    expires = headers.get("expires")
    if expires is None:
        return None
    when = http_date(expires)
    return when if when is not None and when > now else None


def _cache_control(value: str) -> dict[str, str | None]:
    directives: dict[str, str | None] = {}
    for part in value.split(","):
        name, sep, arg = part.strip().partition("=")
        if name:
            directives[name.lower()] = arg.strip().strip('"') if sep else None
    return directives
