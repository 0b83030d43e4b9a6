"""Responses with a weak ETag and If-None-Match handling, shared by lists and feeds.

The ETag is a hash of the exact body, so it changes exactly when the answer does, on
either database, without a "last changed" column to keep right. The body is still built
on a match (the query runs), but it is not sent: a feed reader polling every few minutes
gets a 304 of a few bytes instead of the whole document.
"""

from __future__ import annotations

import hashlib

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel

# Caches may store, but must ask again each time (then a 304 costs nothing to send).
CACHE_CONTROL = "no-cache"


def etag_of(body: bytes) -> str:
    return 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    # Weak comparison (RFC 9110 13.1.2): W/ prefixes are ignored.
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def cached(request: Request, body: bytes, media_type: str) -> Response:
    etag = etag_of(body)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type=media_type, headers=headers)


def model_json(model: BaseModel) -> bytes:
    return model.model_dump_json(by_alias=True).encode()


def cached_json(request: Request, model: BaseModel) -> Response:
    return cached(request, model_json(model), "application/json")
