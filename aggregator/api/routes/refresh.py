"""POST /api/v1/refresh: the one endpoint that changes state, behind a bearer token.

Without `api.token` (AGGREGATOR_API_TOKEN) configured the endpoint is disabled (403): the
API is read-only by default. The token is compared in constant time.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from aggregator.api import params
from aggregator.api.context import ApiContext, context
from aggregator.api.problems import ProblemError, bad_parameter, problem_responses
from aggregator.api.schemas import RefreshedSource, RefreshOut
from aggregator.app import UnknownSource

router = APIRouter(prefix="/api/v1", tags=["refresh"])


def authorise(request: Request, ctx: Annotated[ApiContext, Depends(context)]) -> None:
    token = ctx.app.settings.api.token
    if not token:
        raise ProblemError(
            403,
            "Endpoint disabled",
            "this endpoint is disabled: no API token is configured (set AGGREGATOR_API_TOKEN)",
            kind="disabled",
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise ProblemError(
            401,
            "Unauthorised",
            "a valid 'Authorization: Bearer <token>' header is required",
            kind="unauthorised",
            headers={"WWW-Authenticate": 'Bearer realm="aggregator"'},
        )


@router.post(
    "/refresh",
    response_model=RefreshOut,
    responses=problem_responses(401, 403, 422, 503),
    dependencies=[Depends(authorise)],
    summary="Refresh sources now (all enabled ones, or those named); needs the bearer token",
)
async def refresh(
    ctx: Annotated[ApiContext, Depends(context)],
    source: Annotated[list[params.Text] | None, Query(description="Source id (repeatable)")] = None,
) -> RefreshOut:
    ids = params.texts("source", source)
    try:
        chosen = ctx.app.select_sources(list(ids) or None)
    except UnknownSource as exc:
        raise bad_parameter("source", str(exc)) from None
    # One API refresh at a time; the store's own locks keep it safe beside a scheduler tick.
    async with ctx.refresh_lock:
        results = await ctx.app.refresh(chosen)
    return RefreshOut(
        sources=[
            RefreshedSource(
                id=r.source_id,
                status=r.status,
                new=r.new,
                updated=r.updated,
                seconds=round(r.seconds, 3),
                error=r.error_text,
            )
            for r in results
        ]
    )
