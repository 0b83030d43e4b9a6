"""Content-Encoding decoded in steps of bounded size, so the size cap holds in memory too.

httpx decodes each network chunk whole: 1,633 bytes of brotli can be a gigabyte of spaces,
and it was all in memory before the first count against the cap (2 GB peak for a 1 GiB bomb).
Here every decoder hands its output out at most `STEP` bytes at a time, so the reader can
stop at the cap with no more than a step beyond it held.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Protocol

import brotli  # type: ignore[import-untyped]
import httpx

STEP = 64 * 1024  # bytes of output per decoder step


class _Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...
    def flush(self) -> Iterator[bytes]: ...


class _Zlib:
    """gzip, or deflate: zlib-wrapped as the RFC says, or raw as some servers send it."""

    def __init__(self, wbits: int, *, raw_fallback: bool = False) -> None:
        self._inflate = zlib.decompressobj(wbits)
        self._raw_fallback = raw_fallback
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            if not self._started and self._raw_fallback:
                self._started = True
                try:
                    probe = zlib.decompressobj(zlib.MAX_WBITS)
                    probe.decompress(data[:2])
                except zlib.error:
                    self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            self._started = True
            pending = data
            while pending:
                out = self._inflate.decompress(pending, STEP)
                if out:
                    yield out
                pending = self._inflate.unconsumed_tail
        except zlib.error as exc:
            raise httpx.DecodingError(str(exc)) from exc

    def flush(self) -> Iterator[bytes]:
        try:
            out = self._inflate.flush(STEP)
        except zlib.error as exc:
            raise httpx.DecodingError(str(exc)) from exc
        if out:
            yield out


class _Brotli:
    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            out = self._decompressor.process(data, output_buffer_limit=STEP)
            if out:
                yield out
            while not self._decompressor.can_accept_more_data():
                out = self._decompressor.process(b"", output_buffer_limit=STEP)
                if not out:
                    break
                yield out
        except brotli.error as exc:
            raise httpx.DecodingError(str(exc)) from exc

    def flush(self) -> Iterator[bytes]:
        # Output held back by the step limit when the input ended.
        try:
            while not self._decompressor.is_finished():
                out = self._decompressor.process(b"", output_buffer_limit=STEP)
                if not out:
                    break
                yield out
        except brotli.error as exc:
            raise httpx.DecodingError(str(exc)) from exc


def _decoder(name: str) -> _Decoder | None:
    if name in ("gzip", "x-gzip"):
        return _Zlib(zlib.MAX_WBITS | 16)
    if name == "deflate":
        return _Zlib(zlib.MAX_WBITS, raw_fallback=True)
    if name == "br":
        return _Brotli()
    return None  # identity, or one we did not ask for: passed on as sent


def decoders(content_encoding: str) -> list[_Decoder]:
    """The decoders of a Content-Encoding header, in the order they apply (the reverse of
    the order the server applied the codings in)."""
    names = [name.strip().lower() for name in content_encoding.split(",") if name.strip()]
    return [d for name in reversed(names) if (d := _decoder(name)) is not None]


async def decoded_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body of a response whose stream was opened without httpx's decoding, decoded in
    steps of at most STEP bytes."""
    chain = decoders(response.headers.get("content-encoding", ""))
    async for raw in response.aiter_raw():
        for chunk in _through(chain, raw):
            yield chunk
    for chunk in _flushed(chain):
        yield chunk


def _through(chain: list[_Decoder], data: bytes) -> Iterator[bytes]:
    if not chain:
        if data:
            yield data
        return
    first, rest = chain[0], chain[1:]
    for out in first.feed(data):
        yield from _through(rest, out)


def _flushed(chain: list[_Decoder]) -> Iterator[bytes]:
    for index, decoder in enumerate(chain):
        for out in decoder.flush():
            yield from _through(chain[index + 1 :], out)
