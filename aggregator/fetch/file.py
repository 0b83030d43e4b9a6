"""file:// URLs: local dumps and offline replays, with the same conditional-GET contract.

The file's modification time plays Last-Modified, and its status (times to the nanosecond,
size, inode) an ETag, so a second fetch of an untouched file with the validators of the first
is `Unchanged`, as a 304 would be. Last-Modified alone, to the second, missed a file
rewritten within the second of the last read, or put in place with its old time (`cp -p`,
`rsync -t`): the status change time (ctime) moves at every write, whatever the mtime says.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from aggregator.errors import FetchError
from aggregator.models import CacheValidators, Fetched, Unchanged


def path_of(url: str) -> Path:
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise ValueError(f"not a local file URL: {url!r}")
    return Path(url2pathname(unquote(parts.path)))


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
        with path.open("rb") as stream:
            stat = os.fstat(stream.fileno())
            modified = format_datetime(datetime.fromtimestamp(stat.st_mtime, UTC), usegmt=True)
            etag = _etag(stat)
            if validators.etag == etag:
                return Unchanged(url=url)
            if stat.st_size > max_bytes:
                raise FetchError(source_id, f"response larger than {max_bytes} bytes")
            content = stream.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise FetchError(source_id, f"file not found: {path}") from exc
    except OSError as exc:  # a directory, no permission, an I/O error
        raise FetchError(source_id, f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(content) > max_bytes:  # it grew while we read
        raise FetchError(source_id, f"response larger than {max_bytes} bytes")
    return Fetched(
        url=url,
        status_code=200,
        content=content,
        headers={"last-modified": modified, "etag": etag, "content-length": str(len(content))},
        validators=CacheValidators(etag=etag, last_modified=modified),
    )


def _etag(stat: os.stat_result) -> str:
    return f'"{stat.st_mtime_ns:x}-{stat.st_ctime_ns:x}-{stat.st_size:x}-{stat.st_ino:x}"'
