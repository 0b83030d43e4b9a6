"""The console script fixes glibc's mmap threshold (aggregator/allocator.py).

Checked in fresh interpreters, as glibc reports it (mallinfo2's count of mapped blocks):
after a large block is freed, a smaller one that is still above the fixed threshold is
mapped too, where glibc's own adjustment would have put it in the heap.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys

import pytest

from aggregator.allocator import is_glibc

pytestmark = pytest.mark.skipif(
    not is_glibc() or not hasattr(ctypes.CDLL(None), "mallinfo2"),
    reason="glibc 2.33 or newer only (mallopt's threshold, mallinfo2)",
)

PROBE = """
import ctypes, sys
from aggregator.allocator import MMAP_THRESHOLD_BYTES, give_back_large_blocks

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
    ).split()]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2


def where_a_large_block_goes():
    large = bytearray(4 * MMAP_THRESHOLD_BYTES)  # mapped either way (above both thresholds)
    del large  # freed: glibc's own rule now counts blocks below 4x as small
    before = libc.mallinfo2().hblks
    block = bytearray(2 * MMAP_THRESHOLD_BYTES)
    print("mapped" if libc.mallinfo2().hblks > before else "heap", flush=True)


if sys.argv[1] == "entry":  # the console script, asked for its version, then the check
    import atexit
    from aggregator.cli import entry

    atexit.register(where_a_large_block_goes)  # entry runs atexit handlers as it leaves
    sys.argv = ["aggregator", "--version"]
    entry()
if sys.argv[1] == "fixed":
    assert give_back_large_blocks()
where_a_large_block_goes()
"""


def probe(mode: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_a_large_block_is_mapped_after_a_larger_one_was_freed() -> None:
    assert probe("fixed") == "mapped"


def test_without_the_fixed_threshold_glibc_puts_it_in_the_heap() -> None:
    # What the fix is for: without it the same block lands in the heap (the probe is able
    # to tell the two apart).
    assert probe("default") == "heap"


def test_the_console_script_fixes_the_threshold_before_it_runs_a_command() -> None:
    assert probe("entry") == "mapped"
