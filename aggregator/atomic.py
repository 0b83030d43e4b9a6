"""Files written whole or not at all: a sibling temporary file, then a rename.

One writer for the config editor (sources.toml), the digest files and the .eml outbox. A
reader never sees half a file; a replaced file keeps its permissions (mkstemp's 0600 kept a
service running as another user from its config, and readers from the digests), a new one
gets what the umask allows; through a symbolic link, the file it points to is replaced.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)  # read, not changed: put straight back
        os.umask(umask)
        return 0o666 & ~umask


def write_atomically(path: Path, data: bytes) -> None:
    path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(path)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
