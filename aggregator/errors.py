"""The error tree. Every error the service expects derives from `AggregatorError`.

    AggregatorError
    ├── ConfigError          a config file is wrong: names file, line or key, and what was expected
    ├── SourceError          one source failed; names the source id. Never stops the other sources.
    │   ├── FetchError       the bytes could not be had (timeout, DNS, 5xx, size cap, ...)
    │   │   ├── RateLimited  429/503 with Retry-After: the source is moved, not retried now
    │   │   │   └── HostHeld another source's host asked to wait: this one is not asked
    │   │   └── Blocked      a bot-protection challenge instead of the document
    │   ├── ParseError       the bytes are not a document we can read
    │   └── InternalError    a bug met while refreshing one source (logged with its traceback)
    ├── StoreError           the database refused or is unreachable
    └── DeliveryError        a digest could not be delivered (SMTP, outbox folder)

Third-party exceptions are wrapped where the call is made, with ``raise ... from exc``.
Anything that is not an `AggregatorError` is a bug. Met while one source is fetched or read,
it is that source's `InternalError` (the pipeline logs the traceback), so that input nobody
foresaw stops that source alone; anywhere else it propagates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Self, cast


class AggregatorError(Exception):
    """Root of every error the service expects."""


class ConfigError(AggregatorError):
    """A config file is wrong. The message says where, what is wrong and what was expected."""

    def __init__(
        self,
        file: str,
        message: str,
        *,
        line: int | None = None,
        key: str | None = None,
        expected: str | None = None,
        more: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.problem = message
        self.expected = expected
        self.more = more  # the file's other problems, said after this one's expectation
        where = file
        if line is not None:
            where += f":{line}"
        if key:
            where += f": {key}"
        text = f"{where}: {message}"
        if expected:
            text += f" (expected {expected})"
        if more:
            text += f"; {more}"
        super().__init__(text)


class SourceError(AggregatorError):
    """One source failed. `kind` is a short machine-readable category for health and metrics."""

    kind = "error"
    verb = "failed"

    def __init__(self, source_id: str, message: str) -> None:
        self.source_id = source_id
        self.message = message
        super().__init__(f"{self.verb}: {source_id!r}: {message}")

    @property
    def text(self) -> str:
        """The error where its source's id is already shown (a table row, a JSON record,
        the source's health): "fetch failed: HTTP 503 Service Unavailable"."""
        return f"{self.verb}: {self.message}"

    def retold(self, message: str) -> Self:
        """The same error (its kind, its wait, its status) with another message."""
        return cast(Self, _rebuild(type(self), {**self.__dict__, "message": message}))

    def __reduce__(self) -> tuple[object, ...]:
        # Errors cross process boundaries (parsing runs in worker processes); the default
        # pickling would call __init__ with the formatted text only.
        return (_rebuild, (type(self), dict(self.__dict__)))


def _rebuild(cls: type[SourceError], state: dict[str, object]) -> SourceError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, f"{cls.verb}: {state['source_id']!r}: {state['message']}")
    return error


class FetchError(SourceError):
    kind = "fetch"
    verb = "fetch failed"

    def __init__(self, source_id: str, message: str, *, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(source_id, message)


class RateLimited(FetchError):
    """The server asked us to come back later; `retry_at` is when (UTC)."""

    kind = "rate-limited"
    verb = "rate limited"

    def __init__(
        self,
        source_id: str,
        message: str,
        *,
        retry_at: datetime | None,
        status_code: int | None,
        answered_by: str | None = None,
    ) -> None:
        self.retry_at = retry_at
        self.answered_by = answered_by  # the URL whose answer it was (after redirects)
        super().__init__(source_id, message, status_code=status_code)


class HostHeld(RateLimited):
    """Not asked at all: the source's host answered another source with Retry-After (429 or
    503), and that time has not come. Not a failure of this source (`pipeline` records no
    error for it, only moves its next fetch to `retry_at`)."""

    def __init__(self, source_id: str, *, host: str, until: datetime, held_by: str) -> None:
        self.host = host
        self.held_by = held_by  # the source whose request drew the Retry-After
        super().__init__(
            source_id,
            f"held: {host} asked us to wait until {until.isoformat(timespec='seconds')}"
            f" (Retry-After, in its answer to source {held_by!r}): not asked before then",
            retry_at=until,
            status_code=None,
        )


class SourceBusy(SourceError):
    """Not asked: another refresh is reading the source now (another `aggregator refresh`,
    the service's tick, a worker). Not a failure of the source: nothing is recorded."""

    kind = "busy"
    verb = "skipped"

    def __init__(self, source_id: str, *, holder: str, until: datetime) -> None:
        """`holder`: who has it, as an operator reads it ("by host:1234:ab12cd34")."""
        self.holder = holder
        self.until = until
        super().__init__(
            source_id,
            f"another refresh is reading it ({holder}, held until"
            f" {until.isoformat(timespec='seconds')}): its result stands",
        )


class Blocked(FetchError):
    """A bot-protection challenge page was served instead of the document."""

    kind = "blocked"
    verb = "blocked"
    advice = (
        "the site serves a bot-protection challenge: try another URL for the same content, "
        "a lower fetch frequency, or a User-Agent with a contact address"
    )


class ParseError(SourceError):
    kind = "parse"
    verb = "parse failed"


class InternalError(SourceError):
    """A bug met while refreshing one source: reported as the source's error, not raised."""

    kind = "internal"
    verb = "internal error (a bug: see the log)"

    @classmethod
    def of(cls, source_id: str, exc: BaseException) -> InternalError:
        text = str(exc)
        return cls(source_id, f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


class ItemsRefused(SourceError):
    """The database refused to hold one source's items (a value beyond what it can store):
    that source's error, not the refresh's."""

    kind = "store"
    verb = "store refused its items"


class StoreError(AggregatorError):
    """The database refused an operation or cannot be reached."""


class StoreConflict(StoreError):
    """Another transaction got in the way of this one (PostgreSQL: a deadlock, a
    serialization failure, a row it references deleted meanwhile, as a prune beside a
    refresh does): the same operation again may well succeed."""


class StoreDataError(StoreError):
    """The database refused the data of one operation (SQLSTATE class 22, data exception,
    or 54, program limit exceeded), not the operation itself: other data may still go."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # the database's own words, without the operation and URL


class DeliveryError(AggregatorError):
    """A digest could not be delivered."""


class SendDeferred(AggregatorError):
    """Raised by an `enqueue` callable that could not send the due sources now (the broker is
    unreachable) and has said so itself, once for the whole outage: the tick adds a DEBUG
    line, not an error a tick, and the sources are sent at a later tick."""

    def __init__(self, message: str, *, sent: int) -> None:
        super().__init__(message)
        self.sent = sent  # sent before the failure
