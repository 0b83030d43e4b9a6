"""A stored database for digest and outbox tests, one "run" of a profile as the app does it,
and a child process that runs it and stops at a chosen point so a test can kill it.

    python -m tests.support_outbox <database url> <mode> <smtp port> <now, ISO 8601>

modes: `after-commit` (digest row and outbox row committed, nothing claimed), `after-claim`
(the row is claimed, the transport never returns), `send` (a real send; the test kills the
process while the SMTP server holds the DATA). The child prints a line when it gets there.
"""

from __future__ import annotations

import re
import sys
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from aggregator.deliver.mail import SmtpTransport, build_message
from aggregator.deliver.outbox import (
    DeliveryOutcome,
    Transport,
    commit_window,
    deliver_pending,
    send_queued,
)
from aggregator.deliver.render import render_html, render_json, render_text
from aggregator.digest import Digest, build_digest
from aggregator.store.digests import (
    last_window_end,
    load_shown_revisions,
    load_source_health,
    load_sources,
    load_window_items,
)
from aggregator.store.engine import create_store_engine
from aggregator.store.schema import clusters, item_tags, items, sources
from tests.support_digest import SOURCES, TOPIC_LABELS, TOPIC_ORDER
from tests.support_smtp import TestSmtpSettings

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SENDER = "Digest <digest@aggregator.example>"
RECIPIENTS = ("policy@ngo.example",)
BASE = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)


def seed_sources(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(sources),
            [
                {
                    "id": s.id,
                    "name": s.name,
                    "kind": s.kind.value,
                    "org": s.org.value,
                    "config_url": s.url,
                    "url": s.url,
                    "enabled": True,
                    "consecutive_failures": 0,
                    "ever_yielded": True,
                    "last_item_count": 3,
                }
                for s in SOURCES.values()
            ],
        )


def add_item(
    engine: Engine,
    source_id: str,
    title: str,
    *,
    first_seen: datetime,
    cluster_id: int | None = None,
    tags: tuple[str, ...] = (),
    text: str | None = None,
) -> int:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    with engine.begin() as conn:
        if (
            cluster_id is not None
            and not conn.execute(clusters.select().where(clusters.c.id == cluster_id)).first()
        ):
            conn.execute(
                insert(clusters).values(
                    id=cluster_id, size=1, created_at=first_seen, updated_at=first_seen
                )
            )
        item_id: int = conn.execute(
            insert(items)
            .values(
                source_id=source_id,
                identity=f"{source_id}:{title}",
                url=f"https://example.eu/{source_id}/{slug}",
                canonical_url=f"https://example.eu/{source_id}/{slug}",
                title=title,
                summary=f"About {title}.",
                text=text or f"The text of {title}.",
                published=first_seen - timedelta(minutes=5),
                published_is_fallback=False,
                content_hash=f"v1:{title}",
                first_seen=first_seen,
                last_changed=first_seen,
                revision=1,
                cluster_id=cluster_id,
            )
            .returning(items.c.id)
        ).scalar_one()
        for tag in tags:
            conn.execute(insert(item_tags).values(item_id=item_id, tag=tag))
    return item_id


def seed_items(engine: Engine) -> None:
    """Four items before BASE: a cluster of two, one tagged, one plain."""
    add_item(
        engine,
        "edri",
        "Joint letter on chat control",
        first_seen=BASE - timedelta(hours=5),
        cluster_id=1,
        tags=("csar",),
    )
    add_item(
        engine,
        "council",
        "Joint letter on chat control",
        first_seen=BASE - timedelta(hours=4),
        cluster_id=1,
        tags=("csar",),
    )
    add_item(
        engine,
        "netzpolitik",
        "Encryption under pressure",
        first_seen=BASE - timedelta(hours=3),
        tags=("encryption",),
    )
    add_item(engine, "ecpat", "Hotline annual report", first_seen=BASE - timedelta(hours=2))


def build(engine: Engine, profile: str, now: datetime) -> Digest:
    start = last_window_end(engine, profile) or EPOCH
    return build_digest(
        profile=profile,
        window_start=start,
        window_end=now,
        now=now,
        timezone="Europe/Brussels",
        items=load_window_items(engine, profile=profile, window_start=start, window_end=now),
        sources=load_sources(engine),
        health=load_source_health(engine),
        shown=load_shown_revisions(engine, profile=profile),
        topic_order=TOPIC_ORDER,
        topic_labels=TOPIC_LABELS,
    )


def queue(engine: Engine, digest: Digest, now: datetime) -> int:
    message = build_message(
        digest,
        sender=SENDER,
        recipients=RECIPIENTS,
        subject_prefix="[test]",
        text=render_text(digest),
        html=render_html(digest),
    )
    return commit_window(engine, digest, message, body_json=render_json(digest), now=now)


def run_profile(
    engine: Engine, transport: Transport, now: datetime, profile: str = "daily"
) -> list[DeliveryOutcome]:
    """One scheduled run, as the app does it: retry what is queued, then the new window."""
    outcomes = deliver_pending(engine, transport, now=now)
    digest = build(engine, profile, now)
    if digest.is_empty:
        return outcomes
    row_id = queue(engine, digest, now)
    return [*outcomes, send_queued(engine, row_id, transport, now=now)]


class Stall:
    """A transport that announces it was called and never returns."""

    def send(self, raw: bytes) -> None:
        print("CLAIMED", flush=True)
        time.sleep(600)


def main(argv: list[str]) -> None:
    url, mode, port, now_text = argv
    now = datetime.fromisoformat(now_text)
    engine = create_store_engine(url)
    if mode == "after-commit":
        queue(engine, build(engine, "daily", now), now)
        print("COMMITTED", flush=True)
        time.sleep(600)
    elif mode == "after-claim":
        row_id = queue(engine, build(engine, "daily", now), now)
        send_queued(engine, row_id, Stall(), now=now)
    elif mode == "send":
        print("SENDING", flush=True)
        run_profile(engine, SmtpTransport(TestSmtpSettings(host="127.0.0.1", port=int(port))), now)
    raise SystemExit(f"{mode}: the child was meant to be killed before this")


if __name__ == "__main__":
    main(sys.argv[1:])
