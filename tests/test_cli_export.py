"""`aggregator export`: the output file is replaced whole or not at all, stdout carries UTF-8
whatever the locale, and `--since` takes the items changed since too."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import aggregator.store.items as item_sql
from aggregator.cli import EXIT_CONFIG, EXIT_OK, EXIT_STORE, main
from aggregator.errors import StoreError
from tests.conftest import ROOT
from tests.support_config import write_config

# Outside latin-1 ("Ł", "€", "ę"): what a locale's encoder other than UTF-8 cannot write.
TITLE = "Łódź: 10 € für Kinderschutz"


def _feed(path: Path, titles: list[str]) -> Path:
    entries = "".join(
        f"<item><title>{title}</title><link>https://example.org/{n}</link><guid>g-{n}</guid>"
        f"<pubDate>Mon, 03 Nov 2025 09:0{n}:00 GMT</pubDate>"
        f"<description>Statement {n}: zażółć gęślą jaźń.</description></item>"
        for n, title in enumerate(titles)
    )
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>F</title>'
        f"<link>https://example.org/</link>{entries}</channel></rss>",
        encoding="utf-8",
    )
    return path


def _config(folder: Path, feed: Path) -> Path:
    source = {"id": "f", "name": "F", "url": feed.as_uri(), "kind": "feed", "org": "ngo"}
    return write_config(folder / "config", [source])


def _run(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str]:
    code = main(["--config", str(config), *argv])
    return code, capsys.readouterr().out


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _failing_on_second_page(
    monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> Callable[..., Any]:
    """Pages of one item, the second read failing: an export stopped midway."""
    monkeypatch.setattr("aggregator.store.sql.PAGE_SIZE", 1)
    real = item_sql.page
    calls = 0

    def page(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(item_sql, "page", page)
    return page


@pytest.mark.parametrize(
    "error",
    [StoreError("database is locked"), KeyboardInterrupt()],
    ids=["store-error", "ctrl-c"],
)
def test_an_export_stopped_midway_leaves_the_previous_file(
    env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    error: BaseException,
) -> None:
    config = _config(env, _feed(env / "feed.rss", ["one", "two", "three"]))
    assert _run(capsys, config, "refresh")[0] == EXIT_OK
    out = env / "items.jsonl"
    assert _run(capsys, config, "export", "-o", str(out))[0] == EXIT_OK
    good = out.read_bytes()
    assert len(_lines(out)) == 3

    _failing_on_second_page(monkeypatch, error)
    if isinstance(error, KeyboardInterrupt):
        # Ctrl-C goes through main to `entry`, which reports it (exit 130).
        with pytest.raises(KeyboardInterrupt):
            main(["--config", str(config), "export", "-o", str(out)])
    else:
        assert _run(capsys, config, "export", "-o", str(out))[0] == EXIT_STORE
    assert out.read_bytes() == good  # not one line of three
    assert sorted(p.name for p in env.iterdir() if p.name.startswith(".items")) == []


def test_an_export_keeps_the_mode_of_the_file_it_replaces(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(env, _feed(env / "feed.rss", ["one"]))
    assert _run(capsys, config, "refresh")[0] == EXIT_OK
    out = env / "items.jsonl"
    out.write_text("old\n")
    out.chmod(0o640)
    assert _run(capsys, config, "export", "-o", str(out))[0] == EXIT_OK
    assert [item["title"] for item in _lines(out)] == ["one"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_an_export_to_a_device_writes_through_it(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Not a file to replace: renaming a temporary file over /dev/null would replace the device.
    config = _config(env, _feed(env / "feed.rss", ["one"]))
    assert _run(capsys, config, "refresh")[0] == EXIT_OK
    assert _run(capsys, config, "export", "-o", os.devnull)[0] == EXIT_OK
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_stdout_carries_utf8_whatever_the_locale(tmp_path: Path) -> None:
    config = _config(tmp_path, _feed(tmp_path / "feed.rss", [TITLE]))
    env = {
        **os.environ,
        "AGGREGATOR_DATA_DIR": str(tmp_path / "var"),
        "AGGREGATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'store.sqlite'}",
        "PYTHONIOENCODING": "latin-1",  # a locale whose encoder has no "Ł" or "€"
    }
    command = [sys.executable, "-m", "aggregator", "--config", str(config)]
    done = subprocess.run([*command, "refresh"], env=env, cwd=ROOT, capture_output=True)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    done = subprocess.run([*command, "export"], env=env, cwd=ROOT, capture_output=True)
    errors = done.stderr.decode(errors="replace")
    assert done.returncode == 0 and "Traceback" not in errors, errors
    [record] = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]
    assert record["title"] == TITLE
    out = tmp_path / "items.jsonl"
    subprocess.run([*command, "export", "-o", str(out)], env=env, cwd=ROOT, check=True)
    assert done.stdout == out.read_bytes()  # the same bytes, to a file or through a pipe
    # The text reports show what the locale cannot as "?" (they ended in a traceback), and
    # the clusters' JSON is UTF-8, as the export is.
    for report in (["clusters", "--min-size", "1"], ["digest", "--dry-run"]):
        done = subprocess.run([*command, *report], env=env, cwd=ROOT, capture_output=True)
        errors = done.stderr.decode(errors="replace")
        assert done.returncode == 0 and "Traceback" not in errors, (report, errors)
        assert "?\xf3d?: 10 ? f\xfcr Kinderschutz" in done.stdout.decode("latin-1"), report
    done = subprocess.run(
        [*command, "clusters", "--min-size", "1", "--json"], env=env, cwd=ROOT, capture_output=True
    )
    assert done.returncode == 0
    assert TITLE in done.stdout.decode("utf-8")


def test_since_takes_the_items_changed_since_too(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = _feed(env / "feed.rss", ["one", "two"])
    config = _config(env, feed)
    assert _run(capsys, config, "refresh")[0] == EXIT_OK
    time.sleep(0.01)
    since = datetime.now(UTC)
    time.sleep(0.01)
    _feed(feed, ["one, revised", "two"])  # a new revision of the first item, nothing new
    assert _run(capsys, config, "refresh")[0] == EXIT_OK

    code, out = _run(capsys, config, "export", "--since", since.isoformat())
    assert code == EXIT_OK
    [changed] = [json.loads(line) for line in out.splitlines()]
    assert (changed["title"], changed["revision"]) == ("one, revised", 2)
    assert datetime.fromisoformat(changed["first_seen"]) < since
    code, out = _run(capsys, config, "export")
    assert len(out.splitlines()) == 2  # without --since: every item


def test_an_export_from_a_store_that_does_not_exist_fails_and_keeps_the_file(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A mistyped data_dir in a cron job: no empty store made, the last export kept.
    config = write_config(env / "config", [])
    missing = env / "nowhere" / "var"
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(missing))
    monkeypatch.delenv("AGGREGATOR_DATABASE_URL", raising=False)
    out = env / "items.jsonl"
    out.write_text("the last good export\n")
    assert main(["--config", str(config), "export", "-o", str(out)]) == EXIT_STORE
    assert "no store at " in capsys.readouterr().err
    assert out.read_text() == "the last good export\n"
    assert not missing.exists()


def test_an_export_over_the_store_itself_is_refused(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(env / "config", [])
    database = env / "var" / "aggregator.sqlite"
    monkeypatch.setenv("AGGREGATOR_DATABASE_URL", f"sqlite:///{database}")
    assert main(["--config", str(config), "sources", "check"]) == 0
    main(["--config", str(config), "sources"])  # makes the store
    before = database.read_bytes()
    assert main(["--config", str(config), "export", "-o", str(database)]) == EXIT_CONFIG
    assert "it is the store itself" in capsys.readouterr().err
    assert database.read_bytes()[:16] == before[:16] == b"SQLite format 3\x00"


def _since_now() -> datetime:
    time.sleep(0.01)
    since = datetime.now(UTC)
    time.sleep(0.01)
    return since


def test_since_takes_a_corrected_date_and_a_moved_link(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Neither is a revision (the words are the same), but both change what the line says: an
    # incremental export that left them out kept the old date and a dead link for good.
    feed = _feed(env / "feed.rss", ["one", "two", "three"])
    config = _config(env, feed)
    assert _run(capsys, config, "refresh")[0] == EXIT_OK
    since = _since_now()
    text = feed.read_text(encoding="utf-8")
    text = text.replace("09:00:00 GMT", "08:00:00 GMT")  # "one": the date corrected
    text = text.replace("<link>https://example.org/1</link>", "<link>https://example.org/b</link>")
    feed.write_text(text, encoding="utf-8")
    assert _run(capsys, config, "refresh")[0] == EXIT_OK

    code, out = _run(capsys, config, "export", "--since", since.isoformat())
    assert code == EXIT_OK
    lines = {line["title"]: line for line in map(json.loads, out.splitlines())}
    assert sorted(lines) == ["one", "two"]
    assert lines["one"]["published"] == "2025-11-03T08:00:00+00:00"
    assert lines["two"]["url"] == "https://example.org/b"
    assert all(line["revision"] == 1 for line in lines.values())


def test_since_takes_the_items_retag_changed(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = _feed(env / "feed.rss", ["Hotlines report more AI images", "Budget vote"])
    source = {"id": "f", "name": "F", "url": feed.as_uri(), "kind": "feed", "org": "ngo"}
    config = write_config(env / "config", [source], tags="")
    assert _run(capsys, config, "refresh")[0] == EXIT_OK
    since = _since_now()
    write_config(
        env / "config",
        [source],
        tags='[tag.ai-csam]\nlabel = "AI-generated abuse imagery"\n'
        '[[tag.ai-csam.rule]]\nany = ["AI images"]\n',
    )
    assert _run(capsys, config, "retag")[0] == EXIT_OK

    code, out = _run(capsys, config, "export", "--since", since.isoformat())
    assert code == EXIT_OK
    [line] = [json.loads(line) for line in out.splitlines()]
    assert line["title"] == "Hotlines report more AI images"
    assert "ai-csam" in line["tags"]
