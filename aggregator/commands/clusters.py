"""`aggregator clusters` and `aggregator replay`: look at the dedupe stage's work.

- `clusters [--since WHEN] [--min-size N] [--json]`: clusters changed since WHEN with at least
  N members (default 2: the folded statements), each with its members, the primary first.
- `replay [--since WHEN] [--window-days N]`: cluster the stored items afresh with the current
  thresholds and print the merges and splits that would change the stored clusters. Writes
  nothing; exit 0 whatever it finds (it is a report, not a check).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from aggregator.cli import EXIT_OK, UsageError, open_app, parse_since

MAX_MIN_SIZE = 2**31 - 1
MAX_WINDOW_DAYS = 36_500  # a century: beyond it, dates overflow before they mean anything


def cmd_clusters(args: argparse.Namespace) -> int:
    from aggregator.dedupe.render import clusters_json, clusters_text
    from aggregator.store.clusters import list_clusters

    if not 1 <= args.min_size <= MAX_MIN_SIZE:  # beyond 64 bits the database cannot compare
        raise UsageError(f"--min-size must be from 1 to {MAX_MIN_SIZE}")
    since = _since(args)
    # A report: pointed at a mistyped data_dir it says so, and makes no empty store to list.
    with open_app(args, existing_store=True) as app, app.store.engine.connect() as conn:
        views = list_clusters(conn, since=since, min_size=args.min_size)
    if args.json:
        # UTF-8 whatever the locale, as `export` writes: JSON is UTF-8.
        document = json.dumps(clusters_json(views), indent=2, ensure_ascii=False) + "\n"
        sys.stdout.flush()
        sys.stdout.buffer.write(document.encode("utf-8"))
    else:
        print(clusters_text(views))
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    from aggregator.dedupe.replay import compare, render
    from aggregator.store.clusters import stored_clusters, stored_items

    since = _since(args)
    if args.window_days is not None:
        _check_window_days(args.window_days)
    with open_app(args, existing_store=True) as app:  # writes nothing: makes no store either
        days = app.settings.dedupe.window_days if args.window_days is None else args.window_days
        _check_window_days(days)
        # One read-only transaction: the items and their clusters as of one moment.
        with app.store.engine.connect() as conn:
            items = stored_items(conn, since=since)
            stored = stored_clusters(conn, since=since)
    print(render(compare(items, stored, window=timedelta(days=days))))
    return EXIT_OK


def _since(args: argparse.Namespace) -> datetime | None:
    """`--since`, read before the store is opened: a bad value is exit 2 whatever the store."""
    return None if args.since is None else parse_since(args.since, now=datetime.now(UTC))


def _check_window_days(days: int) -> None:
    if not 1 <= days <= MAX_WINDOW_DAYS:
        raise UsageError(f"--window-days must be from 1 to {MAX_WINDOW_DAYS}")


def register(subparsers: Any) -> None:
    clusters = subparsers.add_parser(
        "clusters", help="list clusters of the same statement and their members"
    )
    clusters.add_argument(
        "--since", metavar="WHEN", help="changed since: an ISO date or datetime, or 7d, 24h"
    )
    clusters.add_argument(
        "--min-size", type=int, default=2, metavar="N", help="at least N members (default 2)"
    )
    clusters.add_argument("--json", action="store_true", help="print one JSON document")
    clusters.set_defaults(handler=cmd_clusters)

    replay = subparsers.add_parser(
        "replay",
        help="re-cluster the stored items with the current thresholds; print what would change",
    )
    replay.add_argument(
        "--since", metavar="WHEN", help="items first seen since: an ISO date or 7d, 24h"
    )
    replay.add_argument(
        "--window-days",
        type=int,
        default=None,
        metavar="N",
        help="compare items first seen within N days (default: the dedupe.window_days setting)",
    )
    replay.set_defaults(handler=cmd_replay)
