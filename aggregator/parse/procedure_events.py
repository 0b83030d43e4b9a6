"""The vocabulary of procedure events, shared by the open-data API and the OEIL page parsers.

The Parliament's open-data API names an event by its activity type (``def/ep-activities/
COMMITTEE_ADOPTING_REPORT``); the Legislative Observatory's "Key events" table names it in
English ("Vote in committee, 1st reading"). Both are mapped here to one normalised *kind*
("committee-report") with one readable phrase, so the two parsers give an event the same
identity and the same title, and a source that falls back from the API to the page (or back)
does not see its history as new or changed items.

Stages are the Publications Office's procedure-phase codes the API gives in
``occured_at_stage`` (RDG1 ...); the OEIL page says them in its event labels ("1st reading").
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class EventKind:
    kind: str  # slug, part of the event's identity: never rename one lightly
    phrase: str  # readable English, as it follows "2022/0155(COD) — "
    api: tuple[str, ...] = ()  # activity types of the open-data API (ep-activities)
    oeil: tuple[str, ...] = ()  # OEIL key-event labels, reading and rule numbers removed


# Activity types -> kinds -> phrases. Several API types share a kind where OEIL lists one
# event for them: the minutes' vote item and the vote results are one "plenary vote"; the
# API's precise decision types (amend the proposal, adopt a position, approve the Council's
# position, ...) are OEIL's one "Decision by Parliament". API-only kinds (draft reports,
# amendments, trilogue meetings) appear only while the API answers.
EVENT_KINDS: tuple[EventKind, ...] = (
    EventKind(
        kind="preparatory-document",
        phrase="preparatory document published",
        oeil=("preparatory document",),
    ),
    EventKind(
        kind="proposal",
        phrase="legislative proposal published",
        oeil=("legislative proposal published", "legislative proposal"),
    ),
    EventKind(
        kind="referral",
        phrase="referral to committee announced in plenary",
        api=("REFERRAL",),
        oeil=("committee referral announced in parliament",),
    ),
    EventKind(
        kind="draft-report",
        phrase="draft report tabled in committee",
        api=("COMMITTEE_TABLING_REPORT",),
    ),
    EventKind(
        kind="draft-opinion",
        phrase="draft opinion tabled in committee",
        api=("COMMITTEE_TABLING_OPINION",),
    ),
    EventKind(
        kind="committee-amendments",
        phrase="amendments tabled in committee",
        api=("COMMITTEE_TABLING_AMENDMENT",),
    ),
    EventKind(
        kind="committee-opinion",
        phrase="a committee adopted its opinion",
        api=("COMMITTEE_ADOPTING_OPINION",),
    ),
    EventKind(
        kind="committee-report",
        phrase="committee adopted its report",
        api=("COMMITTEE_ADOPTING_REPORT",),
        oeil=("vote in committee",),
    ),
    EventKind(
        kind="negotiation-decision",
        phrase="committee decided to open negotiations with the Council",
        oeil=(
            "committee decision to open interinstitutional negotiations with report adopted "
            "in committee",
        ),
    ),
    EventKind(
        kind="negotiation-announced",
        phrase="committee decision to negotiate announced in plenary",
        oeil=(
            "committee decision to enter into interinstitutional negotiations announced in plenary",
        ),
    ),
    EventKind(
        kind="negotiation-confirmed",
        phrase="plenary confirmed the committee's mandate to negotiate",
        api=("PLENARY_ENDORSE_COMMITTEE_INTERINSTITUTIONAL_NEGOTIATIONS",),
        oeil=(
            "committee decision to enter into interinstitutional negotiations confirmed by plenary",
        ),
    ),
    EventKind(
        kind="negotiation-rejected",
        phrase="plenary rejected the committee's mandate to negotiate",
        # The API's own spelling has "INTERINSTUTIONAL"; the corrected one is kept in case.
        api=(
            "PLENARY_REJECT_COMMITTEE_INTERINSTUTIONAL_NEGOTIATIONS",
            "PLENARY_REJECT_COMMITTEE_INTERINSTITUTIONAL_NEGOTIATIONS",
        ),
    ),
    EventKind(
        kind="referred-back",
        phrase="plenary referred the file back to committee for negotiations",
        api=("PLENARY_REFER_COMMITTEE_INTERINSTITUTIONAL_NEGOTIATIONS",),
        oeil=(
            "matter referred back to the committee responsible for interinstitutional negotiations",
        ),
    ),
    EventKind(
        kind="report-tabled",
        phrase="committee report tabled for plenary",
        api=("TABLING_PLENARY",),
        oeil=("committee report tabled for plenary",),
    ),
    EventKind(
        kind="trilogue",
        phrase="trilogue meeting (interinstitutional negotiations)",
        api=("INTERINSTITUTIONAL_NEGOTIATION",),
    ),
    EventKind(
        kind="provisional-agreement",
        phrase="committee approved the provisional agreement from trilogue",
        api=("COMMITTEE_APPROVE_PROVISIONAL_AGREEMENT",),
        oeil=("approval in committee of the text agreed at interinstitutional negotiations",),
    ),
    EventKind(
        kind="plenary-debate",
        phrase="debate in plenary",
        api=("PLENARY_DEBATE",),
        oeil=("debate in parliament",),
    ),
    EventKind(
        kind="plenary-vote",
        phrase="plenary vote",
        api=("PLENARY_VOTE", "PLENARY_VOTE_RESULTS"),
        oeil=("results of vote in parliament",),
    ),
    EventKind(
        kind="plenary-decision",
        phrase="Parliament adopted its decision in plenary",
        api=(
            "PLENARY_DECISION",
            "PLENARY_AMEND",
            "PLENARY_AMEND_PROPOSAL",
            "PLENARY_ADOPT_POSITION",
            "PLENARY_APPROVE_COUNCIL_POSITION",
            "PLENARY_AMEND_COUNCIL_POSITION",
            "PLENARY_REJECT_COUNCIL_POSITION",
        ),
        oeil=("decision by parliament",),
    ),
    EventKind(
        kind="council-act",
        phrase="Council adopted the act",
        oeil=(
            "act adopted by council after parliament's",
            "act adopted by council after consultation of parliament",
            "act adopted by council after parliament",
        ),
    ),
    EventKind(
        kind="council-position",
        phrase="Council adopted its position",
        oeil=("council position published", "council position scheduled for adoption"),
    ),
    EventKind(
        kind="signed",
        phrase="final act signed",
        api=("SIGNATURE",),
        oeil=("final act signed",),
    ),
    EventKind(
        kind="published",
        phrase="final act published in the Official Journal",
        api=("PUBLICATION_OFFICIAL_JOURNAL",),
        oeil=("final act published in official journal",),
    ),
    EventKind(
        kind="plenary-agenda",
        phrase="item on the plenary agenda",
        api=("PLENARY_ACTIVITY",),
    ),
)

_BY_API = {api: kind for kind in EVENT_KINDS for api in kind.api}
_BY_OEIL = {label: kind for kind in EVENT_KINDS for label in kind.oeil}
_BY_KIND = {kind.kind: kind for kind in EVENT_KINDS}
_RANK = {kind.kind: rank for rank, kind in enumerate(EVENT_KINDS)}

# Event ids the API gives without an activity type still say what they were: the decision
# codes of eli/dl/event/<process>-DEC-<code>-<date> (seen on 2024/2006(REG)).
DECISION_CODES = {
    "DCPL": "PLENARY_DECISION",  # decision in plenary
    "ADCP": "COMMITTEE_ADOPTING_REPORT",  # adoption in committee
    "VOAGT": "COMMITTEE_APPROVE_PROVISIONAL_AGREEMENT",  # vote on the agreed text
    "REFBAK": "PLENARY_REFER_COMMITTEE_INTERINSTITUTIONAL_NEGOTIATIONS",
}

# Procedure-phase codes (publications.europa.eu/resource/authority/procedure-phase) -> the
# words the Legislative Observatory uses for them.
STAGES = {
    "RDG1": "1st reading",
    "RDG2": "2nd reading",
    "RDG3": "3rd reading",
    "CONC": "conciliation",
    "FIN": "completed",
}
_STAGE_WORDS = {words: code for code, words in STAGES.items()}

# "1st reading", "2nd reading", "1st reading/single reading", "single reading".
_READING = re.compile(
    r"\b(?:(1st|2nd|3rd)\s+reading(?:\s*/\s*single\s+reading)?|single\s+reading)\b"
)
_RULE = re.compile(r"\(\s*rule\s+\d+\w*\s*\)")
_SPACES = re.compile(r"\s+")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    return _NOT_SLUG.sub("-", text.lower()).strip("-")


def kind_of_activity(activity_type: str) -> EventKind:
    """The kind of an API activity type ("def/ep-activities/X" or "X"); unknown types get
    a kind of their own, so a new type of the API still makes an item."""
    code = activity_type.rsplit("/", 1)[-1].strip()
    known = _BY_API.get(code)
    if known is not None:
        return known
    return EventKind(kind=slug(code) or "event", phrase=code.replace("_", " ").lower() or "event")


def kind_by_name(kind: str) -> EventKind | None:
    return _BY_KIND.get(kind)


def kind_rank(kind: str) -> int:
    """Order of events on one day: the table's order (debate, vote, decision, ...)."""
    return _RANK.get(kind, len(_RANK))


