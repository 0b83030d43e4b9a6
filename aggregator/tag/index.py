"""Every pattern of every rule indexed once, so one item costs one lookup per word of its
fields and a few searches, not one search per pattern and rule.

The rules name the same patterns many times (a list such as ``@child-abuse`` is expanded into
every rule that uses it), and most rules look at the same fields. So once, before the first
item is tagged (`TagRules.index` builds it on first use):

- every plain phrase becomes one *atom* (equal expressions once). A phrase of one word, or of
  one word prefix ("kindesmissbrauch*"), is *found* by a word of the text alone: that word,
  or a word that starts with the prefix. Any other is *to confirm*, by its expression, and is
  filed under a word the text must have for it (its anchor, or one of its whole words), or
  under the first three letters a word of the text must start with (phrase.py), or nowhere;
  with a second word it needs, when it has one (checked before it is ever searched);
- every ``re:`` expression becomes one atom too, with the word conditions every text it
  matches meets (factors.py `word_conditions`: sets of words and word prefixes, one of each
  set among the text's words), filed under its most selective set: it is *live* in a text
  with a word of that set, and searched only where the text meets all of them;
- every pattern list of a rule (`any`, `none`, each entry of `all`) becomes a pair of bit
  masks: its phrase atoms and its regular-expression atoms;
- the rules' masks are written out as one function, `screen`, compiled once per process.

Per item (`ItemIndex`), each field is folded once and cut into words (haystack.py). What a
word brings (the phrases it finds, those it files to confirm, the regular expressions it makes
live, the conditions it meets, as masks) is worked out the first time the word is met and
remembered (`_WordMemo`), so a field costs one dictionary lookup per word and one `|` per
distinct word that brings something, in C. `screen` then passes the rules whose every entry
has an atom found, to confirm or live in the rule's fields, most rules failing there; each
rule passed is decided in file order, with searches where no found phrase decides it: a phrase
to confirm is searched in each field of the set that has it (its expression, from where
str.find sees its first letters), once per field and item; a live regular expression in the
joined text of the field set (it may run across fields, ".{0,80}"), once per field set and
item. A field set's phrase hits are the union of its fields' hits: a phrase cannot run from
one field into the next (FIELD_SEPARATOR), so that is the answer of a search in the joined
text.

`AnyOf.search` stays the reference: tests check this index gives the same answers.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache, reduce
from operator import attrgetter, or_
from typing import Any, Protocol

from aggregator.tag.anyof import AnyOf
from aggregator.tag.factors import PREFIX_MARK
from aggregator.tag.fold import fold
from aggregator.tag.haystack import FIELD_SEPARATOR, PART_SEPARATOR, PREFIX_KEY, word_bytes_of
from aggregator.tag.regex import NO_SHORTCUTS, Regex

# A phrase atom as a text confirms it: its expression, and the literal text every match of it
# starts with (Phrase.lead).
_Phrase = tuple[re.Pattern[str], str]
# What one word brings, as masks: the phrases it finds, the phrases it files to confirm.
_WordFiling = tuple[int, int]
# A word condition of the regular expressions met by a word that starts with `prefix`: the
# condition sets (bits) it meets, and the regular expressions it makes live.
_PrefixCondition = tuple[str, int, int]
# What a text has, as masks: the phrase atoms found, the phrase atoms to confirm, the live
# regular-expression atoms, the condition sets met.
_Scan = tuple[int, int, int, int]
# A pattern list of a rule: its phrase atoms and its regular-expression atoms, as masks.
_Masks = tuple[int, int]
_NO_MASKS: _Masks = (0, 0)
# The text index remembers what each distinct word brings (_WordMemo) up to this many words,
# then starts again: text repeats most of its words, and this bounds what a process holds
# (a few MB).
_MEMO_WORDS = 1 << 16


@dataclass(frozen=True, slots=True)
class Entry:
    """One pattern list of a rule, as bit masks of atoms."""

    phrases: int  # bit n: phrase atom n
    regexes: int = 0  # bit n: `TagIndex.regexes[n]`

    @property
    def masks(self) -> _Masks:
        return self.phrases, self.regexes


@dataclass(frozen=True, slots=True)
class _Layout:
    """How the masks of a scan sit in a word's two ints (`_Brings`), so that a text's words
    are summed with a `|` each: the phrase atoms found (those of one word, numbered first:
    `_Interner.one_word_first`) and to confirm (the others), in one; the live
    regular-expression atoms and the condition sets met, in the other. Ints are summed in
    time with their length: no int carries what the word does not bring."""

    one_word: int  # how many phrase atoms are one word's or one prefix's (numbered first)
    regexes: int  # how many regular-expression atoms
    # Of the phrases' int: the atoms found (the others are to confirm); of the regular
    # expressions' int: the live atoms (the condition sets met are above them).
    found_mask: int = dataclasses.field(init=False, repr=False, compare=False)
    live_mask: int = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "found_mask", (1 << self.one_word) - 1)
        object.__setattr__(self, "live_mask", (1 << self.regexes) - 1)

    def regex_side(self, live: int, met: int) -> int:
        return live | met << self.regexes


class _Brings:
    """What one word of a text brings to its scan: its masks (`_Layout`), and the phrases to
    confirm it is the second word of (`TextIndex.by_check`)."""

    __slots__ = ("checks", "phrases", "regexes")

    def __init__(self, phrases: int, regexes: int, checks: int) -> None:
        self.phrases = phrases
        self.regexes = regexes
        self.checks = checks


_PHRASES = attrgetter("phrases")
_REGEXES = attrgetter("regexes")
_CHECKS = attrgetter("checks")


@dataclass(frozen=True, slots=True)
class _WordConditions:
    """The word conditions of all regular expressions (factors.py `word_conditions`): each
    distinct set of them is a bit, and each expression is filed under (made live by) its most
    selective set."""

    words: Mapping[str, tuple[int, int]]  # a word -> the sets it meets, the expressions live
    prefixes: Mapping[str, tuple[_PrefixCondition, ...]]  # by the prefix's first three letters
    short_prefixes: tuple[_PrefixCondition, ...]  # prefixes of fewer letters

    def met(self, word: str) -> tuple[int, int]:
        """The condition sets `word` meets, and the regular expressions it makes live."""
        met, live = self.words.get(word, _NO_MASKS)
        for prefix, sets, filed in (
            *self.prefixes.get(word[:PREFIX_KEY], ()),
            *self.short_prefixes,
        ):
            if word.startswith(prefix):
                met |= sets
                live |= filed
        return met, live


class _WordMemo(dict[bytes, "_Brings | None"]):
    """Each word's `_Brings` (None: nothing), worked out by the text index the first time the
    word is met (keys: words in UTF-8): the lookups of the word, its first letters and its
    prefixes are done once per distinct word, not once per text."""

    __slots__ = ("_index",)

    def __init__(self, index: TextIndex) -> None:
        super().__init__()
        self._index = index

    def __missing__(self, word: bytes) -> _Brings | None:
        text = word.decode("utf-8", "surrogatepass")
        index = self._index
        # Most words bring nothing, told by two set lookups (as `brings` starts), here.
        if text in index.words or text[:PREFIX_KEY] in index.keys or index.any_short:
            brings = index.brings(text)
        else:
            brings = None
        if len(self) >= _MEMO_WORDS:
            self.clear()
        self[word] = brings
        return brings

    def __reduce__(self) -> tuple[type[_WordMemo], tuple[TextIndex]]:
        """Pickled empty: what it remembers is cheap to work out again."""
        return _WordMemo, (self._index,)


@dataclass(frozen=True, slots=True)
class TextIndex:
    """What the rules look for in a text's words: by word, by key and by word prefix.

    One for every field: a field's text may then bring atoms that only rules on other fields
    have, which no rule on it asks about (a field set's masks are its own fields' only); and
    each distinct word is worked out once, whatever field it is met in."""

    by_word: Mapping[str, _WordFiling]
    by_key: Mapping[str, int]  # a word's first three letters -> phrases to confirm
    # The phrases of one word prefix ("kindesmissbrauch*"), as (prefix, atom bit): those of
    # three letters or more by their first three, and the shorter ones, for every word.
    by_prefix: Mapping[str, tuple[tuple[str, int], ...]]
    short_prefixes: tuple[tuple[str, int], ...]
    unanchored: int  # phrases to confirm on every text
    # A second word each phrase to confirm needs, if it needs one (a word -> the phrases it is
    # the second word of); and those that need none: they stay to confirm with the one word.
    by_check: Mapping[str, int] = dataclasses.field(default_factory=dict)
    unchecked: int = 0
    always: int = 0  # regular expressions live on every text
    conditions: _WordConditions = _WordConditions({}, {}, ())
    layout: _Layout = _Layout(0, 0)
    memo: _WordMemo = dataclasses.field(init=False, repr=False, compare=False)
    empty: _Scan = dataclasses.field(init=False, repr=False, compare=False)  # of no text
    # Every word and every key something is filed under, and whether any prefix is shorter
    # than a key: most words are none of these, and are told so with two set lookups.
    words: frozenset[str] = dataclasses.field(init=False, repr=False, compare=False)
    keys: frozenset[str] = dataclasses.field(init=False, repr=False, compare=False)
    any_short: bool = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        conditions = self.conditions
        words = frozenset({*self.by_word, *self.by_check, *conditions.words})
        keys = frozenset({*self.by_key, *self.by_prefix, *conditions.prefixes})
        object.__setattr__(self, "words", words)
        object.__setattr__(self, "keys", keys)
        object.__setattr__(
            self, "any_short", bool(self.short_prefixes or conditions.short_prefixes)
        )
        object.__setattr__(self, "memo", _WordMemo(self))
        object.__setattr__(self, "empty", self.scan(()))

    def brings(self, word: str) -> _Brings | None:
        """What `word` (a word of a lower-cased folded text) brings to a scan."""
        key = word[:PREFIX_KEY]
        if word not in self.words and key not in self.keys and not self.any_short:
            return None
        sure, confirm = self.by_word.get(word, _NO_MASKS)
        confirm |= self.by_key.get(key, 0)
        for prefix, bit in (*self.by_prefix.get(key, ()), *self.short_prefixes):
            if word.startswith(prefix):
                sure |= bit
        met, live = self.conditions.met(word)
        checks = self.by_check.get(word, 0)
        if not (sure or confirm or met or checks):
            return None
        return _Brings(sure | confirm, self.layout.regex_side(live, met), checks)

    def scan(self, words: Iterable[bytes]) -> _Scan:
        """What a text of these words (UTF-8) has (see `_Scan`): a lookup per word, and one `|`
        per distinct word that brings something, both in C."""
        brought = set(map(self.memo.__getitem__, words))
        brought.discard(None)
        # Words that bring no phrase (most: "met" only) are left out of the phrases' sum.
        phrases = reduce(or_, filter(None, map(_PHRASES, brought)), self.unanchored)
        regexes = reduce(or_, filter(None, map(_REGEXES, brought)), self.always)
        # Phrases to confirm whose second word is not in the text are not found: a search
        # less, and often a rule the masks end.
        checked = reduce(or_, filter(None, map(_CHECKS, brought)), self.unchecked)
        sure = phrases & self.layout.found_mask
        live = regexes & self.layout.live_mask
        confirm = (phrases ^ sure) & checked
        return sure, confirm, live, regexes >> self.layout.regexes


_SEPARATOR_RUN = r"[\s-]+"
_WORD_RUN = re.compile(r"\w+")


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


def _one_prefix(lead: str, expression: re.Pattern[str]) -> bool:
    """Whether `expression` is the phrase of one word prefix ("kindesmissbrauch*", phrase.py),
    its `lead` (Phrase.lead), which matches exactly where a word of the text starts with it:
    word characters with none before them."""
    return (
        _WORD_RUN.fullmatch(lead) is not None
        and expression.pattern == rf"{re.escape(lead)}(?<!\w.{{{len(lead)}}})"
    )


def _best_word(words: Iterable[str]) -> str:
    """The word to file under when a text must have all of `words`: the longest, as the
    rarest guess."""
    return min(words, key=lambda w: (-len(w), w))


def _found_alone(filing: _Filing) -> bool:
    """Whether a phrase is found by a word alone: one word, or one word prefix."""
    if filing.anchor is None:
        return False
    if filing.prefix:
        return _one_prefix(filing.lead, filing.expression)
    return _one_word(filing.anchor, filing.expression)


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

    def one_word_first(self) -> tuple[int, dict[int, int]]:
        """Numbers the phrase atoms again, those of one word or one prefix (found by a word
        alone) first, so a text's found and to-confirm atoms share one int and no int is
        longer than it need be (`_Layout`): how many are first, and the new number of each."""
        order = sorted(self.filing, key=lambda atom: (not self._one_word(atom), atom))
        renumbered = {atom: number for number, atom in enumerate(order)}
        self.filing = {renumbered[atom]: filing for atom, filing in self.filing.items()}
        self.phrases = {source: renumbered[atom] for source, atom in self.phrases.items()}
        return sum(map(self._one_word, self.filing)), renumbered

    def _one_word(self, atom: int) -> bool:
        return _found_alone(self.filing[atom])

    def phrase_list(self) -> tuple[_Phrase, ...]:
        """Each phrase atom as a text confirms it, by its number."""
        return tuple(
            (filing.expression, filing.lead) for _atom, filing in sorted(self.filing.items())
        )

    def text_index(self, atoms: Iterable[int]) -> TextIndex:
        """The phrase atoms, filed; the regular expressions are filed in by `TagIndex.build`."""
        sure: dict[str, int] = {}
        by_word: dict[str, int] = {}
        by_key: dict[str, int] = {}
        by_prefix: dict[str, list[tuple[str, int]]] = {}
        short_prefixes: list[tuple[str, int]] = []
        unanchored = 0
        by_check: dict[str, int] = {}
        unchecked = 0
        for atom in sorted(atoms):
            filing = self.filing[atom]
            anchor, needs, bit = filing.anchor, filing.needs, 1 << atom
            filed_under = anchor if anchor is not None and not filing.prefix else None
            if anchor is not None and filing.prefix and _one_prefix(filing.lead, filing.expression):
                prefix = filing.lead
                if len(prefix) >= PREFIX_KEY:
                    by_prefix.setdefault(prefix[:PREFIX_KEY], []).append((prefix, bit))
                else:
                    short_prefixes.append((prefix, bit))
            elif anchor is not None and not filing.prefix:
                if _one_word(anchor, filing.expression):
                    sure[anchor] = sure.get(anchor, 0) | bit
                else:
                    by_word[anchor] = by_word.get(anchor, 0) | bit
            elif needs:  # a whole word the text must have picks fewer texts than a prefix
                filed_under = _best_word(needs)
                by_word[filed_under] = by_word.get(filed_under, 0) | bit
            elif anchor is not None and filing.keys is not None:
                for key in sorted(filing.keys):
                    by_key[key] = by_key.get(key, 0) | bit
            else:
                unanchored |= bit
            if not _found_alone(filing):
                # A second word the text must have, besides the one it is filed under.
                others = needs - {filed_under}
                if others:
                    check = _best_word(others)
                    by_check[check] = by_check.get(check, 0) | bit
                else:
                    unchecked |= bit
        return TextIndex(
            by_word={
                word: (sure.get(word, 0), by_word.get(word, 0))
                for word in sorted({*sure, *by_word})
            },
            by_key=dict(sorted(by_key.items())),
            by_prefix={key: tuple(found) for key, found in sorted(by_prefix.items())},
            short_prefixes=tuple(short_prefixes),
            unanchored=unanchored,
            by_check=dict(sorted(by_check.items())),
            unchecked=unchecked,
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
    needs: tuple[_Masks, ...]  # `any` (when given) and every `all` entry: each must be found
    none: _Masks  # (0, 0) when the rule has no `none`
    line: int | None


@dataclass(frozen=True, slots=True)
class TagIndex:
    """The atoms of all rules, and the rules as entries over them (file order)."""

    words: TextIndex  # for the words of every field
    field_names: tuple[str, ...]  # the fields some rule reads, in the order ItemIndex takes
    field_sets: tuple[tuple[int, ...], ...]  # each rule's fields, as numbers in field_names
    phrases: tuple[_Phrase, ...]  # each phrase atom, by its number
    regexes: tuple[Regex, ...]
    # Per regular-expression atom: the condition sets (bits of _WordConditions) its text must
    # meet, all of them, checked before it runs.
    regex_needs: tuple[int, ...]
    topics: tuple[tuple[str, tuple[IndexedRule, ...]], ...]
    rule_list: tuple[tuple[str, IndexedRule], ...]  # every rule with its tag, in file order
    screen_source: str  # of `screen`, kept as text: a function does not pickle

    @property
    def screen(self) -> _Screen:
        """`screen(sure, confirm, live)`: the numbers in `rule_list`, in order, of the rules
        whose every entry has a phrase atom found or to confirm, or a live regular expression,
        in the rule's field set (the masks by field number, as `ItemIndex` has them)."""
        return _compiled_screen(self.screen_source)

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
        one_word, renumbered = interner.one_word_first()
        field_names = tuple(sorted(per_field))
        atoms = {renumbered[atom] for field in per_field.values() for atom in field}
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
                        needs=tuple(_renumber(entry.masks, renumbered) for entry in needs),
                        none=_NO_MASKS if none is None else _renumber(none.masks, renumbered),
                        line=lists.line,
                    )
                    for lists, needs, none in compiled
                ),
            )
            for tag, compiled in listed
        ]
        conditions, regex_needs, always = _regex_conditions(interner.regex_list)
        phrases = interner.phrase_list()
        words = replace(
            interner.text_index(atoms),
            always=always,
            conditions=conditions,
            layout=_Layout(one_word, len(interner.regex_list)),
        )
        rule_list = tuple((tag, rule) for tag, rules in indexed for rule in rules)
        return cls(
            rule_list=rule_list,
            screen_source=_screen_source([rule for _tag, rule in rule_list], tuple(field_sets)),
            words=words,
            field_names=field_names,
            field_sets=tuple(field_sets),
            phrases=phrases,
            regexes=tuple(interner.regex_list),
            regex_needs=regex_needs,
            topics=tuple(indexed),
        )


