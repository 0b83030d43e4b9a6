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
# Alembic one line for each plugin it loads.
CHATTY_LIBRARIES = {"pika": logging.CRITICAL, "alembic.runtime.plugins": logging.WARNING}


def apply_log_level(level: str) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    for name, shown_from in CHATTY_LIBRARIES.items():
        chatty = logging.getLogger(name)
        chatty.setLevel(logging.NOTSET if root.level <= logging.DEBUG else shown_from)
    if not root.handlers and root.level <= logging.DEBUG:
        logging.basicConfig(level=level, format=LOG_FORMAT)
