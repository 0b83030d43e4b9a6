"""The Legislative Observatory's procedure-file page, as a `ProcedureFile`: the fallback
when the open-data API does not answer.

``https://oeil.secure.europarl.europa.eu/oeil/en/procedure-file?reference=2022/0155(COD)``
carries the reference in an ``h2.es_title-h1``, the procedure's title in the next ``h2``, and
a "Key events" table (Date | Event | Reference | Summary) with one row per event:
``dd/mm/yyyy``, an English label such as "Vote in committee, 1st reading", and the documents
(links to doceo or elsewhere, or bare references in ``<span>``s). Everything else on the
page (key players, the documentation gateway, the final act) is ignored.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, Tag

from aggregator.parse.procedure_events import read_oeil_label
from aggregator.parse.procedure_items import Document, ProcedureEvent, ProcedureFile
from aggregator.parse.urls import absolute_http_url

FORMAT = "oeil"
KEY_EVENTS = "key events"
_DOCEO_FILE = re.compile(r"/doceo/document/([A-Za-z0-9-]+?)_[A-Z]{2}\.html$")
_REFERENCE = re.compile(r"\b\d{4}/\d{4}\([A-Z]{3}\)")
_SPACES = re.compile(r"\s+")


class NotAProcedurePage(ValueError):
    """The page has no "Key events" table or no procedure reference."""


def read_oeil_page(text: str, *, base_url: str) -> ProcedureFile:
    soup = BeautifulSoup(text, "lxml")
    reference = _reference(soup)
    table = _key_events_table(soup)
    events: list[ProcedureEvent] = []
    body = table.find("tbody") or table
    for row in body.find_all("tr"):
        cells = row.find_all("td")
        if len(cells) < 2:
            continue  # a header row, or a spacer
        day = _day(cells[0].get_text(" ", strip=True))
        label = _SPACES.sub(" ", cells[1].get_text(" ", strip=True))
        if day is None or not label:
            continue
        kind, stage = read_oeil_label(label)
        documents = _documents(cells[2], base_url) if len(cells) > 2 else ()
        events.append(ProcedureEvent(day=day, kind=kind, stage=stage, documents=documents))
    return ProcedureFile(
        reference=reference,
        title=_title(soup),
        # The page's "Status" names no reading, but says when the procedure is over; the
        # readings come from the events.
        current_stage="FIN" if _status(soup) == "procedure completed" else None,
        events=tuple(events),
        format=FORMAT,
        language="en",  # the /oeil/en/ page; its labels are what the kinds are keyed on
    )


def _reference(soup: BeautifulSoup) -> str:
    for node in (soup.select_one("h2.es_title-h1"), soup.title):
        if node is not None and (found := _REFERENCE.search(node.get_text(" ", strip=True))):
            return found.group(0)
    raise NotAProcedurePage("no procedure reference on the page")


def _status(soup: BeautifulSoup) -> str | None:
    """The "Status" field's text, lower-cased ("procedure completed", "awaiting ...")."""
    for label in soup.find_all("p"):
        if label.get_text(" ", strip=True).lower() == "status":
            value = label.find_next_sibling("p")
            if isinstance(value, Tag):
                return _SPACES.sub(" ", value.get_text(" ", strip=True)).lower() or None
    return None


def _title(soup: BeautifulSoup) -> str | None:
    heading = soup.select_one("h2.es_title-h1")
    following = heading.find_next("h2") if heading is not None else None
    if not isinstance(following, Tag):
        return None
    title = _SPACES.sub(" ", following.get_text(" ", strip=True))
    return title or None


def _key_events_table(soup: BeautifulSoup) -> Tag:
    for heading in soup.find_all(["h2", "h3"]):
        if heading.get_text(" ", strip=True).lower() == KEY_EVENTS:
            table = heading.find_next("table")
            if isinstance(table, Tag):
                return table
    raise NotAProcedurePage('no "Key events" table on the page')


def _day(text: str) -> date | None:
    try:
        return datetime.strptime(text.strip(), "%d/%m/%Y").date()
    except ValueError:
        return None


def _documents(cell: Tag, base_url: str) -> tuple[Document, ...]:
    """Links with a text (the EUR-Lex flag icons have none), then bare references."""
    found: dict[Document, None] = {}
    for node in cell.find_all(["a", "span"]):
        label = _SPACES.sub(" ", node.get_text(" ", strip=True))
        if not label or (node.name == "span" and node.find_parent("a") is not None):
            continue
        if node.name == "span":
            found[Document(label=label, url=None)] = None
            continue
        href = node.get("href")
        url = absolute_http_url(href if isinstance(href, str) else None, base_url)
        doceo = _DOCEO_FILE.search(urlsplit(url).path) if url else None
        if doceo is not None and url is not None:
            # The API names doceo documents by their id ("A-10-2025-0006"), the page by a
            # citation ("A10-0006/2025"): the id, and the link the API reader would make,
            # keep both readers' items the same.
            doc_id = doceo.group(1)
            url = f"https://www.europarl.europa.eu/doceo/document/{doc_id}_EN.html"
            label = doc_id
        found[Document(label=label, url=url)] = None
    return tuple(found)