def _regex_conditions(regexes: Sequence[Regex]) -> tuple[_WordConditions, tuple[int, ...], int]:
    """The word conditions of the regular expressions (`Shortcuts.conditions`), each distinct
    set a bit, each expression filed under its most selective set (conditions come sorted so);
    the sets each expression needs; and those with none, live on every text."""
    bits: dict[frozenset[str], int] = {}
    filed: dict[frozenset[str], int] = {}
    needs: list[int] = []
    always = 0
    for atom, regex in enumerate(regexes):
        options = regex.shortcuts().conditions
        need = 0
        for option in options:
            need |= bits.setdefault(option, 1 << len(bits))
        needs.append(need)
        if options:
            filed[options[0]] = filed.get(options[0], 0) | 1 << atom
        else:
            always |= 1 << atom
    words: dict[str, tuple[int, int]] = {}
    prefixes: dict[str, list[_PrefixCondition]] = {}
    short_prefixes: list[_PrefixCondition] = []
    for option, bit in bits.items():
        live = filed.get(option, 0)
        for condition in sorted(option):
            if not condition.endswith(PREFIX_MARK):
                met, made_live = words.get(condition, _NO_MASKS)
                words[condition] = (met | bit, made_live | live)
            elif len(condition) > PREFIX_KEY:
                prefix = condition[: -len(PREFIX_MARK)]
                prefixes.setdefault(prefix[:PREFIX_KEY], []).append((prefix, bit, live))
            else:
                short_prefixes.append((condition[: -len(PREFIX_MARK)], bit, live))
    conditions = _WordConditions(
        words=words,
        prefixes={key: tuple(found) for key, found in prefixes.items()},
        short_prefixes=tuple(short_prefixes),
    )
    return conditions, tuple(needs), always


