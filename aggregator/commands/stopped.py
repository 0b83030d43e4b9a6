"""What `aggregator refresh` says when Ctrl-C or SIGTERM stops it mid-way.

Each source's writes commit whole, in batches of sources, so a stop loses nothing finished.
But a batch the store thread was writing when the stop came still commits, after the event
loop has given up waiting for it: its sources were stored and not reported. They are read
back from the fetch log (everything logged for the refresh's sources since it began), so the
report names every source whose refresh is stored, and those that were not refreshed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from aggregator.errors import SourceError
from aggregator.models import NotModified, Refreshed, SourceResult

if TYPE_CHECKING:
    from aggregator.store.sources import LoggedFetch


def logged_result(fetch: LoggedFetch, warnings: tuple[str, ...] = ()) -> SourceResult:
    """A fetch log row as the result the refresh would have reported for it; `warnings`:
    what reading its document warned about (the source's stored last warning)."""
    outcome: Refreshed | NotModified | SourceError
    if fetch.status in ("new", "updated", "unchanged"):
        outcome = Refreshed(new=fetch.new, updated=fetch.updated, warnings=warnings)
    elif fetch.status == "not modified":
        outcome = NotModified()
    else:
        outcome = _logged_error(fetch)
    return SourceResult(
        source_id=fetch.source_id,
        outcome=outcome,
        started_at=fetch.started_at,
        seconds=fetch.seconds,
    )


def _logged_error(fetch: LoggedFetch) -> SourceError:
    """The stored `str(error)` ("fetch failed: 'id': HTTP 503") split back into its verb and
    message, with its kind, so that the row reads as it would have."""
    text = fetch.error or "failed"
    verb, found, message = text.partition(f": {fetch.source_id!r}: ")
    error = SourceError(fetch.source_id, message if found else text)
    if found:
        error.verb = verb
    error.kind = fetch.error_kind or "error"
    return error


def stored_after_stop(
    reported: Sequence[SourceResult],
    logged: Sequence[LoggedFetch],
    warnings: Mapping[str, tuple[str, ...]] | None = None,
) -> list[SourceResult]:
    """The sources the fetch log has a result for that the refresh had not reported yet:
    the last logged fetch of each (one refresh fetches a source once), with `warnings` (by
    source id) of the documents they read."""
    said = {result.source_id for result in reported}
    last = {fetch.source_id: fetch for fetch in logged if fetch.source_id not in said}
    warned = warnings or {}
    return [logged_result(fetch, warned.get(fetch.source_id, ())) for fetch in last.values()]


def late_ids(reported: Sequence[SourceResult], logged: Sequence[LoggedFetch]) -> list[str]:
    """The ids `stored_after_stop` reports: those whose warnings to read."""
    said = {result.source_id for result in reported}
    return sorted({fetch.source_id for fetch in logged} - said)


def not_refreshed(selected: Sequence[str], results: Sequence[SourceResult]) -> list[str]:
    done = {result.source_id for result in results}
    return [source_id for source_id in selected if source_id not in done]


def stop_sentence(stored: int, left: int, *, stop: str) -> str:
    """The line said after the table: how much of the refresh stands."""
    if not left:
        return f"{stop}: every source's refresh was stored before the stop"
    return (
        f"{stop} before {left} of {stored + left} sources were refreshed, which keep their "
        f"last state; {stored} stored"
    )
