"""/metrics in the Prometheus text format.

Counters that must survive restarts are not kept in this process: they are read from the
store on each scrape (fetch_log for fetches, errors, items and refresh durations; outbox
for digest sends), so a restart, or a refresh run by the CLI or another worker, never
resets or misses them. Request metrics of this process live in its own registry.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aggregator.store.queries import fetch_stats

# Refresh durations per source, in seconds: a 304 takes tens of ms, a slow site tens of s.
REFRESH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class StoreCollector(Collector):
    """Counters derived from the store at scrape time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        with self.engine.connect() as conn:
            stats = fetch_stats(conn, REFRESH_BUCKETS)
        fetches = CounterMetricFamily(
            "aggregator_fetches", "Source fetches by outcome status", labels=["status"]
        )
        for status, n in sorted(stats.fetches.items()):
            fetches.add_metric([status], n)
        yield fetches
        errors = CounterMetricFamily(
            "aggregator_fetch_errors", "Failed fetches by error kind", labels=["kind"]
        )
        for kind, n in sorted(stats.errors.items()):
            errors.add_metric([kind], n)
        yield errors
        ingested = CounterMetricFamily(
            "aggregator_items_ingested", "Items stored, new or changed", labels=["change"]
        )
        ingested.add_metric(["new"], stats.new_items)
        ingested.add_metric(["updated"], stats.updated_items)
        yield ingested
        total = sum(stats.fetches.values())
        durations = HistogramMetricFamily(
            "aggregator_refresh_duration_seconds", "Time to refresh one source"
        )
        durations.add_metric(
            [],
            [(str(bound), n) for bound, n in stats.seconds_buckets.items()] + [("+Inf", total)],
            sum_value=stats.seconds_sum,
        )
        yield durations
        sends = CounterMetricFamily(
            "aggregator_digest_sends", "Digest emails sent", labels=["profile"]
        )
        failures = CounterMetricFamily(
            "aggregator_digest_send_failures",
            "Failed digest send attempts",
            labels=["profile"],
        )
        pending = GaugeMetricFamily(
            "aggregator_digest_pending", "Digest emails waiting for a retry", labels=["profile"]
        )
        undeliverable = GaugeMetricFamily(
            "aggregator_digest_undeliverable",
            "Digest emails refused for good (5xx) or left with no recipients: not retried",
            labels=["profile"],
        )
        for profile in sorted({p for p, _ in stats.deliveries}):
            sends.add_metric([profile], stats.deliveries.get((profile, "sent"), 0))
            failures.add_metric([profile], stats.failed_attempts.get(profile, 0))
            pending.add_metric([profile], stats.deliveries.get((profile, "pending"), 0))
            undeliverable.add_metric([profile], stats.deliveries.get((profile, "failed"), 0))
        yield sends
        yield failures
        yield pending
        yield undeliverable


class RequestMetrics:
    """Requests this process answered, by route template (not raw path: bounded labels)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "aggregator_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=registry,
        )
        self.seconds = Histogram(
            "aggregator_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["route"],
            registry=registry,
        )


class MetricsMiddleware:
    """Plain ASGI middleware (Starlette's BaseHTTPMiddleware costs a task and a stream per
    request): counts each response by the route the router matched."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes every handler

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = _route_template(scope)
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.seconds.labels(route).observe(time.perf_counter() - started)


def _route_template(scope: Scope) -> str:
    # The router records the matched route in the scope; unmatched paths share one label.
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "unmatched"


def registry_for(engine: Engine) -> tuple[CollectorRegistry, RequestMetrics]:
    registry = CollectorRegistry()
    registry.register(StoreCollector(engine))
    return registry, RequestMetrics(registry)
