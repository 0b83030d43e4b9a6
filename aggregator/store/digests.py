"""SQL for digests: what a window holds, what a profile last showed, recording a digest, and
what became of recorded digests (emailed or not, empty or not) for the API.

SQLAlchemy Core over the tables of `schema.py`, the same statements on SQLite and PostgreSQL.
Datetimes go in through `to_db` (tz-aware, as UTC) and come back through `from_db`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, ScalarSelect, Table, and_, false, func, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from aggregator.digest import Digest, ShownRevision, SourceInfo
from aggregator.errors import AggregatorError, StoreError
from aggregator.models import CacheValidators, OrgKind, SourceHealth, SourceKind, StoredItem
from aggregator.store.engine import WRITE_OPTION, describe
from aggregator.store.items import to_stored
from aggregator.store.schema import (
    digest_items,
    digest_profiles,
    digests,
    item_revisions,
    item_tags,
    items,
    outbox,
    sources,
)
from aggregator.store.timestamps import from_db, from_db_or_none, to_db


def insert_ignoring_duplicates(
    conn: Connection, table: Table, values: Mapping[str, Any], unique: list[str]
) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on a unique key; True when a row was inserted.

    Not try/except IntegrityError: on PostgreSQL a failed INSERT aborts the whole
    transaction, and the caller's other writes must survive the conflict.
    """
    dialect = conn.dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:  # pragma: no cover - the schema targets these two
        raise StoreError(f"unsupported database dialect {dialect!r}")
    result = conn.execute(stmt.values(**values).on_conflict_do_nothing(index_elements=unique))
    return bool(result.rowcount)


def _shown_by_profile(profile: str) -> Any:
    """Per item, the highest revision this profile's digests showed."""
    return (
        select(digest_items.c.item_id, func.max(digest_items.c.revision).label("revision"))
        .join(digests, digests.c.id == digest_items.c.digest_id)
        .where(digests.c.profile == profile)
        .group_by(digest_items.c.item_id)
        .subquery("shown")
    )


def last_window_end(engine: Engine, profile: str) -> datetime | None:
    """Where the profile's next window starts: the end of its last recorded digest."""
    try:
        with engine.connect() as conn:
            value = conn.execute(
                select(func.max(digests.c.window_end)).where(digests.c.profile == profile)
            ).scalar()
    except SQLAlchemyError as exc:
        raise StoreError(f"reading the last digest of {profile!r} failed: {describe(exc)}") from exc
    return from_db_or_none(value)


def profiles_first_seen(
    engine: Engine, profiles: Sequence[str], *, now: datetime
) -> dict[str, datetime]:
    """When a service first ran with each of `profiles`: `now` for those it never ran with
    (recorded, so that a restart knows), the recorded time for the others. Two services
    starting at once agree: the first insert stands."""
    names = list(dict.fromkeys(profiles))
    if not names:
        return {}
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                for name in names:
                    insert_ignoring_duplicates(
                        conn,
                        digest_profiles,
                        {"profile": name, "first_seen_at": to_db(now)},
                        ["profile"],
                    )
                rows = conn.execute(
                    select(digest_profiles.c.profile, digest_profiles.c.first_seen_at).where(
                        digest_profiles.c.profile.in_(names)
                    )
                ).all()
    except SQLAlchemyError as exc:
        raise StoreError(f"recording the digest profiles failed: {describe(exc)}") from exc
    return {row.profile: from_db(row.first_seen_at) for row in rows}


