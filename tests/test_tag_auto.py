"""Automatic tags from source metadata and the item, procedure references, and the purity
of `tag_item`."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aggregator.models import OrgKind, SourceKind
from aggregator.tag import (
    PROCEDURE_RE,
    TagRules,
    automatic_tags,
    load_tag_rules,
    procedure_references,
    tag_item,
)
from tests.support_tag import make_item, make_source

CONFIG = Path(__file__).resolve().parent.parent / "config" / "tags.toml"


@pytest.fixture(scope="module")
def rules() -> TagRules:
    return load_tag_rules(CONFIG)


def test_automatic_tags_of_a_parliament_source() -> None:
    source = make_source(
        "ep-libe",
        "European Parliament: LIBE",
        org=OrgKind.PARLIAMENT,
        kind=SourceKind.HTML,
        institution="European Parliament",
        tags=("eu", "committee:libe"),
    )
    item = make_item("LIBE vote on 2022/0155(COD)", language="en")
    assert automatic_tags(item, source) == (
        "committee:libe",
        "eu",
        "institution:european-parliament",
        "kind:html",
        "lang:en",
        "org:parliament",
        "procedure:2022/0155(COD)",
        "source:ep-libe",
    )


def test_automatic_tags_of_a_national_ngo() -> None:
    source = make_source("digitalcourage", "Digitalcourage", org=OrgKind.NGO, country="DE")
    item = make_item("Chatkontrolle stoppen", language="de")
    assert automatic_tags(item, source) == (
        "country:de",
        "kind:feed",
        "lang:de",
        "org:ngo",
        "source:digitalcourage",
    )


def test_language_falls_back_to_the_source_and_drops_the_region() -> None:
    source = make_source(language="fr")
    assert "lang:fr" in automatic_tags(make_item("x", language=None), source)
    assert "lang:pt" in automatic_tags(make_item("x", language="pt-BR"), source)


def test_institution_slug_folds_accents() -> None:
    source = make_source(institution="Conseil de l'Union européenne", org=OrgKind.INSTITUTION)
    assert "institution:conseil-de-l-union-europeenne" in automatic_tags(make_item("x"), source)


def test_ep_procedure_source_reference_is_a_tag() -> None:
    source = make_source(
        "csar-oeil", "OEIL 2022/0155", kind=SourceKind.EP_PROCEDURE, reference="2022/0155(COD)"
    )
    assert "procedure:2022/0155(COD)" in automatic_tags(make_item("Committee vote"), source)
    assert "kind:ep-procedure" in automatic_tags(make_item("Committee vote"), source)


PROCEDURES = [
    ("Proposal 2022/0155(COD) on CSA", ["2022/0155(COD)"]),
    ("Directive recast 2024/0035(COD)", ["2024/0035(COD)"]),
    (
        "Interim 2020/0259(COD) and its extension 2023/0452(COD)",
        ["2020/0259(COD)", "2023/0452(COD)"],
    ),
    ("with a space: 2022/0155 (COD)", ["2022/0155(COD)"]),
    ("spaced out: 2022 / 0155 ( cod )", ["2022/0155(COD)"]),
    ("NLE 2022/0377(NLE), RSP 2022/2852(RSP), INI 2024/2006(INI)", None),
    ("CNS 2019/0001(CNS) APP 2021/0002(APP) BUD 2023/2019(BUD)", None),
    ("twice: 2022/0155(COD) ... 2022/0155(COD)", ["2022/0155(COD)"]),
    ("not a type: 2022/0155(XYZ)", []),
    ("a file number: 12022/0155(COD)", []),
    ("part of a path: docs/2022/0155(COD)", []),
    ("three digits: 2022/155(COD)", []),
]


@pytest.mark.parametrize(("text", "expected"), PROCEDURES, ids=[t[:30] for t, _ in PROCEDURES])
def test_procedure_references(text: str, expected: list[str] | None) -> None:
    found = list(procedure_references([text]))
    if expected is None:  # the text itself lists them, normalised already
        expected = re.findall(r"\d{4}/\d{4}\([A-Z]{3}\)", text)
    assert found == expected


@pytest.mark.corpus
def test_procedure_references_in_parliament_files(corpus: Path) -> None:
    """The Legislative Observatory pages and open-data answers name their own procedure."""
    pages = {
        "oeil-procedure-file_2024-0258-cod.html": "2024/0258(COD)",
        "oeil-procedure-file_2022-2852-rsp.html": "2022/2852(RSP)",
        "oeil-procedure-file_2022_0377-nle.html": "2022/0377(NLE)",
    }
    for name, reference in pages.items():
        text = (corpus / "parliament" / name).read_text("utf-8")
        assert reference in procedure_references([text])
    data = json.loads((corpus / "parliament" / "odp-procedure_2016-0132.json").read_text("utf-8"))
    assert "2016/0132(COD)" in procedure_references([json.dumps(data)])


def _reference_procedures(texts: list[str]) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for text in texts:
        for match in PROCEDURE_RE.finditer(text):
            year, number, kind = match.groups()
            found[f"{year}/{number}({kind.upper()})"] = None
    return tuple(found)


PROCEDURE_PIECES = st.sampled_from(
    [
        *("1", "2", "9", "0", "5", "/", " ", "\n", "(", ")", "cod", "COD", "Nle", "x", "20"),
        *("19", "2022/0155(COD)", " / ", "( ", " )", "\u2003", "\u0661", "\u017fyn"),
        "12022/0155(COD)",
    ]
)


@settings(max_examples=400)
@given(st.lists(st.lists(PROCEDURE_PIECES, max_size=14).map("".join), min_size=1, max_size=3))
@example(["2022/2023/0155(COD)", "2019 2020 / 0001 (cns) 2021/0002(APP)", "x/2022/0155(COD)"])
@example(["12022 /0155(cod) 2022\n/\t0155\n(\nCOD\n)", "2020/0259(COD)2023/0452(COD)"])
def test_procedure_references_are_those_of_procedure_re(texts: list[str]) -> None:
    """procedure_references finds PROCEDURE_RE's matches its own faster way (auto.py)."""
    assert procedure_references(texts) == _reference_procedures(texts)


