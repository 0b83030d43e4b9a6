"""Stage 4, dedupe: one statement published by many sources becomes one cluster.

Public face: `DedupeItem`, `cluster_items` (pure, for tests and the eval), `choose_primary`
(the one primary rule), `decide` (one pair), and `aggregator.store.clusters.assign_clusters`
(the same clustering against the store, inside the caller's transaction).
"""

from aggregator.dedupe.cluster import CandidateIndex, Merge, assign, choose_primary, cluster_items
from aggregator.dedupe.decide import Decision, decide
from aggregator.dedupe.records import DedupeItem, Features, Key, Member
from aggregator.dedupe.signatures import features
from aggregator.dedupe.thresholds import DEFAULT, Thresholds

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
