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
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aggregator.models import Fetched, Item, OrgKind, Source, SourceKind
from aggregator.normalise import normalise_document
from aggregator.parse import parse_document
from aggregator.tag import TagRules, explain, load_tag_rules, parse_tag_rules, topic_tags
from aggregator.tag.factors import (
    literal_prefix,
    required_factors,
    required_words,
    word_starts,
)
from aggregator.tag.haystack import tokens_of
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


@pytest.mark.parametrize(
    ("source", "flags", "words"),
    [
        (r"\bforordning\w* om digitala tjanster\b", 0, [{"om"}, {"digitala"}, {"tjanster"}]),
        (r"\bgroom(?:ing|ed)\b", 0, [{"grooming", "groomed"}]),
        (r"\bsexuali[sz]ed of\b", 0, [{"sexualised", "sexualized"}, {"of"}]),
        (r"\b(?:survivors?|victims?)\b", 0, [{"survivor", "survivors", "victim", "victims"}]),
        (r"\b2020\s*/\s*0259\b", 0, [{"2020"}, {"0259"}]),
        (r"\b(?:verification|control) (?:de )?edad\b", 0, [{"edad"}, {"verification", "control"}]),
        (r"(?-i:\bDSA\b)", re.IGNORECASE, [{"dsa"}]),
        (r"\bchat[\s-]?control\b", 0, [{"chatcontrol", "control"}]),  # with or without the "-"
        (r"\bx\s*y\b", 0, []),  # "xy"
        (r"csam", 0, []),  # "csams", "acsam"
        (r"(?a:\bab\b)", 0, []),  # ASCII \b is not the words' \w
    ],
)
def test_required_words(source: str, flags: int, words: list[set[str]]) -> None:
    found = required_words(source, flags, on_lower=not flags)
    assert sorted(map(sorted, found)) == sorted(map(sorted, words))


@pytest.mark.parametrize(
    ("source", "starts"),
    [
        (r"\bai[\s-]*genererad", {"ai", "aig"}),  # "ai genererad", "aigenererad"
        (r"\be-?privacy", {"e", "epr"}),
        (r"\b(?:el|del|al) cifrado\b", {"el", "del", "al"}),
        (r"\b(?:a|bc)d\b", {"ad", "bcd"}),
        (r"(?<!\w)ab(?!\w)", {"ab"}),
        (r"\bchat[\s-]?control", {"cha"}),
        (r"\bab", None),  # "abx..."
        (r"ab\b", None),  # may start inside a word
        (r"\ba\w", None),
    ],
)
def test_word_starts(source: str, starts: set[str] | None) -> None:
    found = word_starts(source, 0, on_lower=True)
    assert found == (None if starts is None else frozenset(starts))


@pytest.mark.parametrize(
    ("source", "prefix"),
    [
        (r"europaparlament(?<!\w.{15})", "europaparlament"),
        (r"age(?<!\w.{3})[\s-]?verif", "age"),
        (r"ab?c", "a"),
        (r"ab|ac", "a"),  # the parser takes the common "a" out
        (r"\bx", ""),
        (r"(?i)ab", ""),
    ],
)
def test_literal_prefix(source: str, prefix: str) -> None:
    assert literal_prefix(source) == prefix


def test_factors_in_a_case_sensitive_scope() -> None:
    assert required_factors(r"(?-i:\bDSA\b)", re.IGNORECASE) == ("DSA",)
    assert required_factors(r"(?i:ab(?-i:cd))", 0) == ("cd",)


REGEX_PIECES = st.sampled_from(
    [
        *("a", "b", "ab", " ", "-", r"\b", r"\s", r"\s*", r"\s+", r"\w*", r"\w", r"[\s-]"),
        *(r"[\s-]?", "(?:", ")", "|", "?", "*", "+", r"(?!\w)", r"(?<!\w)", "(?i:", "(?-i:"),
        *("A", "B", ".", "x", "é", r"\W", r"[^\w]", "(?:a|b)", "{0,2}", "K", "k", "s", "I"),
        *("[ab]", "[a ]", "[b-]", "[é]"),
    ]
)
TEXT_PIECES = st.sampled_from(["a", "b", "ab", "x", "é", " ", "-", "_", ".", "A", "B", "K", "s"])


