"""Stage 2, parse: a fetched document's bytes to a `ParsedDocument` of `RawItem` records.

A plain registry keyed by source kind. `feed` (RSS, Atom, JSON Feed) and `html` (listing pages
scraped with CSS selectors) register here; later kinds add themselves with
``PARSERS[SourceKind.X] = parse_x``. Parsers are top-level functions of plain values so that
the pipeline can run them in a process pool.
"""

from __future__ import annotations

from collections.abc import Callable

from aggregator.errors import ParseError
from aggregator.models import Fetched, ParsedDocument, Source, SourceKind
from aggregator.parse.feed import parse_feed

Parser = Callable[[Source, Fetched], ParsedDocument]


# The listing-page and procedure parsers (BeautifulSoup, soupsieve: ~6 MiB in every parse
# worker) are imported by the first document of their kind; most configs are mostly feeds.
def parse_html(source: Source, fetched: Fetched) -> ParsedDocument:
    from aggregator.parse.html import parse_html

    return parse_html(source, fetched)


def parse_procedure(source: Source, fetched: Fetched) -> ParsedDocument:
    from aggregator.parse.procedure import parse_procedure

    return parse_procedure(source, fetched)


def fallback_urls(source: Source) -> tuple[str, ...]:
    from aggregator.parse.procedure import fallback_urls

    return fallback_urls(source)


PARSERS: dict[SourceKind, Parser] = {
    SourceKind.FEED: parse_feed,
    SourceKind.HTML: parse_html,
    SourceKind.EP_PROCEDURE: parse_procedure,
}


def parse_document(source: Source, fetched: Fetched) -> ParsedDocument:
    """Parse `fetched` with the parser registered for `source.kind`.

    Raises `ParseError` (naming the source) when the bytes are not a document of that kind,
    or when no parser is registered for the kind.
    """
    parser = PARSERS.get(source.kind)
    if parser is None:
        raise ParseError(source.id, f"no parser for source kind {str(source.kind)!r}")
    try:
        return parser(source, fetched)
    except RecursionError as exc:  # json, BeautifulSoup: elements nested thousands deep
        raise ParseError(source.id, "the document is nested too deeply to be read") from exc


__all__ = ["PARSERS", "ParseError", "Parser", "fallback_urls", "parse_document"]
