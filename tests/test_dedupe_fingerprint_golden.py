"""Fingerprints are stored (items.text_hash, items.signature, items.buckets) and compared with
ones computed later, so a faster way of computing them must give the very same bytes. This
compares every part of the Fingerprint (and of `features`, which shares its tokeniser,
shingles and MinHash) of ~2,400 varied items with digests recorded before the fast paths
were written: the labelled set, the corpus's items (the Openmag records, and every corpus
feed and procedure file run through parse and normalise), bench farm items, and generated
texts that stress the tokeniser (NFKC, case folding, scripts, numbers, dates, abbreviations,
procedure references, empty and huge texts), under the default thresholds and four others.

The recording is tests/data/fingerprints_golden.json, keyed by a digest of each item's
inputs: an item that parsing, normalising or the farm now builds otherwise is left out, and
when too many are (test_most_recorded_items_are_built_again), record again:

    AGGREGATOR_CORPUS=/work/shared/corpus python -m tests.test_dedupe_fingerprint_golden

That refuses when an item already recorded has other digests now, unless FEATURES_VERSION
(thresholds.py) was bumped: stored fingerprints must then be computed again.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import sys
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.dedupe import signatures
from aggregator.dedupe.labelled import load_corpus, load_labelled
from aggregator.dedupe.records import DedupeItem, Features, Fingerprint
from aggregator.dedupe.signatures import features, fingerprint, fingerprints, words
from aggregator.dedupe.thresholds import DEFAULT, FEATURES_VERSION, Thresholds
from aggregator.models import Fetched, OrgKind, Source, SourceKind
from aggregator.normalise import normalise_document
from aggregator.parse import ParseError, parse_document
from aggregator.prepare import dedupe_item
from bench.farm import feed_count_items, render
from bench.tag import farm_source
from tests.conftest import corpus_path

GOLDEN = Path(__file__).resolve().parent / "data" / "fingerprints_golden.json"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
FARM_FEEDS = 40

# Thresholds other than the default take other paths: one-word shingles, shingles longer than
# `min_tokens` (an item shorter than a shingle but long enough to match), bands of 4 rows, and
# rows that leave signature values out of every band.
VARIANTS = {
    "size1": Thresholds(shingle_size=1),
    "size5_min3": Thresholds(shingle_size=5, min_tokens=3),
    "perm128": Thresholds(num_perm=128, bands=32),
    "perm100": Thresholds(num_perm=100, bands=32, lead_tokens=1, min_title_tokens=1),
}

Documents = dict[str, list[DedupeItem]]


# --- the items -------------------------------------------------------------------------------


def labelled_documents(corpus: Path) -> Documents:
    return {
        "labelled": [entry.item for entry in load_labelled()],
        "openmag": [entry.item for entry in load_corpus(corpus)],
    }


def corpus_feed_documents(corpus: Path) -> Documents:
    """Every corpus feed, edge case and derived feed as a refresh reads it, one per document."""
    documents: Documents = {}
    paths = [
        *sorted((corpus / "feeds").iterdir()),
        *sorted((corpus / "edgecases").iterdir()),
        *sorted((corpus / "derived").glob("*.xml")),
    ]
    for number, path in enumerate(paths):
        org = list(OrgKind)[number % len(OrgKind)]
        source = Source(
            id=f"corpus-{number}", name=path.name, url="https://example.org/feed",
            kind=SourceKind.FEED, org=org,
        )  # fmt: skip
        items = _read(source, path.read_bytes())
        if items:
            documents[f"feed:{path.name}"] = items
    for path in sorted((corpus / "parliament").glob("odp-procedure_*.json")):
        reference = path.stem.removeprefix("odp-procedure_").replace("-", "/") + "(COD)"
        source = Source(
            id=f"proc-{path.stem}", name=path.name, url="https://example.org/procedure",
            kind=SourceKind.EP_PROCEDURE, org=OrgKind.PARLIAMENT, reference=reference,
        )  # fmt: skip
        items = _read(source, path.read_bytes())
        if items:
            documents[f"procedure:{path.name}"] = items
    return documents


def _read(source: Source, content: bytes) -> list[DedupeItem]:
    fetched = Fetched(url=source.url, status_code=200, content=content)
    try:
        document = parse_document(source, fetched)
    except ParseError:
        return []
    return [dedupe_item(item, source) for item in normalise_document(source, document, now=NOW)]


def farm_documents() -> Documents:
    """The first farm feeds, built as bench/store.py builds them."""
    documents: Documents = {}
    for index in range(FARM_FEEDS):
        source = farm_source(index)
        body = render(index, feed_count_items(index), "http://127.0.0.1")
        document = parse_document(source, Fetched(url=source.url, status_code=200, content=body))
        items = normalise_document(source, document, now=NOW)
        documents[f"farm:{index}"] = [dedupe_item(item, source) for item in items]
    return documents


# Pieces a tokeniser can get wrong: NFKC compatibility forms (ligatures, full-width, super-
# and subscripts, Roman numerals, NBSP, units), characters whose case folding is longer or
# leaves the word class (İ, ΐ, ǰ, ẖ, ᾳ, the combining ypogegrammeni), final sigma, ß, scripts,
# digits of other scripts, numbers, dates, abbreviations, procedure references, punctuation.
TRICKY_PIECES = (
    *("ﬁle", "ﬂow", "ﬀ", "ＡＢＣ", "ｅｕ", "x²", "H₂O", "Ⅻ", "ⅷ", "\u00a0", "㎏", "ℌ", "①", "½"),
    *("İstanbul", "ΐ", "ǰ", "ẖ", "ᾳ", "ᾼ", "\u0345", "ΰ", "ﬅ", "ŉ", "K", "Å", "µ"),
    *("ΟΔΟΣ", "σοφός", "Straße", "STRASSE", "ẞ", "ı", "I", "ǅ", "ǈ"),
    *("Zażółć", "gęślą", "jaźń", "Łódź", "Ελλάδα", "Ἀθῆναι", "Москва", "Україна", "ёлка"),
    *("北京市", "東京", "한국어", "العربية", "٣٤", "१२३", "עברית", "ไทย"),
    *("e\u0301", "é", "a\u0308", "\u200b", "\u200d", "\ufeff", "👩\u200d💻", "🇪🇺"),
    *("1.5", "million", "1,234.56", "2023/1215", "19.12.2025", "2025-12-19", "3rd", "10%"),
    *("EUR", "€5m", "U.S.", "e.g.", "Dr.", "No.", "Art.", "i.e.", "St.", "approx."),
    *("2022/0155(COD)", "2022 / 0155 ( cod )", "1999/0001(NLE)", "12022/0155(COD)"),
    *("The", "the", "Council", "Commission", "agreed", "on", "and", "der", "die", "Le", "x_y"),
    *(".", "!", "?", ":", ";", ",", "'", '"', "\u2019", "\u201d", ")", "]", "-", "—", "…"),
    *(" ", " ", " ", "  ", "\n", "\t", "\r\n", "\n\n", " . ", "?! "),
)

TRICKY_TEXTS = (
    "",
    " ",
    "\n\n",
    "...",
    "Word",
    "word.",
    "Two words",
    "ﬁ",
    "İ",
    "\u0345\u0345",
    "one two three four five six seven eight",
    "On 2022/0155(COD) the Parliament voted.",
    "Les élèves de l'école ont dit « bonjour » au Président.",
    "Die Europäische Kommission hat heute – am 19. Dezember 2025 – die Straße gesperrt.",
    "Komisja Europejska przyjęła dziś wniosek dotyczący rozporządzenia 2023/1215.",
    "Η Ευρωπαϊκή Επιτροπή ενέκρινε σήμερα τον κανονισμό. ΟΔΟΣ ΣΟΦΟΣ.",
    "Европейская комиссия сегодня одобрила регламент. Киев, Україна.",
    "ＦＵＬＬ　ＷＩＤＴＨ　ｔｅｘｔ　１２３",
    " ".join(["repeat"] * 50),
    " ".join(f"word{n}" for n in range(5000)) + ".",
    ". ".join("The Council agreed on 12 March 2024 with Dr. Smith" for _ in range(300)),
)


def tricky_documents() -> Documents:
    """Fixed texts, and texts drawn from TRICKY_PIECES by a hash-based (version-proof) draw."""
    texts = [*TRICKY_TEXTS, *itertools.islice(_drawn_texts(), 400)]
    items = []
    for number, text in enumerate(texts):
        title = texts[(number * 7 + 3) % len(texts)][:80]
        items.append(_item(number, title, text))
    return {"tricky": items}


def _drawn_texts() -> Iterator[str]:
    for number in itertools.count():
        stream = _byte_stream(f"text:{number}")
        length = next(stream) % 60 + (next(stream) % 4) * next(stream)
        yield "".join(TRICKY_PIECES[next(stream) % len(TRICKY_PIECES)] for _ in range(length))


def _byte_stream(seed: str) -> Iterator[int]:
    for block in itertools.count():
        yield from hashlib.blake2b(f"{seed}:{block}".encode()).digest()


def _item(number: int, title: str, text: str) -> DedupeItem:
    kinds = (SourceKind.FEED, SourceKind.HTML, SourceKind.EP_PROCEDURE)
    # Some near midnight in Brussels (the procedure day), some not in UTC.
    zone = timezone(timedelta(hours=(number % 5) - 2))
    published = datetime(2025, 12, 19, 22, 30, tzinfo=UTC) + timedelta(minutes=17 * number)
    return DedupeItem(
        key=f"tricky:{number}",
        source_id=f"src-{number % 6}",
        org=list(OrgKind)[number % len(OrgKind)],
        title=title,
        text=text,
        canonical_url=f"https://example.org/{number}",
        published=published.astimezone(zone),
        source_kind=kinds[number % len(kinds)],
    )


def all_documents(corpus: Path) -> Documents:
    return {
        **labelled_documents(corpus),
        **corpus_feed_documents(corpus),
        **farm_documents(),
        **tricky_documents(),
    }


# --- the digests -----------------------------------------------------------------------------
# The recording maps each item's input digest to its digests of every kind, so that an item
# that parsing, normalising or the farm now builds differently is not compared (its fingerprint
# has to differ), rather than failing the test for a change that is not the fingerprints'.

KINDS = ("fingerprint", "features", *(f"fingerprint:{variant}" for variant in VARIANTS))
NOT_RECORDED = "-"  # the farm's items under the variants: time


def item_digest(item: DedupeItem) -> str:
    """What a fingerprint is computed from (not the key: the labels are the test's)."""
    parts = (
        item.source_id,
        str(item.org),
        str(item.source_kind),
        item.title,
        item.text,
        item.published.isoformat(),
    )
    return _digest(parts)


def _digest(parts: tuple[object, ...]) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=5).hexdigest()


