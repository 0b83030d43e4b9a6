"""The `aggregator` command line. A front end: it parses arguments, calls `App`, renders.

Exit codes (documented in README.md):
  0  every source succeeded (or the command did what it was asked)
  1  some sources failed (refresh), or the digest could not be delivered
  2  the config is invalid, or the command line is (unknown source id, bad --since)
  3  the store, or another service the command needs (task broker), failed
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import errno
import importlib
import io
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn, TextIO

from aggregator import __version__
from aggregator.allocator import give_back_large_blocks
from aggregator.errors import (
    AggregatorError,
    Blocked,
    ConfigError,
    DeliveryError,
    SourceError,
    StoreError,
)
from aggregator.models import SourceResult
from aggregator.words import count

# Everything heavier is imported where a command needs it: `--help` needs none of it, and the
# parse workers, which import the console script as their `__main__` (multiprocessing does so
# for a script), would otherwise load the store, the HTTP client and the settings for nothing.
if TYPE_CHECKING:
    from rich.console import Console

    from aggregator.app import App
    from aggregator.models import Source, SourceHealth
    from aggregator.pipeline import StageTimes

EXIT_OK, EXIT_SOURCES_FAILED, EXIT_CONFIG, EXIT_STORE = 0, 1, 2, 3
EXIT_FLUSH_FAILED = 120  # CPython's own exit status when stdout cannot be flushed at exit

# Modules that add sub-commands: each has `register(subparsers)` and sets `handler=` on its
# parsers. They may use this module's helpers (open_app, parse_since, table_console).
COMMAND_MODULES: tuple[str, ...] = (
    "aggregator.commands.worker",
    "aggregator.commands.prune",
    "aggregator.commands.serve",
    "aggregator.commands.retag",
    "aggregator.commands.clusters",
)


class UsageError(AggregatorError):
    """A command-line value is wrong."""


# argument helpers


def parse_since(text: str, *, now: datetime) -> datetime:
    """`--since`: an ISO date or datetime (UTC unless it says), or an age such as 7d, 24h, 30m."""
    from aggregator.when import BadTime, parse_when

    try:
        return parse_when(text, now=now)
    except BadTime as exc:
        raise UsageError(f"--since {text!r}: {exc}") from None


def config_dir_of(args: argparse.Namespace) -> Path:
    from aggregator.settings import resolve_config_dir

    return resolve_config_dir(args.config, os.environ)


def open_app(args: argparse.Namespace, *, existing_store: bool = False) -> App:
    from aggregator.app import App
    from aggregator.logs import apply_log_level

    return App.open(
        config_dir_of(args), os.environ, log_level=apply_log_level, existing_store=existing_store
    )


# refresh


def _progress_printer(total: int, out: TextIO) -> tuple[Callable[[SourceResult], None], Any]:
    """A rich progress bar on a terminal; plain lines otherwise (logs, CI, pipes)."""
    if out.isatty():
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        progress = Progress(
            TextColumn("refreshing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(file=out),
            transient=True,
        )
        task = progress.add_task("", total=total)

        def advance(result: SourceResult) -> None:
            progress.update(task, advance=1, description=f"{result.source_id}: {result.status}")

        return advance, progress

    done = 0

    def line(result: SourceResult) -> None:
        nonlocal done
        done += 1
        detail = f"{result.new} new, {result.updated} updated"
        if result.error_text:
            # Not "rate limited (rate limited: HTTP 429 ...)": the status is said already.
            detail = result.error_text.removeprefix(f"{result.status}: ")
        elif result.warnings:
            detail += "; " + _warning_text(result.warnings)
        print(
            f"[{done}/{total}] {result.source_id}: {result.status} ({detail}) "
            f"{result.seconds:.2f}s",
            file=out,
            flush=True,
        )

    return line, None


def result_record(result: SourceResult) -> dict[str, Any]:
    return {
        "id": result.source_id,
        "status": result.status,
        "new": result.new,
        "updated": result.updated,
        "seconds": round(result.seconds, 3),
        "error": result.error_text,
    }


def results_document(
    results: Sequence[SourceResult], times: StageTimes | None = None
) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    for result in results:
        statuses[result.status] = statuses.get(result.status, 0) + 1
    document: dict[str, Any] = {
        "sources": [result_record(r) for r in results],
        "totals": {
            "sources": len(results),
            "succeeded": sum(1 for r in results if r.ok),
            "failed": sum(1 for r in results if not r.ok),
            "new": sum(r.new for r in results),
            "updated": sum(r.updated for r in results),
            "seconds": round(max((r.seconds for r in results), default=0.0), 3),
            "statuses": statuses,
            # source id -> what reading its document warned about (the document was kept)
            "warnings": {r.source_id: list(r.warnings) for r in results if r.warnings},
        },
    }
    if times is not None:
        document["totals"]["stage_seconds"] = times.as_dict()
    return document


def _short_error(result: SourceResult) -> str:
    """The error without the source id, which the row already shows; for a source that
    succeeded, what reading its document warned about."""
    error = result.outcome
    if isinstance(error, SourceError):
        text = f"{error.verb}: {error.message}"
        if isinstance(error, Blocked):
            text += f" ({error.advice})"
        return text
    return _warning_text(result.warnings)


def _warning_text(warnings: Sequence[str]) -> str:
    if not warnings:
        return ""
    more = f" (+{len(warnings) - 1} more)" if len(warnings) > 1 else ""
    return f"warning: {warnings[0]}{more}"


def table_console() -> Console:
    """Full terminal width on a terminal; a wide fixed width in logs so rows don't wrap."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=200)


