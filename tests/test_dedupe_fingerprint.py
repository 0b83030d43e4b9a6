"""Fingerprints computed in the parse workers: the store must cluster exactly as if it had
computed every feature itself, and must not trust a fingerprint of another version of the
item."""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.dedupe import DEFAULT, DedupeItem, Features, Thresholds, features
from aggregator.dedupe import signatures as signatures_module
from aggregator.dedupe.labelled import load_corpus, load_labelled
from aggregator.dedupe.pairs import unpack
from aggregator.dedupe.signatures import features_from, fingerprint, fingerprints
from aggregator.models import OrgKind


def test_features_from_a_fingerprint_equal_features_computed_in_place() -> None:
    labelled = load_labelled()
    assert len(labelled) > 100
    for entry in labelled:
        # As the worker sends it: pickled, with the key the store gives later.
        sent = pickle.loads(pickle.dumps(fingerprint(replace(entry.item, key="identity"))))
        item = replace(entry.item, first_seen=entry.item.published + timedelta(hours=1))
        direct = features(item)
        given = features_from(item, sent)
        assert given == direct
        assert not given.computed  # the word-level detail waits until decide asks for it
        assert given.detail == direct.detail


def test_a_fingerprint_of_another_version_is_ignored() -> None:
    item = load_labelled()[0].item
    sent = fingerprint(item)
    edited = replace(item, text=item.text + " A corrected paragraph was added at the end.")
    assert features_from(edited, sent) == features(edited)
    assert features_from(edited, sent).signature != sent.signature
    moved = replace(item, published=item.published - timedelta(days=2))  # the procedure day
    assert features_from(moved, sent).computed  # recomputed, not taken
    other = Thresholds(num_perm=DEFAULT.num_perm * 2, bands=DEFAULT.bands * 2)
    assert features_from(item, sent, other) == features(item, other)


# Fingerprints are stored (items.signature, items.text_hash, items.buckets): a change to how
# they are computed must bump FEATURES_VERSION and re-fingerprint, never happen silently.
# Recorded with FEATURES_VERSION as below; update both together.
# (The buckets are digested sorted, as items.buckets stores them: recorded before fingerprints
# carried them packed, so the packing changed none; the digest changed again when
# corrected_reissues.json joined the set, the earlier items' part unchanged.)
LABELLED_FINGERPRINTS = "3201cfcfed28e5fc4a7439c0f01f071da31315a78a528a209b24f486f7422754"
RECORDED_WITH_VERSION = 1


def test_fingerprints_are_stable_across_releases() -> None:
    from aggregator.dedupe.thresholds import FEATURES_VERSION

    digest = hashlib.sha256()
    for entry in load_labelled():
        found = fingerprint(entry.item)
        pairs = unpack(found.buckets)
        digest.update(repr((found.text_hash, found.signature.hex(), pairs)).encode())
    assert FEATURES_VERSION == RECORDED_WITH_VERSION
    assert digest.hexdigest() == LABELLED_FINGERPRINTS


def test_fingerprints_of_a_document_are_each_items_fingerprint(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = [entry.item for entry in (*load_labelled(), *load_corpus(corpus))]
    assert len(items) > 300
    expected = [fingerprint(item) for item in items]
    assert fingerprints(items) == expected
    # Hashed in several parts (a large document), the parts' seams change nothing.
    monkeypatch.setattr(signatures_module, "_SHINGLES_AT_ONCE", 300)
    assert fingerprints(items) == expected
    assert fingerprints([]) == []


_WORDS = st.sampled_from(
    ["the", "Council", "agreed", "on", "12", "March", "chat", "control", "Regulation", "child"]
)


@given(
    st.lists(st.lists(_WORDS, max_size=12).map(" ".join), max_size=6),
    st.integers(1, 4),
    st.integers(1, 10),
)
def test_fingerprints_of_short_and_empty_items_are_each_items_fingerprint(
    texts: list[str], shingle_size: int, min_tokens: int
) -> None:
    # Items shorter than a shingle, than min_tokens, or empty; min_tokens below the size too.
    thresholds = Thresholds(shingle_size=shingle_size, min_tokens=min_tokens)
    items = [
        DedupeItem(
            key=n,
            source_id="s",
            org=OrgKind.NGO,
            title=text[:20],
            text=text,
            canonical_url=f"https://example.org/{n}",
            published=datetime(2026, 1, 1, tzinfo=UTC),
        )
        for n, text in enumerate(texts)
    ]
    assert fingerprints(items, thresholds) == [fingerprint(i, thresholds) for i in items]


def test_the_basis_depends_on_the_thresholds_values_not_the_object() -> None:
    item = load_labelled()[0].item
    other = Thresholds(num_perm=DEFAULT.num_perm * 2, bands=DEFAULT.bands * 2)
    equal = replace(DEFAULT)  # another object, the same values
    first = signatures_module.basis(item, DEFAULT)
    # Asked alternately (the last one asked for is kept by identity): each its own answer.
    assert signatures_module.basis(item, other) != first
    assert signatures_module.basis(item, equal) == first
    assert signatures_module.basis(item, other) != first
    assert signatures_module.basis(item, DEFAULT) == first


def _as_stored(item: DedupeItem) -> Features:
    made = features(item)
    return signatures_module.features_as_stored(item, made.signature, made.packed)


def test_the_shape_of_every_item_is_its_details_and_stored_features_are_features(
    corpus: Path,
) -> None:
    # Decisions read the Shape (from the words as bytes) where they read the Detail before:
    # both must tell the same counts, title words and shingles, in every script.
    items = [entry.item for entry in (*load_labelled(), *load_corpus(corpus))]
    assert len(items) > 300
    for item in items:
        direct = features(item)
        assert signatures_module.shape(item, DEFAULT.shingle_size) == direct.detail.shape()
        stored = _as_stored(item)
        assert stored == direct
        assert not stored.computed  # the full Detail waits for the template guard
        assert stored.shape == direct.shape


@given(
    st.text(max_size=120),
    st.text(max_size=400),
    st.integers(1, 5),
)
def test_the_shape_of_any_text_is_its_details(title: str, text: str, shingle_size: int) -> None:
    # Any code point: case folds that change length ("ß", "İ"), NFKC forms, digits of other
    # scripts, combining marks, lone punctuation, empty texts.
    item = DedupeItem(
        key=1,
        source_id="s",
        org=OrgKind.NGO,
        title=title,
        text=text,
        canonical_url="https://example.org/1",
        published=datetime(2026, 1, 1, tzinfo=UTC),
    )
    made = signatures_module.detail(item, shingle_size)
    assert signatures_module.shape(item, shingle_size) == made.shape()


def test_a_decision_reads_the_shape_and_leaves_the_detail_to_a_match() -> None:
    from aggregator.dedupe import decide

    items = [entry.item for entry in load_labelled()]
    first = items[0]
    # The pairs of the first item whose texts were compared and told apart: most pairs.
    apart = []
    for other in items[1:]:
        a, b = _as_stored(first), _as_stored(replace(other, source_id="other"))
        if decide(a, b).reason == "dissimilar":
            apart.append((a, b))
            assert not a.computed and not b.computed
    assert len(apart) > 10
    a = _as_stored(first)
    near = replace(
        first,
        key="near",
        source_id="other",
        canonical_url="https://example.org/copy",
        text=first.text + " Contact: press.",
    )
    copy = _as_stored(near)
    assert decide(a, copy).reason in ("jaccard", "containment")
    assert a.computed and copy.computed  # the template guard read the words
