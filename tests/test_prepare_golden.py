"""`prepare` gives what it gave when tests/data/prepared_golden.json was written, byte for byte.

The parse worker's stages (parse, normalise, tag, fingerprint) are made faster from time to
time; none of that may change what they make. The recording holds, for every document of the
sets below, a digest of what `prepare` returned for it (`seen`, warnings, `ttl`) and a digest
of each item it returned: every field of the Item (tags included, datetimes by `repr`, so a
zone of another type is another value), and the item's dedupe fingerprint.

- farm: the bench farm's feeds (bench/farm.py), with the source bench.refresh configures
  (language "en") and, for more of them, with a source that names no language (detected);
  some of these again with `known` content hashes (unchanged items are not tagged);
- corpus: every feed, edge case and derived feed of ../shared/corpus, the European
  Parliament procedure files, and the listing pages with the selectors test_parse_html.py
  gives them;
- fixtures: the parse tests' own feeds and listing pages (tests/data/parse).

A deliberate change of what any stage makes changes lines: write the file again and read the
diff:

    AGGREGATOR_CORPUS=/work/shared/corpus .venv/bin/python -m tests.test_prepare_golden
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from aggregator.errors import ParseError
from aggregator.models import Fetched, Item, OrgKind, Selectors, Source, SourceKind
from aggregator.prepare import prepare
from aggregator.prepare_worker import Prepared
from aggregator.tag import TagRules, load_tag_rules
from bench.farm import feed_count_items, render
from tests.conftest import corpus_path
from tests.support_parse import PARSE_DATA, feed_source, html_source
from tests.test_parse_html import ARCOM, BMJ, COUNCIL, LISTINGS

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "data" / "prepared_golden.json"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
FARM_EN = 150  # the first feeds, as bench.refresh configures them
FARM_DETECTED = 100  # the next ones with a source that names no language
FARM_KNOWN = 20  # the first ones again, every other item known unchanged

Case = tuple[str, Source, Fetched]
Recorded = dict[str, list[str]]  # document -> [its digest, then each item's digest]


# --- the documents ---------------------------------------------------------------------------


def farm_cases() -> Iterator[Case]:
    for index in range(FARM_EN + FARM_DETECTED):
        url = f"http://127.0.0.1/feeds/{index}"
        named = index < FARM_EN
        source = Source(
            id=f"farm-{index}",
            name=f"Farm feed {index}",
            url=url,
            kind=SourceKind.FEED,
            org=OrgKind.PRESS,
            country="EU" if named else None,
            language="en" if named else None,
        )
        body = render(index, feed_count_items(index), "http://127.0.0.1")
        yield f"farm:{index}", source, Fetched(url=url, status_code=200, content=body)


def corpus_cases(corpus: Path) -> Iterator[Case]:
    paths = [
        *sorted((corpus / "feeds").iterdir()),
        *sorted((corpus / "edgecases").iterdir()),
        *sorted((corpus / "derived").glob("*.xml")),
    ]
    for number, path in enumerate(paths):
        source = Source(
            id=f"corpus-{number}",
            name=path.name,
            url="https://feeds.example.org/feed.xml",
            kind=SourceKind.FEED,
            org=list(OrgKind)[number % len(OrgKind)],
        )
        yield f"feed:{path.name}", source, _fetched(source.url, path.read_bytes())
    for path in sorted((corpus / "parliament").glob("odp-procedure_*.json")):
        number = path.stem.removeprefix("odp-procedure_")
        # Each file's own procedure: one of another is an error of the source.
        reference = number.replace("-", "/") + ("(REG)" if number == "2024-2006" else "(COD)")
        source = Source(
            id=f"proc-{path.stem}",
            name=path.name,
            url="https://example.org/procedure",
            kind=SourceKind.EP_PROCEDURE,
            org=OrgKind.PARLIAMENT,
            reference=reference,
        )
        yield f"procedure:{path.name}", source, _fetched(source.url, path.read_bytes())
    for name, listing in sorted(LISTINGS.items()):
        page = (corpus / "html" / "listing" / name).read_bytes()
        for language in (listing.language, None):
            source = html_source(listing.selectors, language=language)
            yield f"listing:{name}:{language}", source, _fetched(listing.url, page, "text/html")


def fixture_cases() -> Iterator[Case]:
    pages: dict[str, tuple[Selectors, str]] = {
        "consilium_press_releases_listing.html": (
            COUNCIL,
            "https://www.consilium.europa.eu/en/press/press-releases/",
        ),
        "arcom_actualites_fr.html": (ARCOM, "https://www.arcom.fr/actualites"),
        "bmj_pressemitteilungen_de_latin1.html": (BMJ, "https://www.bmj.de/presse"),
    }
    for name, (selectors, url) in pages.items():
        page = (PARSE_DATA / name).read_bytes()
        yield f"fixture:{name}", html_source(selectors), _fetched(url, page, "text/html")
    for path in sorted(PARSE_DATA.iterdir()):
        if path.suffix in (".rss", ".atom", ".xml", ".json"):
            source = feed_source("fixture-feed")
            yield f"fixture:{path.name}", source, _fetched(source.url, path.read_bytes())


def _fetched(url: str, content: bytes, content_type: str | None = None) -> Fetched:
    headers = {"content-type": content_type} if content_type else {}
    return Fetched(url=url, status_code=200, content=content, headers=headers)


# --- the digests -----------------------------------------------------------------------------


def canonical(value: object) -> object:
    """`value` as JSON can hold it, every distinction kept (datetimes and zones by repr)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return repr(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return [type(value).__name__, value]
    if isinstance(value, bytes):
        return ["bytes", value.hex()]
    if isinstance(value, date | timedelta):  # datetime is a date
        return repr(value)
    if isinstance(value, frozenset | set):
        return ["set", sorted(json.dumps(canonical(v), sort_keys=True) for v in value)]
    if isinstance(value, tuple | list):
        return [type(value).__name__, [canonical(v) for v in value]]
    if isinstance(value, dict):
        return ["dict", [[canonical(k), canonical(v)] for k, v in value.items()]]
    raise TypeError(f"no canonical form for {type(value).__name__}")


def digest(value: object) -> str:
    data = json.dumps(canonical(value), sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def recorded_form(prepared: Prepared) -> list[str]:
    """The document's digest (its fingerprints' keys in order included), then each item's."""
    document = (prepared.seen, prepared.warnings, prepared.ttl, list(prepared.fingerprints))
    items = [digest((item, prepared.fingerprints.get(item.identity))) for item in prepared.items]
    return [digest(document), *items]


def prepare_all(cases: Iterator[Case], rules: TagRules) -> Recorded:
    out: Recorded = {}
    for name, source, fetched in cases:
        try:
            prepared = prepare(source, fetched, NOW, rules, {})
        except ParseError as error:
            out[name] = [f"ParseError: {error}"]
            continue
        out[name] = recorded_form(prepared)
        if name.startswith("farm:") and int(name.split(":")[1]) < FARM_KNOWN:
            known = _known(prepared.items)
            out[f"{name}:known"] = recorded_form(prepare(source, fetched, NOW, rules, known))
    return out


def _known(items: tuple[Item, ...]) -> dict[str, str]:
    """Every other item unchanged, every fourth changed (another content hash)."""
    known = {}
    for number, item in enumerate(items):
        if number % 2 == 0:
            known[item.identity] = item.content_hash
        elif number % 4 == 1:
            known[item.identity] = "v1:changed"
    return known


def all_recorded(corpus: Path) -> Recorded:
    rules = load_tag_rules(ROOT / "config" / "tags.toml")
    return {
        **prepare_all(farm_cases(), rules),
        **prepare_all(corpus_cases(corpus), rules),
        **prepare_all(fixture_cases(), rules),
    }


# --- the test --------------------------------------------------------------------------------


def test_prepare_gives_the_recorded_items(corpus: Path) -> None:
    golden: Recorded = json.loads(GOLDEN.read_text("utf-8"))
    now = all_recorded(corpus)
    assert sorted(now) == sorted(golden)
    assert sum(len(entry) - 1 for entry in golden.values()) > 8000
    wrong = [name for name in golden if now[name] != golden[name]]
    assert wrong == []


def main() -> int:
    recorded = all_recorded(corpus_path())
    GOLDEN.write_text(json.dumps(recorded, indent=0, sort_keys=True) + "\n", "utf-8")
    items = sum(len(entry) - 1 for entry in recorded.values())
    print(f"{GOLDEN}: {len(recorded)} documents, {items} items, {GOLDEN.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
