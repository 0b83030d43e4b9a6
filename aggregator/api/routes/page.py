"""GET /: a read-only page showing the latest digest, the same HTML as the email."""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from aggregator.api import params
from aggregator.api.context import ApiContext, context
from aggregator.api.problems import problem_responses
from aggregator.api.rendering import rendered
from aggregator.api.responses import cached
from aggregator.store import queries

router = APIRouter(tags=["page"])

HTML = "text/html; charset=utf-8"
NO_DIGEST = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>aggregator</title></head>
<body><h1>aggregator</h1><p>No digest has been recorded yet{profile}.</p>
<p><a href="/api/v1/docs">API documentation</a> ·
<a href="/feeds/items.atom">items feed</a></p></body></html>
"""


@router.get(
    "/",
    response_class=Response,
    responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}}},
        **problem_responses(422, 503),
    },
    summary="The latest digest as a web page (the email's HTML)",
)
def home(
    request: Request,
    ctx: Annotated[ApiContext, Depends(context)],
    profile: Annotated[params.Text | None, Query()] = None,
) -> Response:
    params.text("profile", profile)
    with ctx.app.store.engine.connect() as conn:
        row = queries.latest_digest(conn, profile)
    if row is None:
        suffix = f" for profile {escape(profile)}" if profile else ""
        return cached(request, NO_DIGEST.format(profile=suffix).encode(), HTML)
    return cached(request, rendered(ctx, row, "html").encode(), HTML)
