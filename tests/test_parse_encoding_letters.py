"""A single-byte reading the letters of no language fit gives way, though it looks clean.

charset-normalizer's chaos measure scores Polish ISO-8859-2 read as ISO-8859-1 ("Pe³na
tre¶æ komunikatu, ¿ó³æ") as clean text, so a server's default charset=iso-8859-1, or a
wrong <meta>, was stored as mojibake without a warning, even with the source's
`language = "pl"`, and a page declaring nothing was read as Maltese ISO-8859-3 ("Rzħd").
Signs between letters, letters no one language has together, and Greek or Cyrillic letters
inside Latin words now tell; real Western text served right is never read again.
"""

from __future__ import annotations

import pytest

from aggregator.parse.encoding import decode

LATIN1_HEADER = "text/html; charset=iso-8859-1"

# (language, codec it is written in, text)
CENTRAL_AND_EASTERN = [
    (
        "pl",
        "iso8859_2",
        "Rząd przyjął projekt ustawy o ochronie dzieci w sieci. Pełna treść komunikatu,"
        " żółć, gęś, łódź. Świętokrzyskie, Łódź, Gdańsk: wszędzie ślady.",
    ),
    (
        "pl",
        "cp1250",
        "Posłowie przyjęli rozporządzenie. Sejm: źródło sporu to ustawa, mówią posłowie,"
        " a Gdańsk i Łódź czekają na wyniki głosowania.",
    ),
    (
        "cs",
        "iso8859_2",
        "Sněmovna projednala nařízení o ochraně dětí. Poslanci před hlasováním řešili"
        " šifrování, ověřování věku a zneužívání dětí na internetu. Žádost byla schválena.",
    ),
    (
        "cs",
        "cp1250",
        "Sněmovna projednala nařízení o ochraně dětí před hlasováním ve středu.",
    ),
    (
        "sk",
        "iso8859_2",
        "Národná rada schválila zákon o ochrane detí. Poslanci diskutovali o šifrovaní,"
        " overovaní veku a zneužívaní detí na internete. Ľudia sú spokojní, ťažko povedať.",
    ),
    (
        "hu",
        "iso8859_2",
        "Az Országgyűlés elfogadta a gyermekek védelméről szóló törvényt. A képviselők"
        " hosszú vitában tárgyalták a titkosítás és az életkor-ellenőrzés kérdését.",
    ),
    (
        "sl",
        "iso8859_2",
        "Državni zbor je sprejel zakon o zaščiti otrok. Poslanci so razpravljali o"
        " šifriranju, preverjanju starosti in zlorabi otrok na spletu.",
    ),
    (
        "hr",
        "cp1250",
        "Hrvatski sabor donio je zakon o zaštiti djece. Zastupnici su raspravljali o"
        " šifriranju i zlostavljanju djece na internetu. Ćirilica, đak, žena, čovjek.",
    ),
    (
        "ro",
        "iso8859_16",
        "Parlamentul a adoptat legea privind protecția copiilor. Deputații au discutat"
        " despre verificarea vârstei și abuzul asupra copiilor. Țara este în așteptare.",
    ),
    (
        "bg",
        "cp1251",
        "Европейската комисия представи предложение за регламент за предотвратяване на"
        " сексуалното насилие над деца. Парламентът прие позицията си.",
    ),
    (
        "el",
        "iso8859_7",
        "Η Βουλή ενέκρινε το νομοσχέδιο για την προστασία των παιδιών. Οι βουλευτές"
        " συζήτησαν την κρυπτογράφηση και την επαλήθευση της ηλικίας στο διαδίκτυο.",
    ),
]
IDS = [f"{language}-{codec}" for language, codec, _ in CENTRAL_AND_EASTERN]
# Windows-1250 text whose letters all sit where ISO-8859-2 has the same ones, or in the C1
# bytes read as windows-1250 there ("š", "ž"), reads the same in ISO-8859-2: either is right.
SAME_TEXT = {
    "iso8859_2": ("iso8859_2",),
    "cp1250": ("cp1250", "iso8859_2"),
    "iso8859_16": ("iso8859_16",),
    "cp1251": ("cp1251",),
    "iso8859_7": ("iso8859_7",),
}


def _page(text: str, *, meta: str | None = None, lang: str | None = None) -> str:
    lang_attribute = f' lang="{lang}"' if lang else ""
    charset = f'<meta charset="{meta}">' if meta else ""
    return (
        f"<!DOCTYPE html><html{lang_attribute}><head>{charset}<title>News</title>"
        f'</head><body><article class="news"><p>{text}</p></article></body></html>'
    )


