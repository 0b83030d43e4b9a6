"""The asyncio network backend under httpcore (aggregator/fetch/network.py).

The fetch tests (test_fetch_http.py, test_fetch_tls.py) go through it already; these check
what they do not: that the transports really use it, that a keep-alive connection the server
closed while idle is not reused, and that a body larger than the receive buffer arrives whole.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpcore
import httpx
import pytest

from aggregator.fetch import FetchOptions, Retriever
from aggregator.fetch.http import HttpFetcher
from aggregator.fetch.network import MAX_BUFFER, AsyncioBackend
from aggregator.models import CacheValidators, Fetched, OrgKind, Source, SourceKind, Unchanged

if TYPE_CHECKING:  # imported for real by pytest_plugins, which must come first
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)  # the `http_server` fixture

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
SOURCE = Source(id="net", name="Net", url="http://x/", kind=SourceKind.FEED, org=OrgKind.NGO)
OPTIONS = FetchOptions(
    user_agent="aggregator-test/1", connect_timeout=2, read_timeout=2, total_timeout=5, retries=0
)
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>n</title></channel></rss>'


def test_the_transports_use_the_asyncio_backend() -> None:
    # httpx has no parameter for a network backend: http.py sets its transport's pool. Should
    # httpx rename that attribute, this fails (the fetch would still work, on anyio).
    async def pool() -> object:
        fetcher = HttpFetcher(OPTIONS)
        try:
            transport = fetcher._pool(httpx.URL("http://127.0.0.1:1/")).transports[0]
            return transport._pool
        finally:
            await fetcher.aclose()

    found = asyncio.run(pool())
    assert isinstance(found, httpcore.AsyncConnectionPool)
    assert isinstance(found._network_backend, AsyncioBackend)


class _ClosingServer:
    """Answers each connection's first request with keep-alive, then closes the connection."""

    def __init__(self) -> None:
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
            + f"Connection: keep-alive\r\nContent-Length: {len(RSS)}\r\n\r\n".encode()
            + RSS
        )
        await writer.drain()
        writer.close()  # as a server whose keep-alive timeout ran out


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    server = _ClosingServer()

    async def main() -> list[Fetched | Unchanged]:
        listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}/feed"
        try:
            async with Retriever(OPTIONS) as retriever:
                results = []
                for _ in range(3):
                    results.append(
                        await retriever.retrieve(SOURCE, url, CacheValidators(), now=NOW)
                    )
                    await asyncio.sleep(0.05)  # the close reaches the client while it is idle
                return results
        finally:
            listener.close()
            await listener.wait_closed()

    results = asyncio.run(main())
    assert [r.content for r in results if isinstance(r, Fetched)] == [RSS] * 3
    assert server.connections == 3


@pytest.fixture()
def big_body() -> Iterator[bytes]:
    line = b"<item><title>%d</title></item>\n"
    yield (
        b"<rss><channel>"
        + b"".join(line % i for i in range(4 * MAX_BUFFER // 30))
        + b"</channel></rss>"
    )


def test_a_body_larger_than_the_receive_buffer_arrives_whole(
    http_server: FixtureServer, big_body: bytes
) -> None:
    assert len(big_body) > 3 * MAX_BUFFER  # reading pauses and resumes several times
    url = http_server.add("/big", body=big_body)

    async def main() -> Fetched | Unchanged:
        async with Retriever(OPTIONS) as retriever:
            return await retriever.retrieve(SOURCE, url, CacheValidators(), now=NOW)

    fetched = asyncio.run(main())
    assert isinstance(fetched, Fetched)
    assert fetched.content == big_body


def test_a_read_and_a_blocked_write_wait_at_once() -> None:
    # HTTP/2 reads while it writes. The server reads nothing, so a large write blocks on a
    # full buffer; bytes the server sends meanwhile must still reach the waiting read.
    async def main() -> tuple[bytes, BaseException | None]:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(0.2)
            writer.write(b"hello")
            await writer.drain()
            await asyncio.sleep(1.0)
            writer.close()

        listener = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        try:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=2)
            read = asyncio.create_task(stream.read(100, timeout=2))
            await asyncio.sleep(0)  # the read waits first
            write = asyncio.create_task(stream.write(b"x" * (64 << 20), timeout=0.8))
            data = await asyncio.wait_for(read, 1.0)
            failed = await asyncio.gather(write, return_exceptions=True)
            await stream.aclose()
            return data, failed[0]
        finally:
            listener.close()

    data, write_outcome = asyncio.run(main())
    assert data == b"hello"
    assert isinstance(write_outcome, httpcore.WriteTimeout)  # nothing read it
