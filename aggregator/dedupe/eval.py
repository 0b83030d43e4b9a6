"""Pairwise precision, recall and F1 of the clustering on the labelled set.

    python -m aggregator.dedupe.eval [-v] [--no-corpus] [--data DIR] [--corpus DIR]

A pair of items is positive when both share a gold cluster; predicted positive when both
share a predicted cluster. With -v, every misclassified pair is printed with the decision
`decide` gave it, which is what one needs to tune thresholds.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

from aggregator.dedupe.cluster import cluster_items
from aggregator.dedupe.decision import decide
from aggregator.dedupe.labelled import DATA, Labelled, load_corpus, load_labelled
from aggregator.dedupe.records import Key
from aggregator.dedupe.signatures import features
from aggregator.dedupe.thresholds import DEFAULT, Thresholds

DEFAULT_CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


@dataclass(frozen=True, slots=True, kw_only=True)
class Scores:
    items: int
    gold_clusters: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _pairs(counts: Counter[Any]) -> int:
    return sum(n * (n - 1) // 2 for n in counts.values())


def score(labelled: Sequence[Labelled], predicted: Mapping[Key, Key]) -> Scores:
    gold = Counter(x.gold for x in labelled)
    pred = Counter(predicted[x.item.key] for x in labelled)
    both = Counter((x.gold, predicted[x.item.key]) for x in labelled)
    return Scores(
        items=len(labelled),
        gold_clusters=len(gold),
        true_pairs=_pairs(gold),
        predicted_pairs=_pairs(pred),
        correct_pairs=_pairs(both),
    )


def evaluate(labelled: Sequence[Labelled], thresholds: Thresholds = DEFAULT) -> Scores:
    predicted = cluster_items([x.item for x in labelled], thresholds=thresholds)
    return score(labelled, predicted)


def misclassified(labelled: Sequence[Labelled], thresholds: Thresholds = DEFAULT) -> list[str]:
    """One line per wrongly joined or wrongly separated pair, with its pair decision."""
    predicted = cluster_items([x.item for x in labelled], thresholds=thresholds)
    feats = {x.item.key: features(x.item, thresholds) for x in labelled}
    lines = []
    for a, b in combinations(labelled, 2):
        same_gold = a.gold == b.gold
        same_pred = predicted[a.item.key] == predicted[b.item.key]
        if same_gold == same_pred:
            continue
        d = decide(feats[a.item.key], feats[b.item.key], thresholds=thresholds)
        kind = "MISSED" if same_gold else "FALSE "
        lines.append(
            f"{kind} {a.item.key} ~ {b.item.key}: {d.reason} "
            f"jaccard={d.jaccard:.2f} containment={d.containment:.2f} {d.detail}".rstrip()
        )
    return lines


def hard_negatives(labelled: Sequence[Labelled], thresholds: Thresholds = DEFAULT) -> int:
    """Pairs in different gold clusters that the index makes candidates (a shared bucket)."""
    feats = [(x.gold, set(features(x.item, thresholds).buckets)) for x in labelled]
    return sum(1 for (ga, ba), (gb, bb) in combinations(feats, 2) if ga != gb and ba & bb)


def _report(name: str, s: Scores) -> str:
    return (
        f"{name}: {s.items} items, {s.gold_clusters} gold clusters, {s.true_pairs} true pairs, "
        f"{s.predicted_pairs} predicted pairs\n"
        f"  precision {s.precision:.4f}  recall {s.recall:.4f}  F1 {s.f1:.4f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aggregator.dedupe.eval", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="print misclassified pairs")
    parser.add_argument("--data", type=Path, default=DATA, help="folder of labelled JSON files")
    parser.add_argument(
        "--corpus",
        type=Path,
        default=Path(os.environ.get("AGGREGATOR_CORPUS", str(DEFAULT_CORPUS))),
        help="the shared real-world corpus (its openmag items join the set)",
    )
    parser.add_argument("--no-corpus", action="store_true", help="the hand-labelled set only")
    args = parser.parse_args(argv)

    labelled = load_labelled(args.data)
    if not labelled:
        print(f"no labelled items under {args.data}", file=sys.stderr)
        return 2
    sets = [("labelled set", labelled)]
    if not args.no_corpus and (args.corpus / "README.md").is_file():
        sets.append(("labelled set + corpus items", labelled + list(load_corpus(args.corpus))))
    for name, items in sets:
        print(_report(name, evaluate(items)))
        print(
            f"  hard-negative candidate pairs (shared bucket, different gold): "
            f"{hard_negatives(items)}"
        )
        if args.verbose:
            for line in misclassified(items):
                print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
