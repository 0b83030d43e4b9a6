"""How a failed request reads in the refresh table: the failure and the host, no class names.

The servers here are raw sockets on 127.0.0.1 that break HTTP on purpose (a body cut short,
a connection reset, silence), which the fixture HTTP server is too well-behaved to do.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from aggregator.errors import FetchError
from tests.test_fetch_http import fetch

Handler = Callable[[socket.socket], None]


@contextmanager
def raw_server(handle: Handler) -> Iterator[str]:
    """A server that reads each request and hands the socket to `handle`; its base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                conn.recv(65536)  # the request
                handle(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _cut_short(conn: socket.socket) -> None:
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 1000\r\n\r\n"
        b"<rss version"
    )


def _reset(conn: socket.socket) -> None:
    # SO_LINGER with a zero timeout: close() sends a TCP RST, not a FIN.
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n<rss")
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _no_answer(conn: socket.socket) -> None:
    pass  # closes without a word


def _garbage(conn: socket.socket) -> None:
    conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")


@pytest.mark.parametrize(
    ("handle", "expected"),
    [
        (_cut_short, r"^{where} sent an incomplete or malformed answer \(.*received 12 bytes"),
        (_reset, r"^connection to {where} lost \(Connection reset by peer\)$"),
        (_no_answer, r"^{where} sent an incomplete or malformed answer \(.*without sending"),
        (_garbage, r"^{where} sent an incomplete or malformed answer \("),
    ],
    ids=["body cut short", "connection reset", "closed without an answer", "not HTTP"],
)
def test_a_broken_answer_names_the_host_and_what_broke(handle: Handler, expected: str) -> None:
    with raw_server(handle) as base, pytest.raises(FetchError) as caught:
        fetch(f"{base}/feed", retries=0)
    where = base.removeprefix("http://")
    assert "httpx" not in caught.value.message
    assert re.search(expected.format(where=re.escape(where)), caught.value.message), (
        caught.value.message
    )


def test_silence_after_the_request_is_a_read_timeout_naming_the_host() -> None:
    def hold(conn: socket.socket) -> None:
        conn.recv(1)  # until the client gives up and closes

    with raw_server(hold) as base, pytest.raises(FetchError) as caught:
        fetch(f"{base}/feed", retries=0, read_timeout=0.2)
    where = base.removeprefix("http://")
    assert caught.value.message == f"read timeout: {where} sent no answer within 0.2s"


def test_silence_inside_the_answer_is_a_read_timeout_saying_it_stopped() -> None:
    def stall(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n<rss version=")
        conn.recv(1)  # until the client gives up and closes

    with raw_server(stall) as base, pytest.raises(FetchError) as caught:
        fetch(f"{base}/feed", retries=0, read_timeout=0.2)
    where = base.removeprefix("http://")
    assert (
        caught.value.message == f"read timeout: {where} sent nothing more (no progress within 0.2s)"
    )
