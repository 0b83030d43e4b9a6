"""The README documents what the command line offers (and stays true when commands change)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from aggregator.cli import build_parser

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_command_is_documented_in_the_readme() -> None:
    commands = subcommands(build_parser())
    assert {"refresh", "sources", "export", "digest", "run"} <= set(commands)
    missing = [name for name in commands if f"`aggregator {name}" not in README]
    assert not missing, f"commands missing from README.md: {missing}"


def test_every_option_of_every_command_is_in_the_readme() -> None:
    missing = []
    for name, parser in subcommands(build_parser()).items():
        for action in parser._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help" and option not in README:
                    missing.append(f"{name} {option}")
    assert not missing, f"options missing from README.md: {missing}"


def test_readme_opens_with_the_two_setup_commands() -> None:
    setup = README.split("## ", 2)[1]
    assert re.search(r"^make run\b", setup, re.M) and re.search(r"^make test\b", setup, re.M)


def test_exit_codes_are_documented() -> None:
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 3 |"):
        assert code in README
