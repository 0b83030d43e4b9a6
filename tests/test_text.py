"""Plain text from HTML (hand-written cases and real article pages), and text fingerprints."""

from __future__ import annotations

import html
import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from aggregator.digest import shorten
from aggregator.text import (
    content_fingerprint,
    first_words,
    fold_plain_text,
    html_to_text,
    normalised_for_hash,
    plain_as_html,
    truncate_words,
)

HTML_CASES = [
    # (id, html, expected text)
    ("plain-text-passes", "Chat control vote postponed", "Chat control vote postponed"),
    ("plain-text-whitespace", "  a \t b\r\n\r\n\r\n c  ", "a b\n\nc"),
    ("named-entities", "Tom &amp; Jerry &eacute;t&eacute; &lt;b&gt;", "Tom & Jerry été <b>"),
    ("numeric-entities", "&#8220;CSAM&#x201D; &#8211; EU", "“CSAM” – EU"),
    # kept as written: it holds "EU" and "regulation" on one line of a plain-text digest
    ("nbsp-between-words-is-kept", "EU&nbsp;regulation", "EU\u00a0regulation"),
    ("nbsp-beside-a-space-is-folded", "EU&nbsp; regulation", "EU regulation"),
    ("bare-ampersand", "Press & media", "Press & media"),
    ("less-than-in-text", "a < b and c > d", "a < b and c > d"),
    ("inline-tags-no-break", "The <b>Council</b> <a href='x'>agreed</a>.", "The Council agreed."),
    ("paragraphs", "<p>First.</p><p>Second.</p>", "First.\n\nSecond."),
    ("headings-and-divs", "<h2>Title</h2><div>Body</div>tail", "Title\n\nBody\n\ntail"),
    ("br-is-a-line", "line one<br>line two", "line one\nline two"),
    ("double-br-is-a-paragraph", "one<br/><br />two", "one\n\ntwo"),
    ("list-items-lines", "<ul><li>a</li><li>b</li></ul>after", "a\nb\n\nafter"),
    ("table-cells-spaced", "<table><tr><td>a<td>b</tr><tr><td>c</td></tr></table>", "a b\nc"),
    ("script-dropped", "<p>Hi</p><script>function f() { return 1 }</script><p>you", "Hi\n\nyou"),
    ("style-dropped", "<style>p { color: red; }</style>Text", "Text"),
    ("noscript-template-dropped", "a<noscript>JS!</noscript><template><p>t</template>b", "ab"),
    ("tail-after-script-kept", "<script>x()</script>after", "after"),
    ("comment-dropped", "a <!-- hidden --> b", "a b"),
    ("only-a-comment", "<!-- nothing -->", ""),
    ("pre-keeps-lines", "<pre>line 1\n  line 2</pre>", "line 1\nline 2"),
    ("pre-blank-line-paragraph", "<pre>Ack.\n \nAlso.\nOK</pre>", "Ack.\n\nAlso.\nOK"),
    ("source-newlines-fold", "<p>one\ntwo\n\nthree</p>", "one two three"),
    ("full-document-head-dropped", "<html><head><title>T</title></head><body>B</body>", "B"),
    ("cdata-like-summary", "<![CDATA[x]]>Text", "Text"),
    ("empty", "", ""),
    ("markers-in-input-ignored", "a\ue000b<br>c", "ab\nc"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("html", "expected"), [c[1:] for c in HTML_CASES], ids=[c[0] for c in HTML_CASES]
)
def test_html_to_text(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


@settings(max_examples=200)
@given(st.text())
def test_html_to_text_never_raises_and_is_folded(html: str) -> None:
    text = html_to_text(html)
    assert text == text.strip(" \n")
    assert "\n\n\n" not in text
    assert not re.search(r"[\ue000-\ue002]", text)


@given(st.text(st.characters(blacklist_characters="<&"), max_size=200))
def test_plain_text_fast_path_is_a_fold(text: str) -> None:
    assert html_to_text(text) == fold_plain_text(text.translate(NO_MARKERS))


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_plain_text_as_html_reads_back_as_itself(text: str) -> None:
    # A plain-text field ("List<T> & more", "Kids <13") survives the HTML reading: the same
    # text as folding it, markup-looking characters and paragraphs included.
    plain = text.translate(NO_MARKERS).translate(NO_CONTROLS)
    decoded = html.unescape(plain).translate(NO_MARKERS).translate(NO_CONTROLS)
    assert html_to_text(plain_as_html(plain)) == fold_plain_text(decoded)


def test_plain_text_entities_are_decoded_and_its_angle_brackets_kept() -> None:
    assert html_to_text(plain_as_html("Köln &amp; Düsseldorf")) == "Köln & Düsseldorf"
    assert html_to_text(plain_as_html("a&nbsp;b <c>")) == "a\u00a0b <c>"


NO_CONTROLS = dict.fromkeys(c for c in range(32) if chr(c) not in "\t\n\r")


@settings(max_examples=200)
@given(st.text(st.sampled_from("<p>a</p>\x01\x1f\x0b<pre>\n <br>&amp;"), max_size=60))
def test_control_characters_in_markup_are_dropped_not_fatal(html: str) -> None:
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", html_to_text(html))


@pytest.mark.parametrize("control", ["\x0b", "\x0c"])
def test_a_vertical_tab_or_form_feed_separates_words(control: str) -> None:
    # Taken out like the other controls, it joined the words: "Controlchar in title".
    assert html_to_text(f"Control{control}char in title") == "Control char in title"
    assert html_to_text(plain_as_html(f"Control{control}char")) == "Control char"


# -- real article pages ---------------------------------------------------------------------------

NO_MARKERS = dict.fromkeys(range(0xE000, 0xE003))
ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
CSS_RULE = re.compile(r"[\w\-#.\]]\s*\{[^{}]*:[^{}]*;")


def _articles(corpus: Path) -> list[Path]:
    paths = sorted((corpus / "html" / "article").glob("*.html"))
    assert paths, "corpus/html/article holds no pages"
    return paths


def _hidden_lines(raw: bytes) -> list[str]:
    """Distinctive lines of the page's own script and style bodies, read with lxml."""
    root = etree.fromstring(raw, etree.HTMLParser())
    lines: list[str] = []
    for element in root.iter("script", "style"):
        for line in (element.text or "").splitlines():
            line = line.strip()
            if len(line) >= 30:
                lines.append(" ".join(line.split()))
    return lines


@pytest.mark.corpus
def test_article_pages_never_leak_scripts_or_styles(corpus: Path) -> None:
    checked_lines = 0
    for path in _articles(corpus):
        raw = path.read_bytes()
        text = html_to_text(raw.decode("utf-8", "replace"))
        assert len(text) > 1000, path.name
        assert "function(" not in text, path.name
        assert "function (" not in text, path.name
        assert not CSS_RULE.search(text), (path.name, CSS_RULE.search(text))
        assert not ENTITY.search(text), (path.name, ENTITY.search(text))
        folded = " ".join(text.split())
        for line in _hidden_lines(raw):
            assert line not in folded, (path.name, line)
            checked_lines += 1
    assert checked_lines > 100  # the pages do carry scripts and styles to leak


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("name", "paragraph"),
    [
        (
            "europarl_press-room_20221014IPR43206.html",
            "To help the EU become climate neutral, MEPs want car-recharging stations every 60 km,"
            " hydrogen refuelling stations every 100 km and fewer emissions from ships.",
        ),
        (
            "tagesschau_de_rheinmetall_trafilatura.html",
            "Von Volkmar Kabisch, Jan Lukas Strozyk und Benedikt Strunz, NDR",
        ),
    ],
)
def test_article_paragraphs_stand_alone(corpus: Path, name: str, paragraph: str) -> None:
    text = html_to_text((corpus / "html" / "article" / name).read_text("utf-8"))
    assert f"\n\n{paragraph}\n\n" in text


# -- summaries and titles ----------------------------------------------------------------------


def test_truncate_words_cuts_on_a_word_boundary() -> None:
    text = "The Council and Parliament reached a provisional agreement on the regulation"
    short = truncate_words(text, 30)
    assert short == "The Council and Parliament…"
    assert len(short) <= 31
    assert truncate_words("short\n\ntext", 30) == "short text"


def test_truncate_words_without_spaces_cuts_mid_word() -> None:
    assert (
        truncate_words("欧洲议会今天通过了关于打击网络儿童性虐待的条例立场", 10)
        == "欧洲议会今天通过了关…"
    )


def test_first_words() -> None:
    assert first_words("one two, three", 2) == "one two…"
    assert first_words("one two", 2) == "one two"
    # Text without spaces (Chinese, Japanese) is cut at the limit, not taken whole.
    chinese = "美国白宫称，将提名驻阿富汗美军司令官约翰艾伦为北约最高司令官。" * 20
    assert first_words(chinese, 12, limit=40) == chinese[:40] + "…"
    assert first_words("one two three", 12, limit=7) == "one two…"


# -- fingerprints -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("Chat Control", "The vote."), ("chat control", "the vote")),
        (("Chat-Control!", "“The” vote…"), ("Chat Control", "The vote")),
        (("STRASSE", "x"), ("straße", "x")),  # casefold, not lower
        (("Café", "x"), (unicodedata.normalize("NFD", "Café"), "x")),  # NFC first
        (("a  b", "c\n\nd"), ("a b", "c d")),
        (("snake_case", "x"), ("snake case", "x")),
    ],
)
def test_fingerprint_ignores_case_punctuation_and_spacing(
    a: tuple[str, str], b: tuple[str, str]
) -> None:
    assert normalised_for_hash(*a) == normalised_for_hash(*b)
    assert content_fingerprint(*a) == content_fingerprint(*b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("Café", "x"), ("Cafe", "x")),  # accents kept
        (("कि", "x"), ("का", "x")),  # combining vowel signs kept
        (("a b", "c"), ("a", "b c")),  # the title/text boundary counts
        (("vote 2023", "x"), ("vote 2024", "x")),
    ],
)
def test_fingerprint_tells_real_differences_apart(a: tuple[str, str], b: tuple[str, str]) -> None:
    assert content_fingerprint(*a) != content_fingerprint(*b)


