"""Command-line values: each bad one is a usage error (exit 2) naming the option, never a
traceback."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.cli import EXIT_CONFIG, UsageError, main, parse_since
from tests.support_config import write_config

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T09:00+01:00", datetime(2026, 11, 1, 8, 0, tzinfo=UTC)),
    ],
)
def test_since_forms(text: str, expected: datetime) -> None:
    assert parse_since(text, now=NOW) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("1000000d", "out of range"),
        ("0001-01-01T00:00+01:00", "out of range"),
        ("9999-12-31T23:59-01:00", "out of range"),
        ("", "expected an ISO date"),
        ("yesterday", "expected an ISO date"),
        ("-7d", "an age is counted back from now without a sign: write 7d"),
    ],
)
def test_since_out_of_range_or_garbage_is_a_usage_error(text: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        parse_since(text, now=NOW)


def test_commands_exit_2_on_such_values(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(env / "config", [])
    for argv in (
        ["export", "--since", "1000000d"],
        ["digest", "--since", "2999-01-01", "--dry-run"],
        ["clusters", "--since", "0001-01-01T00:00+01:00"],
        ["replay", "--window-days", "99999999999"],
        ["clusters", "--min-size", "9223372036854775808"],
    ):
        assert main(["--config", str(config), *argv]) == EXIT_CONFIG, argv
        err = capsys.readouterr().err
        assert err.startswith("aggregator: --") and "Traceback" not in err, err


def _feed_sources(folder: Path, *ids: str) -> list[dict[str, str]]:
    feed = Path(__file__).parent / "data" / "parse" / "europarl_press_rss.xml"
    return [
        {"id": i, "name": i.upper(), "url": feed.as_uri(), "kind": "feed", "org": "ngo"}
        for i in ids
    ]


def _refreshed(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> list[str]:
    code = main(["--config", str(config), "refresh", "--json", *argv])
    out = capsys.readouterr().out
    assert code == 0, out
    return [source["id"] for source in json.loads(out)["sources"]]


def test_due_with_source_refreshes_those_named_that_are_due(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(env / "config", _feed_sources(env, "a", "b", "c"))
    # Never fetched: all three are due; only the named ones are refreshed.
    assert _refreshed(capsys, config, "--due", "--source", "a", "--source", "b") == ["a", "b"]
    # Now a and b are not due: naming them with --due refreshes nothing, c is still due.
    assert _refreshed(capsys, config, "--due", "--source", "a", "--source", "c") == ["c"]
    assert _refreshed(capsys, config, "--due", "--source", "b") == []


def test_due_with_an_unknown_source_is_a_usage_error(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(env / "config", _feed_sources(env, "a"))
    for argv in (
        ["--source", "nope"],
        ["--due", "--source", "nope"],
        ["--due", "--source", "a", "--source", "nope"],
    ):
        assert main(["--config", str(config), "refresh", *argv]) == EXIT_CONFIG, argv
        err = capsys.readouterr().err
        assert "unknown source id 'nope'" in err, err


@pytest.mark.parametrize("action", ["check", "list", "export"])
def test_sources_actions_without_an_argument_refuse_one(
    env: Path, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    config = write_config(env / "config", _feed_sources(env, "a"))
    assert main(["--config", str(config), "sources", action, "other"]) == EXIT_CONFIG
    captured = capsys.readouterr()
    assert f"sources {action} takes no argument: 'other'" in captured.err
    assert captured.out == ""


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["list", "-o", "out.txt"], "sources list: -o/--output is an option of sources export"),
        (["--group-by", "tag"], "sources list: --group-by is an option of sources export"),
        (["check", "--dry-run"], "sources check: --dry-run is an option of sources add and import"),
        (["export", "--json"], "sources export: --json is an option of sources list and check"),
        (["export", "--tag", "x"], "sources export: --tag is an option of sources add and import"),
        (["import", "f.opml", "--accept"], "sources import: --accept is an option of sources add"),
        (["add", "https://x.example/", "-o", "F"], "sources add: -o/--output is an option of"),
    ],
)
def test_sources_options_of_another_action_are_refused(
    env: Path, capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    # They were ignored: `sources list -o out.txt` printed the table and wrote no file.
    config = write_config(env / "config", _feed_sources(env, "a"))
    assert main(["--config", str(config), "sources", *argv]) == EXIT_CONFIG
    captured = capsys.readouterr()
    assert said in captured.err and captured.out == ""
    assert not (env / "out.txt").exists() and not Path("out.txt").exists()


def test_sources_export_takes_its_own_options(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(env / "config", _feed_sources(env, "a"))
    out = env / "sources.opml"
    assert (
        main(["--config", str(config), "sources", "export", "--group-by", "tag", "-o", str(out)])
        == 0
    )
    assert out.read_bytes().startswith(b"<?xml")


def test_sources_check_json_prints_one_document(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(env / "config", _feed_sources(env, "a", "b"))
    assert main(["--config", str(config), "sources", "check", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    # Both sources read the one fixture file: warned of, not refused (test_config_places.py).
    [warning] = document.pop("warnings")
    assert "source 'b' has the URL of source 'a'" in warning
    assert document == {
        "config_dir": str(config),
        "ok": True,
        "problems": [],
        "sources": 2,
        "enabled": 2,
        "unverified": 0,
        "topic_tags": 0,
    }
    (config / "sources.toml").write_text(
        (config / "sources.toml").read_text().replace('kind = "feed"', 'kind = "rss"', 1)
    )
    assert main(["--config", str(config), "sources", "check", "--json"]) == EXIT_CONFIG
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["ok"] is False
    [problem] = document["problems"]
    assert problem["file"] == str(config / "sources.toml")
    assert (problem["line"], problem["key"]) == (5, "source[0].kind")
    assert problem["problem"] == "invalid value 'rss'"
    assert "'feed'" in problem["expected"]
    assert problem["message"] in captured.err  # the line on stderr as without --json
    # The same keys as for a good config: null where the file with the problem says them.
    assert document.keys() == {
        "config_dir",
        "ok",
        "problems",
        "sources",
        "enabled",
        "unverified",
        "topic_tags",
        "warnings",
    }
    assert (document["sources"], document["enabled"], document["unverified"]) == (None,) * 3
    assert document["topic_tags"] == 0
    (config / "sources.toml").write_text(
        (config / "sources.toml").read_text().replace('kind = "rss"', 'kind = "feed"', 1)
    )
    (config / "aggregator.toml").write_text("[fetch]\nmax_connections = 0\n")
    assert main(["--config", str(config), "sources", "check", "--json"]) == EXIT_CONFIG
    document = json.loads(capsys.readouterr().out)
    assert document["problems"][0]["file"] == str(config / "aggregator.toml")
    assert (document["sources"], document["enabled"], document["unverified"]) == (2, 2, 0)


@pytest.mark.parametrize(
    ("settings", "variable", "problem"),
    [
        ("", "sqlite:///", "database URL 'sqlite:///' names no database file"),
        ("", "sqlite://", "database URL 'sqlite://' names no database file"),
        ("", "sqlite:///:memory:", "database URL 'sqlite:///:memory:' names no database file"),
        ('database_url = "sqlite:///"\n', None, "aggregator.toml:1: database_url: database URL"),
        (
            '[schedule]\nmax_backoff = "10000000d"\nmax_interval = "3000000d"\n',
            None,
            "aggregator.toml:2: schedule.max_backoff: duration '10000000d' is too long "
            "(expected at most 365d); and 1 more problem: line 3, schedule.max_interval",
        ),
    ],
)
def test_config_that_would_lose_or_crash_refreshes_is_refused(
    env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    settings: str,
    variable: str | None,
    problem: str,
) -> None:
    config = write_config(env / "config", _feed_sources(env, "a"), settings=settings)
    if variable is not None:  # as `AGGREGATOR_DATABASE_URL=sqlite:///${DB}` with DB unset
        monkeypatch.setenv("AGGREGATOR_DATABASE_URL", variable)
        problem = f"environment: AGGREGATOR_DATABASE_URL: {problem}"
    elif "database_url" in settings:  # the file's, not the one `env` sets
        monkeypatch.delenv("AGGREGATOR_DATABASE_URL")
    for argv in (["sources", "check"], ["refresh"]):
        assert main(["--config", str(config), *argv]) == EXIT_CONFIG, argv
        err = capsys.readouterr().err
        assert problem in err and "Traceback" not in err, err
    if variable is not None:
        assert "a file path like 'sqlite:///var/aggregator.sqlite'" in err


def test_an_absurd_source_interval_is_refused_before_any_refresh(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [source] = _feed_sources(env, "a")
    config = write_config(env / "config", [{**source, "interval": "5000000d"}])
    assert main(["--config", str(config), "sources", "check"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "sources.toml:7: source[0].interval: duration '5000000d' is too long" in err
    assert "(expected at most 365d)" in err
