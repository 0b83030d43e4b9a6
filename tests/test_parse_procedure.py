"""ep-procedure parsing: the open-data API answer and the OEIL page give the same items."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from aggregator.errors import ParseError
from aggregator.models import Fetched, OrgKind, RawItem, Source, SourceKind
from aggregator.parse import parse_document
from aggregator.parse.procedure import fallback_urls
from aggregator.parse.procedure_events import kind_of_activity, read_oeil_label
from aggregator.parse.procedure_items import ProcedureEvent, merge_events

DATA = Path(__file__).parent / "data" / "procedure"
V1 = (DATA / "odp-procedure_2022-0155_v1.json").read_bytes()
V2 = (DATA / "odp-procedure_2022-0155_v2.json").read_bytes()
PAGE = (DATA / "oeil-procedure-file_2022-0155-cod.html").read_bytes()
REF = "2022/0155(COD)"
OEIL = "https://oeil.secure.europarl.europa.eu/oeil/en/procedure-file?reference=2022/0155(COD)"
API = "https://data.europarl.europa.eu/api/v2/procedures/2022-0155?format=application%2Fld%2Bjson"

SOURCE = Source(
    id="proc-csar",
    name="Procedure 2022/0155(COD)",
    url=API,
    kind=SourceKind.EP_PROCEDURE,
    org=OrgKind.PARLIAMENT,
    language="en",
    reference=REF,
)


def fetched(content: bytes, url: str = API, content_type: str = "application/ld+json") -> Fetched:
    return Fetched(
        url=url, status_code=200, content=content, headers={"content-type": content_type}
    )


def items(content: bytes, **kw: str) -> tuple[RawItem, ...]:
    return parse_document(SOURCE, fetched(content, **kw)).items


def test_api_answer_becomes_one_item_per_event_oldest_first() -> None:
    got = items(V2)
    assert [(i.published, i.title) for i in got] == [
        (datetime(2022, 6, 6, tzinfo=UTC), f"{REF} — referral to committee announced in plenary"),
        (datetime(2023, 11, 14, tzinfo=UTC), f"{REF} — committee adopted its report"),
        (datetime(2023, 11, 16, tzinfo=UTC), f"{REF} — committee report tabled for plenary"),
        (
            datetime(2023, 11, 22, tzinfo=UTC),
            f"{REF} — plenary confirmed the committee's mandate to negotiate",
        ),
        (
            datetime(2026, 11, 4, tzinfo=UTC),
            f"{REF} — committee approved the provisional agreement from trilogue",
        ),
        (datetime(2026, 11, 19, tzinfo=UTC), f"{REF} — Parliament adopted its decision in plenary"),
    ]
    decision = got[-1]
    assert decision.guid == f"urn:ep-procedure:{REF}:2026-11-19:plenary-decision"
    assert decision.url == OEIL
    assert decision.categories == (
        f"procedure:{REF}",
        "event:plenary-decision",
        "stage:1st-reading",
    )
    assert decision.content is not None
    assert (
        "https://www.europarl.europa.eu/doceo/document/TA-10-2026-0321_EN.html" in decision.content
    )
    assert "Preventing and combating child sexual abuse" in decision.content
    assert (
        decision.summary
        == "Parliament adopted its decision in plenary, 1st reading, 19 November 2026."
    )


def test_an_event_without_a_stage_takes_the_stage_before_it() -> None:
    mandate = items(V2)[3]  # the fixture gives this event no occured_at_stage
    assert "stage:1st-reading" in mandate.categories


def test_the_procedure_title_follows_the_source_language() -> None:
    french = replace(SOURCE, language="fr")
    document = parse_document(french, fetched(V2))
    assert document.title == f"{REF}: Prévenir et combattre les abus sexuels sur enfants"
    assert document.items[0].content is not None
    assert "Prévenir et combattre" in document.items[0].content


def test_the_oeil_page_gives_the_same_items_as_the_api() -> None:
    from_api = {i.guid: i for i in items(V2)}
    from_page = {i.guid: i for i in items(PAGE, url=OEIL, content_type="text/html; charset=utf-8")}
    shared = from_api.keys() & from_page.keys()
    assert shared == from_api.keys()
    assert all(from_api[g] == from_page[g] for g in shared)
    # What the API does not know (the Commission's proposal) is the page's own.
    assert from_page.keys() - shared == {f"urn:ep-procedure:{REF}:2022-05-11:proposal"}


def test_a_new_api_version_adds_exactly_its_new_events() -> None:
    before = {str(i.guid): i for i in items(V1)}
    after = {str(i.guid): i for i in items(V2)}
    assert all(after[g] == before[g] for g in before)
    assert sorted(after.keys() - before.keys()) == [
        f"urn:ep-procedure:{REF}:2026-11-04:provisional-agreement",
        f"urn:ep-procedure:{REF}:2026-11-19:plenary-decision",
    ]


@pytest.mark.parametrize(
    "content",
    [b"<html><body><h1>Service unavailable</h1></body></html>", b'{"data": []}', b"{not json"],
    ids=["html-error-page", "json-without-process", "broken-json"],
)
def test_what_is_not_a_procedure_is_a_parse_error(content: bytes) -> None:
    with pytest.raises(ParseError, match="proc-csar"):
        items(content)


def test_another_procedure_s_document_is_a_parse_error(corpus: Path) -> None:
    # Stored with a warning, its events were tagged and listed as the followed procedure's.
    data = (corpus / "parliament" / "odp-procedure_2016-0132.json").read_bytes()
    source = replace(SOURCE, reference="2024/0258(COD)")
    with pytest.raises(ParseError, match="procedure 2016/0132\\(COD\\), not 2024/0258\\(COD\\)"):
        parse_document(source, fetched(data))


def test_events_of_one_kind_on_one_day_are_one_item() -> None:
    amend = kind_of_activity("def/ep-activities/COMMITTEE_TABLING_AMENDMENT")
    day = date(2017, 3, 3)
    merged = merge_events(
        [
            ProcedureEvent(day=day, kind=amend, stage="RDG1", documents=()),
            ProcedureEvent(day=day, kind=amend, stage=None, documents=()),
        ]
    )
    assert len(merged) == 1 and merged[0].stage == "RDG1"


@pytest.mark.parametrize(
    ("label", "kind", "stage"),
    [
        ("Vote in committee, 1st reading", "committee-report", "RDG1"),
        (
            "Committee report tabled for plenary, 1st reading/single reading",
            "report-tabled",
            "RDG1",
        ),
        (
            "Committee decision to enter into interinstitutional negotiations announced in "
            "plenary (Rule 71)",
            "negotiation-announced",
            None,
        ),
        (
            "Approval in committee of the text agreed at 1st reading interinstitutional "
            "negotiations",
            "provisional-agreement",
            "RDG1",
        ),
        ("Decision by Parliament, 2nd reading", "plenary-decision", "RDG2"),
        ("Act adopted by Council after Parliament's 1st reading", "council-act", "RDG1"),
        ("Something new on OEIL", "something-new-on-oeil", None),
    ],
)
def test_oeil_labels(label: str, kind: str, stage: str | None) -> None:
    found, found_stage = read_oeil_label(label)
    assert (found.kind, found_stage) == (kind, stage)


def test_fallback_is_the_oeil_page_or_the_same_path_on_a_mirror() -> None:
    assert fallback_urls(SOURCE) == (OEIL,)
    mirror = replace(SOURCE, url="http://127.0.0.1:8080/api/v2/procedures/2022-0155")
    assert fallback_urls(mirror) == (
        "http://127.0.0.1:8080/oeil/en/procedure-file?reference=2022/0155(COD)",
    )
    assert fallback_urls(replace(SOURCE, url="file:///dumps/2022-0155.json")) == ()
    feed = replace(SOURCE, kind=SourceKind.FEED, reference=None)
    assert fallback_urls(feed) == ()


# -- the real corpus ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reference", "count", "last"),
    [
        ("odp-procedure_2016-0132.json", "2016/0132(COD)", 18, "published"),
        ("odp-procedure_2024-2006.json", "2024/2006(REG)", 6, "plenary-decision"),
        ("odp-procedure_2025-0260.json", "2025/0260(COD)", 19, "plenary-decision"),
    ],
)
def test_corpus_api_answers(corpus: Path, name: str, reference: str, count: int, last: str) -> None:
    source = replace(SOURCE, reference=reference)
    data = (corpus / "parliament" / name).read_bytes()
    document = parse_document(source, fetched(data))
    assert document.format == "ep-api-v2" and not document.warnings
    assert len(document.items) == count
    assert document.items[-1].guid is not None and document.items[-1].guid.endswith(f":{last}")
    guids = [i.guid for i in document.items]
    assert len(set(guids)) == len(guids)
    dates = [i.published for i in document.items if i.published is not None]
    assert len(dates) == count and dates == sorted(dates)
    assert all(i.title and i.title.startswith(f"{reference} — ") for i in document.items)


@pytest.mark.parametrize(
    ("name", "reference", "completed"),
    [
        # Signed and published in the Official Journal: the API still says stage "RDG1".
        ("odp-procedure_2016-0132.json", "2016/0132(COD)", True),
        ("odp-procedure_2025-0260.json", "2025/0260(COD)", False),  # voted, not yet an act
    ],
)
def test_a_procedure_whose_act_is_published_is_completed_in_the_api_too(
    corpus: Path, name: str, reference: str, completed: bool
) -> None:
    source = replace(SOURCE, reference=reference)
    data = (corpus / "parliament" / name).read_bytes()
    document = parse_document(source, fetched(data))
    assert document.items
    assert [("status:completed" in i.categories) for i in document.items] == [completed] * len(
        document.items
    )


def test_corpus_event_without_activity_type_is_read_from_its_id(corpus: Path) -> None:
    # 2024/2006(REG) gives its plenary decision (…-DEC-DCPL-2024-04-24) no activity type.
    source = replace(SOURCE, reference="2024/2006(REG)")
    data = (corpus / "parliament" / "odp-procedure_2024-2006.json").read_bytes()
    guids = {i.guid for i in parse_document(source, fetched(data)).items}
    assert "urn:ep-procedure:2024/2006(REG):2024-04-24:plenary-decision" in guids


@pytest.mark.parametrize(
    ("name", "reference", "kinds"),
    [
        (
            "oeil-procedure-file_2024-0258-cod.html",
            "2024/0258(COD)",
            [
                "proposal",
                "referral",
                "committee-report",
                "negotiation-decision",
                "report-tabled",
                "negotiation-announced",
                "negotiation-confirmed",
                "provisional-agreement",
                "plenary-debate",
                "plenary-vote",
                "plenary-decision",
                "council-act",
                "signed",
                "published",
            ],
        ),
        (
            "oeil-procedure-file_2022-2852-rsp.html",
            "2022/2852(RSP)",
            ["plenary-debate", "plenary-vote", "plenary-decision"],
        ),
        (
            "oeil-procedure-file_2022_0377-nle.html",
            "2022/0377(NLE)",
            [
                "preparatory-document",
                "proposal",
                "referral",
                "committee-report",
                "report-tabled",
                "plenary-vote",
                "plenary-decision",
                "council-act",
                "published",
            ],
        ),
    ],
)
def test_corpus_oeil_pages(corpus: Path, name: str, reference: str, kinds: list[str]) -> None:
    source = replace(SOURCE, reference=reference)
    data = (corpus / "parliament" / name).read_bytes()
    document = parse_document(source, fetched(data, url=OEIL, content_type="text/html"))
    assert document.format == "oeil" and not document.warnings
    found = [i.guid.rsplit(":", 1)[-1] for i in document.items if i.guid]
    # Same-day events come in the vocabulary's order, so sort both sides by (day, kind).
    assert sorted(found) == sorted(kinds)
    assert document.link == (
        f"https://oeil.secure.europarl.europa.eu/oeil/en/procedure-file?reference={reference}"
    )
    # Every corpus page says "Procedure completed": its events say so too, for the digest.
    assert all("status:completed" in i.categories for i in document.items)


def test_a_page_of_a_procedure_under_way_says_nothing_of_completion(corpus: Path) -> None:
    data = (corpus / "parliament" / "oeil-procedure-file_2024-0258-cod.html").read_bytes()
    under_way = data.replace(b">Procedure completed<", b">Awaiting committee decision<")
    source = replace(SOURCE, reference="2024/0258(COD)")
    document = parse_document(source, fetched(under_way, url=OEIL, content_type="text/html"))
    assert document.items
    assert not any("status:completed" in i.categories for i in document.items)


def test_shipped_procedures_point_at_their_own_api_answer_and_page() -> None:
    from aggregator.settings import load_sources

    config = Path(__file__).parent.parent / "config"
    followed = {s.reference: s for s in load_sources(config) if s.kind is SourceKind.EP_PROCEDURE}
    assert {"2022/0155(COD)", "2024/0035(COD)", "2020/0259(COD)", "2023/0452(COD)"} <= set(followed)
    for reference, source in followed.items():
        assert reference is not None
        year, number = reference[:4], reference[5:9]
        assert source.url.startswith(
            f"https://data.europarl.europa.eu/api/v2/procedures/{year}-{number}?"
        )
        assert fallback_urls(source) == (
            f"https://oeil.secure.europarl.europa.eu/oeil/en/procedure-file?reference={reference}",
        )


def test_events_that_say_not_what_they_are_are_skipped_with_a_warning() -> None:
    # The API renames its field: no event has a type any more. Stored as kind "event", each
    # would be a second item for an event already known under its kind.
    renamed = V2.replace(b'"had_activity_type"', b'"activityType"')
    before = parse_document(SOURCE, fetched(V2))
    after = parse_document(SOURCE, fetched(renamed))
    kinds = {item.guid.rsplit(":", 1)[-1] for item in after.items if item.guid}
    assert "event" not in kinds
    assert {item.guid for item in after.items} <= {item.guid for item in before.items}
    assert any("say not what they are (no activity type): skipped" in w for w in after.warnings)


def test_events_without_a_usable_date_are_skipped_with_a_warning() -> None:
    document = json.loads(V2)
    events = document["data"][0]["consists_of"]
    assert len(events) >= 2
    events[0].pop("activity_date")
    events[1]["activity_date"] = "2026-13-45"
    before = parse_document(SOURCE, fetched(V2))
    after = parse_document(SOURCE, fetched(json.dumps(document).encode()))
    assert len(after.items) < len(before.items)
    assert any(
        "2 events of procedure 2022/0155(COD) have no date, or one that is no date: skipped" in w
        for w in after.warnings
    )
    assert not any("no date" in w for w in before.warnings)


def test_the_api_s_own_labels_do_not_make_its_items_differ_from_the_page_s() -> None:
    # Activity types as objects with the API's own labels: the items must stay those the
    # page gives, or every day the page stands in for the API would rewrite them.
    document = json.loads(V2)
    for event in document["data"][0]["consists_of"]:
        code = event["had_activity_type"]
        event["had_activity_type"] = {"id": code, "label": {"en": "An API label, " + code}}
    labelled = json.dumps(document).encode()
    from_api = {i.guid: i for i in items(labelled)}
    from_page = {i.guid: i for i in items(PAGE, url=OEIL, content_type="text/html; charset=utf-8")}
    assert from_api.keys() <= from_page.keys()
    assert all(from_api[g].title == from_page[g].title for g in from_api)
