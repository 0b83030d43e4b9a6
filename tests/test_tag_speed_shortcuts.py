"""The shortcuts that make tagging cheap never change an answer.

What each one claims, checked against the engine on generated expressions and texts:
`word_conditions` (sets of words or word prefixes every matching text has, the index's filter
for regular expressions), `match_leads` (what every match starts with), `max_width` and
`required_factor_sets` (how far a match reaches, and what it holds: a match is tried from a
lead only where one follows within reach), `Regex.search` with all of them; reading a field
from its parts (a summary cut from the body is not looked up again); and the word memo and the
source tags, which are remembered across items. test_tag_speed_equivalence.py checks the
tags themselves, item for item.
"""

from __future__ import annotations

import pickle
import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import aggregator.tag.index
from aggregator.models import OrgKind
from aggregator.tag import load_tag_rules, tag_item
from aggregator.tag.auto import automatic_tags
from aggregator.tag.factors import (
    PREFIX_MARK,
    match_leads,
    max_width,
    required_factor_sets,
    word_conditions,
)
from aggregator.tag.fold import fold
from aggregator.tag.haystack import PART_SEPARATOR, tokens_of, word_bytes_of
from aggregator.tag.index import _read
from aggregator.tag.regex import Regex
from tests.support_tag import make_item, make_source

CONFIG = Path(__file__).resolve().parent.parent / "config" / "tags.toml"

# Expressions built as the rules' are: literals, classes, boundaries and lookarounds, in
# sequences, alternatives, optional and repeated groups, scopes with and without IGNORECASE.
ATOMS = st.sampled_from(
    [
        *("a", "b", "ab", "ba", " ", "-", "x", "é", "K", "s", "I", ".", r"\.", "1"),
        *(r"\s", r"\w", r"\W", r"[^\w]", "[ab]", "[a ]", "[b-]", r"[\s-]", r"\w+", r"\s+"),
        *(r"\b", r"(?!\w)", r"(?<!\w)", r"(?<!a )", r"(?! b)", r"(?=a)", r"(?<=b)"),
    ]
)
EXPRESSIONS = st.recursive(
    ATOMS,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=4).map("".join),
        st.lists(inner, min_size=2, max_size=3).map(lambda ways: f"(?:{'|'.join(ways)})"),
        st.tuples(inner, st.sampled_from(["?", "*", "+", "{0,2}", "{1,3}", "*+"])).map(
            lambda group: f"(?:{group[0]}){group[1]}"
        ),
        inner.map(lambda body: f"(?i:{body})"),
        inner.map(lambda body: f"(?-i:{body})"),
    ),
    max_leaves=10,
)
LEADS = st.sampled_from(["", r"\b", r"(?<!\w)", r"\b(?<!x )"])
TEXT_PIECES = st.sampled_from(
    ["a", "b", "ab", "x", "é", " ", "-", "_", ".", "A", "B", "K", "s", "ba", "aab", "\n", "1"]
)
TEXTS = st.lists(st.lists(TEXT_PIECES, max_size=12).map("".join), min_size=1, max_size=6)


def _compiled(source: str, flags: int) -> re.Pattern[str] | None:
    try:
        return re.compile(source, flags)
    except re.error:
        return None


def _texts(data: st.DataObject, expression: re.Pattern[str], texts: list[str]) -> list[str]:
    """`texts`, and one made to match `expression` (Hypothesis reads it), where it can."""
    try:
        made = data.draw(st.from_regex(expression))
    except Exception:  # an expression from_regex does not take: the random texts only
        return texts
    return [made, made.lower(), *texts]


def _meets(condition: str, words: set[str]) -> bool:
    if condition.endswith(PREFIX_MARK):
        return any(word.startswith(condition[: -len(PREFIX_MARK)]) for word in words)
    return condition in words


@settings(max_examples=500)
@given(LEADS, EXPRESSIONS, st.booleans(), TEXTS, st.data())
@example(r"\b", r"ab[\s-]*b\w*", False, ["ab b", "abbx", "ab-bb"], None)  # "abb*"; "ab", "b*"
@example(r"\b(?<!x )", r"ab\b", False, ["x ab"], None)  # the lookbehind hides no boundary
@example(r"\b", r"(?:a|ab)[\s-]*b\b", False, ["ab", "a b", "abb"], None)
@example(r"\b", r"ab(?=a)", False, ["aba"], None)  # a lookahead is no boundary
@example("", r"(?<=b)ab\b", False, ["bab"], None)  # nor a lookbehind
def test_word_conditions_hold_in_every_match(
    lead: str, body: str, ignorecase: bool, texts: list[str], data: st.DataObject | None
) -> None:
    """Every text an expression matches in has, among its words, one meeting a condition of
    each set: the text as the index reads it (lower-cased, or with its case for an expression
    with capitals)."""
    source = lead + body
    flags = re.IGNORECASE if ignorecase else 0
    expression = _compiled(source, flags)
    if expression is None:
        return
    conditions = word_conditions(source, flags, on_lower=not flags)
    for folded in _texts(data, expression, texts) if data else texts:
        lower = folded.lower()
        if expression.search(folded if flags else lower) is None:
            continue
        words = set(tokens_of(lower))
        for option in conditions:
            assert any(_meets(condition, words) for condition in option), (option, folded)