def load_window_items(
    engine: Engine,
    *,
    profile: str,
    window_start: datetime,
    window_end: datetime,
    late_since: datetime | None = None,
) -> list[StoredItem]:
    """The items first seen in ``[window_start, window_end)``, the items this profile showed
    that changed since, and every cluster mate of those seen before `window_end`.

    `late_since`: also the items first seen in ``[late_since, window_start)`` that this
    profile never showed. A refresh stamps an item when it reads it and commits it a little
    later: one committed after the previous digest had read the store fell between its
    window and this one, and was never shown."""
    start, end = to_db(window_start), to_db(window_end)
    shown = _shown_by_profile(profile)
    late = (
        and_(
            items.c.first_seen >= to_db(late_since),
            items.c.first_seen < start,
            shown.c.revision.is_(None),
        )
        if late_since is not None
        else false()
    )
    candidates = (
        select(items.c.id, items.c.cluster_id)
        .outerjoin(shown, shown.c.item_id == items.c.id)
        .where(
            or_(
                and_(items.c.first_seen >= start, items.c.first_seen < end),
                and_(
                    shown.c.revision.is_not(None),
                    items.c.revision > shown.c.revision,
                    items.c.last_changed < end,
                ),
                late,
            )
        )
        .subquery("candidates")
    )
    member_query = (
        select(items)
        .where(items.c.first_seen < end)
        .where(
            or_(
                items.c.id.in_(select(candidates.c.id)),
                items.c.cluster_id.in_(
                    select(candidates.c.cluster_id).where(candidates.c.cluster_id.is_not(None))
                ),
            )
        )
        .order_by(items.c.id)
    )
    try:
        with engine.connect() as conn:
            rows = conn.execute(member_query).mappings().all()
            ids = [row["id"] for row in rows]
            tags: dict[int, list[str]] = {}
            for start_at in range(0, len(ids), 500):  # bounded IN lists
                chunk = ids[start_at : start_at + 500]
                for item_id, tag in conn.execute(
                    select(item_tags.c.item_id, item_tags.c.tag)
                    .where(item_tags.c.item_id.in_(chunk))
                    .order_by(item_tags.c.tag)
                ):
                    tags.setdefault(item_id, []).append(tag)
    except SQLAlchemyError as exc:
        raise StoreError(
            f"loading the digest window of {profile!r} failed: {describe(exc)}"
        ) from exc
    return [to_stored(row, tuple(tags.get(row["id"], ()))) for row in rows]


def load_shown_revisions(engine: Engine, *, profile: str) -> dict[int, ShownRevision]:
    """Per item, the revision this profile last showed, with its content when kept."""
    shown = _shown_by_profile(profile)
    query = select(
        shown.c.item_id, shown.c.revision, item_revisions.c.title, item_revisions.c.text
    ).outerjoin(
        item_revisions,
        and_(
            item_revisions.c.item_id == shown.c.item_id,
            item_revisions.c.revision == shown.c.revision,
        ),
    )
    try:
        with engine.connect() as conn:
            return {
                item_id: ShownRevision(revision=revision, title=title, text=text)
                for item_id, revision, title, text in conn.execute(query)
            }
    except SQLAlchemyError as exc:
        raise StoreError(f"loading what {profile!r} showed failed: {describe(exc)}") from exc


def load_sources(engine: Engine) -> dict[str, SourceInfo]:
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(sources)).mappings().all()
    except SQLAlchemyError as exc:
        raise StoreError(f"loading sources failed: {describe(exc)}") from exc
    return {
        row["id"]: SourceInfo(
            id=row["id"],
            name=row["name"],
            url=row["url"],
            kind=SourceKind(row["kind"]),
            org=OrgKind(row["org"]),
        )
        for row in rows
    }


def load_source_health(engine: Engine) -> list[SourceHealth]:
    """The health of the sources enabled in the config (as the last sync recorded it): a
    source disabled or removed is fetched no more, and its last failure stayed in every
    digest's "Sources with problems" for ever."""
    counts = (
        select(items.c.source_id, func.count().label("n"))
        .group_by(items.c.source_id)
        .subquery("counts")
    )
    query = (
        select(sources, func.coalesce(counts.c.n, 0).label("item_count"))
        .outerjoin(counts, counts.c.source_id == sources.c.id)
        .where(sources.c.enabled)
        .order_by(sources.c.id)
    )
    try:
        with engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
    except SQLAlchemyError as exc:
        raise StoreError(f"loading source health failed: {describe(exc)}") from exc
    return [
        SourceHealth(
            id=row["id"],
            url=row["url"],
            last_status=row["last_status"],
            last_fetch_at=from_db_or_none(row["last_fetch_at"]),
            last_success_at=from_db_or_none(row["last_success_at"]),
            last_error=row["last_error"],
            last_error_kind=row["last_error_kind"],
            failing_since=from_db_or_none(row["failing_since"]),
            consecutive_failures=row["consecutive_failures"],
            next_fetch_at=from_db_or_none(row["next_fetch_at"]),
            item_count=row["item_count"],
            last_item_count=row["last_item_count"],
            ever_yielded=bool(row["ever_yielded"]),
            validators=CacheValidators(etag=row["etag"], last_modified=row["last_modified"]),
        )
        for row in rows
    ]


def load_procedure_latest(engine: Engine, *, window_end: datetime) -> dict[str, StoredItem]:
    """Per ep-procedure source, its latest event first seen before `window_end` (the latest
    published, then the largest id): where the digest reads a procedure's current stage."""
    end = to_db(window_end)
    latest: dict[str, StoredItem] = {}
    try:
        with engine.connect() as conn:
            followed = conn.execute(
                select(sources.c.id).where(sources.c.kind == SourceKind.EP_PROCEDURE.value)
            ).scalars()
            for source_id in list(followed):
                row = (
                    conn.execute(
                        select(items)
                        .where(items.c.source_id == source_id, items.c.first_seen < end)
                        .order_by(items.c.published.desc(), items.c.id.desc())
                        .limit(1)
                    )
                    .mappings()
                    .first()
                )
                if row is None:
                    continue
                tags = conn.execute(
                    select(item_tags.c.tag)
                    .where(item_tags.c.item_id == row["id"])
                    .order_by(item_tags.c.tag)
                ).scalars()
                latest[source_id] = to_stored(row, tuple(tags))
    except SQLAlchemyError as exc:
        raise StoreError(f"loading the followed procedures failed: {describe(exc)}") from exc
    return latest


