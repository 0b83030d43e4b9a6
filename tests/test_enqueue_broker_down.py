"""`run --distributed` with the task broker down: one clear error per tick, and the sources
not sent are not left marked as queued (they go out at the next tick, not after
`workers.queue_timeout`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.app import App
from aggregator.store import leases
from aggregator.worker import Enqueuer, WorkerError
from tests.support_config import write_config
from tests.support_smtp import free_port


def test_a_broker_that_is_down_leaves_no_source_marked_as_queued(
    tmp_path: Path, database_url: str
) -> None:
    config = write_config(
        tmp_path / "config",
        [
            {"id": f"s{n}", "name": f"S{n}", "url": f"https://s{n}.example.org/feed",
             "kind": "feed", "org": "ngo"}
            for n in range(3)
        ],
    )  # fmt: skip
    env = {
        "AGGREGATOR_DATABASE_URL": database_url,
        "AGGREGATOR_DATA_DIR": str(tmp_path / "var"),
        "AGGREGATOR_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens
    }
    with App.open(config, env) as app:
        due = [source.id for source in app.due_sources()]
        assert due == ["s0", "s1", "s2"]
        enqueuer = Enqueuer(app)
        try:
            with pytest.raises(WorkerError, match="enqueue failed after 0 of 3 sources"):
                enqueuer(due)
        finally:
            enqueuer.close()
        assert leases.holders(app.store.engine, now=app.clock()) == {}
        assert [source.id for source in app.due_sources()] == due  # still due: sent next tick
