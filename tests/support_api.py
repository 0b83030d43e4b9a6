"""API tests: a real uvicorn server in a thread, and a store seeded through the real store.

`seeded_app` opens an `App` on a written config folder (both databases through the
`database_url` fixture), stores items with `save_refresh` as a refresh would, folds the
duplicates into clusters with the dedupe stage's `assign_clusters`, changes one item (a
revision), and records a digest with `App.run_digest`: every table the API reads is filled
by the code that fills it in production.
"""

from __future__ import annotations

import dataclasses
import hashlib
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from aggregator.app import App
from aggregator.models import CacheValidators, Item
from aggregator.store.clusters import assign_clusters
from tests.support_config import write_config

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)

SOURCES = [
    {"id": "ep", "name": "European Parliament", "url": "https://ep.example/feed", "kind": "feed",
     "org": "parliament"},
    {"id": "edri", "name": "EDRi", "url": "https://edri.example/feed", "kind": "feed",
     "org": "ngo"},
    {"id": "netz", "name": "netzpolitik.org", "url": "https://netz.example/feed", "kind": "feed",
     "org": "press", "language": "de"},
]  # fmt: skip

CHANGED_TITLE = "Plenary adopts grooming report"  # STORIES[2], changed after the first refresh
JOINT = (
    "Civil society organisations call on the Council to reject the chat control proposal, "
    "which would scan private messages and undermine end-to-end encryption for everyone."
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Story:
    source_id: str
    identity: str
    title: str
    text: str
    tags: tuple[str, ...]
    minutes: int  # first seen at T0 + minutes
    language: str = "en"


STORIES = (
    Story(source_id="edri", identity="e1", title="Joint statement on chat control",
          text=JOINT, tags=("csar", "encryption"), minutes=0),
    Story(source_id="ep", identity="p1", title="Joint statement on chat control",
          text=JOINT, tags=("csar", "encryption"), minutes=10),
    Story(source_id="ep", identity="p2", title="Plenary adopts report on grooming prevention",
          text="The Parliament adopted its report on preventing the grooming of children "
               "online, with new duties for platforms.", tags=("csar", "grooming"), minutes=20),
    Story(source_id="netz", identity="n1", title="Chatkontrolle: Rat vertagt Abstimmung",
          text="Die Abstimmung im Rat über die Chatkontrolle wurde erneut vertagt; "
               "Übereinkommen ist nicht in Sicht.", tags=("csar",), minutes=30, language="de"),
    Story(source_id="edri", identity="e2", title="Encryption is not the enemy",
          text="Weakening encryption harms journalists, activists and children alike.",
          tags=("encryption",), minutes=40),
)  # fmt: skip


def item_of(story: Story) -> Item:
    digest = hashlib.sha256(f"{story.title}\n{story.text}".encode()).hexdigest()
    url = f"https://{story.source_id}.example/{story.identity}"
    return Item(
        source_id=story.source_id,
        identity=story.identity,
        guid=story.identity,
        url=url,
        canonical_url=url,
        title=story.title,
        summary=story.text[:80],
        text=story.text,
        published=T0 + timedelta(minutes=story.minutes),
        published_is_fallback=False,
        updated=None,
        language=story.language,
        author=None,
        content_hash=f"v1:{digest}",
        tags=story.tags,
    )


def save(app: App, stories: Sequence[Story], *, now: datetime) -> list[int]:
    """Store stories as one refresh per source would; returns the ids of the items."""
    by_source: dict[str, list[Item]] = {}
    for story in stories:
        by_source.setdefault(story.source_id, []).append(item_of(story))
    for source_id, batch in by_source.items():
        app.store.save_refresh(
            source_id,
            batch,
            now=now,
            seconds=0.2,
            validators=CacheValidators(),
            url=f"https://{source_id}.example/feed",
            permanent_url=None,
            next_fetch_at=now + timedelta(hours=1),
            seen=len(batch),
        )
    found = {(i.source_id, i.identity): i.id for i in app.store.iter_items()}
    return [found[(s.source_id, s.identity)] for s in stories]


def seeded_app(tmp_path: Path, database_url: str, *, settings: str = "") -> App:
    config = write_config(tmp_path / "config", SOURCES, settings=settings)
    env = {"AGGREGATOR_DATABASE_URL": database_url, "AGGREGATOR_DATA_DIR": str(tmp_path / "var")}
    app = App.open(config, env, clock=lambda: NOW)
    for story in STORIES:  # first seen one after the other, as separate refreshes would
        save(app, [story], now=T0 + timedelta(minutes=story.minutes))
    ids = [i.id for i in app.store.iter_items()]
    with app.store.engine.begin() as conn:
        assign_clusters(conn, ids, now=NOW)
    changed = dataclasses.replace(STORIES[2], title=CHANGED_TITLE)
    save(app, [changed], now=T0 + timedelta(hours=2))
    app.run_digest("daily", send=True, write_files=False)
    return app


class ApiServer:
    """uvicorn serving `api` on 127.0.0.1 on a free port, in a thread."""

    def __init__(self, api: FastAPI) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.port = int(self.socket.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(api, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


@contextmanager
def postgres_schema(server_url: str) -> Iterator[str]:
    """A fresh schema on the test PostgreSQL server, dropped afterwards (as conftest's
    `postgres_url`, for fixtures wider than one test)."""
    import uuid

    import sqlalchemy

    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sqlalchemy.create_engine(server_url)
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f'create schema "{schema}"'))
        sep = "&" if "?" in server_url else "?"
        yield f"{server_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f'drop schema "{schema}" cascade'))
        engine.dispose()


@contextmanager
def serving(api: FastAPI) -> Iterator[str]:
    server = ApiServer(api)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
