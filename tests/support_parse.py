"""Helpers for the parse tests: sources and fetched documents built from fixture bytes."""

from __future__ import annotations

from pathlib import Path

from aggregator.models import Fetched, OrgKind, Selectors, Source, SourceKind

PARSE_DATA = Path(__file__).resolve().parent / "data" / "parse"


def feed_source(source_id: str = "test-feed", language: str | None = None) -> Source:
    return Source(
        id=source_id,
        name=source_id,
        url=f"https://example.org/{source_id}.xml",
        kind=SourceKind.FEED,
        org=OrgKind.NGO,
        language=language,
    )


def html_source(
    selectors: Selectors, source_id: str = "test-listing", language: str | None = None
) -> Source:
    return Source(
        id=source_id,
        name=source_id,
        url=f"https://example.org/{source_id}/",
        kind=SourceKind.HTML,
        org=OrgKind.INSTITUTION,
        language=language,
        selectors=selectors,
    )


def fetched(content: bytes, url: str, content_type: str | None = None) -> Fetched:
    headers = {"content-type": content_type} if content_type else {}
    return Fetched(url=url, status_code=200, content=content, headers=headers)


def fixture(name: str) -> bytes:
    return (PARSE_DATA / name).read_bytes()
