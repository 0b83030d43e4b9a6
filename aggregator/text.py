"""Plain text from HTML, and the normalised form behind content fingerprints.

`html_to_text` runs on every title, summary and body of every refresh, so it leans on lxml's
C code: one parse, one C-level strip of script/style, one pass that marks block boundaries,
one ``itertext`` join, then a few regular expressions. Paragraph breaks come out as a blank
line (``"\\n\\n"``), line breaks (``<br>``, list items, table rows) as ``"\\n"``.
"""

from __future__ import annotations

import hashlib
import html as html_module
import re
import threading
import unicodedata
from functools import cache

from lxml import etree

from aggregator.spacing import GLUE, fold_spaces, has_glue, single_spaced

# Elements whose content is never text a reader sees.
_DROPPED = ("script", "style", "noscript", "template", "head", "title", "iframe", "object", "svg")
# Elements that start a paragraph: a blank line before and after.
_PARAGRAPH = (
    "p", "div", "section", "article", "aside", "header", "footer", "main", "nav", "blockquote",
    "pre", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "table", "form",
    "fieldset", "address", "details", "hr",
)  # fmt: skip
# Elements that start a line of their own.
_LINE = ("br", "li", "tr", "dt", "dd", "figcaption", "caption", "summary", "option", "legend")
# Elements whose neighbours must not run together: a space around them.
_CELL = ("td", "th")

# Private-use characters as markers: they survive lxml and cannot be confused with the
# whitespace of the source, which HTML says to fold. Stripped from the input first.
_PARA = "\ue000"  # a paragraph boundary
_LINE_MARK = "\ue001"  # the start of a line element
_BR = "\ue002"  # a <br>: two in a row are a paragraph break, as in many feed summaries
_MARKS = (_PARA, _LINE_MARK, _BR)
_NO_MARKS = dict.fromkeys(map(ord, _MARKS))
_BREAKS = re.compile("[\ue000-\ue002]+")
_PARSERS = threading.local()  # an lxml parser must not be shared between threads
_TAG = re.compile(r"<[^>]*>")  # only for the fallbacks, when lxml cannot read the markup
_DOCUMENT_END = re.compile(r"</\s*(?:html|body)\s*>", re.IGNORECASE)
_TOO_DEEP = etree.ErrorTypes.ERR_RESOURCE_LIMIT  # "Excessive depth in document"
_DEPTH = 256  # libxml2's depth limit without its HUGE option (2,048 with it)
# For `_flat_text`: elements whose content is no text, and tags that break lines.
_DROPPED_ELEMENT = re.compile(
    rf"<({'|'.join(_DROPPED)})\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
_BLOCK_TAG = re.compile(rf"</?(?:{'|'.join(_PARAGRAPH)})\b[^>]*>", re.IGNORECASE)
_LINE_TAG = re.compile(rf"</?({'|'.join(_LINE)})\b[^>]*>", re.IGNORECASE)


# Control characters, and the invisible ones that split words for search and dedupe without
# showing anything: soft hyphen, zero-width space, word joiner, zero-width no-break space
# (a stray byte-order mark). The zero-width joiners stay: emoji and some scripts need them.
_INVISIBLE = "\u00ad\u200b\u2060\ufeff"
# C1 controls (U+0080-U+009F) too: no text has them; a windows-1252 byte read in an ISO
# encoding became one (its "…" an invisible U+0085, which is a line break, so a space).
_CONTROL = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x80-\x9f{_INVISIBLE}]")
_NO_CONTROLS: dict[int, str | None] = {
    **dict.fromkeys(
        [*(c for c in range(32) if chr(c) not in "\t\n\r"), *range(0x80, 0xA0)],
        None,
    ),
    **dict.fromkeys(map(ord, _INVISIBLE), None),
    0x85: " ",
    # Vertical tab and form feed are whitespace: taken out, "Control\vchar" read
    # "Controlchar".
    0x0B: " ",
    0x0C: " ",
}


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML fragment or document; plain text passes through."""
    # The markers are private-use characters: icon fonts put glyphs there, never text.
    if _PARA in html or _LINE_MARK in html or _BR in html:
        html = html.translate(_NO_MARKS)
    if "<" not in html and "&" not in html:
        return fold_plain_text(html)
    if _CONTROL.search(html):
        # lxml keeps them in the text it parses, then refuses them in the text the marks
        # below set: "<p>a\x1fb</p>" raised. They are no text anyway.
        html = html.translate(_NO_CONTROLS)
    lowered = html.lower()
    if "</" in html and ("html" in lowered or "body" in lowered) and _DOCUMENT_END.search(html):
        # libxml2 drops what follows a document's end: a pasted page, then the feed's own
        # paragraph ("</body></html><p>Next steps...") lost its last part.
        html = _DOCUMENT_END.sub("", html)
    html = _unclosed_as_text(html)
    encoded = html.encode("utf-8", "surrogatepass")
    root = _parsed(encoded, _parser())
    # Fewer tags than a parser's depth limit cannot reach it: the error log is read only
    # where it may hold a cut.
    if encoded.count(b"<") >= _DEPTH and _cut(_parser()):
        root = _parsed(encoded, _parser(deep=True))
        if _cut(_parser(deep=True)):
            return _flat_text(html)
    if root is None:  # nothing lxml calls a document (only a comment, only a doctype...)
        return fold_plain_text(_TAG.sub(" ", html))
    etree.strip_elements(root, *_DROPPED, with_tail=False)
    for element in root.iter(*_PARAGRAPH, *_LINE, *_CELL, "pre"):
        tag = element.tag
        if tag == "pre":
            _keep_preformatted_lines(element)
        if tag == "br":
            element.tail = _BR + (element.tail or "")
        elif tag in _LINE:  # one mark before: list items in a row are one line each
            element.text = _LINE_MARK + (element.text or "")
        else:
            mark = " " if tag in _CELL else _PARA
            element.text = mark + (element.text or "")
            element.tail = mark + (element.tail or "")
    return _fold("".join(root.itertext()))


def _parsed(encoded: bytes, parser: etree.HTMLParser) -> etree._Element | None:
    try:
        return etree.fromstring(encoded, parser)
    except (etree.LxmlError, ValueError):
        return None


def _cut(parser: etree.HTMLParser) -> bool:
    """Whether the parser's last document was nested past its depth limit, and cut there."""
    return any(error.type == _TOO_DEEP for error in parser.error_log)


