"""Entries' ids as the document writes them, where feedparser gave them resolved.

feedparser resolves an Atom id, and an RSS guid that is a permalink, against the base URI
in force (xml:base, or the document's address, which feed.py gives it only for Atom with
xml:base), as if it were a link: `<id>/posts/bet</id>` is "https://host/posts/bet" to it.
An Atom id is an absolute IRI (RFC 4287 4.2.6), which no base changes: a relative one is
a name, no address, and an RSS guid such as "12345" is no page either. Only a document
that has an xml:base can be read so; for those, the written ids are read again here.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from lxml import etree

_ATOM = "{http://www.w3.org/2005/Atom}"


def written_ids(utf8: bytes, count: int) -> list[str | None] | None:
    """The id (Atom) or guid (RSS) of each entry of `utf8` as written (None for an entry
    without one), in document order, as feedparser lists its `count` entries; None when
    the document is not one we can pair with feedparser's entries (not well-formed, not
    Atom or RSS 2.0, another number of entries)."""
    root = _tree(utf8)
    if root is None:
        return None
    if root.tag == f"{_ATOM}feed":
        entries, id_tag = root.iterchildren(f"{_ATOM}entry"), f"{_ATOM}id"
    elif root.tag == "rss":
        entries, id_tag = root.iter("item"), "guid"
    else:
        return None
    ids = [_first_text(entry, id_tag) for entry in entries]
    return ids if len(ids) == count else None


def resolved_by_feedparser(written: str | None, given: str | None) -> bool:
    """Whether feedparser's id `given` is the relative reference `written` made absolute."""
    if written is None or given is None or written == given:
        return False
    return not _scheme(written) and bool(_scheme(given))


def _scheme(reference: str) -> str:
    try:
        return urlsplit(reference).scheme
    except ValueError:  # an invalid IPv6 literal in the host
        return ""


def _first_text(entry: etree._Element, tag: str) -> str | None:
    # feedparser keeps an entry's first id.
    found = entry.find(tag)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _tree(utf8: bytes) -> etree._Element | None:
    # The guards feed.py relies on: no entities resolved, no DTD, no network, no huge trees.
    parser = etree.XMLParser(
        resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False
    )
    try:
        return etree.fromstring(utf8, parser)
    except (etree.XMLSyntaxError, ValueError):
        return None
