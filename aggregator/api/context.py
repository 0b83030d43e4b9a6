"""What every route needs, kept on the FastAPI app: the `App`, the scheduler, caches."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request
from prometheus_client import CollectorRegistry

from aggregator.api.current_sources import CurrentSources
from aggregator.app import App
from aggregator.models import Source
from aggregator.store_file import StoreFileWatch

if TYPE_CHECKING:
    from aggregator.schedule import Service

# Rendered digests kept in memory: a recorded digest never changes, and rendering HTML
# (templates + CSS inlining) costs milliseconds per digest, which a feed of 20 repeats.
RENDER_CACHE_SIZE = 64


class RenderCache:
    """A small LRU of rendered digests by (digest id, format)."""

    def __init__(self, size: int = RENDER_CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[int, str], str] = OrderedDict()

    def get(self, key: tuple[int, str]) -> str | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: tuple[int, str], value: str) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


@dataclass(kw_only=True)
class ApiContext:
    app: App
    registry: CollectorRegistry
    scheduler: Service | None = None
    scheduler_task: asyncio.Task[None] | None = None
    refresh_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    renders: RenderCache = field(default_factory=RenderCache)
    store_file: StoreFileWatch | None = None  # the SQLite file as opened (`readiness`)
    current_sources: CurrentSources | None = None

    def __post_init__(self) -> None:
        if self.store_file is None:
            self.store_file = StoreFileWatch(self.app.store.engine)
        if self.current_sources is None:
            self.current_sources = CurrentSources(self.app.config_dir, self.app.sources)

    def configured_sources(self) -> tuple[Source, ...]:
        """The sources of sources.toml as it is now, not as it was when the server started
        (what a listing shows; a running scheduler applies a change when restarted)."""
        assert self.current_sources is not None  # set in __post_init__
        return self.current_sources.get()


def context(request: Request) -> ApiContext:
    found: ApiContext = request.app.state.context
    return found


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")
