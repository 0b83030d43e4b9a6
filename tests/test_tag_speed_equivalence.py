"""Tagging gives the tags it gave when tests/data/tags_golden.jsonl was written, item for item.

A golden record of `tag_item` with the shipped config/tags.toml over four sets of items:

- corpus: the Openmag records as the tag tests read them (tests/support_tag.py);
- labelled: the hand-written items of tests/data/tags_labelled.jsonl, in eight languages;
- farm: the items of the first FARM_FEEDS feeds of the bench farm, through parse and normalise,
  as a refresh tags them (bench/tag.py);
- tricky: texts generated (seeded, so the same every run) from the patterns of the rules
  themselves, disguised the ways real text is: accents added and dropped, capitals, hyphens
  and odd spaces, typographic apostrophes, letters glued on, fullwidth letters, the words of
  `none` lists and the near misses of lookarounds, scattered over title, text, URL and
  categories. A generated match of each ``re:`` pattern comes from its parse tree.

Each line of the file is ``[set, key, tags]``: `key` is a hash of everything an item and its
source hold, `tags` what `tag_item` gave, joined by spaces. The file pins answers, not speed:
any change to how tagging runs must leave every line as it is. A deliberate change of the
rules (or of the item builders above) changes lines; then write the file again and read the
diff:

    AGGREGATOR_CORPUS=/work/shared/corpus .venv/bin/python -m tests.test_tag_speed_equivalence
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import string
import sys
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import tomli

from aggregator.models import Fetched, Item, OrgKind, Source, SourceKind
from aggregator.normalise import normalise_document
from aggregator.parse import parse_document
from aggregator.tag import TagRules, explain, load_tag_rules, tag_item
from bench.farm import feed_count_items, render
from tests.support_tag import make_item, make_source, openmag_items
from tests.test_tag_index import reference  # the rules that fire, each searched alone

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "tags.toml"
DATA = Path(__file__).resolve().parent / "data"
GOLDEN = DATA / "tags_golden.jsonl"
LABELLED = DATA / "tags_labelled.jsonl"
FARM_FEEDS = 30
TRICKY_ITEMS = 2000
# Parse and normalise are other stages' code: a change there may change some farm items (and
# their hashes) without any change to tagging. Such items are not compared; a change that
# leaves fewer than this share of the recorded items needs the file written again.
MIN_FOUND = 0.9

Pair = tuple[Item, Source]


@pytest.fixture(scope="module")
def rules() -> TagRules:
    return load_tag_rules(CONFIG)


def item_key(item: Item, source: Source) -> str:
    """A hash of every field of the item and its source that tagging may read."""
    fields = [
        item.title,
        item.summary,
        item.text,
        item.url,
        item.canonical_url,
        list(item.categories),
        item.language,
        source.id,
        source.name,
        source.kind.value,
        source.org.value,
        source.institution,
        source.country,
        source.language,
        source.reference,
        list(source.tags),
    ]
    data = json.dumps(fields, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return hashlib.sha1(data).hexdigest()[:10]


# --- the sets of items -------------------------------------------------------------------------


def labelled_items() -> list[Pair]:
    """The labelled items, built as test_tag_labelled.py builds them."""
    pairs: list[Pair] = []
    for line in LABELLED.read_text("utf-8").splitlines():
        row = json.loads(line)
        source = row["source"]
        url = row.get("url") or f"https://example.org/item/{zlib.crc32(row['id'].encode())}"
        item = make_item(
            row["title"], row["text"], url=url, language=row["language"], source_id=source["id"]
        )
        pairs.append((item, make_source(source["id"], source["name"])))
    return pairs


def farm_items(feeds: int = FARM_FEEDS) -> list[Pair]:
    """The bench farm's items, as bench/tag.py builds them."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    pairs: list[Pair] = []
    for index in range(feeds):
        source = Source(
            id=f"farm-{index}",
            name=f"Farm feed {index}",
            url=f"http://127.0.0.1/feeds/{index}",
            kind=SourceKind.FEED,
            org=OrgKind.PRESS,
        )
        body = render(index, feed_count_items(index), "http://127.0.0.1")
        document = parse_document(source, Fetched(url=source.url, status_code=200, content=body))
        pairs.extend((item, source) for item in normalise_document(source, document, now=now))
    return pairs


