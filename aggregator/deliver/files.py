"""Digest files: <data_dir>/digests/<profile>/<date>.{html,txt,md,json}, one per format."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from aggregator.atomic import write_atomically
from aggregator.deliver.render import (
    local_date,
    render_html,
    render_json,
    render_markdown,
    render_text,
)
from aggregator.digest import Digest
from aggregator.errors import DeliveryError

# Format name (as in a profile's `formats`) -> (file extension, renderer).
FORMATS: Mapping[str, tuple[str, Callable[[Digest], str]]] = {
    "html": ("html", render_html),
    "text": ("txt", render_text),
    "markdown": ("md", render_markdown),
    "json": ("json", render_json),
}

log = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class FilesNotWritable(DeliveryError):
    """A digest file could not be written (a full disk, a file where its folder should be,
    a folder the service may not write): the same files may be written once that is fixed,
    which an unknown format never would."""

    def __init__(self, path: Path, error: OSError) -> None:
        self.path = path
        self.error = error
        super().__init__(f"writing {path}: {error}")


def digest_dir(data_dir: Path, profile: str) -> Path:
    return data_dir / "digests" / (_SAFE_NAME.sub("-", profile).strip(".") or "profile")


def write_digest_files(
    digest: Digest,
    data_dir: Path,
    formats: Iterable[str] = ("html", "text", "markdown", "json"),
    rendered: Mapping[str, str] | None = None,
    *,
    suffix: str = "",
) -> list[Path]:
    """Write one file per format; `rendered` reuses output already made (for the email).

    A second digest of the same profile on the same local date overwrites the first (the
    file is "the digest of that date", the store keeps every window), unless it is empty:
    an empty one never replaces a file, which may hold what was emailed that day. Written
    in fewer formats, it removes the first one's files of the others, so that the files of
    one name always show one window. `suffix` goes after the date (a preview's "-preview").
    """
    written: list[Path] = []
    folder = digest_dir(data_dir, digest.profile)
    formats = list(formats)
    for name in formats:
        if name not in FORMATS:
            raise DeliveryError(
                f"unknown digest format {name!r}: expected one of {sorted(FORMATS)}"
            )
        extension, render = FORMATS[name]
        body = rendered[name] if rendered and name in rendered else render(digest)
        path = folder / f"{local_date(digest)}{suffix}.{extension}"
        if digest.is_empty and path.exists():
            continue
        try:
            write_atomically(path, body.encode("utf-8"))
        except OSError as exc:
            raise FilesNotWritable(path, exc) from exc
        written.append(path)
    if written:
        for name, (extension, _) in FORMATS.items():
            other = folder / f"{local_date(digest)}{suffix}.{extension}"
            if name not in formats:
                try:
                    other.unlink(missing_ok=True)
                except OSError as exc:  # the files written stand; only this one is stale
                    log.warning("could not remove %s, of an earlier window: %s", other, exc)
    return written