def render_results(
    results: Sequence[SourceResult], console: Console, *, configured: int | None = None
) -> None:
    """The per-source table; `configured`: how many sources the config has (0 is said)."""
    from aggregator.console_table import Column, Row, print_table

    if not results:  # an empty table says nothing the sentence does not
        why = (
            "no source is configured in sources.toml"
            if configured == 0
            else "no enabled source selected, or none due"
        )
        console.print(f"nothing to refresh: {why}")
        return
    style = {
        "error": "red",
        "blocked": "red",
        "rate limited": "yellow",
        "busy": "yellow",
        "new": "green",
    }
    print_table(
        console,
        "refresh",
        [
            Column("source"),
            Column("status"),
            Column("new", right=True, label="new"),
            Column("updated", right=True, label="updated"),
            Column("seconds", right=True, label="seconds"),
        ],
        "error",
        [
            Row(
                [r.source_id, r.status, str(r.new), str(r.updated), f"{r.seconds:.2f}"],
                _short_error(r),
                style.get(r.status, ""),
            )
            for r in sorted(results, key=lambda r: (r.ok, r.source_id))
        ],
    )
    totals = results_document(results)["totals"]
    console.print(
        f"{count(totals['sources'], 'source')}: {totals['succeeded']} ok, "
        f"{totals['failed']} failed; {count(totals['new'], 'new item')}, {totals['updated']} "
        "updated"
    )


def cmd_refresh(args: argparse.Namespace) -> int:
    from aggregator.pipeline import StageTimes

    with open_app(args) as app:
        if args.due:
            sources = app.due_sources()
            if args.source:
                # "--due --source A": those of the named sources that are due. Named first,
                # so that an unknown id is exit 2 as without --due (and not "nothing due").
                named = {source.id for source in app.select_sources(args.source)}
                sources = [source for source in sources if source.id in named]
        else:
            sources = app.select_sources(args.source)
        show, progress = _progress_printer(len(sources), sys.stderr)
        reported: list[SourceResult] = []

        def on_result(result: SourceResult) -> None:
            reported.append(result)
            show(result)

        times = StageTimes()
        mark = app.store.fetch_log_mark()
        try:
            with progress if progress is not None else contextlib.nullcontext():
                results = asyncio.run(app.refresh(sources, on_result=on_result, times=times))
        except (KeyboardInterrupt, Terminated) as stop:
            _report_stop(app, args, sources, reported, mark, stop, times)
            raise
    if args.json:
        # One write: json.dump would write each token on its own, ~35 ms for 1,000 sources.
        sys.stdout.write(json.dumps(results_document(results, times), indent=2) + "\n")
    else:
        render_results(results, table_console(), configured=len(app.sources))
    return EXIT_OK if all(r.ok for r in results) else EXIT_SOURCES_FAILED


