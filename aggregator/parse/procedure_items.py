"""A procedure's events, read from the API or from the OEIL page, made into `RawItem`s.

Both readers (`procedure_api`, `oeil`) produce a `ProcedureFile`; this module is the one place
that decides what an event item looks like, so the two give the same items:

- identity: ``urn:ep-procedure:<reference>:<day>:<kind>`` (reference + date + normalised
  kind). The API's event URIs cannot be the identity: the OEIL page does not know them, and
  it lists one row where the API has several events (five amendment documents tabled on one
  day, the vote item and the vote results). Events of one kind on one day are one item.
- title: "2022/0155(COD) — committee adopted its report"; summary: the event, its stage and
  date; text: that, the procedure's title, the documents and the procedure file link.
- link: the procedure's Legislative Observatory page; the documents are linked in the text.
- categories: ``procedure:<reference>``, ``stage:<reading>`` and ``event:<kind>``, which the
  tag stage passes through as tags for ep-procedure sources.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from urllib.parse import quote

from aggregator.models import RawItem
from aggregator.parse.procedure_events import (
    EventKind,
    kind_by_name,
    kind_rank,
    stage_tag,
    stage_words,
)

# The Legislative Observatory's page of one procedure (the reference stays readable: OEIL
# itself links it with a bare slash and parentheses).
OEIL_PAGE = "https://oeil.secure.europarl.europa.eu/oeil/en/procedure-file?reference={reference}"
GUID_PREFIX = "urn:ep-procedure:"


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    label: str  # "A-10-2025-0006", or the page's own label when it links elsewhere
    url: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcedureEvent:
    day: date
    kind: EventKind
    stage: str | None  # procedure-phase code, "RDG1"; None: not said for this event
    documents: tuple[Document, ...] = ()
    label: str | None = None  # the publisher's own label in the source's language


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcedureFile:
    reference: str  # "2022/0155(COD)"
    title: str | None  # the procedure's title, in the chosen language
    current_stage: str | None
    events: tuple[ProcedureEvent, ...]
    format: str  # "ep-api-v2" or "oeil"
    language: str | None = None  # of the title and labels
    # Events left out because nothing says what they are (no activity type, and an id that
    # names none): stored as a kind "event", each would be a second item for an event
    # already known under its kind, as soon as the API's format changed.
    untyped: int = 0
    # Events left out because they have no date, or one that is no date: one cannot be
    # placed, or identified (its identity holds its day). Said, as the untyped ones are.
    undated: int = 0


def oeil_page_url(reference: str) -> str:
    return OEIL_PAGE.format(reference=quote(reference, safe="/()"))


def event_guid(reference: str, day: date, kind: str) -> str:
    return f"{GUID_PREFIX}{reference}:{day.isoformat()}:{kind}"


def merge_events(events: Iterable[ProcedureEvent]) -> list[ProcedureEvent]:
    """One event per (day, kind), documents united in first-seen order; sorted by day,
    then in the vocabulary's order (a debate before the vote before the decision)."""
    merged: dict[tuple[date, str], ProcedureEvent] = {}
    for event in events:
        key = (event.day, event.kind.kind)
        seen = merged.get(key)
        if seen is None:
            merged[key] = event
            continue
        documents = tuple(dict.fromkeys((*seen.documents, *event.documents)))
        merged[key] = replace(
            seen,
            documents=documents,
            stage=seen.stage or event.stage,
            label=seen.label or event.label,
        )
    return sorted(merged.values(), key=lambda e: (e.day, kind_rank(e.kind.kind)))


def fill_stages(events: Sequence[ProcedureEvent], current: str | None) -> list[ProcedureEvent]:
    """Events without a stage take the one of the event before them (stages only move
    forward), the first ones that of the first event that has one, else the current stage.
    Signatures, publications and vote results carry no stage in the API, nor do several
    OEIL rows; filled this way both readers agree on them."""
    known = [e.stage for e in events if e.stage is not None]
    last = known[0] if known else current
    filled: list[ProcedureEvent] = []
    for event in events:
        if event.stage is None:
            event = replace(event, stage=last)
        last = event.stage
        filled.append(event)
    return filled


def raw_items(procedure: ProcedureFile) -> tuple[RawItem, ...]:
    """The items of a procedure file, oldest event first."""
    events = fill_stages(merge_events(procedure.events), procedure.current_stage)
    page = oeil_page_url(procedure.reference)
    return tuple(_raw_item(procedure, event, page) for event in events)


def _raw_item(procedure: ProcedureFile, event: ProcedureEvent, page: str) -> RawItem:
    # A kind of the vocabulary is said in its words, whichever reader found it: the API's
    # own label ("Adoption of report in committee") against the page's ("committee adopted
    # its report") rewrote the item each time the API failed and the page stood in.
    known = kind_by_name(event.kind.kind) is not None
    phrase = event.kind.phrase if known else (event.label or event.kind.phrase)
    stage = stage_words(event.stage)
    when = f"{event.day.day} {event.day:%B %Y}"
    line = _capitalised(phrase) + (f", {stage}" if stage else "") + f", {when}."
    esc = html.escape
    parts = [f"<p>{esc(line)}</p>"]
    if procedure.title:
        parts.append(f"<p>Procedure {esc(procedure.reference)}: {esc(procedure.title)}</p>")
    if event.documents:
        links = ", ".join(_document_html(d) for d in event.documents)
        parts.append(f"<p>Documents: {links}</p>")
    parts.append(f'<p>Procedure file: <a href="{esc(page)}">{esc(page)}</a></p>')
    categories = [f"procedure:{procedure.reference}", f"event:{event.kind.kind}"]
    if (tag := stage_tag(event.stage)) is not None:
        categories.append(tag)
    if procedure.current_stage == "FIN":
        # Where the procedure stands now, on each of its events: the digest shows the stage
        # of the latest event, which for a finished procedure is still its last reading.
        categories.append("status:completed")
    return RawItem(
        guid=event_guid(procedure.reference, event.day, event.kind.kind),
        url=page,
        title=f"{procedure.reference} — {phrase}",
        summary=line,
        content="\n".join(parts),
        published=datetime(event.day.year, event.day.month, event.day.day, tzinfo=UTC),
        language=procedure.language,
        categories=tuple(categories),
    )


def _document_html(document: Document) -> str:
    label = html.escape(document.label)
    if document.url is None:
        return label
    return f'<a href="{html.escape(document.url)}">{label}</a>'


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
