"""Footers that publishing systems append to every entry of a feed, removed from its text.

They are no part of the statement: in a digest they eat into the summary's few hundred
characters ("The post ... appeared first on ..."), and they make every entry of a source
share a sentence. Only a footer at the very end is removed, and only in forms precise enough
that an author's own last sentence never is:

- WordPress with Yoast SEO (EDRi's site among many) ends each entry's HTML with a paragraph
  made of two links: `<p>The post <a href=...>Title</a> appeared first on <a href=...>Site
  </a>.</p>`, in the site's language. It is recognised in the HTML, links and all: the same
  words in plain text ("L'articolo 7 del regolamento proviene da una proposta...") are a
  sentence like any other.
- The European Parliament's feeds end each description with a copyright line, "Source : ©
  European Union, 2024 - EP" (in the feed's language: "Quelle : © Europäische Union, 2024 -
  EP", "Source : © Union européenne, 2024 - PE"), recognised in the text.
"""

from __future__ import annotations

import re

_LINK = r"<a\b[^>]*>[^<]*(?:<(?!/a\b)[^<]*)*</a>"  # one link, its text without other links
_APOSTROPHE = r"(?:['’]|&#8217;|&#x2019;|&rsquo;)"
_YOAST = (  # (opening words, the words between the two links), as Yoast translates them
    ("The post", "appeared first on"),
    ("Der Beitrag", "erschien zuerst auf"),
    (f"L{_APOSTROPHE}article", "est apparu en premier sur"),
    ("Het bericht", "verscheen eerst op"),
    ("La entrada", "se publicó primero en"),
    (f"L{_APOSTROPHE}articolo", "proviene da"),
    ("Artykuł", "pochodzi z serwisu"),
)
_WORDPRESS = re.compile(
    r"<p\b[^>]*>\s*(?:"
    + "|".join(rf"{opening}\s+{_LINK}\s+{between}\s+{_LINK}" for opening, between in _YOAST)
    + r")\s*\.?\s*</p>\s*\Z",
    re.IGNORECASE,
)
# "Source : © European Union, 2024 - EP": a label word, ©, the Union's name in the feed's
# language ("Union européenne", "Europäische Union", "Unione europea", "Unia Europejska"...),
# a year, and the Parliament's initials; at the very end of the text. A photo credit
# ("Photo: © Reuters, 2024") is not it.
_UNION = r"(?i:union|unie|unia|unión|unione|uniunea|unionen|unió|unija|únie|únia)"
_PARLIAMENT = re.compile(
    r"(?:^|(?<=\s))[^\W\d_]{3,12}\s*:\s*©\s*[^\n,©]{0,20}\b" + _UNION + r"\b[^\n,©]{0,20},"
    r"\s*(?:19|20)\d\d(?:\s*[-–—]\s*(?:[A-ZÄÖÜÉÈÊ]{2,3})?)?\s*\Z"
)
# A footer is short: only the end of a text or document is searched.
_TAIL_CHARS = 1500


def without_wordpress_footer(html: str) -> str:
    """An entry's HTML without Yoast's closing "The post ... appeared first on ..." paragraph."""
    start = max(len(html) - _TAIL_CHARS, 0)
    if html.rstrip()[-4:].lower() != "</p>":  # Yoast's paragraph ends the entry
        return html
    found = _WORDPRESS.search(html, start)
    return html if found is None else html[: found.start()].rstrip()


def without_copyright_line(text: str) -> str:
    """An entry's text without the Parliament's closing copyright line."""
    start = max(len(text) - _TAIL_CHARS, 0)
    if "©" not in text[start:]:  # the regex's cost, on every entry, for the few that have it
        return text
    found = _PARLIAMENT.search(text, start)
    return text if found is None else text[: found.start()].rstrip()


# The WordPress footer as html_to_text left it in items stored before it was removed.
_WORDPRESS_TEXT = re.compile(
    "(?:" + "|".join(rf"{opening} .+ {between} .+" for opening, between in _YOAST) + ")",
    re.IGNORECASE,
)


def only_a_footer_removed(before: str, after: str) -> bool:
    """Whether text stored before footers were removed differs from today's reading of the
    same entry by its footer alone: that is no update of the statement (the store takes the
    new text without a revision, and the digest does not mark it updated)."""
    if before == after or not before.startswith(after):
        return False
    rest = before[len(after) :].strip()
    return bool(_WORDPRESS_TEXT.fullmatch(rest)) or without_copyright_line(rest) == ""
