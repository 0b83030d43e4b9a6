"""A source's health as front ends show it: one record for `aggregator sources --json`, the
API's sources and health endpoints, and the digest's problem section.

Blocked sites (a bot-protection challenge instead of the document) are told apart from other
failures here, once, with the advice of `Blocked`: retrying harder does not help them, and
the operator has to act (another URL, a lower frequency, a contact User-Agent).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from aggregator.errors import Blocked, RateLimited
from aggregator.models import SourceHealth
from aggregator.urls import mask_password

# A blocked source is a problem worth a digest line after this many blocked fetches in a
# row, or once it has failed for a day: one challenge may be a passing storm of bot traffic
# at the publisher's, two in a row mean our fetcher is the one being kept out.
BLOCKED_AFTER_FETCHES = 2
FAILING_AFTER = timedelta(days=1)


def is_blocked(health: SourceHealth) -> bool:
    return health.last_error_kind == Blocked.kind


# The status of a stored HTTP error: "fetch failed: HTTP 410 Gone", "rate limited: HTTP 503
# Service Unavailable, retry after ..." (`SourceError.text` of fetch.http's errors). The
# store keeps the text, not the status, and the advice depends on the status.
_HTTP_STATUS = re.compile(r"^[^:]+: HTTP (\d{3})\b")

SLOW_DOWN = "the site asked us to slow down: consider a longer interval for this source"
GONE = (
    "the publisher removed the feed (410 Gone: for good, unlike a 404): remove the source "
    "from sources.toml, or replace its url with where the content is now"
)
# As config/aggregator.toml says of fetch.contact: publishers block anonymous robots far
# more often than ones that say who to write to.
REFUSED = (
    "the site refuses our requests: set fetch.contact (env AGGREGATOR_CONTACT) if it is not "
    "set, as publishers block anonymous robots far more often than ones that say who to "
    "write to; some sites refuse robots outright: then ask the publisher, or use another "
    "URL for the same content"
)
LOGIN = (
    "the server asks for a login, which a feed reader does not have: use a public URL for "
    "the same content; if the site only refuses robots, set fetch.contact (env "
    "AGGREGATOR_CONTACT), as publishers let through robots that say who to write to"
)


def http_status(health: SourceHealth) -> int | None:
    """The HTTP status the source's last failure was, when it was an HTTP answer."""
    found = _HTTP_STATUS.match(health.last_error or "")
    return int(found[1]) if found else None


def advice(health: SourceHealth) -> str | None:
    """What the operator can do about the source's last failure, when we know."""
    if is_blocked(health):
        return Blocked.advice
    status = http_status(health)
    if health.last_error_kind == RateLimited.kind:
        if status == 503:
            return _unavailable(health)
        return SLOW_DOWN
    if health.last_error_kind != "fetch":
        return None
    if status == 410:
        return GONE
    if status == 403:
        return REFUSED
    if status == 401:
        return LOGIN
    return None


def moved_note(health: SourceHealth, configured_url: str) -> str | None:
    """What to say of a source fetched from another URL than its configured one since a
    301/308, or None when it was not moved. "Update its url" only while the new URL
    answers: once it fails, the refresh tries the configured one again (and forgets the
    move when that answers), and its error names both URLs."""
    if health.url == configured_url:
        return None
    moved = mask_password(health.url)
    if health.last_error is None:
        return f"moved permanently to {moved} (update its url in sources.toml)"
    if moved in health.last_error:
        return None  # the error says it already
    return f"moved permanently to {moved}"


def wait_until(health: SourceHealth) -> datetime | None:
    """Until when the server asked a rate-limited source to wait (Retry-After), not beyond
    the next fetch time it set: a Retry-After in 2099 was capped there."""
    if health.last_status != "rate limited" or health.retry_after is None:
        return None
    return min(health.retry_after, health.next_fetch_at or health.retry_after)


def _unavailable(health: SourceHealth) -> str:
    """A 503 with Retry-After is a server down for maintenance until then, not one asking
    us to slow down: a longer interval would change nothing, and it is asked again then."""
    until = wait_until(health)
    when = f" until {until.isoformat(timespec='seconds')}" if until is not None else " for now"
    return (
        f"the server is unavailable{when} (503, a maintenance window): nothing to change; "
        "it is not asked before then"
    )


def blocked_problem(health: SourceHealth, *, now: datetime) -> bool:
    """Whether a blocked source should be reported (see BLOCKED_AFTER_FETCHES)."""
    if not is_blocked(health):
        return False
    long_failing = health.failing_since is not None and now - health.failing_since > FAILING_AFTER
    return health.consecutive_failures >= BLOCKED_AFTER_FETCHES or long_failing


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def health_record(health: SourceHealth) -> dict[str, Any]:
    """The documented JSON shape of one source's health (CLI `sources --json`, the API)."""
    return {
        "id": health.id,
        "url": mask_password(health.url),
        "last_status": health.last_status,
        "last_fetch": _iso(health.last_fetch_at),
        "last_success": _iso(health.last_success_at),
        "last_error": health.last_error,
        "last_error_kind": health.last_error_kind,
        "last_warning": health.last_warning,
        "blocked": is_blocked(health),
        "advice": advice(health),
        "failing_since": _iso(health.failing_since),
        "consecutive_failures": health.consecutive_failures,
        "items": health.item_count,
        "next_fetch": _iso(health.next_fetch_at),
    }


__all__ = [
    "BLOCKED_AFTER_FETCHES",
    "advice",
    "blocked_problem",
    "health_record",
    "http_status",
    "is_blocked",
    "moved_note",
    "wait_until",
]
