"""`aggregator worker`: refresh worker processes fed by `aggregator run --distributed`.

    aggregator worker --processes 4 --threads 8

With one process the worker runs in this process (SIGKILL kills the worker itself, which is
what a crash looks like). With more, this process supervises: each child opens its own App
and connection pool, a child that dies is started again, and SIGTERM/SIGINT are passed on
so every child finishes the messages it holds before exiting. A child that exits before it
started consuming, or with the config (2) or store (3) exit code, is not started again: the
supervisor stops the others and exits with that code and the child's message, once.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import signal
import sys
import threading
import time
from collections.abc import Callable
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


def _serve(config_dir: Path, threads: int, started: Callable[[], None] | None = None) -> None:
    from aggregator.worker import run_worker

    stop = threading.Event()
    _on_stop(stop)
    run_worker(config_dir, threads=threads, stop=stop, started=started)


def _failure(exc: BaseException) -> tuple[int, str]:
    """The exit code and stderr line `aggregator` gives `exc` in a single process."""
    from aggregator.cli import EXIT_CONFIG, EXIT_STORE, UsageError
    from aggregator.errors import AggregatorError, ConfigError, StoreError

    if isinstance(exc, ConfigError | UsageError):
        return EXIT_CONFIG, f"aggregator: {exc}"
    if isinstance(exc, StoreError):
        return EXIT_STORE, f"aggregator: store error: {exc}"
    if isinstance(exc, AggregatorError):
        return EXIT_STORE, f"aggregator: {exc}"
    return EXIT_STORE, f"aggregator: {type(exc).__name__}: {exc}"


def _child(config_dir: Path, threads: int, n: int, reports: Any) -> None:
    """One worker process: tells the supervisor once it consumes, or why it could not."""
    from aggregator.allocator import give_back_large_blocks

    give_back_large_blocks()  # a spawned child starts with glibc's defaults again
    start_service_logging(LOG_FORMAT)
    try:
        _serve(config_dir, threads, started=lambda: reports.put((n, "started", 0, "")))
    except Exception as exc:  # the supervisor prints it once and exits with its code
        code, message = _failure(exc)
        reports.put((n, "failed", code, message))
        sys.exit(code)


def _supervise(config_dir: Path, processes: int, threads: int) -> int:
    """Run the children, restarting one that dies after it started consuming; a child that
    fails before (the store down, a config error) stops them all: its code and message."""
    from aggregator.cli import EXIT_CONFIG, EXIT_OK, EXIT_STORE

    # spawn: a clean interpreter per child, no inherited sockets, threads or pools.
    context = multiprocessing.get_context("spawn")
    reports = context.SimpleQueue()
    stop = threading.Event()
    _on_stop(stop)
    log = logging.getLogger("aggregator.worker")
    started = [False] * processes
    failures: dict[int, tuple[int, str]] = {}

    def start(n: int) -> Any:
        started[n] = False
        failures.pop(n, None)
        child = context.Process(
            target=_child, args=(config_dir, threads, n, reports), name=f"worker-{n}", daemon=False
        )
        child.start()
        return child

    def read_reports() -> None:
        while not reports.empty():
            n, what, code, message = reports.get()
            if what == "started":
                started[n] = True
            else:
                failures[n] = (code, message)

    children = [start(n) for n in range(processes)]
    failed: tuple[int, str] | None = None
    while not stop.is_set() and failed is None:
        read_reports()
        for n, child in enumerate(children):
            if child.is_alive() or stop.is_set():
                continue
            read_reports()  # what it said before it exited
            code = child.exitcode
            if n in failures and failures[n][0] in (EXIT_CONFIG, EXIT_STORE):
                failed = failures[n]
            elif not started[n]:
                failed = failures.get(n) or (
                    EXIT_STORE,
                    f"aggregator: {child.name} exited with {code} before it started consuming",
                )
            if failed is not None:
                break
            log.warning("%s exited with %s: starting it again", child.name, code)
            time.sleep(RESTART_DELAY_SECONDS)
            children[n] = start(n)
        if failed is None:
            stop.wait(0.5)
    for child in children:
        if child.is_alive() and child.pid is not None:
            child.terminate()  # SIGTERM: finish the messages in hand, then exit
    for child in children:
        child.join()
    reports.close()
    if failed is None:
        return EXIT_OK
    code, message = failed
    print(message, file=sys.stderr, flush=True)
    return code


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
        return EXIT_OK
    return _supervise(config_dir, args.processes, args.threads)