_Screen = Callable[[Sequence[int], Sequence[int], Sequence[int]], list[int]]


def _screen_source(rules: Sequence[IndexedRule], field_sets: Sequence[Sequence[int]]) -> str:
    """The source of `TagIndex.screen`: the masks of each field set (`p` phrases found or to
    confirm, `l` live regular expressions), then one test per rule, one `&` per mask, no loop.

    Most rules fail on their masks alone, and the loops that try them cost more than the
    tests; written out once as straight code with the masks as constants, trying them all is
    a fraction of it."""
    fields = sorted({number for numbers in field_sets for number in numbers})
    lines = ["def screen(sure, confirm, live):", "    passing = []"]
    if fields:
        names = ", ".join(f"s{n}" for n in fields)
        lines.append(f"    ({names},) = sure")
        lines.append(f"    ({names.replace('s', 'c')},) = confirm")
        lines.append(f"    ({names.replace('s', 'r')},) = live")
    for number, numbers in enumerate(field_sets):
        lines.append(f"    p{number} = {' | '.join(f's{n} | c{n}' for n in numbers) or '0'}")
        lines.append(f"    l{number} = {' | '.join(f'r{n}' for n in numbers) or '0'}")
    for number, rule in enumerate(rules):
        tests = []
        # The entry with the fewest atoms first (the likeliest to end the test), and in an
        # entry the regular expressions first (their ints are the shorter).
        for phrases, regexes in sorted(rule.needs, key=_atom_count):
            either = [
                *([f"l{rule.field_set} & {regexes:#x}"] if regexes else []),
                *([f"p{rule.field_set} & {phrases:#x}"] if phrases else []),
            ]
            tests.append(f"({' or '.join(either)})" if either else "False")
        lines.append(f"    if {' and '.join(tests) or 'False'}:")
        lines.append(f"        passing.append({number})")
    lines.append("    return passing")
    return "\n".join(lines) + "\n"


