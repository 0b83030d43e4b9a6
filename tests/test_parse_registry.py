"""The parse registry: dispatch by kind, errors naming the source, process-pool safety."""

from __future__ import annotations

import pickle
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import pytest

from aggregator.errors import ParseError
from aggregator.models import ParsedDocument, Selectors, SourceKind
from aggregator.parse import PARSERS, parse_document, parse_html
from aggregator.parse.feed import parse_feed
from tests.support_parse import feed_source, fetched, fixture, html_source


def test_builtin_kinds_are_registered() -> None:
    assert PARSERS[SourceKind.FEED] is parse_feed
    assert PARSERS[SourceKind.HTML] is parse_html  # importing its module on first use


# In a fresh interpreter: what parsing an RSS feed with RFC 822 dates loads.
FEED_ONLY = """
import sys
from tests.support_parse import feed_source, fetched, fixture
from aggregator.parse import parse_document
document = parse_document(feed_source(), fetched(fixture("europarl_press_rss.xml"), "https://x.eu/"))
assert document.items
print(" ".join(sorted(sys.modules)))
"""


def test_a_feed_is_parsed_without_the_page_parsers_or_dateparser() -> None:
    # Both are memory in every parse worker (~10 MiB): loaded for the documents that need them.
    done = subprocess.run(
        [sys.executable, "-c", FEED_ONLY], capture_output=True, text=True, check=True
    )
    loaded = set(done.stdout.split())
    assert "feedparser" in loaded
    assert not loaded & {"bs4", "soupsieve", "dateparser", "aggregator.parse.html"}


def test_unregistered_kind_is_a_parse_error_naming_the_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(PARSERS, SourceKind.EP_PROCEDURE)  # a kind with no parser
    source = replace(feed_source("ep-libe"), kind=SourceKind.EP_PROCEDURE)
    with pytest.raises(ParseError, match="no parser for source kind 'ep-procedure'") as raised:
        parse_document(source, fetched(b"{}", "https://x.eu/"))
    assert raised.value.source_id == "ep-libe"
    assert str(raised.value).startswith("parse failed: 'ep-libe': ")


def test_a_later_kind_registers_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def parse_procedure(source: object, doc: object) -> ParsedDocument:
        calls.append("called")
        return ParsedDocument(items=(), format="ep-procedure")

    monkeypatch.setitem(PARSERS, SourceKind.EP_PROCEDURE, parse_procedure)
    source = replace(feed_source(), kind=SourceKind.EP_PROCEDURE)
    assert parse_document(source, fetched(b"{}", "https://x.eu/")).format == "ep-procedure"
    assert calls == ["called"]


def test_parse_runs_in_a_process_pool() -> None:
    # The pipeline parses across cores: function, arguments and result must pickle.
    feed = (feed_source(), fetched(fixture("europarl_press_rss.xml"), "https://x.eu/rss"))
    selectors = Selectors(item="li.gsc-excerpt-item", title="h3", link="h3 a", date="time")
    page = (
        html_source(selectors),
        fetched(fixture("consilium_press_releases_listing.html"), "https://x.eu/"),
    )
    with ProcessPoolExecutor(max_workers=1) as pool:
        feed_doc = pool.submit(parse_document, *feed).result()
        page_doc = pool.submit(parse_document, *page).result()
    assert feed_doc == parse_document(*feed)
    assert page_doc == parse_document(*page)
    assert pickle.loads(pickle.dumps(page_doc)) == page_doc


def test_parse_error_crosses_a_process_boundary() -> None:
    error = ParseError("ep-libe", "empty document")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.source_id, copy.message, str(copy)) == ("ep-libe", "empty document", str(error))


def test_fetch_errors_keep_their_details_across_processes() -> None:
    from datetime import UTC, datetime

    from aggregator.errors import Blocked, RateLimited

    retry_at = datetime(2026, 11, 25, 12, tzinfo=UTC)
    limited = pickle.loads(
        pickle.dumps(RateLimited("ep", "HTTP 429", retry_at=retry_at, status_code=429))
    )
    assert (limited.retry_at, limited.status_code, limited.kind) == (retry_at, 429, "rate-limited")
    assert str(limited) == "rate limited: 'ep': HTTP 429"
    blocked = pickle.loads(pickle.dumps(Blocked("iwf", "challenge", status_code=403)))
    assert (blocked.kind, blocked.status_code) == ("blocked", 403)
