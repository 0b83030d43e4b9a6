"""`aggregator prune [--dry-run]`: delete items the retention settings let go.

Items first seen more than `retention.keep_days` ago, unless a digest of the last
`retention.keep_digest_days` showed them; each leaves a tombstone so it never comes back.
The scheduler (`aggregator run`) does the same daily; this is for doing it now.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from aggregator.cli import EXIT_OK, open_app
from aggregator.words import count


def cmd_prune(args: argparse.Namespace) -> int:
    # --dry-run writes nothing: a mistyped data_dir is an error, not a new empty store.
    with open_app(args, existing_store=args.dry_run) as app:
        retention = app.settings.retention
        result = app.prune(dry_run=args.dry_run)
    if args.json:
        json.dump(asdict(result), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    policy = (
        f"first seen over {count(retention.keep_days, 'day')} ago and in no digest of the last "
        f"{count(retention.keep_digest_days, 'day')}"
    )
    if args.dry_run:
        print(
            f"dry run: {count(result.items, 'item')} would be pruned ({policy}); "
            f"{count(result.clusters_deleted, 'cluster')} would be removed, "
            f"{result.clusters_updated} updated"
        )
        return EXIT_OK
    print(
        f"pruned {count(result.items, 'item')} ({policy}); "
        f"{count(result.clusters_deleted, 'cluster')} removed, {result.clusters_updated} updated"
        + (f"; space given back ({result.vacuum})" if result.vacuum else "")
    )
    return EXIT_OK


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("prune", help="delete items older than the retention settings")
    parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(handler=cmd_prune)
