"""`aggregator sources add | import | export`: sources that look after themselves.

- ``add URL``: find the page's feed (aggregator.discover), show what it holds, append it to
  sources.toml; with no feed, propose an html source and write it only with ``--accept``.
- ``import FILE.opml``: another reader's subscriptions; duplicates skipped and reported.
- ``export [-o FILE]``: the feed sources as OPML 2.0, without the logins in their URLs
  unless ``--with-credentials``.

Every write goes through aggregator.config_edit: comments and layout of sources.toml stay,
and a result that does not validate is rolled back. ``--dry-run`` writes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aggregator.app import fetch_options
from aggregator.cli import (
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_SOURCES_FAILED,
    UsageError,
    config_dir_of,
    not_the_store,
)
from aggregator.config_edit import (
    append_sources,
    check_entries,
    id_from_url,
    render_entries,
    unique_id,
)
from aggregator.discover import Discovery, discover
from aggregator.errors import Blocked, ConfigError, FetchError
from aggregator.fetch import FetchOptions, Retriever
from aggregator.models import OrgKind, Source, SourceKind
from aggregator.opml import plan_import, read_opml, write_opml
from aggregator.settings import load_settings, load_sources
from aggregator.settings.sources import SOURCES_FILE
from aggregator.urls import canonical_url, is_web_url, with_login_of
from aggregator.words import count

# Discovery probes several URLs; one retry is enough to ride out a blip.
DISCOVERY_RETRIES = 1


def run(args: argparse.Namespace) -> int:
    handlers = {"add": cmd_add, "import": cmd_import, "export": cmd_export}
    handler = handlers[args.action]
    if args.action in ("add", "import") and not args.target:
        raise UsageError(
            f"sources {args.action}: give a {'URL' if args.action == 'add' else 'file'}"
        )
    return handler(args)


def _configured(config_dir: Path) -> tuple[Source, ...]:
    """The configured sources; none when sources.toml does not exist yet (a first import)."""
    if not (config_dir / SOURCES_FILE).is_file():
        return ()
    return load_sources(config_dir)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Stored:
    """What the store knows of the sources that the config does not say."""

    # Ids it keeps items and health under, configured or not: a source removed from the
    # config keeps its items, and a new source given its id would inherit them.
    ids: frozenset[str] = frozenset()
    # Configured source id -> the URL it is fetched from since a 301/308 (`_moved_urls`).
    moved: Mapping[str, str] = field(default_factory=dict)
    # Canonical URL -> the id of a stored source the config no longer names, by the URL it
    # was configured with and the one it was fetched from.
    removed: Mapping[str, str] = field(default_factory=dict)


def _stored(config_dir: Path, configured: Sequence[Source]) -> _Stored:
    """What the store knows; nothing when it cannot be read (a first `sources add`, before
    any refresh). Read only: no store is made, nor migrated."""
    import sqlalchemy

    from aggregator.errors import AggregatorError
    from aggregator.settings import load_settings
    from aggregator.store import open_store
    from aggregator.store.engine import sqlite_file
    from aggregator.store.sources import stored_urls

    try:
        settings = load_settings(config_dir, os.environ)
        database = sqlite_file(settings.database_url)
        if database is not None and not database.exists():
            return _Stored()  # no store yet: nothing to collide with, and nothing to create
        store = open_store(settings.database_url, migrate=False)
    except AggregatorError:
        return _Stored()
    try:
        with store.engine.connect() as conn:
            urls = stored_urls(conn)
    except (AggregatorError, sqlalchemy.exc.SQLAlchemyError):
        return _Stored()
    finally:
        store.close()
    named = {source.id for source in configured}
    removed = {
        canonical_url(url): source_id
        for source_id, pair in sorted(urls.items())
        if source_id not in named
        for url in pair
    }
    return _Stored(ids=frozenset(urls), moved=_moved_urls(configured, urls), removed=removed)


def _moved_urls(
    configured: Sequence[Source], stored: Mapping[str, tuple[str, str]]
) -> dict[str, str]:
    """The URL each configured source is fetched from since a 301/308, by id, from the
    store's (configured URL, URL in use) pairs. Not for a source whose URL was edited since
    the store last saw the config: the edit replaces the move (`store.sources.sync`)."""
    moved: dict[str, str] = {}
    for source in configured:
        was_configured, in_use = stored.get(source.id, (source.url, source.url))
        if was_configured == source.url and in_use != source.url:
            # Stored without the configured URL's password, which it is fetched with.
            moved[source.id] = with_login_of(source.url, in_use)
    return moved


def _write(config_dir: Path, entries: Sequence[Mapping[str, Any]], *, dry_run: bool) -> None:
    print(render_entries(entries), end="")
    if dry_run:
        check_entries(config_dir, entries)  # what would be refused is said now, not later
        print("dry run: nothing written")
        return
    append_sources(config_dir, entries)
    ids = ", ".join(str(e["id"]) for e in entries)
    print(f"added to {config_dir / SOURCES_FILE}: {ids}")


# add


def _known_urls(sources: Sequence[Source], stored: _Stored) -> dict[str, str]:
    """Canonical URL -> id of the configured sources: their configured URLs and where a
    301/308 moved them (the URL a reader now finds, and the one `add` is given)."""
    known = {canonical_url(url): id for id, url in stored.moved.items()}
    known.update((canonical_url(s.url), s.id) for s in sources)
    return known


async def _discover(url: str, options: FetchOptions) -> Discovery:
    async with Retriever(options) as retriever:
        return await discover(url, retriever, now=datetime.now(UTC))


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "no dates"


def _check_entry_arguments(args: argparse.Namespace) -> None:
    """--id and each --tag, checked as sources.toml checks them, before anything is fetched:
    they were checked only in the entry written after discovery, so a mistyped id was said
    after the network's seconds (or a fetch error that hid it)."""
    from pydantic import TypeAdapter, ValidationError

    from aggregator.settings.checks import Slug, TagName

    given = [("--id", args.id, Slug)] if args.id is not None else []
    given += [("--tag", tag, TagName) for tag in args.tag]
    for flag, value, kind in given:
        try:
            TypeAdapter(kind).validate_python(value)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            expected = (error.get("ctx") or {}).get("expected")
            detail = f" (expected {expected})" if expected else ""
            raise UsageError(f"sources add {flag} {value!r}: {error['msg']}{detail}") from None


