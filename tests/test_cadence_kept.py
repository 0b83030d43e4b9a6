"""A 304, or the same document sent again, is timed as the last document read was: by the
feed's <ttl> and its posting rhythm, which the store keeps with the source (`Rhythm`).
Against a real HTTP server on 127.0.0.1, through `aggregator refresh` and `sources --json`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support_config import write_config
from tests.test_refresh import FAST, refresh_json, source, sources_health, statuses

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

# The configured interval is an hour; the cap (schedule.max_interval) a day.
HOUR = """
[schedule]
min_interval = "5m"
max_interval = "1d"
"""


def rss(*, ttl_minutes: int | None, gap: timedelta) -> str:
    now = datetime.now(UTC)
    entries = "".join(
        f"<item><title>Statement {n}</title><link>https://ngo.example.org/s/{n}</link>"
        f"<guid>https://ngo.example.org/s/{n}</guid>"
        f"<pubDate>{format_datetime(now - n * gap)}</pubDate>"
        f"<description>Our statement number {n} on the regulation.</description></item>"
        for n in range(1, 7)
    )
    ttl = f"<ttl>{ttl_minutes}</ttl>" if ttl_minutes is not None else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>NGO</title><link>https://ngo.example.org/</link>{ttl}{entries}"
        "</channel></rss>"
    )


def hours_to_next_fetch(capsys: pytest.CaptureFixture[str], config: Path) -> float:
    (health,) = sources_health(capsys, config).values()
    next_fetch = datetime.fromisoformat(health["next_fetch"])
    return (next_fetch - datetime.now(UTC)).total_seconds() / 3600


@pytest.mark.parametrize(
    ("ttl_minutes", "gap", "hours"),
    [
        (12 * 60, timedelta(hours=1), 12),  # the feed asks to be left alone for 12 hours
        (None, timedelta(days=7), 24),  # a weekly poster: the gap halved, capped at a day
    ],
    ids=["ttl", "weekly-rhythm"],
)
@pytest.mark.parametrize("answer", ["304", "same body"])
def test_an_answer_with_nothing_new_keeps_the_feeds_pace(
    http_server: FixtureServer,
    env: Path,
    capsys: pytest.CaptureFixture[str],
    ttl_minutes: int | None,
    gap: timedelta,
    hours: float,
    answer: str,
) -> None:
    body = rss(ttl_minutes=ttl_minutes, gap=gap)
    # With an ETag the second answer is a 304; without, the same bytes again.
    etag = '"v1"' if answer == "304" else None
    url = http_server.add("/feed.xml", body=body, etag=etag, content_type="application/rss+xml")
    config = write_config(env / "config", [source("ngo", url, interval="1h")], settings=FAST + HOUR)
    code, first = refresh_json(capsys, config)
    assert code == 0 and statuses(first) == {"ngo": "new"}
    assert hours_to_next_fetch(capsys, config) == pytest.approx(hours, abs=0.1)

    code, again = refresh_json(capsys, config)
    assert code == 0
    assert statuses(again) == {"ngo": "not modified" if answer == "304" else "unchanged"}
    # Before, the next fetch came at the bare interval: an hour.
    assert hours_to_next_fetch(capsys, config) == pytest.approx(hours, abs=0.1)
