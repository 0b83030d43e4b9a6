"""Exactly-once delivery through the outbox, on SQLite and PostgreSQL, to a real SMTP server,
including processes killed between claim and send and in the middle of the send."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path

import pytest
from sqlalchemy import Engine, RowMapping, select, update

from aggregator.deliver.mail import Addressees, SmtpTransport, stored_message_id
from aggregator.deliver.outbox import LEASE, EmlFolder, deliver_pending, send_queued
from aggregator.deliver.run import DigestRun
from aggregator.deliver.run import run_profile as run_digest
from aggregator.digest import Digest
from aggregator.errors import DeliveryError
from aggregator.settings import DigestProfile
from aggregator.store.digests import WindowTaken, digest_states, last_window_end
from aggregator.store.engine import create_store_engine
from aggregator.store.schema import (
    digest_items,
    digests,
    item_revisions,
    items,
    metadata,
    outbox,
    sources,
)
from tests.support_outbox import (
    BASE,
    add_item,
    build,
    queue,
    run_profile,
    seed_items,
    seed_sources,
)
from tests.support_smtp import SmtpServer, free_port
from tests.support_smtp import smtp_server as smtp_server

ROOT = Path(__file__).resolve().parent.parent
SEEDED_TITLES = (
    "Joint letter on chat control",
    "Encryption under pressure",
    "Hotline annual report",
)


@pytest.fixture()
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_store_engine(database_url)
    metadata.create_all(engine)
    seed_sources(engine)
    seed_items(engine)
    yield engine
    engine.dispose()


def outbox_rows(engine: Engine) -> list[RowMapping]:
    with engine.connect() as conn:
        return list(conn.execute(select(outbox).order_by(outbox.c.id)).mappings())


def transport(server: SmtpServer) -> SmtpTransport:
    return SmtpTransport(server.settings())


def test_a_window_is_sent_once_and_the_next_holds_only_new_items(
    engine: Engine, smtp_server: SmtpServer
) -> None:
    [outcome] = run_profile(engine, transport(smtp_server), BASE)
    assert outcome.status == "sent" and outcome.attempts == 1
    [got] = smtp_server.accepted
    body = got.data.decode()
    assert all(title in body for title in SEEDED_TITLES)
    assert stored_message_id(got.data) == outcome.message_id
    assert last_window_end(engine, "daily") == BASE

    # Sending the same window again is a no-op; the next window has nothing yet.
    row_id = outbox_rows(engine)[0]["id"]
    again = send_queued(engine, row_id, transport(smtp_server), now=BASE)
    assert again.status == "already-sent"
    assert run_profile(engine, transport(smtp_server), BASE + timedelta(days=1)) == []
    assert len(smtp_server.accepted) == 1

    # An item first seen exactly at the first window's end belongs to the second.
    add_item(
        engine, "ep-press", "Plenary vote", first_seen=BASE + timedelta(days=1), tags=("csar",)
    )
    add_item(engine, "edri", "After the vote", first_seen=BASE + timedelta(days=1, hours=1))
    run_profile(engine, transport(smtp_server), BASE + timedelta(days=1, hours=2))
    assert build(engine, "daily", BASE + timedelta(days=3)).is_empty  # nothing shown twice
    second = smtp_server.accepted[1].data.decode()
    assert "Plenary vote" in second and "After the vote" in second
    assert not any(title in second for title in SEEDED_TITLES)


def test_digest_rows_record_what_was_shown_and_updates_come_back_marked(
    engine: Engine, smtp_server: SmtpServer
) -> None:
    run_profile(engine, transport(smtp_server), BASE)
    with engine.connect() as conn:
        shown = conn.execute(select(digest_items.c.item_id, digest_items.c.revision)).all()
        assert len(shown) == 4 and {r for _, r in shown} == {1}
        item_id = conn.execute(
            select(items.c.id).where(items.c.title == "Encryption under pressure")
        ).scalar_one()
    # The store's way of updating an item: the old version goes to item_revisions.
    changed_at = BASE + timedelta(hours=3)
    with engine.begin() as conn:
        conn.execute(
            item_revisions.insert().values(
                item_id=item_id,
                revision=1,
                title="Encryption under pressure",
                summary="",
                text="The text of Encryption under pressure.",
                content_hash="v1:x",
                recorded_at=BASE - timedelta(hours=3),
            )
        )
        conn.execute(
            update(items)
            .where(items.c.id == item_id)
            .values(
                title="Encryption under pressure again",
                text="The text was rewritten.",
                revision=2,
                last_changed=changed_at,
            )
        )
    digest = build(engine, "daily", BASE + timedelta(days=1))
    [entry] = digest.entries
    assert entry.updated and entry.item_id == item_id
    assert [c.kind for c in entry.changes] == ["title", "text"]
    assert entry.changes[1].diff == (
        "- The text of Encryption under pressure.\n+ The text was rewritten."
    )
    # Once shown at revision 2, it is not shown again.
    queue(engine, digest, BASE + timedelta(days=1))
    assert build(engine, "daily", BASE + timedelta(days=2)).is_empty


def test_a_failed_send_stays_pending_and_is_retried_with_the_same_message(
    engine: Engine,
) -> None:
    down = SmtpServer().settings(port=free_port(), timeout=2.0)
    [failed] = run_profile(engine, SmtpTransport(down), BASE)
    assert failed.status == "failed" and "connection refused" in (failed.error or "")
    [row] = outbox_rows(engine)
    assert row["status"] == "pending" and row["attempts"] == 1
    assert last_window_end(engine, "daily") == BASE  # the window is taken: it waits in the outbox

    with SmtpServer() as server:
        outcomes = run_profile(engine, transport(server), BASE + timedelta(hours=1))
    assert [o.status for o in outcomes] == ["sent"]  # the retry; the new window is empty
    [got] = server.accepted
    assert got.data.replace(b"\r\n", b"\n") == bytes(row["message"]).replace(b"\r\n", b"\n")
    assert stored_message_id(got.data) == failed.message_id
    [row] = outbox_rows(engine)
    assert row["status"] == "sent" and row["attempts"] == 2 and row["sent_at"] is not None


@pytest.mark.parametrize(
    ("reply", "retried"),
    [("554 5.7.1 Message rejected as spam", False), ("451 4.3.0 Try again later", True)],
    ids=["5xx", "4xx"],
)
def test_a_message_refused_for_good_is_marked_failed_and_not_retried(
    engine: Engine, smtp_server: SmtpServer, reply: str, retried: bool
) -> None:
    # A 5xx to the message was retried every five minutes for ever, each time refused.
    smtp_server.handler.data_reply = reply
    [first] = run_profile(engine, transport(smtp_server), BASE)
    assert first.status == ("failed" if retried else "undeliverable")
    assert reply in (first.error or "")
    [row] = outbox_rows(engine)
    assert row["status"] == ("pending" if retried else "failed") and reply in row["last_error"]
    with engine.connect() as conn:  # what the API and the digest page say of it
        digest_id = conn.execute(select(digests.c.id)).scalar_one()
        email = digest_states(conn, [digest_id])[digest_id].email
    assert email == ("pending" if retried else "failed")

    smtp_server.handler.data_reply = None
    later = run_profile(engine, transport(smtp_server), BASE + timedelta(hours=1))
    assert [o.status for o in later] == (["sent"] if retried else [])
    assert len(smtp_server.offered) == (2 if retried else 1)
    if not retried:
        assert "not tried again" in (first.error or "")


def test_a_retry_goes_to_the_recipients_the_profile_names_now(engine: Engine) -> None:
    # Queued for policy@ while the server was down; the profile now names the desk and the
    # board: the retry went to policy@ all the same.
    down = SmtpServer().settings(port=free_port(), timeout=2.0)
    [failed] = run_profile(engine, SmtpTransport(down), BASE)
    assert failed.status == "failed"
    [queued] = outbox_rows(engine)
    now = {"daily": Addressees(to=("Desk <desk@ngo.example>",), bcc=("board@ngo.example",))}
    with SmtpServer() as server:
        [retry] = deliver_pending(
            engine, transport(server), now=BASE + timedelta(hours=1), addressees=now
        )
    assert retry.status == "sent" and retry.error is None
    [got] = server.accepted
    assert got.rcpt_tos == ["desk@ngo.example", "board@ngo.example"]
    assert got.message["To"] == "Desk <desk@ngo.example>" and got.message["Bcc"] is None
    assert b"policy@ngo.example" not in got.data
    # The same message otherwise: its Message-ID, Date, subject and body as stored.
    stored = BytesParser(policy=default_policy).parsebytes(bytes(queued["message"]))
    for field in ("Message-ID", "Date", "Subject"):
        assert got.message[field] == stored[field]

    def body(raw: bytes) -> bytes:
        return raw.replace(b"\r\n", b"\n").partition(b"\n\n")[2]

    assert body(got.data) == body(bytes(queued["message"]))
    [sent] = outbox_rows(engine)  # the row keeps what went out
    assert sent["status"] == "sent" and b"desk@ngo.example" in bytes(sent["message"])


@pytest.mark.parametrize(
    "now",
    [{}, {"daily": Addressees(to=())}],
    ids=["profile-removed", "no-recipients-now"],
)
def test_a_queued_email_whose_profile_names_nobody_now_is_not_sent(
    engine: Engine, smtp_server: SmtpServer, now: dict[str, Addressees]
) -> None:
    down = SmtpServer().settings(port=free_port(), timeout=2.0)
    run_profile(engine, SmtpTransport(down), BASE)
    [gone] = deliver_pending(
        engine, transport(smtp_server), now=BASE + timedelta(hours=1), addressees=now
    )
    assert gone.status == "undeliverable" and "profile 'daily'" in (gone.error or "")
    assert smtp_server.offered == []
    [row] = outbox_rows(engine)
    assert row["status"] == "failed"
    assert deliver_pending(engine, transport(smtp_server), now=BASE + timedelta(hours=2)) == []


def test_without_smtp_the_message_goes_to_the_eml_folder_once(
    engine: Engine, tmp_path: Path
) -> None:
    folder = EmlFolder(tmp_path / "outbox")
    [outcome] = run_profile(engine, folder, BASE)
    assert outcome.status == "sent"
    [path] = (tmp_path / "outbox").iterdir()
    assert stored_message_id(path.read_bytes()) == outcome.message_id
    assert run_profile(engine, folder, BASE + timedelta(days=1)) == []
    assert len(list((tmp_path / "outbox").iterdir())) == 1


def test_a_live_claim_is_respected_and_an_expired_one_taken_over(
    engine: Engine, smtp_server: SmtpServer
) -> None:
    row_id = queue(engine, build(engine, "daily", BASE), BASE)
    with engine.begin() as conn:  # another worker claimed it and is (maybe) still sending
        conn.execute(
            update(outbox)
            .where(outbox.c.id == row_id)
            .values(status="sending", claimed_at=BASE, claimed_by="other", attempts=1)
        )
    [busy] = deliver_pending(engine, transport(smtp_server), now=BASE + LEASE / 2)
    assert busy.status == "busy" and smtp_server.accepted == []
    # Said with who holds it and from when it is sent again (the command exits 1).
    assert busy.error == (
        f"being sent by other since {BASE.isoformat(timespec='seconds')};"
        f" sent again from {(BASE + LEASE).isoformat(timespec='seconds')}"
        " if that send never finishes"
    )
    [taken] = deliver_pending(engine, transport(smtp_server), now=BASE + LEASE * 2)
    assert taken.status == "sent" and taken.attempts == 2
    assert len(smtp_server.accepted) == 1


def test_concurrent_runs_send_once(engine: Engine, smtp_server: SmtpServer) -> None:
    row_id = queue(engine, build(engine, "daily", BASE), BASE)
    barrier = threading.Barrier(4)
    results: list[str] = []

    def worker(n: int) -> None:
        barrier.wait()
        outcome = send_queued(engine, row_id, transport(smtp_server), now=BASE, worker=f"w{n}")
        results.append(outcome.status)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results).count("sent") == 1
    assert len(smtp_server.accepted) == 1


def test_two_runs_built_from_one_start_send_its_items_once(
    engine: Engine, smtp_server: SmtpServer
) -> None:
    # Two `digest --send` at once (or one beside the scheduler): both built their window
    # from the same last digest, and end a moment apart. The second must not send the same
    # items again under another Message-ID.
    first = build(engine, "daily", BASE)
    second = build(engine, "daily", BASE + timedelta(milliseconds=60))
    assert first.window_start == second.window_start and not second.is_empty
    send_queued(engine, queue(engine, first, BASE), transport(smtp_server), now=BASE)
    with pytest.raises(WindowTaken, match="another run recorded a digest of 'daily'"):
        queue(engine, second, BASE)
    assert len(smtp_server.accepted) == 1
    assert [row["status"] for row in outbox_rows(engine)] == ["sent"]
    with engine.connect() as conn:
        assert len(conn.execute(select(digests.c.id)).all()) == 1
    queue(engine, first, BASE)  # the same window again: still a no-op, not "taken"


def test_concurrent_builds_record_one_window(engine: Engine) -> None:
    digests_built = [build(engine, "daily", BASE + timedelta(milliseconds=n)) for n in range(4)]
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def worker(digest: Digest) -> None:
        barrier.wait()
        try:
            queue(engine, digest, BASE)
            outcomes.append("queued")
        except WindowTaken:
            outcomes.append("taken")

    threads = [threading.Thread(target=worker, args=(d,)) for d in digests_built]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["queued", "taken", "taken", "taken"]
    assert len(outbox_rows(engine)) == 1


# --- crash tests: a real process, killed with SIGKILL at a chosen point ------------------


def start_child(database_url: str, mode: str, port: int, now: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support_outbox", database_url, mode, str(port), str(now)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(child: subprocess.Popen[str], expected: str) -> None:
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    if line != expected:
        child.kill()
        pytest.fail(f"child said {line!r}, expected {expected!r}: {child.communicate()[1]}")


def kill(child: subprocess.Popen[str]) -> None:
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(30) == -signal.SIGKILL
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()
    child.stderr.close()


def assert_delivered_once(engine: Engine, server: SmtpServer) -> None:
    [got] = server.accepted
    body = got.data.decode()
    assert all(title in body for title in SEEDED_TITLES)  # the window's items are not lost
    [row] = outbox_rows(engine)
    assert row["status"] == "sent" and stored_message_id(got.data) == row["message_id"]
    with engine.connect() as conn:
        assert conn.execute(select(digests.c.window_end)).scalars().all() != []
    assert build(engine, "daily", BASE + timedelta(days=2)).is_empty  # and not shown twice


def test_killed_after_commit_before_claim(engine: Engine, database_url: str) -> None:
    child = start_child(database_url, "after-commit", 0, BASE.isoformat())
    wait_for_line(child, "COMMITTED")
    kill(child)
    [row] = outbox_rows(engine)
    assert row["status"] == "pending" and row["attempts"] == 0
    with SmtpServer() as server:
        run_profile(engine, transport(server), BASE + timedelta(minutes=1))
        assert_delivered_once(engine, server)


def test_killed_between_claim_and_send(engine: Engine, database_url: str) -> None:
    child = start_child(database_url, "after-claim", 0, BASE.isoformat())
    wait_for_line(child, "CLAIMED")
    kill(child)
    [row] = outbox_rows(engine)
    assert row["status"] == "sending" and row["attempts"] == 1
    with SmtpServer() as server:
        # Within the lease, but the claimant was a process of this machine that no longer
        # runs: taken over at once, not ten minutes later.
        assert [o.status for o in run_profile(engine, transport(server), BASE + LEASE / 2)] == [
            "sent"
        ]
        assert_delivered_once(engine, server)


def test_a_claim_of_a_live_process_of_this_machine_is_left_alone(
    engine: Engine, smtp_server: SmtpServer
) -> None:
    row_id = queue(engine, build(engine, "daily", BASE), BASE)
    alive = f"{socket.gethostname()}:{os.getpid()}:0000"  # this very process: it runs
    with engine.begin() as conn:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == row_id)
            .values(status="sending", claimed_at=BASE, claimed_by=alive, attempts=1)
        )
    [busy] = deliver_pending(engine, transport(smtp_server), now=BASE + LEASE / 2)
    assert busy.status == "busy" and alive in (busy.error or "")
    assert smtp_server.accepted == []


def test_killed_during_the_send(engine: Engine, database_url: str) -> None:
    with SmtpServer() as server:
        server.hold()  # the server will have the whole message but not answer 250 yet
        child = start_child(database_url, "send", server.port, BASE.isoformat())
        wait_for_line(child, "SENDING")
        server.wait_for_data()
        kill(child)
        server.release()
        assert server.accepted == []  # the server never said 250 to the dead client
        [row] = outbox_rows(engine)
        assert row["status"] == "sending"
        run_profile(engine, transport(server), BASE + LEASE + timedelta(seconds=1))
        assert_delivered_once(engine, server)
        # It was offered twice, always as the same message: a server that had committed the
        # first copy would hold a duplicate with the same Message-ID (see outbox.py).
        first, second = server.offered
        assert stored_message_id(first.data) == stored_message_id(second.data)
        assert first.data == second.data


def test_problem_sources_come_from_the_sources_table(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(sources)
            .where(sources.c.id == "netzpolitik")
            .values(failing_since=BASE - timedelta(days=2), last_error="HTTP 503")
        )
        conn.execute(update(sources).where(sources.c.id == "ecpat").values(last_item_count=0))
    problems = build(engine, "daily", BASE).problems
    assert [(p.source_id, p.problem, p.detail) for p in problems] == [
        ("ecpat", "no-items", None),
        ("netzpolitik", "failing", "HTTP 503"),
    ]


def test_a_source_disabled_or_removed_is_no_problem_source(engine: Engine) -> None:
    # Fetched no more, its last failure stayed in every digest for ever.
    with engine.begin() as conn:
        conn.execute(
            update(sources)
            .where(sources.c.id.in_(["netzpolitik", "ecpat"]))
            .values(failing_since=BASE - timedelta(days=2), last_error="HTTP 503")
        )
        # What syncing a config that disables one, or no longer names it, records.
        conn.execute(update(sources).where(sources.c.id == "ecpat").values(enabled=False))
    problems = build(engine, "daily", BASE).problems
    assert [(p.source_id, p.problem) for p in problems] == [("netzpolitik", "failing")]


def _send_daily(
    engine: Engine,
    smtp_server: SmtpServer,
    data_dir: Path,
    *,
    now: datetime,
    fire: datetime | None = None,
    send_empty: bool = False,
) -> DigestRun:
    """The app's run of a "daily" profile with one recipient, over real SMTP (`fire`: the
    scheduled time a service's run is for)."""
    profile = DigestProfile(
        name="daily", recipients=("policy@ngo.example",), include_tags=(), exclude_tags=(),
        subject_prefix="", send_empty=send_empty,
    )  # fmt: skip
    return run_digest(
        engine,
        profile,
        now=now,
        data_dir=data_dir,
        smtp=smtp_server.settings(),
        topic_order=(),
        topic_labels={},
        send=True,
        fire=fire,
    )


