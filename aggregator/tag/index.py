"""Every pattern of every rule indexed once, so one item costs one pass per field, not one
search per pattern and rule.

The rules name the same patterns many times (a list such as ``@child-abuse`` is expanded into
every rule that uses it), and most rules look at the same fields. So at load time:

- every plain phrase becomes one *atom* (equal expressions once), filed per field under its
  anchor word, its prefix key, or as unanchored (see phrase.py);
- every ``re:`` expression becomes one atom too;
- every pattern list of a rule (`any`, `none`, each entry of `all`) becomes a `Entry`: the
  set of its phrase atoms and the tuple of its regular-expression atoms.

Per item (`ItemIndex`), each field is folded and indexed once (`Haystack.of`); the phrase atoms
whose anchor is among the field's words are confirmed with their expression (a set
intersection in C picks them, so the cost follows the text, not the number of patterns). A
field set's phrase hits are the union of its fields' hits: a phrase cannot run from one field
into the next (FIELD_SEPARATOR), so that is the answer of a search in the joined text.
Regular expressions may run across fields (".{0,80}"), so they are searched in the joined text
of the field set, lazily, after the same prefix-key shortcut `AnyOf` uses, and each is run at
most once per field set and item.

`AnyOf.search` stays the reference: tests check this index gives the same answer on real items.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from aggregator.tag.anyof import AnyOf
from aggregator.tag.haystack import FIELD_SEPARATOR, PREFIX_KEY, Haystack
from aggregator.tag.regex import Regex

# A phrase atom as a field searches for it: its number, the words the text must have, and
# the expression that confirms it.
_Atom = tuple[int, frozenset[str], re.Pattern[str]]
_Filed = Mapping[str, tuple[_Atom, ...]]


@dataclass(frozen=True, slots=True)
class Entry:
    """One pattern list of a rule, as atoms."""

    phrases: frozenset[int]
    regexes: tuple[int, ...] = ()
    # The prefix keys one of which the text must have for any of `regexes` to match; None when
    # some expression has no keys (it always runs).
    regex_keys: frozenset[str] | None = frozenset()


@dataclass(frozen=True, slots=True)
class FieldIndex:
    """The phrase atoms that rules on one field look for, by anchor word and prefix key."""

    by_word: _Filed
    by_prefix: _Filed
    unanchored: tuple[_Atom, ...]
    words: frozenset[str]  # the keys of by_word, for a set intersection in C
    prefixes: frozenset[str]  # the keys of by_prefix

    def hits(self, text: Haystack) -> set[int]:
        """The atoms of this field found in `text`."""
        found: set[int] = set()
        lower = text.lower
        words = text.words
        candidates = [
            *(a for word in self.words.intersection(words) for a in self.by_word[word]),
            *(a for key in self.prefixes.intersection(text.prefixes) for a in self.by_prefix[key]),
            *self.unanchored,
        ]
        for atom, needs, expression in candidates:
            if atom not in found and needs <= words and expression.search(lower) is not None:
                found.add(atom)
        return found


_SEPARATOR_RUN = r"[\s-]+"


def _may_cross_fields(source: str) -> bool:
    """Whether a phrase's expression could match across FIELD_SEPARATOR in the joined text:
    one that starts or ends with a run of spaces ("- x") could take the separator's space, and
    one spelling the separator itself could span it. Such a phrase is searched in the joined
    text like a regular expression; every other phrase gives the same answer per field."""
    return (
        source.startswith(_SEPARATOR_RUN)
        or source.endswith(_SEPARATOR_RUN)
        or FIELD_SEPARATOR.strip() in source
    )


class _Interner:
    """Numbers equal phrases and equal regular expressions once across all rules."""

    def __init__(self) -> None:
        self.phrases: dict[str, int] = {}
        self.regexes: dict[tuple[str, int], int] = {}
        self.regex_list: list[Regex] = []
        # atom -> (anchor, is prefix key, words it needs, expression), for filing under fields
        self.filing: dict[int, tuple[str | None, bool, frozenset[str], re.Pattern[str]]] = {}

    def entry(self, patterns: AnyOf) -> Entry:
        phrases: set[int] = set()
        joined: list[Regex] = []
        filed = (
            *((p, anchor, False) for anchor, group in patterns.by_anchor.items() for p in group),
            *((p, key, True) for key, group in patterns.by_prefix.items() for p in group),
            *((p, None, False) for p in patterns.unanchored),
        )
        for expression, anchor, prefix in filed:
            if _may_cross_fields(expression.pattern):
                joined.append(Regex(expression=expression))
            else:
                needs = patterns.words[expression.pattern]
                phrases.add(self._phrase(expression, anchor, prefix, needs))
        regexes = (*joined, *patterns.regexes)
        keys: frozenset[str] | None = frozenset()
        for regex in regexes:
            keys = None if keys is None or regex.keys is None else keys | regex.keys
        return Entry(
            phrases=frozenset(phrases),
            regexes=tuple(self._regex(r) for r in regexes),
            regex_keys=keys,
        )

    def _phrase(
        self, expression: re.Pattern[str], anchor: str | None, prefix: bool, needs: frozenset[str]
    ) -> int:
        atom = self.phrases.setdefault(expression.pattern, len(self.phrases))
        filed = self.filing.setdefault(atom, (anchor, prefix, needs, expression))
        if filed[2] != needs:  # the same expression from two spellings: need what both need
            self.filing[atom] = (anchor, prefix, filed[2] & needs, expression)
        return atom

    def _regex(self, regex: Regex) -> int:
        key = (regex.expression.pattern, regex.expression.flags)
        if key not in self.regexes:
            self.regexes[key] = len(self.regex_list)
            self.regex_list.append(regex)
        return self.regexes[key]

    def field_index(self, atoms: Iterable[int]) -> FieldIndex:
        by_word: dict[str, list[_Atom]] = {}
        by_prefix: dict[str, list[_Atom]] = {}
        unanchored: list[_Atom] = []
        for atom in sorted(atoms):
            anchor, prefix, needs, expression = self.filing[atom]
            filed = (atom, needs, expression)
            if anchor is None:
                unanchored.append(filed)
            elif prefix:
                by_prefix.setdefault(anchor[:PREFIX_KEY], []).append(filed)
            else:
                by_word.setdefault(anchor, []).append(filed)
        return FieldIndex(
            by_word={word: tuple(found) for word, found in by_word.items()},
            by_prefix={key: tuple(found) for key, found in by_prefix.items()},
            unanchored=tuple(unanchored),
            words=frozenset(by_word),
            prefixes=frozenset(by_prefix),
        )


class RuleLists(Protocol):
    """What the index needs of a compiled rule (rules.Rule)."""

    @property
    def fields(self) -> tuple[str, ...]: ...
    @property
    def any(self) -> AnyOf | None: ...
    @property
    def all(self) -> tuple[AnyOf, ...]: ...
    @property
    def none(self) -> AnyOf | None: ...
    @property
    def line(self) -> int | None: ...


class TopicLists(Protocol):
    @property
    def tag(self) -> str: ...
    @property
    def rules(self) -> tuple[RuleLists, ...]: ...


@dataclass(frozen=True, slots=True)
class IndexedRule:
    fields: tuple[str, ...]
    any: Entry | None
    all: tuple[Entry, ...]
    none: Entry | None
    line: int | None


@dataclass(frozen=True, slots=True)
class TagIndex:
    """The atoms of all rules, per field, and the rules as entries over them (file order)."""

    fields: Mapping[str, FieldIndex]
    regexes: tuple[Regex, ...]
    topics: tuple[tuple[str, tuple[IndexedRule, ...]], ...]

    @classmethod
    def build(cls, topics: Iterable[TopicLists]) -> TagIndex:
        interner = _Interner()
        per_field: dict[str, set[int]] = {}
        indexed: list[tuple[str, tuple[IndexedRule, ...]]] = []
        for topic in topics:
            compiled: list[IndexedRule] = []
            for lists in topic.rules:
                rule = IndexedRule(
                    fields=lists.fields,
                    any=None if lists.any is None else interner.entry(lists.any),
                    all=tuple(interner.entry(p) for p in lists.all),
                    none=None if lists.none is None else interner.entry(lists.none),
                    line=lists.line,
                )
                for entry in (rule.any, *rule.all, rule.none):
                    if entry is not None:
                        for name in rule.fields:
                            per_field.setdefault(name, set()).update(entry.phrases)
                compiled.append(rule)
            indexed.append((topic.tag, tuple(compiled)))
        return cls(
            fields={name: interner.field_index(atoms) for name, atoms in per_field.items()},
            regexes=tuple(interner.regex_list),
            topics=tuple(indexed),
        )


class _FieldSet:
    """One field set of one item: its phrase hits, and its regular expressions run lazily."""

    __slots__ = ("_index", "_joined", "_prefixes", "_regex_found", "_texts", "hits")

    def __init__(self, index: TagIndex, texts: list[Haystack], hits: frozenset[int]) -> None:
        self._index = index
        self._texts = texts
        self.hits = hits
        self._prefixes: frozenset[str] | None = None
        self._joined: Haystack | None = None
        self._regex_found: dict[int, bool] = {}

    def found(self, entry: Entry) -> bool:
        if not entry.phrases.isdisjoint(self.hits):
            return True
        if not entry.regexes:
            return False
        if entry.regex_keys is not None and entry.regex_keys.isdisjoint(self.prefixes()):
            return False
        return any(self._regex(atom) for atom in entry.regexes)

    def prefixes(self) -> frozenset[str]:
        if self._prefixes is None:
            self._prefixes = frozenset().union(*(text.prefixes for text in self._texts))
        return self._prefixes

    def _regex(self, atom: int) -> bool:
        found = self._regex_found.get(atom)
        if found is None:
            regex = self._index.regexes[atom]
            if regex.keys is not None and regex.keys.isdisjoint(self.prefixes()):
                found = False
            else:
                text = self._joined_text()
                found = regex.search(text.lower if regex.lower else text.folded)
            self._regex_found[atom] = found
        return found

    def _joined_text(self) -> Haystack:
        # As Haystack.join builds it for the reference path (empty fields left out).
        if self._joined is None:
            parts = [text for text in self._texts if text.folded]
            self._joined = Haystack(
                FIELD_SEPARATOR.join(p.folded for p in parts),
                FIELD_SEPARATOR.join(p.lower for p in parts),
                frozenset(),
                frozenset(),
            )
        return self._joined


class ItemIndex:
    """One item's fields, folded and indexed, answering the rules of a `TagIndex`."""

    __slots__ = ("_field_hits", "_index", "_sets", "_texts")

    def __init__(self, index: TagIndex, texts: Mapping[str, Haystack]) -> None:
        self._index = index
        self._texts = texts
        self._field_hits = {
            name: index.fields[name].hits(text) if name in index.fields else set()
            for name, text in texts.items()
        }
        self._sets: dict[tuple[str, ...], _FieldSet] = {}

    def fires(self, rule: IndexedRule) -> bool:
        view = self._sets.get(rule.fields)
        if view is None:
            view = self._field_set(rule.fields)
        if rule.any is not None and not view.found(rule.any):
            return False
        if rule.all and not all(view.found(entry) for entry in rule.all):
            return False
        return rule.none is None or not view.found(rule.none)

    def _field_set(self, fields: tuple[str, ...]) -> _FieldSet:
        hits = frozenset().union(*(self._field_hits[name] for name in fields))
        view = _FieldSet(self._index, [self._texts[name] for name in fields], hits)
        self._sets[fields] = view
        return view