def _atom_count(masks: _Masks) -> int:
    return sum(mask.bit_count() for mask in masks)


@lru_cache(maxsize=4)
def _compiled_screen(source: str) -> _Screen:
    """`source` (of `_screen_source`, nothing else) compiled, once per process."""
    namespace: dict[str, Any] = {}
    exec(compile(source, "<tag rule screen>", "exec"), namespace)
    screen: _Screen = namespace["screen"]
    return screen


def _renumber(masks: _Masks, renumbered: Mapping[int, int]) -> _Masks:
    """`masks` with its phrase atoms numbered again."""
    phrases, regexes = masks
    return sum(1 << renumbered[atom] for atom in _bits(phrases)), regexes


def _bits(mask: int) -> list[int]:
    """The numbers of the bits set in `mask`, lowest first."""
    found: list[int] = []
    while mask:
        low = mask & -mask
        found.append(low.bit_length() - 1)
        mask ^= low
    return found


# What a summary cut from the body ends with ("…", folded "..."), after its last word.
_CUT_END = " .,;:!?-\u2013\u2014"


def _read(parts: Sequence[str]) -> tuple[str, str, list[bytes]]:
    """A field's text, folded, lower-cased, and its words to look up (some twice, no matter),
    from its parts (match.field_parts).

    Folding the parts and joining them is folding the joined text, where no folded part is
    empty: the separator is a non-space between spaces, so whitespace folds the same either
    side of it, and the characters folding looks at together never run across it. A part
    that is the start of the next one cut short (a feed's summary of the body, "…" at its
    end) has no word the next one lacks but its last, maybe cut: only that one is looked up.
    """
    if not parts:
        return "", "", []
    if len(parts) == 1:
        folded = fold(parts[0])
        lower = folded.lower()
        return folded, lower, word_bytes_of(lower)
    folded_parts = [fold(part) for part in parts]
    if not all(folded_parts):
        folded = fold(PART_SEPARATOR.join(parts))
        lower = folded.lower()
        return folded, lower, word_bytes_of(lower)
    lowers = [part.lower() for part in folded_parts]
    words: list[bytes] = []
    for part, following in zip(lowers, [*lowers[1:], ""], strict=True):
        cut = part.rstrip(_CUT_END)
        if cut and following.startswith(cut):
            words.extend(word_bytes_of(cut.rsplit(None, 1)[-1])[-1:])
        else:
            words.extend(word_bytes_of(part))
    return PART_SEPARATOR.join(folded_parts), PART_SEPARATOR.join(lowers), words


