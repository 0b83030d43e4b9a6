"""The pattern language of config/tags.toml, and its error. Compiled once, at load time
(phrase.py, regex.py, anyof.py); matched against a `Haystack` per item.

A pattern is one of:

- a plain phrase: ``"chat control"``. Whole words only: it matches where no letter or digit
  touches either end, so "CSAR" matches "CSAR," and "#CSAR" but not "CSARS" or "Csarnok".
  Case and accents are folded ("Contrôle" matches "controle", "Straße" matches "strasse").
  A space in a phrase stands for any run of spaces or hyphens ("chat control" matches
  "chat-control" and a URL slug "chat-control-1-0"); a hyphen stands for a hyphen, a space or
  nothing ("client-side" matches "client side" and "clientside").
- a phrase ending in ``*``: the last word is a prefix ("detection order*" matches "detection
  orders"; "chatkontroll*" matches "Chatkontrolle").
- ``re:`` and a Python regular expression, searched in the same folded text (accents removed,
  whitespace collapsed), case-insensitively. Write word boundaries yourself (``\\b``).
  An expression written in lower case runs on the lower-cased text without the IGNORECASE
  flag, which is six times faster and means the same; one with capital letters runs on the
  text with its case kept, so ``(?-i:DSA)`` can ask for upper case.
"""

from __future__ import annotations

REGEX_PREFIX = "re:"


class PatternError(ValueError):
    """A pattern is not valid. The loader turns it into a ConfigError with file and line."""

    def __init__(self, pattern: object, message: str, expected: str | None = None) -> None:
        self.pattern = pattern
        self.message = message
        self.expected = expected
        super().__init__(f"{pattern!r}: {message}")
