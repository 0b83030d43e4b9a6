"""Stage 4, dedupe: one statement published by many sources becomes one cluster.

Public face: `DedupeItem`, `cluster_items` (pure, for tests and the eval), `choose_primary`
(the one primary rule), `decide` (one pair), and `aggregator.store.clusters.assign_clusters`
(the same clustering against the store, inside the caller's transaction).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aggregator.dedupe.cluster import (
        CandidateIndex,
        Merge,
        assign,
        choose_primary,
        cluster_items,
    )
    from aggregator.dedupe.decision import Decision, decide
    from aggregator.dedupe.records import DedupeItem, Features, Key, Member
    from aggregator.dedupe.signatures import features
    from aggregator.dedupe.thresholds import DEFAULT, Thresholds

# The names above, imported on first use (PEP 562): the store and the pipeline import
# aggregator.dedupe.records for its plain types, and must not pay for numpy and the
# decision rules through this package when no item needs clustering. No submodule may be
# named like one of these names: importing it would set the package attribute to the module
# (why the `decide` function lives in decision.py).
_HOME = {
    **dict.fromkeys(
        ("CandidateIndex", "Merge", "assign", "choose_primary", "cluster_items"),
        "aggregator.dedupe.cluster",
    ),
    **dict.fromkeys(("Decision", "decide"), "aggregator.dedupe.decision"),
    **dict.fromkeys(("DedupeItem", "Features", "Key", "Member"), "aggregator.dedupe.records"),
    "features": "aggregator.dedupe.signatures",
    **dict.fromkeys(("DEFAULT", "Thresholds"), "aggregator.dedupe.thresholds"),
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


__all__ = [
    "DEFAULT",
    "CandidateIndex",
    "Decision",
    "DedupeItem",
    "Features",
    "Key",
    "Member",
    "Merge",
    "Thresholds",
    "assign",
    "choose_primary",
    "cluster_items",
    "decide",
    "features",
]