def fingerprint_digest(found: Fingerprint) -> str:
    """Every field of the record but `basis` (which changes with any new threshold, and is
    never stored: test_each_basis_is_the_digest_of_its_inputs), the procedure keys sorted
    (a frozenset's order is not)."""
    procedure = found.procedure
    return _digest(
        (
            found.text_hash,
            found.signature.hex(),
            found.buckets.hex(),
            procedure.source_id,
            procedure.is_event,
            procedure.official,
            sorted(procedure.keys),
        )
    )


def features_digest(found: Features) -> str:
    detail = found.detail
    return _digest(
        (
            found.text_hash,
            found.signature.hex(),
            found.buckets,
            sorted(found.procedure.keys),
            detail.tokens,
            detail.keyword,
            detail.body_start,
            sorted(detail.breaks),
            detail.shingles.hex(),
        )
    )


Recording = dict[str, list[str]]  # item digest -> its digest of each of KINDS


def record(documents: Documents) -> Recording:
    """Every item's digests, computed the plain way (`fingerprint`, `features`)."""
    out: Recording = {}
    for name, items in documents.items():
        for item in items:
            variants = [
                NOT_RECORDED
                if name.startswith("farm:")
                else fingerprint_digest(fingerprint(item, VARIANTS[kind.split(":")[1]]))
                for kind in KINDS[2:]
            ]
            out[item_digest(item)] = [
                fingerprint_digest(fingerprint(item)),
                features_digest(features(item)),
                *variants,
            ]
    return out