def cmd_add(args: argparse.Namespace) -> int:
    url = args.target
    if not is_web_url(url):
        raise UsageError(f"sources add {url!r}: expected an http(s) URL")
    _check_entry_arguments(args)
    config_dir = config_dir_of(args)
    settings = load_settings(config_dir, os.environ)
    sources = _configured(config_dir)
    configured = {s.id for s in sources}
    stored = _stored(config_dir, sources)
    taken = configured | stored.ids
    if args.id and args.id in configured:
        raise UsageError(f"sources add: id {args.id!r} is already configured")
    if args.id and args.id in taken:
        print(
            f"note: {args.id!r} is the id of a source removed from the config: its stored "
            "items and health will be this source's"
        )
    known = _known_urls(sources, stored)
    if canonical_url(url) in known:  # as typed: a source that moved is known by both URLs
        print(f"{url} is already configured as {known[canonical_url(url)]!r}")
        return EXIT_OK
    options = replace(
        fetch_options(settings), retries=min(settings.fetch.retries, DISCOVERY_RETRIES)
    )
    try:
        found = asyncio.run(_discover(url, options))
    except FetchError as exc:
        print(f"aggregator: cannot fetch {url}: {exc.message}", file=sys.stderr)
        if isinstance(exc, Blocked):
            print(f"aggregator: {exc.advice}", file=sys.stderr)
        return EXIT_SOURCES_FAILED
    entry: dict[str, Any] = {
        "id": args.id or unique_id(id_from_url(found.address), taken),
        "org": args.org or str(OrgKind.NGO),
        "tags": list(args.tag),
    }
    feed = found.feed
    if feed is not None:
        if canonical_url(feed.url) in known:
            print(f"{feed.url} is already configured as {known[canonical_url(feed.url)]!r}")
            return EXIT_OK
        print(
            f"found a feed ({'the URL itself' if feed.via == 'page' else feed.via}): {feed.url}\n"
            f"  title: {feed.title or '-'}; format: {feed.format};"
            f" {count(feed.item_count, 'item')}; newest: {_when(feed.newest)}"
        )
        name = args.name or feed.title or found.page_title or urlsplit(feed.url).hostname
        _write(
            config_dir,
            [{**entry, "name": name, "url": feed.url, "kind": str(SourceKind.FEED)}],
            dry_run=args.dry_run,
        )
        return EXIT_OK
    tried = ", ".join(f"{a.url} ({a.outcome})" for a in found.attempts) or "-"
    print(f"no feed found for {found.address}\n  tried: {tried}")
    proposal = found.proposal
    if proposal is None:
        print("no listing recognised either: write an html source with selectors by hand")
        return EXIT_SOURCES_FAILED
    if canonical_url(found.address) in known:
        print(f"{found.address} is already configured as {known[canonical_url(found.address)]!r}")
        return EXIT_OK
    samples = "; ".join(proposal.sample_titles)
    print(
        f"proposed html source: {proposal.item_count} items, newest: {_when(proposal.newest)}\n"
        f"  e.g. {samples}"
    )
    selectors = {
        "item": proposal.selectors.item,
        "title": proposal.selectors.title,
        "link": proposal.selectors.link,
        "date": proposal.selectors.date,
        "summary": proposal.selectors.summary,
    }
    html_entry = {
        **entry,
        "name": args.name or found.page_title or urlsplit(found.address).hostname,
        "url": found.address,
        "kind": str(SourceKind.HTML),
        "selectors": selectors,
    }
    if not args.accept:
        print(render_entries([html_entry]), end="")
        print("check the selectors, then run again with --accept to add it")
        return EXIT_OK
    _write(config_dir, [html_entry], dry_run=args.dry_run)
    return EXIT_OK


