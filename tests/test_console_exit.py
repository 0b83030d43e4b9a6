"""The console script as a user runs it: `python -m aggregator` in its own process.

`aggregator.cli.entry` leaves through os._exit after `main` (no interpreter teardown), so
these check from outside that nothing is lost on the way out: the whole JSON document
reaches stdout, the store holds what the refresh reported, and a reader that closes the pipe
early gets no traceback.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.support_config import write_config

DATA = Path(__file__).parent / "data" / "parse"
FEEDS = ("europarl_press_rss.xml", "iwf_news.atom", "ecpat_jsonfeed.json")


def _config(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    sources = [
        {
            "id": f"feed-{n}",
            "name": name,
            "url": (DATA / name).as_uri(),
            "kind": "feed",
            "org": "ngo",
        }
        for n, name in enumerate(FEEDS)
    ]
    config = write_config(tmp_path / "config", sources)
    env = {
        **os.environ,
        "AGGREGATOR_DATA_DIR": str(tmp_path / "var"),
        "AGGREGATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'store.sqlite'}",
    }
    return config, env


def _aggregator(config: Path, *argv: str) -> list[str]:
    return [sys.executable, "-m", "aggregator", "--config", str(config), *argv]


def test_refresh_output_and_store_survive_the_quick_exit(tmp_path: Path) -> None:
    config, env = _config(tmp_path)
    done = subprocess.run(
        _aggregator(config, "refresh", "--json"),
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    document = json.loads(done.stdout)  # complete: the buffered tail was flushed
    new = document["totals"]["new"]
    assert new > 0
    assert [s["status"] for s in document["sources"]] == ["new"] * len(FEEDS)
    with sqlite3.connect(tmp_path / "var" / "store.sqlite") as db:
        (stored,) = db.execute("select count(*) from items").fetchone()
    assert stored == new  # committed before the process left


def _big_feed(path: Path, items: int) -> Path:
    """An RSS feed whose export is far larger than a pipe's buffer (64 KiB on Linux)."""
    entries = "".join(
        f"<item><title>Statement {n} on the CSA Regulation</title>"
        f"<link>https://example.org/press/{n}</link><guid>press-{n}</guid>"
        f"<pubDate>Mon, 03 Nov 2025 09:00:00 GMT</pubDate>"
        f"<description>{'Trilogue negotiations continued. ' * 10}</description></item>"
        for n in range(items)
    )
    path.write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>'
        f"<link>https://example.org/</link>{entries}</channel></rss>",
        encoding="utf-8",
    )
    return path


def test_a_reader_that_closes_the_pipe_gets_no_traceback(tmp_path: Path) -> None:
    feed = _big_feed(tmp_path / "big.rss", 1_000)
    config = write_config(
        tmp_path / "config",
        [{"id": "big", "name": "Big", "url": feed.as_uri(), "kind": "feed", "org": "ngo"}],
    )
    _, env = _config(tmp_path / "unused")
    env["AGGREGATOR_DATA_DIR"] = str(tmp_path / "var")
    env["AGGREGATOR_DATABASE_URL"] = f"sqlite:///{tmp_path / 'var' / 'store.sqlite'}"
    subprocess.run(_aggregator(config, "refresh"), env=env, cwd=ROOT, capture_output=True)
    export = subprocess.Popen(
        _aggregator(config, "export", "--format", "jsonl"),
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    assert export.stdout is not None and export.stderr is not None
    first = export.stdout.read(1)  # as `| head -c 1` would, then hang up
    export.stdout.close()
    errors = export.stderr.read().decode()
    code = export.wait(timeout=60)
    assert first == b"{"
    assert "Traceback" not in errors
    assert code == 1


def test_closed_stdout_is_reported_without_a_traceback(tmp_path: Path) -> None:
    config, env = _config(tmp_path)
    done = subprocess.run(
        _aggregator(config, "sources"),
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        # `aggregator sources >&-`: the child starts with file descriptor 1 closed
        preexec_fn=lambda: os.close(1),
        timeout=60,
    )
    errors = done.stderr.decode()
    assert done.returncode == 120
    assert "Traceback" not in errors
    assert "standard output is closed" in errors
    assert not (tmp_path / "var").exists()  # nothing was done


def test_an_output_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    config, env = _config(tmp_path)
    subprocess.run(_aggregator(config, "refresh"), env=env, cwd=ROOT, capture_output=True)
    missing = tmp_path / "no" / "such" / "dir" / "out.jsonl"
    done = subprocess.run(
        _aggregator(config, "export", "-o", str(missing)),
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"cannot write {missing}: No such file or directory" in done.stderr.decode()

    if not Path("/dev/full").exists():
        return
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            _aggregator(config, "export"),
            env=env,
            cwd=ROOT,
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=60,
        )
    errors = done.stderr.decode()
    assert done.returncode == 120
    assert "Traceback" not in errors
    assert "cannot write the output" in errors and "No space left on device" in errors
