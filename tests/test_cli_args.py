"""Command-line values: each bad one is a usage error (exit 2) naming the option, never a
traceback."""

from __future__ import annotations

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
    ],
)
def test_since_out_of_range_or_garbage_is_a_usage_error(text: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        parse_since(text, now=NOW)


def test_commands_exit_2_on_such_values(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(env / "config", [])
    for argv in (
        ["export", "--since", "1000000d"],
        ["clusters", "--since", "0001-01-01T00:00+01:00"],
        ["replay", "--window-days", "99999999999"],
        ["clusters", "--min-size", "9223372036854775808"],
    ):
        assert main(["--config", str(config), *argv]) == EXIT_CONFIG, argv
        err = capsys.readouterr().err
        assert err.startswith("aggregator: --") and "Traceback" not in err, err