# import


def cmd_import(args: argparse.Namespace) -> int:
    path = Path(args.target)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read the file: {exc}") from exc
    config_dir = config_dir_of(args)
    sources = _configured(config_dir)
    stored = _stored(config_dir, sources)
    plan = plan_import(
        read_opml(data, name=str(path)),
        sources,
        default_org=OrgKind(args.org) if args.org else OrgKind.NGO,
        extra_tags=args.tag,
        stored_ids=stored.ids,
        moved=stored.moved,
        removed=stored.removed,
    )
    for skipped in plan.skipped:
        print(f"skipped {skipped.url} ({skipped.title or '-'}): {skipped.reason}")
    for source_id, url in plan.resumed:
        print(
            f"{url}: the stored source {source_id!r} (removed from the config) was fetched from"
            " it: imported under its id, its items and health are this source's again"
        )
    print(f"{len(plan.entries)} to add, {len(plan.skipped)} skipped")
    if plan.entries:
        _write(config_dir, plan.entries, dry_run=args.dry_run)
    return EXIT_OK


# export


def cmd_export(args: argparse.Namespace) -> int:
    config_dir = config_dir_of(args)
    sources = load_sources(config_dir)
    # The URL each feed is fetched from, as Miniflux and FreshRSS export theirs: a source
    # moved by a 301/308 is exported where it is now.
    moved = _stored(config_dir, sources).moved
    exported = write_opml(
        sources,
        now=datetime.now(UTC),
        group_by=args.group_by or "org",
        urls=moved,
        with_credentials=args.with_credentials,
    )
    if args.output in (None, "-"):
        sys.stdout.write(exported.data.decode("utf-8"))
    else:
        # As `export -o`: naming the store's file wrote the OPML over the whole archive.
        not_the_store(args.output, load_settings(config_dir, os.environ).database_url)
        try:
            Path(args.output).write_bytes(exported.data)
        except OSError as exc:
            print(f"aggregator: cannot write {args.output}: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    if exported.left_out:
        print(
            f"left out {count(len(exported.left_out), 'source')} OPML cannot carry (not feeds): "
            + ", ".join(exported.left_out),
            file=sys.stderr,
        )
    if exported.logins_removed:
        print(
            "left the user name and password out of the URL of "
            f"{count(len(exported.logins_removed), 'source')}: "
            + ", ".join(exported.logins_removed)
            + " (an OPML file is made to be shared; --with-credentials keeps them)",
            file=sys.stderr,
        )
    return EXIT_OK
