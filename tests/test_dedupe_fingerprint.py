"""Fingerprints computed in the parse workers: the store must cluster exactly as if it had
computed every feature itself, and must not trust a fingerprint of another version of the
item."""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import replace
from datetime import timedelta

from aggregator.dedupe import DEFAULT, Thresholds, features
from aggregator.dedupe.labelled import load_labelled
from aggregator.dedupe.signatures import features_from, fingerprint


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
LABELLED_FINGERPRINTS = "59f14841a12752238bd5bb9250d1702139d3966dfbe44e63d6b4733fda11b1cd"
RECORDED_WITH_VERSION = 1


def test_fingerprints_are_stable_across_releases() -> None:
    from aggregator.dedupe.thresholds import FEATURES_VERSION

    digest = hashlib.sha256()
    for entry in load_labelled():
        found = fingerprint(entry.item)
        digest.update(repr((found.text_hash, found.signature.hex(), found.buckets)).encode())
    assert FEATURES_VERSION == RECORDED_WITH_VERSION
    assert digest.hexdigest() == LABELLED_FINGERPRINTS
