"""`aggregator serve [--host H] [--port P] [--with-scheduler]`: the JSON API under uvicorn.

Host and port default to the settings `api.host` and `api.port` (127.0.0.1:8080). With
`--with-scheduler` the scheduler (`aggregator run`) runs in the same process and event
loop: one process refreshes, sends digests and answers the API. uvicorn handles SIGTERM
and SIGINT; the scheduler then finishes the step in flight before the process exits.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from aggregator.cli import EXIT_OK, open_app


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from aggregator.api import create_app
    from aggregator.schedule import Service

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with open_app(args) as app:
        scheduler = Service(app) if args.with_scheduler else None
        config = uvicorn.Config(
            create_app(app, scheduler=scheduler),
            host=args.host or app.settings.api.host,
            port=app.settings.api.port if args.port is None else args.port,
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
        "--with-scheduler",
        action="store_true",
        help="also run the scheduler (refresh ticks and digest jobs) in this process",
    )
    parser.set_defaults(handler=cmd_serve)
