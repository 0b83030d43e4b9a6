"""Read a TOML file and remember on which line every table and key was written.

`tomllib` gives values without positions, and pydantic reports errors by path
(``("source", 3, "selectors", "item")``). `KeyLines` maps such paths back to lines by
scanning the text for table headers and ``key =`` lines, counting ``[[array]]`` headers so
the n-th ``[[source]]`` gets index n-1, as in the parsed data.
"""

from __future__ import annotations

import datetime
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli  # tomllib's own code, compiled: ~4x faster on a 1,000-source file

from aggregator.errors import ConfigError

Loc = tuple[str | int, ...]

_BARE_OR_QUOTED = re.compile(r"[A-Za-z0-9_-]+|\"(?:[^\"\\]|\\.)*\"|'[^']*'")
_HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(
    r"^\s*((?:[A-Za-z0-9_-]+|\"(?:[^\"\\]|\\.)*\"|'[^']*')"
    r"(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"(?:[^\"\\]|\\.)*\"|'[^']*'))*)\s*="
)
_DECODER_POSITION = re.compile(r"\(at line (\d+), column \d+\)")


_LONGEST_SHOWN = 80  # characters of an array or table shown in a message


def toml_text(value: object) -> str:
    """A value in a message as the file spells it: `true`, not Python's `True`; a table as
    `{ a = 1 }`, not `{'a': 1}`. Text keeps Python's quoting ('no'), which TOML reads as a
    literal string; a long array or table is cut, as the line number points at it anyway."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date | datetime.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, list | tuple):
        text = "[" + ", ".join(toml_text(item) for item in value) + "]"
    elif isinstance(value, dict):
        pairs = ", ".join(f"{_toml_key(str(k))} = {toml_text(v)}" for k, v in value.items())
        text = "{ " + pairs + " }" if pairs else "{}"
    else:
        return repr(value)
    return text if len(text) <= _LONGEST_SHOWN else text[: _LONGEST_SHOWN - 4] + " ..."


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else repr(key)


def _split_key(text: str) -> tuple[str, ...]:
    return tuple(part.strip("\"'") for part in _BARE_OR_QUOTED.findall(text))


@dataclass(frozen=True, slots=True)
class _ScanState:
    depth: int = 0  # open [ and { of a value spanning lines
    string: str = ""  # the open multi-line string delimiter, if any


def _scan(line: str, state: _ScanState) -> _ScanState:
    """Follow brackets and multi-line strings so values spanning lines are not read as keys."""
    depth, string, i = state.depth, state.string, 0
    while i < len(line):
        if string:
            if line.startswith(string, i):
                i += len(string)
                string = ""
                continue
            i += 2 if string in ('"', '"""') and line[i] == "\\" else 1
            continue
        char = line[i]
        if char == "#":
            break
        for delimiter in ('"""', "'''", '"', "'"):
            if line.startswith(delimiter, i):
                string = delimiter
                i += len(delimiter)
                break
        else:
            depth += char in "[{"
            depth -= char in "]}"
            i += 1
    if string in ('"', "'"):  # single-line strings cannot span lines
        string = ""
    return _ScanState(depth=max(depth, 0), string=string)


@dataclass(frozen=True, slots=True)
class Statement:
    """A table header or a `key =` line: its line, what it names, and as written."""

    line: int
    loc: Loc
    written: str
    array: bool | None  # a header: whether `[[...]]`; None for a key


class KeyLines:
    """Line numbers (1-based) of the tables and keys of one TOML text."""

    def __init__(self, text: str) -> None:
        self._lines: dict[Loc, int] = {}
        self._counts: dict[Loc, int] = {}
        # Every header and `key =` line in order: where a statement that ends on a later
        # line (an array spanning lines) began.
        self.statements: list[Statement] = []
        table: Loc = ()
        state = _ScanState()
        # Lines as TOML ends them, at "\n" (or "\r\n"): `splitlines` also broke at U+2028,
        # U+0085 and the like, which a name or a comment may hold, and every later line
        # number was off by one for each.
        for number, line in enumerate(text.split("\n"), start=1):
            if state.depth == 0 and not state.string:
                header = _HEADER.match(line)
                if header and not _KEY.match(line):
                    is_array = header.group(1) == "[["
                    table = self._resolve(_split_key(header.group(2)), is_array)
                    self._lines.setdefault(table, number)
                    if is_array:  # the array itself is where its first element is
                        self._lines.setdefault(table[:-1], number)
                    self.statements.append(Statement(number, table, header.group(2), is_array))
                    continue
                key = _KEY.match(line)
                if key:
                    loc = table + _split_key(key.group(1))
                    # A dotted key (`selectors.item = ...`) writes its tables too: a key
                    # missing from one is then said at the line that began it, not at the
                    # enclosing table's header.
                    for end in range(len(table) + 1, len(loc) + 1):
                        self._lines.setdefault(loc[:end], number)
                    self.statements.append(Statement(number, loc, key.group(1).strip(), None))
            state = _scan(line, state)

    def _resolve(self, parts: tuple[str, ...], is_array: bool) -> Loc:
        resolved: list[str | int] = []
        for i, part in enumerate(parts):
            resolved.append(part)
            key = tuple(resolved)
            if is_array and i == len(parts) - 1:
                count = self._counts.get(key, 0)
                self._counts[key] = count + 1
                resolved.append(count)
            elif key in self._counts:  # a sub-table of the latest element of an array
                resolved.append(self._counts[key] - 1)
        return tuple(resolved)

    def exact(self, loc: Loc) -> int | None:
        return self._lines.get(loc)

    def statement_at(self, line: int) -> Statement | None:
        """The statement written on `line`, or the one whose value runs on to it."""
        found = None
        for statement in self.statements:
            if statement.line > line:
                break
            found = statement
        return found

    def line_of(self, loc: Loc) -> int | None:
        """The line of `loc`, else of its nearest written parent (a missing key: its table)."""
        for end in range(len(loc), 0, -1):
            line = self._lines.get(loc[:end])
            if line is not None:
                return line
        return None


class TomlFile:
    """A parsed TOML file. Its `lines` are scanned only when an error asks for one: a valid
    sources.toml of a thousand sources would otherwise cost a second scan of every line."""

    def __init__(self, path: Path, data: dict[str, Any], text: str) -> None:
        self.path = path
        self.data = data
        self._text = text

    @functools.cached_property
    def lines(self) -> KeyLines:
        return KeyLines(self._text)

    @property
    def name(self) -> str:
        return str(self.path)


_WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),  # before UTF-16's, which it starts with
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)
_UTF8 = "a UTF-8 text file (TOML is UTF-8)"


