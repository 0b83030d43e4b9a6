"""Files written whole or not at all (aggregator/atomic.py): what killed writes left."""

from __future__ import annotations

import os
import time
from pathlib import Path

from aggregator.atomic import STALE_TEMPORARY_S, write_atomically


def test_a_killed_write_s_temporary_file_goes_with_the_next_write(tmp_path: Path) -> None:
    # Each SIGKILL of `export -o out.jsonl` (no `except` runs) left a partial temporary file
    # beside it, and later exports never took them away.
    target = tmp_path / "out.jsonl"
    stale = tmp_path / ".out.jsonl.k1ll3d.tmp"
    stale.write_bytes(b'{"id": 1}\n{"id"')
    old = time.time() - STALE_TEMPORARY_S - 60
    os.utime(stale, (old, old))
    live = tmp_path / ".out.jsonl.wr1t1ng.tmp"  # another export, writing now
    live.write_bytes(b'{"id": 1}\n')
    other = tmp_path / ".other.jsonl.x.tmp"  # another file's: not this one's to delete
    other.write_bytes(b"")
    os.utime(other, (old, old))

    write_atomically(target, b'{"id": 1}\n{"id": 2}\n')

    assert target.read_bytes() == b'{"id": 1}\n{"id": 2}\n'
    assert not stale.exists()
    assert live.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".other.jsonl.x.tmp", ".out.jsonl.wr1t1ng.tmp", "out.jsonl"]
    )
