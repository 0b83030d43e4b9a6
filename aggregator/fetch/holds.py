"""Hosts that asked us to wait (429 or 503 with Retry-After), and until when.

Retry-After is a server's word about itself, not about the one URL that drew it: a host
answering one source's request with "come back in an hour" is asked nothing more before
then, by any source. A refresh learns holds from the answers it gets (`HttpFetcher`) and
from the store (the rate-limited sources' Retry-After, `pipeline.Refresher`); a request
whose turn comes while its host is held is not sent and fails as `HostHeld`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import httpx

from aggregator.errors import HostHeld
from aggregator.fetch.parsed import parsed_url
from aggregator.models import SourceHealth


def host_key(url: str) -> str | None:
    """The server a URL names, as holds are kept: the host, with its port when not the
    scheme's default ("example.org", "127.0.0.1:8080"); None when it is not an http(s) URL.
    http and https of one host are one server: one site's Retry-After holds for both."""
    try:
        parsed = parsed_url(url)
    except (httpx.InvalidURL, ValueError, UnicodeError):
        return None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return None
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host  # IPv6, as URLs write it
    return f"{host}:{parsed.port}" if parsed.port else host


@dataclass(frozen=True, slots=True, kw_only=True)
class Hold:
    until: datetime  # UTC
    source_id: str  # the source whose request drew the Retry-After


class Holds:
    """Host -> the hold in force on it. Used from one event loop: no lock."""

    def __init__(self) -> None:
        self._holds: dict[str, Hold] = {}

    def hold_host(self, key: str, held: Hold) -> None:
        """Hold a host (as `host_key` names it) as `held` says, unless held longer."""
        if key not in self._holds or held.until > self._holds[key].until:
            self._holds[key] = held

    def hold(self, url: str, until: datetime, source_id: str) -> None:
        """Hold `url`'s host until `until`. The later of two holds stands, but a source's
        own hold may be shortened by that source (`shorten`: the schedule's cap)."""
        key = host_key(url)
        if key is not None:
            self.hold_host(key, Hold(until=until, source_id=source_id))

    def shorten(self, source_id: str, until: datetime) -> None:
        """The holds `source_id` drew end no later than `until`: a Retry-After further off
        than the schedule waits (a date in 2099) is honoured as the schedule caps it, for
        the other sources of the host as for the one that drew it."""
        for key, held in list(self._holds.items()):
            if held.source_id == source_id and held.until > until:
                self._holds[key] = Hold(until=until, source_id=source_id)

    def check(self, source_id: str, url: str, now: datetime) -> None:
        """Raise `HostHeld` when `url`'s host is held at `now`."""
        if not self._holds:
            return
        key = host_key(url)
        held = self._holds.get(key) if key is not None else None
        if held is None or held.until <= now:
            return
        raise HostHeld(source_id, host=key or url, until=held.until, held_by=held.source_id)


def stored_holds(states: Iterable[SourceHealth], now: datetime) -> dict[str, Hold]:
    """Host -> the hold the stored states say is in force at `now`: the host that answered
    (the end of a redirect), else the source's own, held by the latest wait. Read from the
    stored Retry-After whatever the source's status and next fetch since: its url edited,
    the source is asked at once (and may succeed elsewhere), and the host it left is held
    all the same. (The stored time is already capped to the schedule, `Refresher._failed`.)"""
    found: dict[str, Hold] = {}
    for state in states:
        until = state.retry_after
        key = host_key(state.retry_after_url or state.url)
        if until is None or until <= now or key is None:
            continue
        if key not in found or until > found[key].until:
            found[key] = Hold(until=until, source_id=state.id)
    return found


def host_hold(state: SourceHealth, holds: Mapping[str, Hold]) -> Hold | None:
    """The hold in force on the host a source is fetched from (`stored_holds`), if any:
    drawn by this source or by another of the host."""
    key = host_key(state.url)
    return holds.get(key) if key is not None else None


def next_asked(state: SourceHealth, holds: Mapping[str, Hold]) -> datetime | None:
    """When a source fetched on schedule is asked next: its next fetch time, or the end of
    its host's hold (`stored_holds`) when later: no refresh asks a held host before then."""
    hold = host_hold(state, holds)
    if hold is None or (state.next_fetch_at is not None and state.next_fetch_at >= hold.until):
        return state.next_fetch_at
    return hold.until
