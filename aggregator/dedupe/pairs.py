"""An item's LSH (band, bucket) pairs as bytes: sorted little-endian int64 pairs.

One format wherever pairs travel or rest: a parse worker sends them in a `Fingerprint` (as a
tuple of tuples they were ~4 KB an item, most of a prepared document, and the refreshing
process holds up to a hundred documents waiting for the writer), and the store keeps them in
`items.buckets` as they are.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

Pair = tuple[int, int]  # (band, bucket)
_I64 = np.dtype("<i8")
PAIR_BYTES = 2 * _I64.itemsize


def pack(pairs: Iterable[Pair]) -> bytes:
    """The pairs, sorted, as little-endian int64 (band, bucket) rows."""
    return np.array(sorted(pairs), dtype=_I64).reshape(-1, 2).tobytes()


def unpack(blob: bytes | None) -> list[Pair]:
    if not blob:
        return []
    flat: list[int] = np.frombuffer(blob, dtype=_I64).tolist()
    return list(zip(flat[::2], flat[1::2], strict=True))