def _unclosed_as_text(html: str) -> str:
    """`html` with each opening tag of an element whose content is no text ("<template>",
    "<title>", "<script>") escaped when the element is never closed: that is a text writing
    about the element ("Why the <template> element matters: ..."), escaped once in an RSS
    description, and as markup it swallowed the rest of the text."""
    # str's own search, not a regex over every text: this runs for each text read, and the
    # case-blind pattern of nine names cost a third of `html_to_text`.
    lowered = html.lower()
    for name in _DROPPED:
        if f"<{name}" in lowered and f"</{name}" not in lowered:
            # (A self-closed one, "<iframe ... />", swallows nothing: it goes as a tag.)
            html = re.sub(rf"<(?={name}\b[^>]*(?<!/)>)", "&lt;", html, flags=re.IGNORECASE)
    return html


def _flat_text(html: str) -> str:
    """The text of markup nested deeper than libxml2 follows (2,048 levels: a newsletter's
    hundreds of unclosed <b> or <font>), where it stops and drops the rest: tags taken out
    by pattern, block ones as breaks, inline ones joining their words."""
    html = _DROPPED_ELEMENT.sub(" ", html)
    html = _BLOCK_TAG.sub(_PARA, html)
    html = _LINE_TAG.sub(lambda tag: _BR if tag.group(1).lower() == "br" else _LINE_MARK, html)
    html = _TAG.sub("", html)
    return _fold(html_module.unescape(html) if "&" in html else html)


def _parser(*, deep: bool = False) -> etree.HTMLParser:
    """This thread's parser; `deep`: the one that follows 2,048 levels (libxml2's HUGE
    option), not 256. Past 256 the rest of a text was dropped (300 unclosed <b> are a real
    newsletter's), but the HUGE parser reads every text a fifth slower: it reads again only
    what the other cut. The document's size is capped by fetch.max_bytes."""
    name = "deep" if deep else "parser"
    parser: etree.HTMLParser | None = getattr(_PARSERS, name, None)
    if parser is None:
        parser = etree.HTMLParser(
            remove_comments=True,
            remove_pis=True,
            no_network=True,
            encoding="utf-8",
            huge_tree=deep,
        )
        setattr(_PARSERS, name, parser)
    return parser