Digests = Callable[[list[DedupeItem]], list[str]]


def differences(
    recording: Recording, kind: str, documents: Documents, digests: Digests
) -> list[str]:
    """Where `digests` of each document's items differ from the recorded ones."""
    column = KINDS.index(kind)
    wrong = []
    for name, items in documents.items():
        for number, (item, found) in enumerate(zip(items, digests(items), strict=True)):
            recorded = recording.get(item_digest(item), [NOT_RECORDED] * len(KINDS))[column]
            if recorded not in (NOT_RECORDED, found):
                wrong.append(f"{name}[{number}]")
    return wrong


# --- the tests -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recording() -> Recording:
    loaded = json.loads(GOLDEN.read_text("utf-8"))
    assert loaded["features_version"] == FEATURES_VERSION
    assert tuple(loaded["kinds"]) == KINDS
    items: Recording = loaded["items"]
    return items


@pytest.fixture(scope="module")
def documents(corpus: Path) -> Documents:
    return all_documents(corpus)


def test_most_recorded_items_are_built_again(recording: Recording, documents: Documents) -> None:
    # When parsing or the farm has changed too many items, record again (module docstring).
    built = {item_digest(item) for items in documents.values() for item in items}
    assert len(recording) > 2000
    assert len(built & set(recording)) >= 0.8 * len(recording)
    for group in ("labelled", "openmag", "feed", "procedure", "farm", "tricky"):
        items = [
            item for name, items in documents.items() if name.startswith(group) for item in items
        ]
        assert sum(item_digest(item) in recording for item in items) >= 0.8 * len(items), group


