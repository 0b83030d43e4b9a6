"""Is one item of a source a corrected re-issue of another of its items? Pure: no I/O.

A source corrects a release by re-issuing it: the same title, or the title marked
("Corrigendum: ...", "... (corrected)", "UPDATED: ..."), or the same title at the old address
marked ("/news/a_en" -> "/news/a-corrected_en", "-rev1", "-v2", "/corrigendum/..."), a few
hours later, with one figure, date or name changed. To the template guard that one change
looks like another statement of a template (two Council declarations for two countries also
share their source and their words). What tells them apart is what only a correction
carries: the source's own marker of a correction, in the title or in the address, on an item
that is otherwise the other one. Template siblings carry no such marker: each has its own
address (a slug of its own, or the old slug numbered, "-0", "-2", as a CMS numbers a second
page under one title) and, mostly, a title naming its country or person.

`decide` asks this only of two items of one source that nearly copy each other and differ in
exactly one slot; this module judges the marks, not the texts.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta
from urllib.parse import unquote, urlsplit

from aggregator.dedupe.records import Features
from aggregator.dedupe.signatures import words

# Words a source puts before or after a release's title when it re-issues it corrected or
# updated, in the EU's languages (EN, FR, DE, IT, ES, NL, PL, SV, DA, PT). Compared as
# `words` gives them (casefolded, punctuation dropped): "Corrigendum:" and "(corrected)" are
# one word each. A marker is a whole phrase: "mise à jour", "fe de erratas".
TITLE_MARKERS: frozenset[tuple[str, ...]] = frozenset(
    words(phrase)
    for phrase in (
        # English
        "corrigendum", "correction", "corrected", "corrected version", "erratum", "errata",
        "update", "updated", "revised", "revised version", "amended", "rev",
        # French
        "rectificatif", "rectification", "rectifié", "corrigé", "version corrigée",
        "mise à jour", "mis à jour",
        # German
        "berichtigung", "berichtigt", "korrektur", "korrigiert", "korrigierte fassung",
        "aktualisiert", "aktualisierung",
        # Italian
        "rettifica", "correzione", "corretto", "aggiornato", "aggiornamento",
        # Spanish
        "corrección", "rectificación", "corregido", "fe de erratas", "actualizado",
        "actualización",
        # Dutch
        "correctie", "rectificatie", "gecorrigeerd", "bijgewerkt", "geactualiseerd",
        # Polish
        "sprostowanie", "korekta", "poprawione", "poprawka", "aktualizacja",
        # Swedish, Danish
        "rättelse", "rättad", "korrigerad", "uppdaterad", "berigtigelse", "rettelse",
        "korrigeret", "opdateret",
        # Portuguese
        "retificação", "correção", "corrigido", "atualizado", "atualização",
    )
)  # fmt: skip
_LONGEST_MARKER = max(len(m) for m in TITLE_MARKERS)

# Words a source adds to a release's address for its corrected re-issue: the title markers'
# words as slugs write them (accents dropped), and version numbers ("v2", "rev1"). A number
# alone is no marker: a CMS numbers the second page of one title "-0" or "-2".
URL_MARKERS: frozenset[str] = frozenset(
    unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()
    for marker in TITLE_MARKERS
    for word in marker
    if len(marker) == 1
) | {"corr", "corrige", "rectifie", "rev", "revision"}
# Words that may stand beside a marker in an address ("-corrected-version-2"), not alone.
_URL_FILLERS = frozenset({"version", "fassung"})
_VERSION = re.compile(r"(?:v|rev|r|ver)\d{1,3}")
_NUMBER = re.compile(r"\d{1,3}")
_SLUG_WORD = re.compile(r"[a-z0-9]+")


def is_correction(a: Features, b: Features, window: timedelta) -> bool:
    """Is one of `a` and `b` the other re-issued corrected: one source, published within
    `window` of each other, and the other's title marked as a correction, or the same title
    at the other's address marked (or at the same address)? Symmetric."""
    if a.item.source_id != b.item.source_id:
        return False
    if abs(a.item.published - b.item.published) > window:
        return False
    title_a, title_b = a.tokens[: a.body_start], b.tokens[: b.body_start]
    if not title_a or not title_b:
        return False
    if title_a != title_b:
        return marked_title(title_a, title_b)
    return marked_address(a.item.canonical_url, b.item.canonical_url)


def marked_title(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Is one title the other with correction markers before or after it?"""
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    extra = len(long_) - len(short)
    if extra == 0:
        return False
    if long_[extra:] == short and _only_markers(long_[:extra]):
        return True
    return long_[: len(short)] == short and _only_markers(long_[len(short) :])


def _only_markers(run: tuple[str, ...]) -> bool:
    """Is `run` one or more title markers end to end ("updated", "corrigendum")?"""
    if not run:
        return True
    return any(
        run[:size] in TITLE_MARKERS and _only_markers(run[size:])
        for size in range(1, min(_LONGEST_MARKER, len(run)) + 1)
    )


def marked_address(a: str, b: str) -> bool:
    """Are `a` and `b` one address, or one the other with correction markers inserted in its
    path or query ("a_en" / "a-corrected_en", "ip_26_1" / "ip_26_1_rev1")? Same host."""
    parts_a, parts_b = urlsplit(a), urlsplit(b)
    host_a = parts_a.netloc.lower().removeprefix("www.")
    if not host_a or host_a != parts_b.netloc.lower().removeprefix("www."):
        return False
    slug_a, slug_b = _slug_words(a), _slug_words(b)
    if slug_a == slug_b:
        # One address: the release re-issued in place under a new entry (a new GUID). A
        # bare host is where link-less items point: it names no release.
        return bool(slug_a)
    short, long_ = (slug_a, slug_b) if len(slug_a) <= len(slug_b) else (slug_b, slug_a)
    extra = len(long_) - len(short)
    if extra == 0:
        return False
    # Where the inserted run starts: after the longest common prefix. (Slugs repeating a
    # word around the run, "a-a", give another start with the same answer.)
    start = 0
    while start < len(short) and short[start] == long_[start]:
        start += 1
    if long_[start + extra :] != short[start:]:
        return False
    run = long_[start : start + extra]
    marked = [w in URL_MARKERS or _VERSION.fullmatch(w) is not None for w in run]
    return any(marked) and all(
        flag or w in _URL_FILLERS or _NUMBER.fullmatch(w) is not None
        for w, flag in zip(run, marked, strict=True)
    )


def _slug_words(url: str) -> tuple[str, ...]:
    """The words of a URL's path and query, lower-cased, percent-decoded, accents dropped."""
    parts = urlsplit(url)
    text = unquote(f"{parts.path}?{parts.query}").lower()
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return tuple(_SLUG_WORD.findall(text))
