"""file:// URLs: local dumps and offline replays, with the same conditional-GET contract.

The file's modification time plays Last-Modified, so a second fetch of an untouched file with
the validators of the first is `Unchanged`, as a 304 would be.
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
            if validators.last_modified == modified:
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
        headers={"last-modified": modified, "content-length": str(len(content))},
        validators=CacheValidators(last_modified=modified),
    )
