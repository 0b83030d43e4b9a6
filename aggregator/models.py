"""Frozen records that cross stage boundaries. All datetimes are tz-aware UTC.

Each stage takes values and returns values; `dataclasses.replace` makes changed copies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from aggregator.errors import SourceError


class SourceKind(StrEnum):
    FEED = "feed"  # RSS 0.9x/1.0/2.0, Atom or JSON Feed, told apart by the bytes
    HTML = "html"  # a listing page without a feed, scraped with CSS selectors
    EP_PROCEDURE = "ep-procedure"  # one legislative procedure of the European Parliament


class OrgKind(StrEnum):
    INSTITUTION = "institution"
    PARLIAMENT = "parliament"
    GOVERNMENT = "government"
    NGO = "ngo"
    PRESS = "press"


# Organisation kinds whose statements are official: they win the "primary item" rule.
OFFICIAL_ORGS = frozenset({OrgKind.INSTITUTION, OrgKind.PARLIAMENT, OrgKind.GOVERNMENT})

# The families of automatic tags (tag/auto.py). Those of a publication ("lang:de",
# "org:ngo": its language, its publisher) are about one item of a story; the others
# ("procedure:2022/0155(COD)", a procedure's stage) are about the story, as topics are.
PUBLICATION_TAG_FAMILIES = ("org", "source", "kind", "institution", "country", "lang")
AUTOMATIC_TAG_FAMILIES = (*PUBLICATION_TAG_FAMILIES, "procedure", "stage", "event", "status")


def is_publication_tag(tag: str) -> bool:
    """Whether `tag` says something of one publication rather than of its story."""
    family, colon, _ = tag.partition(":")
    return bool(colon) and family in PUBLICATION_TAG_FAMILIES


@dataclass(frozen=True, slots=True, kw_only=True)
class Selectors:
    """CSS selectors of an `html` source. All but `item` are relative to one item element.

    A selector may end in ``@attr`` to take that attribute instead of the text; `link`
    without ``@`` takes the ``href`` of the matched element.
    """

    item: str
    title: str
    link: str
    date: str | None = None
    summary: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    id: str
    name: str
    url: str
    kind: SourceKind
    org: OrgKind
    country: str | None = None  # ISO 3166-1 alpha-2, upper case, for national bodies
    institution: str | None = None  # e.g. "European Parliament", "Council of the EU"
    language: str | None = None  # ISO 639-1; None: detect per item
    timezone: str | None = None  # IANA zone of its dates without an offset; None: UTC
    interval: timedelta = timedelta(hours=1)
    enabled: bool = True
    verified: bool = True  # False: the URL could not be confirmed when it was configured
    selectors: Selectors | None = None
    tags: tuple[str, ...] = ()  # extra tags given to every item of this source
    reference: str | None = None  # ep-procedure: the procedure reference, "2022/0155(COD)"


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheValidators:
    """What the last successful fetch left us for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Fetched:
    """A document the retriever brought back (status 200)."""

    url: str  # the final URL, after redirects
    status_code: int
    content: bytes  # decompressed
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    validators: CacheValidators = CacheValidators()
    permanent_redirect: str | None = None  # where the leading 301/308 hops led, to record
    fresh_until: datetime | None = None  # from Cache-Control max-age or Expires


@dataclass(frozen=True, slots=True, kw_only=True)
class Unchanged:
    """The server answered 304 Not Modified."""

    url: str
    fresh_until: datetime | None = None
    permanent_redirect: str | None = None  # where the leading 301/308 hops led: the new URL
    # The ETag / Last-Modified the 304 carried; a field it did not send is None, and the
    # stored one stands (RFC 9111 4.3.4: a 304 updates the stored headers it names).
    validators: CacheValidators = CacheValidators()


@dataclass(frozen=True, slots=True, kw_only=True)
class RawItem:
    """One entry as the document gives it: nothing cleaned yet, links already absolute."""

    guid: str | None = None
    url: str | None = None
    title: str | None = None
    summary: str | None = None  # HTML or text
    content: str | None = None  # HTML or text, the fuller body when the document has one
    published: datetime | None = None  # tz-aware when the document says the zone
    updated: datetime | None = None
    author: str | None = None
    language: str | None = None
    categories: tuple[str, ...] = ()
    # False: the guid says it is no address (RSS's isPermaLink="false"), so it is not taken
    # for the entry's link when it has none, even where it looks like one.
    guid_is_link: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedDocument:
    items: tuple[RawItem, ...]
    format: str  # "rss20", "atom10", "json11", "html", ...
    title: str | None = None
    link: str | None = None
    language: str | None = None
    warnings: tuple[str, ...] = ()  # the document was read, but not cleanly
    ttl: timedelta | None = None  # RSS <ttl>


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    """A normalised item, ready for dedupe, tags and the store."""

    source_id: str
    identity: str  # unique within the source: guid, else canonical URL, else a hash
    guid: str | None
    url: str
    canonical_url: str
    title: str
    summary: str  # plain text, short
    text: str  # plain text, the fullest body we have
    published: datetime
    published_is_fallback: bool  # no usable date in the document: `published` is first-seen
    updated: datetime | None
    language: str | None
    author: str | None
    content_hash: str  # versioned fingerprint of the normalised title and text, "v1:<hex>"
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # filled by the tag stage
    # No title in the document: `title` is the text's first words, or the link.
    title_is_fallback: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredItem:
    id: int
    source_id: str
    identity: str
    guid: str | None
    url: str
    canonical_url: str
    title: str
    summary: str
    text: str
    published: datetime
    published_is_fallback: bool
    updated: datetime | None
    language: str | None
    author: str | None
    content_hash: str
    first_seen: datetime
    last_changed: datetime
    revision: int  # 1 for the first version; +1 per stored change
    cluster_id: int | None
    tags: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # the document's own, as stored


