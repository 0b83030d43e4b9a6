"""The tag rules: validated when the app opens, compiled when first used.

Compiling config/tags.toml (some 600 expressions) takes ~50 ms, and importing the tagger
~40 ms more: a tenth of a warm refresh's whole run, in which every source answers 304 and
nothing is tagged. So the app checks tags.toml when it opens, as before (a broken file is a
config error before anything is fetched), but skips the compiling when this very text has
compiled cleanly before: a stamp in `data_dir/cache` records the hash of the text that last
compiled, with what could change the outcome (this package's version, the tagger's files,
Python's version). Like a .pyc, the stamp is only a shortcut: without it, or when it cannot be
written, the rules are compiled at open. Either way what is compiled is the text read at open:
a file edited while a service runs is taken up at its next start, checked then.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import aggregator
from aggregator.errors import ConfigError
from aggregator.settings.tomlfile import is_absent

if TYPE_CHECKING:
    from aggregator.tag import TagRules

log = logging.getLogger(__name__)

RULES_FILE = "tags.toml"
STAMP_FILE = "tags.compiled"
# The modules whose checks decide whether a tags file is valid (any change: compile again).
_TAGGER = Path(__file__).resolve().parent / "tag"


@dataclass(frozen=True, slots=True)
class RulesText:
    """The tag rules as read at open, for a worker process to compile (`compile`): sending
    the text keeps the tagger out of the refreshing process, and a worker compiles it faster
    than it unpickles compiled patterns."""

    data: bytes | None  # None: no tags file, only the automatic tags
    name: str  # the file, for errors

    def compile(self) -> TagRules:
        """Raises the file's ConfigError (file, line) when it is not valid."""
        from aggregator.tag import TagRules, decode_tag_rules, parse_tag_rules

        if self.data is None:
            return TagRules.empty()
        return parse_tag_rules(decode_tag_rules(self.data, self.name), self.name)


class RulesLoader:
    """The tag rules of a config directory, compiled once, on first use (`get`)."""

    def __init__(self, config_dir: Path, cache_dir: Path | None = None) -> None:
        self.path = config_dir / RULES_FILE
        self._stamp = None if cache_dir is None else cache_dir / STAMP_FILE
        self._rules: TagRules | None = None
        # What `check` found, for `get` to compile: the very text it checked, so that a file
        # edited after the app opened (a running service) is not compiled unchecked.
        self._checked: bytes | None = None
        self._missing = False

    @property
    def loaded(self) -> bool:
        return self._rules is not None

    def check(self) -> None:
        """Raise the file's ConfigError now if it has one: compile it, unless this text is
        known to compile (the stamp), in which case compiling waits for `get`."""
        if self._rules is not None:
            return
        text = self.text().data
        if text is None:
            return  # no rules but the automatic tags, nothing to check
        key = self._key(text)
        if key is not None and self._stamp is not None and _read(self._stamp) == key:
            return
        self.get()
        if key is not None and self._stamp is not None:
            _write(self._stamp, key)

    def get(self) -> TagRules:
        if self._rules is None:
            self._rules = self.text().compile()
        return self._rules

    def text(self) -> RulesText:
        """The text `check` read (read now if it was not called); raises the file's
        ConfigError when it cannot be read."""
        name = str(self.path)
        if self._checked is None and not self._missing:
            if is_absent(self.path):  # a folder there is said ("Is a directory"), not skipped
                self._missing = True
            else:
                try:
                    self._checked = self.path.read_bytes()
                except OSError as exc:
                    raise ConfigError(name, f"cannot read: {exc.strerror or exc}") from exc
        return RulesText(data=self._checked, name=name)

    def _key(self, text: bytes) -> str | None:
        """What decides the outcome of compiling: the text and the code that checks it."""
        try:
            tagger = sorted(
                (entry.name, stat.st_mtime_ns, stat.st_size)
                for entry in _TAGGER.iterdir()
                if entry.suffix == ".py" and (stat := entry.stat())
            )
        except OSError:
            return None
        digest = hashlib.sha256(text)
        digest.update(repr((aggregator.__version__, sys.version, tagger)).encode())
        return digest.hexdigest()


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _write(path: Path, key: str) -> None:
    try:
        # Inside the data dir only once it is there: a read-only command given a mistyped
        # data_dir says "no store" and must not leave the folder behind.
        path.parent.mkdir(exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(key + "\n", encoding="ascii")
        temporary.replace(path)  # atomic: a reader sees the old stamp or the new one
    except OSError as exc:  # a read-only data dir: compile at every open, as without it
        log.debug("cannot write %s: %s", path, exc)
