"""A feed reader for tests that reads each document twice, by feedparser alone and with the
fast path (aggregator/parse/fastfeed.py): the two readings must be equal, and the test can
ask whether the fast path took the document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from aggregator.models import Item, ParsedDocument, Source
from aggregator.normalise import normalise_document
from aggregator.parse import fastfeed
from aggregator.parse.feed import parse_feed
from tests.support_parse import feed_source, fetched

FEED_URL = "https://www.example.org/feeds/news.xml"


class BothPathsReader:
    """Parses a document with the fast path off, then on; the two must agree."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, now: datetime) -> None:
        self.monkeypatch = monkeypatch
        self.now = now  # what `items` normalises against
        self.fast_took_it = False
        real = fastfeed.parse_fast

        def spy(utf8: bytes, headers: Any) -> dict[str, Any] | None:
            result = real(utf8, headers)
            self.fast_took_it = result is not None
            return result

        monkeypatch.setattr(fastfeed, "parse_fast", spy)

    def parse(
        self, document: str, url: str = FEED_URL, *, source: Source | None = None
    ) -> ParsedDocument:
        source = source or feed_source()
        readings = []
        for fast in (False, True):
            self.monkeypatch.setattr(fastfeed, "ENABLED", fast)
            readings.append(parse_feed(source, fetched(document.encode("utf-8"), url)))
        assert readings[1] == readings[0]
        return readings[1]

    def items(
        self, document: str, url: str = FEED_URL, *, source: Source | None = None
    ) -> list[Item]:
        source = source or feed_source()
        return normalise_document(source, self.parse(document, url, source=source), now=self.now)
