"""Helpers for the tag tests: Items and Sources built from real corpus records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup

from aggregator.models import Item, OrgKind, Source, SourceKind

OPENMAG = Path("derived") / "openmag_parsed_items"

EDRI = ("edri", "European Digital Rights (EDRi)", OrgKind.NGO)
COMMISSION = ("ec-news", "European Commission", OrgKind.INSTITUTION)
# The Openmag files and what kind of organisation publishes them.
OPENMAG_SOURCES = {
    "european_digital_rights__edri__HEAD.json": (
        "edri",
        "European Digital Rights (EDRi)",
        OrgKind.NGO,
    ),
    "european_digital_rights__edri__2026-04-15.json": (
        "edri",
        "European Digital Rights (EDRi)",
        OrgKind.NGO,
    ),
    "europol_HEAD.json": ("europol", "Europol", OrgKind.INSTITUTION),
    "european_commission_HEAD.json": COMMISSION,
    "european_commission_2026-08-21T1913.json": (
        "ec-news",
        "European Commission",
        OrgKind.INSTITUTION,
    ),
    "european_parliament___culture_and_education_HEAD.json": (
        "ep-cult",
        "European Parliament: Culture and Education",
        OrgKind.PARLIAMENT,
    ),
    "technology___politico_HEAD.json": (
        "politico-tech",
        "Politico Europe: Technology",
        OrgKind.PRESS,
    ),
    "euronews___europe_HEAD.json": ("euronews-europe", "Euronews: Europe", OrgKind.PRESS),
}


def plain_text(html: str) -> str:
    """What normalise gives us: the text of the HTML, whitespace collapsed."""
    return " ".join(BeautifulSoup(html, "html.parser").get_text(" ").split())


def make_source(
    source_id: str = "test",
    name: str = "Test source",
    *,
    org: OrgKind = OrgKind.PRESS,
    kind: SourceKind = SourceKind.FEED,
    **extra: Any,
) -> Source:
    return Source(
        id=source_id, name=name, url=f"https://example.org/{source_id}", kind=kind, org=org, **extra
    )


def make_item(
    title: str,
    text: str = "",
    *,
    url: str = "https://example.org/item",
    summary: str = "",
    language: str | None = "en",
    source_id: str = "test",
    categories: tuple[str, ...] = (),
) -> Item:
    return Item(
        source_id=source_id,
        identity=url,
        guid=None,
        url=url,
        canonical_url=url,
        title=title,
        summary=summary,
        text=text,
        published=datetime(2026, 4, 15, tzinfo=UTC),
        published_is_fallback=False,
        updated=None,
        language=language,
        author=None,
        content_hash="v1:test",
        categories=categories,
    )


def openmag_items(corpus: Path) -> list[tuple[Item, Source]]:
    """Every record of the Openmag files as (Item, Source), titles unique (first wins)."""
    seen: set[str] = set()
    pairs: list[tuple[Item, Source]] = []
    for file_name, (source_id, name, org) in OPENMAG_SOURCES.items():
        source = make_source(source_id, name, org=org)
        for record in json.loads((corpus / OPENMAG / file_name).read_text("utf-8")):
            title = record["title"]
            if title in seen:
                continue
            seen.add(title)
            pairs.append(
                (
                    make_item(
                        title,
                        plain_text(record.get("content") or ""),
                        url=record["link"],
                        language=record.get("lang"),
                        source_id=source_id,
                    ),
                    source,
                )
            )
    return pairs


def article_item(corpus: Path, file_name: str, language: str) -> Item:
    """An article page from corpus/html/article: its <title> and the visible text."""
    soup = BeautifulSoup((corpus / "html" / "article" / file_name).read_bytes(), "lxml")
    for tag in soup(["script", "style", "noscript"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else file_name
    text = " ".join(soup.get_text(" ").split())
    return make_item(title, text, url=f"https://example.org/{file_name}", language=language)