@settings(max_examples=300)
@given(
    st.lists(PROCEDURE_PIECES, max_size=14).map("".join),
    st.integers(min_value=0, max_value=60),
    st.lists(PROCEDURE_PIECES, max_size=4).map("".join),
)
@example("see 2022/0155(COD) and 2024/0035(COD)", 19, "…")
@example("x 2022/0155(COD)", 2, "022/0155(COD)")  # a year cut short, then a reference
@example("2022/0155(COD x", 13, ")")  # the summary's own ")" completes a reference
def test_procedure_tags_of_summary_and_text(text: str, cut: int, tail: str) -> None:
    """A summary cut from the text (automatic_tags reads only the text then) gives the tags
    that searching title, summary and text gives."""
    summary = text[:cut] + tail
    item = make_item("Title", text, summary=summary)
    tags = {t for t in automatic_tags(item, make_source()) if t.startswith("procedure:")}
    expected = _reference_procedures(["Title", summary, text])
    assert tags == {f"procedure:{reference}" for reference in expected}


def test_procedure_re_is_the_public_pattern() -> None:
    match = PROCEDURE_RE.search("see 2024/0035 (cod)")
    assert match is not None and match.groups() == ("2024", "0035", "cod")


def test_tag_item_is_sorted_unique_and_combines_both(rules: TagRules) -> None:
    source = make_source("edri", "EDRi", org=OrgKind.NGO, tags=("csar",))
    item = make_item("Chat control: the Council position", "2022/0155(COD)", language="en")
    tags = tag_item(item, source, rules)
    assert tags == tuple(sorted(set(tags)))
    assert tags.count("csar") == 1  # from the rules and from the source's own tags
    assert {"csar", "org:ngo", "source:edri", "lang:en", "procedure:2022/0155(COD)"} <= set(tags)


def test_tag_item_is_pure_and_deterministic(rules: TagRules) -> None:
    source = make_source("politico", "Politico", org=OrgKind.PRESS)
    item = make_item(
        "Telecom CEOs want EU blocking orders against child sexual abuse material",
        "The Commission should act, the letter says; encryption must stay.",
        categories=("Tech",),
    )
    before_item, before_rules = copy.deepcopy(item), copy.deepcopy(rules)
    first = tag_item(item, source, rules)
    assert all(tag_item(item, source, rules) == first for _ in range(5))
    assert item == before_item
    assert rules.topics == before_rules.topics
    # Tags already on the item play no part: the stage can be re-run on stored items.
    assert tag_item(replace(item, tags=("stale", "dsa")), source, rules) == first


@settings(max_examples=60, deadline=None)
@given(title=st.text(max_size=80), text=st.text(max_size=400))
def test_any_text_gives_sorted_unique_tags(rules: TagRules, title: str, text: str) -> None:
    tags = tag_item(make_item(title, text), make_source(), rules)
    assert list(tags) == sorted(set(tags))
    assert tag_item(make_item(title, text), make_source(), rules) == tags
