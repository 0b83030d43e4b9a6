"""`aggregator worker`: refresh worker processes fed by `aggregator run --distributed`.

    aggregator worker --processes 4 --threads 8

With one process the worker runs in this process (SIGKILL kills the worker itself, which is
what a crash looks like). With more, this process supervises: each child opens its own App
and connection pool, a child that dies is started again, and SIGTERM/SIGINT are passed on
so every child finishes the messages it holds before exiting.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import signal
import threading
import time
from pathlib import Path
from typing import Any

from aggregator.logs import start_service_logging

RESTART_DELAY_SECONDS = 1.0
LOG_FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "worker", help="run refresh workers that take due sources from the broker"
    )
    parser.add_argument(
        "--processes", type=int, default=1, metavar="N", help="worker processes (default: 1)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=4,
        metavar="M",
        help="threads per process, one source each (default: 4)",
    )
    parser.set_defaults(handler=cmd_worker)


def _on_stop(stop: threading.Event) -> None:
    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _serve(config_dir: Path, threads: int) -> None:
    from aggregator.worker import run_worker

    stop = threading.Event()
    _on_stop(stop)
    run_worker(config_dir, threads=threads, stop=stop)


def _child(config_dir: Path, threads: int) -> None:
    from aggregator.allocator import give_back_large_blocks

    give_back_large_blocks()  # a spawned child starts with glibc's defaults again
    start_service_logging(LOG_FORMAT)
    _serve(config_dir, threads)


def _supervise(config_dir: Path, processes: int, threads: int) -> None:
    # spawn: a clean interpreter per child, no inherited sockets, threads or pools.
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()
    _on_stop(stop)
    log = logging.getLogger("aggregator.worker")

    def start(n: int) -> Any:
        child = context.Process(
            target=_child, args=(config_dir, threads), name=f"worker-{n}", daemon=False
        )
        child.start()
        return child

    children = [start(n) for n in range(processes)]
    while not stop.is_set():
        for n, child in enumerate(children):
            if not child.is_alive() and not stop.is_set():
                log.warning("%s exited with %s: starting it again", child.name, child.exitcode)
                time.sleep(RESTART_DELAY_SECONDS)
                children[n] = start(n)
        stop.wait(0.5)
    for child in children:
        if child.is_alive() and child.pid is not None:
            child.terminate()  # SIGTERM: finish the messages in hand, then exit
    for child in children:
        child.join()


def _check_login(config_dir: Path) -> None:
    """Before any worker starts: a refused login ends the command (exit 3) instead of
    workers retrying it, and a supervisor restarting them, for ever."""
    import os

    from aggregator.logs import apply_log_level
    from aggregator.settings import load_settings
    from aggregator.worker import check_login

    settings = load_settings(config_dir, dict(os.environ))
    apply_log_level(settings.log_level)
    check_login(settings.workers)


def cmd_worker(args: argparse.Namespace) -> int:
    from aggregator.cli import EXIT_OK, UsageError, config_dir_of

    if args.processes < 1 or args.threads < 1:
        raise UsageError("--processes and --threads must be at least 1")
    start_service_logging(LOG_FORMAT)
    config_dir = config_dir_of(args)
    _check_login(config_dir)
    if args.processes == 1:
        _serve(config_dir, args.threads)
    else:
        _supervise(config_dir, args.processes, args.threads)
    return EXIT_OK
