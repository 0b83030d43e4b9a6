"""UTF-8 with a few invalid bytes stays UTF-8; documents in other encodings stay theirs.

One stray byte (a "©" pasted from a windows-1252 template) used to make strict UTF-8 fail,
the utf-8 label be dropped and detection pick a single-byte encoding for the whole document:
every "ü" became "ĂĽ". Now bytes that are mostly UTF-8 are read as UTF-8, each stray byte as
windows-1252 and each cut-off sequence as U+FFFD, with a warning.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.models import Selectors
from aggregator.parse import parse_document
from aggregator.parse.encoding import codec_name, decode
from tests.support_parse import feed_source, fetched, html_source

UMLAUT_TITLE = "Überwachung: Bundestag berät über die Chatkontrolle"
UMLAUT_TEXT = "Größere Änderungen für Straßen und Plätze sind geplant."


def rss(title: str, description: str, encoding: str = "utf-8") -> str:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><title>t</title>'
        "<link>https://example.de/</link><item>"
        f"<title>{title}</title><link>https://example.de/b/1</link>"
        "<pubDate>Mon, 09 Mar 2026 10:00:00 +0100</pubDate>"
        f"<description>{description}</description></item></channel></rss>"
    )


# The defect's repro: valid UTF-8 throughout but for the single byte 0xA9 near the end.
STRAY_COPYRIGHT = (
    rss(UMLAUT_TITLE, f"{UMLAUT_TEXT} Copyright @@ 2026").encode().replace(b"@@", b"\xa9")
)


def test_one_stray_byte_keeps_a_utf8_feed_utf8() -> None:
    doc = parse_document(feed_source(), fetched(STRAY_COPYRIGHT, "https://example.de/feed.xml"))
    (item,) = doc.items
    assert item.title == UMLAUT_TITLE
    assert item.summary == f"{UMLAUT_TEXT} Copyright © 2026"  # the stray read as windows-1252
    assert "invalid utf-8 in 1 place: read as windows-1252" in doc.warnings


def test_one_stray_byte_under_a_utf8_http_charset() -> None:
    doc = parse_document(
        feed_source(),
        fetched(
            STRAY_COPYRIGHT, "https://example.de/feed.xml", "application/rss+xml; charset=utf-8"
        ),
    )
    assert doc.items[0].title == UMLAUT_TITLE


def test_stale_latin1_http_charset_loses_to_mostly_utf8_bytes() -> None:
    decoded = decode(STRAY_COPYRIGHT, "text/xml; charset=iso-8859-1", "xml")
    assert decoded.encoding == "utf_8"
    assert UMLAUT_TITLE in decoded.text and "Copyright © 2026" in decoded.text
    assert decoded.declared == "iso-8859-1"
    assert decoded.warnings == (
        "HTTP charset 'iso-8859-1' does not match the bytes: read as utf-8",
        "invalid utf-8 in 1 place: read as windows-1252",
    )


def test_cut_off_sequences_and_unmapped_bytes_become_replacement_characters() -> None:
    # "…" (E2 80 A6) cut after two bytes, and 0x81, which windows-1252 leaves undefined.
    data = rss(UMLAUT_TITLE, f"{UMLAUT_TEXT} Mehr@@ Seite 1@!").encode()
    data = data.replace(b"@@", b"\xe2\x80").replace(b"@!", b"\x81")
    decoded = decode(data, None, "xml")
    assert decoded.encoding == "utf_8"
    assert f"{UMLAUT_TEXT} Mehr\ufffd Seite 1\ufffd" in decoded.text
    assert decoded.warnings == ("invalid utf-8 in 2 places: replaced by U+FFFD",)


@pytest.mark.corpus
def test_corpus_linenoise_reads_as_utf8(corpus: Path) -> None:
    data = (corpus / "edgecases/feedparser__encoding_bozo_linenoise.xml").read_bytes()
    doc = parse_document(feed_source(), fetched(data, "https://feeds.example.org/feed.xml"))
    # E2 80 99 and E2 80 9D are valid UTF-8 quotes; the lone A9 is windows-1252's "©".
    assert doc.items[0].summary == "’<>”©"
    assert "invalid utf-8 in 1 place: read as windows-1252" in doc.warnings


def test_windows_1252_declared_utf8_is_still_windows_1252() -> None:
    # No valid multi-byte sequence at all: the label lies, the bytes are windows-1252.
    data = rss(UMLAUT_TITLE, "Die „Chatkontrolle“ – Größe €").encode("cp1252")
    doc = parse_document(feed_source(), fetched(data, "https://example.de/feed.xml"))
    (item,) = doc.items
    assert item.title == UMLAUT_TITLE
    assert item.summary == "Die „Chatkontrolle“ – Größe €"
    assert not any("invalid utf-8" in warning for warning in doc.warnings)


def test_windows_1252_with_an_accidental_utf8_pair_is_still_windows_1252() -> None:
    # "ß" before a no-break space is DF A0, valid UTF-8 (U+07E0) by chance; one such pair
    # among many invalid bytes is no evidence of UTF-8.
    text = "Er sagte, daß\xa0die Überwachung der Chats für Bürger schädlich wäre."
    data = rss(UMLAUT_TITLE, text).encode("cp1252")
    decoded = decode(data, "text/xml; charset=utf-8", "xml")
    assert decoded.encoding != "utf_8"  # detection's pick (cp1250 reads these letters alike)
    assert text in decoded.text and UMLAUT_TITLE in decoded.text


@pytest.mark.parametrize(
    ("codec", "text"),
    [
        ("koi8_r", "Как пережить новогоднюю ночь: советы врачей и психологов"),
        ("iso8859_2", "Žluťoučký kůň úpěl ďábelské ódy. Řeč, Čechy, Ústí nad Labem"),
        ("iso8859_7", "Το Ευρωπαϊκό Κοινοβούλιο συζήτησε τους νέους κανόνες. «ΚΑΛΗΜΈΡΑ»"),
        ("euc_jp", "日本政府は本日、新しい規則について欧州連合と協議したと発表しました。"),
        ("gbk", "白宫提名艾伦为北约最高司令官"),
    ],
)
def test_declared_legacy_encodings_under_a_lying_utf8_charset(codec: str, text: str) -> None:
    data = rss(text, text, encoding=codec).encode(codec)
    decoded = decode(data, "application/rss+xml; charset=utf-8", "xml")
    assert decoded.encoding == codec_name(codec)  # a superset for euc_jp and gbk
    assert decoded.text == data.decode(codec)


LISTING = Selectors(item="li.teaser", title="h2", link="a@href", summary="p")


def test_html_listing_with_a_stray_byte_keeps_its_utf8() -> None:
    page = (
        '<!doctype html><html lang="de"><head><meta charset="utf-8"><title>Presse</title>'
        "</head><body><ul>"
        f'<li class="teaser"><h2>{UMLAUT_TITLE}</h2><a href="/presse/1">mehr</a>'
        f"<p>{UMLAUT_TEXT}</p></li>"
        "</ul><footer>@@ 2026 Bundesministerium</footer></body></html>"
    ).encode()
    page = page.replace(b"@@", b"\xa9")
    doc = parse_document(
        html_source(LISTING, language="de"),
        fetched(page, "https://www.example.de/presse/", "text/html"),
    )
    (item,) = doc.items
    assert item.title == UMLAUT_TITLE
    assert item.summary == UMLAUT_TEXT
    assert item.url == "https://www.example.de/presse/1"
    assert "invalid utf-8 in 1 place: read as windows-1252" in doc.warnings


def test_html_page_in_windows_1252_under_a_utf8_meta_is_still_windows_1252() -> None:
    page = (
        '<!doctype html><html lang="de"><head><meta charset="utf-8"><title>Presse</title>'
        "</head><body><ul>"
        f'<li class="teaser"><h2>{UMLAUT_TITLE}</h2><a href="/presse/1">mehr</a>'
        f"<p>{UMLAUT_TEXT}</p></li></ul><footer>© 2026</footer></body></html>"
    ).encode("cp1252")
    doc = parse_document(
        html_source(LISTING, language="de"),
        fetched(page, "https://www.example.de/presse/", "text/html"),
    )
    (item,) = doc.items
    assert item.title == UMLAUT_TITLE
    assert item.summary == UMLAUT_TEXT
    assert not any("invalid utf-8" in warning for warning in doc.warnings)


def test_a_stray_byte_after_a_utf8_bom_is_read_as_windows_1252() -> None:
    decoded = decode(b"\xef\xbb\xbfValid UTF8: \xd1\xa8 Invalid UTF8: Espa\xf1a", None, "xml")
    assert decoded.text == "Valid UTF8: Ѩ Invalid UTF8: España"
    assert decoded.warnings == ("invalid bytes for the byte-order mark's encoding",)


def test_no_declaration_is_not_reported_as_a_wrong_one() -> None:
    latin1 = "<rss><channel><title>Notícias de São Paulo</title></channel></rss>".encode("latin-1")
    decoded = decode(latin1, None, "xml")
    assert "São Paulo" in decoded.text
    assert decoded.warnings[0].startswith("no encoding declared: detected")
    labelled = decode(latin1, "application/xml; charset=utf-8", "xml")
    assert "São Paulo" in labelled.text
    # The header said it: the warning says so, not "declared" (the document declares nothing).
    assert labelled.warnings[0].startswith("HTTP charset 'utf-8' does not match the bytes")


def test_a_utf8_sequence_cut_to_its_lead_byte_is_a_replacement_character() -> None:
    # "ó" (C3 B3) cut to C3 right before "łć" (C5 82 C4 87), and cut at the very end; "é"
    # (E9) before ASCII stays the windows-1252 letter it is.
    data = rss(UMLAUT_TITLE, f"{UMLAUT_TEXT} Zaż@@łć Café@!").encode()
    data = data.replace(b"@@", b"\xc3").replace("é@!".encode(), b"\xe9")
    decoded = decode(data + b"\xc3", None, "xml")
    assert decoded.encoding == "utf_8"
    assert f"{UMLAUT_TEXT} Zaż\ufffdłć Café" in decoded.text
    assert decoded.text.endswith("</rss>\ufffd")
    assert decoded.warnings == (
        "invalid utf-8 in 3 places: 1 read as windows-1252, 2 replaced by U+FFFD",
    )


POLISH_TITLE = "Kontrola czatów: Rada UE przyjęła stanowisko. Łódź, Gdańsk, żółć"
POLISH_TEXT = "Posłowie zdecydują jesienią; organizacje ostrzegają przed skanowaniem wiadomości."


def _polish_rss(language_element: str) -> bytes:
    # No XML declaration, no HTTP charset: only the bytes, in ISO-8859-2.
    return (
        f'<rss version="0.91"><channel><title>Panoptykon</title>{language_element}'
        "<link>https://panoptykon.org/</link><item>"
        f"<title>{POLISH_TITLE}</title><link>https://panoptykon.org/a/1</link>"
        f"<description>{POLISH_TEXT}</description></item></channel></rss>"
    ).encode("iso8859_2")


@pytest.mark.parametrize(
    ("language_element", "configured"),
    [("<language>pl</language>", None), ("", "pl"), ("<language>pl-PL</language>", "en")],
    ids=["declared by the feed", "configured for the source", "declared, source says en"],
)
def test_undeclared_central_european_bytes_are_read_in_the_language_s_encoding(
    language_element: str, configured: str | None
) -> None:
    doc = parse_document(
        feed_source(language=configured),
        fetched(_polish_rss(language_element), "https://panoptykon.org/rss", "application/xml"),
    )
    (item,) = doc.items
    assert item.title == POLISH_TITLE
    assert item.summary == POLISH_TEXT
    assert "no encoding declared: detected iso8859_2" in doc.warnings


ROMANIAN_TITLE = "Ședința comisiei: protecția copiilor și țările membre; învățământ"


def test_undeclared_romanian_keeps_the_comma_below_letters() -> None:
    # ISO-8859-16 and windows-1250 read these bytes alike but for ș and ț, which windows-1250
    # turns into the cedilla forms ş and ţ: the tie goes to Romanian's own encoding.
    data = (
        '<?xml version="1.0"?><rss><channel><language>ro</language><item>'
        f"<title>{ROMANIAN_TITLE}</title></item></channel></rss>"
    ).encode("iso8859_16")
    doc = parse_document(
        feed_source(), fetched(data, "https://www.senat.ro/rss", "application/xml")
    )
    assert [item.title for item in doc.items] == [ROMANIAN_TITLE]
    assert "no encoding declared: detected iso8859_16" in doc.warnings


ROMANIAN_ITEMS = (
    (
        "Ședința Comisiei pentru drepturile copilului",
        "Senatorii au dezbătut propunerea Comisiei Europene privind prevenirea și combaterea "
        "abuzului sexual asupra copiilor. Ședința a continuat cu audierea experților.",
    ),
    (
        "Științele digitale și protecția minorilor",
        "Ministerul a prezentat măsurile pentru protecția minorilor în mediul online, inclusiv "
        "verificarea vârstei și obligațiile platformelor.",
    ),
    (
        "Țările membre discută regulamentul european",
        "Reprezentanții țărilor membre au analizat textul de compromis. Învățământul și "
        "societatea civilă au transmis observații.",
    ),
)


@pytest.mark.parametrize(
    ("language_element", "configured"),
    [("<language>ro</language>", None), ("", "ro")],
    ids=["declared by the feed", "configured for the source"],
)
def test_a_romanian_feed_keeps_its_comma_below_letters(
    language_element: str, configured: str | None
) -> None:
    # The detector does not list ISO-8859-16 at all for such text (its windows-1250 reading
    # looks as clean): the language's own encodings are scored too.
    entries = "".join(
        f"<item><title>{title}</title><link>https://www.senat.ro/a/{n}</link>"
        f"<description>{text}</description></item>"
        for n, (title, text) in enumerate(ROMANIAN_ITEMS)
    )
    data = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Senat</title>'
        f"{language_element}<link>https://www.senat.ro/</link>{entries}</channel></rss>"
    ).encode("iso8859_16")
    doc = parse_document(
        feed_source(language=configured),
        fetched(data, "https://www.senat.ro/rss", "application/xml"),
    )
    assert [(i.title, i.summary) for i in doc.items] == list(ROMANIAN_ITEMS)
    assert "no encoding declared: detected iso8859_16" in doc.warnings


def test_an_undeclared_polish_listing_page_keeps_its_letters_and_dates() -> None:
    page = (
        '<html lang="pl"><head><title>Aktualności</title></head><body><ul>'
        f'<li class="teaser"><h2>{POLISH_TITLE}</h2><a href="/a/1">więcej</a>'
        f"<p>{POLISH_TEXT}</p><time>5 października 2025</time></li></ul></body></html>"
    ).encode("iso8859_2")
    selectors = Selectors(item="li.teaser", title="h2", link="a", summary="p", date="time")
    doc = parse_document(
        html_source(selectors), fetched(page, "https://panoptykon.org/aktualnosci", "text/html")
    )
    (item,) = doc.items
    assert item.title == POLISH_TITLE
    assert item.published is not None and item.published.date().isoformat() == "2025-10-05"


def test_undeclared_iso_8859_2_polish_is_not_read_as_its_windows_sibling() -> None:
    # Letters in the bytes where ISO-8859-2 and windows-1250 differ (ś ą ź Ś Ź): windows-1250
    # reads them as "¶ ± Ľ ¦", which a chaos measure scores alike. The reading with letters wins.
    title = "Ochrona prywatności w sieci i wolność słowa"
    text = "Zażółć gęślą jaźń. Świętokrzyskie, źródło."
    page = (
        f'<html lang="pl"><body><ul><li class="e"><h2>{title}</h2><a href="/a/1">x</a>'
        f"<p>{text}</p></li></ul></body></html>"
    ).encode("iso8859_2")
    selectors = Selectors(item="li.e", title="h2", link="a", summary="p")
    doc = parse_document(
        html_source(selectors), fetched(page, "https://www.gov.pl/web/x", "text/html")
    )
    (item,) = doc.items
    assert (item.title, item.summary) == (title, text)
    assert "no encoding declared: detected iso8859_2" in doc.warnings
    # Text in windows-1250 (its own "ś" at 0x9C) is still read as windows-1250.
    sibling = page.decode("iso8859_2").encode("cp1250")
    doc = parse_document(
        html_source(selectors), fetched(sibling, "https://www.gov.pl/web/x", "text/html")
    )
    assert (doc.items[0].title, doc.items[0].summary) == (title, text)


def test_a_utf16_label_on_utf8_bytes_is_overruled() -> None:
    data = rss(UMLAUT_TITLE, UMLAUT_TEXT).encode()
    doc = parse_document(
        feed_source(), fetched(data, "https://example.de/feed", "application/xml; charset=utf-16")
    )
    assert [item.title for item in doc.items] == [UMLAUT_TITLE]
    assert "HTTP charset 'utf-16' does not match the bytes: read as utf-8" in doc.warnings
    # Real UTF-16 under the same label stays UTF-16.
    wide = rss(UMLAUT_TITLE, UMLAUT_TEXT, encoding="utf-16").encode("utf-16")
    assert decode(wide, "application/xml; charset=utf-16", "xml").text.startswith("<?xml")


def test_an_unknown_label_is_named_as_unknown() -> None:
    decoded = decode(rss(UMLAUT_TITLE, UMLAUT_TEXT).encode(), "text/xml; charset=x-bogus-42", "xml")
    assert decoded.encoding == "utf_8"
    assert decoded.warnings == ("unknown encoding label 'x-bogus-42': ignored",)


LATVIAN_TITLE = "Komanda «Rīga» uzvar 3x3 basketbola Pasaules tūrē"
LATVIAN_TEXT = (
    "«Bior»: Covid-19 testiem piesakās cilvēki ar simptomiem. Eiduka «Tour de Ski» "
    "slēpojumā finišēja divdesmitā; Rešetins un Ķēniņš, brīvības cīņā."
)


@pytest.mark.parametrize("codec", ["cp1257", "iso8859_13"])
def test_undeclared_latvian_keeps_its_quotes_and_letters(codec: str) -> None:
    # windows-1257 extends ISO-8859-13, not ISO-8859-4: read as ISO-8859-4, Latvian's «» quotes
    # (0xAB, 0xBB) came out as "Ģ" and "ģ", and "ī", "ē", "š" as "î", "į", "đ".
    page = (
        f'<html><body><ul><li class="e"><h2>{LATVIAN_TITLE}</h2><a href="/a/1">x</a>'
        f"<p>{LATVIAN_TEXT}</p></li></ul></body></html>"
    ).encode(codec)
    selectors = Selectors(item="li.e", title="h2", link="a", summary="p")
    doc = parse_document(
        html_source(selectors, language="lv"), fetched(page, "https://www.lsm.lv/", "text/html")
    )
    (item,) = doc.items
    assert (item.title, item.summary) == (LATVIAN_TITLE, LATVIAN_TEXT)


def test_an_undeclared_latvian_feed_keeps_its_quotes() -> None:
    # No encoding anywhere: not in the XML declaration, nor in the HTTP header.
    data = (
        rss(LATVIAN_TITLE, LATVIAN_TEXT)
        .replace(' encoding="utf-8"', "")
        .replace("<channel>", "<channel><language>lv</language>")
    )
    doc = parse_document(
        feed_source(),
        fetched(data.encode("cp1257"), "https://www.lsm.lv/rss/", "application/rss+xml"),
    )
    (item,) = doc.items
    assert (item.title, item.summary) == (LATVIAN_TITLE, LATVIAN_TEXT)
