"""`aggregator refresh` of pages in legacy encodings under a server's default charset, end to end.

A Polish ministry's page in ISO-8859-2, with no <meta charset> and no lang, served as
`text/html; charset=iso-8859-1` (a server's default), was stored as "Rz±d przyj±³ projekt
ustawy", "Pe³na tre¶æ komunikatu, ¿ó³æ", without a warning, though the source says
`language = "pl"`. It is stored in its own letters now, with a warning that says what was
read; a French page served right beside it is read as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.cli import main
from tests.support_config import write_config

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

FAST = "[fetch]\nretries = 0\n"
SELECTORS = {"item": "article.news", "title": "h3", "link": "h3 a", "summary": "p"}
POLISH = [
    ("Rząd przyjął projekt ustawy o ochronie dzieci w sieci", "Pełna treść komunikatu, żółć,"
     " gęś, łódź. Wszystko się zmienia, świat pędzi naprzód."),
    ("Spotkanie ministrów w Brukseli", "Świętokrzyskie, Łódź, Gdańsk: wszędzie ślady."),
]  # fmt: skip
FRENCH = [
    ("Le Sénat adopte la proposition", "Après un débat très long, l'œuvre commune « Règlement »."),
    ("Réunion à Bruxelles", "Les ministres ont voté à l'unanimité, côté Conseil."),
]


def _page(items: list[tuple[str, str]], path: str) -> str:
    articles = "".join(
        f'<article class="news"><h3><a href="{path}{n}">{title}</a></h3><p>{summary}</p></article>'
        for n, (title, summary) in enumerate(items, 1)
    )
    return f"<!DOCTYPE html><html><head><title>News</title></head><body>{articles}</body></html>"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, _ = capsys.readouterr()
    return code, out


def test_a_polish_page_under_a_server_default_latin1_is_stored_in_polish(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    latin1 = "text/html; charset=iso-8859-1"
    polish = http_server.add(
        "/pl/", body=_page(POLISH, "/pl/").encode("iso8859_2"), content_type=latin1
    )
    french = http_server.add(
        "/fr/", body=_page(FRENCH, "/fr/").encode("cp1252"), content_type=latin1
    )
    config = write_config(
        env / "config",
        [
            {
                "id": "pl-ministry",
                "name": "PL ministry",
                "url": polish,
                "kind": "html",
                "org": "government",
                "country": "PL",
                "language": "pl",
                "selectors": SELECTORS,
            },
            {
                "id": "fr-ministere",
                "name": "FR ministère",
                "url": french,
                "kind": "html",
                "org": "government",
                "country": "FR",
                "language": "fr",
                "selectors": SELECTORS,
            },
        ],
        settings=FAST,
    )
    code, out = _run(capsys, "--config", str(config), "refresh", "--json")
    assert code == 0, out
    document = json.loads(out)
    assert {row["id"]: row["new"] for row in document["sources"]} == {
        "pl-ministry": 2,
        "fr-ministere": 2,
    }
    assert document["totals"]["warnings"] == {
        "pl-ministry": [
            "HTTP charset 'iso-8859-1' does not fit the text's language (pl): read as iso8859_2"
        ]
    }

    code, out = _run(capsys, "--config", str(config), "export", "--format", "jsonl")
    assert code == 0
    stored = {
        (row["source"], row["title"], row["summary"]) for row in map(json.loads, out.splitlines())
    }
    assert stored == {
        *(("pl-ministry", title, summary) for title, summary in POLISH),
        *(("fr-ministere", title, summary) for title, summary in FRENCH),
    }
