"""A listing page of thousands of entries costs in proportion to its entries: copies of one
entry (aggregator.parse.copies) are found as comparing each entry with every earlier one
finds them, without those comparisons, and each date text is read once. Costs are counted,
not timed; `python -m bench.listing` times whole pages."""

from __future__ import annotations

import random
import re
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from aggregator.models import RawItem, Selectors
from aggregator.parse import copies, parse_document
from aggregator.text import html_to_text
from aggregator.urls import canonical_url
from tests.support_parse import fetched, html_source

# -- The fold as it was first written: every entry compared with every earlier one of its
# link and heading, in order. The index must give exactly what this gives.

_SPACES = re.compile(r"\s+")
_CUT_MARK = re.compile(r"\s*(?:\[\s*(?:…|\.\.\.)\s*\]|\(\s*(?:…|\.\.\.)\s*\)|…|\.\.\.)\s*\Z")


def _plain(summary: str | None) -> str | None:
    return None if summary is None else _SPACES.sub(" ", html_to_text(summary)).strip()


def _alone(value: datetime) -> bool:
    return value.utcoffset() == timedelta(0) and value.time() == datetime.min.time()


def _same_date(mine: datetime | None, theirs: datetime | None) -> bool:
    if mine is None or theirs is None or mine == theirs:
        return True
    return (_alone(mine) or _alone(theirs)) and mine.date() == theirs.date()


def _same_summary(mine: str | None, theirs: str | None) -> bool:
    if mine is None or theirs is None or mine == theirs:
        return True
    shorter, longer = sorted((_CUT_MARK.sub("", mine), _CUT_MARK.sub("", theirs)), key=len)
    return bool(shorter) and longer.startswith(shorter)


def _repeats(item: RawItem, earlier: RawItem) -> bool:
    return _same_date(item.published, earlier.published) and _same_summary(
        _plain(item.summary), _plain(earlier.summary)
    )


def _fuller(kept: RawItem, other: RawItem) -> RawItem:
    published = kept.published
    if published is None or (
        other.published is not None and _alone(published) and not _alone(other.published)
    ):
        published = other.published
    summary = kept.summary
    if summary is None or (
        other.summary is not None and len(_plain(other.summary) or "") > len(_plain(summary) or "")
    ):
        summary = other.summary
    return replace(
        kept, published=published, summary=summary, language=kept.language or other.language
    )


def every_pair(items: list[RawItem]) -> list[RawItem]:
    kept: list[RawItem] = []
    seen: dict[tuple[str, str], list[int]] = {}
    for item in items:
        assert item.url is not None
        places = seen.setdefault((canonical_url(item.url), (item.title or "").casefold()), [])
        place = next((at for at in places if _repeats(item, kept[at])), None)
        if place is None:
            places.append(len(kept))
            kept.append(item)
        else:
            kept[place] = _fuller(kept[place], item)
    return kept


def indexed(items: list[RawItem]) -> list[RawItem]:
    folded = copies.Copies()
    for item in items:
        assert item.url is not None
        folded.add(canonical_url(item.url), item)
    return folded.items


# What the entries of a page may show, chosen so that many agree in one way and not in
# another: one instant at two offsets, dates alone and times of their day, a naive time,
# summaries cut short, marked up, spaced differently, or only a cut mark.
URLS = ["https://e.example/n/1", "https://e.example/n/1?utm_source=home", "https://e.example/n/2"]
TITLES = ["Press release", "PRESS release", "Council position", None]
DATES = [
    None,
    datetime(2026, 3, 3, tzinfo=UTC),
    datetime(2026, 3, 3, 10, 15, tzinfo=UTC),
    datetime(2026, 3, 3, 11, 15, tzinfo=timezone(timedelta(hours=1))),
    datetime(2026, 3, 3, 23, 30, tzinfo=timezone(timedelta(hours=-1))),
    datetime(2026, 3, 4, tzinfo=UTC),
    datetime(2026, 3, 4, 0, 30, tzinfo=UTC),
    datetime(2026, 3, 3, 10, 15),
    datetime(2026, 3, 3),
    datetime(2026, 3, 3, tzinfo=timezone(timedelta(hours=2))),
]
SUMMARIES = [
    None,
    "The Council agreed",
    "The Council agreed its position…",
    "The Council agreed its position on the text",
    "<p>The <b>Council</b> agreed its   position on the text</p>",
    "The Council agreed its position on the text [...]",
    "The Council agreed its position on the text, then left (…)",
    "The council agreed",
    "The",
    "…",
    "...",
    "Other words",
    "Other",
]
LANGUAGES = [None, "de", "fr"]


