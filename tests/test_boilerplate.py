"""Publishing-system footers removed from item text: only known forms, only at the end."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.boilerplate import without_footer
from aggregator.normalise import normalise_document
from aggregator.parse import parse_document
from tests.support_parse import feed_source, fetched


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (
            "Summer to-dos, & more!\n\nThe post EDRi-gram, 16 July 2026 appeared first on "
            "European Digital Rights (EDRi).",
            "Summer to-dos, & more!",
        ),
        (
            "Die Kommission legt vor. Der Beitrag Chatkontrolle: Neuer Entwurf erschien zuerst "
            "auf netzpolitik.org.",
            "Die Kommission legt vor.",
        ),
        (
            "Le Conseil a adopté sa position.\nL’article Contrôle des conversations est apparu "
            "en premier sur La Quadrature du Net.",
            "Le Conseil a adopté sa position.",
        ),
        (
            "The debate took place on 15 September.\n\nSource : © European Union, 2021 - EP",
            "The debate took place on 15 September.",
        ),
        (
            "Shortlisted for the LUX award. Committee on Culture and Education Source : © "
            "European Union, 2024 - EP",
            "Shortlisted for the LUX award. Committee on Culture and Education",
        ),
    ],
    ids=["wordpress-en", "wordpress-de", "wordpress-fr", "parliament", "parliament-inline"],
)
def test_a_known_footer_at_the_end_is_removed(text: str, kept: str) -> None:
    assert without_footer(text) == kept


@pytest.mark.parametrize(
    "text",
    [
        "We said the post office appeared first on the list of closures.",  # no footer form
        "The post X appeared first on Y. Then the statement goes on.",  # not at the end
        "Source: © European Union, 2024 - EP, as quoted in the report, is the copyright.",
        "Plain text without any footer.",
        "",
    ],
)
def test_anything_else_is_kept(text: str) -> None:
    assert without_footer(text) == text


@pytest.mark.corpus
def test_the_parliament_s_feed_items_lose_their_copyright_line(corpus: Path) -> None:
    path = corpus / "feeds" / "rss2_europarl_top-stories_en_2021-09-21_EXCERPT_1item.xml"
    source = feed_source("ep-press", language="en")
    document = parse_document(
        source,
        fetched(path.read_bytes(), "https://www.europarl.europa.eu/rss/doc/top-stories/en.xml"),
    )
    (item,) = normalise_document(source, document, now=datetime(2021, 9, 22, tzinfo=UTC))
    assert item.text.endswith("took place on 15 September.")
    assert "European Union, 2021" not in item.summary
