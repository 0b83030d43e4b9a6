"""Stored digests rendered as the email renders them (HTML, text, Markdown), cached."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from aggregator.api.context import ApiContext
from aggregator.api.digest_json import digest_from_json
from aggregator.deliver.render import render_html, render_markdown, render_text, summary_line
from aggregator.digest import Digest
from aggregator.errors import StoreError
from aggregator.store.queries import DigestRow

Format = Literal["html", "text", "markdown"]

RENDERERS: dict[str, Callable[[Digest], str]] = {
    "html": render_html,
    "text": render_text,
    "markdown": render_markdown,
}
MEDIA_TYPES: dict[str, str] = {
    "html": "text/html; charset=utf-8",
    "text": "text/plain; charset=utf-8",
    "markdown": "text/markdown; charset=utf-8",
}


def body_of(row: DigestRow) -> dict[str, Any]:
    try:
        data = json.loads(row.body_json or "")
    except ValueError as exc:
        raise StoreError(f"digest {row.id}: stored JSON unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise StoreError(f"digest {row.id}: stored JSON is not an object")
    return data


def digest_of(row: DigestRow) -> Digest:
    return digest_from_json(body_of(row))


def rendered(ctx: ApiContext, row: DigestRow, fmt: str) -> str:
    """The digest in `fmt`; a recorded digest never changes, so renderings are cached."""
    key = (row.id, fmt)
    text = ctx.renders.get(key)
    if text is None:
        text = RENDERERS[fmt](digest_of(row))
        ctx.renders.put(key, text)
    return text


def summary_of(row: DigestRow) -> str:
    return summary_line(digest_of(row))