def _report_stop(
    app: App,
    args: argparse.Namespace,
    sources: Sequence[Source],
    reported: Sequence[SourceResult],
    mark: int,
    stop: BaseException,
    times: StageTimes,
) -> None:
    """After Ctrl-C or SIGTERM: the write batch in flight commits (each source's writes are
    whole), then every source whose refresh is stored is reported, with those left
    (`commands/stopped.py`). The caller re-raises: `entry` says "interrupted" and exits."""
    from aggregator.commands.stopped import (
        late_ids,
        not_refreshed,
        stop_sentence,
        stored_after_stop,
    )

    word = "terminated" if isinstance(stop, Terminated) else "interrupted"
    app.stop_workers()
    # Said at once: the write may take many seconds, and a silent terminal looks hung.
    print(
        f"{word}: letting the write in flight commit (Ctrl-C again to stop now; it is then"
        " rolled back)",
        file=sys.stderr,
        flush=True,
    )
    try:
        app.finish_writes()
    except KeyboardInterrupt:
        app.abandon_writes()
        print(
            f"{word}: stopped without waiting; the write in flight is rolled back, its sources"
            " keep their last state",
            file=sys.stderr,
            flush=True,
        )
        raise
    ids = [source.id for source in sources]
    logged = app.store.logged_since(mark, ids)
    states = app.store.fetch_states(late_ids(reported, logged))
    warnings = {s.id: tuple(s.last_warning.splitlines()) for s in states if s.last_warning}
    late = stored_after_stop(reported, logged, warnings)
    results = [*reported, *late]
    left = not_refreshed(ids, results)
    if args.json:
        document = results_document(results, times)  # the stages' seconds until the stop
        document["interrupted"] = word
        document["not_refreshed"] = left
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        for result in late:  # as the progress lines said the others
            print(
                f"{result.source_id}: {result.status} (stored as the refresh stopped)",
                file=sys.stderr,
            )
        if results:  # with none, "nothing to refresh" would be untrue: the line below says
            render_results(results, table_console(), configured=len(app.sources))
    print(stop_sentence(len(results), len(left), stop=word), file=sys.stderr, flush=True)


