"""Counts in words: "1 source", never "1 sources"."""

from __future__ import annotations

import pytest

from aggregator.words import count


@pytest.mark.parametrize(
    ("number", "noun", "plural", "said"),
    [
        (1, "source", None, "1 source"),
        (0, "source", None, "0 sources"),
        (2, "day", None, "2 days"),
        (3, "entry", "entries", "3 entries"),
        (1, "entry", "entries", "1 entry"),
    ],
)
def test_count(number: int, noun: str, plural: str | None, said: str) -> None:
    assert count(number, noun, plural) == said
