"""Parser for `ep-procedure` sources: one legislative procedure, one item per event.

The source's `url` is the Parliament's open-data API answer for the procedure (JSON-LD,
`procedure_api`); when that fails, the pipeline fetches the procedure's Legislative
Observatory page instead (`fallback_urls`, read by `oeil`). Which reader runs is decided by
the bytes, as for feeds: JSON is the API's answer, anything else must be the OEIL page. Both
give the same items (`procedure_items`), so a day on the fallback neither adds nor changes
the events already stored.

Where the fallback lives: derived from the source's reference. For a source on the
Parliament's API host it is the real OEIL page; for any other http(s) host (a mirror, an
offline replay server, a test server) it is the same path on that host, which is expected to
serve both. A `file://` source has no fallback.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from aggregator.errors import ParseError
from aggregator.models import Fetched, ParsedDocument, Source, SourceKind
from aggregator.parse import guards
from aggregator.parse.encoding import decode, source_language
from aggregator.parse.oeil import NotAProcedurePage, read_oeil_page
from aggregator.parse.procedure_api import NotAProcedure, read_api_json
from aggregator.parse.procedure_items import ProcedureFile, oeil_page_url, raw_items

API_HOST = "data.europarl.europa.eu"
OEIL_PATH = "/oeil/en/procedure-file?reference={reference}"
_JSON_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*[{\[]")


def parse_procedure(source: Source, fetched: Fetched) -> ParsedDocument:
    refused = guards.size_refusal(fetched.content)
    if refused:
        raise ParseError(source.id, refused)
    try:
        procedure = _read(source, fetched)
    except (NotAProcedure, NotAProcedurePage) as exc:
        raise ParseError(source.id, str(exc)) from exc
    if source.reference and procedure.reference != source.reference:
        # Stored, another procedure's events were tagged as this one's and listed under it
        # in the digest (a copied entry whose url still named the procedure it came from).
        raise ParseError(
            source.id,
            f"the document is procedure {procedure.reference}, not {source.reference}: check"
            " the source's url and reference",
        )
    warnings: list[str] = []
    if procedure.untyped:
        warnings.append(
            f"{_events(procedure.untyped)} of procedure {procedure.reference}"
            f" {'says' if procedure.untyped == 1 else 'say'} not what"
            f" {'it is' if procedure.untyped == 1 else 'they are'} (no activity type): skipped"
        )
    if procedure.undated:
        warnings.append(
            f"{_events(procedure.undated)} of procedure {procedure.reference}"
            f" {'has' if procedure.undated == 1 else 'have'} no date, or one that is no date:"
            " skipped"
        )
    if not procedure.events:
        warnings.append(f"procedure {procedure.reference} lists no events")
    title = procedure.reference + (f": {procedure.title}" if procedure.title else "")
    return ParsedDocument(
        items=raw_items(procedure),
        format=procedure.format,
        title=title,
        link=oeil_page_url(procedure.reference),
        language=procedure.language,
        warnings=tuple(warnings),
    )


def _read(source: Source, fetched: Fetched) -> ProcedureFile:
    if _JSON_START.match(fetched.content[:64]):
        return read_api_json(
            fetched.content, language=source_language(source.language, source.country)
        )
    decoded = decode(
        fetched.content,
        fetched.headers.get("content-type"),
        "html",
        language=source_language(source.language, source.country),
    )
    if "<" not in decoded.text[:2048]:
        raise NotAProcedure("neither JSON nor an HTML procedure page")
    return read_oeil_page(decoded.text, base_url=fetched.url)


def _events(count: int) -> str:
    return f"{count} event" if count == 1 else f"{count} events"


def fallback_urls(source: Source) -> tuple[str, ...]:
    """Where to read the procedure when its API URL fails: the OEIL procedure-file page."""
    if source.kind is not SourceKind.EP_PROCEDURE or not source.reference:
        return ()
    parts = urlsplit(source.url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ()
    if parts.hostname == API_HOST:
        return (oeil_page_url(source.reference),)
    path = OEIL_PATH.format(reference=quote(source.reference, safe="/()"))
    return (f"{parts.scheme}://{parts.netloc}{path}",)