# Generating text that a regular expression matches, from its parse tree (re._parser, which
# factors.py reads too). Lookarounds are near misses: a negative one's body is sometimes
# written out, so that the exclusions the rules spell get exercised.
_parser: Any = __import__("re._parser", fromlist=["parse"])
FILLER_WORDS = (
    "the", "new", "rules", "die", "neue", "le", "projet", "de", "het", "il", "la", "los",
    "nowe", "och", "online", "data", "report", "Kommission", "année", "über", "più", "año",
    "się", "för", "2024", "EU", "UE", "platforms", "privacy", "children", "police", "app",
)  # fmt: skip
ACCENTED = {
    "a": "àáâäå", "e": "éèêë", "i": "íîï", "o": "óôöø", "u": "úùûü", "c": "çč", "n": "ñń",
    "s": "śš", "z": "żźž", "l": "ł", "y": "ý", "r": "ř",
}  # fmt: skip
SPACES = (" ", "  ", "\n", "\u00a0", "\u2009", "\t", " - ", "-", "\u2011", "\u00ad", "")
GLUE = (" ", " ", " ", ", ", ". ", " (", ") ", ": ", " – ", "\n", " ¦ ", " | ", "’", "/", "#")
SENTENCES = (
    "The European Commission presented its proposal in Brussels on Tuesday.",
    "MEPs debated the file with the Council presidency.",
    "Die Bundesregierung lehnt das Vorhaben weiterhin ab.",
    "Le gouvernement français soutient le texte depuis l'été.",
    "Het kabinet wil eerst een advies van de Raad van State.",
    "Il governo italiano ha chiesto più tempo per l'analisi.",
    "El Gobierno español apoya la propuesta de la Comisión.",
    "Rząd w Warszawie zapowiedział konsultacje społeczne.",
    "Regeringen i Stockholm vill vänta på utredningen.",
    "Ministerstvo vnitra zveřejnilo novou zprávu.",
    "Всё это обсуждалось в Москве.",
    "Η Επιτροπή παρουσίασε την πρόταση.",
    "The dog grooming salon opened a second branch.",
    "Banks warned about payment card data and encryption keys.",
    "October is Cybersecurity Awareness Month, with CSAM events everywhere.",
    "Search and rescue helicopters and pilots trained off the coast.",
    "Sold only to adults: alcohol, tobacco and knives need an age check.",
    "Ransomware gangs encrypt hospital patient records.",
    "Canadian Securities Administrators published the CSA regulation on crypto.",
    "He was groomed as the party leader's successor.",
)


