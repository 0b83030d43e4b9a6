"""httpcore's network layer on asyncio itself, without anyio in between.

httpcore reaches the network through a backend; on asyncio its own goes through anyio, whose
cancel scopes, per-call checks of the running library and paused-then-resumed reading were
about a quarter of the CPU of a 304 (a warm refresh is mostly 304s). This backend does the
same job with one asyncio.Protocol per connection: received bytes wait in a buffer (reading
pauses while it holds MAX_BUFFER, as asyncio's StreamReader does), timeouts are
asyncio.timeout, and every failure is raised as the httpcore exception the anyio backend
raises for it, with the OS error as its cause (so `socket.gaierror` stays visible, see
http._host_not_found).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Coroutine, Iterable
from typing import Any

import httpcore

MAX_BUFFER = 256 * 1024  # bytes received and not yet read, before reading pauses
HAPPY_EYEBALLS_DELAY = 0.25  # seconds before the next address is tried (RFC 8305's default)

_Option = httpcore.SOCKET_OPTION  # what setsockopt takes


class _Connection(asyncio.Protocol):
    """One connection's received bytes and state, as the event loop reports them."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False  # the peer will send nothing more
        self.lost: Exception | None = None  # why the connection broke, if it did
        # Whether the peer ever sent anything: a read timeout before says "no answer", not "no
        # progress" (a server that accepts and never answers). Not reset by a write: HTTP/2
        # writes while it reads an answer. (A kept-alive connection's next request that
        # gets no answer is said to have made no progress, as before.)
        self.answered = False
        self._reading_paused = False
        self._writing_paused = False
        # A read and a write may wait at once (HTTP/2 reads while it writes): one each.
        self._readable: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None

    # -- the event loop's calls ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.answered = True
        _wake(self._readable)
        if len(self.buffer) > MAX_BUFFER and not self._reading_paused and self.transport:
            self.transport.pause_reading()
            self._reading_paused = True

    def eof_received(self) -> bool:
        self.eof = True
        _wake(self._readable)
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.lost = exc
        self._writing_paused = False
        _wake(self._readable)
        _wake(self._writable)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        _wake(self._writable)

    # -- the stream's ---------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self.transport is None or self.transport.is_closing() or self.lost is not None

    def take(self, max_bytes: int) -> bytes:
        data = bytes(self.buffer[:max_bytes])
        del self.buffer[:max_bytes]
        if self._reading_paused and len(self.buffer) <= MAX_BUFFER // 2 and self.transport:
            self._reading_paused = False
            self.transport.resume_reading()
        return data

    async def readable(self) -> None:
        """Until bytes, EOF or a lost connection."""
        self._readable = asyncio.get_running_loop().create_future()
        try:
            await self._readable
        finally:
            self._readable = None

    async def writable(self) -> None:
        """Until the transport takes writes again, or the connection is lost."""
        self._writable = asyncio.get_running_loop().create_future()
        try:
            await self._writable
        finally:
            self._writable = None

    @property
    def writing_paused(self) -> bool:
        return self._writing_paused


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


async def _within(
    work: Coroutine[Any, Any, None],
    timeout: float | None,
    error: type[Exception],
    what: str = "no progress",
) -> None:
    try:
        async with asyncio.timeout(timeout):
            await work
    except TimeoutError as exc:
        raise error(f"{what} within {timeout}s") from exc


class AsyncioStream(httpcore.AsyncNetworkStream):
    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        connection = self._connection
        while not connection.buffer and not connection.eof:
            what = "no progress" if connection.answered else "no answer"
            await _within(connection.readable(), timeout, httpcore.ReadTimeout, what)
        if connection.buffer:
            return connection.take(max_bytes)
        if connection.lost is not None:
            raise httpcore.ReadError(_message(connection.lost)) from connection.lost
        return b""  # the peer closed the connection

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        connection = self._connection
        if connection.closed or connection.transport is None:
            raise httpcore.WriteError("the connection is closed") from connection.lost
        connection.transport.write(buffer)
        while connection.writing_paused and not connection.closed:
            await _within(connection.writable(), timeout, httpcore.WriteTimeout)
        if connection.lost is not None:
            raise httpcore.WriteError(_message(connection.lost)) from connection.lost

    async def aclose(self) -> None:
        transport = self._connection.transport
        if transport is not None and not transport.is_closing():
            transport.close()
            # The socket is closed by a callback the loop runs next: let it run, so a loop
            # about to end (asyncio.run) leaves no socket to the garbage collector.
            await asyncio.sleep(0)

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        connection = self._connection
        if connection.transport is None:
            raise httpcore.ConnectError("the connection is closed")
        try:
            async with asyncio.timeout(timeout):
                transport = await asyncio.get_running_loop().start_tls(
                    connection.transport,
                    connection,
                    ssl_context,
                    server_hostname=server_hostname,
                )
        except TimeoutError as exc:
            await self.aclose()
            raise httpcore.ConnectTimeout(f"no TLS handshake within {timeout}s") from exc
        except OSError as exc:  # ssl.SSLError is one
            await self.aclose()
            raise httpcore.ConnectError(_message(exc)) from exc
        if transport is None:
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        connection.connection_made(transport)
        return self

    def get_extra_info(self, info: str) -> Any:
        connection = self._connection
        transport = connection.transport
        if info == "is_readable":
            # An idle keep-alive connection that has bytes, EOF or an error is not reusable.
            return bool(connection.buffer) or connection.eof or connection.closed
        if transport is None:
            return None
        name = {
            "ssl_object": "ssl_object",
            "client_addr": "sockname",
            "server_addr": "peername",
            "socket": "socket",
        }.get(info)
        return None if name is None else transport.get_extra_info(name)


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[_Option] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        local = None if local_address is None else (local_address, 0)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, connection = await loop.create_connection(
                    _Connection,
                    host,
                    port,
                    local_addr=local,
                    # Happy Eyeballs, as anyio connects: a host whose IPv6 route is broken
                    # must not cost the whole connect timeout before IPv4 is tried.
                    happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY,
                )
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"no connection within {timeout}s") from exc
        except OSError as exc:  # socket.gaierror included: its errno tells "no such host"
            raise httpcore.ConnectError(_message(exc)) from exc
        _set_options(transport, socket_options)
        return AsyncioStream(connection)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[_Option] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, connection = await loop.create_unix_connection(_Connection, path)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"no connection within {timeout}s") from exc
        except OSError as exc:
            raise httpcore.ConnectError(_message(exc)) from exc
        _set_options(transport, socket_options)
        return AsyncioStream(connection)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _set_options(transport: asyncio.BaseTransport, options: Iterable[_Option] | None) -> None:
    sock = transport.get_extra_info("socket")
    for option in options or ():
        sock.setsockopt(*option)


def _message(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
