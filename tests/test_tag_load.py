"""Loading the tag rules: each pattern compiled once, and what only tagging needs (the index,
the shortcuts of ``re:`` patterns) done on first use, once, and carried through pickling.

A refresh where every source answers "not modified" loads the rules and tags nothing, so what
loading does is a fixed cost of every refresh. Mistakes are still found at load time
(test_tag_errors.py); the answers stay those of the reference (test_tag_index.py).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import aggregator.tag.anyof
import aggregator.tag.regex
from aggregator.tag import TagRules, explain, load_tag_rules, topic_tags
from aggregator.tag.factors import literal_prefix
from aggregator.tag.index import TagIndex
from aggregator.tag.phrase import compile_phrase
from aggregator.tag.regex import Regex, Shortcuts
from tests.support_tag import make_item, make_source

CONFIG = Path(__file__).resolve().parent.parent / "config" / "tags.toml"
ITEMS = [
    make_item("Chat control: Council adopts its position on the CSA Regulation"),
    make_item("Online grooming of children", "Sextortion cases reported to hotlines"),
    make_item("Weather", "Sunny spells and showers"),
]


def counted(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[object]:
    """Replace `owner.name` by a wrapper that records each call's first argument."""
    calls: list[object] = []
    original: Callable[..., object] = getattr(owner, name)

    def wrapper(*args: object, **kwargs: object) -> object:
        calls.append(args[0] if args else None)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return calls


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    calls: list[object] = []
    original = TagIndex.build.__func__  # type: ignore[attr-defined]

    def build(cls: type[TagIndex], topics: object) -> TagIndex:
        calls.append(topics)
        return original(cls, topics)  # type: ignore[no-any-return]

    monkeypatch.setattr(TagIndex, "build", classmethod(build))
    yield calls


def tag_all(rules: TagRules) -> list[tuple[str, ...]]:
    return [topic_tags(item, make_source(), rules) for item in ITEMS]


def regexes(rules: TagRules) -> list[Regex]:
    return [
        regex
        for topic in rules.rules
        for rule in topic.rules
        for patterns in (rule.any, rule.none, *rule.all)
        if patterns is not None
        for regex in patterns.regexes
    ]


def test_the_index_is_built_on_first_use_once(builds: list[object]) -> None:
    rules = load_tag_rules(CONFIG)
    assert builds == []  # loading does not index
    first = tag_all(rules)
    assert len(builds) == 1
    assert tag_all(rules) == first
    explain(ITEMS[0], make_source(), rules)
    assert rules.index is rules.index
    assert len(builds) == 1  # not again per item


def test_regex_shortcuts_are_read_on_first_use_once(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = counted(monkeypatch, aggregator.tag.regex, "_read_shortcuts")
    rules = load_tag_rules(CONFIG)
    assert reads == []
    tag_all(rules)  # the index reads those of every expression
    distinct = {(r.expression.pattern, r.lower) for r in regexes(rules)}
    assert len(reads) == len(distinct) > 50
    tag_all(rules)
    assert all(isinstance(r.read, Shortcuts) for r in regexes(rules))
    assert len(reads) == len(distinct)


def test_each_pattern_is_compiled_once_per_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """A list such as @child-abuse is expanded into many rules: its patterns compile once."""
    phrases = counted(monkeypatch, aggregator.tag.anyof, "compile_phrase")
    expressions = counted(monkeypatch, aggregator.tag.anyof, "compile_regex")
    rules = load_tag_rules(CONFIG)
    assert len(phrases) == len(set(phrases)) > 300
    assert len(expressions) == len(set(expressions)) > 50
    # Rules that name the same pattern share one compiled value.
    by_source: dict[str, Regex] = {}
    for regex in regexes(rules):
        assert by_source.setdefault(regex.expression.pattern, regex) is regex


@pytest.mark.parametrize("built", [False, True], ids=["fresh", "after-tagging"])
def test_pickling_carries_the_index(builds: list[object], built: bool) -> None:
    """Worker processes receive the rules pickled: indexed once, in the sender, never again."""
    rules = load_tag_rules(CONFIG)
    if built:
        expected = tag_all(rules)
    copy = pickle.loads(pickle.dumps(rules))
    assert len(builds) == 1  # pickling indexed the rules (or found them indexed)
    assert copy == rules
    assert all(isinstance(r.read, Shortcuts) for r in regexes(copy))
    if not built:
        expected = tag_all(rules)
    assert tag_all(copy) == expected
    assert len(builds) == 1


def test_empty_rules_index_and_pickle() -> None:
    rules = TagRules.empty()
    assert tag_all(rules) == [(), (), ()]
    assert tag_all(pickle.loads(pickle.dumps(TagRules.empty()))) == [(), (), ()]


@pytest.mark.parametrize(
    "phrase",
    ["chat control", "Europaparlament", "age-verification", "#CSAR", "l'âge", "ai*", "e-privacy"],
)
def test_a_phrase_knows_its_literal_prefix(phrase: str) -> None:
    compiled = compile_phrase(phrase)
    assert compiled.lead == literal_prefix(compiled.source) != ""


def test_a_phrase_starting_with_a_separator_has_no_literal_prefix() -> None:
    compiled = compile_phrase("-x")
    assert compiled.lead == literal_prefix(compiled.source) == ""


def test_every_shipped_phrase_knows_its_literal_prefix() -> None:
    """`Phrase.lead` is what the parse tree says (factors.literal_prefix), without parsing."""
    rules = load_tag_rules(CONFIG)
    checked = 0
    for topic in rules.rules:
        for rule in topic.rules:
            for patterns in (rule.any, rule.none, *rule.all):
                if patterns is None:
                    continue
                for source, lead in patterns.leads.items():
                    assert lead == literal_prefix(source), source
                    checked += 1
    assert checked > 300
