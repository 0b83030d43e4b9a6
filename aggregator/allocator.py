"""Keep the C allocator from holding on to the large blocks a refresh frees (glibc only).

glibc serves a large request with a mapping of its own, given back to the system when the
block is freed. But each time such a block is freed, glibc raises the size that counts as
large to the freed block's (up to 32 MiB), so that from then on blocks of that size come
from the heap, where a freed one stays as a hole the process keeps. The refreshing process
frees arrays of several MiB: the first catch-up of the dedupe bucket index on a 30,000-item
store reads and sorts a million rows (`store/bucket_index.py`). Measured on that store, the
catch-up left 17 MiB of holes in the heap (mallinfo2) for the rest of the process.

Fixing the threshold (mallopt(3)) turns that adjustment off. 4 MiB, not glibc's initial
128 KiB: the index's arrays are larger, and the smaller blocks a write batch allocates and
frees again and again are reused well from the heap; each mapped block costs fresh page
faults. Measured with 1,000 feeds (bench/README.md): a refresh after a tick peaked at 140
MiB instead of 150, a cold one about as before, with the same CPU seconds. The parse workers
keep glibc's default: their MinHash arrays, allocated and freed for every document, cost 13%
more fingerprint CPU when each was a fresh mapping (measured with 10 MiB arrays), and the
holes they leave are reused by the next document's.
"""

from __future__ import annotations

import ctypes
import os

# mallopt(3)'s parameter number for the threshold.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024


def is_glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError, AttributeError):  # not a glibc system (macOS, musl, Windows)
        return False


def give_back_large_blocks() -> bool:
    """Fix glibc's mmap threshold at `MMAP_THRESHOLD_BYTES`; whether it was set."""
    if not is_glibc():
        return False
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError):
        return False