@settings(max_examples=500)
@given(
    st.sampled_from(["", r"\b", r"(?<!\w)", r"\b(?:"]),
    st.lists(REGEX_PIECES, min_size=1, max_size=8).map("".join),
    st.booleans(),
    st.lists(st.lists(TEXT_PIECES, max_size=12).map("".join), min_size=1, max_size=8),
)
@example("", r"ab(?!\w)", False, ["xab"])  # a match inside a word: no word starts there
@example(r"\b", r"a\s*b\b", False, ["ab"])  # "ab" is one word
@example(r"\b", r"(?:a|b)(?-i:b)\b", True, ["Ab", "AB"])
def test_word_shortcuts_hold_in_every_match(
    lead: str, body: str, ignorecase: bool, texts: list[str]
) -> None:
    """Every text an expression matches in has a word of each of its `required_words` sets,
    and every match starts a word whose first three letters are among its `word_starts`; the
    text as the index has it: lower-cased, or with its case for an expression with capitals."""
    source = lead + body
    flags = re.IGNORECASE if ignorecase else 0
    try:
        expression = re.compile(source, flags)
    except re.error:
        return
    words = required_words(source, flags, on_lower=not flags)
    starts = word_starts(source, flags, on_lower=not flags)
    for folded in texts:
        lower = folded.lower()
        text = folded if flags else lower
        if expression.search(text) is None:
            continue
        text_words = set(re.findall(r"\w+", lower))
        assert all(not option.isdisjoint(text_words) for option in words)
        for match in expression.finditer(text) if starts is not None else ():
            at = match.start()
            word = re.match(r"\w+", lower[at:])
            assert word is not None and word.group()[:3] in (starts or ())
            assert at == 0 or not re.match(r"\w", lower[at - 1])


@pytest.mark.parametrize(
    ("phrase", "keys"),
    [
        ("teen*", {"tee"}),
        ("cyber-grooming", {"cyb"}),
        ("EU-Kommission", {"eu", "euk"}),  # "EU Kommission", "EU-Kommission", "EUKommission"
        ("J-CAT", {"j", "jca"}),
        ("a-b", {"a", "ab"}),
        ("a-b-c", None),  # "abc..." or "ab" or "a": not certain after two hyphens
        ("ai*", None),  # any word starting with "ai"
        ("chat control", None),  # filed under its word, not a prefix
    ],
)
def test_phrase_keys(phrase: str, keys: set[str] | None) -> None:
    assert compile_phrase(phrase).keys == (None if keys is None else frozenset(keys))


@settings(max_examples=300)
@given(
    st.lists(st.sampled_from(["a", "b", "ab", "abc", "x"]), min_size=1, max_size=3),
    st.lists(st.sampled_from(["-", " ", "--"]), min_size=2, max_size=2),
    st.booleans(),
    st.lists(st.sampled_from(["a", "b", "ab", "abc", "x", " ", "-", "."]), max_size=12),
)
def test_phrase_keys_hold_in_every_match(
    words: list[str], separators: list[str], prefix: bool, text: list[str]
) -> None:
    phrase = "".join(w + s for w, s in zip(words, separators, strict=False)) + words[-1]
    compiled = compile_phrase(phrase + ("*" if prefix else ""))
    lower = "".join(text)
    if compiled.keys is None:
        return
    for match in re.finditer(compiled.source, lower):
        word = re.match(r"\w+", lower[match.start() :])
        assert word is not None and word.group()[:3] in compiled.keys


@given(st.text(max_size=60))
def test_tokens_are_the_words_in_order(text: str) -> None:
    assert tokens_of(text.lower()) == re.findall(r"\w+", text.lower())
