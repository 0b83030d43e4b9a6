"""The dedupe stage's procedure rule: an event and the official release on it, same day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.dedupe.procedure_rule import (
    ProcedureSide,
    procedure_apart,
    procedure_key,
    procedure_match,
    procedure_side,
)
from aggregator.models import Fetched, Item, OrgKind, Source, SourceKind
from aggregator.normalise import normalise_document
from aggregator.parse import parse_document

DATA = Path(__file__).parent / "data" / "procedure"
REF = "2022/0155(COD)"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PROCEDURE = Source(
    id="proc-csar",
    name="Procedure 2022/0155(COD)",
    url="https://data.europarl.europa.eu/api/v2/procedures/2022-0155",
    kind=SourceKind.EP_PROCEDURE,
    org=OrgKind.PARLIAMENT,
    language="en",
    reference=REF,
)
RELEASE_TEXT = (
    "Parliament adopted on Thursday its position for negotiations with member states on the "
    "regulation to prevent and combat child sexual abuse online (2022/0155 (COD)), with 478 "
    "votes in favour, 120 against and 34 abstentions."
)


def events() -> dict[str, Item]:
    fetched = Fetched(
        url=PROCEDURE.url,
        status_code=200,
        content=(DATA / "odp-procedure_2022-0155_v2.json").read_bytes(),
        headers={"content-type": "application/ld+json"},
    )
    document = parse_document(PROCEDURE, fetched)
    items = normalise_document(PROCEDURE, document, now=NOW)
    return {item.identity.rsplit(":", 1)[-1]: item for item in items}


def event_side(item: Item) -> ProcedureSide:
    return procedure_side(
        source_id=item.source_id,
        source_kind=SourceKind.EP_PROCEDURE,
        org=OrgKind.PARLIAMENT,
        title=item.title,
        text=item.text,
        published=item.published,
    )


def release(org: OrgKind = OrgKind.PARLIAMENT, published: datetime | None = None) -> ProcedureSide:
    return procedure_side(
        source_id="ep-press" if org is OrgKind.PARLIAMENT else "edri",
        source_kind=SourceKind.FEED,
        org=org,
        title="Child sexual abuse online: Parliament ready to negotiate",
        text=RELEASE_TEXT,
        published=published or datetime(2026, 11, 19, 13, 5, tzinfo=UTC),
    )


def test_the_press_release_on_the_vote_joins_the_event_of_that_day() -> None:
    found = events()
    decision = event_side(found["plenary-decision"])  # 19 November 2026
    assert decision.keys == {(REF, date(2026, 11, 19))}
    assert procedure_match(decision, release())
    assert procedure_match(release(), decision)  # symmetric


def test_not_on_another_day_nor_for_an_ngo_reaction() -> None:
    agreement = event_side(events()["provisional-agreement"])  # 4 November 2026
    assert not procedure_match(agreement, release())
    decision = event_side(events()["plenary-decision"])
    assert not procedure_match(decision, release(OrgKind.NGO))


def test_two_releases_or_two_events_never_match_by_the_rule() -> None:
    found = events()
    assert not procedure_match(release(), release())
    a, b = event_side(found["plenary-decision"]), event_side(found["provisional-agreement"])
    assert not procedure_match(a, b)
    assert procedure_apart(a, b)  # and the text levels must not fold them either
    assert not procedure_apart(a, release())


def test_the_day_is_the_parliaments() -> None:
    # 23:30 UTC on the 18th is 00:30 on the 19th in Brussels.
    late = datetime(2026, 11, 18, 23, 30, tzinfo=UTC)
    assert procedure_key("", RELEASE_TEXT, late, "feed") == {(REF, date(2026, 11, 19))}


def test_an_event_is_about_its_own_procedure_only() -> None:
    title = f"{REF} — Parliament adopted its decision in plenary"
    text = "Replaces the interim regulation 2020/0259(COD)."
    day = datetime(2026, 11, 19, tzinfo=UTC)
    assert procedure_key(title, text, day, "ep-procedure") == {(REF, date(2026, 11, 19))}
    assert procedure_key(title, text, day, "feed") == {
        (REF, date(2026, 11, 19)),
        ("2020/0259(COD)", date(2026, 11, 19)),
    }


def test_naive_dates_are_refused() -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        procedure_key("", RELEASE_TEXT, datetime(2026, 11, 19), "feed")


sides = st.builds(
    ProcedureSide,
    source_id=st.sampled_from(["a", "b"]),
    is_event=st.booleans(),
    official=st.booleans(),
    keys=st.frozensets(
        st.tuples(st.sampled_from([REF, "2024/0035(COD)"]), st.sampled_from([date(2026, 1, 1)])),
        max_size=2,
    ),
)


@given(sides, sides)
def test_the_rule_is_symmetric(a: ProcedureSide, b: ProcedureSide) -> None:
    assert procedure_match(a, b) == procedure_match(b, a)
    assert procedure_apart(a, b) == procedure_apart(b, a)
    assert not (procedure_match(a, b) and procedure_apart(a, b))
