"""The one seam to the outside world: a source and its validators in, bytes or "unchanged" out."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType

from aggregator.errors import FetchError
from aggregator.fetch.file import fetch_file
from aggregator.fetch.holds import Hold
from aggregator.fetch.http import ACCEPT, ACCEPT_PAGE, Admit, HttpFetcher
from aggregator.fetch.options import FetchOptions
from aggregator.models import CacheValidators, Fetched, Source, SourceKind, Unchanged


class Retriever:
    """Fetches by URL scheme. One per process: it owns the HTTP connection pools.

    Use as ``async with Retriever(options) as retriever: await retriever.retrieve(...)``.
    Every failure is a `FetchError` (or its `RateLimited` / `Blocked`) naming the source.
    """

    def __init__(self, options: FetchOptions) -> None:
        self._options = options
        self._http: HttpFetcher | None = None

    async def __aenter__(self) -> Retriever:
        # Built here, not in __init__: its semaphores belong to the running event loop.
        self._http = HttpFetcher(self._options)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    async def retrieve(
        self,
        source: Source,
        url: str,
        validators: CacheValidators,
        *,
        now: datetime,
        admit: Admit | None = None,
    ) -> Fetched | Unchanged:
        """Fetch `url` (the source's current URL) conditionally; `now` dates Retry-After.
        `admit`'s place is taken before the document is read (see `http.Admit`)."""
        scheme = url.partition(":")[0].lower()
        if scheme == "file":
            if admit is not None:
                await admit.take()
            return await fetch_file(source.id, url, validators, max_bytes=self._options.max_bytes)
        if scheme not in ("http", "https"):
            raise FetchError(source.id, f"unsupported URL scheme {scheme!r} in {url!r}")
        if self._http is None:
            raise RuntimeError("Retriever used outside `async with`")
        # A URL the source moved to on the same server is fetched with the configured URL's
        # user name and password: the moved URL is recorded without them.
        return await self._http.fetch(
            source.id,
            url,
            validators,
            now=now,
            admit=admit,
            credentials_of=source.url,
            accept=ACCEPT_PAGE if source.kind is SourceKind.HTML else ACCEPT,
        )

    def hold_host(self, key: str, held: Hold) -> None:
        """Ask the host `key` (`fetch.holds.host_key`) nothing before `held.until`: the
        stored state of `held.source_id` says it answered with Retry-After."""
        if self._http is not None:
            self._http.holds.hold_host(key, held)

    def shorten_hold(self, source_id: str, until: datetime) -> None:
        """The holds `source_id`'s answers drew end no later than `until` (the schedule's
        cap of a Retry-After years away)."""
        if self._http is not None:
            self._http.holds.shorten(source_id, until)
