"""`aggregator retag [--dry-run] [--json]`: apply changed tag rules to every stored item."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "retag", help="re-run tagging over stored items with the current config/tags.toml"
    )
    parser.add_argument("--dry-run", action="store_true", help="report changes, write nothing")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from aggregator import words
    from aggregator.cli import EXIT_OK, open_app

    # --dry-run writes nothing: a mistyped data_dir is an error, not a new empty store.
    with open_app(args, existing_store=args.dry_run) as app:
        result = app.retag(dry_run=args.dry_run)
    if args.json:
        json.dump(asdict(result), sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
        return EXIT_OK
    verb = "would change" if result.dry_run else "changed"
    print(f"retag: {words.count(result.items, 'item')}, {verb} the tags of {result.changed}")
    if result.skipped:
        print(
            f"  {words.count(result.skipped, 'item')} of sources no longer configured kept"
            f" {'its' if result.skipped == 1 else 'their'} tags"
        )
    for tag, count in sorted(result.added.items()):
        print(f"  + {tag}: {count}")
    for tag, count in sorted(result.removed.items()):
        print(f"  - {tag}: {count}")
    return EXIT_OK
