"""Read a TOML file and remember on which line every table and key was written.

`tomllib` gives values without positions, and pydantic reports errors by path
(``("source", 3, "selectors", "item")``). `KeyLines` maps such paths back to lines by
scanning the text for table headers and ``key =`` lines, counting ``[[array]]`` headers so
the n-th ``[[source]]`` gets index n-1, as in the parsed data, and following each value into
its arrays and inline tables, so that an element (``("source", 1, "tags", 2)``) or a key of an
inline table (``("source", 2, "intervall")``) gets the line it is written on.
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
_KEY = re.compile(  # matched at a line's start, or in an inline table
    r"\s*((?:[A-Za-z0-9_-]+|\"(?:[^\"\\]|\\.)*\"|'[^']*')"
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


@dataclass(slots=True)
class _Open:
    """An array or inline table whose closing bracket is still to come."""

    loc: Loc | None  # None: inside a value whose place is not known (text that is not TOML)
    table: bool  # `{...}`; else `[...]`
    index: int = 0  # an array: the element being read
    ready: bool = True  # what comes next begins an element (array) or a key (table)


class _Values:
    """Reads values after their `key =`, character by character, across lines: so that a
    line inside an array or a multi-line string is not taken for a key or a header, and so
    that each array element and each key of an inline table gets the line it begins on. An
    error in `tags = [` ... `"Not OK",` is then said on the line of "Not OK", not of `tags`.
    """

    def __init__(self, lines: dict[Loc, int]) -> None:
        self._lines = lines
        self._open: list[_Open] = []
        self._string = ""  # the delimiter of the string being read, if any
        self._value: Loc | None = None  # a value is due next (after `=`), and its place

    @property
    def idle(self) -> bool:
        """Nothing left open: the next line is a header, a key, a comment or blank."""
        return not self._open and not self._string

    def value(self, loc: Loc, line: str, start: int, number: int) -> None:
        """Read the value of `loc`, which begins at `line[start:]`."""
        self._value = loc
        self.feed(line, start, number)
        self._value = None  # a top-level value is on its key's line, or the text is not TOML

    def feed(self, line: str, i: int, number: int) -> None:
        while i < len(line):
            if self._string:
                i = self._in_string(line, i)
                continue
            char = line[i]
            top = self._open[-1] if self._open else None
            if char in " \t\r":  # "\r": a CRLF file's lines, split at "\n"
                i += 1
            elif char == "#":
                return
            elif char in "]}":
                if self._open:
                    self._open.pop()
                i += 1
            elif top is not None and top.table and top.ready:
                i = self._key(top, line, i, number)
            elif char == ",":
                if top is not None:
                    top.ready = True
                    if not top.table:
                        top.index += 1
                i += 1
            else:
                i = self._begin(top, line, i, number)

    def _key(self, table: _Open, line: str, i: int, number: int) -> int:
        """A key of an inline table (`{ id = "x", selectors.item = "li" }`), at `line[i]`."""
        table.ready = False
        key = _KEY.match(line, i)
        if key is None:  # not TOML: step on, so that the scan ends
            return i + 1
        if table.loc is not None:
            loc = table.loc + _split_key(key.group(1))
            for end in range(len(table.loc) + 1, len(loc) + 1):  # a dotted key's tables
                self._lines.setdefault(loc[:end], number)
            self._value = loc
        return key.end()

    def _begin(self, top: _Open | None, line: str, i: int, number: int) -> int:
        """A value, or the rest of one (a number, `true`, a date and time with a space)."""
        loc, self._value = self._value, None
        starts = loc is not None
        if top is not None and not top.table and top.ready:
            starts = True
            loc = None if top.loc is None else (*top.loc, top.index)
        if top is not None:
            top.ready = False
        if loc is not None:
            self._lines.setdefault(loc, number)
        char = line[i]
        if char in "\"'":
            delimiter = char * 3 if line.startswith(char * 3, i) else char
            self._string = delimiter
            return i + len(delimiter)
        if starts and char in "[{":
            self._open.append(_Open(loc, table=char == "{"))
        return i + 1

    def _in_string(self, line: str, i: int) -> int:
        """Past the end of the open string, or to the end of the line if it goes on."""
        delimiter = self._string
        quote = delimiter[0]
        while i < len(line):
            char = line[i]
            if char == "\\" and quote == '"':
                i += 2
            elif line.startswith(delimiter, i):
                run = len(delimiter)
                if run == 3:  # `"""a""""` is `a"`: up to two more quotes belong to the text
                    while run < 5 and line.startswith(quote, i + run):
                        run += 1
                self._string = ""
                return i + run
            else:
                i += 1
        if len(delimiter) == 1:  # a one-line string that is not closed: not TOML
            self._string = ""
        return i


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
        values = _Values(self._lines)
        # Lines as TOML ends them, at "\n" (or "\r\n"): `splitlines` also broke at U+2028,
        # U+0085 and the like, which a name or a comment may hold, and every later line
        # number was off by one for each.
        for number, line in enumerate(text.split("\n"), start=1):
            if not values.idle:
                values.feed(line, 0, number)
                continue
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
                values.value(loc, line, key.end(), number)

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
    expected = "valid TOML"
    if problem == "Unclosed array" and _END_OF_DOCUMENT in message:
        problem, expected = "an array is not closed", "']' to close the array"
    elif line is not None and problem in _SAID_BETTER:
        problem, expected = _said_better(problem, text, line)
    if _END_OF_DOCUMENT in message:
        problem += " (the file ends there)"
    return ConfigError(file, f"TOML syntax error: {problem}", line=line, expected=expected)


# The decoder's words for the commonest slips say neither what is wrong in words a config's
# author knows nor what was expected ("Unclosed array" for a missing comma, at the element
# after it): (what is wrong, what was expected).
_SAID_BETTER = {
    "Unclosed array": (
        "a ',' is missing between two elements of an array, or its ']'",
        "',' after each element of the array, and ']' to close it",
    ),
    "Unclosed inline table": (
        "a ',' is missing between two keys of an inline table, or its '}'",
        "key = value pairs separated by ',', and '}' to close it, on one line",
    ),
    "Invalid value": (
        "invalid value",
        'a value: a "quoted string", a number, true or false, a date, an [array] or an'
        " {inline table}",
    ),
    "Expected '=' after a key in a key/value pair": ("a key without '='", "key = value"),
}
_STRING_OR_COMMENT = re.compile(
    r'"""[\s\S]*?"""'  # multi-line strings
    r"|'''[\s\S]*?'''"
    r'|"(?:[^"\\\n]|\\.)*"'  # basic strings, escapes and all
    r"|'[^'\n]*'"  # literal strings
    r"|#[^\n]*"  # comments
)


def _said_better(problem: str, text: str, line: int) -> tuple[str, str]:
    """`_SAID_BETTER`'s words, with the line that tells where to look."""
    said, expected = _SAID_BETTER[problem]
    lines = text.split("\n")
    if problem == "Unclosed array":
        before = _last_written_before(lines, line)
        if before is not None and before != line:
            said = f"a ',' is missing after line {before}, or the array's ']' before this line"
    elif problem == "Invalid value":
        opened = _array_open_at(text, line)
        written = lines[line - 1].lstrip() if line <= len(lines) else ""
        if opened is not None and written.startswith("["):
            said = f"the array opened on line {opened} is not closed before this table"
            expected = "']' to close the array"
    return said, expected


