"""``re:`` patterns: checked, compiled, and given cheap shortcuts that never change the answer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aggregator.tag.backtracking import nested_repetition
from aggregator.tag.factors import (
    match_leads,
    max_width,
    parse,
    required_factor_sets,
    required_factors,
    word_conditions,
)
from aggregator.tag.fold import fold_non_ascii
from aggregator.tag.haystack import PREFIX_KEY
from aggregator.tag.patterns import REGEX_PREFIX, PatternError

FLAGS = re.IGNORECASE  # for expressions with capitals; the others run on lower-cased text
_ESCAPE = re.compile(r"\\N\{[^}]*\}|\\.")
# A regular expression that matches an empty string here would tag every item.
_EMPTY_PROBES = ("", " ", "a", "a b-c 1.")


@dataclass(frozen=True, slots=True)
class Shortcuts:
    """What a ``re:`` expression's source says about its matches, read once (`Regex.shortcuts`).

    The probe: an expression that starts with ``\\b`` makes the engine try every position of
    the text; without it, a leading literal or group lets the engine skip to candidate
    characters. The probe (the expression minus its leading ``\\b``) matches wherever the whole
    one does, so a text the probe misses is skipped, and the whole expression only runs from
    the probe's first hit on. Most texts miss most probes.
    """

    probe: re.Pattern[str] | None = None
    # Strings one of which the text must contain for a match (see factors.py).
    needs: tuple[str, ...] | None = None
    # Strings one of which every match starts with (factors.py `match_leads`), when none is
    # a single letter: the expression is tried only where str.find sees one, not at every
    # "s" and "v" of the text where "(?:survivors?|victims?)" could start. Used instead of
    # the probe.
    leads: tuple[str, ...] | None = None
    # The most characters a match spans, when bounded ("victims?\\b.{0,40}\\bcsam"), and
    # strings one of which a match has past its lead: from a lead, a match is tried only where
    # one of them follows within that reach.
    width: int | None = None
    within: tuple[str, ...] | None = None
    # For the index: sets of conditions on the text's words, one of each met for a match: "ai"
    # a word that is it, "ai*" a word that starts with it (factors.py `word_conditions`).
    conditions: tuple[frozenset[str], ...] = ()


NO_SHORTCUTS = Shortcuts()  # for an expression to run as it is, on every text


@dataclass(frozen=True, slots=True)
class Regex:
    """A ``re:`` pattern: checked and compiled at load time; its shortcuts read on first use.

    Reading the shortcuts (a probe to compile, the expression parsed and walked) costs more than
    checking the pattern, and a refresh that tags nothing needs none of them.
    """

    expression: re.Pattern[str]
    lower: bool = True  # written in lower case: runs on the lower-cased text
    # First letters a word of the text must start with for a match (see `anchor_keys`).
    keys: frozenset[str] | None = None
    # None until `shortcuts()` reads them; kept when pickled.
    read: Shortcuts | None = field(default=None, compare=False, repr=False)

    def shortcuts(self) -> Shortcuts:
        """The probe and factors of the expression, read once (a race reads them twice, alike)."""
        read = self.read
        if read is None:
            read = _read_shortcuts(self.expression.pattern, 0 if self.lower else FLAGS)
            object.__setattr__(self, "read", read)  # a cache: the value stays what it was
        return read

    def search(self, text: str) -> bool:
        cuts = self.read
        if cuts is None:
            cuts = self.shortcuts()
        if cuts.needs is not None and not any(need in text for need in cuts.needs):
            return False
        if cuts.leads is not None:
            return self._at_leads(text, cuts)
        if cuts.probe is None:
            return self.expression.search(text) is not None
        hit = cuts.probe.search(text)
        return hit is not None and self.expression.search(text, hit.start()) is not None

    def _at_leads(self, text: str, cuts: Shortcuts) -> bool:
        """Whether the expression matches at an occurrence of one of its leads: every match
        starts at one, and a match from a position sees the text before it as a search does.
        A match no longer than `cuts.width` has one of `cuts.within` within that reach."""
        match = self.expression.match
        find = text.find
        needs = cuts.within
        width = cuts.width or 0
        for lead in cuts.leads or ():
            at = find(lead)
            while at >= 0:
                if (
                    needs is None or any(find(need, at, at + width) >= 0 for need in needs)
                ) and match(text, at) is not None:
                    return True
                at = find(lead, at + 1)
        return False


_MIN_LEAD = 2  # letters: a single one ("e") is in most texts, too often


def _read_shortcuts(source: str, flags: int) -> Shortcuts:
    tree = parse(source, flags)  # once, for the readings of it below
    leads = match_leads(source, flags, tree=tree)
    if leads and min(map(len, leads)) < _MIN_LEAD:
        leads = None
    width = max_width(source, flags, tree=tree) if leads else None
    return Shortcuts(
        leads=leads,
        width=width,
        within=_within(required_factor_sets(source, flags, tree=tree), leads) if width else None,
        probe=None if leads else _probe(source, flags),
        needs=required_factors(source, flags, tree=tree),
        conditions=word_conditions(source, flags, on_lower=not flags, tree=tree),
    )


def _within(
    sets: tuple[frozenset[str], ...], leads: tuple[str, ...] | None
) -> tuple[str, ...] | None:
    """The most selective of `sets` that says more than the leads do: not one whose every
    string is where the lead is (a start of one, or one of them continued)."""
    for option in sets:
        if not all(
            any(lead.startswith(s) or s.startswith(lead) for lead in leads or ()) for s in option
        ):
            return tuple(sorted(option))
    return None


def _probe(source: str, flags: int) -> re.Pattern[str] | None:
    if not source.startswith(r"\b") or source[2:3] in ("", "*", "+", "?", "{", "|", ")"):
        return None
    try:
        return re.compile(source[2:], flags)
    except re.error:  # "\b(" ... unbalanced once cut: no probe, the expression still works
        return None


_LEAD_WORD = re.compile(r"([a-z0-9]+)(.?)")
_LEAD_GROUP = re.compile(r"\\b\(\?:((?:[^()\[\]\\]|\\[a-zA-Z])*)\)(.?)")
_QUANTIFIERS = ("?", "*", "{")


def anchor_keys(source: str) -> frozenset[str] | None:
    """The first one to three letters a word must start with wherever `source` matches.

    Only for the shapes that are certain: ``\\bword...`` and ``\\b(?:alt|alt...)...`` with
    every alternative starting with letters or digits, and no top-level ``|``. A literal
    character made optional by ``?``, ``*`` or ``{`` does not count. None: no such letters
    are known, and the expression always runs.
    """
    if not source.startswith(r"\b") or _top_level_bar(source):
        return None
    group = _LEAD_GROUP.match(source)
    if group is not None:
        if group.group(2) in _QUANTIFIERS:
            return None
        alternatives = group.group(1).split("|")
    else:
        alternatives = [source[2:]]
    keys: set[str] = set()
    for alternative in alternatives:
        lead = _LEAD_WORD.match(alternative)
        if lead is None:
            return None
        word = lead.group(1)[:-1] if lead.group(2) in _QUANTIFIERS else lead.group(1)
        if not word:
            return None
        keys.add(word[:PREFIX_KEY])
    return frozenset(keys)


def _top_level_bar(source: str) -> bool:
    """Whether `source` has a "|" outside every group (escapes and classes skipped)."""
    depth = 0
    index = 0
    in_class = False
    while index < len(source):
        ch = source[index]
        if ch == "\\":
            index += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return True
        index += 1
    return False


def has_capitals(source: str) -> bool:
    """Capital letters in a regex source, not counting escapes such as \\B, \\W or \\N{...}."""
    return any(ch.isupper() for ch in _ESCAPE.sub("", source))


def compile_regex(source: str) -> Regex:
    """Compile and check the regular expression of a ``re:`` pattern (prefix removed)."""
    raw = REGEX_PREFIX + source
    if not source:
        raise PatternError(raw, "empty regular expression", "a regular expression after 're:'")
    source = fold_non_ascii(source)
    flags = FLAGS if has_capitals(source) else 0
    try:
        compiled = re.compile(source, flags)
    except re.error as exc:
        message = f"invalid regular expression: {exc}"
        raise PatternError(raw, message, "a Python `re` pattern") from exc
    # Global flags ("(?s)") are what keeps an expression that compiles from being used as a
    # group, and they compile only at its very start (anywhere else the compile above failed):
    # only an expression starting with "(?" needs compiling again, as a group, to tell.
    if source.startswith("(?"):
        try:
            re.compile(f"(?:{source})", flags)
        except re.error as exc:
            # Said of what the user wrote: re's "at position 3" counts in the group around it.
            flags_given = source[: source.find(")") + 1]
            raise PatternError(
                raw,
                f"global flags {flags_given} cannot be used: a rule's patterns run as groups"
                " of one expression (letter case is ignored already, unless the pattern has"
                " capitals)",
                "scoped flags, (?s:...) around the part they are for",
            ) from exc
    control = next((c for c in source if ord(c) < 0x20 and c not in "\t\n\r"), None)
    if control is not None:
        # "\bDMA\b" in double quotes: TOML reads \b as a backspace, which no text holds.
        raise PatternError(
            raw,
            f"regular expression holds the control character U+{ord(control):04X}"
            + (" (\\b in a double-quoted TOML string is a backspace)" if control == "\b" else ""),
            "the pattern in single quotes, 're:\\bDMA\\b', or each backslash doubled",
        )
    if nested_repetition(source, flags):
        raise PatternError(
            raw,
            "regular expression repeats a repetition with nothing required in each turn ((a+)+,"
            " (?:\\w+\\s?)+):"
            " on some texts it backtracks for minutes",
            "a part required in each turn, (?:\\w+\\s?)+ as \\w+(?:\\s\\w+)*, or a bound {1,5}",
        )
    for probe in _EMPTY_PROBES:
        match = compiled.search(probe if flags else probe.lower())
        if match is not None and match.end() == match.start():
            raise PatternError(
                raw, "regular expression matches an empty string", "a pattern that needs text"
            )
    return Regex(
        expression=compiled,
        lower=not flags,
        # Keys are lower-case letters: certain only for an expression without IGNORECASE.
        keys=None if flags else anchor_keys(source),
    )
