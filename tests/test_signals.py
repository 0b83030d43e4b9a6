"""Stopping a command from outside: Ctrl-C or SIGTERM mid-refresh ends it with one line and
the shell's exit code, with what finished stored; a parse worker whose parent is killed
outright leaves too."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import ROOT
from tests.support_config import write_config

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

DATA = Path(__file__).parent / "data" / "parse"
RSS = (DATA / "europarl_press_rss.xml").read_bytes()


def _as_from_a_terminal() -> None:
    """In the child, before it runs: Ctrl-C as a terminal delivers it. A test run started in
    the background (`pytest &`, CI runners) has SIGINT ignored, which children inherit and,
    as every Unix program should, keep: the interrupt tests then saw nothing happen."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its new parent) counts as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _store_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a command whose store is tmp_path/var/store.sqlite."""
    return {
        **os.environ,
        "AGGREGATOR_DATA_DIR": str(tmp_path / "var"),
        "AGGREGATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'store.sqlite'}",
    }


def _start_refresh(
    config: Path, env: dict[str, str], *args: str, own_group: bool = False
) -> subprocess.Popen[str]:
    """`aggregator refresh` started as from a terminal; `own_group`: in a process group of
    its own, which Ctrl-C to the group (os.killpg) reaches, workers and all."""
    return subprocess.Popen(
        [sys.executable, "-m", "aggregator", "--config", str(config), "refresh", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=own_group,
        preexec_fn=_as_from_a_terminal,
    )


@pytest.mark.parametrize(
    ("sig", "code", "said", "as_json"),
    [
        (signal.SIGTERM, 143, "aggregator: terminated", True),
        (signal.SIGINT, 130, "aggregator: interrupted", False),
    ],
    ids=["SIGTERM-json", "SIGINT-table"],
)
def test_a_refresh_stopped_mid_way_says_so_and_keeps_what_finished(
    http_server: FixtureServer, tmp_path: Path, sig: int, code: int, said: str, as_json: bool
) -> None:
    fast = http_server.add("/fast.xml", body=RSS, content_type="application/rss+xml")
    # Slow enough to be still waiting when the signal comes, also on a loaded machine.
    slow = [http_server.add(f"/slow/{n}.xml", body=RSS, delay=30.0) for n in range(3)]
    sources = [{"id": "fast", "name": "fast", "url": fast, "kind": "feed", "org": "ngo"}] + [
        {"id": f"slow-{n}", "name": "slow", "url": url, "kind": "feed", "org": "ngo"}
        for n, url in enumerate(slow)
    ]
    config = write_config(tmp_path / "config", sources, settings="[fetch]\nread_timeout = 60\n")
    env = _store_env(tmp_path)
    argv = [sys.executable, "-m", "aggregator", "--config", str(config)]
    refresh = _start_refresh(config, env, *(["--json"] if as_json else []))
    deadline = time.monotonic() + 20
    # (A request is logged once it is answered: the slow ones are still waiting.)
    while not http_server.count("/fast.xml") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # the fast source's items written
    refresh.send_signal(sig)
    out, err = refresh.communicate(timeout=20)
    assert refresh.returncode == code
    assert err.strip().splitlines()[-1] == said
    assert "Traceback" not in err
    # What stands is said: the table (or the document for scripts), and what was left.
    word = said.removeprefix("aggregator: ")
    if as_json:
        document = json.loads(out)
        stood = [(s["id"], s["status"], s["new"]) for s in document["sources"]]
        assert stood == [("fast", "new", 2)]
        assert document["interrupted"] == word
        assert document["not_refreshed"] == ["slow-0", "slow-1", "slow-2"]
        assert set(document["totals"]["stage_seconds"]) >= {"wall", "fetch", "store"}
    else:
        cells = [[c.strip() for c in line.split("│")[1:4]] for line in out.splitlines()]
        assert ["fast", "new", "2"] in cells
        assert "slow" not in out
        assert "1 source: 1 ok, 0 failed; 2 new items" in out
    assert err.strip().splitlines()[-2] == (
        f"{word} before 3 of 4 sources were refreshed, which keep their last state; 1 stored"
    )
    done = subprocess.run(
        [*argv, "sources", "--json"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    health = {s["id"]: s for s in json.loads(done.stdout)["sources"]}
    assert health["fast"]["items"] == 2 and health["fast"]["last_status"] == "new"
    assert health["slow-0"]["last_status"] is None


def test_a_parse_worker_leaves_when_its_parent_is_killed(tmp_path: Path) -> None:
    # A parent that starts the pool the refresh uses, prints its worker's pid, and waits.
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import os, sys, time
                from aggregator.pipeline import start_cpu_pool
                from aggregator.rules_loader import RulesText
                pool = start_cpu_pool(RulesText(None, "tags.toml"), workers=1)
                print(pool.submit(os.getpid).result(timeout=60), flush=True)
                time.sleep(600)
                """
            ),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    assert worker != parent.pid and _alive(worker)
    parent.kill()  # SIGKILL: no cleanup of any kind
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker), "the worker outlived its parent"


def test_a_parse_worker_leaves_when_its_parent_is_killed_while_it_starts() -> None:
    # Killed while its worker was still loading the stages (a refresh killed in its first
    # second): the worker, and the resource tracker it holds open, stayed for good.
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import glob, os, signal
                from aggregator.pipeline import start_cpu_pool
                from aggregator.rules_loader import RulesText
                pool = start_cpu_pool(RulesText(None, "tags.toml"), workers=1)
                pool.submit(os.getpid)  # the worker is spawned here, and starts loading
                children = set()
                for path in glob.glob(f"/proc/{os.getpid()}/task/*/children"):
                    children.update(open(path).read().split())
                print(" ".join(sorted(children)), flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
                """
            ),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    children = [int(pid) for pid in parent.stdout.readline().split()]
    parent.wait()
    assert children, "the pool started no process"
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in children if _alive(pid)], "a worker outlived its parent"


def test_ctrl_c_to_the_process_group_prints_no_worker_traceback(
    http_server: FixtureServer, tmp_path: Path
) -> None:
    # Ctrl-C in a terminal signals every process of the group: the parse workers too.
    fast = [
        http_server.add(f"/fast/{n}.xml", body=RSS, content_type="application/rss+xml")
        for n in range(9)
    ]
    slow = http_server.add("/slow.xml", body=RSS, delay=10.0)
    sources = [
        {"id": f"s-{n}", "name": "s", "url": url, "kind": "feed", "org": "ngo"}
        for n, url in enumerate([*fast, slow])
    ]
    config = write_config(
        tmp_path / "config",
        sources,
        settings="[fetch]\nread_timeout = 60\nparse_processes = 1\n",
    )
    refresh = _start_refresh(config, _store_env(tmp_path), own_group=True)
    deadline = time.monotonic() + 30
    while sum(http_server.count(f"/fast/{n}.xml") for n in range(9)) < 9:
        assert time.monotonic() < deadline, "the fast sources were never fetched"
        time.sleep(0.05)
    time.sleep(1.5)  # their documents parsed by the worker
    os.killpg(refresh.pid, signal.SIGINT)
    _, err = refresh.communicate(timeout=30)
    assert refresh.returncode == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().splitlines()[-1] == "aggregator: interrupted"


def test_a_second_ctrl_c_stops_at_once_while_a_write_waits_and_loses_nothing_stored(
    http_server: FixtureServer, tmp_path: Path
) -> None:
    # Another program holds the store's write lock when the slow source's write comes, so
    # the write waits. The first Ctrl-C says at once that it waits for the write (it said
    # nothing, releasing the leases in the event loop behind the same lock); the second
    # stops without waiting (it was ignored): the write is rolled back, the rest stands.
    fast = http_server.add("/fast.xml", body=RSS, content_type="application/rss+xml")
    slow = http_server.add("/slow.xml", body=RSS, delay=2.0)
    sources = [
        {"id": "fast", "name": "fast", "url": fast, "kind": "feed", "org": "ngo"},
        {"id": "slow", "name": "slow", "url": slow, "kind": "feed", "org": "ngo"},
    ]
    config = write_config(tmp_path / "config", sources, settings="[fetch]\nread_timeout = 60\n")
    database = tmp_path / "var" / "store.sqlite"
    refresh = _start_refresh(config, _store_env(tmp_path), own_group=True)
    holder = None
    try:
        deadline = time.monotonic() + 30
        while True:  # the fast source stored: its row says so
            assert time.monotonic() < deadline, "the fast source was never stored"
            time.sleep(0.05)
            if not database.exists():
                continue
            with contextlib.closing(sqlite3.connect(database, timeout=10)) as look:
                try:
                    row = look.execute(
                        "SELECT last_status FROM sources WHERE id = 'fast'"
                    ).fetchone()
                except sqlite3.OperationalError:  # no tables yet: the store is being made
                    continue
            if row and row[0] == "new":
                break
        holder = sqlite3.connect(database, timeout=10, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # held until the test ends
        while not http_server.count("/slow.xml"):  # answered: its write now waits
            assert time.monotonic() < deadline, "the slow source was never answered"
            time.sleep(0.05)
        time.sleep(1.0)
        os.killpg(refresh.pid, signal.SIGINT)
        time.sleep(1.0)
        os.killpg(refresh.pid, signal.SIGINT)
        stopped = time.monotonic()
        _, err = refresh.communicate(timeout=60)
        waited = time.monotonic() - stopped
    finally:
        if holder is not None:
            holder.close()
        if refresh.poll() is None:
            refresh.kill()
    assert refresh.returncode == 130, err
    assert "interrupted: letting the write in flight commit (Ctrl-C again to stop now" in err
    assert "interrupted: stopped without waiting; the write in flight is rolled back" in err
    assert waited < 15, err  # not the 30 s the write would wait for the lock
    assert "Traceback" not in err
    with contextlib.closing(sqlite3.connect(database)) as look:
        assert look.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        statuses = dict(look.execute("SELECT id, last_status FROM sources").fetchall())
    assert statuses == {"fast": "new", "slow": None}
