"""Which config files changed on disk since a long-running command read them.

`aggregator run` reads its config once, when it starts; an operator who edits sources.toml
(or a profile's cron) while it runs is told to restart it, in the log, instead of finding
out days later that the change never took.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

WATCHED = ("aggregator.toml", "sources.toml", "tags.toml")


def _stamp(path: Path) -> str | None:
    """The file's content, as a digest: a `touch` is no change, and an edit undone is none
    either. (Config files are a few KB: reading them each tick costs nothing.)"""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None  # absent (aggregator.toml is optional) or unreadable


class ConfigFiles:
    """The config files as read at start; `newly_changed` names each change once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._read = {name: _stamp(folder / name) for name in WATCHED}
        self._told = dict(self._read)

    def newly_changed(self) -> list[str]:
        """Files whose content differs from what was read, not reported since they last did."""
        changed = []
        for name in WATCHED:
            now = _stamp(self.folder / name)
            if now != self._told[name]:
                self._told[name] = now
                if now != self._read[name]:
                    changed.append(name)
        return changed