def _last_written_before(lines: list[str], line: int) -> int | None:
    """The last line before `line` with anything but spaces and a comment on it."""
    for number in range(line - 1, 0, -1):
        if lines[number - 1].split("#", 1)[0].strip():
            return number
    return None


def _array_open_at(text: str, line: int) -> int | None:
    """The line of the outermost '[' still open where `line` starts (strings and comments
    left out), or None when every bracket before it is closed."""
    depth = 0
    opened: int | None = None
    number = 1
    end = sum(len(part) + 1 for part in text.split("\n")[: line - 1])
    blanked = _STRING_OR_COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text[:end])
    for char in blanked:
        if char == "\n":
            number += 1
        elif char == "[":
            depth += 1
            if depth == 1:
                opened = number
        elif char == "]" and depth:
            depth -= 1
    return opened if depth else None


def _array_after_its_table(lines: KeyLines, statement: Statement, file: str) -> ConfigError | None:
    """`[[source]]` after something above it that made `source` a table: a
    `[source.selectors]` (or `[source]`), a `[[source.selectors]]`, a dotted key
    `source.selectors.item = ...`. The array cannot then be; the decoder says "Cannot
    overwrite a value" on the `[[source]]` line, where the slip is the earlier line's,
    written before its source."""
    name = statement.written.strip()
    for earlier in lines.statements:
        if earlier.line >= statement.line:
            return None
        written = earlier.written.strip()
        if not (written == name or written.startswith(name + ".")):
            continue
        if earlier.array is None and len(earlier.loc) != len(written.split(".")):
            continue  # a key inside another table: not this name
        shown = {False: f"[{written}]", True: f"[[{written}]]", None: f"{written} = ..."}[
            earlier.array
        ]
        if earlier.array is True and written == name:
            continue  # an earlier [[source]]: the array itself
        return ConfigError(
            file,
            f"TOML syntax error: {shown} comes before any [[{name}]], so [[{name}]] on line"
            f" {statement.line} cannot follow it",
            line=earlier.line,
            expected=f"{shown} after the [[{name}]] it belongs to",
        )
    return None


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
    if statement is not None and statement.array:
        return _array_after_its_table(lines, statement, file)
    if statement is None:
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