@pytest.mark.parametrize(("language", "codec", "text"), CENTRAL_AND_EASTERN, ids=IDS)
@pytest.mark.parametrize("said_by", ["source", "page"])
def test_a_server_default_latin1_is_overruled_by_the_language(
    language: str, codec: str, text: str, said_by: str
) -> None:
    # No <meta charset>; the language is the source's (`language = "pl"`) or the page's.
    page = _page(text, lang=language if said_by == "page" else None)
    configured = language if said_by == "source" else None
    decoded = decode(page.encode(codec), LATIN1_HEADER, "html", language=configured)
    assert text in decoded.text
    assert decoded.warnings == (
        f"HTTP charset 'iso-8859-1' does not fit the text's language ({language}):"
        f" read as {decoded.encoding}",
    )
    assert decoded.encoding in SAME_TEXT[codec]


@pytest.mark.parametrize(("language", "codec", "text"), CENTRAL_AND_EASTERN, ids=IDS)
def test_a_wrong_meta_is_overruled_by_the_source_s_language(
    language: str, codec: str, text: str
) -> None:
    page = _page(text, meta="iso-8859-1")
    decoded = decode(page.encode(codec), "text/html", "html", language=language)
    assert text in decoded.text
    assert decoded.warnings == (
        f"declared encoding 'iso-8859-1' does not fit the text's language ({language}):"
        f" read as {decoded.encoding}",
    )
    assert decoded.encoding in SAME_TEXT[codec]


@pytest.mark.parametrize(
    "text",
    [
        "Rząd przyjął projekt ustawy o ochronie dzieci w sieci",
        "Pełna treść komunikatu, żółć, gęś, łódź.",
    ],
)
@pytest.mark.parametrize(
    ("content_type", "language", "warning"),
    [
        (
            LATIN1_HEADER,
            "pl",
            "HTTP charset 'iso-8859-1' does not fit the text's language (pl): read as iso8859_2",
        ),
        (LATIN1_HEADER, None, "HTTP charset 'iso-8859-1' reads as garbled text: read as iso8859_2"),
        ("text/html", "pl", "no encoding declared: detected iso8859_2"),
        ("text/html", None, "no encoding declared: detected iso8859_2"),
    ],
    ids=["latin1-pl", "latin1", "undeclared-pl", "undeclared"],
)
def test_one_short_polish_sentence_is_enough(
    text: str, content_type: str, language: str | None, warning: str
) -> None:
    # "Rząd przyjął" alone was set right by the chaos measure; "Pełna treść" alone was not
    # (nor, declaring nothing, either: windows-1250's "tre¶ć", ISO-8859-10's "przyjąģ").
    decoded = decode(_page(text).encode("iso8859_2"), content_type, "html", language=language)
    assert text in decoded.text
    assert decoded.warnings == (warning,)


@pytest.mark.parametrize(
    "text",
    [
        "Zażółć gęślą jaźń. Ślęża, Łódź, Świętokrzyskie.",
        "Łódź, Świętokrzyskie",
        "Senatorowie o ochronie dzieci w internecie - pełna treść",
    ],
)
@pytest.mark.parametrize(
    ("content_type", "meta"), [("text/html", "iso-8859-1"), (LATIN1_HEADER, None)]
)
def test_short_polish_under_a_latin1_label_is_not_read_as_windows_1250(
    text: str, content_type: str, meta: str | None
) -> None:
    # Of Polish's two encodings, windows-1250 read "gę¶l± jaĽń" cleaner by the chaos measure
    # than ISO-8859-2 read "gęślą jaźń", and took over from the Latin-1 label.
    page = _page(text, meta=meta).encode("iso8859_2")
    decoded = decode(page, content_type, "html", language="pl")
    assert text in decoded.text
    assert decoded.encoding == "iso8859_2"
    # The other way round, windows-1250 bytes stay windows-1250.
    page = _page(text, meta=meta).encode("cp1250")
    assert text in decode(page, content_type, "html", language="pl").text


def test_undeclared_polish_is_not_read_as_maltese() -> None:
    # Detection scored ISO-8859-3 cleanest: "Wiadomoĥĉ", "Rzħd przyjħ³", warned and stored.
    title, text = "Wiadomość dnia", CENTRAL_AND_EASTERN[0][2]
    page = _page(text).replace("News", title)
    decoded = decode(page.encode("iso8859_2"), None, "html")
    assert title in decoded.text and text in decoded.text
    assert decoded.warnings == ("no encoding declared: detected iso8859_2",)


