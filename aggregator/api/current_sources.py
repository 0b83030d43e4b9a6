"""The sources of sources.toml as it is on disk now, for the API's listings.

The server reads its config once, when it starts; a source added since is stored by the
first process that reads the new config (`aggregator refresh`, `run`, a worker), and a
listing made from the config read at start then called it removed. The file is a few KB:
its content is hashed on each read and parsed again only when that changed. An edit that
leaves it invalid keeps the last valid list (the scheduler's config watch logs the problem;
this logs it once per edit too, as a server without a scheduler has no other voice).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from aggregator.errors import ConfigError
from aggregator.models import Source
from aggregator.settings import load_sources
from aggregator.settings.sources import SOURCES_FILE

log = logging.getLogger("aggregator.api")


def _content_hash(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None  # moved away or unreadable for now: the last list read stands


class CurrentSources:
    """`get()`: the sources configured now, else the last valid list (at first, `started`:
    what the app read when it opened). With no config folder, always `started`."""

    def __init__(self, config_dir: Path | None, started: tuple[Source, ...]) -> None:
        self.path = None if config_dir is None else config_dir / SOURCES_FILE
        # One attribute (hash, sources): threads of the route pool read and swap it whole.
        self._read: tuple[str | None, tuple[Source, ...]] = (None, started)
        self._refused: str | None = None  # the content last found invalid, logged once

    def get(self) -> tuple[Source, ...]:
        if self.path is None:
            return self._read[1]
        content = _content_hash(self.path)
        read_hash, sources = self._read
        if content is None or content in (read_hash, self._refused):
            return sources
        try:
            fresh = load_sources(self.path.parent)
        except ConfigError as exc:
            self._refused = content
            log.warning(
                "%s changed and is invalid; the API lists the sources as before: %s",
                self.path,
                exc,
            )
            return sources
        self._read = (content, fresh)
        return fresh
