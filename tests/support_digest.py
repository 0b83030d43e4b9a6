"""Hand-written digest inputs shared by the digest, render, mail and outbox tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aggregator.digest import Digest, ShownRevision, SourceInfo, build_digest
from aggregator.models import OrgKind, SourceHealth, SourceKind, StoredItem

T0 = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)  # 07:00 in Brussels: one window end
T1 = T0 + timedelta(days=1)  # the next window end

TOPIC_ORDER = ("csar", "encryption", "age-verification", "dsa")
TOPIC_LABELS = {
    "csar": "CSA Regulation",
    "encryption": "Encryption",
    "age-verification": "Age verification",
    "dsa": "Digital Services Act",
}

SOURCES = {
    s.id: s
    for s in (
        SourceInfo(
            id="ep-press",
            name="European Parliament press",
            url="https://www.europarl.europa.eu/rss",
            kind=SourceKind.FEED,
            org=OrgKind.PARLIAMENT,
        ),
        SourceInfo(
            id="council",
            name="Council of the EU",
            url="https://www.consilium.europa.eu/en/press/",
            kind=SourceKind.HTML,
            org=OrgKind.INSTITUTION,
        ),
        SourceInfo(
            id="edri",
            name="EDRi",
            url="https://edri.org/feed/",
            kind=SourceKind.FEED,
            org=OrgKind.NGO,
        ),
        SourceInfo(
            id="netzpolitik",
            name="netzpolitik.org",
            url="https://netzpolitik.org/feed/",
            kind=SourceKind.FEED,
            org=OrgKind.PRESS,
        ),
        SourceInfo(
            id="ecpat",
            name="ECPAT International",
            url="https://ecpat.org/news/",
            kind=SourceKind.HTML,
            org=OrgKind.NGO,
        ),
    )
}


def item(item_id: int, source_id: str, **changes: Any) -> StoredItem:
    """A stored item first seen inside the window ending at T1 unless told otherwise."""
    first_seen = changes.pop("first_seen", T0 + timedelta(hours=item_id))
    base = StoredItem(
        id=item_id,
        source_id=source_id,
        identity=f"{source_id}:{item_id}",
        guid=None,
        url=f"https://example.eu/{source_id}/{item_id}",
        canonical_url=f"https://example.eu/{source_id}/{item_id}",
        title=f"Statement {item_id}",
        summary=f"Summary of statement {item_id}.",
        text=f"Full text of statement {item_id}. It has two sentences.",
        published=first_seen - timedelta(minutes=30),
        published_is_fallback=False,
        updated=None,
        language="en",
        author=None,
        content_hash=f"v1:{item_id}",
        first_seen=first_seen,
        last_changed=first_seen,
        revision=1,
        cluster_id=None,
        tags=(),
    )
    return replace(base, **changes)


def health(source_id: str, **changes: Any) -> SourceHealth:
    base = SourceHealth(
        id=source_id,
        url=SOURCES[source_id].url,
        last_status="unchanged",
        last_fetch_at=T1 - timedelta(hours=1),
        last_success_at=T1 - timedelta(hours=1),
        last_error=None,
        last_error_kind=None,
        failing_since=None,
        consecutive_failures=0,
        next_fetch_at=None,
        item_count=3,
        last_item_count=3,
        ever_yielded=True,
    )
    return replace(base, **changes)


def digest_of(
    items: list[StoredItem],
    *,
    shown: dict[int, ShownRevision] | None = None,
    health_rows: list[SourceHealth] | None = None,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    start: datetime = T0,
    end: datetime = T1,
    profile: str = "daily",
    topic_order: tuple[str, ...] = TOPIC_ORDER,
) -> Digest:
    return build_digest(
        profile=profile,
        window_start=start,
        window_end=end,
        now=end,
        timezone="Europe/Brussels",
        items=items,
        sources=SOURCES,
        health=health_rows or [],
        shown=shown or {},
        topic_order=topic_order,
        topic_labels=TOPIC_LABELS,
        include_tags=include,
        exclude_tags=exclude,
    )


HOSTILE_HTML = (
    '<p onclick="steal()">Council <b>agrees</b> position'
    "<script>alert('x')</script><iframe src=\"https://evil.example/\">framed</iframe>"
    "<style>body{display:none}</style>"
    '<a href="javascript:alert(1)" onmouseover="x()">read</a>'
    " &lt;script&gt;encoded()&lt;/script&gt;</p>"
)


def sample_digest() -> Digest:
    """A digest with every feature: groups, a folded cluster, an update, a problem source."""
    items = [
        item(
            1,
            "edri",
            cluster_id=10,
            tags=("csar", "encryption"),
            title="Chat control: joint statement",
        ),
        item(
            2,
            "council",
            cluster_id=10,
            tags=("csar",),
            title="Chat control: joint statement",
            published=T0 + timedelta(hours=5),
        ),
        item(
            3,
            "netzpolitik",
            cluster_id=10,
            tags=("csar",),
            title="Chatkontrolle: gemeinsame Erklärung",
        ),
        item(
            4,
            "ep-press",
            tags=("dsa",),
            title="DSA enforcement update " + "word " * 30,
            summary=HOSTILE_HTML,
            url="javascript:alert(1)",
        ),
        item(5, "ecpat", tags=(), title="Hotline report", summary="A long summary " * 40),
        item(
            6,
            "edri",
            tags=("encryption",),
            title="Encryption matters (new title)",
            first_seen=T0 - timedelta(days=3),
            last_changed=T0 + timedelta(hours=2),
            revision=2,
            text="Encryption protects everyone. Scanning breaks it.",
        ),
    ]
    shown = {
        6: ShownRevision(
            revision=1,
            title="Encryption matters",
            text="Encryption protects everyone. Scanning weakens it.",
        )
    }
    rows = [
        health(
            "netzpolitik",
            failing_since=T1 - timedelta(days=2),
            last_error="fetch failed: 'netzpolitik': HTTP 503",
            consecutive_failures=30,
        ),
        health("ecpat", last_item_count=0),
    ]
    return digest_of(items, shown=shown, health_rows=rows)
