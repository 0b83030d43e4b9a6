"""GET /: a read-only page showing the latest digest as emailed, the same HTML as the email.

The latest with news, or emailed though empty (a profile with send_empty): the empty windows
recorded only to advance a profile's window are passed over.
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from aggregator.api import params
from aggregator.api.context import ApiContext, context
from aggregator.api.known import known_profile
from aggregator.api.problems import problem_responses
from aggregator.api.rendering import rendered
from aggregator.api.responses import cached
from aggregator.api.routes.digests import latest_shown
from aggregator.store import queries

router = APIRouter(tags=["page"])

HTML = "text/html; charset=utf-8"
NO_DIGEST = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>aggregator</title></head>
<body><h1>aggregator</h1><p>{message}</p>
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
    known_profile(ctx, profile)
    row = latest_shown(ctx, profile)
    if row is None:
        suffix = f" for profile {escape(profile)}" if profile else ""
        with ctx.app.store.engine.connect() as conn:
            recorded = queries.latest_digest(conn, profile) is not None
        message = (
            f"Nothing new yet: every digest recorded{suffix} had an empty window."
            if recorded
            else f"No digest has been recorded yet{suffix}."
        )
        return cached(request, NO_DIGEST.format(message=message).encode(), HTML)
    return cached(request, rendered(ctx, row, "html").encode(), HTML)
