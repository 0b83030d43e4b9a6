"""A TCP proxy on 127.0.0.1 that a test can cut and restore: a service (PostgreSQL, Redis,
RabbitMQ) goes away for the processes that reach it through the proxy, and comes back,
without stopping the machine's service that other tests and people use.

    with TcpProxy.to(database_url) as proxy:
        url = proxy.url(database_url)  # the same URL, through the proxy
        ...
        proxy.cut()      # open connections reset, new ones refused
        proxy.restore()  # accepting again, on the same port

It runs an asyncio loop in a thread of its own; cut and restore return once done.

`SilentServer` is a host that stops answering (it drops packets, sends no reset): it takes
TCP connections and never says a word.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Coroutine
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")
CHUNK = 64 * 1024
DEFAULT_PORTS = {"postgresql": 5432, "redis": 6379, "amqp": 5672}


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = _free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    @classmethod
    def to(cls, url: str) -> TcpProxy:
        """A proxy to the server of `url` (postgresql+psycopg://, redis://, amqp://)."""
        parts = urlsplit(url)
        scheme = parts.scheme.split("+")[0]
        return cls(parts.hostname or "127.0.0.1", parts.port or DEFAULT_PORTS[scheme])

    def url(self, url: str) -> str:
        """`url` with its host and port replaced by the proxy's (its login kept)."""
        parts = urlsplit(url)
        login = parts.netloc.rpartition("@")[0]
        netloc = f"{login}@127.0.0.1:{self.port}" if login else f"127.0.0.1:{self.port}"
        return parts._replace(netloc=netloc).geturl()

    def __enter__(self) -> Self:
        self._thread.start()
        self.restore()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def cut(self) -> None:
        """Stop listening (new connections are refused) and reset every open one."""
        self._run(self._cut())

    def restore(self) -> None:
        """Listen again on the same port."""
        self._run(self._listen())

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._accept, "127.0.0.1", self.port, reuse_address=True
            )

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        # Each connection's handler ends once its transports are gone: wait for them, so
        # that a cut is complete when it returns.
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            await self._forward(reader, writer)
        finally:
            self._handlers.discard(handler)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            writer.transport.abort()
            return
        pair = {writer, upstream_writer}
        self._writers |= pair
        try:
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        finally:
            self._writers -= pair
            for each in pair:
                each.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()  # the other side closed: pass the close on
    except OSError:
        writer.transport.abort()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SilentServer:
    """Accepts connections on 127.0.0.1, reads nothing, never answers.

    with SilentServer() as port: ...
    """

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> int:
        self._thread.start()
        return int(self._listener.getsockname()[1])

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self._held:
            conn.close()
        self._listener.close()

    def _accept(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self._held.append(conn)