def _keep_preformatted_lines(pre: etree._Element) -> None:
    """Inside <pre>, source newlines are line breaks, not foldable whitespace, and a blank
    line is a paragraph break."""
    if pre.text:
        pre.text = _preformatted(pre.text)
    for child in pre.iterdescendants():
        if child.text:
            child.text = _preformatted(child.text)
        if child.tail:
            child.tail = _preformatted(child.tail)


_BLANK_LINES = re.compile(r"\n[^\S\n]*\n\s*")  # a newline, then only whitespace to the next


def _preformatted(text: str) -> str:
    if "\n" not in text:
        return text
    return _BLANK_LINES.sub(_PARA, text).replace("\n", _LINE_MARK)


# Markup that is markup in a field whose kind nobody declared (an RSS title): a line break,
# Word's "<o:p></o:p>", an image, or a formatting element that is opened and closed again.
# A lone "<template>", "<b>" or "<script>" may be the subject ("Why the <template> element
# matters", "<script>alert(1)</script> XSS found in plugin"): read as HTML, it would swallow
# the rest of the title.
_UNMISTAKABLE_MARKUP = re.compile(
    r"<br\s*/?>"
    r"|</?[a-z]+:[a-z]+\b[^<>]*>"
    r"|<img\b[^<>]*\bsrc\s*="
    r"|<(b|i|em|strong|span|a|sup|sub|u|s|small|mark|font|abbr|cite|q|p|div)\b[^<>]*>"
    r".*?</\1\s*>",
    re.IGNORECASE | re.DOTALL,
)


def has_html_tags(text: str) -> bool:
    """Whether `text` holds markup no plain text would: see `_UNMISTAKABLE_MARKUP`."""
    return "<" in text and _UNMISTAKABLE_MARKUP.search(text) is not None


def plain_as_html(text: str) -> str:
    """Plain text (an Atom type="text" title, a JSON Feed content_text, a page's text) in the
    form `html_to_text` reads back as that text: as it is when nothing in it looks like
    markup, else escaped in a <pre> (lines kept, blank lines as paragraph breaks, as
    `fold_plain_text` keeps them). "List&lt;T&gt;" read as a feed's plain text is "List<T>",
    which must not be taken for a tag. Entities are decoded all the same ("&amp;", "&nbsp;"):
    publishers escape their plain text as if it were HTML far more often than they mean an
    entity literally."""
    if "&" in text:
        text = html_module.unescape(text)
    return decoded_text_as_html(text)


def decoded_text_as_html(text: str) -> str:
    """Text whose entities a parser decoded already (a page's text or attribute value, as a
    browser shows it) in the form `html_to_text` reads back as that very text. A "&lt;" left
    in it is what the page shows: decoding it again made a title read "<b>" where the page
    and the same item's summary say "&lt;b&gt;"."""
    if "<" not in text and "&" not in text:
        return text
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<pre>{escaped}</pre>"


# Python's re costs ~20 ns a character here, str.split/join/replace a tenth of that: the
# folding below uses only the latter, except for the one regex over the (few) break runs.


def _fold(marked: str) -> str:
    if _CONTROL.search(marked):  # written as entities (&shy; &#8203;): decoded only now
        marked = marked.translate(_NO_CONTROLS)
    text = composed(fold_spaces(marked))  # source whitespace, newlines included: a space
    for mark in _MARKS:
        if mark in text:
            text = text.replace(" " + mark, mark).replace(mark + " ", mark)
    text = _BREAKS.sub(_break_for, text).strip(" \n")
    if has_glue(text):  # a no-break space that ends a line or the text holds nothing together
        text = _GLUE_AT_BREAK.sub("", text).strip(" \n" + GLUE)
    return text


_GLUE_AT_BREAK = re.compile(rf"[{GLUE}]+(?=\n)|(?<=\n)[{GLUE}]+")


def _break_for(match: re.Match[str]) -> str:
    run = match.group()
    return "\n\n" if _PARA in run or run.count(_BR) > 1 else "\n"


