"""A large listing page (an `html` source with selectors): parse and normalise, by size.

    python -m bench.listing [--sizes 1000 5000 10000] [--shapes press words shared]
                            [--repeat 1] [--memory]

Builds pages of press-release cards (<article><h3><a href>title</a></h3><time>date</time>
<p>summary</p></article>, ~320 bytes each) and runs them through the real path: parse_document
with an html Source and its selectors, then normalise_document. Prints the CPU seconds of
each stage (the best of `--repeat`), microseconds per entry, and with `--memory` the peak of
Python's allocations during the parse (tracemalloc, which slows the run). A cost that grows
faster than the page shows as microseconds per entry growing with the size. Asserts nothing.

Shapes:
- press: English cards, dates in <time datetime> (ISO: the fast path);
- words: German cards, dates written out ("3. März 2026", read by dateparser, milliseconds
  each), two entries a day;
- shared: every card titled and linked alike (a title selector that finds the section's
  name, a link selector its "all news" link), no date, a text of its own: every entry is
  compared with the others of its link and heading as a possible copy.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

from aggregator.models import Fetched, OrgKind, Selectors, Source, SourceKind
from aggregator.normalise import normalise_document
from aggregator.parse import parse_document

NOW = datetime(2026, 6, 1, tzinfo=UTC)
MONATE = (
    *("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August"),
    *("September", "Oktober", "November", "Dezember"),
)
SELECTORS = Selectors(item="article.pr", title="h3", link="h3 a", date="time", summary="p")


def _day(index: int) -> date:
    return date(2026, 5, 31) - timedelta(days=index // 2)  # two entries a day, newest first


def press(index: int) -> str:
    day = _day(index).isoformat()
    return (
        f'<article class="pr"><h3><a href="/news/press-release-{index}">Minister announces'
        f" measure {index} on child protection online</a></h3>"
        f'<time datetime="{day}T10:00:00Z">{day}</time><p>The government today announced'
        f" measure {index}, which improves the protection of children while keeping"
        f" encryption. Reference {index * 13}.</p></article>"
    )


def words(index: int) -> str:
    day = _day(index)
    return (
        f'<article class="pr"><h3><a href="/pm/{index}">Mitteilung {index} über Kinderschutz'
        f" und Verschlüsselung im Netz</a></h3><time>{day.day}. {MONATE[day.month - 1]}"
        f" {day.year}</time><p>Die Bundesregierung hat heute Maßnahme {index} beschlossen,"
        f" die den Schutz von Kindern verbessert und die Verschlüsselung wahrt.</p></article>"
    )


def shared(index: int) -> str:
    return (
        '<article class="pr"><h3><a href="/press">Press releases</a></h3><p>Statement'
        f" {index} on the <b>matter</b> of the day, with the reference {index * 7}.</p></article>"
    )


SHAPES: dict[str, tuple[Callable[[int], str], str]] = {
    "press": (press, "en"),
    "words": (words, "de"),
    "shared": (shared, "en"),
}


def page(shape: str, entries: int) -> tuple[Source, Fetched]:
    card, language = SHAPES[shape]
    body = "\n".join(card(index) for index in range(entries))
    html = f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8"><title>News'
    html += f"</title></head><body><main>\n{body}\n</main></body></html>"
    source = Source(
        id=f"listing-{shape}",
        name=shape,
        url="https://www.example.org/news/",
        kind=SourceKind.HTML,
        org=OrgKind.GOVERNMENT,
        language=language,
        selectors=SELECTORS,
    )
    headers = {"content-type": "text/html; charset=utf-8"}
    return source, Fetched(url=source.url, status_code=200, content=html.encode(), headers=headers)


def measure(shape: str, entries: int, repeat: int, memory: bool) -> dict[str, float]:
    source, fetched = page(shape, entries)
    best = {"parse": float("inf"), "normalise": float("inf")}
    kept = 0
    for _ in range(repeat):
        started = time.process_time()
        document = parse_document(source, fetched)
        parsed = time.process_time()
        items = normalise_document(source, document, now=NOW)
        done = time.process_time()
        best["parse"] = min(best["parse"], parsed - started)
        best["normalise"] = min(best["normalise"], done - parsed)
        kept = len(items)
    figures = {**best, "bytes": len(fetched.content), "items": kept}
    if memory:
        tracemalloc.start()
        parse_document(source, fetched)
        figures["peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--shapes", nargs="+", choices=sorted(SHAPES), default=list(SHAPES))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--memory", action="store_true", help="peak allocations (slower)")
    args = parser.parse_args(argv)
    for shape in SHAPES:  # the parsers imported before the first measure (dateparser: ~0.5 s)
        parse_document(*page(shape, 2))
    print(
        f"{'shape':<8}{'entries':>8}{'MB':>6}{'items':>7}{'parse s':>9}{'normalise s':>12}"
        f"{'us/entry':>10}" + (f"{'peak MiB':>10}" if args.memory else "")
    )
    for shape in args.shapes:
        for entries in args.sizes:
            got = measure(shape, entries, args.repeat, args.memory)
            total = got["parse"] + got["normalise"]
            print(
                f"{shape:<8}{entries:>8}{got['bytes'] / 1e6:>6.1f}{got['items']:>7.0f}"
                f"{got['parse']:>9.2f}{got['normalise']:>12.2f}{total / entries * 1e6:>10.0f}"
                + (f"{got['peak_mib']:>10.0f}" if args.memory else ""),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
