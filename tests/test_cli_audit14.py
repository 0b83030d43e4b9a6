"""The command line as the README's new user met it (audit 14): `sources` options before the
URL or FILE, `serve --port` out of range, read-only and dry-run commands pointed at a store
that does not exist, a key written twice in a TOML file, a missing tags.toml, the API's
description, and `export -o` naming one of SQLite's companion files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.app import App
from aggregator.cli import EXIT_CONFIG, EXIT_OK, EXIT_STORE, build_parser, main
from tests.conftest import ROOT
from tests.support_config import write_config

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

DATA = Path(__file__).parent / "data"
WORDPRESS = (DATA / "discover" / "ngo_wordpress_home.html").read_bytes()
WORDPRESS_FEED = (DATA / "discover" / "ngo_wordpress_feed.rss").read_bytes()
OPML = DATA / "opml" / "reader_flat_export.opml"
FEED = DATA / "parse" / "europarl_press_rss.xml"
FAST = "[fetch]\nretries = 0\nread_timeout = 2.0\ntotal_timeout = 3.0\n"


@pytest.fixture()
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config of one file:// feed; the store in tmp_path/var, nothing in it yet."""
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("AGGREGATOR_DATABASE_URL", raising=False)
    monkeypatch.delenv("AGGREGATOR_CONFIG", raising=False)
    source = {"id": "ep", "name": "EP", "url": FEED.as_uri(), "kind": "feed", "org": "ngo"}
    return write_config(tmp_path / "config", [source], settings=FAST)


def run(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), *argv])
    out, err = capsys.readouterr()
    return code, out, err


# 1. `sources`: options anywhere among the action and its URL or FILE


@pytest.mark.parametrize(
    "order",
    [
        ["add", "--id", "foo", "--dry-run", "{url}"],
        ["add", "--dry-run", "--id", "foo", "{url}"],
        ["add", "{url}", "--id", "foo", "--dry-run"],
        ["--dry-run", "add", "--id", "foo", "{url}"],
    ],
    ids=["options-first", "dry-run-first", "url-first", "before-action"],
)
def test_sources_add_takes_its_options_before_or_after_the_url(
    order: list[str],
    http_server: FixtureServer,
    config: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = http_server.add("/", body=WORDPRESS, content_type="text/html; charset=utf-8")
    http_server.add("/feed/", body=WORDPRESS_FEED, content_type="application/rss+xml")
    before = (config / "sources.toml").read_text()
    argv = [home if part == "{url}" else part for part in order]
    code, out, err = run(capsys, config, "sources", *argv)
    assert code == EXIT_OK, err
    assert "dry run" in out and 'id = "foo"' in out
    assert (config / "sources.toml").read_text() == before


def test_sources_import_takes_dry_run_before_the_file(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (config / "sources.toml").read_text()
    code, out, err = run(capsys, config, "sources", "import", "--dry-run", str(OPML))
    assert code == EXIT_OK, err
    assert "dry run" in out and "[[source]]" in out
    assert (config / "sources.toml").read_text() == before


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["sources"], {"action": "list", "json": False, "target": None}),
        (["sources", "list"], {"action": "list", "target": None}),
        (["sources", "--json"], {"action": "list", "json": True}),
        (["sources", "check", "--json"], {"action": "check", "json": True}),
        (["sources", "--json", "check"], {"action": "check", "json": True}),
        (["sources", "add", "--json", "https://x.example/", "--dry-run"],
         {"action": "add", "target": "https://x.example/", "dry_run": True}),
        (["sources", "add", "--tag", "a", "https://x.example/", "--tag", "b"],
         {"action": "add", "target": "https://x.example/", "tag": ["a", "b"]}),
        (["sources", "import", "--org", "press", "f.opml"],
         {"action": "import", "target": "f.opml", "org": "press"}),
        (["sources", "export", "-o", "F", "--group-by", "tag"],
         {"action": "export", "output": "F", "group_by": "tag", "target": None}),
        (["--config", "A", "sources", "add", "U"], {"config": "A", "target": "U"}),
        (["sources", "add", "--config", "B", "U"], {"config": "B", "target": "U"}),
    ],
)  # fmt: skip
def test_every_documented_sources_spelling_parses(
    argv: list[str], expected: dict[str, object]
) -> None:
    parsed = vars(build_parser().parse_args(argv))
    assert {key: parsed[key] for key in expected} == expected


