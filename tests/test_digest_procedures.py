"""The digest's Procedures section: built from the window's items of ep-procedure sources,
rendered first in every format, and end to end through `refresh` and `digest`."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from aggregator.cli import main
from aggregator.deliver.render import (
    digest_to_json,
    render_html,
    render_json,
    render_markdown,
    render_text,
)
from aggregator.digest import Digest, SourceInfo, build_digest
from aggregator.models import OrgKind, SourceKind, StoredItem
from tests.support_config import write_config
from tests.support_digest import SOURCES, T0, T1, item

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

REF = "2022/0155(COD)"
OEIL = "https://oeil.secure.europarl.europa.eu/oeil/en/procedure-file?reference=2022/0155(COD)"
PROCEDURES = {
    **SOURCES,
    "proc-csar": SourceInfo(
        id="proc-csar",
        name="Procedure 2022/0155(COD): CSA Regulation",
        url="https://data.europarl.europa.eu/api/v2/procedures/2022-0155",
        kind=SourceKind.EP_PROCEDURE,
        org=OrgKind.PARLIAMENT,
    ),
    "proc-directive": SourceInfo(
        id="proc-directive",
        name="Procedure 2024/0035(COD): CSA Directive recast",
        url="https://data.europarl.europa.eu/api/v2/procedures/2024-0035",
        kind=SourceKind.EP_PROCEDURE,
        org=OrgKind.PARLIAMENT,
    ),
}


def event(item_id: int, source_id: str, ref: str, what: str, day: str, **kw: Any) -> StoredItem:
    tags = (f"procedure:{ref}", "stage:1st-reading", "kind:ep-procedure", *kw.pop("tags", ()))
    published = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return item(
        item_id,
        source_id,
        title=f"{ref} — {what}",
        url=OEIL,
        published=published,
        tags=tags,
        **kw,
    )


def digest_of(items: list[StoredItem], **kw: Any) -> Digest:
    return build_digest(
        profile="daily",
        window_start=T0,
        window_end=T1,
        now=T1,
        timezone="Europe/Brussels",
        items=items,
        sources=PROCEDURES,
        health=[],
        shown={},
        topic_order=(),
        topic_labels={},
        **kw,
    )


def test_new_events_one_line_each_and_the_stage() -> None:
    earlier = event(1, "proc-csar", REF, "committee adopted its report", "2023-11-14")
    earlier = replace(earlier, first_seen=T0 - timedelta(days=30))
    items = [
        event(3, "proc-csar", REF, "Parliament adopted its decision in plenary", "2025-03-03"),
        event(2, "proc-csar", REF, "committee approved the provisional agreement", "2025-03-01"),
    ]
    directive = replace(
        event(9, "proc-directive", "2024/0035(COD)", "debate in plenary", "2024-10-01"),
        first_seen=T0 - timedelta(days=90),
        tags=("procedure:2024/0035(COD)", "stage:2nd-reading"),
    )
    digest = digest_of(items, procedure_latest={"proc-csar": earlier, "proc-directive": directive})

    csar, other = digest.procedures
    assert csar.reference == REF
    assert [(e.day.date().isoformat(), e.event) for e in csar.events] == [
        ("2025-03-01", "committee approved the provisional agreement"),
        ("2025-03-03", "Parliament adopted its decision in plenary"),
    ]
    assert csar.stage == "1st reading"
    assert csar.latest is not None and csar.latest.item_id == 3
    # Nothing new in the window: the stage still shows, from the latest stored event.
    assert (other.reference, other.events, other.stage) == ("2024/0035(COD)", (), "2nd reading")
    # Procedure events are in their own section, not repeated among the topic groups.
    assert digest.groups == ()
    assert not digest.is_empty and digest.procedure_event_count == 2
    assert sorted(digest.shown) == [(2, 1), (3, 1)]


def test_an_event_clustered_with_a_press_release_stays_in_the_groups() -> None:
    vote = event(2, "proc-csar", REF, "plenary vote", "2025-03-03", cluster_id=7)
    press = item(
        3, "ep-press", title="Parliament adopts its position on 2022/0155(COD)", cluster_id=7
    )
    digest = digest_of([vote, press])
    assert [e.event for e in digest.procedures[0].events] == ["plenary vote"]
    (entry,) = digest.entries
    assert {entry.source.source_id, *(o.source_id for o in entry.others)} == {
        "proc-csar",
        "ep-press",
    }


def test_the_profile_tags_filter_procedures_too() -> None:
    items = [event(2, "proc-csar", REF, "plenary vote", "2025-03-03", tags=("csar",))]
    assert digest_of(items, include_tags=("csar",)).procedures[0].events
    assert digest_of(items, exclude_tags=("csar",)).procedures == ()


def test_an_event_listed_is_recorded_as_shown_also_when_its_cluster_is_left_out() -> None:
    """The event's own tags let it in, its cluster's (a press release tagged dsa) do not:
    it is listed, so it is shown (the API tells empty digests by what they recorded)."""
    vote = event(2, "proc-csar", REF, "plenary vote", "2025-03-03", cluster_id=7)
    press = item(3, "ep-press", title="Plenary vote on the DSA", tags=("dsa",), cluster_id=7)
    digest = digest_of([vote, press], exclude_tags=("dsa",))
    assert digest.entries == () and digest.procedure_event_count == 1
    assert digest.shown == ((2, 1),)


def sample() -> Digest:
    items = [
        event(2, "proc-csar", REF, "committee approved the provisional agreement", "2025-03-01"),
        event(3, "proc-csar", REF, "Parliament adopted its decision in plenary", "2025-03-03"),
        item(4, "edri", title="EDRi reacts to the vote", tags=("csar",)),
    ]
    directive = event(9, "proc-directive", "2024/0035(COD)", "debate in plenary", "2024-10-01")
    directive = replace(directive, first_seen=T0 - timedelta(days=90))
    return digest_of(items, procedure_latest={"proc-directive": directive})


def test_procedures_come_first_in_every_format() -> None:
    digest = sample()
    text = render_text(digest)
    assert text.index("PROCEDURES") < text.index("EDRi reacts")
    assert "    2025-03-01 committee approved the provisional agreement\n" in text
    stage = text.split("    Stage: ", 1)[1].split("\n\n", 1)[0]
    assert " ".join(stage.split()) == (
        "1st reading (latest: Parliament adopted its decision in plenary, 2025-03-03)"
    )
    assert "CSA Directive recast" in text and "Nothing new since the last digest." in text
    markdown = render_markdown(digest)
    assert markdown.index("## Procedures") < markdown.index("EDRi reacts")
    link = OEIL.replace("(", "%28").replace(")", "%29")
    assert f"- 2025-03-03: [Parliament adopted its decision in plenary]({link})" in markdown
    html = render_html(digest)
    assert html.index("Procedures") < html.index("EDRi reacts")
    assert "committee approved the provisional agreement" in html
    data = json.loads(render_json(digest))
    assert list(data).index("procedures") < list(data).index("groups")
    csar = data["procedures"][0]
    assert csar["reference"] == REF and csar["stage"] == "1st reading"
    assert [e["date"] for e in csar["events"]] == ["2025-03-01", "2025-03-03"]
    assert csar["latest"]["event"] == "Parliament adopted its decision in plenary"


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for sub in value.values() for k in _keys(sub)}
    if isinstance(value, list):
        return {k for sub in value for k in _keys(sub)}
    return set()


def test_every_procedure_json_field_is_documented() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "digest-json.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_.]+)` \|", doc, re.MULTILINE))
    documented |= {d.rpartition(".")[2] for d in documented}
    assert _keys(digest_to_json(sample())) <= documented


# -- end to end ------------------------------------------------------------------------------

DATA = Path(__file__).parent / "data" / "procedure"
API_PATH = "/api/v2/procedures/2022-0155"


def test_refresh_then_digest_shows_what_happened_since_the_last_digest(
    http_server: FixtureServer,
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AGGREGATOR_DATABASE_URL", database_url)
    monkeypatch.delenv("AGGREGATOR_CONFIG", raising=False)
    monkeypatch.delenv("AGGREGATOR_SMTP_HOST", raising=False)
    v1 = (DATA / "odp-procedure_2022-0155_v1.json").read_bytes()
    v2 = (DATA / "odp-procedure_2022-0155_v2.json").read_bytes()
    http_server.add(API_PATH, body=v1, content_type="application/ld+json", times=1)
    http_server.add(API_PATH, body=v2, content_type="application/ld+json")
    source = {
        "id": "proc-csar",
        "name": f"Procedure {REF}: CSA Regulation",
        "url": http_server.url(API_PATH),
        "kind": "ep-procedure",
        "org": "parliament",
        "language": "en",
        "reference": REF,
    }
    config = str(write_config(tmp_path / "config", [source]))

    def cli(*argv: str) -> None:
        code = main(["--config", config, *argv])
        out, err = capsys.readouterr()
        assert code == 0, out + err

    def digest_json() -> dict[str, Any]:
        cli("digest", "--send")
        (path,) = (tmp_path / "var" / "digests" / "daily").glob("*.json")
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    cli("refresh")
    first = digest_json()["procedures"][0]
    assert len(first["events"]) == 4 and first["stage"] == "1st reading"

    cli("refresh")
    second = digest_json()
    (csar,) = second["procedures"]
    assert [(e["date"], e["event"]) for e in csar["events"]] == [
        ("2026-11-04", "committee approved the provisional agreement from trilogue"),
        ("2026-11-19", "Parliament adopted its decision in plenary"),
    ]
    assert csar["stage"] == "1st reading"
    assert csar["latest"]["date"] == "2026-11-19"
    assert second["groups"] == []  # the events are not repeated as entries