@pytest.mark.parametrize(
    ("codec", "text"),
    [
        ("iso8859_2", CENTRAL_AND_EASTERN[0][2]),
        ("iso8859_7", CENTRAL_AND_EASTERN[-1][2]),
        ("cp1251", CENTRAL_AND_EASTERN[-2][2]),
    ],
)
def test_a_wrong_meta_alone_gives_way_without_a_language(codec: str, text: str) -> None:
    decoded = decode(_page(text, meta="iso-8859-1").encode(codec), "text/html", "html")
    assert text in decoded.text
    assert decoded.warnings == (
        f"declared encoding 'iso-8859-1' reads as garbled text: read as {codec}",
    )


def test_the_page_s_own_encoding_beats_a_server_default_without_a_language() -> None:
    text = CENTRAL_AND_EASTERN[0][2]
    decoded = decode(_page(text, meta="iso-8859-2").encode("iso8859_2"), LATIN1_HEADER, "html")
    assert text in decoded.text
    assert decoded.warnings == (
        "HTTP charset 'iso-8859-1' contradicts the document's own 'iso-8859-2':"
        " read as 'iso-8859-2'",
    )


# -- Western text served right is read as it is ------------------------------------------

WESTERN = [
    ("fr", "À la une : le Sénat adopte la proposition. Après un débat très long, les sénateurs"
     " ont voté l'œuvre commune, côté Commission. « Règlement » où ça ?"),
    ("de", "Der Bundestag hat das Gesetz beschlossen. Die Abgeordneten diskutierten über"
     " Verschlüsselung und Altersprüfung. Größe, Straße, Übermaß."),
    ("es", "El Congreso aprobó la ley de protección de menores. ¿Qué pasará? ¡Señoría! Los"
     " diputados debatieron sobre cifrado, año 2025, nº 3, 20 ºC."),
    ("pt", "O Parlamento aprovou a lei de proteção das crianças. Os deputados discutiram as"
     " ações da Comissão em São Paulo e na Região, 1ª leitura."),
    ("da", "Folketinget har vedtaget loven om beskyttelse af børn. Også Søren Ærø på Åbenrå."),
    ("is", "Alþingi samþykkti lög um vernd barna. Þingmenn ræddu dulkóðun. Það er ljóst að"
     " þetta skiptir máli, sagði ráðherrann."),
    ("it", "Il Parlamento ha approvato la legge. Perché è così? I deputati hanno discusso"
     " di crittografia e verifica dell'età, più o meno."),
    ("sv", "Riksdagen har antagit lagen om skydd för barn. Även Malmö och Göteborg."),
    ("ca", "El Parlament ha aprovat la llei de protecció dels menors i la col·laboració."),
    ("en", "The Commission met Søren Gade, José Bové, François Alfonsi, Muñoz and Sánchez;"
     " the café in Zürich, Þórdís, the Ærø ferry © 2024, 50 m² at 20 °C."),
]  # fmt: skip


@pytest.mark.parametrize(("language", "text"), WESTERN, ids=[w[0] for w in WESTERN])
@pytest.mark.parametrize("configured", ["own", None, "pl", "hu", "ro", "el", "bg"])
def test_western_text_served_right_is_not_read_again(
    language: str, text: str, configured: str | None
) -> None:
    # Whatever the source is configured in: a Polish ministry's French page stays French.
    hint = language if configured == "own" else configured
    for page, content_type in (
        (_page(text), LATIN1_HEADER),
        (_page(text, meta="windows-1252"), "text/html"),
        (_page(text, meta="iso-8859-1"), LATIN1_HEADER),
    ):
        decoded = decode(page.encode("cp1252"), content_type, "html", language=hint)
        assert text in decoded.text, (page, content_type)
        assert (decoded.encoding, decoded.warnings) == ("cp1252", ()), (page, content_type)


def test_western_text_under_a_wrong_central_european_meta_keeps_the_header() -> None:
    text = dict(WESTERN)["is"]
    page = _page(text, meta="iso-8859-2")
    decoded = decode(page.encode("cp1252"), LATIN1_HEADER, "html")
    assert text in decoded.text
    assert decoded.warnings == (
        "declared encoding 'iso-8859-2' contradicts the HTTP charset 'iso-8859-1':"
        " read as 'iso-8859-1'",
    )


def test_a_reading_windows_1252_gives_alike_is_named_windows_1252() -> None:
    # German reads the same in windows-1250: the warning named that, the wrong encoding.
    from aggregator.parse.encoding import decode

    page = "<html><body><p>Die Grünen fordern Änderungen für die Bürger: Maße, Straßen.</p>"
    decoded = decode(page.encode("cp1252"), "text/html", "html")
    assert decoded.text == page
    assert (decoded.encoding, decoded.warnings) == (
        "cp1252",
        ("no encoding declared: detected cp1252",),
    )
