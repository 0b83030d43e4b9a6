"""Footers that publishing systems append to every entry of a feed, removed from its text.

They are no part of the statement: in a digest they eat into the summary's few hundred
characters ("The post ... appeared first on ..."), and they make every entry of a source
share a sentence. Only a footer at the very end is removed, and only in forms precise enough
that an author's own last sentence never is:

- WordPress with Yoast SEO (EDRi's site among many) ends each entry's HTML with a paragraph
  made of two links: `<p>The post <a href=...>Title</a> appeared first on <a href=...>Site
  </a>.</p>`, in the site's language, the second link to the site's home page. It is
  recognised in the HTML, links and all: the same words without those links ("L'articolo 7
  del regolamento proviene da una proposta...") are a sentence like any other.
- The European Parliament's feeds end each description with a copyright line, "Source : ©
  European Union, 2024 - EP" (in the feed's language: "Quelle : © Europäische Union, 2024 -
  EP", "Source : © Union européenne, 2024 - PE"), recognised in the text by its "Source"
  label: a photo credit ("Photo: © European Union, 2021") is kept.
"""

from __future__ import annotations

import html as html_module
import re

_YOAST = (  # (opening words, the words between the two links), as Yoast translates them
    ("The post", "appeared first on"),
    ("Der Beitrag", "erschien zuerst auf"),
    ("L'article", "est apparu en premier sur"),
    ("Het bericht", "verscheen eerst op"),
    ("La entrada", "se publicó primero en"),
    ("L'articolo", "proviene da"),
    ("Artykuł", "pochodzi z serwisu"),
)


def _words(phrase: str) -> str:
    return r"\s+".join(re.escape(word) for word in phrase.split())


# One link: its address (the second must be a site's home page) and its text.
_LINK = r"<a\b[^>]*?\bhref\s*=\s*[\"']?(?P<{name}>[^\"'\s>]*)[^>]*>(?:(?!</a\s*>).)*</a\s*>"
_YOAST_PARAGRAPH = re.compile(
    r"<p\b[^>]*>\s*(?:"
    + "|".join(
        rf"{_words(opening)}\s+{_LINK.format(name=f'post{n}')}\s+{_words(between)}\s+"
        + _LINK.format(name=f"site{n}")
        for n, (opening, between) in enumerate(_YOAST)
    )
    + r")\s*\.?\s*</p\s*>",
    re.IGNORECASE | re.DOTALL,
)
# What may follow the paragraph in a feed: a tracking pixel (FeedBurner's), a comment, the
# closing tags of wrappers, whitespace.
_TRAILER = re.compile(
    r"(?:\s|<img\b[^>]*>|<!--.*?-->|</(?:div|section|article|body|html)\s*>|<br\s*/?>)*\Z",
    re.IGNORECASE | re.DOTALL,
)
# Yoast's second link is the site's home page (its BLOGLINK), maybe in a folder or two; an
# author's own links (a document, a page of the site) are not.
_HOME_PAGE = re.compile(r"(?:https?:)?//[^/?#\s]+(?:/[^/?#\s]*){0,2}/?\Z", re.IGNORECASE)
# A footer is short: only the end of a text or document is searched.
_TAIL_CHARS = 1500

# "Source : © European Union, 2024 - EP", in the feed's language: "Source" and the Union's
# name in the 24 EU languages, a year, the Parliament's initials. Only the Parliament's
# label ("Source", never "Photo" or "Credits") and only the whole line: nothing dangles.
_SOURCE = (
    "source|quelle|fonte|fuente|bron|źródło|zdroj|vir|izvor|forrás|sursa|källa|kilde|lähde"
    "|allikas|avots|šaltinis|πηγή|източник|sors|foinse"
)
_UNION = (
    "union|unie|unia|unión|unione|uniunea|unionen|unió|unija|únie|únia|união|unioni|unjoni"
    "|aontas|liit|savienība|sąjunga|ένωση|съюз"
)
_PARLIAMENT = re.compile(
    rf"(?:^|(?<=\s))(?:{_SOURCE})\s*:\s*©\s*[^\n,©]{{0,25}}\b(?:{_UNION})\w*[^\n,©]{{0,25}},"
    r"\s*(?:19|20)\d\d(?:\s*[-–—]\s*(?:[^\W\d_]{2,3})?)?\s*\Z",
    re.IGNORECASE,
)


def without_wordpress_footer(html: str) -> str:
    """An entry's HTML without Yoast's closing "The post ... appeared first on ..." paragraph
    (and a tracking pixel after it). Read with entities resolved (&#039;, &nbsp;, &oacute;)."""
    window = max(len(html) - _TAIL_CHARS, 0)
    lowered = html[window:].lower()
    found_p = lowered.rfind("<p")
    if found_p < 0 or "</a" not in lowered[found_p:]:  # most entries end otherwise: cheap
        return html
    start = window + found_p
    tail = html[start:]
    # Entities resolved in the tail only, markup kept ("&lt;" becomes "<" in no tag name
    # that matters: link texts are skipped whole).
    readable = html_module.unescape(tail).replace("’", "'")
    found = _YOAST_PARAGRAPH.match(readable)
    if found is None or not _TRAILER.fullmatch(readable, found.end()):
        return html
    site = next(
        (value for name, value in found.groupdict().items() if name.startswith("site") and value),
        "",  # href="": no home page
    )
    if not _HOME_PAGE.match(site):
        return html
    return html[:start].rstrip()


