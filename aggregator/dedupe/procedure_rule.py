"""The procedure rule of the dedupe stage: an event of a followed procedure and an official
statement about it on the same day belong together. Pure: values in, a bool out.

Text matching cannot see it: "2022/0155(COD) — Parliament adopted its decision in plenary"
and the Parliament's press release on the vote share a reference and a date, not words. So
the rule keys both sides by (procedure reference, day):

- an `ep-procedure` event is about its own procedure only: the reference its title starts
  with (its text may cite others);
- any other item is about every reference in its title and text ("2022/0155(COD)" is how
  press releases and adopted texts cite a file);
- the day is the Parliament's: the date in Brussels. Events are dated (midnight UTC, the same
  date in Brussels); a release published at 00:30 in Brussels is that day's.

Two items match when exactly one is an event, the other comes from an official organisation
(the Parliament's or an institution's press office; not NGO or press reactions, which stay
statements of their own), and their keys share a (reference, day). Two events never match
through this rule, and two events of one procedure source must not match at all
(`procedure_apart`): they share the procedure's page as their link and its title in their
text, which the URL and text levels would otherwise take for one statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from aggregator.models import OFFICIAL_ORGS, OrgKind, SourceKind
from aggregator.tag import procedure_references

PARLIAMENT_TIMEZONE = ZoneInfo("Europe/Brussels")
ProcedureKey = tuple[str, date]  # ("2022/0155(COD)", date(2026, 11, 19))


def procedure_key(
    title: str, text: str, published: datetime, source_kind: str
) -> set[ProcedureKey]:
    """The (reference, Brussels day) pairs an item is about; empty when it cites none."""
    if published.tzinfo is None:
        raise ValueError("published must be tz-aware")
    if source_kind == SourceKind.EP_PROCEDURE:
        references = procedure_references([title])[:1]
    else:
        references = procedure_references([title, text])
    day = published.astimezone(PARLIAMENT_TIMEZONE).date()
    return {(reference, day) for reference in references}


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcedureSide:
    """What the rule knows of one item of a pair."""

    source_id: str
    is_event: bool  # from an ep-procedure source
    official: bool  # from an institution, parliament or government
    keys: frozenset[ProcedureKey]


def procedure_side(
    *,
    source_id: str,
    source_kind: str,
    org: OrgKind,
    title: str,
    text: str,
    published: datetime,
) -> ProcedureSide:
    return ProcedureSide(
        source_id=source_id,
        is_event=source_kind == SourceKind.EP_PROCEDURE,
        official=org in OFFICIAL_ORGS,
        keys=frozenset(procedure_key(title, text, published, source_kind)),
    )


def procedure_match(a: ProcedureSide, b: ProcedureSide) -> bool:
    """An event and an official statement about the same procedure on the same day.
    Symmetric: the same answer for (b, a)."""
    if a.is_event == b.is_event:
        return False
    statement = b if a.is_event else a
    return statement.official and not a.keys.isdisjoint(b.keys)


def procedure_apart(a: ProcedureSide, b: ProcedureSide) -> bool:
    """Two events of one procedure source: never the same statement, whatever their text."""
    return a.is_event and b.is_event and a.source_id == b.source_id