def test_fingerprint_is_versioned_sha256() -> None:
    assert re.fullmatch(r"v1:[0-9a-f]{64}", content_fingerprint("t", "x"))


@settings(max_examples=200)
@given(st.text(), st.text())
def test_normalised_form_is_a_fixed_point(title: str, text: str) -> None:
    normal = normalised_for_hash(title, text)
    normal_title, normal_text = normal.split("\n")
    assert normalised_for_hash(normal_title, normal_text) == normal
    assert normal_title == normal_title.strip()
    assert "  " not in normal


def test_invisible_word_splitters_are_dropped_but_joiners_kept() -> None:
    # A soft hyphen or zero-width space inside "Chatkontrolle" hides it from search and
    # dedupe; the zero-width joiner holds an emoji sequence together.
    assert html_to_text("<p>Chat\u00adkon\u200btrolle\u2060 \ufeffvote</p>") == (
        "Chatkontrolle vote"
    )
    assert fold_plain_text("Chat\u00adkontrolle \U0001f468\u200d\U0001f469") == (
        "Chatkontrolle \U0001f468\u200d\U0001f469"
    )


def test_invisible_characters_written_as_entities_are_dropped_too() -> None:
    html = "<p>Kinder&shy;schutz, Ver&#8203;schl\u00fcsselung, Wort&#x2060;verbinder&#xAD;</p>"
    assert html_to_text(html) == "Kinderschutz, Verschl\u00fcsselung, Wortverbinder"


FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # four joined emoji


@pytest.mark.parametrize(
    "tail",
    [
        FAMILY + FAMILY + " tail",
        "q\u0301" * 20,  # a letter and a combining accent it has no composed form with
        "\U0001f1ea\U0001f1fa" * 10,  # the EU flag: two regional indicators each
        "\U0001f44d\U0001f3fd" * 10,  # a thumb and its skin tone
    ],
    ids=["joined-emoji", "combining", "flags", "skin-tone"],
)
def test_a_cut_never_splits_a_character_as_readers_see_it(tail: str) -> None:
    # "x" * 396 + two family emoji: cut at 400, the second became a man and a woman.
    for start in range(390, 401):
        text = "x" * start + tail
        for cut in (truncate_words(text, 400).removesuffix("…"), shorten(text).removesuffix("…")):
            rest = text[len(cut) :]
            assert text.startswith(cut) and len(cut) >= 380
            assert not cut.endswith("\u200d"), start
            assert not rest or not (
                rest[0] == "\u200d"
                or unicodedata.combining(rest[0])
                or "\U0001f3fb" <= rest[0] <= "\U0001f3ff"
            ), start
            flag_letters = len(cut) - len(cut.rstrip("".join(map(chr, range(0x1F1E6, 0x1F200)))))
            assert flag_letters % 2 == 0, start


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        # French typography: a no-break space before ":" "%", inside « » and in "32 000".
        ("ECPAT France\u00a0: «\u00a0contrôle\u00a0» — 10\u202f000", None),
        ("des amendes de 6\u00a0% du chiffre d'affaires", None),
        # Beside other spaces (editors' "&nbsp; "), or ending a line, it is folded with them.
        ("The end.\u00a0 Next sentence", "The end. Next sentence"),
        ("\u00a0Title\u00a0", "Title"),
    ],
)
def test_a_no_break_space_between_words_is_kept_as_written(
    written: str, stored: str | None
) -> None:
    expected = written if stored is None else stored
    assert fold_plain_text(written) == expected
    assert html_to_text(f"<p>{written}</p>") == expected
    # The content hash reads it as a space: an item stored before, folded, is not "updated".
    assert content_fingerprint(expected, "") == content_fingerprint(" ".join(expected.split()), "")


