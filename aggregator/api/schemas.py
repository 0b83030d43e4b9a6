"""The API's response shapes (pydantic), and their construction from store records.

These models are the OpenAPI document's schemas; routes serialise them once, to bytes,
so the ETag is a hash of exactly what is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from aggregator.digest import SourceInfo
from aggregator.fetch.holds import Hold, host_hold, next_asked
from aggregator.health import advice, is_blocked
from aggregator.models import Revision, Source, SourceHealth
from aggregator.store.digests import DigestState
from aggregator.store.queries import ClusterRow, DigestRow, ItemRow, Publication, TagCount
from aggregator.urls import mask_password


class PublicationOut(BaseModel):
    item_id: int
    source: str
    source_name: str
    org: str
    title: str
    url: str
    published: datetime
    primary: bool = Field(description="The item that stands for the cluster")


class ItemOut(BaseModel):
    id: int
    source: str
    source_name: str
    org: str
    url: str
    canonical_url: str
    title: str
    summary: str
    published: datetime
    published_is_fallback: bool = Field(description="No date in the document: first seen")
    first_seen: datetime
    updated: datetime | None
    last_changed: datetime
    revision: int
    language: str | None
    author: str | None
    tags: list[str]
    cluster_id: int | None
    source_count: int = Field(description="Distinct sources that published this story")
    score: float | None = Field(description="Search relevance (with q), higher is better")
    sources: list[PublicationOut] = Field(description="Every publication of the story")


class RevisionOut(BaseModel):
    revision: int
    title: str
    summary: str
    text: str
    content_hash: str
    recorded_at: datetime


class ItemDetail(ItemOut):
    text: str
    revisions: list[RevisionOut] = Field(description="Earlier versions, oldest first")


class ItemPage(BaseModel):
    items: list[ItemOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


class ClusterOut(BaseModel):
    id: int
    size: int
    created_at: datetime
    updated_at: datetime
    primary: PublicationOut | None
    members: list[PublicationOut]


class ClusterPage(BaseModel):
    clusters: list[ClusterOut]
    next_cursor: str | None


class DigestLinks(BaseModel):
    json_: str = Field(alias="json")
    html: str
    text: str
    markdown: str


class DigestSummary(BaseModel):
    id: int
    profile: str
    window_start: datetime
    window_end: datetime
    created_at: datetime
    entry_count: int = Field(description="Its entries: stories, each one or more publications")
    item_count: int = Field(
        description="The publications it lists, new or not: each entry's primary and every "
        "other source's copy folded into it (the digest's own counts say how many are new)"
    )
    email: Literal["sent", "pending", "failed", "none"] = Field(
        description="Its email: sent; pending (queued, retried until sent); failed (the "
        "SMTP server refused it for good with a 5xx, or its profile names nobody now: not "
        "tried again); none (no email was due: nothing new and the profile does not send "
        "empty digests, or no recipients)"
    )
    empty: bool = Field(
        description="Nothing new in its window: recorded only so that the next window "
        "starts at its end. The page and `latest` pass over it unless it was emailed "
        "(a profile with send_empty); the digest feeds leave it out"
    )
    links: DigestLinks


class DigestOut(DigestSummary):
    body: dict[str, Any] = Field(description="The digest as documented in docs/digest-json.md")


class DigestPage(BaseModel):
    digests: list[DigestSummary]
    next_cursor: str | None


class SourceHealthOut(BaseModel):
    url: str = Field(
        description="Current URL (where a permanent redirect led); a password in it as ***"
    )
    last_status: str | None
    last_fetch_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_kind: str | None
    blocked: bool = Field(
        description="Behind bot protection: its challenge page came instead of the document"
    )
    advice: str | None = Field(
        description="What the operator can do about the last failure, when that is known"
    )
    last_warning: str | None = Field(
        description="What reading the last document warned about, one warning a line"
    )
    failing_since: datetime | None
    consecutive_failures: int
    next_fetch_at: datetime | None
    held_until: datetime | None = Field(
        description="Its host asked us to wait (429/503 with Retry-After, in its answer to "
        "this source or another of the host): nothing is sent to it before this time. "
        "None when not held, or not fetched on schedule"
    )
    held_by: str | None = Field(
        description="The source whose request drew the wait (this one or another of the host)"
    )
    item_count: int
    last_item_count: int | None


class SourceOut(BaseModel):
    id: str
    name: str
    url: str = Field(description="As configured; a password in it as ***")
    kind: str
    org: str
    country: str | None
    institution: str | None
    language: str | None
    interval_seconds: float | None = Field(description="None for a source removed from the config")
    enabled: bool = Field(description="Fetched on schedule (false: disabled, or removed)")
    in_config: bool = Field(
        description="In sources.toml; false: removed, its stored items kept and served"
    )
    tags: list[str]
    health: SourceHealthOut | None = Field(description="None until the source is stored")


class SourceList(BaseModel):
    sources: list[SourceOut]


class TagOut(BaseModel):
    tag: str
    label: str | None = Field(description="Display label of a topic tag")
    count: int


class TagList(BaseModel):
    tags: list[TagOut]


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str]


class RefreshedSource(BaseModel):
    id: str
    status: str
    new: int
    updated: int
    seconds: float
    error: str | None


class RefreshOut(BaseModel):
    sources: list[RefreshedSource]


def publication(p: Publication) -> PublicationOut:
    return PublicationOut(
        item_id=p.item_id,
        source=p.source_id,
        source_name=p.source_name,
        org=p.org.value,
        title=p.title,
        url=p.url,
        published=p.published,
        primary=p.primary,
    )


def _item_fields(row: ItemRow) -> dict[str, Any]:
    item = row.item
    return {
        "id": item.id,
        "source": item.source_id,
        "source_name": row.source_name,
        "org": row.org.value,
        "url": item.url,
        "canonical_url": item.canonical_url,
        "title": item.title,
        "summary": item.summary,
        "published": item.published,
        "published_is_fallback": item.published_is_fallback,
        "first_seen": item.first_seen,
        "updated": item.updated,
        "last_changed": item.last_changed,
        "revision": item.revision,
        "language": item.language,
        "author": item.author,
        "tags": list(item.tags),
        "cluster_id": item.cluster_id,
        "source_count": row.source_count,
        "score": row.score,
        "sources": [publication(p) for p in row.sources],
    }


def item_out(row: ItemRow) -> ItemOut:
    return ItemOut(**_item_fields(row))


def item_detail(row: ItemRow, revisions: list[Revision]) -> ItemDetail:
    return ItemDetail(
        **_item_fields(row),
        text=row.item.text,
        revisions=[
            RevisionOut(
                revision=r.revision,
                title=r.title,
                summary=r.summary,
                text=r.text,
                content_hash=r.content_hash,
                recorded_at=r.recorded_at,
            )
            for r in revisions
        ],
    )


def cluster_out(row: ClusterRow) -> ClusterOut:
    return ClusterOut(
        id=row.id,
        size=row.size,
        created_at=row.created_at,
        updated_at=row.updated_at,
        primary=None if row.primary is None else publication(row.primary),
        members=[publication(m) for m in row.members],
    )


def digest_links(base: str, digest_id: int) -> DigestLinks:
    path = f"{base}/api/v1/digests/{digest_id}"
    return DigestLinks.model_validate(
        {
            "json": path,
            "html": f"{path}/html",
            "text": f"{path}/text",
            "markdown": f"{path}/markdown",
        }
    )


def digest_summary(row: DigestRow, state: DigestState, base: str) -> DigestSummary:
    return DigestSummary(
        id=row.id,
        profile=row.profile,
        window_start=row.window_start,
        window_end=row.window_end,
        created_at=row.created_at,
        entry_count=row.entry_count,
        item_count=row.item_count,
        email=state.email,
        empty=state.empty,
        links=digest_links(base, row.id),
    )


def source_out(
    source: Source, health: SourceHealth | None, holds: Mapping[str, Hold] | None = None
) -> SourceOut:
    """`holds`: the hosts that asked us to wait (`stored_holds`): a source of a held host
    is asked next when the hold ends, if that is after its own next fetch time."""
    return SourceOut(
        id=source.id,
        name=source.name,
        url=mask_password(source.url),
        kind=source.kind.value,
        org=source.org.value,
        country=source.country,
        institution=source.institution,
        language=source.language,
        interval_seconds=source.interval.total_seconds(),
        enabled=source.enabled,
        in_config=True,
        tags=list(source.tags),
        health=None
        if health is None
        else _health_out(
            health,
            next_fetch_at=next_asked(health, holds or {}) if source.enabled else None,
            hold=host_hold(health, holds or {}) if source.enabled else None,
        ),
    )


def _health_out(
    health: SourceHealth, *, next_fetch_at: datetime | None, hold: Hold | None = None
) -> SourceHealthOut:
    """`next_fetch_at`, `hold`: None for a source not fetched on schedule (a disabled or
    removed one has no next fetch, as in `aggregator sources`)."""
    return SourceHealthOut(
        url=mask_password(health.url),
        last_status=health.last_status,
        last_fetch_at=health.last_fetch_at,
        last_success_at=health.last_success_at,
        last_error=health.last_error,
        last_error_kind=health.last_error_kind,
        blocked=is_blocked(health),
        advice=advice(health),
        last_warning=health.last_warning,
        failing_since=health.failing_since,
        consecutive_failures=health.consecutive_failures,
        next_fetch_at=next_fetch_at,
        held_until=None if hold is None else hold.until,
        held_by=None if hold is None else hold.source_id,
        item_count=_counted(health.item_count),
        last_item_count=health.last_item_count,
    )


def removed_source_out(info: SourceInfo, health: SourceHealth | None) -> SourceOut:
    """A source removed from the config whose items are kept: what the store knows of it."""
    return SourceOut(
        id=info.id,
        name=info.name,
        url=mask_password(info.url),
        kind=info.kind.value,
        org=info.org.value,
        country=None,
        institution=None,
        language=None,
        interval_seconds=None,
        enabled=False,
        in_config=False,
        tags=[],
        health=None if health is None else _health_out(health, next_fetch_at=None),
    )


def _counted(item_count: int | None) -> int:
    # The API reads health with item counts (App.source_health); only a refresh skips them.
    if item_count is None:
        raise ValueError("source health was read without item counts")
    return item_count


def tag_out(count: TagCount, labels: dict[str, str]) -> TagOut:
    return TagOut(tag=count.tag, label=labels.get(count.tag), count=count.count)
