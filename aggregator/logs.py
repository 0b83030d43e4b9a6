"""The `log_level` setting (env `AGGREGATOR_LOG_LEVEL`), applied once the settings are read.

The long-running commands (`run`, `worker`, `serve`) set up their log lines before the config
is loaded; this sets the level they show. The one-shot commands (`refresh`, `sources`,
`export`, `digest`) print their own results and only Python's last-resort warnings: at
DEBUG they get log lines on stderr too, for when an operator asks for everything.
"""

from __future__ import annotations

import logging

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


# Libraries that narrate what the service's own lines (and dramatiq's) say already, and the
# level they are shown from, below DEBUG: pika logs a dozen lines, tracebacks included, for
# every connection attempt to a broker that is down (dramatiq says it in one, each retry);
# Alembic one line for each plugin it loads and for each migration; APScheduler two for
# each tick.
CHATTY_LIBRARIES = {
    "pika": logging.CRITICAL,
    "alembic.runtime.plugins": logging.WARNING,
    # "Context impl SQLiteImpl.", "Will assume non-transactional DDL.", one "Running upgrade"
    # per migration: noise at a new store's first start.
    "alembic.runtime.migration": logging.WARNING,
    "apscheduler": logging.WARNING,  # two lines a tick: "Running job", "executed successfully"
}


def start_service_logging(line_format: str = LOG_FORMAT) -> None:
    """The long-running commands' log lines, at INFO until the settings say otherwise, with
    the chatty libraries quiet from the first line (the store's first migration included)."""
    logging.basicConfig(level=logging.INFO, format=line_format)
    _quiet_libraries(logging.INFO)


def _quiet_libraries(level: int) -> None:
    for name, shown_from in CHATTY_LIBRARIES.items():
        logging.getLogger(name).setLevel(logging.NOTSET if level <= logging.DEBUG else shown_from)


def apply_log_level(level: str) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    _quiet_libraries(root.level)
    if not root.handlers and root.level <= logging.DEBUG:
        logging.basicConfig(level=level, format=LOG_FORMAT)
