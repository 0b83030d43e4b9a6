"""A source's health as front ends show it: one record for `aggregator sources --json`, the
API's sources and health endpoints, and the digest's problem section.

Blocked sites (a bot-protection challenge instead of the document) are told apart from other
failures here, once, with the advice of `Blocked`: retrying harder does not help them, and
the operator has to act (another URL, a lower frequency, a contact User-Agent).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aggregator.errors import Blocked, RateLimited
from aggregator.models import SourceHealth

# A blocked source is a problem worth a digest line after this many blocked fetches in a
# row, or once it has failed for a day: one challenge may be a passing storm of bot traffic
# at the publisher's, two in a row mean our fetcher is the one being kept out.
BLOCKED_AFTER_FETCHES = 2
FAILING_AFTER = timedelta(days=1)


def is_blocked(health: SourceHealth) -> bool:
    return health.last_error_kind == Blocked.kind


def advice(health: SourceHealth) -> str | None:
    """What the operator can do about the source's last failure, when we know."""
    if is_blocked(health):
        return Blocked.advice
    if health.last_error_kind == RateLimited.kind:
        return "the site asked us to slow down: consider a longer interval for this source"
    return None


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
        "url": health.url,
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
    "is_blocked",
]
