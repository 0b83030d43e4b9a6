"""Liveness, readiness and Prometheus metrics.

Served under /api/v1 and, for probes and scrapers that expect the conventional paths, at
/healthz, /readyz and /metrics too; both in the OpenAPI document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from aggregator.api.context import ApiContext, context
from aggregator.api.generation import in_memory
from aggregator.api.responses import model_json
from aggregator.api.schemas import Health, Readiness


def readiness(ctx: ApiContext) -> Readiness:
    checks: dict[str, str] = {}
    engine = ctx.app.store.engine
    database = engine.url.database or ""
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        checks["store"] = "ok"
    except Exception as exc:  # any failure to reach the store means "not ready"
        checks["store"] = f"unreachable: {type(exc).__name__}"
    if (
        checks["store"] == "ok"
        and engine.dialect.name == "sqlite"
        and not in_memory(database)
        and not Path(database).exists()
    ):
        # An open connection still reads a file moved or deleted under it; the next
        # process, or writer, would not find it.
        checks["store"] = f"unreachable: {database} no longer exists"
    elif checks["store"] == "ok" and ctx.store_file is not None and not ctx.store_file.in_place():
        # Another file at the path (deleted, then made again by the next command): what
        # this server reads is not what the others write.
        checks["store"] = f"unreachable: {database} is another file than the one opened"
    if ctx.scheduler is not None:
        task = ctx.scheduler_task
        checks["scheduler"] = "ok" if task is not None and not task.done() else "stopped"
    ready = all(value == "ok" for value in checks.values())
    return Readiness(status="ready" if ready else "not ready", checks=checks)


def health_router(prefix: str, *, in_schema: bool) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["health"], include_in_schema=in_schema)

    @router.get("/healthz", response_model=Health, summary="The process answers")
    def healthz() -> Health:
        return Health(status="ok")

    @router.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Not ready"}},
        summary="The store answers, and the scheduler runs when this process has one",
    )
    def readyz(ctx: Annotated[ApiContext, Depends(context)]) -> Response:
        result = readiness(ctx)
        status = 200 if result.status == "ready" else 503
        return Response(model_json(result), status_code=status, media_type="application/json")

    @router.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
        summary="Prometheus metrics (fetches, items, refresh durations, digest sends, errors)",
    )
    def metrics(ctx: Annotated[ApiContext, Depends(context)]) -> Response:
        return Response(generate_latest(ctx.registry), media_type=CONTENT_TYPE_LATEST)

    return router
