"""Load and validate config/tags.toml into compiled `TagRules`.

Every mistake is a `ConfigError` naming the file and the line (found by `TomlLines`, since
`tomllib` keeps no positions), what is wrong and what was expected. Every pattern is checked
and compiled here, once however many rules name it. What only tagging needs (the index, the
shortcuts of ``re:`` patterns) is built on first use, once, and travels with the rules when
they are pickled; a refresh where no source changed tags nothing and builds none of it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import tomli  # tomllib's own code, compiled: ~4x faster on a 1,000-source file

from aggregator.errors import ConfigError
from aggregator.settings.tomlfile import Loc, decode_config, toml_syntax_error
from aggregator.tag.anyof import AnyOf, PatternCache, compile_any
from aggregator.tag.haystack import Haystack
from aggregator.tag.index import TagIndex
from aggregator.tag.locate import TomlLines
from aggregator.tag.patterns import PatternError


class Field(StrEnum):
    """What a rule may look at. `source` is the source id and name together."""

    TITLE = "title"
    TEXT = "text"  # the body, and the summary where the body does not contain it
    URL = "url"  # canonical URL and original URL, percent-decoded
    SOURCE = "source"
    CATEGORIES = "categories"  # the feed's own categories


DEFAULT_FIELDS = (Field.TITLE, Field.TEXT)
_FIELD_NAMES = frozenset(f.value for f in Field)
TAG_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TAG_KEYS = ("label", "description", "rule")
_RULE_KEYS = ("fields", "any", "all", "none")
_LIST_KEYS = ("any", "all", "none")
LIST_PREFIX = "@"  # "@child-abuse" in a rule stands for the patterns of [lists] child-abuse


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicTag:
    """A topic as the digest shows it: groups in file order, headed by `label`."""

    name: str
    label: str
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """Fires when `any` (if given) matches, every `all` matches and `none` does not."""

    fields: tuple[Field, ...]
    any: AnyOf | None
    all: tuple[AnyOf, ...]
    none: AnyOf | None
    line: int | None = None  # of its [[tag.x.rule]] header, to explain a tag

    def fires(self, text: Haystack) -> bool:
        """`text`: the rule's fields joined (see `match.haystacks`)."""
        if self.any is not None and not self.any.search(text):
            return False
        if not all(pattern.search(text) for pattern in self.all):
            return False
        return self.none is None or not self.none.search(text)


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicRules:
    tag: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TagRules:
    """Compiled tag rules. Picklable, so worker processes can receive them."""

    topics: tuple[TopicTag, ...] = ()
    rules: tuple[TopicRules, ...] = ()
    fields: frozenset[Field] = field(default_factory=frozenset)  # what any rule reads
    field_sets: frozenset[tuple[Field, ...]] = field(default_factory=frozenset)  # per rule
    path: str | None = None
    # Every pattern of `rules` indexed once (index.py), and the fields of its `field_names` in
    # that order: what tagging an item runs and reads. Built on first use (`index`), not at
    # load time: a refresh where every source answers "not modified" tags nothing.
    _indexed: tuple[TagIndex, tuple[Field, ...]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def index(self) -> TagIndex:
        indexed = self._indexed
        return (indexed if indexed is not None else self._build())[0]

    @property
    def index_fields(self) -> tuple[Field, ...]:
        indexed = self._indexed
        return (indexed if indexed is not None else self._build())[1]

    def _build(self) -> tuple[TagIndex, tuple[Field, ...]]:
        """Once per value (two threads racing both build it, alike, and one copy is kept)."""
        index = TagIndex.build(self.rules)
        indexed = (index, tuple(map(Field, index.field_names)))
        object.__setattr__(self, "_indexed", indexed)  # a cache: the value stays what it was
        return indexed

    def __getstate__(self) -> list[object]:
        """Indexed before pickling: worker processes receive the index ready, built once here
        rather than once in each of them."""
        if self._indexed is None:
            self._build()
        return [getattr(self, f.name) for f in dataclasses.fields(self)]

    def __setstate__(self, state: list[object]) -> None:
        for f, value in zip(dataclasses.fields(self), state, strict=True):
            object.__setattr__(self, f.name, value)

    @classmethod
    def empty(cls) -> TagRules:
        """No topic tags: items still get their automatic tags."""
        return cls()

    @property
    def labels(self) -> dict[str, str]:
        return {topic.name: topic.label for topic in self.topics}


def load_tag_rules(path: Path) -> TagRules:
    """Read, validate and compile a tags file. Raises ConfigError naming file and line."""
    file = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(file, f"cannot read: {exc.strerror or exc}") from exc
    return parse_tag_rules(decode_tag_rules(data, file), file)


def decode_tag_rules(data: bytes, file: str = "<tags>") -> str:
    """The text of a tags file's bytes, read as the other config files are (a byte-order mark
    accepted; another encoding named with its line)."""
    return decode_config(data, file)


def parse_tag_rules(text: str, file: str = "<tags>") -> TagRules:
    """Validate and compile the TOML text of a tags file (`file` names it in errors)."""
    try:
        document = tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        raise toml_syntax_error(exc, text, file) from exc
    return _Loader(file, TomlLines(text)).load(document)


class _Loader:
    def __init__(self, file: str, lines: TomlLines) -> None:
        self.file = file
        self.lines = lines
        self.lists: dict[str, list[str]] = {}
        self.cache = PatternCache()  # a list named by many rules is compiled once

    def error(
        self, message: str, *, line: int | None, key: str, expected: str | None = None
    ) -> ConfigError:
        return ConfigError(self.file, message, line=line, key=key, expected=expected)

    def load(self, document: Mapping[str, Any]) -> TagRules:
        for key in document:
            if key not in ("tag", "lists"):
                raise self.error(
                    "unknown key",
                    line=self.lines.table(key) or self.lines.key(None, key),
                    key=key,
                    expected="[lists] and [tag.<name>] tables",
                )
        self.lists = self.load_lists(document.get("lists", {}))
        tags = document.get("tag", {})
        if not isinstance(tags, dict):
            raise self.error(
                "'tag' is not a table",
                line=self.lines.key(None, "tag"),
                key="tag",
                expected="[tag.<name>] tables",
            )
        topics: list[TopicTag] = []
        compiled: list[TopicRules] = []
        for name, body in tags.items():
            topic, rules = self.load_tag(name, body)
            self.label_unique(topic, topics)
            topics.append(topic)
            compiled.append(rules)
        field_sets = frozenset(rule.fields for topic in compiled for rule in topic.rules)
        return TagRules(
            topics=tuple(topics),
            rules=tuple(compiled),
            fields=frozenset(f for fields in field_sets for f in fields),
            field_sets=field_sets,
            path=self.file,
        )

    def load_lists(self, lists: object) -> dict[str, list[str]]:
        """Named pattern lists, referred to as "@name" from rules; checked here, once."""
        table = self.lines.table("lists")
        if not isinstance(lists, dict):
            raise self.error(
                "'lists' is not a table", line=table, key="lists", expected="[lists] name = [...]"
            )
        checked: dict[str, list[str]] = {}
        for name, patterns in lists.items():
            where = f"lists.{name}"
            at = self.lines.key(table, name)
            if not TAG_NAME.match(name):
                raise self.error(
                    "bad list name", line=at, key=where, expected="e.g. 'institutions'"
                )
            if not isinstance(patterns, list) or not patterns:
                raise self.error(
                    "not a non-empty list", line=at, key=where, expected="a list of patterns"
                )
            for index, pattern in enumerate(patterns):
                if isinstance(pattern, str) and pattern.startswith(LIST_PREFIX):
                    raise self.error(
                        "a list cannot refer to another list",
                        line=self.lines.element("lists", name, index)
                        or self.lines.value(table, name, pattern),
                        key=f"{where}: {pattern!r}",
                        expected="patterns only",
                    )
            try:
                compile_any(patterns, self.cache)
            except PatternError as exc:
                raise self.error(
                    exc.message,
                    line=self._pattern_line(table, name, exc.pattern, ("lists", name), patterns),
                    key=f"{where}: {exc.pattern!r}",
                    expected=exc.expected,
                ) from exc
            checked[name] = patterns
        return checked

    def _pattern_line(
        self, table: int | None, key: str, pattern: object, array: Loc, patterns: list[object]
    ) -> int | None:
        """The line of `pattern` in `patterns`, the array at `array` (the same pattern twice
        fails at its first)."""
        index = next(
            (i for i, p in enumerate(patterns) if type(p) is type(pattern) and p == pattern), None
        )
        found = None if index is None else self.lines.element(*array, index)
        if found is not None:
            return found
        if isinstance(pattern, str):
            return self.lines.value(table, key, pattern)
        return self.lines.key(table, key)

    def expand(
        self, patterns: list[object], line: int | None, key: str, where: str
    ) -> list[object]:
        """Replace each "@name" by the patterns of that list."""
        expanded: list[object] = []
        for pattern in patterns:
            if isinstance(pattern, str) and pattern.startswith(LIST_PREFIX):
                expanded.extend(self.named(pattern, line, key, where))
            else:
                expanded.append(pattern)
        return expanded

    def named(self, reference: str, line: int | None, key: str, where: str) -> list[str]:
        name = reference[len(LIST_PREFIX) :]
        if name not in self.lists:
            known = ", ".join(LIST_PREFIX + n for n in self.lists) or "none defined"
            raise self.error(
                f"unknown list {reference!r}",
                line=self.lines.value(line, key, reference),
                key=f"{where}.{key}",
                expected=f"a list defined under [lists] ({known})",
            )
        return self.lists[name]

    def load_tag(self, name: str, body: object) -> tuple[TopicTag, TopicRules]:
        where = f"tag.{name}"
        line = self.lines.table("tag", name)
        if not TAG_NAME.match(name):
            raise self.error(
                "bad tag name",
                line=line,
                key=where,
                expected="lower-case letters, digits and single hyphens, e.g. 'data-protection'",
            )
        if not isinstance(body, dict):
            raise self.error("not a table", line=line, key=where, expected=f"[{where}]")
        for key in body:
            if key not in _TAG_KEYS:
                raise self.error(
                    "unknown key",
                    line=self.lines.key(line, key),
                    key=f"{where}.{key}",
                    expected="one of " + ", ".join(_TAG_KEYS),
                )
        label = body.get("label")
        if not isinstance(label, str) or not label.strip():
            problem = (
                "missing or empty label"
                if label is None or isinstance(label, str)
                else f"label is {_toml_type(label)}, not a string"
            )
            raise self.error(
                problem,
                line=self.lines.key(line, "label"),
                key=f"{where}.label",
                expected="a non-empty string",
            )
        description = body.get("description", "")
        if not isinstance(description, str):
            raise self.error(
                "description is not a string",
                line=self.lines.key(line, "description"),
                key=f"{where}.description",
                expected="a string",
            )
        raw_rules = body.get("rule")
        if (
            not isinstance(raw_rules, list)
            or not raw_rules
            or not all(isinstance(r, dict) for r in raw_rules)
        ):
            raise self.error(
                "no rules",
                line=self.lines.key(line, "rule") if "rule" in body else line,
                key=f"{where}.rule",
                expected=f"at least one [[{where}.rule]] table",
            )
        rules = tuple(self.load_rule(name, index, raw) for index, raw in enumerate(raw_rules))
        topic = TopicTag(name=name, label=label.strip(), description=" ".join(description.split()))
        return topic, TopicRules(tag=name, rules=rules)

    def label_unique(self, topic: TopicTag, before: Sequence[TopicTag]) -> None:
        """Two topics under one label made two digest sections headed alike, which no reader
        could tell apart."""
        same = next((t for t in before if t.label.casefold() == topic.label.casefold()), None)
        if same is not None:
            raise self.error(
                f"label {topic.label!r} is also the label of tag {same.name!r}",
                line=self.lines.key(self.lines.table("tag", topic.name), "label"),
                key=f"tag.{topic.name}.label",
                expected="a label of its own: the digest heads a section with it",
            )

    def load_rule(self, tag: str, index: int, raw: Mapping[str, object]) -> Rule:
        # Counted from 0, as every other config message counts (`source[0]`, `recipients[0]`).
        where = f"tag.{tag}.rule[{index}]"
        line = self.lines.table("tag", tag, "rule", occurrence=index)
        for key in raw:
            if key not in _RULE_KEYS:
                raise self.error(
                    "unknown key",
                    line=self.lines.key(line, key),
                    key=f"{where}.{key}",
                    expected="one of " + ", ".join(_RULE_KEYS),
                )
        fields = self.load_fields(raw.get("fields"), where, line, ("tag", tag, "rule", index))
        lists: dict[str, list[object]] = {}
        for key in _LIST_KEYS:
            if key not in raw:
                continue
            value = raw[key]
            if not isinstance(value, list):
                raise self.error(
                    f"'{key}' is not a list",
                    line=self.lines.key(line, key),
                    key=f"{where}.{key}",
                    expected='a list of patterns, e.g. ["data retention"]',
                )
            if not value:
                raise self.error(
                    f"empty '{key}' list",
                    line=self.lines.key(line, key),
                    key=f"{where}.{key}",
                    expected="at least one pattern, or no such key",
                )
            lists[key] = value
        if "any" not in lists and "all" not in lists:
            raise self.error(
                "rule has nothing to match",
                line=line,
                key=where,
                expected="an 'any' or 'all' list ('none' alone would tag every item)",
            )
        try:
            any_of = self.compile_list(lists, "any", line, where)
            all_of = tuple(self.compile_all(p, line, where) for p in lists.get("all", ()))
            none_of = self.compile_list(lists, "none", line, where)
        except PatternError as exc:
            key = next(k for k in _LIST_KEYS if exc.pattern in lists.get(k, ()))
            raise self.error(
                exc.message,
                line=self._pattern_line(
                    line, key, exc.pattern, ("tag", tag, "rule", index, key), lists[key]
                ),
                key=f"{where}.{key}: {exc.pattern!r}",
                expected=exc.expected,
            ) from exc
        return Rule(fields=fields, any=any_of, all=all_of, none=none_of, line=line)

    def compile_list(
        self, lists: Mapping[str, list[object]], key: str, line: int | None, where: str
    ) -> AnyOf | None:
        if key not in lists:
            return None
        return compile_any(self.expand(lists[key], line, key, where), self.cache)

    def compile_all(self, pattern: object, line: int | None, where: str) -> AnyOf:
        """One entry of an `all` list: a pattern, or "@name" meaning any of that list."""
        if isinstance(pattern, str) and pattern.startswith(LIST_PREFIX):
            return compile_any(self.named(pattern, line, "all", where), self.cache)
        return compile_any([pattern], self.cache)

    def load_fields(
        self, value: object, where: str, line: int | None, rule: Loc
    ) -> tuple[Field, ...]:
        if value is None:
            return DEFAULT_FIELDS
        expected = "a non-empty list of: " + ", ".join(f.value for f in Field)
        at = self.lines.key(line, "fields")
        if not isinstance(value, list) or not value:
            raise self.error("bad 'fields'", line=at, key=f"{where}.fields", expected=expected)
        fields: list[Field] = []
        for index, name in enumerate(value):
            if not isinstance(name, str) or name not in _FIELD_NAMES:
                raise self.error(
                    f"unknown field {name!r}",
                    line=self.lines.element(*rule, "fields", index) or at,
                    key=f"{where}.fields",
                    expected=expected,
                )
            if Field(name) not in fields:
                fields.append(Field(name))
        return tuple(fields)


def _toml_type(value: object) -> str:
    """What TOML calls the type of a value read from it: `5` is "an integer"."""
    names = {bool: "a boolean", int: "an integer", float: "a float", list: "an array"}
    return next((n for t, n in names.items() if isinstance(value, t)), "a table")
