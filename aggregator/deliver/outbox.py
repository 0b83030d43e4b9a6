"""Exactly-once delivery of a digest email, through the `outbox` table.

    commit_window   one transaction: the digest row (which advances the profile's window) and
                    an outbox row 'pending' with the Message-ID and the message's bytes, both
                    unique per (profile, window end)
    claim           UPDATE … SET status='sending' WHERE status='pending' (or a 'sending' row
                    whose lease expired, or whose claimant was a process of this machine that
                    no longer runs): one process wins, on SQLite and PostgreSQL alike
    send            the stored bytes, never a rebuilt message, so every attempt is identical
                    but for whom it goes to: a retry goes to the profile's recipients of now
    mark            'sent'; a failed send goes back to 'pending' with its error, unless the
                    server refused it for good (a 5xx): then 'failed', never tried again

Whom a retry goes to. A queued row reached nobody: an attempt the server took for even one
recipient is marked 'sent' (its refusals kept as its error), and a sent row is never sent
again. So a retry can go to the recipients the profile names at the time of the retry (the
To and Bcc fields rewritten, every other byte as stored, the Message-ID too) without anyone
getting it twice: one taken out of the config no longer gets it, one put in does. A profile
that is no longer configured, or names nobody now, sends nothing: its row is marked 'failed'.
Callers that do not know the profiles (`addressees` None) send to whom the row names.

Crash analysis. Before commit_window commits: nothing is recorded, the next run builds a window
from the same start, so no item is lost. After it, before or during the send: the row is
'pending' or 'sending'; the next run (after the lease, for 'sending') sends the same bytes.
If the crash came after the SMTP server accepted the message but before 'sent' was written,
that resend is a second copy: SMTP offers no way to ask "did you get this?". The window for it
is the time between the server's final 250 and one UPDATE; the copy carries the same
Message-ID, which mail stores and clients use to drop duplicates. The .eml folder has no such
window: its file name is the Message-ID, so a resend overwrites the same file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol

from sqlalchemy import ColumnElement, Connection, Engine, and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from aggregator.atomic import write_atomically
from aggregator.deliver.mail import (
    Addressees,
    PartiallyRefused,
    PermanentlyRefused,
    as_bytes,
    readdressed,
    stored_message_id,
)
from aggregator.digest import Digest
from aggregator.errors import DeliveryError, StoreError
from aggregator.store.digests import insert_ignoring_duplicates, record_digest
from aggregator.store.engine import WRITE_OPTION, describe
from aggregator.store.leases import new_owner, owner_gone
from aggregator.store.schema import outbox
from aggregator.store.timestamps import from_db, to_db

# A 'sending' row older than this is taken to belong to a dead process and is sent again.
# Longer than any SMTP conversation we allow (settings' timeout is seconds), short enough
# that a crashed run's digest goes out on the next scheduled run.
LEASE = timedelta(minutes=10)


class Transport(Protocol):
    """Where a message's bytes go: SMTP (mail.SmtpTransport) or a folder (EmlFolder)."""

    def send(self, raw: bytes) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryOutcome:
    profile: str
    window_end: datetime
    message_id: str
    # sent: by this call; already-sent: by an earlier one; busy: another process holds the
    # lease; failed: this attempt failed, the row is pending for the next run;
    # undeliverable: the server refused it for good (5xx) or its profile names nobody now,
    # the row is marked failed and never tried again.
    status: Literal["sent", "already-sent", "busy", "failed", "undeliverable"]
    attempts: int
    error: str | None = None


class EmlFolder:
    """The transport when no SMTP server is configured: <data_dir>/outbox/<id>.eml.

    The file is named after the Message-ID, so a retry rewrites the same file.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, raw: bytes) -> Path:
        found = stored_message_id(raw)
        if not found:
            name = hashlib.sha256(raw).hexdigest()[:32]
        else:
            name = re.sub(r"[^A-Za-z0-9._@-]+", "_", found.strip("<>")).replace("@", "_at_")
        return self.folder / f"{name}.eml"

    def send(self, raw: bytes) -> None:
        path = self.path_for(raw)
        try:
            write_atomically(path, raw)
        except OSError as exc:
            raise DeliveryError(f"writing {path}: {exc}") from exc


@contextmanager
def _writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction; on SQLite it takes the write lock up front (BEGIN IMMEDIATE),
    so two processes claiming at once queue on the busy timeout instead of failing."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            yield conn


def record_window(engine: Engine, digest: Digest, *, body_json: str, now: datetime) -> None:
    """Record a window that sends nothing (empty, or no recipients): the next one starts at
    its end. A write transaction, as `commit_window`'s, so that runs record in turn."""
    try:
        with _writing(engine) as conn:
            record_digest(conn, digest, body_json=body_json, now=now)
    except SQLAlchemyError as exc:
        raise StoreError(f"recording digest {digest.profile!r}: {describe(exc)}") from exc


