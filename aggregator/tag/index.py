"""Every pattern of every rule indexed once, so one item costs one pass over each field's
words, not one search per pattern and rule.

The rules name the same patterns many times (a list such as ``@child-abuse`` is expanded into
every rule that uses it), and most rules look at the same fields. So once, before the first
item is tagged (`TagRules.index` builds it on first use):

- every plain phrase becomes one *atom* (equal expressions once), filed per field under a
  word the text must have for it (its anchor, or one of its whole words), under the first
  three letters a word of the text must then start with (see phrase.py), or as unanchored;
  a one-word phrase is *sure*: that word among the text's words is the match;
- every ``re:`` expression becomes one atom too, filed under the words the text must have
  one of (factors.py `required_words`), else under the first three letters of the word its
  matches start with (factors.py `word_starts`), else run on every text;
- every pattern list of a rule (`any`, `none`, each entry of `all`) becomes an `Entry`: a bit
  mask of its phrase atoms and one of its regular-expression atoms.

Per item (`ItemIndex`), each field is folded once and cut into words (haystack.py); set
intersections in C keep the words (and first three letters) the index knows, usually a dozen
or two, and dictionary lookups give what they bring: sure phrases, phrases to confirm with
their expression, and regular expressions that may match (*live*), as masks. A field set's
phrase hits are the union of its fields' hits: a phrase cannot run from one field into the
next (FIELD_SEPARATOR), so that is the answer of a search in the joined text. Regular
expressions may run across fields (".{0,80}"), so the live ones are searched in the joined
text of the field set, lazily, each at most once per field set and item. A rule is first
decided with masks alone where it can be (an `all` entry with no hit and nothing live fails
it), which leaves most rules without a single search.

`AnyOf.search` stays the reference: tests check this index gives the same answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Protocol

from aggregator.tag.anyof import AnyOf
from aggregator.tag.fold import fold
from aggregator.tag.haystack import FIELD_SEPARATOR, PREFIX_KEY, tokens_of
from aggregator.tag.regex import NO_SHORTCUTS, Regex

# A phrase atom as a field searches for it: its bit, the words the text must have, the
# expression that confirms it, and the literal text every match of it starts with.
_Atom = tuple[int, frozenset[str], re.Pattern[str], str]
# What one word of a field brings: sure phrases, live regular expressions (masks), and the
# phrases to confirm.
_WordFiling = tuple[int, int, tuple[_Atom, ...]]
# What one key (first three letters) brings: live regular expressions, phrases to confirm.
_KeyFiling = tuple[int, tuple[_Atom, ...]]
_FIRST = itemgetter(slice(PREFIX_KEY))
_SHORT_WORD = 3  # a word shorter than this is too common to file a regular expression under


@dataclass(frozen=True, slots=True)
class Entry:
    """One pattern list of a rule, as bit masks of atoms."""

    phrases: int  # bit n: phrase atom n
    regexes: int = 0  # bit n: `TagIndex.regexes[n]`


class _Text:
    """One field of one item: its folded text, and the words and keys the index knows."""

    __slots__ = ("folded", "keys", "lower", "present")

    def __init__(self, folded: str, lower: str, present: frozenset[str], keys: frozenset[str]):
        self.folded = folded
        self.lower = lower
        self.present = present  # the words of the text that are in TagIndex.vocabulary
        self.keys = keys  # the first three letters of its words that are in TagIndex.keys


_NO_TEXT = _Text("", "", frozenset(), frozenset())


@dataclass(frozen=True, slots=True)
class FieldIndex:
    """What the rules on one field look for, by word and by key."""

    by_word: Mapping[str, _WordFiling]
    by_key: Mapping[str, _KeyFiling]
    unanchored: tuple[_Atom, ...]  # phrases confirmed on every text
    always: int  # regular expressions live on every text

    def scan(self, text: _Text) -> tuple[int, int]:
        """The phrase atoms found in `text`, and the regular-expression atoms live in it."""
        found = 0
        live = self.always
        candidates: list[_Atom] = []
        by_word = self.by_word
        for word in text.present:
            filed = by_word.get(word)
            if filed is not None:
                found |= filed[0]
                live |= filed[1]
                candidates.extend(filed[2])
        by_key = self.by_key
        for key in text.keys:
            keyed = by_key.get(key)
            if keyed is not None:
                live |= keyed[0]
                candidates.extend(keyed[1])
        candidates.extend(self.unanchored)
        if candidates:
            present = text.present
            lower = text.lower
            for bit, needs, expression, lead in candidates:
                # An atom filed under two keys may come twice.
                if not found & bit and needs <= present:
                    # str.find (fast) says whether, and from where, the engine need look:
                    # a prefix filed under "eur" is seldom "europaparlament".
                    at = lower.find(lead)
                    if at >= 0 and expression.search(lower, at) is not None:
                        found |= bit
        return found, live

    def vocabulary(self) -> set[str]:
        """The words this index looks up: those it files under, and those phrases need."""
        atoms = [
            *(a for filed in self.by_word.values() for a in filed[2]),
            *(a for keyed in self.by_key.values() for a in keyed[1]),
            *self.unanchored,
        ]
        return {
            *self.by_word,
            *(word for _bit, needs, _expression, _lead in atoms for word in needs),
        }


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


def _one_word(anchor: str, expression: re.Pattern[str]) -> bool:
    """Whether `expression` is the phrase of the one word `anchor` (phrase.py), which matches
    exactly where the word is one of the text's words: a run of word characters with none
    before or after it."""
    return expression.pattern == rf"{re.escape(anchor)}(?<!\w.{{{len(anchor)}}})(?!\w)"


def _best_word(words: Iterable[str]) -> str:
    """The word to file under when a text must have all of `words`: the longest, as the
    rarest guess."""
    return min(words, key=lambda w: (-len(w), w))


@dataclass(frozen=True, slots=True)
class _Filing:
    anchor: str | None
    prefix: bool
    keys: frozenset[str] | None  # for a prefix anchor: Phrase.keys
    needs: frozenset[str]
    expression: re.Pattern[str]
    lead: str  # Phrase.lead


class _Interner:
    """Numbers equal phrases and equal regular expressions once across all rules."""

    def __init__(self) -> None:
        self.phrases: dict[str, int] = {}
        self.regexes: dict[tuple[str, int], int] = {}
        self.regex_list: list[Regex] = []
        # atom -> how to file it under fields
        self.filing: dict[int, _Filing] = {}

    def entry(self, patterns: AnyOf) -> Entry:
        phrases = 0
        joined: list[Regex] = []
        filed = (
            *((p, anchor, False) for anchor, group in patterns.by_anchor.items() for p in group),
            *((p, key, True) for key, group in patterns.by_prefix.items() for p in group),
            *((p, None, False) for p in patterns.unanchored),
        )
        for expression, anchor, prefix in filed:
            if _may_cross_fields(expression.pattern):
                joined.append(Regex(expression=expression, read=NO_SHORTCUTS))
            else:
                needs = patterns.words[expression.pattern]
                keys = patterns.first_keys.get(expression.pattern) if prefix else None
                lead = patterns.leads[expression.pattern]
                phrases |= 1 << self._phrase(expression, anchor, prefix, keys, needs, lead)
        regexes = 0
        for regex in (*joined, *patterns.regexes):
            regexes |= 1 << self._regex(regex)
        return Entry(phrases=phrases, regexes=regexes)

    def _phrase(
        self,
        expression: re.Pattern[str],
        anchor: str | None,
        prefix: bool,
        keys: frozenset[str] | None,
        needs: frozenset[str],
        lead: str,
    ) -> int:
        atom = self.phrases.setdefault(expression.pattern, len(self.phrases))
        filed = self.filing.setdefault(atom, _Filing(anchor, prefix, keys, needs, expression, lead))
        if filed.needs != needs:  # the same expression from two spellings: need what both need
            self.filing[atom] = _Filing(anchor, prefix, keys, filed.needs & needs, expression, lead)
        return atom

    def _regex(self, regex: Regex) -> int:
        key = (regex.expression.pattern, regex.expression.flags)
        if key not in self.regexes:
            self.regexes[key] = len(self.regex_list)
            self.regex_list.append(regex)
        return self.regexes[key]

    def field_index(self, atoms: Iterable[int]) -> FieldIndex:
        """The phrase atoms of one field, filed; the regular expressions, live on any field,
        are filed in by `TagIndex.build`."""
        sure: dict[str, int] = {}
        by_word: dict[str, list[_Atom]] = {}
        by_key: dict[str, list[_Atom]] = {}
        unanchored: list[_Atom] = []
        for atom in sorted(atoms):
            filing = self.filing[atom]
            anchor, needs = filing.anchor, filing.needs
            filed = (1 << atom, needs, filing.expression, filing.lead)
            if anchor is not None and not filing.prefix:
                if _one_word(anchor, filing.expression):
                    sure[anchor] = sure.get(anchor, 0) | filed[0]
                else:
                    by_word.setdefault(anchor, []).append(filed)
            elif needs:  # a whole word the text must have picks fewer texts than a prefix
                by_word.setdefault(_best_word(needs), []).append(filed)
            elif anchor is not None and filing.keys is not None:
                for key in sorted(filing.keys):
                    by_key.setdefault(key, []).append(filed)
            else:
                unanchored.append(filed)
        return FieldIndex(
            by_word={
                word: (sure.get(word, 0), 0, tuple(by_word.get(word, ())))
                for word in sorted({*sure, *by_word})
            },
            by_key={key: (0, tuple(found)) for key, found in sorted(by_key.items())},
            unanchored=tuple(unanchored),
            always=0,
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
    field_set: int  # its number in TagIndex.field_sets
    needs: tuple[Entry, ...]  # `any` (when given) and every `all` entry: each must be found
    none: Entry | None
    line: int | None


@dataclass(frozen=True, slots=True)
class TagIndex:
    """The atoms of all rules, per field, and the rules as entries over them (file order)."""

    fields: Mapping[str, FieldIndex]
    field_names: tuple[str, ...]  # the fields some rule reads, in the order ItemIndex takes
    field_sets: tuple[tuple[int, ...], ...]  # each rule's fields, as numbers in field_names
    regexes: tuple[Regex, ...]
    # Per regular-expression atom: further sets of words the text must have one of each of
    # (`Shortcuts.words` after the one it is filed under), checked before it runs.
    regex_words: tuple[tuple[frozenset[str], ...], ...]
    topics: tuple[tuple[str, tuple[IndexedRule, ...]], ...]
    vocabulary: frozenset[str]  # every word a field index or check asks about
    keys: frozenset[str]  # every key a field index asks about

    @classmethod
    def build(cls, topics: Iterable[TopicLists]) -> TagIndex:
        interner = _Interner()
        per_field: dict[str, set[int]] = {}
        listed: list[tuple[str, list[tuple[RuleLists, tuple[Entry, ...], Entry | None]]]] = []
        for topic in topics:
            compiled: list[tuple[RuleLists, tuple[Entry, ...], Entry | None]] = []
            for lists in topic.rules:
                needs = (
                    *(() if lists.any is None else (interner.entry(lists.any),)),
                    *(interner.entry(p) for p in lists.all),
                )
                none = None if lists.none is None else interner.entry(lists.none)
                for name in lists.fields:
                    atoms = per_field.setdefault(name, set())
                    for entry in (*needs, none):
                        if entry is not None:
                            atoms.update(_bits(entry.phrases))
                compiled.append((lists, needs, none))
            listed.append((topic.tag, compiled))
        field_names = tuple(sorted(per_field))
        field_sets: dict[tuple[int, ...], int] = {}
        indexed = [
            (
                tag,
                tuple(
                    IndexedRule(
                        fields=lists.fields,
                        field_set=field_sets.setdefault(
                            tuple(field_names.index(name) for name in lists.fields),
                            len(field_sets),
                        ),
                        needs=needs,
                        none=none,
                        line=lists.line,
                    )
                    for lists, needs, none in compiled
                ),
            )
            for tag, compiled in listed
        ]
        # The regular expressions, by the first of their word sets, else by key, else always.
        regex_by_word: dict[str, int] = {}
        regex_by_key: dict[str, int] = {}
        always = 0
        regex_words: list[tuple[frozenset[str], ...]] = []
        for atom, regex in enumerate(interner.regex_list):
            bit = 1 << atom
            cuts = regex.shortcuts()
            words = cuts.words
            # Words of two letters ("of", "in", "de") are in most texts: the first letters of
            # the word a match starts with, when known, pick fewer.
            if words and (cuts.starts is None or min(map(len, words[0])) >= _SHORT_WORD):
                for word in words[0]:
                    regex_by_word[word] = regex_by_word.get(word, 0) | bit
                words = words[1:]
            elif cuts.starts is not None:
                for key in cuts.starts:
                    regex_by_key[key] = regex_by_key.get(key, 0) | bit
            else:
                always |= bit
            regex_words.append(words)
        fields = {
            name: _with_regexes(interner.field_index(atoms), regex_by_word, regex_by_key, always)
            for name, atoms in per_field.items()
        }
        vocabulary = {
            *regex_by_word,
            *(word for words in regex_words for option in words for word in option),
            *(word for field in fields.values() for word in field.vocabulary()),
        }
        return cls(
            fields=fields,
            field_names=field_names,
            field_sets=tuple(field_sets),
            regexes=tuple(interner.regex_list),
            regex_words=tuple(regex_words),
            topics=tuple(indexed),
            vocabulary=frozenset(vocabulary),
            keys=frozenset(key for field in fields.values() for key in field.by_key),
        )

    def text(self, raw: str) -> _Text:
        """One field of an item, folded, with the words and keys of it the index knows."""
        if not raw:
            return _NO_TEXT
        folded = fold(raw)
        lower = folded.lower()
        tokens = tokens_of(lower)
        keys = self.keys.intersection(map(_FIRST, tokens)) if self.keys else frozenset()
        return _Text(folded, lower, self.vocabulary.intersection(tokens), keys)


def _with_regexes(
    field: FieldIndex, by_word: Mapping[str, int], by_key: Mapping[str, int], always: int
) -> FieldIndex:
    """`field` with the regular expressions filed in: they may run on any field set."""
    no_word: _WordFiling = (0, 0, ())
    no_key: _KeyFiling = (0, ())
    words = {
        word: (
            field.by_word.get(word, no_word)[0],
            by_word.get(word, 0),
            field.by_word.get(word, no_word)[2],
        )
        for word in sorted({*field.by_word, *by_word})
    }
    keys = {
        key: (by_key.get(key, 0), field.by_key.get(key, no_key)[1])
        for key in sorted({*field.by_key, *by_key})
    }
    return FieldIndex(by_word=words, by_key=keys, unanchored=field.unanchored, always=always)


def _bits(mask: int) -> list[int]:
    """The numbers of the bits set in `mask`, lowest first."""
    found: list[int] = []
    while mask:
        low = mask & -mask
        found.append(low.bit_length() - 1)
        mask ^= low
    return found


class _FieldSet:
    """One field set of one item: its phrase hits, and its regular expressions run lazily."""

    __slots__ = ("_found", "_index", "_joined", "_present", "_texts", "hits", "live")

    def __init__(self, index: TagIndex, texts: list[_Text], hits: int, live: int) -> None:
        self._index = index
        self._texts = texts
        self.hits = hits  # phrase atoms found in some field of the set
        self.live = live  # regular-expression atoms that may match in the joined text
        self._joined: tuple[str, str] | None = None
        self._present: frozenset[str] | None = None
        self._found: dict[int, bool] = {}

    def any_regex(self, atoms: int) -> bool:
        """Whether one of the regular-expression atoms in the mask `atoms` matches."""
        while atoms:
            low = atoms & -atoms
            if self._regex(low.bit_length() - 1):
                return True
            atoms ^= low
        return False

    def _regex(self, atom: int) -> bool:
        found = self._found.get(atom)
        if found is None:
            found = self._search(atom)
            self._found[atom] = found
        return found

    def _search(self, atom: int) -> bool:
        words = self._index.regex_words[atom]
        if words:
            if self._present is None:
                self._present = frozenset().union(*(text.present for text in self._texts))
            if any(option.isdisjoint(self._present) for option in words):
                return False
        if self._joined is None:
            # As Haystack.join builds it for the reference path (empty fields left out).
            parts = [text for text in self._texts if text.folded]
            self._joined = (
                FIELD_SEPARATOR.join(p.folded for p in parts),
                FIELD_SEPARATOR.join(p.lower for p in parts),
            )
        regex = self._index.regexes[atom]
        return regex.search(self._joined[1] if regex.lower else self._joined[0])


class ItemIndex:
    """One item's fields, folded and indexed, answering the rules of a `TagIndex`."""

    __slots__ = ("_index", "_scans", "_texts", "_views")

    def __init__(self, index: TagIndex, texts: Iterable[str]) -> None:
        """`texts`: the raw text of each field of `index.field_names`, in that order."""
        self._index = index
        self._texts = [index.text(raw) for raw in texts]
        fields = index.fields
        self._scans = [
            fields[name].scan(text)
            for name, text in zip(index.field_names, self._texts, strict=True)
        ]
        self._views: list[_FieldSet | None] = [None] * len(index.field_sets)

    def topics(self) -> list[str]:
        """The tags whose rules fire, in file order."""
        tags: list[str] = []
        for tag, rules in self._index.topics:
            for rule in rules:
                if self.fires(rule):
                    tags.append(tag)
                    break
        return tags

    def fires(self, rule: IndexedRule) -> bool:
        view = self._views[rule.field_set]
        if view is None:
            view = self._view(rule.field_set)
        hits = view.hits
        live = view.live
        # The masks alone first: most rules fail on an entry with no hit and nothing live.
        for entry in rule.needs:
            if not entry.phrases & hits and not entry.regexes & live:
                return False
        none = rule.none
        if none is not None and none.phrases & hits:
            return False
        # Then the regular expressions, where a phrase did not decide.
        for entry in rule.needs:
            if not entry.phrases & hits and not view.any_regex(entry.regexes & live):
                return False
        return none is None or not view.any_regex(none.regexes & live)

    def _view(self, field_set: int) -> _FieldSet:
        hits = 0
        live = 0
        numbers = self._index.field_sets[field_set]
        for number in numbers:
            found, may = self._scans[number]
            hits |= found
            live |= may
        view = _FieldSet(self._index, [self._texts[number] for number in numbers], hits, live)
        self._views[field_set] = view
        return view
