"""Tags on real items: the Openmag dumps of EDRi, Europol, the Commission, the Parliament's
culture committee, Politico and Euronews, and German article pages (corpus/html/article)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from aggregator.models import Item, OrgKind, Source
from aggregator.tag import TagRules, load_tag_rules, topic_tags
from aggregator.tag.haystack import Haystack
from aggregator.tag.rules import Field
from tests.support_tag import OPENMAG, make_item, make_source, openmag_items, plain_text

pytestmark = pytest.mark.corpus

CONFIG = Path(__file__).resolve().parent.parent / "config" / "tags.toml"


@pytest.fixture(scope="module")
def rules() -> TagRules:
    return load_tag_rules(CONFIG)


@pytest.fixture(scope="module")
def items(corpus: Path) -> dict[str, tuple[Item, Source]]:
    return {item.title: (item, source) for item, source in openmag_items(corpus)}


# Real items about the debate, by title, and exactly the topic tags they get.
ABOUT_THE_DEBATE = {
    # EDRi on the third vote to extend the ePrivacy derogation; it also defends encryption.
    "The “Chat Control 1.0” saga: Big Tech can scan our private messages again – but Parliament "
    "sent a strong signal against mass surveillance": {"interim-regulation", "encryption"},
    # Politico: telcos ask the Commission for EU-wide blocking orders and a CSAM database.
    "Telecom CEOs blast EU for failing to crack down on child sexual abuse content": {"csar"},
    # Europol: a dark-web operation against sites advertising CSAM.
    "Global cybercrime crackdown: over 373 000 dark web sites shut down": {"law-enforcement"},
    "Proposed Europol reform dangerously erodes privacy, automates surveillance, and sidelines "
    "oversight": {"law-enforcement"},
    "DSA vs. Reality: Are children safer online?": {"dsa"},
    "Five lessons from three years of risk assessments under the Digital Services Act": {"dsa"},
    "French court blocks social media ban for under 15s": {"age-verification"},
    "The backlash to social media bans has already begun": {"age-verification"},
}

# Real items that share words with the debate but are not about it.
LOOK_ALIKES = [
    "UK ‘open to discussing’ digital services tax with Trump administration",  # not the DSA
    "Meta AI glasses face criminal complaint in Germany",  # "Digital Services and Data ... Act"
    "Brussels changes gear on Big Tech enforcement",  # the DMA, not the DSA
    "The Court of Justice of the European Union condemns France’s police profiling practices",
    "Finland charges mother with trafficking children to Islamic State-controlled areas of Syria",
    "Nord Stream bomb suspect arrested while working on A-list Ukraine war movie starring Sean "
    "Penn",
    "Harry returns to UK as hefty Daily Mail legal bill lands",
    "How satellite technology can help Europe battle wildfires",
]


@pytest.mark.parametrize("title", list(ABOUT_THE_DEBATE), ids=lambda t: t[:60])
def test_items_about_the_debate(
    rules: TagRules, items: dict[str, tuple[Item, Source]], title: str
) -> None:
    item, source = items[title]
    assert set(topic_tags(item, source, rules)) == ABOUT_THE_DEBATE[title]


@pytest.mark.parametrize("title", LOOK_ALIKES, ids=lambda t: t[:60])
def test_look_alikes_get_no_topic(
    rules: TagRules, items: dict[str, tuple[Item, Source]], title: str
) -> None:
    item, source = items[title]
    assert topic_tags(item, source, rules) == ()


@pytest.mark.parametrize(
    "file_name",
    [
        "european_parliament___culture_and_education_HEAD.json",  # films, youth, media freedom
        "european_commission_2026-08-21T1913.json",  # fisheries, packaging, PFAS, Eurostat
        "euronews___europe_HEAD.json",  # wildfires, Ukraine, migration, royals
    ],
)
def test_feeds_outside_the_debate_get_no_topic(
    rules: TagRules, corpus: Path, file_name: str
) -> None:
    records = json.loads((corpus / OPENMAG / file_name).read_text("utf-8"))
    source = make_source("outside", "Outside the debate", org=OrgKind.PRESS)
    tagged = {
        record["title"]: topics
        for record in records
        if (
            topics := topic_tags(
                make_item(record["title"], plain_text(record.get("content") or "")), source, rules
            )
        )
    }
    assert len(records) >= 20
    assert tagged == {}


def _soup(corpus: Path, name: str) -> BeautifulSoup:
    return BeautifulSoup((corpus / "html" / "article" / name).read_bytes(), "lxml")


def _text(element: object) -> str:
    assert element is not None
    return " ".join(element.get_text(" ").split())  # type: ignore[attr-defined]


def test_digitalcourage_teaser_on_chatkontrolle(rules: TagRules, corpus: Path) -> None:
    """The "current focus" card of digitalcourage.de: an online debate on Chatkontrolle."""
    soup = _soup(corpus, "digitalcourage_de_ngo_muendigkeit_trafilatura.html")
    card = soup.select("article")[1]
    item = make_item("Chatkontrolle STOPPEN!", _text(card), language="de")
    assert topic_tags(item, make_source(), rules) == ("csar",)
    # The page's own article, on "digital maturity", is outside the debate.
    main = soup.select("article")[0]
    essay = make_item("Mit Digitaler Mündigkeit die Welt retten", _text(main), language="de")
    assert topic_tags(essay, make_source(), rules) == ()


def test_netzpolitik(rules: TagRules, corpus: Path) -> None:
    soup = _soup(corpus, "netzpolitik_org_abmahnungen_trafilatura.html")
    body = make_item(_text(soup.select_one("h1")), _text(soup.select_one(".entry-content")))
    # An article on copyright warning letters ("Rechtsmissbrauch" is not abuse of children).
    assert topic_tags(body, make_source(), rules) == ()
    # Its neighbours in the post navigation are about encryption.
    neighbours = [_text(span) for span in soup.select(".nav-post-title")]
    assert neighbours[0].startswith("Verschlüsseln Terroristen ihre E-Mails?")
    for title in neighbours:
        assert topic_tags(make_item(title, language="de"), make_source(), rules) == ("encryption",)


@pytest.mark.parametrize(
    "file_name",
    [
        "tagesschau_de_rheinmetall_trafilatura.html",  # a hack; a teaser on church abuse
        "bundespolizei_de_pressemitteilung_belarus_trafilatura.html",  # police, migration
        "amnesty_de_ngo_waffensysteme_trafilatura.html",
        "bmjv_de_ministry_konsum_trafilatura.html",
        "europarl_press-room_20190712IPR56948.html",
        "europarl_press-room_20221014IPR43206.html",
    ],
)
def test_whole_pages_outside_the_debate(rules: TagRules, corpus: Path, file_name: str) -> None:
    soup = _soup(corpus, file_name)
    for tag in soup(["script", "style", "noscript"]):
        tag.decompose()
    item = make_item(_text(soup.title), _text(soup.body))
    assert topic_tags(item, make_source(), rules) == ()


def test_prefilters_never_hide_a_match(rules: TagRules, corpus: Path) -> None:
    """The anchor-word and probe shortcuts give the same answer as running every expression."""
    texts = [Haystack.of(f"{item.title} \u00a6 {item.text}") for item, _ in openmag_items(corpus)]
    texts.append(Haystack.of("Chatkontrolle: Sexueller Missbrauch 2022/0155 e-Privacy-Ausnahme"))
    checked = 0
    for topic in rules.rules:
        for rule in topic.rules:
            for patterns in (rule.any, rule.none, *rule.all):
                if patterns is None:
                    continue
                expressions = [
                    *(p for group in patterns.by_anchor.values() for p in group),
                    *(p for group in patterns.by_prefix.values() for p in group),
                    *patterns.unanchored,
                ]
                for text in texts:
                    brute = any(e.search(text.lower) for e in expressions) or any(
                        r.expression.search(text.lower if r.lower else text.folded)
                        for r in patterns.regexes
                    )
                    assert patterns.search(text) is brute
                    checked += brute
    assert checked > 50
    assert Field.TEXT in rules.fields