def test_sources_still_refuses_a_second_positional(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["sources", "add", "https://a.example/", "https://b.example/"])
    assert stop.value.code == 2
    assert "unrecognized arguments: https://b.example/" in capsys.readouterr().err


# 2. `serve --port` out of range


@pytest.mark.parametrize("port", ["99999", "-1", "0"])
def test_serve_refuses_a_port_out_of_range(port: str, config: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aggregator", "--config", str(config), "serve", f"--port={port}"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == EXIT_CONFIG, done.stderr
    assert f"--port: value {port} is out of range (expected a number from 1 to 65535)" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr


# 3. read-only and dry-run commands make no store


READ_ONLY = [
    ["clusters"],
    ["clusters", "--json"],
    ["replay"],
    ["digest", "--dry-run"],
    ["retag", "--dry-run"],
    ["prune", "--dry-run"],
]


@pytest.mark.parametrize("argv", READ_ONLY, ids=" ".join)
def test_a_read_only_command_on_a_mistyped_data_dir_makes_no_store(
    argv: list[str],
    config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    typo = tmp_path / "vra"
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(typo))
    # Tag rules: the stamp of rules known to compile is kept in the data dir's cache/.
    (config / "tags.toml").write_text(
        '[tag.x]\nlabel = "X"\n[[tag.x.rule]]\nany = ["chat control"]\n'
    )
    code, out, err = run(capsys, config, *argv)
    assert code == EXIT_STORE, out + err
    assert f"no store at {typo / 'aggregator.sqlite'}" in err
    assert not typo.exists()


@pytest.mark.parametrize("argv", READ_ONLY, ids=" ".join)
def test_a_read_only_command_on_a_missing_sqlite_path_makes_no_folder(
    argv: list[str],
    config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "nonexistent" / "dir" / "x.sqlite"
    monkeypatch.setenv("AGGREGATOR_DATABASE_URL", f"sqlite:///{missing}")
    code, _, err = run(capsys, config, *argv)
    assert code == EXIT_STORE and f"no store at {missing}" in err
    assert not (tmp_path / "nonexistent").exists()


@pytest.mark.parametrize("argv", [["retag"], ["prune"], ["digest"]], ids=" ".join)
def test_commands_that_write_still_make_the_store(
    argv: list[str], config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, config, *argv)
    assert code == EXIT_OK, err
    assert (tmp_path / "var" / "aggregator.sqlite").is_file()


def test_read_only_commands_read_a_store_that_exists(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, config, "refresh")[0] == EXIT_OK
    for argv in READ_ONLY:
        code, _, err = run(capsys, config, *argv)
        assert code == EXIT_OK, (argv, err)


# 4. a key written twice


def test_a_key_written_twice_in_sources_toml_is_named_with_both_lines(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (config / "sources.toml").write_text(
        '[[source]]\nid = "a"\nname = "A"\nkind = "feed"\norg = "ngo"\n'
        f'url = "{FEED.as_uri()}"\nurl = "{FEED.as_uri()}"\n',
        encoding="utf-8",
    )
    code, _, err = run(capsys, config, "sources", "check")
    assert code == EXIT_CONFIG
    assert "sources.toml:7: duplicate key 'url', first set on line 6" in err
    assert "Cannot overwrite" not in err


def test_a_list_written_twice_in_tags_toml_is_reported_at_its_key(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The decoder reports the end of the second value: line 11, not where `any` is.
    (config / "tags.toml").write_text(
        '[tag.encryption]\nlabel = "Encryption"\n[[tag.encryption.rule]]\nany = [\n'
        '  "encryption",\n]\nnone = ["x"]\nany = [\n  "end-to-end",\n  "e2ee",\n]\n',
        encoding="utf-8",
    )
    code, _, err = run(capsys, config, "sources", "check")
    assert code == EXIT_CONFIG
    assert "tags.toml:8: duplicate key 'any', first set on line 4" in err


def test_a_table_written_twice_is_named(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (config / "aggregator.toml").write_text(FAST + "[fetch]\nretries = 1\n", encoding="utf-8")
    code, _, err = run(capsys, config, "sources", "check")
    assert code == EXIT_CONFIG
    assert "aggregator.toml:5: duplicate table [fetch], first set on line 1" in err


# 5. no tags.toml


def test_a_topic_named_without_tags_toml_says_the_file_is_missing(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (config / "aggregator.toml").write_text('[digest]\ntopic_order = ["csar"]\n')
    for argv in (["sources", "check"], ["refresh"]):
        code, _, err = run(capsys, config, *argv)
        assert code == EXIT_CONFIG
        assert "digest.topic_order[0]: unknown tag 'csar'" in err
        assert f"there is no tags.toml in {config}, so no topic tags are defined" in err


def test_a_topic_named_with_tags_toml_is_a_plain_unknown_tag(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (config / "tags.toml").write_text(
        '[tag.encryption]\nlabel = "Encryption"\n[[tag.encryption.rule]]\nany = ["e2ee"]\n'
    )
    (config / "aggregator.toml").write_text('[digest]\ntopic_order = ["csar"]\n')
    code, _, err = run(capsys, config, "sources", "check")
    assert code == EXIT_CONFIG and "unknown tag 'csar'" in err
    assert "there is no tags.toml" not in err


def test_sources_check_says_when_there_is_no_tags_toml(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, config, "sources", "check")
    assert code == EXIT_OK and out.rstrip().endswith("0 topic tags (no tags.toml)")


# 6. the API's description


def test_the_api_description_names_no_domain(config: Path) -> None:
    from aggregator.api import create_app

    shipped = tomllib.loads((ROOT / "config" / "tags.toml").read_text(encoding="utf-8"))
    labels = " ".join(topic["label"] for topic in shipped["tag"].values())
    domain = {word.lower() for word in re.findall(r"[A-Za-z]{4,}", labels)} | {"eu", "child"}
    with App.open(config) as app:
        description = create_app(app).openapi()["info"]["description"]
    words = {word.lower() for word in re.findall(r"[A-Za-z]+", description)}
    assert not words & domain, words & domain
    assert "next_cursor" in description  # still says how lists are paged


# 7. `export -o` naming a file SQLite keeps beside the store


@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal"])
def test_an_export_over_a_companion_file_of_the_store_is_refused(
    suffix: str, config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, config, "refresh")[0] == EXIT_OK
    database = tmp_path / "var" / "aggregator.sqlite"
    code, out, err = run(capsys, config, "export", "-o", f"{database}{suffix}")
    assert code == EXIT_CONFIG, out + err
    assert f"cannot write {database}{suffix}: it is the store's" in err
    assert "which SQLite removes" in err
    code, _, _ = run(capsys, config, "export", "-o", str(tmp_path / "items.jsonl"))
    assert code == EXIT_OK and (tmp_path / "items.jsonl").read_text().count("\n") > 0


def _a_problem_in_each_file(tmp_path: Path) -> Path:
    """A config with a mistake in aggregator.toml (a quoted number) and in sources.toml (a
    misspelt key)."""
    source = {
        "id": "ep",
        "name": "EP",
        "url": "https://example.org/rss",
        "kind": "feed",
        "org": "institution",
        "intervall": "1h",
    }
    return write_config(tmp_path / "config", [source], settings='[fetch]\nretries = "3"\n')


def test_sources_check_json_lists_a_problem_of_each_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Loading stops at the first file with a problem; the JSON for scripts lists each
    # file's (here aggregator.toml's and sources.toml's), as an operator fixing them wants.
    config = _a_problem_in_each_file(tmp_path)
    code = main(["--config", str(config), "sources", "check", "--json"])
    assert code == 2
    document = json.loads(capsys.readouterr().out)
    files = [Path(problem["file"]).name for problem in document["problems"]]
    assert files == ["aggregator.toml", "sources.toml"]
    assert "intervall" in document["problems"][1]["message"]


def test_sources_check_names_a_problem_of_each_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _a_problem_in_each_file(tmp_path)
    assert main(["--config", str(config), "sources", "check"]) == 2
    err = capsys.readouterr().err
    assert "aggregator.toml" in err and "sources.toml" in err and "intervall" in err


@pytest.mark.parametrize("argv", READ_ONLY, ids=" ".join)
def test_a_read_only_command_says_a_config_error_before_a_missing_store(
    argv: list[str],
    config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A broken tags.toml with no store yet was "no store" (exit 3): fixed, the next run
    # would have stopped at the tags all the same.
    (config / "tags.toml").write_text('[tag.x]\nlabel = "X"\n[[tag.x.rule]]\nany = ["re:("]\n')
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(tmp_path / "vra"))
    code, out, err = run(capsys, config, *argv)
    assert code == EXIT_CONFIG, out + err
    assert "tags.toml:4" in err and "no store" not in err
    assert not (tmp_path / "vra").exists()
