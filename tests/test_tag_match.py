"""Matching semantics of tag patterns and rules, table by table.

Decisions these tables pin down:
- plain phrases match whole words only: "CSAR" does not match "CSARS" (use "CSAR*" for that);
- case and accents are folded on both sides; whitespace runs are one space;
- a space in a phrase matches spaces or hyphens, a hyphen matches a hyphen, a space or nothing;
- "*" only at the end: the last word is a prefix, the first still starts a word;
- ``re:`` patterns are case-insensitive unless they say ``(?-i:...)``.
"""

from __future__ import annotations

import pickle

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aggregator.tag import parse_tag_rules, topic_tags
from aggregator.tag.anyof import compile_any
from aggregator.tag.fold import _strip_accents, fold
from aggregator.tag.haystack import Haystack
from tests.support_tag import make_item, make_source


def matches(pattern: str, text: str) -> bool:
    return compile_any([pattern]).search(Haystack.of(text))


CASES = [
    # whole words
    ("CSAR", "MEPs vote on the CSAR today", True),
    ("CSAR", "CSARS", False),
    ("CSAR", "Csarnok market hall", False),
    ("CSAR", "#CSAR!", True),
    ("CSAR", "(CSAR)", True),
    ("CSAR*", "CSARs", True),
    ("CSAM", "CSAM-Verordnung", True),
    ("order*", "disorder", False),
    # case
    ("chat control", "CHAT CONTROL", True),
    ("Digital Services Act", "digital services act", True),
    # accents and special letters, on either side
    ("contrôle des chats", "le controle des chats", True),
    ("controle des chats", "Le contrôle des chats", True),
    ("Straße", "Strasse", True),
    ("kontrola czatów", "KONTROLA CZATOW", True),
    ("łódź", "Lodz", True),
    ("Verschlüsselung", "Ver\u00adschlüsselung", True),  # soft hyphen from HTML
    ("survivors' rights", "survivors’ rights", True),  # typographic apostrophe
    # whitespace and hyphens
    ("end to end", "end \n\t to   end", True),
    ("chat control", "Chat-Control", True),
    ("chat control", "chat-control-1-0", True),
    ("chat control", "chatcontrol", False),
    ("client-side scanning", "client side scanning", True),
    ("client-side scanning", "clientside scanning", True),
    ("client-side scanning", "Client-Side-Scanning", True),
    ("end-to-end encrypt*", "end‑to‑end encrypted", True),  # non-breaking hyphens
    # prefixes
    ("detection order*", "detection orders", True),
    ("detection order*", "detection", False),
    ("chatkontrol*", "Chatkontrolle", True),
    ("chatkontrol*", "ChatkontrolleSTOPPEN!", True),
    ("cyber-grooming", "Cybergrooming", True),
    # digits and punctuation
    ("2011/93/EU", "Directive 2011/93/EU.", True),
    ("2011/93/EU", "Directive 12011/93/EU", False),
    ("jugendschutz.net", "laut jugendschutz.net", True),
    ("#chatcontrol", "Stop #ChatControl now", True),
    ("#chatcontrol", "Stop chatcontrol now", False),
    ("l'âge", "vérification de l’âge", True),
    # regular expressions
    ("re:\\bcsam?\\s+regulation\\b", "the CSAM Regulation", True),
    ("re:\\bcsam?\\s+regulation\\b", "the CSA  regulation", True),
    ("re:\\bCSAM?\\s+Regulation\\b", "the csa regulation", True),
    ("re:(?-i:\\bDSA\\b)", "the DSA applies", True),
    ("re:(?-i:\\bDSA\\b)", "the dsa applies", False),
    ("re:contrôle", "controle", True),
    ("re:\\bsexuell\\w* missbrauch", "Sexueller Missbrauch", True),
    ("re:\\b(?:survivors?|victims?)\\b.{0,10}\\babuse", "victims of abuse", True),
    ("re:\\b(?:survivors?|victims?)\\b.{0,10}\\babuse", "survivorship bias abuse", False),
]


@pytest.mark.parametrize(
    ("pattern", "text", "expected"), CASES, ids=[f"{p}~{t}" for p, t, _ in CASES]
)
def test_pattern(pattern: str, text: str, expected: bool) -> None:
    assert matches(pattern, text) is expected


RULES = """
[lists]
kids = ["child", "children", "minors"]

[tag.csar]
label = "CSAR"

[[tag.csar.rule]]
fields = ["title", "text"]
any = ["chat control", "CSAR"]
none = ["chat control panel"]

[[tag.csar.rule]]
fields = ["url"]
any = ["chat-control"]

[tag.grooming]
label = "Grooming"

[[tag.grooming.rule]]
any = ["grooming"]
all = ["@kids", "online"]

[tag.from-source]
label = "From the source"

[[tag.from-source.rule]]
fields = ["source"]
any = ["INHOPE"]

[tag.category]
label = "Category"

[[tag.category.rule]]
fields = ["categories"]
any = ["Chatkontrolle"]

[tag.default-fields]
label = "Default fields"

[[tag.default-fields.rule]]
any = ["example"]
"""


