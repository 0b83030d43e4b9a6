"""GET /api/v1/sources (config and health) and GET /api/v1/tags (with counts)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from aggregator.api.context import ApiContext, context
from aggregator.api.problems import problem_responses
from aggregator.api.responses import cached_json
from aggregator.api.schemas import (
    SourceList,
    TagList,
    removed_source_out,
    source_out,
    tag_out,
)
from aggregator.fetch.holds import stored_holds
from aggregator.store import queries
from aggregator.store.digests import load_sources

router = APIRouter(prefix="/api/v1")


@router.get(
    "/sources",
    response_model=SourceList,
    responses=problem_responses(503),
    tags=["sources"],
    summary="Configured sources with their health (last success, last error, next fetch)",
)
def list_sources(request: Request, ctx: Annotated[ApiContext, Depends(context)]) -> Response:
    health = {h.id: h for h in ctx.app.health()}
    holds = stored_holds(health.values(), ctx.app.clock())
    # As sources.toml is now: a source added since the server started, and stored by the
    # process that read the new config, is no removed one.
    current = ctx.configured_sources()
    listed = [source_out(s, health.get(s.id), holds) for s in current]
    # Sources removed from the config: their items are kept and served, so an item's source
    # id must lead somewhere.
    configured = {s.id for s in current}
    if set(health) - configured:
        stored = load_sources(ctx.app.store.engine)
        listed += [
            removed_source_out(stored[i], health[i])
            for i in sorted(set(health) - configured)
            if i in stored
        ]
    return cached_json(request, SourceList(sources=listed))


@router.get(
    "/tags",
    response_model=TagList,
    responses=problem_responses(503),
    tags=["tags"],
    summary="Every tag in use, with how many items carry it",
)
def list_tags(request: Request, ctx: Annotated[ApiContext, Depends(context)]) -> Response:
    with ctx.app.store.engine.connect() as conn:
        counts = queries.tag_counts(conn)
    labels = ctx.app.rules.labels
    return cached_json(request, TagList(tags=[tag_out(c, labels) for c in counts]))
