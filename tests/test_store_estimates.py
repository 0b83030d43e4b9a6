"""Batched MinHash estimates (`paired_estimates`, the store's) agree with `estimated_jaccard`,
pair by pair; the store's candidate rank orders as `candidate_rank`."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from aggregator.dedupe.cluster import (
    candidate_rank,
    estimated_jaccard,
    paired_estimates,
    stored_candidate_rank,
)

WIDTH = 96 * 4  # NUM_PERM little-endian uint32


def _signature(values: list[int]) -> bytes:
    return np.array(values, dtype="<u4").tobytes()


# Values from a small range, so that pairs share some; now and then an empty or odd one
# (a row stored without a signature), which `estimated_jaccard` answers 1.0 for.
signatures = st.one_of(
    st.lists(st.integers(0, 3), min_size=96, max_size=96).map(_signature),
    st.sampled_from([b"", _signature([1] * 48)]),
)


@given(st.lists(st.tuples(signatures, signatures), max_size=40))
def test_every_estimate_is_the_pairs_own(pairs: list[tuple[bytes, bytes]]) -> None:
    left = [a for a, _ in pairs]
    right = [b for _, b in pairs]
    assert paired_estimates(left, right) == [estimated_jaccard(a, b) for a, b in pairs]


def test_many_pairs_are_estimated_in_parts() -> None:
    rng = np.random.default_rng(7)
    count = 20_000  # more than one part
    left = [rng.integers(0, 4, 96, dtype=np.uint32).astype("<u4").tobytes() for _ in range(count)]
    right = [rng.integers(0, 4, 96, dtype=np.uint32).astype("<u4").tobytes() for _ in range(count)]
    assert paired_estimates(left, right) == [
        estimated_jaccard(a, b) for a, b in zip(left, right, strict=True)
    ]
    assert len(left[0]) == WIDTH


# Stored ids: from 1 up, some past 2**32 and near the BIGINT top (ids are BIGINT).
_ids = st.one_of(st.integers(0, 5_000), st.integers(2**32 - 10, 2**32 + 10), st.just(2**63 - 1))


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 12), _ids), max_size=30))
def test_the_stores_candidate_rank_orders_as_candidate_rank(
    candidates: list[tuple[bool, int, int]],
) -> None:
    by_store = sorted(candidates, key=lambda c: stored_candidate_rank(*c))
    assert by_store == sorted(candidates, key=lambda c: candidate_rank(*c))
