"""The options of `aggregator sources add | import | export`.

Kept apart from sources_manage.py so that building the command-line parser (every command,
`--help` included) does not import discovery, OPML and the app.
"""

from __future__ import annotations

import argparse

from aggregator.models import OrgKind


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `sources add/import/export` on the `sources` parser."""
    parser.add_argument(
        "target", nargs="?", metavar="URL|FILE", help="add: a page URL; import: an OPML file"
    )
    parser.add_argument("--id", help="add: the new source's id (default: from the host)")
    parser.add_argument("--name", help="add: its display name (default: the feed's title)")
    parser.add_argument(
        "--org",
        choices=[kind.value for kind in OrgKind],
        help="add, import: organisation kind (default: ngo; import: the OPML group if it is one)",
    )
    parser.add_argument(
        "--tag", action="append", default=[], metavar="TAG", help="add, import: an extra tag"
    )
    parser.add_argument("--dry-run", action="store_true", help="add, import: write nothing")
    parser.add_argument(
        "--accept", action="store_true", help="add: write the proposed html source too"
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="export: write here, not stdout")
    parser.add_argument(
        "--group-by", choices=["org", "tag"], help="export: outline groups (default: org)"
    )
    parser.add_argument(
        "--with-credentials",
        action="store_true",
        help="export: keep user names and passwords in feed URLs (default: left out)",
    )


# Which `sources` action each option is for (as its help says): one given to another action
# is refused, not ignored. `sources list -o out.txt` printed the table and wrote nothing.
APPLIES_TO = {
    "json": ("--json", ("list", "check")),
    "id": ("--id", ("add",)),
    "name": ("--name", ("add",)),
    "org": ("--org", ("add", "import")),
    "tag": ("--tag", ("add", "import")),
    "dry_run": ("--dry-run", ("add", "import")),
    "accept": ("--accept", ("add",)),
    "output": ("-o/--output", ("export",)),
    "group_by": ("--group-by", ("export",)),
    "with_credentials": ("--with-credentials", ("export",)),
}


def misplaced_option(args: argparse.Namespace) -> str | None:
    """The first option given that the chosen action does not take, said as an error."""
    for dest, (flag, actions) in APPLIES_TO.items():
        if getattr(args, dest, None) in (None, False, []) or args.action in actions:
            continue
        return f"sources {args.action}: {flag} is an option of sources {' and '.join(actions)}"
    return None
