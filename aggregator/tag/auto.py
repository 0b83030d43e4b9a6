"""Automatic tags: what the source's metadata and the item say about themselves.

org:<kind>              institution, parliament, government, ngo, press
source:<id>             the source id
kind:<source kind>      feed, html, ep-procedure
institution:<slug>      "European Parliament" -> institution:european-parliament
country:<cc>            ISO 3166-1 alpha-2, lower case
lang:<iso639-1>         the item's language (set by normalise), else the source's
procedure:<reference>   each EU procedure reference in the title or text, normalised
stage:<reading>         ep-procedure items: their categories (procedure:, stage:, event:,
                        status:completed once the procedure file says it is over)
...                     and the source's own `tags`, verbatim
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from aggregator.models import Item, Source, SourceKind
from aggregator.tag.fold import fold

# Procedure types of the Parliament's Legislative Observatory (OEIL), current and historic:
# ordinary legislative (COD), consultation (CNS), consent (APP), non-legislative (NLE),
# resolutions (RSP), own-initiative (INI, INL), budget (BUD, BUI), discharge (DEC), delegated
# and implementing acts (DEA, RPS), immunity (IMM), rules (REG), internal organisation (RSO),
# interinstitutional agreements (ACI), institutional (INS), written declarations (DCE),
# Commission strategy (COS), pre-Lisbon cooperation and assent (SYN, AVC).
PROCEDURE_TYPES = (
    *("COD", "CNS", "APP", "NLE", "RSP", "INI", "INL", "BUD", "BUI", "DEC", "DEA"),
    *("RPS", "IMM", "REG", "RSO", "ACI", "INS", "DCE", "COS", "SYN", "AVC"),
)

# "2022/0155(COD)", also "2022/0155 (COD)" and "2022 / 0155 ( cod )" as typed in press texts.
# Digits or a slash right before the year would make it part of something else (a file number).
PROCEDURE_RE = re.compile(
    r"(?<![\d/])((?:19|20)\d{2})\s*/\s*(\d{4})\s*\(\s*(" + "|".join(PROCEDURE_TYPES) + r")\s*\)",
    re.IGNORECASE,
)

# Every match of PROCEDURE_RE has this in it, from its "/" on: tried only where str.find
# (memchr) finds a "/", instead of PROCEDURE_RE trying its lookbehind at every position.
_PROCEDURE_PROBE = re.compile(r"/\s*\d{4}\s*\(")

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """ "Council of the EU" -> "council-of-the-eu"; accents folded."""
    return _NOT_SLUG.sub("-", fold(text).lower()).strip("-")


def procedure_references(texts: Iterable[str]) -> tuple[str, ...]:
    """Every procedure reference in `texts`, normalised ("2022/0155(COD)"), in first-seen order."""
    found: dict[str, None] = {}
    for text in texts:
        # Where the probe matches at a "/", a match can only start at the four digits before
        # it and the whitespace before it. Two matches never overlap (each has one "/", and a
        # year inside another match has a digit or "/" before it, or no "/" after it), so
        # trying each of those starts finds what PROCEDURE_RE.finditer finds, in order.
        slash = text.find("/")
        while slash >= 0:
            if _PROCEDURE_PROBE.match(text, slash) is not None:
                start = slash
                while start > 0 and text[start - 1].isspace():
                    start -= 1
                match = PROCEDURE_RE.match(text, start - 4) if start >= 4 else None
                if match is not None:
                    year, number, kind = match.groups()
                    found[f"{year}/{number}({kind.upper()})"] = None
            slash = text.find("/", slash + 1)
    return tuple(found)


# The tags of the last sources seen, by identity (a source value is immutable, and the entry
# holds it, so its id is not reused while it is here): a refresh tags a source's items one
# after another, and the source's own tags are the same for each.
_SOURCE_TAGS: dict[int, tuple[Source, frozenset[str]]] = {}
_SOURCES_KEPT = 1024


def _source_tags(source: Source) -> frozenset[str]:
    """The automatic tags that come from the source alone."""
    kept = _SOURCE_TAGS.get(id(source))
    if kept is not None and kept[0] is source:
        return kept[1]
    tags = {
        f"org:{source.org.value}",
        f"source:{source.id}",
        f"kind:{source.kind.value}",
        *source.tags,
    }
    if source.institution and (name := slug(source.institution)):
        tags.add(f"institution:{name}")
    if source.country:
        tags.add(f"country:{source.country.strip().lower()}")
    if len(_SOURCE_TAGS) >= _SOURCES_KEPT:
        _SOURCE_TAGS.clear()
    found = frozenset(tags)
    _SOURCE_TAGS[id(source)] = (source, found)
    return found


def automatic_tags(item: Item, source: Source) -> tuple[str, ...]:
    """Tags from source metadata and the item itself; sorted and unique."""
    tags = set(_source_tags(source))
    language = item.language or source.language
    if language:
        # normalise gives ISO 639-1; a region subtag ("pt-BR") would split one language in two.
        tags.add(f"lang:{language.strip().lower().replace('_', '-').split('-')[0]}")
    # Every reference ends with ")": a summary that begins the text up to its last ")" (feeds
    # cut summaries from the text, often ending "…") has none the text has not, with the same
    # character before each. Tags are a set: the order of the references is no matter here.
    if item.text.startswith(item.summary[: item.summary.rfind(")") + 1]):
        texts = [item.title, item.text]
    else:
        texts = [item.title, item.summary, item.text]
    if source.reference:
        texts.append(source.reference)
    tags.update(f"procedure:{ref}" for ref in procedure_references(texts))
    if source.kind is SourceKind.EP_PROCEDURE:
        # The procedure parser writes its categories as tags (procedure:, stage:, event:).
        tags.update(item.categories)
    return tuple(sorted(tags))