def fold_plain_text(text: str) -> str:
    """Whitespace of plain text folded: spaces within lines, at most one blank line. Control
    characters (no text; refused by XML, which feeds and digests are written in) go."""
    if _CONTROL.search(text):
        text = text.translate(_NO_CONTROLS)
    text = composed(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\n" not in text:  # one line (most summaries): the loop below would give the same
        return fold_line(text)
    lines: list[str] = []
    blank = False
    for line in text.split("\n"):
        folded = fold_spaces(line)
        if not folded:
            blank = True
            continue
        if blank and lines:
            lines.append("")
        lines.append(folded)
        blank = False
    return "\n".join(lines)


def fold_line(text: str) -> str:
    """All whitespace, line breaks included, folded to single spaces: for titles."""
    if text.isascii():
        if single_spaced(text):
            return text  # folded already, as most texts are by now: a split and a join spared
    else:
        text = composed(text)
    return fold_spaces(text)


def composed(text: str) -> str:
    """`text` in Unicode's composed form (NFC): "é" as one character, not "e" and a combining
    accent. A feed written decomposed (macOS tools write NFD) looks the same, but was stored
    as written, and a search for the word as typed (composed) did not find it on PostgreSQL."""
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)


_ZWJ = "\u200d"
_REGIONAL_INDICATORS = range(0x1F1E6, 0x1F200)


def _continues(char: str) -> bool:
    """Whether `char` belongs to the character before it: a combining mark, a variation
    selector, an emoji skin tone, a tag character, or a joiner."""
    code = ord(char)
    return (
        char == _ZWJ
        or 0xFE00 <= code <= 0xFE0F
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F
        or unicodedata.combining(char) != 0
    )


def whole_characters(text: str, end: int) -> int:
    """`end`, or the index before it where `text[:end]` ends with a whole character as
    readers see it: a cut never leaves half of "👨‍👩‍👧‍👦" (four emoji joined), an accent without
    its letter's mark, or one of a flag's two letters."""
    end = min(end, len(text))
    while 0 < end < len(text) and (_continues(text[end]) or text[end - 1] == _ZWJ):
        end -= 1
    if 0 < end < len(text) and ord(text[end - 1]) in _REGIONAL_INDICATORS:
        run = end
        while run > 0 and ord(text[run - 1]) in _REGIONAL_INDICATORS:
            run -= 1
        if (end - run) % 2:  # a flag's first letter without its second
            end -= 1
    return end


def truncate_words(text: str, limit: int) -> str:
    """`text` on one line, cut on a word boundary to at most `limit` characters plus "…"."""
    line = fold_line(text)
    if len(line) <= limit:
        return line
    cut = line[: limit + 1]
    space = cut.rfind(" ")
    # No space in reach (a long URL, CJK text without spaces): cut mid-word rather than
    # return nothing.
    head = cut[:space] if space > limit // 2 else line[: whole_characters(line, limit)]
    return head.rstrip(" ,;:.-–—") + "…"


TITLE_WORDS = 12  # a title made from the text: about what a headline holds


def fallback_title(text: str, url: str) -> str:
    """The title of an entry whose document gives none: its text's first words, else its
    link."""
    return first_words(text, TITLE_WORDS) if text else url


def first_words(text: str, count: int, limit: int = 100) -> str:
    """The first `count` words of `text` on one line, with "…" when there were more; at most
    `limit` characters (Chinese or Japanese text has no spaces: its "first words" were the
    whole text)."""
    words = fold_line(text).split(" ", count)
    head = " ".join(words[:count])
    if len(head) > limit:
        return truncate_words(head, limit)
    return head if len(words) <= count else head.rstrip(" ,;:.-–—") + "…"


# -- fingerprints -----------------------------------------------------------------------------

FINGERPRINT_VERSION = "v1"


# Printable ASCII punctuation and symbols, and "_" (a word character to `\w`), as spaces.
_ASCII_PUNCTUATION = bytes(
    byte if chr(byte).isalnum() or byte >= 0x80 else 0x20 for byte in range(256)
)


@cache
def _non_ascii_non_word() -> re.Pattern[str]:
    """Non-ASCII characters that are neither word characters nor combining marks.

    Python's ``\\w`` leaves out combining marks (Unicode category M), which carry the vowels
    of Indic scripts and the accents that NFC cannot compose; dropping them would make
    different words equal. The mark ranges are computed once, on first use (~0.1 s).
    """
    ranges: list[str] = []
    start = prev = -2
    for code in range(0x80, 0x110000):
        if unicodedata.category(chr(code))[0] == "M":
            if code != prev + 1:
                if start >= 0:
                    ranges.append(_range(start, prev))
                start = code
            prev = code
    ranges.append(_range(start, prev))
    return re.compile(f"[^\\x00-\\x7f\\w{''.join(ranges)}]+")