def tags(title: str, text: str = "", **kwargs: object) -> tuple[str, ...]:
    source = kwargs.pop("source", make_source())
    item = make_item(title, text, **kwargs)  # type: ignore[arg-type]
    return topic_tags(item, source, parse_tag_rules(RULES))  # type: ignore[arg-type]


RULE_CASES = [
    ("any in title", {"title": "Chat control vote"}, {"csar"}),
    ("any in text", {"title": "Vote", "text": "on the CSAR"}, {"csar"}),
    ("none blocks the rule", {"title": "Chat control", "text": "the chat control panel"}, set()),
    (
        "another rule of the tag still fires",
        {"title": "chat control panel", "url": "https://x.org/chat-control"},
        {"csar"},
    ),
    ("all needs every entry", {"title": "Grooming of children"}, set()),
    ("all, across fields", {"title": "Online grooming", "text": "of children"}, {"grooming"}),
    ("phrases never span two fields", {"title": "Say chat", "text": "control yourself"}, set()),
    ("url only where asked", {"title": "x", "url": "https://x.org/csar"}, set()),
    ("categories", {"title": "x", "categories": ("Chatkontrolle", "EU")}, {"category"}),
    ("default fields are title and text", {"title": "x", "text": "an example"}, {"default-fields"}),
    ("default fields exclude the URL", {"title": "x", "url": "https://example.org/a"}, set()),
]


@pytest.mark.parametrize(
    ("case", "fields", "expected"), RULE_CASES, ids=[c for c, _, _ in RULE_CASES]
)
def test_rule_semantics(case: str, fields: dict[str, object], expected: set[str]) -> None:
    title = str(fields.pop("title"))
    text = str(fields.pop("text", ""))
    assert set(tags(title, text, **fields)) == expected


def test_source_field_reads_id_and_name() -> None:
    by_id = make_source("inhope", "Hotline news")
    by_name = make_source("hotlines-eu", "INHOPE news")
    assert tags("Annual report", source=by_id) == ("from-source",)
    assert tags("Annual report", source=by_name) == ("from-source",)
    assert tags("Annual report", source=make_source("hotlines-eu", "Hotline news")) == ()


def test_topics_keep_file_order_and_labels() -> None:
    rules = parse_tag_rules(RULES)
    assert [t.name for t in rules.topics] == [
        "csar",
        "grooming",
        "from-source",
        "category",
        "default-fields",
    ]
    assert rules.labels["csar"] == "CSAR"
    assert topic_tags(make_item("online grooming of minors, CSAR"), make_source(), rules) == (
        "csar",
        "grooming",
    )


def test_rules_survive_pickling() -> None:
    """The pipeline sends rules to worker processes."""
    rules = parse_tag_rules(RULES)
    copy = pickle.loads(pickle.dumps(rules))
    item = make_item("Online grooming of children; chat control", url="https://x.org/chat-control")
    assert topic_tags(item, make_source(), copy) == topic_tags(item, make_source(), rules)


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöüéèçł", min_size=1, max_size=8)


@given(st.lists(words, min_size=1, max_size=4), st.sampled_from([" ", "-", "\n", "  "]))
def test_a_phrase_matches_itself_in_any_text(parts: list[str], joiner: str) -> None:
    phrase = " ".join(parts)
    text = f"Before, {joiner.join(parts).upper()}. After"
    assert matches(phrase, text)


@given(st.text(max_size=200))
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@given(st.text(alphabet=" ab\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\u00a0\u2028\u3000"))
def test_fold_collapses_all_whitespace(text: str) -> None:
    """Every character str.split() splits on, ASCII or not, at the ends or repeated."""
    whole = _strip_accents(text) if not text.isascii() else text
    assert fold(text) == " ".join(whole.split())


# Accented letters, marks in and out of order, ligatures, compatibility forms, the table's
# letters, typographic punctuation, surrogates, and ASCII between them.
FOLD_ALPHABET = st.one_of(
    st.sampled_from("aeE \t\n-'é\u0301\u0327\u05b8\u05bc\u0591ßẞæŒøłđı‘’ʼ‐‑\u00ad\u00a0…ﬁ①¼µ¨´¦ж"),
    st.characters(),
)


@settings(max_examples=500)
@given(st.text(alphabet=FOLD_ALPHABET, max_size=40))
@example("x \u05bc\u05b8 y")  # NFKD puts these two marks in order: a run is not per letter
@example("Stra\u00dfe, cont\u0302role\u2019s \u2026")
def test_fold_folds_runs_as_the_whole_text(text: str) -> None:
    """`fold` hands each run of non-ASCII characters to NFKD on its own (fold.py): the same
    as folding the whole text at once."""
    whole = _strip_accents(text) if not text.isascii() else text
    assert fold(text) == " ".join(whole.split())
