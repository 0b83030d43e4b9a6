"""Topic tags on a labelled set: hand-written items in eight languages (EN, DE, FR, PL, IT, NL,
SV, ES) in tests/data/tags_labelled.jsonl, one JSON object a line:

    id, set ("tuning" or "heldout"), language, source {id, name}, title, text, url (optional),
    tags (exactly the topic tags a policy analyst expects), note (optional: why)

Tuning items were read while writing config/tags.toml: each must get exactly its tags. Held-out
items were not: they are scored per tag, and precision and recall must stay at or above the
floors below, which the shipped rules meet, so that an edit which does worse on text nobody
tuned for fails here. Do not move an item between the sets to make a test pass.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from aggregator.models import Item, Source
from aggregator.tag import TagRules, load_tag_rules, topic_tags
from tests.support_tag import make_item, make_source

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "tags.toml"
LABELLED = Path(__file__).resolve().parent / "data" / "tags_labelled.jsonl"

# Per-tag floors on the held-out set: (precision, recall). Raise them when the rules do better;
# lowering one needs a reason in the commit.
HELD_OUT_FLOORS: dict[str, tuple[float, float]] = {
    "csar": (1.0, 1.0),
    "csa-directive": (1.0, 1.0),
    "interim-regulation": (1.0, 1.0),
    "ai-csam": (1.0, 0.66),  # 2 of 3: "AI systems designed for producing" CSAM is missed
    "encryption": (1.0, 1.0),
    "age-verification": (1.0, 1.0),
    "dsa": (1.0, 1.0),
    "grooming-sextortion": (1.0, 1.0),
    "survivors": (1.0, 1.0),
    "hotlines": (1.0, 1.0),
    "law-enforcement": (1.0, 1.0),
}


@dataclass(frozen=True)
class Labelled:
    id: str
    held_out: bool
    item: Item
    source: Source
    tags: frozenset[str]


def _load() -> list[Labelled]:
    labelled = []
    for line in LABELLED.read_text("utf-8").splitlines():
        row = json.loads(line)
        assert row["set"] in ("tuning", "heldout"), row["id"]
        source = row["source"]
        # Digits only: a slug in the URL would be matched like the title.
        url = row.get("url") or f"https://example.org/item/{zlib.crc32(row['id'].encode())}"
        item = make_item(
            row["title"],
            row["text"],
            url=url,
            language=row["language"],
            source_id=source["id"],
        )
        labelled.append(
            Labelled(
                id=row["id"],
                held_out=row["set"] == "heldout",
                item=item,
                source=make_source(source["id"], source["name"]),
                tags=frozenset(row["tags"]),
            )
        )
    return labelled


LABELLED_ITEMS = _load()
TUNING = [x for x in LABELLED_ITEMS if not x.held_out]
HELD_OUT = [x for x in LABELLED_ITEMS if x.held_out]


@pytest.fixture(scope="module")
def rules() -> TagRules:
    return load_tag_rules(CONFIG)


def test_the_labelled_set_is_sound(rules: TagRules) -> None:
    topics = {topic.tag for topic in rules.rules}
    assert set(HELD_OUT_FLOORS) == topics
    assert len({x.id for x in LABELLED_ITEMS}) == len(LABELLED_ITEMS)
    for x in LABELLED_ITEMS:
        assert x.tags <= topics, x.id
    # About a fifth held out, and every topic has held-out items that should get it.
    assert 0.12 <= len(HELD_OUT) / len(LABELLED_ITEMS) <= 0.3
    for topic in topics:
        assert any(topic in x.tags for x in HELD_OUT), topic
    assert sum(not x.tags for x in HELD_OUT) >= 5  # and items that should get none


@pytest.mark.parametrize("x", TUNING, ids=lambda x: x.id)
def test_tuning_item_gets_exactly_its_tags(rules: TagRules, x: Labelled) -> None:
    assert set(topic_tags(x.item, x.source, rules)) == x.tags, x.item.title


def scores(items: list[Labelled], rules: TagRules) -> dict[str, tuple[int, int, int]]:
    """(true positives, false positives, false negatives) per topic."""
    counts = {topic.tag: [0, 0, 0] for topic in rules.rules}
    for x in items:
        got = set(topic_tags(x.item, x.source, rules))
        for tag, count in counts.items():
            if tag in got and tag in x.tags:
                count[0] += 1
            elif tag in got:
                count[1] += 1
            elif tag in x.tags:
                count[2] += 1
    return {tag: (tp, fp, fn) for tag, (tp, fp, fn) in counts.items()}


def precision_recall(tp: int, fp: int, fn: int) -> tuple[float, float]:
    """Nothing tagged counts as precise; no item to find counts as found."""
    return (tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0)


def test_held_out_precision_and_recall(rules: TagRules) -> None:
    lines = [f"{'tag':22} {'TP':>3} {'FP':>3} {'FN':>3}  prec  recall"]
    below = []
    for tag, (tp, fp, fn) in scores(HELD_OUT, rules).items():
        precision, recall = precision_recall(tp, fp, fn)
        lines.append(f"{tag:22} {tp:3} {fp:3} {fn:3}  {precision:.2f}  {recall:.2f}")
        floor_p, floor_r = HELD_OUT_FLOORS[tag]
        if precision < floor_p or recall < floor_r:
            below.append(f"{tag}: {precision:.2f}/{recall:.2f} < {floor_p:.2f}/{floor_r:.2f}")
    print("\nheld-out set:\n" + "\n".join(lines))
    assert not below, "\n".join([*lines, "below the floors:", *below])
