"""`create_app`: the FastAPI application over an `App`. A front end with no logic of its own.

Read-only by default: every route is a GET except POST /api/v1/refresh, which needs the
bearer token of settings (`api.token`). Responses are gzipped when worth it; browsers may
call from the origins in `api.cors_origins`. With a scheduler, it runs inside the server's
event loop, started and stopped with the server (`aggregator serve --with-scheduler`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from aggregator import __version__
from aggregator.api import problems
from aggregator.api.compression import NegotiatedGZip
from aggregator.api.context import ApiContext
from aggregator.api.cors import ProblemCORSMiddleware
from aggregator.api.generation import store_generation
from aggregator.api.head import HeadAsGet
from aggregator.api.metrics import MetricsMiddleware, registry_for
from aggregator.api.microcache import ResponseCache
from aggregator.api.problems import Problem
from aggregator.api.routes import catalog, clusters, digests, feeds, items, page, refresh
from aggregator.api.routes.health import health_router
from aggregator.app import App

if TYPE_CHECKING:
    from aggregator.schedule import Service

log = logging.getLogger("aggregator.api")

GZIP_MIN_BYTES = 1000  # below this, compressing costs more than it saves
# Level 5, not Starlette's 9: on a 45 kB page of items, 9 costs 1.7 ms for a body 5% smaller
# than level 5's at a quarter of the time; with the response cache it is paid once per entry.
GZIP_LEVEL = 5

# The read-only lists and feeds kept by the response cache, and whether the body quotes the
# request URL (feeds: their self link), which keeps the query verbatim in the cache key.
CACHED_PATHS: dict[str, bool] = {
    "/api/v1/items": False,
    "/api/v1/clusters": False,
    "/api/v1/digests": False,
    "/api/v1/tags": False,
    "/api/v1/sources": False,
    "/feeds/items.atom": True,
    "/feeds/items.json": True,
    "/feeds/digest.atom": True,
    "/feeds/digest.json": True,
}

# What the service is, not what it follows: the domain lives only in config/ (the sources
# and topics configured), so one description fits every deployment.
DESCRIPTION = """\
Items collected from the configured sources (feeds and listing pages), deduplicated into
clusters and tagged with the configured topics. Lists are paged with opaque cursors
(`next_cursor`), carry a weak ETag (send `If-None-Match` to get a 304), and errors are
RFC 9457 problem details.
"""


def create_app(app: App, *, scheduler: Service | None = None, owns_app: bool = False) -> FastAPI:
    """The API over `app`; with `owns_app` the app is closed when the server shuts down."""
    registry, request_metrics = registry_for(app.store.engine)
    ctx = ApiContext(app=app, registry=registry, scheduler=scheduler)
    generation, release_generation = store_generation(app.store.engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if scheduler is not None:
            ctx.scheduler_task = asyncio.create_task(scheduler.serve(install_signals=False))
        try:
            yield
        finally:
            task = ctx.scheduler_task
            if scheduler is not None and task is not None:
                scheduler.stop()  # lets the step in flight finish its writes
                for outcome in await asyncio.gather(task, return_exceptions=True):
                    if isinstance(outcome, BaseException):
                        log.error("the scheduler stopped with an error: %r", outcome)
            release_generation()
            if owns_app:
                app.close()

    api = FastAPI(
        title="aggregator",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    api.state.context = ctx
    problems.install(api)
    # Added innermost first: metrics > CORS > response cache > gzip > routes. The cache
    # keeps gzipped bodies (compressed once per entry) and sits inside CORS, whose headers
    # depend on the request's Origin; metrics count cached answers too.
    api.add_middleware(NegotiatedGZip, minimum_size=GZIP_MIN_BYTES, compresslevel=GZIP_LEVEL)
    api.add_middleware(
        ResponseCache,
        paths=CACHED_PATHS,
        seconds=app.settings.api.cache_seconds,
        generation=generation,
    )
    # Also with no origin allowed (the default): a preflight is then refused as a problem,
    # where, without the middleware, it was a 405 "Method not allowed".
    api.add_middleware(
        ProblemCORSMiddleware,
        allow_origins=list(app.settings.api.cors_origins),
        allow_methods=["GET", "HEAD", "POST"],
        allow_headers=["Authorization", "If-None-Match"],
        expose_headers=["ETag"],
    )
    api.add_middleware(MetricsMiddleware, metrics=request_metrics)
    api.add_middleware(HeadAsGet)  # outermost: a HEAD is a GET to everything inside
    for router in (items.router, clusters.router, digests.router, catalog.router):
        api.include_router(router)
    api.include_router(health_router("/api/v1", in_schema=True))
    api.include_router(health_router("", in_schema=True))
    api.include_router(refresh.router)
    api.include_router(feeds.router)
    api.include_router(page.router)
    _document_problem(api)
    return api


def _document_problem(api: FastAPI) -> None:
    """Make sure the Problem schema is in the OpenAPI components (responses refer to it)."""
    original = api.openapi

    def openapi() -> dict[str, object]:
        if api.openapi_schema is None:
            schema = original()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.setdefault(
                "Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            )
            api.openapi_schema = schema
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
