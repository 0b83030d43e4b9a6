"""Files written whole or not at all: a sibling temporary file, then a rename.

One writer for the config editor (sources.toml), the digest files, the .eml outbox and
`export -o`. A reader never sees half a file, and a write that fails or is interrupted leaves
the previous file as it was; a replaced file keeps its permissions (mkstemp's 0600 kept a
service running as another user from its config, and readers from the digests), a new one
gets what the umask allows; through a symbolic link, the file it points to is replaced.
"""

from __future__ import annotations

import contextlib
import glob
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)  # read, not changed: put straight back
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """A binary file to write `path`'s new content into, streamed: it replaces `path` when
    the `with` block ends normally, and is deleted (leaving `path` untouched) when the block
    raises, Ctrl-C and SIGTERM included. The folder must exist: a missing one is the
    caller's error to report (FileNotFoundError), not one to paper over."""
    path = Path(os.path.realpath(path))
    mode = _mode_for(path)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _remove_stale_temporaries(path)


# A temporary file of `path` untouched this long is a killed writer's (SIGKILL, the OOM
# killer: no `except` ran), not a live one's, which writes as it goes.
STALE_TEMPORARY_S = 3600.0


def _remove_stale_temporaries(path: Path) -> None:
    """Delete what killed writes of `path` left beside it: each kill of an `export -o`
    from cron left a partial `.FILE.*.tmp`, and the next exports never took them away."""
    limit = time.time() - STALE_TEMPORARY_S
    try:
        leftovers = list(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))
    except OSError:
        return
    for leftover in leftovers:
        with contextlib.suppress(OSError):  # gone already, or not ours to delete
            if leftover.is_file() and leftover.stat().st_mtime < limit:
                leftover.unlink()


def write_atomically(path: Path, data: bytes) -> None:
    path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as handle:
        handle.write(data)