# sources


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _iso_or_none(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _masked_or_none(url: str | None) -> str | None:
    from aggregator.urls import mask_password

    return None if url is None else mask_password(url)


def cmd_sources(args: argparse.Namespace) -> int:
    if args.target is not None and args.action not in ("add", "import"):
        # Silently ignored, `sources export out.opml` wrote to stdout and `sources check
        # other/config` checked ./config.
        hint = " (write -o FILE)" if args.action == "export" else ""
        raise UsageError(f"sources {args.action} takes no argument: {args.target!r}{hint}")
    from aggregator.commands.sources_args import misplaced_option

    misplaced = misplaced_option(args)
    if misplaced is not None:
        raise UsageError(misplaced)
    if args.action in ("add", "import", "export"):
        from aggregator.commands import sources_manage

        return sources_manage.run(args)
    if args.action == "check":
        return cmd_sources_check(args)
    from aggregator.console_table import Column, Row, print_table
    from aggregator.fetch.holds import host_key, next_asked, stored_holds
    from aggregator.health import advice, health_record, moved_note

    with open_app(args) as app:
        health = {h.id: h for h in app.health()}
        enabled = {s.id: s.enabled for s in app.sources}
        configured_url = {s.id: s.url for s in app.sources}
        now = app.clock()
        if app.made_store is not None:
            # Every source "never fetched": a first run, or a store looked for in the wrong
            # place. Said, for the second (`export` refuses a missing store outright).
            print(
                f"aggregator: note: no store was at {app.made_store}: made an empty one;"
                " nothing has been refreshed with this configuration (is data_dir,"
                " database_url or AGGREGATOR_DATA_DIR / AGGREGATOR_DATABASE_URL mistyped?)",
                file=sys.stderr,
            )
    holds = stored_holds(health.values(), now)

    def held(h: SourceHealth) -> str | None:
        """Why a source is not asked before its next fetch: its host answered another
        source with Retry-After (the source that drew it says so in its own error)."""
        key = host_key(h.url)
        hold = holds.get(key) if key is not None and enabled.get(h.id, False) else None
        if hold is None or hold.source_id == h.id:
            return None
        return (
            f"held: {key} asked us to wait until {hold.until.isoformat(timespec='seconds')}"
            f" (Retry-After, in its answer to source {hold.source_id!r})"
        )

    def next_fetch(h: SourceHealth) -> datetime | None:
        if not enabled.get(h.id, False):
            return None  # a disabled or removed source is not fetched: no next fetch
        return next_asked(h, holds)

    # The configured sources in config order, then those removed from the config: their
    # items are kept, so they are listed (and never fetched again).
    rows = [health[i] for i in enabled if i in health]
    rows += [h for i, h in sorted(health.items()) if i not in enabled]
    if args.json:
        records = [
            health_record(h)
            | {"enabled": enabled.get(h.id, False), "in_config": h.id in enabled}
            | {"next_fetch": _iso_or_none(next_fetch(h))}
            | {"held": held(h)}
            # A permanent redirect replaced the URL fetched: the config wants editing.
            | {
                "configured_url": _masked_or_none(configured_url.get(h.id)),
                "moved": moved_note(h, configured_url[h.id]) if h.id in configured_url else None,
            }
            for h in rows
        ]
        sys.stdout.write(json.dumps({"sources": records}, indent=2) + "\n")
        return EXIT_OK
    lines = []
    for h in rows:
        state = h.last_status or "never fetched"
        active = enabled.get(h.id, False)
        if not active:
            state = "disabled" if h.id in enabled else "removed from config"
        problem = " ".join(part for part in (h.last_error, advice(h) and f"({advice(h)})") if part)
        # The last document's warning when it was read, then what is not an error but
        # worth knowing: a move or a hold does not hide what the document said.
        notes: list[str | None] = [problem or _warning_text((h.last_warning or "").splitlines())]
        # Fetched from elsewhere since a 301/308; the config still says the old address.
        notes.append(moved_note(h, configured_url.get(h.id, h.url)) if active else None)
        notes.append(held(h))
        lines.append(
            Row(
                [
                    h.id,
                    state,
                    _when(h.last_success_at),
                    str(h.consecutive_failures),
                    str(h.item_count),
                    _when(next_fetch(h)) if active else "-",
                ],
                "; ".join(note for note in notes if note),
            )
        )
    print_table(
        table_console(),
        "sources (times in UTC)",
        [
            Column("source"),
            Column("status"),
            Column("last success", label="last success"),
            Column("failures", right=True, label="failures"),
            Column("items", right=True, label="items"),
            Column("next fetch", label="next fetch"),
        ],
        "last error",
        lines,
    )
    return EXIT_OK


def _check_config(config_dir: Path) -> dict[str, Any]:
    """Every check a command makes at start, without fetching; what the config holds."""
    from aggregator.settings import load_settings, read_sources
    from aggregator.settings.app import check_data_dir

    settings = load_settings(config_dir, os.environ)
    loaded = read_sources(config_dir)
    sources = loaded.sources
    from aggregator.app import check_tags_named
    from aggregator.rules_loader import RulesLoader

    loader = RulesLoader(config_dir)
    rules = loader.get()
    check_tags_named(settings, sources, loader)
    from aggregator.fetch.http import check_tls_environment, tls_context

    check_tls_environment()
    tls_context()  # SSL_CERT_FILE / SSL_CERT_DIR read as the fetch will read them
    check_data_dir(settings, os.environ)  # what the first command would meet, left as it was
    return {
        **_source_counts(sources),
        "topic_tags": len(rules.topics),
        "warnings": list(loaded.warnings),
    }


def _source_counts(sources: Sequence[Source]) -> dict[str, int | None]:
    return {
        "sources": len(sources),
        "enabled": sum(1 for s in sources if s.enabled),
        "unverified": sum(1 for s in sources if not s.verified),
    }


def _what_loads(config_dir: Path) -> dict[str, int | None]:
    """The summary keys of `_check_config` for a config with a problem: those of a file that
    loads on its own, null for those of a file that does not (a script reads one shape)."""
    from aggregator.rules_loader import RulesLoader
    from aggregator.settings import load_sources

    found = dict.fromkeys(("sources", "enabled", "unverified", "topic_tags"))
    with contextlib.suppress(ConfigError):
        found |= _source_counts(load_sources(config_dir))
    with contextlib.suppress(ConfigError):
        found["topic_tags"] = len(RulesLoader(config_dir).get().topics)
    return found


def _each_file_checked(config_dir: Path) -> list[ConfigError]:
    """The first problem of each config file, each file read on its own: `--json` lists
    them all, where loading stops at the first file with one (sources.toml was not looked
    at while aggregator.toml had a problem)."""
    from aggregator.rules_loader import RulesLoader
    from aggregator.settings import load_settings, load_sources

    found: list[ConfigError] = []
    for check in (
        lambda: load_settings(config_dir, os.environ),
        lambda: load_sources(config_dir),
        lambda: RulesLoader(config_dir).get(),
    ):
        try:
            check()
        except ConfigError as exc:
            found.append(exc)
    return found


def problem_record(error: ConfigError) -> dict[str, Any]:
    """A config problem for scripts: where (file, line, key), what, and what was expected;
    `more` names the file's other problems, as the message does."""
    return {
        "file": error.file,
        "line": error.line,
        "key": error.key,
        "problem": error.problem,
        "expected": error.expected,
        "more": error.more,
        "message": str(error),
    }


def cmd_sources_check(args: argparse.Namespace) -> int:
    config_dir = config_dir_of(args)
    if not args.json:
        from aggregator.rules_loader import RULES_FILE

        try:
            summary = _check_config(config_dir)
        except ConfigError as exc:
            # Each other file's first problem too, before the one `main` prints: an operator
            # mends them in one go, not one file per run.
            for other in _each_file_checked(config_dir):
                if str(other) != str(exc):
                    print(f"aggregator: {other}", file=sys.stderr)
            raise
        for warning in summary["warnings"]:
            print(f"aggregator: warning: {warning}", file=sys.stderr)
        # tags.toml is optional; its absence is said, so that 0 topics is not a surprise later.
        no_rules = "" if (config_dir / RULES_FILE).is_file() else f" (no {RULES_FILE})"
        print(
            f"{config_dir}: ok: {count(summary['sources'], 'source')} ({summary['enabled']} "
            f"enabled, {summary['unverified']} unverified), {summary['topic_tags']} topic tags"
            + no_rules
        )
        return EXIT_OK
    # --json: one document either way, so that a script reads the verdict from stdout; the
    # exit status (2 for a bad config) and the line on stderr stay as without --json.
    try:
        summary = _check_config(config_dir)
    except ConfigError as exc:
        problems = [exc, *(e for e in _each_file_checked(config_dir) if str(e) != str(exc))]
        records = [problem_record(problem) for problem in problems]
        document = {"config_dir": str(config_dir), "ok": False, "problems": records}
        document |= _what_loads(config_dir) | {"warnings": []}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        raise
    document = {"config_dir": str(config_dir), "ok": True, "problems": []} | summary
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    return EXIT_OK


# export


def cmd_export(args: argparse.Namespace) -> int:
    since = None if args.since is None else parse_since(args.since, now=datetime.now(UTC))
    from aggregator.app import item_record

    # A config or store error at open leaves the output file alone; so does one met midway,
    # or Ctrl-C: the file is replaced only once every item is written (atomic.replacing).
    with open_app(args, existing_store=True) as app:
        not_the_store(args.output, app.settings.database_url)
        with _output(args.output) as out:
            for item in app.iter_items(since=since):
                out.write(json.dumps(item_record(item), ensure_ascii=False).encode("utf-8") + b"\n")
    return EXIT_OK


# The files SQLite keeps beside a database while it is open, and removes: an export written
# to one of them was gone when the command ended.
SQLITE_COMPANIONS = {"-wal": "write-ahead log", "-shm": "shared memory", "-journal": "journal"}


def not_the_store(path: str | None, database_url: str) -> None:
    """Refuse `-o` naming the SQLite file itself (the export would replace the archive) or
    one of its companion files (SQLite would remove the export)."""
    from aggregator.store.engine import sqlite_file

    database = sqlite_file(database_url)
    if path is None or path == "-" or database is None:
        return
    target, store = Path(path).resolve(), database.resolve()
    if target == store:
        raise UsageError(f"cannot write {path}: it is the store itself ({database})")
    for suffix, what in SQLITE_COMPANIONS.items():
        if target == store.with_name(store.name + suffix):
            raise UsageError(
                f"cannot write {path}: it is the store's {what} file, which SQLite removes"
                f" (the store is {database})"
            )


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[BinaryIO]:
    """Standard output, or the file `--output` names, as bytes: JSON Lines are UTF-8,
    whatever the locale (PYTHONIOENCODING=latin-1 made stdout fail on the first '€')."""
    if path is None or path == "-":
        sys.stdout.flush()  # anything printed as text before goes out first
        yield sys.stdout.buffer
        return
    from aggregator.atomic import replacing

    target = Path(path)
    out: BinaryIO
    with contextlib.ExitStack() as stack:
        try:
            if target.is_dir():
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
            if target.exists() and not target.is_file():
                # A FIFO, /dev/null, /dev/stdout: nothing to replace, written as it comes.
                out = stack.enter_context(open(target, "wb"))
            elif target.exists() and not os.access(target, os.W_OK):
                # The rename would replace a read-only file the user could not write.
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
            else:
                # Replaced once the `with` ends without an error; never left truncated.
                out = stack.enter_context(replacing(target))
        except OSError as exc:  # only opening: a write that fails is exit 120 (`entry`)
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc
        yield out


# digest


# How `digest` says what became of an email. "failed" alone read as lost, the API's word
# for an email refused for good; such an email is queued and sent at the next run.
_DELIVERY_WORDS = {
    "failed": "not sent, queued for the next run",
    "undeliverable": "undeliverable, not tried again",
}


def cmd_digest(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    since = None if args.since is None else parse_since(args.since, now=now)
    if since is not None and since > now:
        # A digest window from a time to come would end before it starts: a typed year, not
        # a wish. (`export` and `clusters` just find nothing: a store dated by another clock.)
        raise UsageError(
            f"--since {args.since!r}: {since.isoformat(timespec='seconds')} is in the future"
            f" (now {now.isoformat(timespec='seconds')})"
        )
    if since is not None and args.send:
        raise UsageError("--since builds a preview of any window; it cannot be used with --send")
    if args.dry_run and args.send:
        raise UsageError("--dry-run sends and writes nothing; it cannot be used with --send")
    # --dry-run writes nothing, no new empty store either: a mistyped data_dir is exit 3.
    from aggregator.deliver.run import DigestFilesUnwritten

    unwritten: DigestFilesUnwritten | None = None
    with open_app(args, existing_store=args.dry_run) as app:
        profile = app.profile(args.profile)
        try:
            run = app.run_digest(
                profile.name,
                send=args.send and not args.dry_run,
                since=since,
                formats=args.format or None,
                write_files=not args.dry_run,
            )
        except DigestFilesUnwritten as exc:
            # Recorded, and its email sent: what was done is told as always, then the files.
            run, unwritten = exc.run, exc
    digest = run.digest
    events = digest.procedure_event_count
    print(
        f"digest {digest.profile}: {count(digest.entry_count, 'entry', 'entries')}, "
        f"{count(digest.new_item_count, 'new item')}, {digest.updated_count} updated, "
        f"from {count(digest.source_count, 'source')}"
        + (f", {count(events, 'procedure event')}" if events else "")
        + f"; window {digest.window_start.isoformat(timespec='seconds')}"
        f" .. {digest.window_end.isoformat(timespec='seconds')}",
        # A preview's stdout is the text digest alone (`digest --dry-run > digest.txt`).
        file=sys.stderr if args.dry_run else sys.stdout,
    )
    if args.dry_run:
        from aggregator.deliver.render import render_text

        print(render_text(digest))
        return EXIT_OK
    for path in run.files:
        print(f"wrote {path}")
    failed = False
    to_files = app.settings.smtp is None
    for outcome in run.deliveries:
        status = _DELIVERY_WORDS.get(outcome.status, outcome.status)
        line = f"email {outcome.profile} {outcome.window_end.isoformat()}: {status}"
        if to_files and outcome.status == "sent":
            # No [smtp]: "sent" to the outbox folder, where nobody receives it.
            line += f" to {app.settings.data_dir / 'outbox'} (no [smtp] configured)"
        if outcome.error:
            line += f" ({outcome.error})"
        # Sent with some recipients refused is a delivery that failed for them, and one
        # another run holds ("busy") is not delivered by this one: exit 1.
        failed = (
            failed or outcome.status in ("failed", "busy", "undeliverable") or bool(outcome.error)
        )
        print(line)
    if run.taken is not None:
        # Not a failure: that run's email carries these items; sending them again would not.
        print(f"email: nothing sent: {run.taken}")
    elif args.send and not run.deliveries:
        if not (profile.recipients or profile.bcc):
            print(f"email: nothing to send: profile {profile.name!r} has no recipients")
        else:
            print("email: nothing to send: the digest is empty (the profile's send_empty is off)")
    if unwritten is not None:
        print(f"aggregator: digest files not written: {unwritten}", file=sys.stderr)
        return EXIT_SOURCES_FAILED
    return EXIT_SOURCES_FAILED if failed else EXIT_OK


# run


def cmd_run(args: argparse.Namespace) -> int:

    from aggregator.logs import start_service_logging
    from aggregator.schedule import Service

    start_service_logging()
    with open_app(args) as app:
        if not args.distributed:
            asyncio.run(Service(app).serve())
            return EXIT_OK
        from aggregator.worker import Enqueuer, check_login  # dramatiq only when asked for

        # As `aggregator worker` does: a refused login is a wrong URL or password, exit 3
        # naming the setting. It was told as an outage at every tick, for ever.
        check_login(app.settings.workers)
        enqueuer = Enqueuer(app)
        try:
            asyncio.run(Service(app, enqueue=enqueuer).serve())
        finally:
            enqueuer.close()
    return EXIT_OK


# the parser


class CommandParser(argparse.ArgumentParser):
    """A command's parser that takes its options anywhere among its positionals.

    `sources` has two optional positionals (the action and its URL or FILE): argparse's
    ordinary parse gave both their values from the first run of positionals, so in
    `sources add --dry-run URL` the URL came after the run ("unrecognized arguments: URL").
    Parsing the options first and the positionals after (argparse's intermixed parse) takes
    `sources add URL --dry-run` and `sources add --dry-run URL` alike."""

    _intermixing = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._intermixing:  # the intermixed parse's own two passes
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aggregator",
        description="Aggregate feeds and listing pages into a deduplicated, tagged digest.",
    )
    parser.add_argument("--version", action="version", version=f"aggregator {__version__}")
    parser.add_argument(
        "--config",
        metavar="DIR",
        help="config folder (default: $AGGREGATOR_CONFIG, else ./config)",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=CommandParser
    )

    refresh = commands.add_parser("refresh", help="fetch sources now and store their items")
    refresh.add_argument(
        "--source", action="append", metavar="ID", help="refresh only this source (repeatable)"
    )
    refresh.add_argument(
        "--due",
        action="store_true",
        help="refresh only the sources now due (with --source: those of them that are due)",
    )
    refresh.add_argument("--json", action="store_true", help="print one JSON document")
    refresh.set_defaults(handler=cmd_refresh)

    sources = commands.add_parser("sources", help="list, check, add, import and export sources")
    sources.add_argument(
        "action",
        nargs="?",
        choices=["list", "check", "add", "import", "export"],
        default="list",
        help="list (default): health table; check: validate the config without fetching; "
        "add URL: find the page's feed and add it; import FILE.opml; export [-o FILE]",
    )
    sources.add_argument("--json", action="store_true", help="list, check: print one JSON document")
    from aggregator.commands.sources_args import add_arguments

    add_arguments(sources)
    sources.set_defaults(handler=cmd_sources)

    export = commands.add_parser("export", help="write stored items, one JSON object per line")
    export.add_argument("--format", choices=["jsonl"], default="jsonl")
    export.add_argument(
        "--since",
        metavar="WHEN",
        help="items first seen or last changed at or after this (date or 7d)",
    )
    export.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    export.set_defaults(handler=cmd_export)

    digest = commands.add_parser("digest", help="build the digest, write its files, maybe send")
    digest.add_argument(
        "--profile",
        default=None,
        help="digest profile (default: the only one configured, else 'daily')",
    )
    digest.add_argument("--since", metavar="WHEN", help="preview from this time (date or 7d)")
    digest.add_argument(
        "--format",
        action="append",
        choices=["html", "text", "markdown", "json"],
        help="write only this format (repeatable; default: the profile's formats)",
    )
    digest.add_argument("--send", action="store_true", help="record the window and deliver it")
    digest.add_argument(
        "--dry-run", action="store_true", help="print the text digest; write and send nothing"
    )
    digest.set_defaults(handler=cmd_digest)

    run = commands.add_parser("run", help="run the scheduler: refresh ticks and digest jobs")
    run.add_argument(
        "--distributed",
        action="store_true",
        help="send due sources to `aggregator worker` processes instead of fetching here",
    )
    run.set_defaults(handler=cmd_run)

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(commands)
    # `--config DIR` after the command too (`aggregator refresh --config DIR`), as users
    # write it; SUPPRESS keeps a value given before the command when none comes after.
    for command in commands.choices.values():
        command.add_argument(
            "--config",
            metavar="DIR",
            default=argparse.SUPPRESS,
            help="config folder (default: $AGGREGATOR_CONFIG, else ./config); also before "
            "the command",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from aggregator.app import UnknownProfile, UnknownSource

    try:
        code: int = args.handler(args)
        return code
    except (ConfigError, UsageError, UnknownSource, UnknownProfile) as exc:
        print(f"aggregator: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except DeliveryError as exc:
        from aggregator.deliver.files import FilesNotWritable

        # A preview's files are no delivery: "delivery failed" sent the operator looking
        # at the mail server.
        what = (
            "digest files not written" if isinstance(exc, FilesNotWritable) else "delivery failed"
        )
        print(f"aggregator: {what}: {exc}", file=sys.stderr)
        return EXIT_SOURCES_FAILED
    except StoreError as exc:
        print(f"aggregator: store error: {exc}", file=sys.stderr)
        return EXIT_STORE
    except AggregatorError as exc:  # a service the command needs (the task broker, Redis)
        print(f"aggregator: {exc}", file=sys.stderr)
        return EXIT_STORE


def entry() -> NoReturn:
    """The console script and `python -m aggregator`: `main`, then a quick exit.

    By the time `main` returns, every write is committed and the store closed. What the
    interpreter would still do is tear down the objects of ~600 imported modules, which costs
    a warm refresh ~70 ms (about 5% of it) for nothing: so flush what is buffered, run the
    atexit handlers (logging's, multiprocessing's) and leave.
    """
    give_back_large_blocks()  # before anything large is allocated (aggregator/allocator.py)
    # SIGTERM ends a command the way Ctrl-C does: through every `with`, so that the store is
    # closed and the worker processes are stopped, not left running without their parent.
    # (`run`, `worker` and `serve` put their own handlers in place of this one.)
    signal.signal(signal.SIGTERM, _terminate)
    if sys.stdout is None:  # started with stdout closed (`>&-`): every command writes to it
        _complain("standard output is closed; nothing was done")
        os._exit(EXIT_FLUSH_FAILED)
    # Text a terminal's encoding lacks ("’" under PYTHONIOENCODING=latin-1) is shown as "?":
    # `clusters` and `digest --dry-run` ended in a UnicodeEncodeError traceback. (JSON and
    # JSON Lines are written as UTF-8 bytes, whatever the locale.)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")
    try:
        code = main()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except ValueError as exc:  # flushing a file closed meanwhile
            raise OSError(str(exc)) from exc
    except BrokenPipeError:
        # The reader went away (`aggregator export | head`): not an error worth a traceback.
        code = code_broken_pipe()
    except (KeyboardInterrupt, Terminated) as stop:
        # What finished is stored: each source's writes (and each digest's) are all or
        # nothing, so a stop between them loses nothing and leaves nothing half-written.
        terminated = isinstance(stop, Terminated)
        _complain("terminated" if terminated else "interrupted")
        code = EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except OSError as exc:  # the output unwritable (a full disk, a closed file)
        _complain(f"cannot write the output: {exc}")
        code = EXIT_FLUSH_FAILED
    atexit._run_exitfuncs()
    os._exit(code)


class Terminated(SystemExit):
    """SIGTERM, raised in the main thread (`_terminate`)."""


EXIT_INTERRUPTED = 128 + signal.SIGINT  # the shell's code for a command stopped by a signal
EXIT_TERMINATED = 128 + signal.SIGTERM


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(EXIT_TERMINATED)


def _complain(message: str) -> None:
    """One line on stderr, if there is one to write to."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(f"aggregator: {message}", file=sys.stderr, flush=True)


def code_broken_pipe() -> int:
    """Point stdout at /dev/null (so the interpreter's last flush cannot fail again) and
    give the exit status of a writer whose reader closed the pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_SOURCES_FAILED
