"""file:// sources: read from disk, with the file's mtime standing in for Last-Modified."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.errors import FetchError
from aggregator.fetch import FetchOptions, Retriever
from aggregator.models import CacheValidators, Fetched, OrgKind, Source, SourceKind, Unchanged

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
SOURCE = Source(id="dump", name="Dump", url="file:///x", kind=SourceKind.FEED, org=OrgKind.NGO)


def fetch(
    url: str, validators: CacheValidators | None = None, *, max_bytes: int = 1_000_000
) -> Fetched | Unchanged:
    async def main() -> Fetched | Unchanged:
        async with Retriever(FetchOptions(max_bytes=max_bytes)) as retriever:
            return await retriever.retrieve(SOURCE, url, validators or CacheValidators(), now=NOW)

    return asyncio.run(main())


def test_reads_the_file_and_answers_unchanged_until_it_is_touched(tmp_path: Path) -> None:
    path = tmp_path / "feed with space.xml"
    path.write_bytes(b"<rss/>")
    os.utime(path, (1_700_000_000, 1_700_000_000))
    url = path.as_uri()

    first = fetch(url)
    assert isinstance(first, Fetched)
    assert first.content == b"<rss/>"
    assert first.url == url
    assert first.validators.last_modified == "Tue, 14 Nov 2023 22:13:20 GMT"

    assert fetch(url, first.validators) == Unchanged(url=url)

    path.write_bytes(b"<rss>new</rss>")
    os.utime(path, (1_700_000_600, 1_700_000_600))
    again = fetch(url, first.validators)
    assert isinstance(again, Fetched) and again.content == b"<rss>new</rss>"


def test_a_file_rewritten_with_its_old_modification_time_is_read_again(tmp_path: Path) -> None:
    # Within the same second as the last read, or put back with its old time (`cp -p`,
    # `rsync -t`): Last-Modified (to the second) is the same, the content is not.
    path = tmp_path / "feed.xml"
    path.write_bytes(b"<rss>first</rss>")
    os.utime(path, ns=(1_700_000_000_100_000_000, 1_700_000_000_100_000_000))
    first = fetch(path.as_uri())
    assert isinstance(first, Fetched)

    path.write_bytes(b"<rss>other</rss>")  # the same size
    os.utime(path, ns=(1_700_000_000_100_000_000, 1_700_000_000_100_000_000))
    again = fetch(path.as_uri(), first.validators)
    assert isinstance(again, Fetched) and again.content == b"<rss>other</rss>"
    assert again.validators.last_modified == first.validators.last_modified
    assert fetch(path.as_uri(), again.validators) == Unchanged(url=path.as_uri())


def test_missing_file_is_a_fetch_error(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="file not found") as caught:
        fetch((tmp_path / "nope.xml").as_uri())
    assert caught.value.source_id == "dump"
    assert isinstance(caught.value.__cause__, FileNotFoundError)


def test_directory_is_a_fetch_error(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"not a regular file: .* \(a directory\)"):
        fetch(tmp_path.as_uri())


def test_size_cap_applies_to_files(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    path.write_bytes(b"x" * 2000)
    with pytest.raises(FetchError, match=r"response larger than 1000 bytes: .* fetch\.max_bytes"):
        fetch(path.as_uri(), max_bytes=1000)


def test_remote_file_urls_are_refused() -> None:
    with pytest.raises(FetchError, match="not a local file URL"):
        fetch("file://fileserver/share/feed.xml")
