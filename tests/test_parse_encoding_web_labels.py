"""Encoding labels read as browsers read them, and detection limited to what web pages use."""

from __future__ import annotations

import pytest

from aggregator.parse import parse_document
from aggregator.parse.encoding import decode
from tests.support_parse import feed_source, fetched


def _rss(title: str, declared: str | None = None, language: str | None = None) -> str:
    declaration = f'<?xml version="1.0" encoding="{declared}"?>' if declared else ""
    element = f"<language>{language}</language>" if language else ""
    return (
        f'{declaration}<rss version="2.0"><channel><title>t</title>{element}'
        "<link>https://example.org/</link><item>"
        f"<title>{title}</title><link>https://example.org/1</link>"
        "</item></channel></rss>"
    )


@pytest.mark.parametrize(
    ("label", "written_in", "title"),
    [
        ("Shift_JIS", "cp932", "会議は①第一部と②第二部、髙橋委員～"),
        ("EUC-JP", "euc_jis_2004", "会議は①第一部と②第二部"),
        ("EUC-KR", "cp949", "똠방각하 위원회 보고서"),
        ("GB2312", "gb18030", "镕基总理会见欧盟代表"),
        ("ISO-8859-9", "cp1254", "“Çocukların korunması” – AB"),
    ],
)
def test_a_label_is_read_in_the_windows_code_page_browsers_use_for_it(
    label: str, written_in: str, title: str
) -> None:
    # Windows software writes these labels' documents in its own code page, whose extra
    # characters the label's strict codec refuses: the declaration was thrown away and the
    # detector guessed (Shift_JIS read as cp1256 Arabic).
    data = _rss(title, label).encode(written_in)
    document = parse_document(
        feed_source(), fetched(data, "https://example.org/feed", "application/rss+xml")
    )
    assert document.items[0].title == title
    assert document.warnings == ()


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("de", "Grüne fordern Schutz für Kinder"),
        ("fr", "Contrôle des conversations : la présidence suédoise règle l'accès"),
    ],
)
def test_undeclared_western_text_is_not_read_in_a_dos_or_central_european_code_page(
    language: str, text: str
) -> None:
    # Short Latin-1 pages read as cp775 ("Gr³ne") or cp1250 ("řegle"): a Western language
    # keeps windows-1252, and DOS and Mac code pages are never a web page's encoding.
    page = (
        f'<!doctype html><html lang="{language}"><body><ul><li><h2>{text}</h2>'
        "<p>Kurzmeldung.</p></li></ul></body></html>"
    ).encode("latin-1")
    decoded = decode(page, "text/html", "html", language=language)
    assert decoded.encoding == "cp1252"
    assert text in decoded.text


def test_detection_never_picks_a_dos_or_mac_code_page() -> None:
    feed = _rss("Die Kinder über alles, für immer", language="en").encode("latin-1")
    decoded = decode(feed, "application/rss+xml", "xml", language="en")
    assert decoded.encoding == "cp1252"
    assert "über alles, für" in decoded.text


@pytest.mark.parametrize(
    ("label", "codec", "sibling", "text"),
    [
        ("iso-8859-15", "iso8859_15", "cp1252", "Le cœur de l'Œuvre : 5 €"),
        ("iso-8859-2", "iso8859_2", "cp1250", "Zażółć gęślą jaźń, Kraków"),
        ("iso-8859-5", "iso8859_5", "cp1251", "Москва: новости дня"),
        ("iso-8859-7", "iso8859_7", "cp1253", "Άρθρο για το Συμβούλιο"),
    ],
)
def test_windows_punctuation_under_an_iso_8859_label_is_read_and_the_letters_kept(
    label: str, codec: str, sibling: str, text: str
) -> None:
    # ISO-8859 has C1 controls at 0x80-0x9F, which no text holds: a Word quote or dash
    # pasted in is the Windows sibling's, and was stored as an invisible control ("…"
    # vanished). Only those bytes are: the letters stay what the label says ("ą", "€").
    pasted = "„Rada” – …"
    data = (
        _rss("@@", label)
        .encode("ascii")
        .replace(b"@@", text.encode(codec) + b" " + pasted.encode(sibling))
    )
    document = parse_document(
        feed_source(), fetched(data, "https://example.org/feed", "application/rss+xml")
    )
    assert document.items[0].title == f"{text} {pasted}"


def test_no_c1_control_character_reaches_the_text() -> None:
    from aggregator.text import html_to_text

    assert html_to_text("<p>a\x85b\x93c\x9fd</p>") == "a bcd"


def test_declared_utf8_mixing_windows_1252_entries_keeps_both_kinds_readable() -> None:
    # Older entries in windows-1252, newer ones in UTF-8, the whole declared UTF-8: too few
    # UTF-8 sequences to count as mostly UTF-8, and a single-byte reading (mac_iceland,
    # cp1250) garbled every UTF-8 entry ("Zarzalejos‚Äô report").
    old = "".join(
        f"<item><title>The Council\x92s position on \x93chat control\x94 {n}</title>"
        f"<link>https://e.org/{n}</link></item>"
        for n in range(5)
    ).encode("latin-1")
    new = (
        "<item><title>Zarzalejos’ report – “final” vote</title><link>https://e.org/9</link>"
        "<description>Café.</description></item>"
    ).encode()
    data = (
        _rss("x", "utf-8", language="en").encode().replace(b"</channel>", old + new + b"</channel>")
    )
    document = parse_document(
        feed_source(language="en"),
        fetched(data, "https://e.org/feed", "application/rss+xml; charset=utf-8"),
    )
    titles = [item.title for item in document.items]
    assert titles[1] == "The Council’s position on “chat control” 0"
    assert titles[-1] == "Zarzalejos’ report – “final” vote"