def _wide(data: bytes) -> str | None:
    """UTF-16 or UTF-32, told by a byte-order mark or, without one, by the NUL bytes that
    every ASCII character of such text comes with (TOML's keys and brackets are ASCII)."""
    for bom, name in _WIDE_BOMS:
        if data.startswith(bom):
            return name
    head = data[:400]
    if len(head) >= 4 and head.count(0) * 3 >= len(head):
        return "UTF-32" if head.count(0) * 4 >= len(head) * 3 - 8 else "UTF-16"
    return None


def decode_config(data: bytes, file: str) -> str:
    """A config file's text: UTF-8, as TOML requires, with or without the byte-order mark
    some Windows editors put first. Raises ConfigError naming the line that is not UTF-8."""
    wide = _wide(data)
    if wide is not None:
        raise ConfigError(file, f"saved as {wide}", line=1, expected=_UTF8)
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start : exc.start + 1].hex().upper()
        raise ConfigError(
            file,
            f"not UTF-8 (byte 0x{byte}: saved as Latin-1 or Windows-1252?)",
            line=line,
            expected=_UTF8,
        ) from exc


def is_absent(path: Path) -> bool:
    """Nothing at all at `path`. Whatever is there but cannot be read as a file (a folder, a
    folder this process may not look into) is not absent: reading it says what it is, where
    `is_file()` made all of these "file not found"."""
    try:
        path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False  # e.g. permission denied: read_toml says so
    return False


def read_toml(path: Path) -> TomlFile:
    """Parse `path`; a syntax error becomes a ConfigError carrying the decoder's line."""
    try:
        if path.is_dir():
            raise ConfigError(str(path), "is a folder, not a file", expected="a TOML file")
        if path.exists() and not path.is_file():  # a FIFO would block the read for ever
            raise ConfigError(str(path), "is not a regular file", expected="a TOML file")
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read the file: {exc.strerror or exc}") from exc
    text = decode_config(raw, str(path))
    try:
        data = tomli.loads(text)
    except tomli.TOMLDecodeError as exc:
        raise toml_syntax_error(exc, text, str(path)) from exc
    return TomlFile(path, data, text)


_END_OF_DOCUMENT = "(at end of document)"


def toml_syntax_error(exc: tomli.TOMLDecodeError, text: str, file: str) -> ConfigError:
    """The decoder's complaint with its line: also for one "at end of document" (an
    unclosed string, a key with no value on the last line), which names none."""
    message = str(exc)
    position = _DECODER_POSITION.search(message)
    line = int(position.group(1)) if position else getattr(exc, "lineno", None)
    last = len(text.rstrip("\n").split("\n"))  # the last line with anything on it
    if (line is None and _END_OF_DOCUMENT in message) or (line is not None and line > last):
        line = last
    problem = _DECODER_POSITION.sub("", message).replace(_END_OF_DOCUMENT, "").strip()
    if line is not None and (problem == _OVERWRITE or _DECLARE_TWICE.match(problem)):
        duplicate = _duplicate(text, line, file)
        if duplicate is not None:
            return duplicate
    if _END_OF_DOCUMENT in message:
        problem += " (the file ends there)"
    return ConfigError(file, f"TOML syntax error: {problem}", line=line, expected="valid TOML")


# What the decoder says of a key or table written twice: "Cannot overwrite a value" (a key),
# "Cannot declare ('a',) twice" (a table). Neither names the key, and the first is reported
# where the value ends: for an array spanning lines, its last line, not the key's.
_OVERWRITE = "Cannot overwrite a value"
_DECLARE_TWICE = re.compile(r"^Cannot declare \(.*\) twice$")


def _duplicate(text: str, line: int, file: str) -> ConfigError | None:
    """The key or table written twice, on the line it is written the second time, with the
    line it was first set on; None when the statement at `line` is not a plain repeat (an
    inline table's own keys, a dotted key through a value), left to the decoder's words."""
    lines = KeyLines(text)
    statement = lines.statement_at(line)
    if statement is None or statement.array:
        return None
    first = lines.exact(statement.loc)
    if first is None or first >= statement.line:
        return None
    if statement.array is None:
        what, expected = f"duplicate key {statement.written!r}", "each key once in its table"
    else:
        what, expected = f"duplicate table [{statement.written}]", "each table once"
    return ConfigError(
        file, f"{what}, first set on line {first}", line=statement.line, expected=expected
    )