def random_entries(rng: random.Random, count: int) -> list[RawItem]:
    return [
        RawItem(
            url=rng.choice(URLS),
            title=rng.choice(TITLES),
            published=rng.choice(DATES),
            summary=rng.choice(SUMMARIES),
            language=rng.choice(LANGUAGES),
        )
        for _ in range(count)
    ]


@pytest.mark.parametrize("seed", range(40))
def test_the_index_folds_as_comparing_every_pair_does(seed: int) -> None:
    rng = random.Random(seed)
    for count in (*range(1, 12), 30, 60, 200):
        entries = random_entries(rng, count)
        assert indexed(entries) == every_pair(entries), (seed, count)


def test_many_different_entries_under_one_link_and_heading_fold_as_before() -> None:
    rng = random.Random(7)
    entries = [
        RawItem(
            url="https://e.example/news/",
            title="Press release",
            published=rng.choice([None, datetime(2026, 3, 1 + i % 28, tzinfo=UTC)]),
            summary=rng.choice([None, f"Statement {i % 97} of the day", f"Statement {i % 97}…"]),
        )
        for i in range(600)
    ]
    assert indexed(entries) == every_pair(entries)


# -- The cost, counted (not timed): through the real parser.


def listing(count: int, *, dated: bool) -> bytes:
    """A page of `count` entries all titled and linked alike (a title selector that finds
    the section's name, a link selector its "all news" link), each with its own text."""
    cards = "".join(
        '<article><h3><a href="/press">Press release</a></h3>'
        + (f'<time datetime="2026-03-{1 + i % 28:02d}">x</time>' if dated else "")
        + f"<p>Statement number {i} on the <b>matter</b> of the day.</p></article>"
        for i in range(count)
    )
    return f'<html lang="en"><body>{cards}</body></html>'.encode()


def counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[Any]:
    """Count calls of `name` in every module of aggregator.parse that calls it by that name."""
    calls: list[Any] = []
    modules = [m for n, m in sys.modules.items() if n.startswith("aggregator.parse")]
    patched = [module for module in modules if callable(getattr(module, name, None))]
    assert patched, name
    for module in patched:
        original: Callable[..., Any] = getattr(module, name)

        def counted(*args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            calls.append(args[0] if args else None)
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.parametrize("dated", [False, True], ids=["dateless", "dated"])
def test_entries_under_one_link_and_heading_read_each_summary_a_few_times(
    dated: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 300
    selectors = Selectors(
        item="article", title="h3", link="h3 a", date="time" if dated else None, summary="p"
    )
    source = html_source(selectors, language="en")
    page = fetched(listing(count, dated=dated), "https://e.example/news/")
    parse_document(source, page)  # the parser's modules imported, to be counted in
    calls = counting(monkeypatch, "html_to_text")
    doc = parse_document(source, page)
    assert len(doc.items) == count  # every entry its own: no two texts agree
    # A title, a summary checked for text, a summary read for comparing: not once for every
    # earlier entry of the link and heading (45,000 readings, minutes on a larger page).
    assert len(calls) <= 4 * count


def test_the_index_compares_few_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    compared = counting(monkeypatch, "_agree")
    count = 2000
    entries = [
        RawItem(
            url="https://e.example/news/",
            title="Press release",
            published=datetime(2020, 1, 1, 9, tzinfo=UTC) + timedelta(days=i % 700, hours=i % 5),
            summary=f"Statement {i % 1000} of the day" + ("…" if i % 3 else ""),
        )
        for i in range(count)
    ]
    assert len(indexed(entries)) == count  # the same words on another day: another entry
    # Entries are checked against the ones that share their date or their summary's start,
    # not against every earlier one (two million comparisons).
    assert 0 < len(compared) <= 4 * count


def test_each_date_text_of_a_page_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    days = ["3. März 2026", "4. März 2026", "5. März 2026"]
    cards = "".join(
        f'<div class="pm"><h2><a href="pm-{i}">Mitteilung {i}</a></h2>'
        f'<div class="datum">{days[i % 3]}</div></div>'
        for i in range(300)
    )
    selectors = Selectors(item="div.pm", title="h2", link="h2 a", date=".datum")
    source = html_source(selectors, language="de")
    page = fetched(f'<html lang="de"><body>{cards}</body></html>'.encode(), "https://e.example/")
    parse_document(source, page)
    read = counting(monkeypatch, "parse_date")
    doc = parse_document(source, page)
    # dateparser takes milliseconds a German date: 300 of them were a second of a refresh.
    assert sorted(read) == days
    assert [item.published for item in doc.items[:4]] == [
        datetime(2026, 3, day, tzinfo=UTC) for day in (3, 4, 5, 3)
    ]
