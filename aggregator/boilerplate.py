"""Footers that publishing systems append to every entry of a feed, removed from its text.

They are no part of the statement: in a digest they eat into the summary's few hundred
characters ("The post ... appeared first on ..."), and they make every entry of a source
share a sentence. Only a footer at the very end of the text is removed, and only in these
known forms, so nothing the author wrote is cut.
"""

from __future__ import annotations

import re

# Yoast SEO (on most WordPress sites, EDRi's among them) appends "The post <title> appeared
# first on <site>." to each entry of the feed, in the site's language.
_SITE = r"(?:[^.!?\n]|\.(?!\s))+"  # "netzpolitik.org", not "Y. Then the text goes on"
_WORDPRESS = tuple(
    form.replace("SITE", _SITE)
    for form in (
        r"The post .+ appeared first on SITE",
        r"Der Beitrag .+ erschien zuerst auf SITE",
        r"L[’']article .+ est apparu en premier sur SITE",
        r"Het bericht .+ verscheen eerst op SITE",
        r"La entrada .+ se publicó primero en SITE",
        r"L[’']articolo .+ proviene da SITE",
        r"Artykuł .+ pochodzi z serwisu SITE",
    )
)
# The European Parliament's feeds end every description with its copyright line, on a line
# of its own or after the last sentence.
_EUROPEAN_PARLIAMENT = r"Source\s*:\s*©\s*European Union,\s*\d{4}(?:\s*-\s*EP)?"

_FOOTER = re.compile(
    # A WordPress footer is a paragraph of its own (or follows the last sentence)...
    rf"(?:(?:^|(?<=\n)|(?<=[.!?…]))\s*(?:{'|'.join(_WORDPRESS)})\.?"
    # ...the Parliament's copyright line is distinctive wherever the text ends with it.
    rf"|(?:^|(?<=\s)){_EUROPEAN_PARLIAMENT})\s*\Z"
)


# A footer is a line: only the end of a text is searched (a title and a site name fit).
_TAIL_CHARS = 600


def without_footer(text: str) -> str:
    """`text` without a known publishing-system footer at its end."""
    cut = max(len(text) - _TAIL_CHARS, 0)
    found = _FOOTER.search(text, cut)
    return text if found is None else text[: found.start()].rstrip()
