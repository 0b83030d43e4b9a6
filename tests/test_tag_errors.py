"""A bad tags file is a ConfigError naming the file and the LINE of the mistake.

Each fixture in tests/data/tags/ says what the message must contain (``# expect: ...`` on its
first line) and marks the line the error must point to with ``# <-- error``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aggregator.errors import ConfigError
from aggregator.tag import load_tag_rules, parse_tag_rules

DATA = Path(__file__).parent / "data" / "tags"
BAD = sorted(p for p in DATA.glob("*.toml") if p.name != "good.toml")


def expectation(path: Path) -> tuple[str, int]:
    lines = path.read_text("utf-8").splitlines()
    assert lines[0].startswith("# expect: "), f"{path.name}: first line must say '# expect: ...'"
    marked = [number for number, line in enumerate(lines, start=1) if "# <-- error" in line]
    assert len(marked) == 1, f"{path.name}: mark exactly one line with '# <-- error'"
    return lines[0].removeprefix("# expect: "), marked[0]


def test_there_are_enough_bad_files() -> None:
    assert len(BAD) >= 8


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_error_names_file_and_line(path: Path) -> None:
    message, line = expectation(path)
    with pytest.raises(ConfigError) as caught:
        load_tag_rules(path)
    error = caught.value
    assert error.file == str(path)
    assert error.line == line, str(error)
    assert message in str(error)
    assert str(error).startswith(f"{path}:{line}")


def test_good_fixture_loads() -> None:
    rules = load_tag_rules(DATA / "good.toml")
    assert [t.name for t in rules.topics] == ["alpha", "beta"]
    assert rules.topics[0].description == "Spread over two lines."


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "tags.toml"
    with pytest.raises(ConfigError, match="cannot read") as caught:
        load_tag_rules(path)
    assert caught.value.file == str(path)


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "tags.toml"
    path.write_bytes(b'[tag.dsa]\nlabel = "Digital Services Act"\ndescription = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8") as caught:
        load_tag_rules(path)
    assert caught.value.line == 3


def test_errors_wrap_their_cause() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_tag_rules('[tag.x]\nlabel = "X"\n[[tag.x.rule]]\nany = ["re:("]\n', "inline.toml")
    assert caught.value.__cause__ is not None
    assert caught.value.line == 4
    assert caught.value.key == "tag.x.rule[0].any: 're:('"


def test_dotted_key_layout_still_gets_a_line() -> None:
    """Without [tag.x] headers the loader falls back to the line that names the tag."""
    text = 'tag.x.label = "X"\ntag.x.rule = [{ any = ["ok"] }, { any = ["re:["] }]\n'
    with pytest.raises(ConfigError) as caught:
        parse_tag_rules(text, "dotted.toml")
    assert caught.value.line in (1, 2)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('any = ["*"]', "empty phrase"),
        ('any = ["-*"]', "'*' must follow a letter or digit"),
        ('any = ["re:"]', "empty regular expression"),
        ('any = ["re:a(?i)b"]', "global flags"),
        # Said of what the user wrote, not of the group around it ("at position 3").
        ("any = ['re:(?i)dma']", "global flags (?i) cannot be used"),
        # A repetition inside a repetition held a refresh for good on one text.
        ("any = ['re:(a+)+$']", "repeats a repetition with nothing required"),
        ("any = ['re:(?:\\w+\\s?)+ markets act']", "repeats a repetition with nothing required"),
        # "\b" in double quotes is TOML's backspace: the rule could never match.
        ('any = ["re:\\bDMA\\b"]', "control character U+0008"),
        ('any = "chat control"', "'any' is not a list"),
        ('fields = []\nany = ["x"]', "bad 'fields'"),
        ('fields = "title"\nany = ["x"]', "bad 'fields'"),
    ],
)
def test_more_pattern_mistakes(body: str, message: str) -> None:
    text = f'[tag.x]\nlabel = "X"\n\n[[tag.x.rule]]\n{body}\n'
    with pytest.raises(ConfigError, match=re.escape(message)) as e:
        parse_tag_rules(text, "inline.toml")
    assert e.value.line is not None and e.value.line >= 4


def test_a_tags_file_with_a_byte_order_mark_is_read_and_one_in_utf16_named(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tags.toml"
    text = '[tag.csar]\nlabel = "CSA Regulation"\n[[tag.csar.rule]]\nany = ["chat control"]\n'
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert [topic.name for topic in load_tag_rules(path).topics] == ["csar"]
    path.write_bytes(text.encode("utf-16"))
    with pytest.raises(ConfigError, match="saved as UTF-16") as caught:
        load_tag_rules(path)
    assert caught.value.line == 1


@pytest.mark.parametrize(
    ("label", "problem"),
    [
        ("5", "label is an integer, not a string"),
        ("[]", "label is an array, not a string"),
        ('""', "missing or empty label"),
    ],
)
def test_a_label_that_is_no_string_says_what_it_is(label: str, problem: str) -> None:
    # `label = 5` was "missing or empty label": it is there, and not a string.
    text = f'[tag.x]\nlabel = {label}\n[[tag.x.rule]]\nany = ["ok"]\n'
    with pytest.raises(ConfigError) as caught:
        parse_tag_rules(text, "inline.toml")
    assert caught.value.problem == problem
    assert caught.value.key == "tag.x.label"


@pytest.mark.parametrize(
    "pattern",
    [
        r"\w+(?:\s\w+)*",  # each turn a space and a word: one way to split the text
        r"(?:\w+\s){1,3}markets",  # bounded
        r"victims?\b.{0,40}\bcsam",
        r"(?>a+)+b",  # atomic: never backtracks into
    ],
)
def test_repetitions_that_split_the_text_one_way_are_accepted(pattern: str) -> None:
    text = f"[tag.x]\nlabel = \"X\"\n\n[[tag.x.rule]]\nany = ['re:{pattern}']\n"
    assert [topic.name for topic in parse_tag_rules(text, "inline.toml").topics] == ["x"]


def test_two_topics_under_one_label_are_an_error_naming_both() -> None:
    # Two digest sections headed alike, which no reader could tell apart.
    text = (
        '[tag.dma]\nlabel = "Digital Markets Act"\n[[tag.dma.rule]]\nany = ["dma"]\n\n'
        '[tag.gatekeepers]\nlabel = "digital markets act"\n[[tag.gatekeepers.rule]]\n'
        'any = ["gatekeeper"]\n'
    )
    with pytest.raises(ConfigError, match="also the label of tag 'dma'") as caught:
        parse_tag_rules(text, "inline.toml")
    assert caught.value.line == 7


def test_an_element_of_an_array_spanning_crlf_lines_names_its_own_line() -> None:
    text = '[tag.x]\nlabel = "X"\n[[tag.x.rule]]\nfields = [\n  "title",\n  "body",\n]\n'
    with pytest.raises(ConfigError) as caught:
        parse_tag_rules(text.replace("\n", "\r\n") + 'any = ["x"]\r\n', "crlf.toml")
    assert caught.value.line == 6, str(caught.value)


def test_a_rule_as_an_inline_table_names_the_line_of_its_pattern() -> None:
    text = (
        'tag.x.label = "X"\ntag.x.rule = [\n'
        '  { any = ["ok"] },\n'
        "  { any = [\n"
        '    "fine",\n'
        "    3,\n"
        "  ] },\n"
        "]\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_tag_rules(text, "inline.toml")
    assert caught.value.line == 6, str(caught.value)
    assert caught.value.key == "tag.x.rule[1].any: 3"
