"""The European Parliament's open-data API (v2) answer for one procedure, as a `ProcedureFile`.

``GET https://data.europarl.europa.eu/api/v2/procedures/2022-0155?format=application/ld+json``
answers JSON-LD: ``{"data": [<Process>], "@context": ...}``. The Process has ``label``
("2022/0155(COD)"), ``process_title`` (a language map), ``current_stage`` and
``consists_of``: the events, each with ``id`` (``eli/dl/event/...``), ``activity_date``,
``had_activity_type`` (``def/ep-activities/...``), ``occured_at_stage`` and the documents it
is ``based_on``, ``decided_on`` or ``recorded_in`` (``eli/dl/doc/A-9-2023-0364``). Values
the API sometimes gives as a list or as an object with a language map (``label``,
``prefLabel``) are read either way. Everything else is ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

from aggregator.parse.procedure_events import (
    DECISION_CODES,
    EventKind,
    kind_of_activity,
    stage_code,
)
from aggregator.parse.procedure_items import Document, ProcedureEvent, ProcedureFile

FORMAT = "ep-api-v2"
# Documents shown per event: the decision's text first, then what it was based on, then the
# minutes; a plenary debate is "based on" twenty documents, which no reader wants listed.
DOCUMENTS_PER_EVENT = 3
DOCEO = "https://www.europarl.europa.eu/doceo/document/{id}_EN.html"
# Documents the Parliament publishes on doceo (OEIL links them there): plenary series
# (A report, B motion, RC joint motion, TA adopted text, PV minutes, CRE verbatim) and
# committee documents (LIBE-PR-597620: draft report; AM amendments, AD/PA opinions, AG
# provisional agreement). Council (C-) and agenda (OJQ-) documents have no doceo page.
_DOCEO_ID = re.compile(
    r"^(?:(?:A|B|RC|TA|PV|CRE)-\d+-\d{4}-[\w-]+|[A-Z0-9]{2,6}-(?:PR|AM|AD|PA|AG|DT|RR)-\d+)$"
)
_DECISION_ID = re.compile(r"-DEC-([A-Z]+)\d*-")
_REFERENCE = re.compile(r"^(\d{4})-(\d{4})$")


class NotAProcedure(ValueError):
    """The bytes are not the API's answer for a procedure; the message says why."""


def read_api_json(data: bytes, *, language: str | None) -> ProcedureFile:
    """Raises `NotAProcedure` when `data` is not JSON or holds no Process."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotAProcedure(f"not JSON: {exc}") from exc
    process = _process(document)
    title_language, title = _in_language(process.get("process_title"), language)
    stage = stage_code(_first_text(process.get("current_stage")))
    events: list[ProcedureEvent] = []
    untyped = undated = 0
    for raw in _list(process.get("consists_of")):
        if not isinstance(raw, Mapping):
            continue
        event = _event(raw, language)
        if isinstance(event, ProcedureEvent):
            events.append(event)
        elif event is UNTYPED:
            untyped += 1
        else:
            undated += 1
    if any(event.kind.kind == "published" for event in events):
        # The API gives no status: a regulation in force is still at stage "RDG1" there.
        # Its final act published in the Official Journal is the last step of a procedure
        # (the Legislative Observatory then says "Procedure completed").
        stage = "FIN"
    return ProcedureFile(
        reference=_reference(process),
        title=title,
        current_stage=stage,
        events=tuple(events),
        format=FORMAT,
        language=title_language or language,
        untyped=untyped,
        undated=undated,
    )


def _process(document: Any) -> Mapping[str, Any]:
    data = document.get("data") if isinstance(document, Mapping) else None
    for node in _list(data if data is not None else document):
        if isinstance(node, Mapping) and "Process" in _list(node.get("type")):
            return node
    raise NotAProcedure("no Process in the answer")


def _reference(process: Mapping[str, Any]) -> str:
    label = _first_text(process.get("label"))
    if label:
        return label.strip()
    # "2022-0155" and a type "def/ep-procedure-types/COD" make "2022/0155(COD)".
    process_id = _first_text(process.get("process_id")) or ""
    kind = (_first_text(process.get("process_type")) or "").rsplit("/", 1)[-1]
    found = _REFERENCE.match(process_id.strip())
    if found is None or not kind:
        raise NotAProcedure("the Process has no label and no process_id with a type")
    return f"{found.group(1)}/{found.group(2)}({kind})"


# What `_event` says of a dated event that says not what it is: counted, not stored.
UNTYPED: Literal["untyped"] = "untyped"


def _event(
    raw: Mapping[str, Any], language: str | None
) -> ProcedureEvent | Literal["untyped"] | None:
    day = _day(_first_text(raw.get("activity_date")))
    if day is None:
        return None  # an event without a date cannot be placed or identified
    activity = raw.get("had_activity_type")
    code = _first_text(activity) if not isinstance(activity, Mapping) else _node_id(activity)
    if not code:
        decision = _DECISION_ID.search(_first_text(raw.get("id")) or "")
        code = DECISION_CODES.get(decision.group(1), "") if decision else ""
    if not code:
        return UNTYPED
    kind: EventKind = kind_of_activity(code)
    label = None
    if isinstance(activity, Mapping):
        _, label = _in_language(activity.get("label") or activity.get("prefLabel"), language)
    return ProcedureEvent(
        day=day,
        kind=kind,
        stage=stage_code(_first_text(raw.get("occured_at_stage"))),
        documents=_documents(raw),
        label=label,
    )


def _documents(raw: Mapping[str, Any]) -> tuple[Document, ...]:
    ids: dict[str, None] = {}
    for key in (
        "decided_on_a_realization_of",
        "based_on_a_realization_of",
        "recorded_in_a_realization_of",
    ):
        for value in _list(raw.get(key)):
            text = value if isinstance(value, str) else _node_id(value)
            if text:
                ids[text.rsplit("/", 1)[-1]] = None
    return tuple(
        Document(label=doc, url=DOCEO.format(id=doc) if _DOCEO_ID.match(doc) else None)
        for doc in list(ids)[:DOCUMENTS_PER_EVENT]
    )


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def _in_language(value: Any, language: str | None) -> tuple[str | None, str | None]:
    """(language, text) from a language map: the wanted language, else English, else the
    first; a plain string is taken as it is, with no language."""
    if isinstance(value, str):
        return None, value.strip() or None
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, Mapping | str)), None)
        return _in_language(value, language)
    if not isinstance(value, Mapping):
        return None, None
    for wanted in (language, "en", *value.keys()):
        text = value.get(wanted) if wanted else None
        if isinstance(text, str) and text.strip():
            return str(wanted), text.strip()
    return None, None


def _node_id(value: Any) -> str | None:
    if isinstance(value, Mapping):
        found = value.get("id") or value.get("@id")
        return found if isinstance(found, str) else None
    return None


def _first_text(value: Any) -> str | None:
    for item in _list(value):
        if isinstance(item, str):
            return item
        if (found := _node_id(item)) is not None:
            return found
    return None


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
