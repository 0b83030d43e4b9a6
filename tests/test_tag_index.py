"""The tag index (index.py) and its shortcuts give the answers of running every rule directly.

The reference is `Rule.fires` on the joined fields (`match.haystacks`), which runs each list
of a rule with `AnyOf.search`; the index must agree with it on every rule of the shipped
config, for real items, for the bench farm's items, and for texts built from the patterns'
own words (where near misses are most likely).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.models import Fetched, Item, OrgKind, Source, SourceKind
from aggregator.normalise import normalise_document
from aggregator.parse import parse_document
from aggregator.tag import TagRules, explain, load_tag_rules, parse_tag_rules, topic_tags
from aggregator.tag.factors import required_factors
from aggregator.tag.match import haystacks
from aggregator.tag.phrase import compile_phrase
from bench.farm import feed_count_items, render
from tests.support_tag import make_item, make_source, openmag_items

CONFIG = Path(__file__).resolve().parent.parent / "config" / "tags.toml"


@pytest.fixture(scope="module")
def rules() -> TagRules:
    return load_tag_rules(CONFIG)


def reference(item: Item, source: Source, rules: TagRules) -> tuple[tuple[str, int | None], ...]:
    """(tag, rule line) of every rule that fires, each list searched on its own."""
    texts = haystacks(item, source, rules)
    return tuple(
        (topic.tag, rule.line)
        for topic in rules.rules
        for rule in topic.rules
        if rule.fires(texts[rule.fields])
    )


@pytest.mark.corpus
def test_index_agrees_on_real_items(rules: TagRules, corpus: Path) -> None:
    fired = 0
    for item, source in openmag_items(corpus):
        expected = reference(item, source, rules)
        assert explain(item, source, rules) == expected, item.title
        fired += len(expected)
    assert fired >= 10  # the comparison covers rules that fire, not only silence


def test_index_agrees_on_farm_items(rules: TagRules) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    fired = 0
    for index in range(4):  # RSS and Atom
        source = Source(
            id=f"farm-{index}",
            name="Farm",
            url=f"http://127.0.0.1/feeds/{index}",
            kind=SourceKind.FEED,
            org=OrgKind.PRESS,
        )
        body = render(index, feed_count_items(index), "http://127.0.0.1")
        document = parse_document(source, Fetched(url=source.url, status_code=200, content=body))
        for item in normalise_document(source, document, now=now):
            expected = reference(item, source, rules)
            assert explain(item, source, rules) == expected, item.title
            fired += len(expected)
    assert fired > 50


def _pattern_words() -> list[str]:
    words = re.findall(r"[^\W\d_]{2,}", CONFIG.read_text("utf-8").split("[lists]", 1)[1])
    return sorted(set(words))


WORDS = _pattern_words()
GLUE = [" ", "-", " - ", ", ", "\n", "", " ¦ ", "’", "s ", "e "]


@settings(max_examples=300)
@given(
    title=st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(GLUE)), max_size=8),
    text=st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(GLUE)), max_size=30),
    categories=st.lists(st.sampled_from(WORDS), max_size=3),
)
def test_index_agrees_on_texts_of_pattern_words(
    rules: TagRules,
    title: list[tuple[str, str]],
    text: list[tuple[str, str]],
    categories: list[str],
) -> None:
    item = make_item(
        "".join(w + g for w, g in title),
        "".join(w + g for w, g in text),
        url="https://example.org/" + "-".join(w for w, _ in title[:3]),
        categories=tuple(categories),
    )
    source = make_source()
    assert explain(item, source, rules) == reference(item, source, rules)


def test_a_phrase_that_could_span_two_fields_is_searched_across_them() -> None:
    # "- csar" starts with a separator run: in the joined text it may take the space before
    # the next field, as the reference search does; the index must say the same.
    rules = parse_tag_rules(
        '[tag.edge]\nlabel = "Edge"\n[[tag.edge.rule]]\nany = ["- csar", "end ¦ csar"]\n'
    )
    item = make_item("Chat end", "CSAR talks")
    assert topic_tags(item, make_source(), rules) == tuple(
        tag for tag, _ in reference(item, make_source(), rules)
    )


@pytest.mark.parametrize(
    ("source", "factors"),
    [
        (r"\b(?:abus|violences?) sexuel\w* (?:sur|envers)\b", (" sexuel",)),
        (r"\bsexuell\w* (?:missbrauch\w*|gewalt) von kindern\b", (" von kindern",)),
        (r"\b(?:csam|child abuse) material\b", (" material",)),
        # the parser takes the common "c" out of the alternatives first
        (r"\b(?:csam|child abuse)\b", ("hild abuse", "sam")),
        (r"(?:ab)+c", ("ab",)),
        (r"(?i:chat) control", (" control",)),
        (r"\w+ing\b", ("ing",)),
        (r"x?\d+", None),  # nothing certain
        (r"[ab]c|d", ("c", "d")),
        (r"[ab]|cd", None),  # an alternative without a literal
    ],
)
def test_required_factors(source: str, factors: tuple[str, ...] | None) -> None:
    assert required_factors(source, 0) == factors


def test_no_factors_under_ignorecase() -> None:
    assert required_factors("(?i)chat control", 0) is None
    assert required_factors("chat control", re.IGNORECASE) is None


@settings(max_examples=300)
@given(st.text(alphabet="abcsexul -(?:|)\\bw*+", max_size=12), st.text(max_size=40))
def test_factors_are_in_every_match(source: str, text: str) -> None:
    try:
        expression = re.compile(source)
    except re.error:
        return
    factors = required_factors(source, 0)
    match = expression.search(text)
    if factors is not None and match is not None:
        assert any(f in match.group() for f in factors)


@pytest.mark.parametrize(
    ("phrase", "words"),
    [
        ("chat control", {"chat", "control"}),
        ("client-side scanning", {"scanning"}),  # "clientside" is one word
        ("detection order*", {"detection"}),  # "orders"
        ("l'âge", {"l", "age"}),
        ("jugendschutz.net", {"jugendschutz", "net"}),
        ("CSAM", {"csam"}),
    ],
)
def test_phrase_words(phrase: str, words: set[str]) -> None:
    assert compile_phrase(phrase).words == words
