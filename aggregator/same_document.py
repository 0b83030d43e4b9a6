"""Recognising a document the last refresh read already.

Many servers send no ETag or Last-Modified, or ignore If-None-Match, and answer every fetch
with the whole document; parsing it again finds nothing new (each item is unchanged) at the
CPU cost of a changed feed. A digest of what the document's reading depends on, kept with
the source when its items are saved, lets the next refresh recognise the same document and
skip the CPU stages: the source is then "unchanged", as if it had been parsed.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta

from aggregator import __version__
from aggregator.models import Fetched, Source

# Bump when parsing or normalising a document gives other items or warnings than before (a
# parser fix; 6: blank space before an XML declaration is a warning): every document is
# then read again once. The release is part of the digest too.
READING_VERSION = 6


def document_digest(source: Source, fetched: Fetched) -> str:
    """A digest of the document and of everything its items depend on: the body, the URL it
    came from (relative links resolve against it), its declared content type (the charset),
    the source's configuration (kind, selectors, language...) and the reading code's version.
    """
    digest = hashlib.blake2b(digest_size=16)
    context = (
        f"{__version__}/{READING_VERSION}\0{source!r}\0{fetched.url}\0"
        f"{fetched.headers.get('content-type', '')}\0"
    )
    digest.update(context.encode("utf-8", "surrogatepass"))
    digest.update(fetched.content)
    return digest.hexdigest()


def reading_digest(source: Source) -> str:
    """A digest of the source's configuration that its items depend on: all of it but its
    name, URL (the store follows a changed URL itself), interval and enabled flags. An edit
    to it (a selector fixed, a language given) must read the document again, even where the
    server would answer a conditional request with a 304."""
    reading = replace(source, name="", url="", interval=timedelta(0), enabled=True, verified=True)
    return hashlib.blake2b(
        repr(reading).encode("utf-8", "surrogatepass"), digest_size=16
    ).hexdigest()