def test_a_run_whose_clock_was_read_before_another_run_recorded_sends_and_writes_nothing(
    engine: Engine, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    # The other run recorded up to BASE + 1 s after this one read its clock (BASE) but
    # before it read the last window end: its window would end before it starts.
    later = BASE + timedelta(seconds=1)
    send_queued(engine, queue(engine, build(engine, "daily", later), later), transport(smtp_server),
                now=later)  # fmt: skip
    run = _send_daily(engine, smtp_server, tmp_path, now=BASE)
    assert run.taken is not None and not run.recorded and run.files == ()
    assert not (tmp_path / "digests").exists()  # the day's files are the other run's
    assert len(smtp_server.accepted) == 1
    with engine.connect() as conn:
        assert len(conn.execute(select(digests.c.id)).all()) == 1


def test_a_second_service_does_not_send_an_empty_digest_for_a_fire_already_served(
    engine: Engine, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    # Two `aggregator run` on one store, a profile with send_empty: both find the 07:00
    # digest due; one sends it, and the other, building its window a moment later, found
    # an empty window starting after 07:00 and mailed it.
    fire = BASE

    def serve(now_offset: int) -> DigestRun:
        return _send_daily(
            engine,
            smtp_server,
            tmp_path,
            now=fire + timedelta(seconds=now_offset),
            fire=fire,
            send_empty=True,
        )

    first = serve(1)
    assert first.recorded and len(smtp_server.accepted) == 1
    second = serve(30)
    assert second.taken is not None and not second.recorded
    assert len(smtp_server.accepted) == 1
    # The next fire is served as usual.
    assert _send_daily(
        engine,
        smtp_server,
        tmp_path,
        now=fire + timedelta(days=1, seconds=1),
        fire=fire + timedelta(days=1),
        send_empty=True,
    ).recorded
    assert len(smtp_server.accepted) == 2


def test_a_folder_that_cannot_be_written_does_not_hold_back_the_email(
    engine: Engine, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    (tmp_path / "digests").write_text("a file where the digests folder should be")
    with pytest.raises(DeliveryError):
        _send_daily(engine, smtp_server, tmp_path, now=BASE)
    # Sent before the files were written; they failed, and said so.
    assert len(smtp_server.accepted) == 1
    assert [row["status"] for row in outbox_rows(engine)] == ["sent"]
