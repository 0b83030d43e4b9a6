"""A listing page's entries shown more than once, folded into one, in time linear in the
page's entries.

A teaser repeated in several regions of the page has the same link and title (and, where
both regions show them, the same date and summary); entries that share a link, or a link and
a heading (posts all linking to one profile page under the page's name), but not their date
or text are different entries, and normalise gives them identities of their own.

An entry is a copy of the first earlier entry with its link and heading whose date and
summary agree with its own (`_agree`); the copy lends that entry what it shows more fully
(`_fuller`). Comparing every entry with every earlier one of its link and heading, and
reading both summaries' markup at each comparison, took minutes for a page of 2,000
dateless entries under one link and heading (a title selector that finds the section's
name, a link selector that finds its "all news" link): two million comparisons. The earlier
entries are indexed instead by what an agreeing date or summary must share with the new
one, and each summary is read once.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import chain

from aggregator.models import RawItem
from aggregator.text import html_to_text

_SPACES = re.compile(r"\s+")
# How a teaser ends where it was cut: "…", "...", "[…]", "(…)".
_CUT_MARK = re.compile(r"\s*(?:\[\s*(?:…|\.\.\.)\s*\]|\(\s*(?:…|\.\.\.)\s*\)|…|\.\.\.)\s*\Z")


@dataclass(frozen=True, slots=True)
class _Shown:
    """What an entry shows that a copy must agree with, read once per entry."""

    published: datetime | None
    plain: str | None  # the summary as plain text on one line
    uncut: str  # `plain` without the mark where a teaser was cut ("" without a summary)

    @classmethod
    def of(cls, published: datetime | None, summary: str | None) -> _Shown:
        plain = None if summary is None else _SPACES.sub(" ", html_to_text(summary)).strip()
        return cls(published, plain, "" if plain is None else _CUT_MARK.sub("", plain))

    @property
    def kind(self) -> tuple[bool, bool]:
        """Whether it shows a date, and whether a summary: an entry that shows neither
        agrees with every entry, one without a date with every entry whose summary agrees."""
        return self.published is not None, self.plain is not None


def _agree(mine: _Shown, theirs: _Shown) -> bool:
    """Whether nothing that both show differs. A region may leave out the date or the
    summary, give the date without its time, or cut the summary short ("The Council today
    agreed its…")."""
    return _same_date(mine.published, theirs.published) and _same_summary(mine, theirs)


def _same_date(mine: datetime | None, theirs: datetime | None) -> bool:
    if mine is None or theirs is None or mine == theirs:
        return True
    # A date alone ("2026-11-25") and a date and time of that day ("25.11.2026 10:15").
    return (_date_alone(mine) or _date_alone(theirs)) and mine.date() == theirs.date()


def _date_alone(value: datetime) -> bool:
    """Whether `value` is a date without a time of day, as parse_date gives one: midnight
    UTC."""
    return value.utcoffset() == timedelta(0) and value.time() == datetime.min.time()


def _same_summary(mine: _Shown, theirs: _Shown) -> bool:
    if mine.plain is None or theirs.plain is None or mine.plain == theirs.plain:
        return True
    shorter, longer = sorted((mine.uncut, theirs.uncut), key=len)
    return bool(shorter) and longer.startswith(shorter)


class Copies:
    """A page's entries in document order, each copy folded into the entry it repeats."""

    def __init__(self) -> None:
        self.items: list[RawItem] = []
        self._links: list[str] = []  # each entry's canonical link, by place
        # Most entries are alone under their link and heading: the place of such an entry;
        # the entries of a link and heading shown more than once are indexed.
        self._groups: dict[tuple[str, str], int | _Group] = {}
        self._shown: dict[int, _Shown] = {}  # by place, for the entries indexed

    def add(self, link: str, item: RawItem) -> None:
        """`item`, whose canonical link is `link`: a new entry, or a copy of an earlier one."""
        key = (link, (item.title or "").casefold())
        group = self._groups.get(key)
        if group is None:
            self._groups[key] = len(self.items)
            self.items.append(item)
            self._links.append(link)
            return
        if isinstance(group, int):  # a second entry under the link and heading
            first = self.items[group]
            self._shown[group] = _Shown.of(first.published, first.summary)
            indexed = self._groups[key] = _Group()
            indexed.index(group, self._shown[group])
            group = indexed
        shown = _Shown.of(item.published, item.summary)
        place = group.first_agreeing(shown, self._shown)
        if place is None:
            group.index(len(self.items), shown)
            self._shown[len(self.items)] = shown
            self.items.append(item)
            self._links.append(link)
            return
        kept, kept_shown = _fuller(self.items[place], self._shown[place], item, shown)
        group.unindex(place, self._shown[place])
        group.index(place, kept_shown)
        self.items[place] = kept
        self._shown[place] = kept_shown

    def folded(self) -> list[RawItem]:
        """The entries, with a teaser whose title was cut short ("Council and Parliament
        reach provisional…", a carousel's) folded into the one entry of its link whose title
        it begins and whose date agrees: in `add` they have different headings."""
        by_link: dict[str, list[int]] = {}
        for place, link in enumerate(self._links):
            by_link.setdefault(link, []).append(place)
        gone: set[int] = set()
        for places in by_link.values():
            for place in places if len(places) > 1 else ():
                cut = _cut_title(self.items[place].title)
                if cut is None:
                    continue
                whole = [
                    other
                    for other in places
                    if other != place
                    and other not in gone
                    and _cut_title(self.items[other].title) is None
                    and (self.items[other].title or "").casefold().startswith(cut)
                    and _same_date(self.items[place].published, self.items[other].published)
                ]
                if len(whole) != 1:
                    continue  # none, or which is meant cannot be told
                kept, teaser = self.items[whole[0]], self.items[place]
                self.items[whole[0]], _ = _fuller(
                    kept,
                    _Shown.of(kept.published, kept.summary),
                    teaser,
                    _Shown.of(teaser.published, teaser.summary),
                )
                gone.add(place)
        return [item for place, item in enumerate(self.items) if place not in gone]


# A cut title must keep this much to be told by its start.
_MIN_CUT_TITLE = 12


def _cut_title(title: str | None) -> str | None:
    """A title cut short, without its mark and casefolded; None for a whole one."""
    if not title or not _CUT_MARK.search(title):
        return None
    start = _CUT_MARK.sub("", title).casefold()
    return start if len(start) >= _MIN_CUT_TITLE else None


def _fuller(
    kept: RawItem, kept_shown: _Shown, copy: RawItem, shown: _Shown
) -> tuple[RawItem, _Shown]:
    """The first copy of an entry, with the fuller of what the copies show: the date with
    its time, the longer summary."""
    published = _more_precise(kept.published, copy.published)
    if kept.summary is None or (
        copy.summary is not None and len(shown.plain or "") > len(kept_shown.plain or "")
    ):
        summary, plain, uncut = copy.summary, shown.plain, shown.uncut
    else:
        summary, plain, uncut = kept.summary, kept_shown.plain, kept_shown.uncut
    fuller = replace(
        kept, published=published, summary=summary, language=kept.language or copy.language
    )
    return fuller, _Shown(published, plain, uncut)


def _more_precise(kept: datetime | None, other: datetime | None) -> datetime | None:
    if kept is None or (other is not None and _date_alone(kept) and not _date_alone(other)):
        return other
    return kept


# What the places of a group's entries are indexed by: ("day", with a summary, the day).
_Key = tuple[str, bool, object]


class _Group:
    """The entries of one link and heading, by place in the page, indexed by what an entry
    that agrees with them must share: its date, its calendar day, its summary, or the
    start of its summary. Each index holds the places of one kind of entry (with or
    without a date, with or without a summary), in order."""

    def __init__(self) -> None:
        self._places: dict[_Key, list[int]] = {}
        # The uncut summaries indexed, in order, for each kind of entry with a summary: the
        # ones a summary starts with, and the ones that start with it, are found by bisection.
        self._summaries: dict[bool, list[str]] = {False: [], True: []}

    def first_agreeing(self, shown: _Shown, every: dict[int, _Shown]) -> int | None:
        """The first place whose entry (`every[place]`) agrees with `shown`, or None."""
        dated, summarised = shown.kind
        found = [
            # Entries that show neither date nor summary agree with every entry.
            self._first(("all", False, False)),
            # Those without a date agree with every entry whose summary agrees; those
            # without a summary with every entry whose date agrees.
            self._first_of(self._by_summary(False, shown)),
            self._first_of(self._by_date(False, shown)),
        ]
        if not dated:
            found.append(self._first_of(self._by_summary(True, shown)))
        elif not summarised:
            found.append(self._first_of(self._by_date(True, shown)))
        else:  # both must agree: the fewer entries that agree in one are checked in the other
            by_date, by_summary = (
                list(self._by_date(True, shown)),
                list(self._by_summary(True, shown)),
            )
            fewer = min(by_date, by_summary, key=lambda lists: sum(map(len, lists)))
            agreeing = (place for place in chain(*fewer) if _agree(shown, every[place]))
            found.append(min(agreeing, default=None))
        return min((place for place in found if place is not None), default=None)

    def index(self, place: int, shown: _Shown) -> None:
        for key in self._keys(shown):
            insort(self._places.setdefault(key, []), place)
        dated, summarised = shown.kind
        if summarised and shown.uncut and len(self._places[("uncut", dated, shown.uncut)]) == 1:
            insort(self._summaries[dated], shown.uncut)

    def unindex(self, place: int, shown: _Shown) -> None:
        for key in self._keys(shown):
            places = self._places[key]
            del places[bisect_left(places, place)]
            if not places:
                del self._places[key]
        dated, summarised = shown.kind
        if summarised and shown.uncut and ("uncut", dated, shown.uncut) not in self._places:
            summaries = self._summaries[dated]
            del summaries[bisect_left(summaries, shown.uncut)]

    def _keys(self, shown: _Shown) -> Iterator[_Key]:
        dated, summarised = shown.kind
        yield ("all", dated, summarised)
        if shown.published is not None:
            day = shown.published.date()
            yield ("at", summarised, shown.published)
            yield ("day", summarised, day)
            if _date_alone(shown.published):
                yield ("alone", summarised, day)
        if shown.plain is not None:
            yield ("plain", dated, shown.plain)
            if shown.uncut:
                yield ("uncut", dated, shown.uncut)

    def _first(self, key: _Key) -> int | None:
        places = self._places.get(key)
        return places[0] if places else None

    def _first_of(self, lists: Iterator[list[int]]) -> int | None:
        return min((places[0] for places in lists if places), default=None)

    def _by_date(self, summarised: bool, shown: _Shown) -> Iterator[list[int]]:
        """The places of the dated entries (with a summary or without) whose date agrees
        with `shown`'s: all of them when it shows none."""
        if shown.published is None:
            yield self._places.get(("all", True, summarised), [])
            return
        day = shown.published.date()
        yield self._places.get(("at", summarised, shown.published), [])  # the same time
        # A date alone agrees with any time of its day.
        yield self._places.get(("alone", summarised, day), [])
        if _date_alone(shown.published):
            yield self._places.get(("day", summarised, day), [])

    def _by_summary(self, dated: bool, shown: _Shown) -> Iterator[list[int]]:
        """The places of the entries with a summary (dated or not) whose summary agrees
        with `shown`'s: all of them when it shows none."""
        if shown.plain is None:
            yield self._places.get(("all", dated, True), [])
            return
        yield self._places.get(("plain", dated, shown.plain), [])
        if not shown.uncut:
            return
        summaries = self._summaries[dated]
        for summary in chain(
            _prefixes(shown.uncut, summaries), _extensions(shown.uncut, summaries)
        ):
            yield self._places[("uncut", dated, summary)]


def _prefixes(text: str, ordered: list[str]) -> Iterator[str]:
    """The strings of `ordered` (sorted) that `text` starts with, longest first.

    The last string not after `text` is either one that it starts with, or shares with it
    a start that every shorter one it starts with lies within: a few bisections, not a look
    at every string.
    """
    bound = text
    while bound:
        at = bisect_right(ordered, bound) - 1
        if at < 0:
            return
        candidate = ordered[at]
        if bound.startswith(candidate):
            yield candidate
            bound = candidate[:-1]
        else:
            bound = bound[: _common_start(bound, candidate)]


def _extensions(text: str, ordered: list[str]) -> Iterator[str]:
    """The strings of `ordered` (sorted) that start with `text`: one run of them."""
    at = bisect_left(ordered, text)
    while at < len(ordered) and ordered[at].startswith(text):
        yield ordered[at]
        at += 1


def _common_start(one: str, other: str) -> int:
    """The length of the start that `one` and `other` share."""
    length = min(len(one), len(other))
    low, high = 0, length  # bisected: a summary may be paragraphs long
    while low < high:
        middle = (low + high + 1) // 2
        if one[:middle] == other[:middle]:
            low = middle
        else:
            high = middle - 1
    return low
