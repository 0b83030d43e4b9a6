"""One run of a digest profile: retry what is queued, build, render, write, queue, send.

The order is what makes delivery exactly-once and loss-free:
1. emails left pending by a failed or killed run go out first, with their stored bytes;
2. the window runs from the end of this profile's last recorded digest to now;
3. with `send`, the digest row and its outbox row commit together (the window only advances
   with the email that carries it), then the row is claimed and sent;
4. the files last: a folder that cannot be written (a full disk, a file where the folder
   should be) neither holds back an email already queued nor hides that it was sent
   (`DigestFilesUnwritten` carries the run, and how to write the files later);
5. without `send` (a preview), files are written and nothing is recorded, so the next real
   digest still shows every item.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from sqlalchemy import Engine

from aggregator.cron import cron_trigger, next_fire_after
from aggregator.deliver.files import FORMATS, FilesNotWritable, write_digest_files
from aggregator.deliver.mail import Addressees, SmtpTransport, build_message
from aggregator.deliver.outbox import (
    DeliveryOutcome,
    EmlFolder,
    Transport,
    commit_window,
    deliver_pending,
    record_window,
    send_queued,
)
from aggregator.deliver.render import local_date, render_html, render_json, render_text
from aggregator.digest import Digest, build_digest
from aggregator.errors import DeliveryError
from aggregator.settings import DigestProfile, SmtpSettings
from aggregator.store.digests import (
    WindowTaken,
    last_window_end,
    load_procedure_latest,
    load_shown_revisions,
    load_source_health,
    load_sources,
    load_window_items,
)

# Where a window reaches back to when it has no start of its own (see `first_window_start`).
BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)
FALLBACK_SENDER = "aggregator <aggregator@localhost>"


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestRun:
    digest: Digest
    files: tuple[Path, ...]
    recorded: bool  # the window was recorded (it advanced)
    deliveries: tuple[DeliveryOutcome, ...]  # retries of earlier windows, then this one
    # Another run recorded this profile's window meanwhile (its email carries these items):
    # what it recorded, and nothing of this run was recorded or sent.
    taken: WindowTaken | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UnwrittenFiles:
    """The files of a recorded digest that could not be written, and how to write them."""

    profile: str
    day: str  # the files' date, in the profile's zone: a later digest of that day replaces them
    folder: Path
    error: str  # the system's words, with the file it was writing
    empty: bool  # as on disk, an empty digest's files never replace a non-empty one's
    write: Callable[[], tuple[Path, ...]]  # writes them (raises FilesNotWritable again)


class DigestFilesUnwritten(DeliveryError):
    """The digest was recorded (and its email sent, or queued) but its files could not be
    written. Not an error of the digest: `run` is what happened, `unwritten` what is left."""

    def __init__(self, run: DigestRun, unwritten: UnwrittenFiles) -> None:
        self.run = run
        self.unwritten = unwritten
        own = [o.status for o in run.deliveries if o.window_end == run.digest.window_end]
        email = f"its email {own[-1]}" if own else "no email was due"
        if own and own[-1] == "failed":
            email += " (queued, and tried again)"
        super().__init__(
            f"digest {run.digest.profile!r} was recorded and {email}, but its files could not"
            f" be written to {unwritten.folder}: {unwritten.error}"
        )


def addressees_of(profiles: Sequence[DigestProfile]) -> dict[str, Addressees]:
    """Whom each configured profile's digest goes to now: what a queued email's retry uses."""
    return {p.name: Addressees(to=tuple(p.recipients), bcc=tuple(p.bcc)) for p in profiles}


def transport_for(smtp: SmtpSettings | None, data_dir: Path) -> Transport:
    """SMTP when configured; otherwise .eml files in <data_dir>/outbox/."""
    if smtp is None:
        return EmlFolder(data_dir / "outbox")
    return SmtpTransport(smtp)


def first_window_start(profile: DigestProfile, now: datetime) -> datetime:
    """Where the first digest of a profile starts: one period of its schedule back (a day
    for a daily profile, a week for a weekly one), so a profile added to a store of a year
    gets the week's news, not the year's. Items are windowed by when they were first seen:
    on a new install, everything the first refreshes collected is inside it."""
    trigger = cron_trigger(profile.cron, profile.timezone)
    fires: list[datetime] = []
    fire = next_fire_after(trigger, now)
    while fire is not None and len(fires) < _FIRES_FOR_A_PERIOD:
        fires.append(fire)
        fire = next_fire_after(trigger, fire)
    if len(fires) < 2:
        return BEGINNING  # a schedule that stops firing has no period
    # The longest gap, not the next one: "*/15 2 * * *" fires four times a night, and its
    # period is the day; a weekday profile's is the weekend.
    period = max(later - earlier for earlier, later in pairwise(fires))
    return max(now - period, BEGINNING)


# How long after an item's first sighting its refresh may commit it: a refresh stamps an
# item when it reads it, and a busy store writer (a cold refresh of a thousand feeds) takes
# its time. An item stamped that long before a digest's end and committed after it comes in
# the next digest instead of none.
LATE_WRITES = timedelta(hours=1)

_FIRES_FOR_A_PERIOD = 12  # enough to span a week of a few fires a day, and a year's months


def build(
    engine: Engine,
    profile: DigestProfile,
    *,
    now: datetime,
    since: datetime | None,
    topic_order: Sequence[str],
    topic_labels: Mapping[str, str],
) -> Digest:
    previous_end = None if since else last_window_end(engine, profile.name)
    start = since or previous_end or first_window_start(profile, now)
    # After a recorded digest, what a refresh committed too late for it (stamped inside
    # its window) comes in this one; a preview or a first digest looks back no further.
    late_since = previous_end - LATE_WRITES if previous_end is not None else None
    return build_digest(
        profile=profile.name,
        window_start=start,
        window_end=now,
        now=now,
        timezone=profile.timezone,
        items=load_window_items(
            engine, profile=profile.name, window_start=start, window_end=now, late_since=late_since
        ),
        sources=load_sources(engine),
        health=load_source_health(engine),
        shown=load_shown_revisions(engine, profile=profile.name),
        topic_order=topic_order,
        topic_labels=topic_labels,
        include_tags=profile.include_tags,
        exclude_tags=profile.exclude_tags,
        procedure_latest=load_procedure_latest(engine, window_end=now),
        late_since=late_since,
    )


def _preview_suffix(engine: Engine, digest: Digest) -> str:
    """A preview is written beside, not over, the files of a digest recorded that day."""
    recorded = last_window_end(engine, digest.profile)
    if recorded is None:
        return ""
    same_day = local_date(replace(digest, window_end=recorded)) == local_date(digest)
    return "-preview" if same_day else ""


def run_profile(
    engine: Engine,
    profile: DigestProfile,
    *,
    now: datetime,
    data_dir: Path,
    smtp: SmtpSettings | None,
    mail_from: str | None = None,
    topic_order: Sequence[str],
    topic_labels: Mapping[str, str],
    send: bool,
    since: datetime | None = None,
    formats: Sequence[str] | None = None,
    write_files: bool = True,
    fire: datetime | None = None,
    addressees: Mapping[str, Addressees] | None = None,
) -> DigestRun:
    """`fire`: the scheduled time a service's run is for. When the profile's last window
    already ends at or after it, another service on the same store sent that digest (it
    decided a moment earlier): this run records and sends nothing, or with `send_empty` it
    would mail an empty digest seconds after the real one. `addressees`: every configured
    profile's recipients, whom the retries of queued emails go to (outbox.deliver_pending)."""
    if send and since is not None:
        raise DeliveryError("--since builds a preview; it cannot be combined with --send")
    transport = transport_for(smtp, data_dir)
    retried: list[DeliveryOutcome] = []
    if send:
        retried = deliver_pending(engine, transport, now=now, addressees=addressees)
    digest = build(
        engine,
        profile,
        now=now,
        since=since,
        topic_order=topic_order,
        topic_labels=topic_labels,
    )
    rendered = {name: FORMATS[name][1](digest) for name in ("html", "text", "json")}

    def write() -> tuple[Path, ...]:
        if not write_files:
            return ()
        suffix = "" if send else _preview_suffix(engine, digest)
        return tuple(
            write_digest_files(
                digest, data_dir, formats or profile.formats, rendered, suffix=suffix
            )
        )

    def written(deliveries: tuple[DeliveryOutcome, ...]) -> DigestRun:
        """The run of a recorded window, with its files: one that cannot write them still
        says what it recorded and sent (the window has advanced; the email is out)."""
        try:
            files = write()
        except FilesNotWritable as exc:
            run = DigestRun(digest=digest, files=(), recorded=True, deliveries=deliveries)
            unwritten = UnwrittenFiles(
                profile=profile.name,
                day=local_date(digest),
                folder=exc.path.parent,
                error=str(exc.error),
                empty=digest.is_empty,
                write=write,
            )
            raise DigestFilesUnwritten(run, unwritten) from exc
        return DigestRun(digest=digest, files=files, recorded=True, deliveries=deliveries)

    if not send:
        return DigestRun(digest=digest, files=write(), recorded=False, deliveries=tuple(retried))
    if fire is not None and digest.window_start >= fire:
        return DigestRun(
            digest=digest,
            files=(),
            recorded=False,
            deliveries=tuple(retried),
            taken=WindowTaken(profile.name, digest.window_start),
        )
    # Files only once the window is this run's: a run that lost it to another at the same
    # moment overwrote the day's files with a digest nobody was sent.
    if not (profile.recipients or profile.bcc) or (digest.is_empty and not profile.send_empty):
        # Nothing to send, but the window still advances: the next digest starts here.
        try:
            record_window(engine, digest, body_json=rendered["json"], now=now)
        except WindowTaken as exc:
            return DigestRun(
                digest=digest, files=(), recorded=False, deliveries=tuple(retried), taken=exc
            )
        return written(tuple(retried))
    # Configured without a server, the From is still the one configured (the outbox's
    # .eml files are sent on by hand, or read as the mail that would have gone).
    sender = smtp.sender if smtp is not None else mail_from or FALLBACK_SENDER
    message = build_message(
        digest,
        sender=sender,
        recipients=profile.recipients,
        bcc=profile.bcc,
        subject_prefix=profile.subject_prefix,
        text=rendered["text"],
        html=rendered["html"],
    )
    try:
        row_id = commit_window(engine, digest, message, body_json=rendered["json"], now=now)
    except WindowTaken as exc:
        return DigestRun(
            digest=digest, files=(), recorded=False, deliveries=tuple(retried), taken=exc
        )
    # The email before the files: a folder that cannot be written (a full disk, a file
    # where the folder should be) held back a digest already queued until the next run.
    outcome = send_queued(engine, row_id, transport, now=now)
    return written((*retried, outcome))


__all__ = [
    "DigestFilesUnwritten",
    "DigestRun",
    "UnwrittenFiles",
    "addressees_of",
    "render_html",
    "render_json",
    "render_text",
    "run_profile",
]