def _range(start: int, end: int) -> str:
    return f"\\U{start:08x}" if start == end else f"\\U{start:08x}-\\U{end:08x}"


def _normalised_part(text: str) -> str:
    text = unicodedata.normalize("NFC", text).casefold()
    if not text.isascii():
        text = _non_ascii_non_word().sub(" ", text)
    # ASCII punctuation through bytes.translate: UTF-8 sequences of other characters use
    # bytes >= 0x80 only, which the table keeps.
    encoded = text.encode("utf-8", "surrogatepass").translate(_ASCII_PUNCTUATION)
    return " ".join(encoded.decode("utf-8", "surrogatepass").split())


def normalised_for_hash(title: str, text: str) -> str:
    """Title and text casefolded, accents kept, punctuation and whitespace folded to spaces.

    Title and text are joined by a newline, which cannot occur inside either part, so
    moving a word from the title to the text changes the result.
    """
    return f"{_normalised_part(title)}\n{_normalised_part(text)}"


def content_fingerprint(title: str, text: str) -> str:
    """Versioned SHA-256 of `normalised_for_hash`: "v1:<64 hex digits>"."""
    normalised = normalised_for_hash(title, text).encode("utf-8", "surrogatepass")
    return f"{FINGERPRINT_VERSION}:{hashlib.sha256(normalised).hexdigest()}"


# UTF-8 read as windows-1252 (or Latin-1) and written out again: a lead byte's character
# ("Ã", "â", "Â") right before a continuation byte's ("©", "€", "™", C1 controls). A CMS that
# did so once serves "ministÃ¨re" and "lâ€™" in a document that is itself valid UTF-8, so
# decoding the document right cannot undo it.
_CP1252_CONTINUATIONS = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
_MOJIBAKE = re.compile(f"[\u00c2-\u00f4][\u0080-\u00bf{_CP1252_CONTINUATIONS}]")


def without_mojibake(text: str) -> str:
    """`text` (plain text or markup) with UTF-8 that was read as windows-1252 or Latin-1
    read again as UTF-8 ("lâ€™IntÃ©rieur" -> "l’Intérieur"), by ftfy, which changes only
    what it is sure of. Call it before controls are dropped (`html_to_text`): the bytes
    windows-1252 has no character for (0x81, 0x8D, 0x8F, 0x90, 0x9D, in "č", "ρ", "с") are
    C1 controls in such text, and without them ftfy repaired Czech, Greek or Cyrillic by
    halves. Numeric references of such text ("&#195;&#168;") are read first. Most texts
    have no such pair of characters and are returned as they are, unexamined: ftfy takes
    ~0.2 ms a kilobyte."""
    if text.isascii() and "&#" not in text:
        return text
    referenced = "&#" in text and _LEAD_REFERENCE.search(text) is not None
    if not referenced and _MOJIBAKE.search(text) is None:
        return text  # most texts: nothing read twice ("&#8217;" is a reference of its own)
    read = _HIGH_REFERENCE.sub(_referenced, text) if referenced else text
    if _MOJIBAKE.search(read) is None:
        return text
    import ftfy  # only for the rare text that needs it: ~40 ms of start-up otherwise

    fixed = ftfy.fix_encoding(read)
    return text if fixed == read else fixed


# A reference to a UTF-8 lead byte read as a character ("&#195;", "&#xC3;"): where text
# garbled and then escaped may be.
_LEAD_REFERENCE = re.compile(
    r"&#(?:19[4-9]|2[0-3][0-9]|24[0-4]|[xX]0*[cCdDeE][0-9a-fA-F]|[xX]0*[fF][0-4]);"
)
# A numeric reference beyond ASCII: no markup character, so read in place in markup too.
_HIGH_REFERENCE = re.compile(r"&#(?:[xX]([0-9a-fA-F]{2,6})|([0-9]{3,7}));")


def _referenced(reference: re.Match[str]) -> str:
    value = int(reference[1], 16) if reference[1] else int(reference[2])
    return html_module.unescape(reference[0]) if 0x80 <= value <= 0x10FFFF else reference[0]