class TextMaker:
    """Seeded generator of text around the rules' own patterns."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.phrases, self.regexes = _config_patterns()

    def fragment(self) -> str:
        """A pattern of the rules, spelled as a text might."""
        chance = self.random.random()
        if chance < 0.45:
            text = self.random.choice(self.phrases).rstrip("*")
            if self.random.random() < 0.3:
                text += self.random.choice(("", "s", "en", "ing", "e", "x"))
        elif chance < 0.9:
            text = self.regex_match(self.random.choice(self.regexes))
        else:
            text = self.random.choice(SENTENCES)
        return self.disguise(text)

    def disguise(self, text: str) -> str:
        r = self.random
        if r.random() < 0.3:
            text = r.choice((str.upper, str.title, str.lower, str.swapcase))(text)
        if r.random() < 0.3:
            text = "".join(
                r.choice(ACCENTED[ch]) if ch in ACCENTED and r.random() < 0.3 else ch for ch in text
            )
        if r.random() < 0.1:
            text = text.replace("ss", "ß").replace("ae", "æ").replace("oe", "œ")
        if r.random() < 0.25:
            text = re.sub(r" ", lambda _: r.choice(SPACES), text)
        if r.random() < 0.1:
            text = text.replace("-", r.choice(("\u2011", "\u2010", " ", "", "--", "\u00ad")))
        if r.random() < 0.05:
            text = text.replace("'", "’")
        if r.random() < 0.04:  # fullwidth letters: NFKD makes them ASCII
            text = "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)
        if r.random() < 0.1:
            text = r.choice(("x", "#", "_", "1", "Ü", "@", "ж")) + text
        if r.random() < 0.1:
            text += r.choice(("x", "_", "s", "9", "é", "’s", "ω"))
        return text

    def prose(self, fragments: int) -> str:
        r = self.random
        parts: list[str] = []
        for _ in range(fragments):
            if r.random() < 0.4:
                parts.append(r.choice(SENTENCES))
            parts.append(self.fragment())
            if r.random() < 0.3:
                parts.append(" ".join(r.choice(FILLER_WORDS) for _ in range(r.randint(1, 6))))
        return "".join(p + r.choice(GLUE) for p in parts).strip()

    def item(self, number: int) -> Pair:
        r = self.random
        title = self.prose(r.randint(0, 2)) or "Untitled"
        text = self.prose(r.randint(0, 6))
        summary = ""
        if r.random() < 0.2:
            summary = text[: r.randint(0, len(text))] if r.random() < 0.5 else self.prose(1)
        slug = re.sub(r"\s+", r.choice(("-", "_", "%20", "+")), self.fragment().lower())
        categories = tuple(self.fragment() for _ in range(r.choice((0, 0, 0, 1, 2))))
        item = make_item(
            title,
            text,
            url=f"https://example.org/{number}/{slug}",
            summary=summary,
            language=r.choice(("en", "de", "fr", "nl", "it", "es", "pl", "sv", None)),
            categories=categories,
        )
        return item, make_source(f"gen-{number % 7}", f"Generated {number % 7}")

    def regex_match(self, source: str) -> str:
        return "".join(self._sequence(list(_parser.parse(source, 0))))

    def _sequence(self, items: list[tuple[Any, Any]]) -> Iterator[str]:
        for index, (op, arg) in enumerate(items):
            yield from self._item(str(op), arg, first=index == 0)

    def _item(self, name: str, arg: Any, *, first: bool) -> Iterator[str]:
        r = self.random
        if name == "LITERAL":
            yield chr(arg)
        elif name == "NOT_LITERAL":
            yield r.choice([c for c in " ,.x" if ord(c) != arg])
        elif name == "ANY":
            yield r.choice(string.ascii_lowercase + " ")
        elif name == "IN":
            yield self._member(list(arg))
        elif name == "BRANCH":
            yield from self._sequence(list(r.choice(arg[1])))
        elif name == "SUBPATTERN":
            yield from self._sequence(list(arg[3]))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            yield from self._repeat(arg)
        elif name == "ASSERT_NOT" and r.random() < 0.3 and (arg[0] == 1 or first):
            yield from self._sequence(list(arg[1]))  # the excluded text: a near miss
        elif name == "ASSERT":
            yield from self._sequence(list(arg[1])) if arg[0] == 1 else ()

    def _repeat(self, arg: Any) -> Iterator[str]:
        low, high, body = arg
        body = list(body)
        r = self.random
        if len(body) == 1 and str(body[0][0]) == "ANY" and high >= 10:  # ".{0,60}": some words
            words = " ".join(r.choice(FILLER_WORDS) for _ in range(r.randint(0, 12)))
            yield f" {words} " if words else " "
            return
        if len(body) == 1 and str(body[0][0]) == "IN" and "CATEGORY_WORD" in str(body[0][1]):
            # \w* and \w+: a word ending, or a whole word
            yield r.choice(FILLER_WORDS) if low else r.choice(("", "", "s", "en", "ing", "ów"))
            return
        for _ in range(r.randint(low, min(high, low + 2))):
            yield from self._sequence(body)

    def _member(self, members: list[tuple[Any, Any]]) -> str:
        r = self.random
        if members and str(members[0][0]) == "NEGATE":
            return r.choice(" ,.")
        op, value = r.choice(members)
        name = str(op)
        if name == "LITERAL":
            return chr(value)
        if name == "RANGE":
            return chr(r.randint(value[0], value[1]))
        return {
            "CATEGORY_SPACE": r.choice((" ", " ", "\n", "\u00a0")),
            "CATEGORY_DIGIT": r.choice(string.digits),
            "CATEGORY_WORD": r.choice(string.ascii_lowercase),
            "CATEGORY_NOT_WORD": r.choice(" ,-"),
        }.get(str(value), " ")


def _config_patterns() -> tuple[list[str], list[str]]:
    """Every distinct pattern of config/tags.toml: the phrases, and the ``re:`` expressions."""
    document = tomli.loads(CONFIG.read_text("utf-8"))
    found: list[str] = [p for patterns in document["lists"].values() for p in patterns]
    for topic in document["tag"].values():
        for rule in topic["rule"]:
            for key in ("any", "all", "none"):
                found.extend(p for p in rule.get(key, ()) if not p.startswith("@"))
    unique = sorted(set(found))
    return (
        [p for p in unique if not p.startswith("re:")],
        [p[3:] for p in unique if p.startswith("re:")],
    )


def tricky_items(count: int = TRICKY_ITEMS) -> list[Pair]:
    maker = TextMaker(seed=20260801)
    return [maker.item(number) for number in range(count)]


def item_sets(corpus: Path) -> dict[str, list[Pair]]:
    return {
        "corpus": openmag_items(corpus),
        "labelled": labelled_items(),
        "farm": farm_items(),
        "tricky": tricky_items(),
    }


# --- the golden file ---------------------------------------------------------------------------


def read_golden() -> dict[str, dict[str, list[str]]]:
    golden: dict[str, dict[str, list[str]]] = {}
    for line in GOLDEN.read_text("utf-8").splitlines():
        name, key, tags = json.loads(line)
        golden.setdefault(name, {})[key] = tags.split()
    return golden


def write_golden(corpus: Path) -> None:
    rules = load_tag_rules(CONFIG)
    lines: list[str] = []
    for name, pairs in sorted(item_sets(corpus).items()):
        recorded = {item_key(item, source): tag_item(item, source, rules) for item, source in pairs}
        lines.extend(
            json.dumps([name, key, " ".join(tags)], ensure_ascii=False, separators=(",", ":"))
            for key, tags in sorted(recorded.items())
        )
    GOLDEN.write_text("\n".join(lines) + "\n", "utf-8")


def compare(name: str, pairs: list[Pair], rules: TagRules, *, exact: bool) -> None:
    recorded = read_golden()[name]
    found = 0
    changed: list[str] = []
    for item, source in pairs:
        expected = recorded.get(item_key(item, source))
        if expected is None:
            continue
        found += 1
        got = list(tag_item(item, source, rules))
        if got != expected:
            changed.append(f"{item.title[:60]!r}: {expected} -> {got}")
    assert not changed, f"{len(changed)} {name} items changed tags:\n" + "\n".join(changed[:20])
    if exact:
        assert found == len(recorded) == len({item_key(i, s) for i, s in pairs}), name
    else:
        assert found >= MIN_FOUND * len(recorded), f"{name}: the items changed; write the file"


# --- the tests ---------------------------------------------------------------------------------


def test_labelled_items_keep_their_tags(rules: TagRules) -> None:
    compare("labelled", labelled_items(), rules, exact=True)


def test_tricky_items_keep_their_tags(rules: TagRules) -> None:
    compare("tricky", tricky_items(), rules, exact=True)


def test_farm_items_keep_their_tags(rules: TagRules) -> None:
    compare("farm", farm_items(), rules, exact=False)


@pytest.mark.corpus
def test_corpus_items_keep_their_tags(rules: TagRules, corpus: Path) -> None:
    compare("corpus", openmag_items(corpus), rules, exact=False)


def test_the_golden_file_covers_every_topic_and_near_misses() -> None:
    """The record is worth comparing against: every topic is given, and not to every item."""
    rules = load_tag_rules(CONFIG)
    golden = read_golden()
    topics = {topic.tag for topic in rules.rules}
    for name in ("labelled", "tricky", "farm"):
        given = [set(tags) & topics for tags in golden[name].values()]
        assert sum(not tags for tags in given) >= 0.05 * len(given), name
    tricky = [set(tags) for tags in golden["tricky"].values()]
    for topic in topics:
        assert sum(topic in tags for tags in tricky) >= 10, topic


def test_tricky_items_fire_the_rules_of_the_reference(rules: TagRules) -> None:
    """Not only the topics: every rule that fires (`explain`) is one the reference fires."""
    for item, source in tricky_items(600):
        assert explain(item, source, rules) == reference(item, source, rules), item.title


if __name__ == "__main__":
    from tests.conftest import corpus_path

    path = corpus_path()
    if not (path / "README.md").is_file():
        sys.exit(f"no corpus at {path}: set AGGREGATOR_CORPUS (the file records its items too)")
    write_golden(path)
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)", file=sys.stderr)
