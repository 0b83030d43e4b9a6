"""Counts in words, for the lines operators read: "1 source", "3 sources"."""

from __future__ import annotations


def count(number: int, noun: str, plural: str | None = None) -> str:
    """ "1 source", "2 sources"; `plural` for nouns that do not just take an s."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"
