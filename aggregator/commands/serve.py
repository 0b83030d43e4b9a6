"""`aggregator serve [--host H] [--port P] [--workers N] [--with-scheduler]`: the JSON API.

Host and port default to the settings `api.host` and `api.port` (127.0.0.1:8080). With
`--with-scheduler` the scheduler (`aggregator run`) runs in the same process and event
loop: one process refreshes, sends digests and answers the API. `--workers N` runs N
server processes on the one port (uvicorn's process manager), so every core answers
requests; the scheduler then has to run on its own (`aggregator run`), since N copies
of it would each refresh every source.

SIGTERM and SIGINT stop the server gracefully (requests in flight and the scheduler's step
finish); a stop asked for by SIGTERM is a normal end, exit status 0, as service managers
expect from a clean shutdown.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
from types import FrameType
from typing import Any

from aggregator.cli import EXIT_CONFIG, EXIT_OK, UsageError, config_dir_of, open_app

MIN_PORT, MAX_PORT = 1, 65535  # as the setting api.port allows


def _stopped(_sig: int, _frame: FrameType | None) -> None:
    """SIGTERM once the server has shut down: nothing left to do."""


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from aggregator.api import create_app
    from aggregator.api.factory import CONFIG_DIR_ENV, FACTORY, HTTP_PROTOCOL
    from aggregator.logs import start_service_logging
    from aggregator.schedule import Service

    start_service_logging()
    if args.workers < 1:
        logging.getLogger("aggregator.serve").error("--workers must be at least 1")
        return EXIT_CONFIG
    if args.port is not None and not MIN_PORT <= args.port <= MAX_PORT:
        # As the setting api.port is checked: uvicorn would end in an OverflowError traceback.
        raise UsageError(
            f"--port: value {args.port} is out of range (expected a number from {MIN_PORT} to"
            f" {MAX_PORT})"
        )
    if args.workers > 1 and args.with_scheduler:
        logging.getLogger("aggregator.serve").error(
            "--with-scheduler runs in one process: use --workers 1, or `aggregator run` beside"
        )
        return EXIT_CONFIG
    # uvicorn restores the handler it found when it has shut down, then raises the signal
    # it caught again (to die "of" it); this handler makes that a normal return, exit 0.
    signal.signal(signal.SIGTERM, _stopped)
    # Opened here even with workers: the config is checked and the store migrated once,
    # before any worker starts.
    with open_app(args) as app:
        host = args.host or app.settings.api.host
        port = app.settings.api.port if args.port is None else args.port
        if args.workers > 1:
            os.environ[CONFIG_DIR_ENV] = str(config_dir_of(args))
            uvicorn.run(
                FACTORY,
                factory=True,
                workers=args.workers,
                http=HTTP_PROTOCOL,
                host=host,
                port=port,
                log_config=None,
                proxy_headers=False,
            )
            return EXIT_OK
        scheduler = Service(app) if args.with_scheduler else None
        config = uvicorn.Config(
            create_app(app, scheduler=scheduler),
            host=host,
            port=port,
            log_config=None,  # keep the logging set up above
            proxy_headers=False,
        )
        uvicorn.Server(config).run()
    return EXIT_OK


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve", help="serve the JSON API, feeds and the digest page (FastAPI under uvicorn)"
    )
    parser.add_argument("--host", help="listen address (default: setting api.host)")
    parser.add_argument("--port", type=int, help="listen port (default: setting api.port)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port (default 1; one per core to use them all)",
    )
    parser.add_argument(
        "--with-scheduler",
        action="store_true",
        help="also run the scheduler (refresh ticks and digest jobs) in this process "
        "(needs --workers 1)",
    )
    parser.set_defaults(handler=cmd_serve)