class _Fields:
    """One item's fields: their texts, and what they have (masks per field number); phrases
    are confirmed here, and the answers kept."""

    __slots__ = ("confirm", "index", "live", "met", "sure", "texts")

    def __init__(self, index: TagIndex, fields: Iterable[Sequence[str]]) -> None:
        self.index = index
        self.texts: list[tuple[str, str]] = []  # per field: its text folded, and lower-cased
        self.sure: list[int] = []  # per field: the phrase atoms found
        self.confirm: list[int] = []  # per field: the phrase atoms to confirm, not yet searched
        self.live: list[int] = []  # per field: the regular-expression atoms it makes live
        self.met: list[int] = []  # per field: the regular expressions' condition sets it meets
        scan = index.words.scan
        for parts in fields:
            if parts:
                folded, lower, words = _read(parts)
                sure, confirm, live, met = scan(words)
            else:  # no text (most items have no categories)
                folded = lower = ""
                sure, confirm, live, met = index.words.empty
            self.texts.append((folded, lower))
            self.sure.append(sure)
            self.confirm.append(confirm)
            self.live.append(live)
            self.met.append(met)

    def confirmed(self, number: int, bit: int) -> bool:
        """Whether the phrase atom `bit`, to confirm in field `number`, is found there (it is
        then found, else no longer to confirm)."""
        self.confirm[number] &= ~bit
        expression, lead = self.index.phrases[bit.bit_length() - 1]
        # str.find (fast) says whether, and from where, the engine need look.
        lower = self.texts[number][1]
        at = lower.find(lead)
        if at < 0 or expression.search(lower, at) is None:
            return False
        self.sure[number] |= bit
        return True