@settings(max_examples=500)
@given(LEADS, EXPRESSIONS, st.booleans(), TEXTS, st.data())
@example(r"\b", r"(?:ab|b)a.{0,3}b", False, ["ab a b", "ba  b"], None)
@example(r"\b", r"ab.{0,3}ba", False, ["abxxxba", "ab ba"], None)  # as long as it can be
@example("", r"\sa", False, [" a"], None)  # a class first: no lead
def test_leads_width_and_factors_hold_in_every_match(
    lead: str, body: str, ignorecase: bool, texts: list[str], data: st.DataObject | None
) -> None:
    """Every match starts with a lead, spans no more than the width, and holds a string of
    each factor set; and `Regex.search`, which goes by them, says what the engine says."""
    source = lead + body
    flags = re.IGNORECASE if ignorecase else 0
    expression = _compiled(source, flags)
    if expression is None:
        return
    leads = match_leads(source, flags)
    width = max_width(source, flags)
    factor_sets = required_factor_sets(source, flags)
    regex = Regex(expression=expression, lower=not flags)
    for text in _texts(data, expression, texts) if data else texts:
        for match in expression.finditer(text):
            assert leads is None or match.group().startswith(leads), (leads, match)
            assert width is None or len(match.group()) <= width
            for option in factor_sets:
                assert any(factor in match.group() for factor in option), (option, match)
        assert regex.search(text) == (expression.search(text) is not None), text


def _config_regexes() -> list[Regex]:
    rules = load_tag_rules(CONFIG)
    found = {
        regex.expression.pattern: regex
        for topic in rules.rules
        for rule in topic.rules
        for patterns in (rule.any, rule.none, *rule.all)
        if patterns is not None
        for regex in patterns.regexes
    }
    return list(found.values())


CONFIG_REGEXES = _config_regexes()
WORDS = sorted(
    set(re.findall(r"[^\W\d_]{2,}", CONFIG.read_text("utf-8").split("[lists]", 1)[1].lower()))
)


@settings(max_examples=200)
@given(st.lists(st.sampled_from([*WORDS, " ", "-", ". ", "1", "2022/0155", "e.u."]), max_size=60))
def test_the_rules_regexes_search_as_the_engine(words: list[str]) -> None:
    """With their shortcuts read from the rules' own expressions, on texts of the rules' own
    words, where near misses are likeliest."""
    text = " ".join(words)
    for regex in CONFIG_REGEXES:
        searched = text if regex.lower else text.upper()
        assert regex.search(searched) == (regex.expression.search(searched) is not None)


PARTS = st.lists(
    st.text(alphabet="ab c-.…’\u00a0\t\nÉéßŁ\u0301жΣσ|¦_1", max_size=30), min_size=0, max_size=3
)


@settings(max_examples=500)
@given(PARTS, st.integers(min_value=0, max_value=30), st.sampled_from(["", "…", "...", " …"]))
@example(["Ab cd …", "Ab cdef gh"], 0, "")  # a summary cut from the body
@example(["  ", "x"], 0, "")  # a part that folds to nothing
@example(["ΑΣ", "Σ"], 0, "")  # final sigma either side of the separator
def test_a_field_is_read_from_its_parts_as_from_its_text(
    parts: list[str], cut: int, ellipsis: str
) -> None:
    """`_read` folds the parts and joins them, and looks up a summary cut from the body by
    its last word only: the same text, and the same words, as the joined text has."""
    if parts and cut:  # make the first part the start of the next one, cut short
        parts = [parts[-1][:cut] + ellipsis, *parts[1:]] if len(parts) > 1 else parts
    folded, lower, words = _read(parts)
    joined = fold(PART_SEPARATOR.join(parts))
    assert folded == joined
    assert lower == joined.lower()
    assert {word.decode("utf-8", "surrogatepass") for word in words} == set(tokens_of(lower))


@given(st.text(max_size=60))
def test_word_bytes_are_the_words(text: str) -> None:
    lower = text.lower()
    assert [word.decode("utf-8", "surrogatepass") for word in word_bytes_of(lower)] == tokens_of(
        lower
    )


ITEMS = [
    make_item("Chat control: Council adopts its position on the CSA Regulation"),
    make_item("Online grooming of children", "Sextortion cases reported to hotlines"),
    make_item("Weather", "Sunny spells and showers"),
    make_item("Europol", "Europol arrested suspects of child sexual abuse", summary="Europol…"),
]


def test_the_word_memo_is_bounded_and_pickled_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = load_tag_rules(CONFIG)
    expected = [tag_item(item, make_source(), rules) for item in ITEMS]
    memo = rules.index.words.memo
    assert memo  # the words met are remembered
    copy = pickle.loads(pickle.dumps(rules))
    assert not copy.index.words.memo  # but not sent to workers
    assert [tag_item(item, make_source(), copy) for item in ITEMS] == expected
    # A memo that fills up starts again, and answers as before.
    monkeypatch.setattr(aggregator.tag.index, "_MEMO_WORDS", 3)
    memo.clear()
    assert [tag_item(item, make_source(), rules) for item in ITEMS] == expected
    assert len(memo) <= 3


def test_source_tags_are_each_sources_own() -> None:
    """Remembered per source value: another source (even one equal to it, or one with the same
    id) gets its own."""
    item = make_item("Weather")
    press = make_source("same")
    ngo = replace(press, org=OrgKind.NGO, country="BE")
    assert "org:press" in automatic_tags(item, press)
    assert {"org:ngo", "country:be"} <= set(automatic_tags(item, ngo))
    assert "org:press" in automatic_tags(item, replace(press))
    assert automatic_tags(item, press) == automatic_tags(item, make_source("same"))
