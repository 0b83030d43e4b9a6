"""The labelled set: items with a gold cluster, from tests/data/dedupe/*.json and the corpus.

Each JSON file holds {"description": ..., "items": [{key, cluster, source, org, title, text,
url, published}]}. Gold labels are scoped to their file: items of different files are in
different gold clusters, and the eval clusters all files together, so a merge across files
counts as a false pair.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aggregator.dedupe.records import DedupeItem
from aggregator.models import OrgKind

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "dedupe"

# Real items re-serialised by a third-party tool (see the corpus README): two snapshots of
# the Commission's feed (the same releases seen twice, some edited between the snapshots)
# and many distinct items on neighbouring topics, which must not merge.
CORPUS_FILES = {
    "european_commission_HEAD.json": ("commission-snapshot-a", OrgKind.INSTITUTION),
    "european_commission_2026-08-21T1913.json": ("commission-snapshot-b", OrgKind.INSTITUTION),
    "european_digital_rights__edri__HEAD.json": ("edri-snapshot-a", OrgKind.NGO),
    "european_digital_rights__edri__2026-04-15.json": ("edri-snapshot-b", OrgKind.NGO),
    "europol_HEAD.json": ("europol", OrgKind.INSTITUTION),
    "european_parliament___culture_and_education_HEAD.json": ("ep-cult", OrgKind.PARLIAMENT),
    "technology___politico_HEAD.json": ("politico-tech", OrgKind.PRESS),
    "euronews___europe_HEAD.json": ("euronews", OrgKind.PRESS),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Labelled:
    item: DedupeItem
    gold: str  # "<file>:<cluster>"


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def load_labelled(folder: Path = DATA) -> list[Labelled]:
    out: list[Labelled] = []
    for path in sorted(folder.glob("*.json")):
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        for row in doc["items"]:
            item = DedupeItem(
                key=str(row["key"]),
                source_id=row["source"],
                org=OrgKind(row["org"]),
                title=row["title"],
                text=row["text"],
                canonical_url=row["url"],
                published=_parse_time(row["published"]),
            )
            out.append(Labelled(item=item, gold=f"{path.stem}:{row['cluster']}"))
    return out


_TAG = re.compile(r"<[^>]+>")


def _plain(markup: str) -> str:
    return " ".join(html.unescape(_TAG.sub(" ", markup)).split())


def load_corpus(corpus: Path) -> Iterator[Labelled]:
    """Corpus items; gold: one cluster per link (both snapshots of a release fold together)."""
    folder = corpus / "derived" / "openmag_parsed_items"
    for name, (source, org) in CORPUS_FILES.items():
        path = folder / name
        if not path.is_file():
            continue
        rows: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
        for number, row in enumerate(rows):
            link = str(row.get("link") or "")
            item = DedupeItem(
                key=f"corpus:{source}:{number}",
                source_id=source,
                org=org,
                title=_plain(str(row.get("title") or "")),
                text=_plain(str(row.get("content") or row.get("snippet") or "")),
                canonical_url=link,
                published=_parse_time(str(row["pubDate"])),
            )
            yield Labelled(item=item, gold=f"corpus:{link}")
