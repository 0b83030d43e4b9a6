"""Which config files changed on disk since a long-running command read them.

`aggregator run` reads its config once, when it starts; an operator who edits sources.toml
(or a profile's cron) while it runs is told to restart it, in the log, instead of finding
out days later that the change never took. A change that leaves the config invalid is told
as such instead, with the problem (file, line, key): advice to restart would stop the
service, which would not start again.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from aggregator.errors import ConfigError

WATCHED = ("aggregator.toml", "sources.toml", "tags.toml")

log = logging.getLogger("aggregator.config_watch")


def _stamp(path: Path) -> str | None:
    """The file's content, as a digest: a `touch` is no change, and an edit undone is none
    either. (Config files are a few KB: reading them each tick costs nothing.)"""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None  # absent (aggregator.toml is optional) or unreadable


def config_problem(folder: Path, env: Mapping[str, str]) -> ConfigError | None:
    """The config's first problem as a command starting now would meet it, or None: the
    checks `aggregator sources check` makes of the files (settings, sources, tag rules and
    the tags aggregator.toml names)."""
    from aggregator.app import check_tags_named
    from aggregator.rules_loader import RulesLoader
    from aggregator.settings import load_settings, load_sources

    try:
        settings = load_settings(folder, env)
        sources = load_sources(folder)
        rules = RulesLoader(folder)
        rules.get()
        check_tags_named(settings, sources, rules)
    except ConfigError as exc:
        return exc
    return None


class ConfigFiles:
    """The config files as read at start; `newly_changed` names each change once."""

    def __init__(self, folder: Path, env: Mapping[str, str] | None = None) -> None:
        self.folder = folder
        self.env = os.environ if env is None else env  # what the settings are read with
        self._read = {name: _stamp(folder / name) for name in WATCHED}
        self._told = dict(self._read)
        self._invalid = False  # the last change looked at left the config invalid

    def newly_changed(self) -> list[str]:
        """Files whose content differs from what was read, not reported since they last did,
        when the config they make is valid: a restart would apply them.

        When it is not, the problem is logged here at ERROR, once per change, and no file is
        named: the caller's advice to restart would leave no service (`aggregator run` exits
        2 on an invalid config). Once the config is valid again, the files that then differ
        from what was read are named, those changed meanwhile included."""
        touched = []
        for name in WATCHED:
            now = _stamp(self.folder / name)
            if now != self._told[name]:
                self._told[name] = now
                touched.append(name)
        if not touched:
            return []
        problem = config_problem(self.folder, self.env)
        if problem is not None:
            self._invalid = True
            log.error(
                "%s changed on disk and the config is now invalid: %s; the service goes on "
                "with the config it started with; fix this before restarting",
                ", ".join(str(self.folder / name) for name in touched),
                problem,
            )
            return []
        if self._invalid:
            self._invalid = False
            log.info("the config in %s is valid again", self.folder)
            touched = list(WATCHED)  # the edits made while it was not were never named
        return [name for name in touched if self._told[name] != self._read[name]]
