"""GET /api/v1/clusters and GET /api/v1/clusters/{id}: a story and every source's item."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from aggregator.api import pagination, params
from aggregator.api.context import ApiContext, base_url, context
from aggregator.api.problems import ProblemError, problem_responses
from aggregator.api.responses import cached_json
from aggregator.api.schemas import ClusterOut, ClusterPage, cluster_out
from aggregator.store import queries
from aggregator.words import count

router = APIRouter(prefix="/api/v1", tags=["clusters"])


@router.get(
    "/clusters",
    response_model=ClusterPage,
    responses=problem_responses(422, 503),
    summary="Clusters (one story, several sources), newest first",
)
def list_clusters(
    request: Request,
    ctx: Annotated[ApiContext, Depends(context)],
    min_size: Annotated[
        int, Query(ge=1, le=100_000, description="Only clusters with this many items or more")
    ] = 2,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[params.CursorText | None, Query()] = None,
) -> Response:
    fingerprint = pagination.fingerprint({"min_size": min_size})
    if cursor is not None:
        params.text("cursor", cursor)
    before = pagination.before_id(cursor, query=fingerprint)
    with ctx.app.store.engine.connect() as conn:
        rows, more = queries.list_clusters(conn, min_size=min_size, before_id=before, limit=limit)
    next_cursor = pagination.next_id_cursor(
        rows[-1].id if rows else None, more=more, query=fingerprint
    )
    return cached_json(
        request, ClusterPage(clusters=[cluster_out(r) for r in rows], next_cursor=next_cursor)
    )


@router.get(
    "/clusters/{cluster_id}",
    response_model=ClusterOut,
    responses=problem_responses(404, 422, 503),
    summary="One cluster: its primary item and every member",
)
def get_cluster(
    request: Request,
    ctx: Annotated[ApiContext, Depends(context)],
    cluster_id: Annotated[int, Path(ge=1, le=params.MAX_ID)],
) -> Response:
    with ctx.app.store.engine.connect() as conn:
        row = queries.get_cluster(conn, cluster_id)
        trace = queries.trace_cluster(conn, cluster_id) if row is None else None
    if row is None:
        raise cluster_gone(request, cluster_id, trace)
    return cached_json(request, cluster_out(row))


def cluster_gone(
    request: Request, cluster_id: int, trace: queries.ClusterTrace | None
) -> ProblemError:
    """The 404 of a cluster id that names no cluster now. A merge keeps the oldest cluster's
    id and deletes the others, and the store keeps no record of it (a redirect would need
    one): what a recent digest listed under the id says where its items went, if one did."""
    if trace is None:
        return ProblemError(
            404,
            "Not found",
            f"cluster {cluster_id} does not exist: no cluster has this id now (one merged "
            "into another gives up its id to the oldest of them, and one whose items were "
            "all pruned is gone); an item it held names its cluster now: "
            "GET /api/v1/items/{id}",
            kind="not-found",
        )
    base = base_url(request)
    where = ", ".join(f"{base}/api/v1/clusters/{c}" for c in trace.now_in)
    return ProblemError(
        404,
        "Not found",
        f"cluster {cluster_id} does not exist any more: the items digest {trace.digest_id} "
        f"listed under it are now in {count(len(trace.now_in), 'cluster')}: {where}",
        kind="not-found",
        extra={"now_in": list(trace.now_in)},
    )