def read_oeil_label(label: str) -> tuple[EventKind, str | None]:
    """An OEIL key-event label's kind and the stage code its words name (or None)."""
    text = _SPACES.sub(" ", label.replace("’", "'")).strip().lower()
    reading = _READING.search(text)
    stage = None
    if reading is not None:
        stage = _STAGE_WORDS.get(f"{reading.group(1)} reading") if reading.group(1) else "RDG1"
    bare = _RULE.sub(" ", _READING.sub(" ", text))
    bare = _SPACES.sub(" ", bare).strip(" ,.;:")
    known = _BY_OEIL.get(bare)
    if known is not None:
        return known, stage
    return EventKind(kind=slug(bare) or "event", phrase=bare or "event"), stage


def stage_code(value: str | None) -> str | None:
    """ "http://publications.europa.eu/resource/authority/procedure-phase/RDG1" -> "RDG1"."""
    if not value:
        return None
    code = value.rsplit("/", 1)[-1].strip().upper()
    return code or None


def stage_words(code: str | None) -> str | None:
    """ "RDG1" -> "1st reading"; an unknown code is shown as it is."""
    if code is None:
        return None
    return STAGES.get(code, code)


def stage_tag(code: str | None) -> str | None:
    """ "RDG1" -> "stage:1st-reading"."""
    words = stage_words(code)
    return f"stage:{slug(words)}" if words else None