class _FieldSet:
    """One field set of one item: its phrase atoms found and to confirm, and its regular
    expressions, run lazily."""

    __slots__ = ("_fields", "_found", "_joined", "_met", "_numbers", "hits", "live", "maybe")

    def __init__(self, fields: _Fields, numbers: tuple[int, ...]) -> None:
        self._fields = fields
        self._numbers = numbers
        hits = maybe = live = met = 0
        for number in numbers:
            hits |= fields.sure[number]
            maybe |= fields.confirm[number]
            live |= fields.live[number]
            met |= fields.met[number]
        self.hits = hits  # phrase atoms found in some field of the set
        self.maybe = maybe & ~hits  # phrase atoms to confirm: searched when a rule asks
        self.live = live  # regular-expression atoms that may match in the joined text
        self._met = met  # the condition sets of regular expressions its words meet
        self._joined: list[str | None] = [None, None]  # its fields joined: folded, lower-cased
        self._found: dict[int, bool] = {}

    def any_phrase(self, atoms: int) -> bool:
        """Whether one of the phrase atoms in the mask `atoms` (all in `maybe`) is found in
        some field of the set; each answer is kept."""
        fields = self._fields
        for number in self._numbers:
            found = fields.sure[number] & atoms  # confirmed for another field set
            pending = fields.confirm[number] & atoms
            while pending and not found:
                low = pending & -pending
                pending ^= low
                if fields.confirmed(number, low):
                    found = low
            if found:
                self.hits |= found
                self.maybe &= ~found
                return True
        self.maybe &= ~atoms
        return False

    def any_regex(self, atoms: int) -> bool:
        """Whether one of the regular-expression atoms in the mask `atoms` matches; each is
        searched at most once."""
        answers = self._found
        while atoms:
            low = atoms & -atoms
            atoms ^= low
            atom = low.bit_length() - 1
            found = answers.get(atom)
            if found is None:
                found = answers[atom] = self._search(atom)
            if found:
                return True
        return False

    def _search(self, atom: int) -> bool:
        index = self._fields.index
        if index.regex_needs[atom] & ~self._met:
            return False  # a word it needs is not in the text
        regex = index.regexes[atom]
        return regex.search(self._joined_text(1 if regex.lower else 0))

    def _joined_text(self, which: int) -> str:
        """The fields of the set joined, as Haystack.join joins them for the reference path
        (empty fields left out): folded (`which` 0), or lower-cased (1); made once each."""
        joined = self._joined[which]
        if joined is None:
            texts = (self._fields.texts[number] for number in self._numbers)
            joined = FIELD_SEPARATOR.join(text[which] for text in texts if text[0])
            self._joined[which] = joined
        return joined


