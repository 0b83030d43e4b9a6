"""The command line's tables: a rich table when the terminal is wide enough for it, else one
record per row in lines that wrap.

Why: rich fits a table to the terminal by cutting cells ("2026-11-2…", "ep-…") and dropping
columns. Source ids are what `--source` takes and times are read whole, so on a narrow
terminal each row is written as text the terminal wraps, never cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

# Room the message column needs at least, for the table layout to be worth it.
MESSAGE_MIN_WIDTH = 24


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    right: bool = False  # numbers
    label: str | None = None  # in the record layout: "failures 1"; None: the value alone


@dataclass(frozen=True, slots=True)
class Row:
    cells: Sequence[str]  # one per fixed column; the first is the row's id
    message: str = ""
    style: str = ""  # rich style of the second cell (a status), in the table layout


def print_table(
    console: Console,
    title: str,
    columns: Sequence[Column],
    message_header: str,
    rows: Sequence[Row],
) -> None:
    if console.width >= _table_width(columns, rows):
        _as_table(console, title, columns, message_header, rows)
    else:
        _as_records(console, title, columns, rows)


def _table_width(columns: Sequence[Column], rows: Sequence[Row]) -> int:
    widths = [
        max([len(column.header), *(len(row.cells[i]) for row in rows)])
        for i, column in enumerate(columns)
    ]
    # Each column has a space either side and a border on its right, plus the left border.
    return sum(width + 3 for width in widths) + 1 + MESSAGE_MIN_WIDTH + 3


def _as_table(
    console: Console,
    title: str,
    columns: Sequence[Column],
    message_header: str,
    rows: Sequence[Row],
) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column.header, justify="right" if column.right else "left", no_wrap=True)
    table.add_column(message_header, overflow="fold", ratio=1)
    for row in rows:
        # Text, not markup: an error message may hold "[/x]", which markup would choke on.
        cells = [Text(cell) for cell in row.cells]
        if row.style and len(cells) > 1:
            cells[1].stylize(row.style)
        table.add_row(*cells, Text(row.message))
    console.print(table)


def _as_records(
    console: Console, title: str, columns: Sequence[Column], rows: Sequence[Row]
) -> None:
    from rich.text import Text

    console.print(Text(title, style="italic"))
    for row in rows:
        first, *rest = row.cells
        parts = [
            f"{column.label} {cell}" if column.label else cell
            for column, cell in zip(columns[1:], rest, strict=True)
        ]
        console.print(Text(f"{first}: {'; '.join(parts)}"), soft_wrap=True)
        if row.message:
            console.print(Text(f"  {row.message}"), soft_wrap=True)
