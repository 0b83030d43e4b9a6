"""Line numbers for values of a TOML file, which `tomllib` does not report.

`tomllib` gives a plain dict, so the loader finds lines by scanning the text: the table headers
(``[tag.csar]``, the n-th ``[[tag.csar.rule]]``), the ``key =`` lines inside one table, and the
line that spells one string value. It understands the layout config/tags.toml documents (one
header per table); where a file uses another layout it falls back to the nearest line it can
find, and only then to no line at all. An element of an array spanning lines is found by
`KeyLines`, which follows arrays element by element.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass

from aggregator.settings.tomlfile import KeyLines

_HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(?:#.*)?$")
_KEY_PART = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*(\.|$)""")


def _split_key(dotted: str) -> tuple[str, ...] | None:
    parts: list[str] = []
    position = 0
    while position < len(dotted):
        match = _KEY_PART.match(dotted, position)
        if match is None:
            return None
        part = match.group(1)
        if part.startswith('"'):
            part = json.loads(part)
        elif part.startswith("'"):
            part = part[1:-1]
        parts.append(part)
        position = match.end()
    return tuple(parts)


@dataclass(frozen=True, slots=True)
class _Header:
    line: int  # 1-based
    array: bool
    path: tuple[str, ...]


class TomlLines:
    """Finds the lines of tables, keys and string values in one TOML text."""

    def __init__(self, text: str) -> None:
        self._lines = text.split("\n")  # as TOML ends lines: not at U+2028, U+0085, ...
        headers: list[_Header] = []
        for number, line in enumerate(self._lines, start=1):
            match = _HEADER.match(line)
            if match is None:
                continue
            path = _split_key(match.group(2))
            if path is not None:
                headers.append(_Header(number, match.group(1) == "[[", path))
        self._headers = headers

    def table(self, *path: str, occurrence: int = 0) -> int | None:
        """Line of the header ``[path]``, or of the n-th ``[[path]]`` (0-based)."""
        found = [h.line for h in self._headers if h.path == path]
        if occurrence < len(found):
            return found[occurrence]
        return self._mention(path)

    def key(self, table_line: int | None, key: str) -> int | None:
        """Line of ``key = ...`` in the table whose header is at `table_line`."""
        name = re.escape(key)
        pattern = re.compile(rf"""^\s*(?:{name}|"{name}"|'{name}')\s*=""")
        for number in self._body(table_line):
            if pattern.match(self._lines[number - 1]):
                return number
        return table_line

    def value(self, table_line: int | None, key: str, value: str) -> int | None:
        """Line that spells the string `value` of `key` in that table (multi-line arrays)."""
        start = self.key(table_line, key)
        spellings = (json.dumps(value, ensure_ascii=False), f"'{value}'")
        for number in self._body(table_line):
            if start is not None and number < start:
                continue
            if any(s in self._lines[number - 1] for s in spellings):
                return number
        return start

    def element(self, *loc: str | int) -> int | None:
        """Line an array element begins on (`"lists", "institutions", 2`), if it is found."""
        return self._elements.exact(loc)

    @functools.cached_property
    def _elements(self) -> KeyLines:  # scanned only when an error asks for an element
        return KeyLines("\n".join(self._lines))

    def _body(self, table_line: int | None) -> range:
        """Line numbers after `table_line` up to the next header (whole file for None)."""
        if table_line is None:
            return range(1, len(self._lines) + 1)
        following = [h.line for h in self._headers if h.line > table_line]
        end = following[0] if following else len(self._lines) + 1
        return range(table_line + 1, end)

    def _mention(self, path: tuple[str, ...]) -> int | None:
        """Fallback: the first line naming the path as a dotted key (``tag.csar.label = ...``)."""
        if not path:
            return None
        dotted = r"\s*\.\s*".join(rf"""["']?{re.escape(p)}["']?""" for p in path)
        pattern = re.compile(rf"(?<![\w-]){dotted}(?![\w-])")
        for number, line in enumerate(self._lines, start=1):
            if pattern.search(line):
                return number
        return None
