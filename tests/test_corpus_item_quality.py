"""What a reader would object to in items of the real-world corpus: adverts, redirect
wrappers, one story twice. Each case is a corpus feed read as a refresh reads it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.models import Item
from aggregator.normalise import normalise_with_warnings
from aggregator.parse import parse_document
from aggregator.urls import unwrapped
from tests.support_parse import feed_source, fetched

pytestmark = pytest.mark.corpus


def _read(
    corpus: Path, name: str, language: str | None = None
) -> tuple[list[Item], tuple[str, ...]]:
    source = feed_source(language=language)
    document = parse_document(
        source, fetched((corpus / "feeds" / name).read_bytes(), "https://example.org/feed")
    )
    items, dropped = normalise_with_warnings(source, document, now=datetime.now(UTC))
    return items, (*document.warnings, *dropped)


def test_pheedo_adverts_are_not_items(corpus: Path) -> None:
    items, warnings = _read(corpus, "rss2_washingtonpost_wellness_nodefeedparser.xml")
    assert "3 adverts skipped" in warnings
    assert not [i for i in items if "pheedo" in i.url or i.title == "Featured Advertiser"]
    assert len(items) == 26


def test_a_story_listed_twice_behind_a_redirect_wrapper_is_one_item(corpus: Path) -> None:
    items, _ = _read(corpus, "rss_uol_noticias_nodecl_latin1_rssparser.rss", language="pt")
    match = [i for i in items if i.title.startswith("Match Eleitoral")]
    assert len(match) == 1
    (story,) = match
    assert story.url.startswith("https://www1.folha.uol.com.br/poder/2018/09/match-eleitoral")
    assert story.text  # the fuller of the two: the other has no text
    assert not [i for i in items if "redir.folha" in i.url]


@pytest.mark.parametrize(
    ("wrapped", "inside"),
    [
        (
            "https://redir.folha.com.br/redir/online/poder/rss091/*https://www1.folha.uol.com.br/a.shtml",
            "https://www1.folha.uol.com.br/a.shtml",
        ),
        ("https://example.org/a*b", "https://example.org/a*b"),  # no URL after the star
        ("https://example.org/news/item?id=3", "https://example.org/news/item?id=3"),
    ],
)
def test_a_star_redirect_wrapper_is_unwrapped(wrapped: str, inside: str) -> None:
    assert unwrapped(wrapped) == inside