def test_fingerprints_of_each_document_are_the_recorded_ones(
    recording: Recording, documents: Documents
) -> None:
    def digests(items: list[DedupeItem]) -> list[str]:
        return [fingerprint_digest(made) for made in fingerprints(items)]

    assert differences(recording, "fingerprint", documents, digests) == []


def test_fingerprints_of_all_items_together_are_the_recorded_ones(
    recording: Recording, documents: Documents, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One huge document, hashed in parts: the seams between parts must change nothing.
    monkeypatch.setattr(signatures, "_SHINGLES_AT_ONCE", 700)
    together = {"all": [item for items in documents.values() for item in items]}

    def digests(items: list[DedupeItem]) -> list[str]:
        return [fingerprint_digest(made) for made in fingerprints(items)]

    assert differences(recording, "fingerprint", together, digests) == []


def test_each_fingerprint_alone_is_the_recorded_one(
    recording: Recording, documents: Documents
) -> None:
    def digests(items: list[DedupeItem]) -> list[str]:
        return [fingerprint_digest(fingerprint(item)) for item in items]

    assert differences(recording, "fingerprint", documents, digests) == []


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_fingerprints_under_other_thresholds_are_the_recorded_ones(
    recording: Recording, documents: Documents, variant: str
) -> None:
    thresholds = VARIANTS[variant]

    def together(items: list[DedupeItem]) -> list[str]:
        return [fingerprint_digest(made) for made in fingerprints(items, thresholds)]

    def alone(items: list[DedupeItem]) -> list[str]:
        return [fingerprint_digest(fingerprint(item, thresholds)) for item in items]

    kind = f"fingerprint:{variant}"
    assert differences(recording, kind, documents, together) == []
    assert differences(recording, kind, documents, alone) == []


def test_features_are_the_recorded_ones(recording: Recording, documents: Documents) -> None:
    def digests(items: list[DedupeItem]) -> list[str]:
        return [features_digest(features(item)) for item in items]

    assert differences(recording, "features", documents, digests) == []


@pytest.mark.parametrize("thresholds", [DEFAULT, VARIANTS["perm100"]], ids=["default", "perm100"])
def test_each_basis_is_the_digest_of_its_inputs(
    documents: Documents, thresholds: Thresholds
) -> None:
    for items in documents.values():
        expected = [_reference_basis(item, thresholds) for item in items]
        assert [made.basis for made in fingerprints(items, thresholds)] == expected
        assert [fingerprint(item, thresholds).basis for item in items] == expected


def _reference_basis(item: DedupeItem, thresholds: Thresholds) -> bytes:
    """`signatures.basis` as first written."""
    parts = (
        f"{FEATURES_VERSION}:{thresholds!r}",
        item.source_id,
        str(item.org),
        str(item.source_kind),
        item.title,
        item.text,
        item.published.isoformat(),
    )
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).digest()


