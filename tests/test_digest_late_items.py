"""An item a refresh committed after a digest read the store, but stamped inside that
digest's window, comes in the next digest: it fell between the two and was never shown."""

from __future__ import annotations

from pathlib import Path

from aggregator.deliver.run import run_profile
from aggregator.store import SqlStore
from tests.support_feed_store import rss_entry, save_rss
from tests.support_schedule import digest_profile
from tests.support_store import T0, at, make_source

FEED = "https://www.iwf.org.uk/news-media/feed/"


def _digest(store: SqlStore, minutes: float, data_dir: Path) -> list[str]:
    """Record the profile's next digest at `at(minutes)`; the titles it showed."""
    run = run_profile(
        store.engine,
        digest_profile(),
        now=at(minutes),
        data_dir=data_dir,
        smtp=None,
        topic_order=(),
        topic_labels={},
        send=True,
        write_files=False,
    )
    assert run.recorded
    return sorted(entry.title for group in run.digest.groups for entry in group.entries)


def test_an_item_committed_after_a_digest_read_comes_in_the_next(
    store: SqlStore, tmp_path: Path
) -> None:
    source = make_source("iwf", url=FEED)
    store.sync_sources([source], now=T0)
    first = rss_entry("https://www.iwf.org.uk/news/ai-report/", "AI abuse imagery report")
    save_rss(store, source, [first], 1)
    assert _digest(store, 10, tmp_path) == ["AI abuse imagery report"]
    # Read at minute 9, before the digest at minute 10; written only after it (a busy
    # store writer): its first sighting is inside the window the digest already closed.
    late = rss_entry("https://www.iwf.org.uk/news/hotline-figures/", "Hotline figures for 2025")
    save_rss(store, source, [first, late], 9)
    assert _digest(store, 20, tmp_path) == ["Hotline figures for 2025"]
    assert _digest(store, 30, tmp_path) == []  # shown once