class WindowTaken(AggregatorError):
    """Another run recorded a window of this profile since this digest was built."""

    def __init__(self, profile: str, end: datetime) -> None:
        self.profile = profile
        self.end = end
        super().__init__(
            f"another run recorded a digest of {profile!r} up to {end.isoformat()} meanwhile"
        )


# pg_advisory_xact_lock namespace of digest profiles ("aggdigst"): each profile's key is this
# xor a hash of its name, so that two runs of one profile record their windows in turn.
_PROFILE_LOCK = int.from_bytes(b"aggdigst", "big") & (2**62 - 1)


def _lock_profile(conn: Connection, profile: str) -> None:
    """Until the transaction ends (SQLite: its BEGIN IMMEDIATE holds every writer off)."""
    if conn.dialect.name == "postgresql":
        key = _PROFILE_LOCK ^ int.from_bytes(hashlib.blake2b(profile.encode()).digest()[:7], "big")
        conn.execute(text("select pg_advisory_xact_lock(:key)"), {"key": key})


def record_digest(conn: Connection, digest: Digest, *, body_json: str, now: datetime) -> int:
    """Record the digest and the item revisions it showed, once per (profile, window end).

    Takes a connection so the caller can claim the outbox row in the same transaction: the
    window only advances together with the email that carries it. Recording the same window
    again is a no-op that returns the existing id. Raises WindowTaken when another run
    recorded a window ending after this one's start since it was built (two `digest --send`
    at once, or one beside the scheduler): its items went out with that one, and must not
    go out twice. Call it in a write transaction (SQLite: BEGIN IMMEDIATE).
    """
    end = to_db(digest.window_end)
    try:
        _lock_profile(conn, digest.profile)
        existing = conn.execute(
            select(digests.c.id).where(
                digests.c.profile == digest.profile, digests.c.window_end == end
            )
        ).scalar()
        if existing is not None:
            return int(existing)
        latest = from_db_or_none(
            conn.execute(
                select(func.max(digests.c.window_end)).where(digests.c.profile == digest.profile)
            ).scalar()
        )
        # Another run recorded past this one's start; or its window ends before it starts
        # (its clock was read before the other run's record, its start after).
        if latest is not None and (latest > digest.window_start or latest >= digest.window_end):
            raise WindowTaken(digest.profile, latest)
        inserted = insert_ignoring_duplicates(
            conn,
            digests,
            {
                "profile": digest.profile,
                "window_start": to_db(digest.window_start),
                "window_end": end,
                "created_at": to_db(now),
                "entry_count": digest.entry_count,
                "item_count": len(digest.shown),
                "body_json": body_json,
            },
            ["profile", "window_end"],
        )
        digest_id: int = conn.execute(
            select(digests.c.id).where(
                digests.c.profile == digest.profile, digests.c.window_end == end
            )
        ).scalar_one()
        if inserted and digest.shown:
            conn.execute(
                digest_items.insert(),
                [
                    {"digest_id": digest_id, "item_id": item_id, "revision": revision}
                    for item_id, revision in digest.shown
                ],
            )
    except SQLAlchemyError as exc:
        raise StoreError(f"recording digest {digest.profile!r} failed: {describe(exc)}") from exc
    return digest_id


# -- what became of recorded digests (the API's digest list, page and feeds) ----------------

EmailState = Literal["sent", "pending", "failed", "none"]

# Rows read at a time while looking back for digests with news.
_SCAN_PAGE = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestState:
    """What became of a recorded digest: its email, and whether it had anything to say."""

    # sent; pending: queued, and retried until sent; failed: refused for good (a 5xx), or
    # its profile names nobody now, and not tried again; none: no email was due (nothing new
    # and the profile does not send empty digests, or the profile has no recipients)
    email: EmailState
    # Nothing new in its window: recorded only so that the next window starts at its end.
    empty: bool


def _outbox_status() -> ScalarSelect[str]:
    """The status of the digest row's email in the outbox, or NULL when none was queued
    (the outbox row shares the digest's unique (profile, window end))."""
    return (
        select(outbox.c.status)
        .where(outbox.c.profile == digests.c.profile, outbox.c.window_end == digests.c.window_end)
        .correlate(digests)
        .scalar_subquery()
    )


