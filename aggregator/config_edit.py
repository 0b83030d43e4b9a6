"""Append `[[source]]` tables to sources.toml, keeping its comments and layout (tomlkit).

The file is the operator's: hand-written comments explain why a source is configured the
way it is. tomlkit edits the document, not a dict, so everything already there stays as it
was, byte for byte. Before writing, the whole file as it would be is validated by
`load_sources` on a copy; one that would not validate is not written, and the `ConfigError`
raised.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Table

from aggregator.atomic import write_atomically
from aggregator.errors import ConfigError
from aggregator.models import Source
from aggregator.settings import load_sources
from aggregator.settings.sources import SOURCES_FILE

# Host labels that say nothing about who publishes.
_NOISE_LABELS = frozenset({"www", "www2", "m", "news", "feeds", "feed", "rss", "blog"})
# Second-level labels under country domains that name no one (org.uk, gv.at, com.au).
_SECOND_LEVEL = frozenset({"ac", "co", "com", "edu", "gov", "gv", "net", "or", "org"})
_SLUG_RUN = re.compile(r"[^a-z0-9]+")

# The order keys are written in, as in the shipped sources.toml.
KEY_ORDER = (
    "id",
    "name",
    "url",
    "kind",
    "org",
    "country",
    "institution",
    "language",
    "timezone",
    "interval",
    "enabled",
    "verified",
    "tags",
    "reference",
    "selectors",
)


def slug(text: str) -> str:
    """Lower-case letters, digits and '-', as ids and tags must be ('' when nothing is left).
    Accents are folded first, as the tagger folds them ("Actualités" -> "actualites", not
    "actualit-s"); a name in another script leaves nothing (the caller says so)."""
    from aggregator.tag.fold import fold

    return _SLUG_RUN.sub("-", fold(text).lower()).strip("-")


def id_from_url(url: str) -> str:
    """A readable id from the host: www.ecpat.org -> ecpat, home-affairs.ec.europa.eu ->
    home-affairs-ec-europa."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if host.replace(".", "").isdigit() or ":" in host:  # an IP address: all of it
        return slug(host) or "source"
    labels = [label for label in host.split(".") if label]
    if len(labels) > 1:
        labels = labels[:-1]  # the top-level domain
    if len(labels) > 1 and labels[-1] in _SECOND_LEVEL:
        labels = labels[:-1]  # iwf.org.uk, bbc.co.uk
    meaningful = [label for label in labels if label not in _NOISE_LABELS] or labels
    return slug("-".join(meaningful)) or "source"


def unique_id(base: str, taken: Collection[str]) -> str:
    """`base`, or `base-2`, `base-3`, ... whichever is not taken yet."""
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def source_table(entry: Mapping[str, Any]) -> Table:
    """A tomlkit table for one source, keys in the usual order, None values left out."""
    table = tomlkit.table()
    table.trivia.indent = "\n"  # a blank line between sources, as in the shipped file
    for key in sorted(entry, key=lambda k: KEY_ORDER.index(k) if k in KEY_ORDER else 99):
        value = entry[key]
        if value is None or value == ():
            continue
        if isinstance(value, Mapping):
            sub = tomlkit.table()
            for sub_key, sub_value in value.items():
                if sub_value is not None:
                    sub.add(sub_key, sub_value)
            table.add(key, sub)
        elif isinstance(value, tuple | list):
            table.add(key, list(value))
        else:
            table.add(key, value)
    return table


def render_entries(entries: Iterable[Mapping[str, Any]]) -> str:
    """The TOML text `append_sources` would add, for showing before writing."""
    document = tomlkit.document()
    aot = tomlkit.aot()
    for entry in entries:
        aot.append(source_table(entry))
    document.add("source", aot)
    return tomlkit.dumps(document).lstrip("\n")


@dataclass(frozen=True, slots=True)
class _Appended:
    path: Path
    existed: bool
    text: str  # the file with the entries added, byte-order mark kept
    lines_before: int  # the file's own lines: a problem past them is in the new entries


def _append(config_dir: Path, entries: Sequence[Mapping[str, Any]]) -> _Appended:
    path = config_dir / SOURCES_FILE
    existed = path.exists()
    try:
        # Bytes, not read_text: that would turn CRLF line ends into LF throughout the file.
        raw = path.read_bytes() if existed else b""
        before = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"cannot read the file: {exc}") from exc
    bom = "\ufeff" if before.startswith("\ufeff") else ""  # kept, as the rest of the file is
    before = before.removeprefix(bom)
    try:
        document = tomlkit.parse(before)
    except TOMLKitError as exc:
        raise ConfigError(str(path), f"TOML syntax error: {exc}", expected="valid TOML") from exc
    existing = document.get("source")
    if existing is not None and not isinstance(existing, AoT):
        raise ConfigError(
            str(path),
            "'source' is not an array of tables",
            key="source",
            expected="[[source]] tables",
        )
    # The new tables as text after the file's own, which stays byte for byte as it was:
    # appended through tomlkit, a [defaults] table between two sources moved to the end.
    # A [[source]] header after any table adds to the same array, so the result is valid.
    if not before.strip():
        tail = render_entries(entries)
    else:  # one blank line between the file's last line and the first new table
        tail = ("\n" if before.endswith("\n") else "\n\n") + render_entries(entries)
    if "\r\n" in before:  # the entries added end their lines as the file does
        tail = tail.replace("\n", "\r\n")
    return _Appended(path, existed, bom + before + tail, before.count("\n") + 1)


def check_entries(config_dir: Path, entries: Sequence[Mapping[str, Any]]) -> tuple[Source, ...]:
    """The sources the file would hold with `entries` added, validated without writing it
    (a copy in a temporary folder); `--dry-run` shows only entries that would be taken.

    A problem in a new entry is said of the entry ("the entry to add: ..."): its line is in
    no file the operator has."""
    appended = _append(config_dir, entries)
    with tempfile.TemporaryDirectory() as folder:
        trial = Path(folder)
        (trial / SOURCES_FILE).write_bytes(appended.text.encode("utf-8"))
        try:
            return load_sources(trial)
        except ConfigError as exc:
            in_new = exc.line is None or exc.line > appended.lines_before
            raise ConfigError(
                str(appended.path),
                f"the entry to add is not valid: {exc.problem}" if in_new else exc.problem,
                line=None if in_new else exc.line,
                key=exc.key,
                expected=exc.expected,
            ) from exc


def append_sources(config_dir: Path, entries: Sequence[Mapping[str, Any]]) -> tuple[Source, ...]:
    """Append `entries` as `[[source]]` tables and return the validated sources.

    Raises `ConfigError` (the file left as it was) when the result does not validate.
    """
    check_entries(config_dir, entries)
    appended = _append(config_dir, entries)
    write_atomically(appended.path, appended.text.encode("utf-8"))
    return load_sources(config_dir)


__all__ = [
    "append_sources",
    "check_entries",
    "id_from_url",
    "render_entries",
    "slug",
    "source_table",
    "unique_id",
]