class ItemIndex:
    """One item's fields, folded and indexed, answering the rules of a `TagIndex`."""

    __slots__ = ("_fields", "_views", "index")

    def __init__(self, index: TagIndex, fields: Iterable[Sequence[str]]) -> None:
        """`fields`: the raw texts of each field of `index.field_names`, in that order (see
        `_read`)."""
        self.index = index
        self._fields = _Fields(index, fields)
        self._views: list[_FieldSet | None] = [None] * len(index.field_sets)

    def topics(self) -> list[str]:
        """The tags whose rules fire, in file order: the rules the masks allow (`screen`)
        decided in turn, the rest of a topic's once one fires."""
        index = self.index
        fields = self._fields
        tags: list[str] = []
        rule_list = index.rule_list
        views = self._views
        for number in index.screen(fields.sure, fields.confirm, fields.live):
            tag, rule = rule_list[number]
            if tags and tags[-1] == tag:
                continue
            if self._decides(rule, views[rule.field_set] or self._view(rule.field_set)):
                tags.append(tag)
        return tags

    def fires(self, rule: IndexedRule) -> bool:
        view = self._views[rule.field_set] or self._view(rule.field_set)
        possible = view.hits | view.maybe
        live = view.live
        for phrases, regexes in rule.needs:
            if not phrases & possible and not regexes & live:
                return False
        return self._decides(rule, view)

    def _decides(self, rule: IndexedRule, view: _FieldSet) -> bool:
        """Whether `rule` fires, its masks allowing it: the searches, where a phrase found did
        not decide; phrases first (one search of one field's text), then the regular
        expressions (of the joined text)."""
        none_phrases, none_regexes = rule.none
        if none_phrases & view.hits:
            return False
        for phrases, regexes in rule.needs:
            if phrases & view.hits:
                continue
            pending = phrases & view.maybe
            if pending and view.any_phrase(pending):
                continue
            pending = regexes & view.live
            if not (pending and view.any_regex(pending)):
                return False
        pending = none_phrases & view.maybe
        if pending and view.any_phrase(pending):
            return False
        pending = none_regexes & view.live
        return not (pending and view.any_regex(pending))

    def _view(self, field_set: int) -> _FieldSet:
        view = _FieldSet(self._fields, self.index.field_sets[field_set])
        self._views[field_set] = view
        return view