def commit_window(
    engine: Engine, digest: Digest, message: EmailMessage, *, body_json: str, now: datetime
) -> int:
    """Record the digest and queue its email in one transaction; returns the outbox row id.

    Idempotent per (profile, window end): a second call finds the rows the first made.
    """
    message_id = str(message["Message-ID"])
    end = to_db(digest.window_end)
    try:
        with _writing(engine) as conn:
            record_digest(conn, digest, body_json=body_json, now=now)
            insert_ignoring_duplicates(
                conn,
                outbox,
                {
                    "profile": digest.profile,
                    "window_end": end,
                    "message_id": message_id,
                    "status": "pending",
                    "attempts": 0,
                    "message": as_bytes(message),
                },
                ["profile", "window_end"],
            )
            row_id: int = conn.execute(
                select(outbox.c.id).where(
                    outbox.c.profile == digest.profile, outbox.c.window_end == end
                )
            ).scalar_one()
    except SQLAlchemyError as exc:
        raise StoreError(f"queueing digest {digest.profile!r}: {describe(exc)}") from exc
    return row_id


def deliver_digest(
    engine: Engine,
    digest: Digest,
    message: EmailMessage,
    transport: Transport,
    *,
    body_json: str,
    now: datetime,
    worker: str | None = None,
    lease: timedelta = LEASE,
) -> DeliveryOutcome:
    """Record, queue and send one digest's email, exactly once per (profile, window end)."""
    row_id = commit_window(engine, digest, message, body_json=body_json, now=now)
    return send_queued(engine, row_id, transport, now=now, worker=worker, lease=lease)


def deliver_pending(
    engine: Engine,
    transport: Transport,
    *,
    now: datetime,
    worker: str | None = None,
    lease: timedelta = LEASE,
    addressees: Mapping[str, Addressees] | None = None,
) -> list[DeliveryOutcome]:
    """Send what earlier runs queued and did not get out: run this before building new
    digests, so a failed or interrupted window is retried with its own Message-ID.
    `addressees`: profile -> whom its digest goes to now (see the module's docstring)."""
    try:
        with engine.connect() as conn:
            # Rows another process holds a live claim on come back as "busy", so the
            # caller can say that a digest is on its way rather than nothing.
            ids = list(
                conn.execute(
                    select(outbox.c.id)
                    .where(outbox.c.status.not_in(("sent", "failed")))
                    .order_by(outbox.c.window_end, outbox.c.id)
                ).scalars()
            )
    except SQLAlchemyError as exc:
        raise StoreError(f"reading the outbox: {describe(exc)}") from exc
    return [
        send_queued(
            engine, i, transport, now=now, worker=worker, lease=lease, addressees=addressees
        )
        for i in ids
    ]


def _claimable(stale: datetime) -> ColumnElement[bool]:
    return or_(
        outbox.c.status == "pending",
        and_(outbox.c.status == "sending", outbox.c.claimed_at < stale),
    )


