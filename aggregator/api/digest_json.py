"""Rebuild a `Digest` from the JSON the `digests` table keeps (docs/digest-json.md).

The table stores the digest's documented JSON (`render.digest_to_json`), not its HTML: the
API re-renders HTML, text and Markdown from it with the same templates as the email, so
`GET /api/v1/digests/{id}/html` is the email's HTML. What the JSON leaves out is only what
rendering does not use (`shown`, the item revisions recorded in digest_items).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aggregator.digest import (
    Change,
    Digest,
    DigestEntry,
    DigestGroup,
    EntrySource,
    ProblemSource,
    ProcedureLine,
    ProcedureStatus,
)
from aggregator.errors import StoreError
from aggregator.models import OrgKind


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _time_or_none(value: str | None) -> datetime | None:
    return None if value is None else _time(value)


def _source(data: Mapping[str, Any]) -> EntrySource:
    return EntrySource(
        item_id=data["item_id"],
        source_id=data["source_id"],
        source_name=data["source_name"],
        org=OrgKind(data["org"]),
        title=data["title"],
        url=data["url"],
        published=_time(data["published"]),
        is_new=data["is_new"],
        # Digests stored before it was written said nothing of it.
        published_is_fallback=data.get("published_is_fallback", False),
    )


def _entry(data: Mapping[str, Any]) -> DigestEntry:
    return DigestEntry(
        cluster_id=data["cluster_id"],
        item_id=data["item_id"],
        title=data["title"],
        url=data["url"],
        published=_time(data["published"]),
        summary=data["summary"],
        source=_source(data["source"]),
        others=tuple(_source(o) for o in data["others"]),
        tags=tuple(data["tags"]),
        also_in=tuple(data.get("also_in", ())),  # digests stored before it was written
        changes=tuple(_change(c) for c in data["changes"]),
    )


def _change(data: Mapping[str, Any]) -> Change:
    return Change(
        kind=data["kind"],
        before=data["before"],
        after=data["after"],
        diff=data["diff"],
        # Digests stored before a change named its item have none of these.
        item_id=data.get("item_id"),
        source_id=data.get("source_id"),
        source_name=data.get("source_name"),
    )


def _procedure_line(data: Mapping[str, Any]) -> ProcedureLine:
    return ProcedureLine(
        item_id=data["item_id"],
        day=datetime.fromisoformat(data["date"]).replace(tzinfo=UTC),  # a date: midnight UTC
        event=data["event"],
        url=data["url"],
    )


def _procedure(data: Mapping[str, Any]) -> ProcedureStatus:
    latest = data["latest"]
    return ProcedureStatus(
        source_id=data["source_id"],
        name=data["name"],
        reference=data["reference"],
        events=tuple(_procedure_line(e) for e in data["events"]),
        stage=data["stage"],
        latest=None if latest is None else _procedure_line(latest),
    )


def _problem(data: Mapping[str, Any]) -> ProblemSource:
    fields: dict[str, Any] = {
        "source_id": data["source_id"],
        "name": data["name"],
        "url": data["url"],
        "problem": data["problem"],
        "since": _time_or_none(data["since"]),
        "detail": data["detail"],
    }
    # Later members of the JSON (e.g. "advice") go back into the record by name, so a
    # member added to both keeps round-tripping without a change here.
    known = set(ProblemSource.__dataclass_fields__)
    fields.update({k: v for k, v in data.items() if k in known and k not in fields})
    return ProblemSource(**fields)


def digest_from_json(data: Mapping[str, Any]) -> Digest:
    """The digest a stored body_json describes; StoreError when the JSON is not one."""
    try:
        return Digest(
            profile=data["profile"],
            window_start=_time(data["window"]["start"]),
            window_end=_time(data["window"]["end"]),
            generated_at=_time(data["generated_at"]),
            timezone=data["timezone"],
            groups=tuple(
                DigestGroup(
                    tag=g["tag"],
                    label=g["label"],
                    entries=tuple(_entry(e) for e in g["entries"]),
                )
                for g in data["groups"]
            ),
            problems=tuple(_problem(p) for p in data["problems"]),
            shown=(),
            # Digests stored before procedures were followed have none.
            procedures=tuple(_procedure(p) for p in data.get("procedures", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"a stored digest's JSON is not a digest: {exc!r}") from exc
