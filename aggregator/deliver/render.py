"""Render a `Digest` as HTML for email, plain text, Markdown and JSON.

HTML, text and Markdown come from the Jinja2 templates next to this module; JSON is built
here, because its shape is a documented contract (docs/digest-json.md), not a layout.
Every string from a feed was sanitised to plain text by the builder; the HTML template
escapes it again (autoescape), and the Markdown renderer escapes Markdown's own syntax,
so feed content can never become markup in any format.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import css_inline
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from rich.cells import cell_len, chop_cells

from aggregator.digest import (
    Change,
    Digest,
    DigestEntry,
    EntrySource,
    ProblemSource,
    ProcedureLine,
    ProcedureStatus,
)
from aggregator.spacing import breakable_words

JSON_SCHEMA_VERSION = 1
TEXT_WIDTH = 78

_URL = re.compile(r"https?://", re.IGNORECASE)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~&])")


def local_time(value: datetime, zone: str) -> datetime:
    return value.astimezone(ZoneInfo(zone))


def local_date(digest: Digest) -> str:
    """The digest's date for readers and file names: its window end in the profile's zone."""
    return local_time(digest.window_end, digest.timezone).date().isoformat()


def wrap(text: str, width: int = TEXT_WIDTH, indent: str = "", first: str | None = None) -> str:
    """Wrap to `width` columns as a terminal shows them: a Chinese or Japanese character
    takes two, and a line may break between two of them (such text has no spaces). A URL
    longer than a line stays whole on a line of its own (cut, it would no longer be a link);
    any other overlong word is cut."""
    opening = indent if first is None else first
    room = width - max(cell_len(indent), cell_len(opening))
    lines: list[str] = []
    line, used = opening, cell_len(opening)
    empty = True  # nothing but the indent on the line yet
    for piece, spaced in _pieces(text, room):
        size = cell_len(piece) + (1 if spaced and not empty else 0)
        if not empty and used + size > width:
            lines.append(line)
            line, used, empty = indent, cell_len(indent), True
            size = cell_len(piece)
        line += (" " if spaced and not empty else "") + piece
        used += size
        empty = False
    if not empty:
        lines.append(line)
    return "\n".join(lines)


def _pieces(text: str, room: int) -> Iterator[tuple[str, bool]]:
    """What `wrap` places, each with whether a space goes before it: the words, and inside a
    word each wide character (a break may come before or after one), an overlong word cut."""
    for word in breakable_words(text):
        if cell_len(word) == len(word):  # no wide character: the common case
            if len(word) > room and not _URL.match(word):
                yield word[:room], True
                for start in range(room, len(word), room):
                    yield word[start : start + room], False
            else:
                yield word, True
            continue
        spaced = True
        for run in _runs(word):
            parts = [run] if cell_len(run) <= room else chop_cells(run, room)
            for part in parts:
                yield part, spaced
                spaced = False


# Wide punctuation that East Asian typesetting keeps off the start of a line.
_NO_LINE_START = frozenset("，。、；：！？）」』】〕〉》〙〗〛’”・ー")


def _runs(word: str) -> list[str]:
    """The word split where a line may break inside it: each wide (East Asian) character
    alone, the narrow ones between them together. Wide: what terminals draw in two columns,
    as rich (our terminal tables) measures it."""
    runs: list[str] = []
    narrow = ""
    for char in word:
        if cell_len(char) == 2:
            if narrow:
                runs.append(narrow)
                narrow = ""
            if char in _NO_LINE_START and runs:
                runs[-1] += char  # a comma or a closing bracket never opens a line
            else:
                runs.append(char)
        else:
            narrow += char
    if narrow:
        runs.append(narrow)
    return runs


# What opens a list item at the start of a line ("1. Introduction", "2) ...", "- item"):
# CommonMark made a summary starting so a numbered list.
_MD_LIST_MARKER = re.compile(r"^(\s*)(\d{1,9})([.)])(?=\s|$)|^(\s*)-(?=\s|$)", re.MULTILINE)


def md_escape(text: str) -> str:
    escaped = _MD_SPECIAL.sub(r"\\\1", text)
    return _MD_LIST_MARKER.sub(_escaped_marker, escaped)


def _escaped_marker(found: re.Match[str]) -> str:
    if found[2] is not None:
        return f"{found[1]}{found[2]}\\{found[3]}"
    return f"{found[4]}\\-"


def md_url(url: str) -> str:
    """A URL safe inside ``(...)`` of a Markdown link."""
    return "".join(
        {"(": "%28", ")": "%29", " ": "%20", "<": "%3C", ">": "%3E"}.get(c, c) for c in url
    )


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("aggregator.deliver", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = wrap
    env.filters["md"] = md_escape
    env.filters["md_url"] = md_url
    return env


def _context(digest: Digest) -> dict[str, Any]:
    zone = digest.timezone

    def when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return "" if value is None else local_time(value, zone).strftime(fmt)

    def dated(source: EntrySource) -> str:
        """A publication's time; one its document did not give is told as a first sighting,
        not passed off as the time it was published. A date written without a time is
        midnight UTC (parse/dates.py): shown as that day alone, not as a time of day the
        source never gave (01:00 in Brussels, the previous evening in New York)."""
        if source.published_is_fallback:
            return f"first seen {when(source.published)}"
        if is_date_only(source.published):
            return source.published.astimezone(UTC).strftime("%Y-%m-%d")
        return when(source.published)

    return {
        "digest": digest,
        "date": local_date(digest),
        "when": when,
        "dated": dated,
        "title": f"{digest.profile} digest, {local_date(digest)}",
        "summary_line": summary_line(digest),
    }


def is_date_only(value: datetime) -> bool:
    """Midnight UTC to the microsecond: how a date given without a time is stored. (A
    publication stamped at exactly 00:00:00 UTC is shown as its day too.)"""
    utc = value.astimezone(UTC)
    return (utc.hour, utc.minute, utc.second, utc.microsecond) == (0, 0, 0, 0)


def summary_line(digest: Digest) -> str:
    """The counts at the top, in words."""
    parts = [
        f"{digest.entry_count} {_plural(digest.entry_count, 'statement')}",
        f"from {digest.source_count} {_plural(digest.source_count, 'source')}",
    ]
    text = " ".join(parts)
    if digest.procedure_event_count:
        n = digest.procedure_event_count
        text += f", {n} procedure {_plural(n, 'event')}"
    if digest.updated_count:
        text += f", {digest.updated_count} updated"
    if digest.problems:
        text += f", {len(digest.problems)} {_plural(len(digest.problems), 'source')} with problems"
    return text


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def render_html(digest: Digest) -> str:
    """Email-safe HTML: tables for layout, CSS inlined (dark-mode rules kept as @media)."""
    html = _environment().get_template("digest.html").render(_context(digest))
    inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
    return str(inliner.inline(html))


def render_text(digest: Digest) -> str:
    """Plain text, no line over 78 columns except a URL that is longer on its own."""
    return _environment().get_template("digest.txt").render(_context(digest))


def render_markdown(digest: Digest) -> str:
    return _environment().get_template("digest.md").render(_context(digest))


def render_json(digest: Digest) -> str:
    """The digest as the JSON documented in docs/digest-json.md."""
    return json.dumps(digest_to_json(digest), ensure_ascii=False, indent=2) + "\n"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _source_json(source: EntrySource) -> dict[str, Any]:
    return {
        "item_id": source.item_id,
        "source_id": source.source_id,
        "source_name": source.source_name,
        "org": source.org.value,
        "title": source.title,
        "url": source.url,
        "published": _iso(source.published),
        "published_is_fallback": source.published_is_fallback,
        "is_new": source.is_new,
    }


def _change_json(change: Change) -> dict[str, Any]:
    return {
        "kind": change.kind,
        "before": change.before,
        "after": change.after,
        "diff": change.diff,
        "item_id": change.item_id,
        "source_id": change.source_id,
        "source_name": change.source_name,
    }


def _entry_json(entry: DigestEntry) -> dict[str, Any]:
    return {
        "cluster_id": entry.cluster_id,
        "item_id": entry.item_id,
        "title": entry.title,
        "url": entry.url,
        "published": _iso(entry.published),
        "summary": entry.summary,
        "tags": list(entry.tags),
        "also_in": list(entry.also_in),
        "source_count": entry.source_count,
        "source": _source_json(entry.source),
        "others": [_source_json(o) for o in entry.others],
        "updated": entry.updated,
        "changes": [_change_json(c) for c in entry.changes],
    }


def _problem_json(problem: ProblemSource) -> dict[str, Any]:
    return {
        "source_id": problem.source_id,
        "name": problem.name,
        "url": problem.url,
        "problem": problem.problem,
        "since": _iso(problem.since),
        "detail": problem.detail,
        "advice": problem.advice,
    }


def _procedure_line_json(line: ProcedureLine | None) -> dict[str, Any] | None:
    if line is None:
        return None
    return {
        "item_id": line.item_id,
        "date": line.day.date().isoformat(),  # the event's date, as the Parliament gives it
        "event": line.event,
        "url": line.url,
    }


def _procedure_json(status: ProcedureStatus) -> dict[str, Any]:
    return {
        "source_id": status.source_id,
        "name": status.name,
        "reference": status.reference,
        "stage": status.stage,
        "events": [_procedure_line_json(e) for e in status.events],
        "latest": _procedure_line_json(status.latest),
    }


def digest_to_json(digest: Digest) -> dict[str, Any]:
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "profile": digest.profile,
        "date": local_date(digest),
        "timezone": digest.timezone,
        "window": {"start": _iso(digest.window_start), "end": _iso(digest.window_end)},
        "generated_at": _iso(digest.generated_at),
        "counts": {
            "entries": digest.entry_count,
            "new_items": digest.new_item_count,
            "updated": digest.updated_count,
            "sources": digest.source_count,
            "problems": len(digest.problems),
        },
        "procedures": [_procedure_json(p) for p in digest.procedures],
        "groups": [
            {"tag": g.tag, "label": g.label, "entries": [_entry_json(e) for e in g.entries]}
            for g in digest.groups
        ],
        "problems": [_problem_json(p) for p in digest.problems],
    }