# "Read more" links that close an entry, by their words in the EU's languages: a link to
# the article itself, said in words that are no part of the statement.
_READ_MORE_WORDS = (
    r"read (?:the )?(?:full |whole |complete |entire )?(?:article|story|post|more)",
    r"continue reading|read on|(?:read )?more\s*(?:»|›|→|>|&gt;|\.\.\.|…)",
    r"to read this article in full(?:, please click here)?",
    r"click here to read(?: more| the (?:full )?article)?",
    r"lire la suite|lire l['’]article|weiterlesen|mehr lesen",
    # German and Romance "more" links: "mehr...", "Mehr erfahren", "En savoir plus".
    r"mehr erfahren|mehr\s*(?:»|›|→|>|&gt;|\.\.\.|…)|en savoir plus",
    r"(?:scopri|leggi) di più|saber más|más información",
    r"zum (?:ganzen |vollständigen )?artikel",
    r"leggi (?:tutto|di più|l['’]articolo)|continua a leggere|leer más|seguir leyendo",
    r"leia mais|lees (?:meer|verder)|czytaj (?:więcej|dalej)|číst dále|čítať ďalej",
    r"läs mer|læs mere|les mer|lue lisää|citește mai mult|прочети още",
)
_READ_MORE_LINK = re.compile(
    r"<a\b[^>]*>\s*(?:" + "|".join(_READ_MORE_WORDS) + r")"
    r"(?:[\s.:…»›→>\-]|&gt;|&raquo;|&rarr;|&hellip;|&nbsp;|&#\d+;)*</a\s*>",
    re.IGNORECASE,
)
_MARKUP = re.compile(r"<[^>]*>")
_UNSEEN = re.compile(
    r"<(script|style|noscript|template)\b[^>]*>.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL
)
_READ_MORE_TAIL_CHARS = 5000


def without_read_more_link(html: str) -> str:
    """An entry's HTML without a closing "Read full article >>" link: the last text of the
    entry must be that link's (what follows it, share buttons and line breaks, shows no
    words)."""
    # Share buttons after it can take kilobytes of markup (links to a dozen services).
    start = max(len(html) - _READ_MORE_TAIL_CHARS, 0)
    if "</a" not in html[start:].lower():
        return html
    found = list(_READ_MORE_LINK.finditer(html, start))
    if not found:
        return html
    link = found[-1]
    # What no reader sees after it does not count: a <noscript> "enable JavaScript" note.
    unseen = _UNSEEN.sub(" ", html[link.end() :])
    after = html_module.unescape(_MARKUP.sub(" ", unseen))
    before = html[: link.start()].rstrip()
    # On its own: after a tag (a paragraph of its own) or a finished sentence; "learn
    # <a>more »</a>" inside a sentence stays.
    alone = (
        not before
        or before.endswith(">")
        or before[-1] in ".!?…:;»\"'”"
        or _a_button(link[0], before)
    )
    return before if alone and not after.strip() else html


def _a_button(link: str, before: str) -> bool:
    """Whether a read-more link after words of a sentence is a button all the same: its
    words end in an arrow or an ellipsis ("Chansongfest 2017 <a>mehr...</a>"), and a bare
    "more" does not finish the sentence ("learn <a>more »</a>", "Erfahren Sie <a>mehr…</a>")."""
    words = html_module.unescape(_MARKUP.sub("", link)).strip()
    if not _MARKED.search(words):
        return False
    return _BARE_MORE.match(words) is None or _ASKS_FOR_MORE.search(before) is None


# A link's words ending in an arrow or an ellipsis: a button's.
_MARKED = re.compile(r"(?:»|›|→|>|\.\.\.|…)\s*$")
_BARE_MORE = re.compile(r"(?:more|mehr)\b", re.IGNORECASE)
# Words a bare "more" finishes a sentence after: "to learn more", "Erfahren Sie mehr".
_ASKS_FOR_MORE = re.compile(
    r"\b(?:learn|find out|see|discover|read|know|hear|erfahren|sie|lesen|wissen)\s*$",
    re.IGNORECASE,
)


# A plain-text "Leia mais (09/24/2018 - 19h22)" / "Read more »" closing a text: the words of
# a read-more link without the link (a feed that flattened its HTML), after a finished
# sentence, with at most a time stamp in brackets or an arrow after them. "Children should
# read more." stays: the words must be a sentence of their own.
_STAMP = r"(?:\s*\([\d\s/.:,h\-–]{4,30}\))?"
_READ_MORE_SENTENCE = re.compile(
    r"(?<=[.!?…»\"'”)])\s+(?:" + "|".join(_READ_MORE_WORDS) + ")" + _STAMP + r"[\s.:…»›→>\-]*\Z",
    re.IGNORECASE,
)
_READ_MORE_SENTENCE_TAIL = 200


def without_read_more_words(text: str) -> str:
    """A text without a closing plain-text "Leia mais (…)" / "Read more »" sentence."""
    start = max(len(text) - _READ_MORE_SENTENCE_TAIL, 0)
    found = _READ_MORE_SENTENCE.search(text, start)
    return text if found is None else text[: found.start()].rstrip()


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


# A read-more link as html_to_text left it in items stored before it was removed.
_READ_MORE_TEXT = re.compile(
    r"(?:" + "|".join(_READ_MORE_WORDS) + ")" + _STAMP + r"[\s.:…»›→>\-]*", re.IGNORECASE
)


def only_a_footer_removed(before: str, after: str) -> bool:
    """Whether text stored before footers were removed differs from today's reading of the
    same entry by its footer alone: that is no update of the statement (the store takes the
    new text without a revision, and the digest does not mark it updated)."""
    if before == after or not before.startswith(after):
        return False
    rest = before[len(after) :].strip().replace("’", "'")
    return (
        bool(_WORDPRESS_TEXT.fullmatch(rest))
        or bool(_READ_MORE_TEXT.fullmatch(rest))
        or without_copyright_line(rest) == ""
    )