def test_a_no_break_space_before_a_line_break_goes() -> None:
    assert html_to_text("<p>First.\u00a0</p><p>\u00a0Second.</p>") == "First.\n\nSecond."


def test_text_after_hundreds_of_unclosed_inline_tags_is_kept() -> None:
    # A newsletter's 300 unclosed <b>: libxml2 stopped at 256 levels and dropped the rest.
    html = (
        "<p>Weekly digest</p>"
        + "".join(f"<b>Decision {n}: adopted.<br>" for n in range(300))
        + "<p>End of digest. Contact press@example.org.</p>"
    )
    text = html_to_text(html)
    assert "Decision 299: adopted." in text
    assert text.endswith("Decision 299: adopted.\n\nEnd of digest. Contact press@example.org.")


def test_text_nested_deeper_than_the_parser_follows_is_read_flat() -> None:
    # Past libxml2's hard limit too: the tags go by pattern, blocks still break paragraphs,
    # and what is no text (a script) still goes.
    html = (
        "<p>Weekly digest</p>"
        + "".join(f"<font>Decision {n}: <i>adopted</i>.<br>" for n in range(3000))
        + "<script>var x = 1;</script><div>End &amp; contacts.</div>"
    )
    text = html_to_text(html)
    assert text.startswith("Weekly digest\n\nDecision 0: adopted.\nDecision 1: adopted.\n")
    assert text.endswith("Decision 2999: adopted.\n\nEnd & contacts.")
    assert "var x" not in text


def test_text_after_a_pasted_page_s_end_is_kept() -> None:
    html = (
        "<html><body><p>The committee adopted its report by 45 votes to 12.</p></body></html>"
        "<p>Next steps: the plenary vote is scheduled for 14 December.</p>"
    )
    assert html_to_text(html) == (
        "The committee adopted its report by 45 votes to 12.\n\n"
        "Next steps: the plenary vote is scheduled for 14 December."
    )


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        # An RSS description writing about the element, escaped once: as markup, the unclosed
        # element swallowed the rest of the text (the digest read "Why the").
        (
            "Why the <template> element matters: it holds markup the browser does not render.",
            "Why the <template> element matters: it holds markup the browser does not render.",
        ),
        (
            "<p>The <title> element names the page; search engines show it.</p>",
            "The <title> element names the page; search engines show it.",
        ),
        # Closed, or self-closed, they are markup whose content is no text, as before.
        ("<p>a</p><script>var x = 1;</script><p>b</p>", "a\n\nb"),
        ("<p>keep <svg viewBox='0 0 1 1'/> this</p>", "keep this"),
    ],
)
def test_an_element_of_no_text_never_closed_is_text_not_a_swallowing_tag(
    html: str, expected: str
) -> None:
    assert html_to_text(html) == expected