@dataclass(frozen=True, slots=True, kw_only=True)
class Revision:
    item_id: int
    revision: int
    title: str
    summary: str
    text: str
    content_hash: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Rhythm:
    """What a source's last document read said of how often to ask it: the median gap
    between its posts (`cadence.posting_interval`) and its RSS <ttl>; None where it said
    nothing. Kept with the source, so that a 304 or the same document again, which say
    neither, are timed as that document was."""

    posting_gap: timedelta | None = None
    ttl: timedelta | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceHealth:
    """A source's fetch state and health as the store keeps it."""

    id: str
    url: str  # current URL: the configured one, or where a permanent redirect led
    last_status: str | None  # see `SourceResult.status`
    last_fetch_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_kind: str | None
    failing_since: datetime | None
    consecutive_failures: int
    next_fetch_at: datetime | None
    # Items stored; None where not counted: a refresh reads its sources' state without it, as
    # counting every stored item grows with the archive (`SqlStore.fetch_states`).
    item_count: int | None
    last_item_count: int | None  # items in the last parsed document
    ever_yielded: bool  # the document yielded items at least once
    validators: CacheValidators = CacheValidators()
    # Of the last document parsed (`aggregator.same_document`); None: none, or not kept.
    document_digest: str | None = None
    # What reading the last document warned about, one warning a line; None: nothing.
    last_warning: str | None = None
    # The time the last server to answer Retry-After gave (capped to the schedule), if any:
    # the source's own wait while last_status is "rate limited", its host's until then.
    retry_after: datetime | None = None
    # ...and the URL that answered with it (after redirects): the host a refresh holds.
    retry_after_url: str | None = None
    # What the last document read said of how often to ask (kept for 304s).
    rhythm: Rhythm = Rhythm()


@dataclass(frozen=True, slots=True, kw_only=True)
class Refreshed:
    new: int
    updated: int
    unchanged: int = 0
    seen: int = 0  # items in the document
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NotModified:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class NotModifiedRecord:
    """What the store writes for one source's 304 (`Store.record_not_modified_many`)."""

    source_id: str
    now: datetime
    seconds: float
    next_fetch_at: datetime
    permanent_url: str | None = None  # the 304 came from here, through 301/308 only
    validators: CacheValidators = CacheValidators()  # the 304's own; None fields: keep stored


SourceOutcome = Refreshed | NotModified | SourceError


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceResult:
    """What refreshing one source came to. The CLI table, health and logs render these."""

    source_id: str
    outcome: SourceOutcome
    started_at: datetime
    seconds: float

    @property
    def ok(self) -> bool:
        return not isinstance(self.outcome, SourceError)

    @property
    def status(self) -> str:
        """One of: new, updated, unchanged, not modified, error, blocked, rate limited,
        busy."""
        outcome = self.outcome
        if isinstance(outcome, NotModified):
            return "not modified"
        if isinstance(outcome, Refreshed):
            if outcome.new:
                return "new"
            if outcome.updated:
                return "updated"
            return "unchanged"
        if outcome.kind in ("blocked", "rate-limited", "busy"):
            return outcome.kind.replace("-", " ")
        return "error"

    @property
    def new(self) -> int:
        return self.outcome.new if isinstance(self.outcome, Refreshed) else 0

    @property
    def updated(self) -> int:
        return self.outcome.updated if isinstance(self.outcome, Refreshed) else 0

    @property
    def error(self) -> str | None:
        """The error with its source's id, for a log line."""
        return str(self.outcome) if isinstance(self.outcome, SourceError) else None

    @property
    def error_text(self) -> str | None:
        """The error where the source's id is shown beside it (`SourceError.text`)."""
        return self.outcome.text if isinstance(self.outcome, SourceError) else None

    @property
    def warnings(self) -> tuple[str, ...]:
        """What reading the document warned about (it was kept): a malformed feed, a
        selector that matched nothing, skipped entries."""
        return self.outcome.warnings if isinstance(self.outcome, Refreshed) else ()