def test_a_changed_character_changes_the_digests(documents: Documents) -> None:
    # The digests see the text: one character more is another item and another fingerprint.
    item = documents["labelled"][0]
    edited = replace(item, text=item.text + "x")
    assert item_digest(edited) != item_digest(item)
    assert fingerprint_digest(fingerprint(edited)) != fingerprint_digest(fingerprint(item))


# --- the fast tokeniser ----------------------------------------------------------------------
# `fingerprints` folds a whole text and then finds its words, or (ASCII) translates its bytes:
# the same words as finding them first and folding each, which these check on any text.


def _reference_words(text: str) -> tuple[str, ...]:
    found = re.findall(r"\w+", unicodedata.normalize("NFKC", text))
    return tuple(word.casefold() for word in found)


def test_the_characters_folding_across_words_are_all_listed() -> None:
    def is_word(text: str) -> bool:
        return re.fullmatch(r"\w", text) is not None

    for code in range(sys.maxunicode + 1):
        char = chr(code)
        folded = char.casefold()
        if folded != char and (not folded or any(is_word(c) != is_word(char) for c in folded)):
            assert signatures._FOLDS_ACROSS_WORDS.match(char), f"U+{code:04X}"


@settings(max_examples=500)
@given(st.text() | st.lists(st.sampled_from(TRICKY_PIECES), max_size=30).map("".join))
def test_the_words_of_any_text_are_the_reference_ones(text: str) -> None:
    expected = _reference_words(text)
    assert words(text) == expected
    assert signatures._word_bytes(text) == [word.encode() for word in expected]


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_the_words_of_ascii_text_are_the_reference_ones(text: str) -> None:
    assert signatures._word_bytes(text) == [w.encode() for w in _reference_words(text)]


def main() -> int:
    """Record every item's digests. Refused when an item recorded already has other digests
    now, unless FEATURES_VERSION is another than the recording's: a fingerprint that changed
    without a version bump is the very thing this recording is there to catch."""
    documents = all_documents(corpus_path())
    recording = record(documents)
    if GOLDEN.exists():
        before = json.loads(GOLDEN.read_text("utf-8"))
        same_version = before["features_version"] == FEATURES_VERSION
        changed = [
            key for key, found in recording.items() if before["items"].get(key, found) != found
        ]
        if changed and same_version and tuple(before["kinds"]) == KINDS:
            print(f"{len(changed)} recorded items have other digests now: bump FEATURES_VERSION")
            return 1
    kept = {"features_version": FEATURES_VERSION, "kinds": KINDS, "items": recording}
    GOLDEN.write_text(json.dumps(kept, indent=0) + "\n", "utf-8")
    print(f"{GOLDEN}: {len(recording)} items, {GOLDEN.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