def send_queued(
    engine: Engine,
    row_id: int,
    transport: Transport,
    *,
    now: datetime,
    worker: str | None = None,
    lease: timedelta = LEASE,
    addressees: Mapping[str, Addressees] | None = None,
) -> DeliveryOutcome:
    """Claim one outbox row, send its stored bytes, mark it sent (or pending on failure,
    failed when refused for good); `addressees` as `deliver_pending`'s."""
    # host:pid: a claim of a process of this machine that was killed is taken over at once,
    # not after the lease (`owner_gone`), as a killed refresh's leases are.
    me = worker or new_owner()
    at = to_db(now)
    claim = (
        update(outbox)
        .values(status="sending", claimed_at=at, claimed_by=me, attempts=outbox.c.attempts + 1)
        .where(outbox.c.id == row_id)
    )
    try:
        with _writing(engine) as conn:
            claimed = conn.execute(claim.where(_claimable(at - lease))).rowcount
            row = conn.execute(select(outbox).where(outbox.c.id == row_id)).mappings().one()
            holder = row["claimed_by"]
            if not claimed and row["status"] == "sending" and holder and owner_gone(holder):
                # Only from that very claimant: another run may have taken it over first.
                claimed = conn.execute(
                    claim.where(outbox.c.status == "sending", outbox.c.claimed_by == holder)
                ).rowcount
                row = conn.execute(select(outbox).where(outbox.c.id == row_id)).mappings().one()
    except SQLAlchemyError as exc:
        raise StoreError(f"claiming outbox row {row_id}: {describe(exc)}") from exc

    def outcome(
        status: Literal["sent", "already-sent", "busy", "failed", "undeliverable"],
        error: str | None = None,
    ) -> DeliveryOutcome:
        return DeliveryOutcome(
            profile=row["profile"],
            window_end=from_db(row["window_end"]),
            message_id=row["message_id"],
            status=status,
            attempts=row["attempts"],
            error=error,
        )

    if not claimed:
        if row["status"] == "sent":
            return outcome("already-sent", row["last_error"])
        if row["status"] == "failed":
            return outcome("undeliverable", row["last_error"])
        # Said, with who and until when: not delivered by this run (exit 1), and maybe not
        # at all, if that claimant died on another machine.
        since = from_db(row["claimed_at"]) if row["claimed_at"] is not None else now
        retry = (since + lease).isoformat(timespec="seconds")
        return outcome(
            "busy",
            f"being sent by {row['claimed_by']} since {since.isoformat(timespec='seconds')};"
            f" sent again from {retry} if that send never finishes",
        )
    raw = bytes(row["message"])
    if addressees is not None:
        wanted = addressees.get(row["profile"])
        if wanted is None or not wanted.anyone:
            why = "is no longer configured" if wanted is None else "has no recipients now"
            error = f"profile {row['profile']!r} {why}: not sent, and not tried again"
            _finish(engine, row_id, me, status="failed", now=at, error=error)
            return outcome("undeliverable", error)
        raw = readdressed(raw, wanted)
    # The bytes tried are stored: the row shows whom it went to.
    sent_bytes = raw if raw != bytes(row["message"]) else None
    try:
        transport.send(raw)
    except PartiallyRefused as exc:
        _finish(engine, row_id, me, status="sent", now=at, error=str(exc), message=sent_bytes)
        return outcome("sent", str(exc))
    except PermanentlyRefused as exc:
        # The same bytes would get the same 5xx: retrying every few minutes for ever only
        # fills the log. Marked failed, with the server's reply.
        error = f"{exc}; refused for good (5xx): not tried again"
        _finish(engine, row_id, me, status="failed", now=at, error=error, message=sent_bytes)
        return outcome("undeliverable", error)
    except DeliveryError as exc:
        _finish(engine, row_id, me, status="pending", now=at, error=str(exc), message=sent_bytes)
        return outcome("failed", str(exc))
    _finish(engine, row_id, me, status="sent", now=at, error=None, message=sent_bytes)
    return outcome("sent")


def _finish(
    engine: Engine,
    row_id: int,
    me: str,
    *,
    status: str,
    now: datetime,
    error: str | None,
    message: bytes | None = None,
) -> None:
    values: dict[str, object] = {"status": status, "last_error": error}
    if message is not None:
        values["message"] = message
    if status == "sent":
        values["sent_at"] = now
    else:
        values["claimed_at"] = None
        values["claimed_by"] = None
    try:
        with _writing(engine) as conn:
            # Only while we still hold the claim: a process that outlived its lease must not
            # overwrite the outcome of the one that took over.
            conn.execute(
                update(outbox)
                .where(
                    outbox.c.id == row_id,
                    outbox.c.status == "sending",
                    outbox.c.claimed_by == me,
                )
                .values(**values)
            )
    except SQLAlchemyError as exc:
        raise StoreError(f"updating outbox row {row_id}: {describe(exc)}") from exc