def _email_state(status: str | None) -> EmailState:
    if status is None:
        return "none"
    if status in ("sent", "failed"):
        return "sent" if status == "sent" else "failed"
    return "pending"  # pending, or being sent right now


def body_has_news(body_json: str | None) -> bool:
    """Whether a stored digest's JSON lists an entry or a procedure event: the negation of
    `Digest.is_empty`, read back from what the digests table keeps. A body that cannot be
    read counts as news: hiding it would hide the fault, which rendering it reports."""
    try:
        data = json.loads(body_json or "")
        if data["counts"]["entries"]:
            return True
        return any(p["events"] for p in data.get("procedures", ()))
    except (ValueError, KeyError, TypeError):
        return True


def _has_news(conn: Connection, row: Any) -> bool:
    """From the row's counts when they tell (every digest that shows something records the
    items it shows); else from its body: a digest that recorded items shows a procedure
    event, or only recorded a change of one (then it is empty)."""
    if row.entry_count > 0:
        return True
    if row.item_count == 0:
        return False
    body = conn.execute(select(digests.c.body_json).where(digests.c.id == row.id)).scalar()
    return body_has_news(body)


def digest_states(conn: Connection, ids: Sequence[int]) -> dict[int, DigestState]:
    """Per digest id, what became of it (ids not recorded are left out)."""
    if not ids:
        return {}
    query = select(
        digests.c.id,
        digests.c.entry_count,
        digests.c.item_count,
        _outbox_status().label("status"),
    ).where(digests.c.id.in_(list(ids)))
    try:
        return {
            int(row.id): DigestState(email=_email_state(row.status), empty=not _has_news(conn, row))
            for row in conn.execute(query).all()
        }
    except SQLAlchemyError as exc:
        raise StoreError(f"reading what became of digests failed: {describe(exc)}") from exc


def _scan(
    conn: Connection,
    profile: str | None,
    *,
    by_window: bool,
    want: int,
    emailed: bool,
) -> list[int]:
    """Ids of up to `want` digests (of `profile`, or of any) with news, newest first; with
    `emailed`, also those whose email was queued or sent (a profile with send_empty).
    Newest is the latest window end with `by_window`, else the latest recorded (the id).
    Digests that recorded no item and queued no email are left out by the query itself."""
    status = _outbox_status()
    maybe = or_(digests.c.entry_count > 0, digests.c.item_count > 0)
    stmt = select(
        digests.c.id,
        digests.c.window_end,
        digests.c.entry_count,
        digests.c.item_count,
        status.label("status"),
    ).where(or_(maybe, status.is_not(None)) if emailed else maybe)
    if profile is not None:
        stmt = stmt.where(digests.c.profile == profile)
    order = (
        (digests.c.window_end.desc(), digests.c.id.desc()) if by_window else (digests.c.id.desc(),)
    )
    found: list[int] = []
    last: Any = None
    while True:
        page = stmt
        if last is not None and by_window:
            page = page.where(
                or_(
                    digests.c.window_end < last.window_end,
                    and_(digests.c.window_end == last.window_end, digests.c.id < last.id),
                )
            )
        elif last is not None:
            page = page.where(digests.c.id < last.id)
        rows = conn.execute(page.order_by(*order).limit(_SCAN_PAGE)).all()
        for row in rows:
            if (emailed and row.status is not None) or _has_news(conn, row):
                found.append(int(row.id))
                if len(found) == want:
                    return found
        if len(rows) < _SCAN_PAGE:
            return found
        last = rows[-1]


def latest_shown_digest_id(conn: Connection, profile: str | None = None) -> int | None:
    """The digest the web page shows (of `profile`, or of any): the latest, by window end,
    that has news or whose email was queued (a profile with send_empty mails empty ones).
    The empty windows recorded in between, only to advance the window, are passed over."""
    try:
        found = _scan(conn, profile, by_window=True, want=1, emailed=True)
    except SQLAlchemyError as exc:
        raise StoreError(f"finding the latest digest failed: {describe(exc)}") from exc
    return found[0] if found else None


def digest_ids_with_news(conn: Connection, profile: str | None, *, limit: int) -> list[int]:
    """The latest `limit` digests (of `profile`, or of any) with news, newest recorded
    first: what the digest feeds carry (a feed reader gains nothing from an empty window)."""
    try:
        return _scan(conn, profile, by_window=False, want=limit, emailed=False)
    except SQLAlchemyError as exc:
        raise StoreError(f"listing the digests with news failed: {describe(exc)}") from exc
