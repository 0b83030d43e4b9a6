"""The application factory uvicorn's worker processes import (`aggregator serve --workers N`).

With several workers uvicorn starts each process afresh and builds the app by import
path, so the config folder is handed down in the environment (CONFIG_DIR_ENV, set by the
serve command). Each worker opens its own `App` (its own database connections) and
closes it when it shuts down.
"""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from aggregator.api.app import create_app
from aggregator.app import App
from aggregator.logs import apply_log_level, start_service_logging

CONFIG_DIR_ENV = "AGGREGATOR_SERVE_CONFIG_DIR"
FACTORY = "aggregator.api.factory:app_from_env"
HTTP_PROTOCOL = "aggregator.api.factory:NoDelayH11Protocol"


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with TCP_NODELAY on each connection.

    asyncio sets TCP_NODELAY only on sockets whose `proto` is IPPROTO_TCP; the listening
    socket a worker inherits from uvicorn's parent process is rebuilt with proto 0, so its
    connections kept Nagle's algorithm: each keep-alive response (headers, then body) then
    waited for the client's delayed ACK, ~40 ms a request.
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)  # type: ignore[arg-type]


def app_from_env() -> FastAPI:
    # A spawned worker starts without the parent's logging set-up (uvicorn's is off).
    start_service_logging()
    app = App.open(Path(os.environ[CONFIG_DIR_ENV]), os.environ, log_level=apply_log_level)
    return create_app(app, owns_app=True)
