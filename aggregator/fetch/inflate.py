"""Content-Encoding decoded in steps of bounded size, so the size cap holds in memory too.

httpx decodes each network chunk whole: 1,633 bytes of brotli can be a gigabyte of spaces,
and it was all in memory before the first count against the cap (2 GB peak for a 1 GiB bomb).
Here every decoder hands its output out at most `STEP` bytes at a time, so the reader can
stop at the cap with no more than a step beyond it held.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Protocol

import brotli  # type: ignore[import-untyped]
import httpx

STEP = 64 * 1024  # bytes of output per decoder step


class _Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...
    def flush(self) -> Iterator[bytes]: ...


_GZIP_MAGIC = b"\x1f\x8b"


class IncompleteBody(httpx.RemoteProtocolError):
    """The body ended before its compressed stream did: a download cut short (a server that
    stopped mid-body with a Content-Length matching what it sent, a proxy's truncated
    cache entry). Decoding only as far as it went stored the document cut off and the
    response's ETag with it, so the missing entries never came back (every later answer a
    304). A RemoteProtocolError, so that it is retried like any other incomplete answer.
    """

    def __init__(self, coding: str) -> None:
        super().__init__(
            "the compressed body ends early: an incomplete download"
            f" (the {coding} stream stops before its end)"
        )


class ZlibDecoder:
    """gzip, or deflate: zlib-wrapped as the RFC says, or raw as some servers send it.

    After the end of the compressed stream: a gzip body of several members (gzip -c a b)
    goes on with the next member, as gzip itself reads it; anything else (a trailing CRLF a
    server adds) is ignored, as browsers do. Fed on past the end, zlib hands the same bytes
    back for ever: the loop stopped only with the refresh.
    """

    def __init__(self, wbits: int, *, raw_fallback: bool = False) -> None:
        self._wbits = wbits
        # Named before a raw-deflate fallback changes wbits (negative: `& 16` means nothing).
        self._coding = "gzip" if wbits & 16 else "deflate"
        self._inflate = zlib.decompressobj(wbits)
        self._raw_fallback = raw_fallback
        self._started = False
        self._ended = False  # a stream ended: what follows is a next member, or ignored
        self._carry = b""  # the first byte of what may be a next member's magic number
        self._done = False  # what followed the end was no member: the rest is ignored

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            if not self._started and self._raw_fallback and data:
                try:
                    probe = zlib.decompressobj(zlib.MAX_WBITS)
                    probe.decompress(data[:2])
                except zlib.error:
                    self._wbits = -zlib.MAX_WBITS
                    self._inflate = zlib.decompressobj(self._wbits)
            self._started = self._started or bool(data)
            pending = data
            while pending and not self._done:
                if self._ended:
                    pending = self._carry + pending
                    self._carry = b""
                    if not self._next_member(pending):
                        break
                out = self._inflate.decompress(pending, STEP)
                if out:
                    yield out
                if self._inflate.eof:
                    # What follows is in unused_data (unconsumed_tail may hold the same
                    # bytes again: taking both doubled them at every member).
                    pending = self._inflate.unused_data
                    self._ended = True
                else:
                    pending = self._inflate.unconsumed_tail
        except zlib.error as exc:
            raise httpx.DecodingError(str(exc)) from exc

    def _next_member(self, following: bytes) -> bool:
        """After a stream's end: start the next gzip member when `following` begins one;
        keep a lone first byte of its magic number for the next chunk; else stop reading."""
        if self._wbits & 16 and following[:2] == _GZIP_MAGIC:
            self._inflate = zlib.decompressobj(self._wbits)
            self._ended = False
            return True
        if self._wbits & 16 and following == _GZIP_MAGIC[:1]:
            self._carry = following
            return False
        self._done = True
        return False

    def flush(self) -> Iterator[bytes]:
        try:
            out = self._inflate.flush(STEP)
        except zlib.error as exc:
            raise httpx.DecodingError(str(exc)) from exc
        if out:
            yield out
        # zlib's flush hands out what it has, finished or not. A stream (or a next gzip
        # member) begun and not ended is a body cut short, not a document. Nothing begun (a
        # 304's or a HEAD's empty body) and what follows a finished stream are no loss.
        if self._started and not self._ended and not self._done:
            raise IncompleteBody(self._coding)


class _Brotli:
    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()
        self._started = False  # bytes came: an empty body (a 304's) has no stream to finish

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._started = self._started or bool(data)
        try:
            out = self._decompressor.process(data, output_buffer_limit=STEP)
            if out:
                yield out
            yield from self._held_back(self._decompressor.can_accept_more_data)
        except brotli.error as exc:
            raise httpx.DecodingError(str(exc)) from exc

    def flush(self) -> Iterator[bytes]:
        # Output held back by the step limit when the input ended.
        try:
            yield from self._held_back(self._decompressor.is_finished)
        except brotli.error as exc:
            raise httpx.DecodingError(str(exc)) from exc
        # Everything given out and the stream still not at its end: the body was cut short
        # (brotli marks its last block, so an unfinished stream is never a whole one).
        if self._started and not self._decompressor.is_finished():
            raise IncompleteBody("brotli")

    def _held_back(self, done: Callable[[], bool]) -> Iterator[bytes]:
        """The output the step limit held back, a step at a time, until `done`."""
        while not done():
            out = self._decompressor.process(b"", output_buffer_limit=STEP)
            if not out:
                break
            yield out


def _decoder(name: str) -> _Decoder | None:
    if name in ("gzip", "x-gzip"):
        return ZlibDecoder(zlib.MAX_WBITS | 16)
    if name == "deflate":
        return ZlibDecoder(zlib.MAX_WBITS, raw_fallback=True)
    if name == "br":
        return _Brotli()
    return None  # identity, or one we did not ask for: passed on as sent


# Compressions a server may use unasked that we cannot decode: their bytes would reach the
# parser as "not a feed: syntax error at line 1". Other unknown names (a charset sent as
# Content-Encoding) are passed on as sent, as browsers do.
_UNDECODABLE = frozenset(
    {"zstd", "compress", "x-compress", "bzip2", "x-bzip2", "xz", "lzma", "exi", "pack200-gzip"}
)


def undecodable(content_encoding: str) -> list[str]:
    """The codings of a Content-Encoding header that compress and that we cannot decode."""
    names = [name.strip().lower() for name in content_encoding.split(",")]
    return [name for name in names if name in _UNDECODABLE]


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
