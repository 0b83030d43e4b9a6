"""file:// URLs: local dumps and offline replays, with the same conditional-GET contract.

The file's modification time plays Last-Modified, and its status (times to the nanosecond,
size, inode) an ETag, so a second fetch of an untouched file with the validators of the first
is `Unchanged`, as a 304 would be. Last-Modified alone, to the second, missed a file
rewritten within the second of the last read, or put in place with its old time (`cp -p`,
`rsync -t`): the status change time (ctime) moves at every write, whatever the mtime says.

Only a regular file is read (through symlinks): opening a FIFO waits for a writer for ever,
and SIGTERM does not end a thread stuck there, so the whole refresh hung on one source; a
device or a socket is no document either.
"""

from __future__ import annotations

import asyncio
import os
import stat as file_mode
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from aggregator.errors import FetchError
from aggregator.fetch.describe import too_large
from aggregator.models import CacheValidators, Fetched, Unchanged


def path_of(url: str) -> Path:
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise ValueError(f"not a local file URL: {url!r}")
    if not parts.path:  # Path("") is the working directory
        raise ValueError(f"no path in the file URL {url!r}")
    # Decoded once: url2pathname percent-decodes ("a%2541.xml" is the file "a%41.xml").
    return Path(url2pathname(parts.path))


async def fetch_file(
    source_id: str, url: str, validators: CacheValidators, *, max_bytes: int
) -> Fetched | Unchanged:
    try:
        path = path_of(url)
    except ValueError as exc:
        raise FetchError(source_id, str(exc)) from exc
    # Reading blocks; a thread keeps the event loop (and the other fetches) going.
    return await asyncio.to_thread(_read, source_id, url, path, validators, max_bytes)


def _read(
    source_id: str, url: str, path: Path, validators: CacheValidators, max_bytes: int
) -> Fetched | Unchanged:
    try:
        _check_regular(source_id, path, path.stat())  # before opening: a FIFO's open blocks
        # O_NONBLOCK: a FIFO put in the file's place since the check opens without waiting
        # (the check below refuses it); reading a regular file is the same either way.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(descriptor, "rb") as stream:
            stat = os.fstat(stream.fileno())
            _check_regular(source_id, path, stat)
            modified = format_datetime(datetime.fromtimestamp(stat.st_mtime, UTC), usegmt=True)
            etag = _etag(stat)
            if validators.etag == etag:
                return Unchanged(url=url)
            if stat.st_size > max_bytes:
                raise FetchError(source_id, too_large(max_bytes))
            content = stream.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise FetchError(source_id, f"file not found: {path}") from exc
    except OSError as exc:  # no permission, a symlink loop, an I/O error
        raise FetchError(source_id, f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(content) > max_bytes:  # it grew while we read
        raise FetchError(source_id, too_large(max_bytes))
    return Fetched(
        url=url,
        status_code=200,
        content=content,
        headers={"last-modified": modified, "etag": etag, "content-length": str(len(content))},
        validators=CacheValidators(etag=etag, last_modified=modified),
    )


# What a path is when it is not a regular file, as the error says it.
_KINDS = (
    (file_mode.S_ISDIR, "a directory"),
    (file_mode.S_ISFIFO, "a FIFO"),
    (file_mode.S_ISCHR, "a character device"),
    (file_mode.S_ISBLK, "a block device"),
    (file_mode.S_ISSOCK, "a socket"),
)


def _check_regular(source_id: str, path: Path, stat: os.stat_result) -> None:
    if file_mode.S_ISREG(stat.st_mode):
        return
    kind = next((name for test, name in _KINDS if test(stat.st_mode)), "not a file")
    raise FetchError(source_id, f"not a regular file: {path} ({kind})")


def _etag(stat: os.stat_result) -> str:
    return f'"{stat.st_mtime_ns:x}-{stat.st_ctime_ns:x}-{stat.st_size:x}-{stat.st_ino:x}"'
