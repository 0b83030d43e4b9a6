"""Whether the SQLite file a long-running process opened is still the one at its path.

A file moved or deleted under `aggregator run` stays open: the service went on writing items,
digest windows and the outbox into it, with nothing said, while the next `aggregator` command
made a new empty store at the path (every source "never fetched") and a restart lost what the
service wrote. The service asks before each pass, and does nothing while the answer is no.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy import Engine

from aggregator.store.engine import sqlite_file

log = logging.getLogger(__name__)

FileId = tuple[int, int]  # (device, inode)


def _file_id(path: Path) -> FileId | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_dev, found.st_ino)


class StoreFileWatch:
    """The store's file as opened, checked against what its path holds now."""

    def __init__(self, engine: Engine) -> None:
        found = sqlite_file(engine.url.render_as_string(hide_password=False))
        self.path = found.resolve() if found is not None else None
        self._opened = _file_id(self.path) if self.path is not None else None
        self.lost = False

    def in_place(self) -> bool:
        """True while the path holds the file opened (always, for PostgreSQL or a store in
        memory). Says so once when it stops being true, and once when it is true again."""
        if self.path is None or self._opened is None:
            return True
        now = _file_id(self.path)
        if now == self._opened:
            if self.lost:
                log.warning("the store file %s is back in place: the service goes on", self.path)
                self.lost = False
            return True
        if not self.lost:
            what = "no longer exists" if now is None else "is another file now"
            log.error(
                "the store file %s %s (moved or deleted while the service ran): what the "
                "service wrote would go to a file nobody reads, so nothing is fetched or sent "
                "until it is back in place; restart the service to use the store at that path",
                self.path,
                what,
            )
            self.lost = True
        return False
