"""Text a source repeats across its own items is no evidence that two sources' items are one
statement. Pure: values in, values out.

EU press offices end their releases on one file with the same long section ("Background",
"About the EU Centre", "Notes to editors"). Two releases of one source sharing it stay apart
(the same-source rule), but another source's release carrying the same section matches each
of them on Jaccard alone when the leads are short. So a text match between two sources'
items is checked again on their own text: the shingles each shares with its *siblings*
(other items of its source that dedupe tells apart from it) are set aside on both sides,
and the smaller item's rest must be found in the other (`own_text_shared`). A copy carries
its original's repeated text: a wire copy of a Parliament release shares the Parliament's
Background with a Commission release as the original does (`cluster._Judge`). A statement
re-published by several organisations, each with its own intro and "About us" paragraph,
shares its body, which none of them repeats in its other items; a teaser shares its page's
lead. Both keep matching.

Only the items the caller has at hand count: the candidates of the item being clustered
(`cluster.assign`), so this costs no lookup. A source's repeated text is therefore known once
two of its items carrying it are in the window and alike enough to be candidates of the
item. Before that, such a match still stands: a wire copy of the Parliament's first release
with the section and a Commission release carrying it, both clustered before the
Parliament's second one arrives, fold (and a later item does not split them).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from aggregator.dedupe.decision import Decision
from aggregator.dedupe.records import Features
from aggregator.dedupe.thresholds import DEFAULT, Thresholds

Shingles = npt.NDArray[np.uint64]
TEXT_MATCHES = frozenset({"jaccard", "containment"})  # the reasons that rest on shared text
NONE: Shingles = np.empty(0, dtype="<u8")


def shingles(item: Features) -> Shingles:
    """The item's shingle hashes: sorted and unique (`Detail.shingles`)."""
    return np.frombuffer(item.shingles, dtype="<u8")


def repeated_shingles(item: Features, siblings: Iterable[Features]) -> Shingles:
    """The shingles of `item` found in any of `siblings` (other items of its source, each a
    different item): sorted and unique."""
    mine = shingles(item)
    found = [np.intersect1d(mine, shingles(s), assume_unique=True) for s in siblings]
    if not found:
        return NONE
    return np.unique(np.concatenate(found))


def own_text_shared(
    a: Features, b: Features, repeated: Shingles, thresholds: Thresholds = DEFAULT
) -> bool | None:
    """Do `a` and `b` share their own text: with `repeated` set aside on both sides, is the
    smaller one's rest found in the other at `own_text_containment`? None when either has
    fewer than `min_own_shingles` of its own: too little to judge by."""
    own_a = np.setdiff1d(shingles(a), repeated, assume_unique=True)
    own_b = np.setdiff1d(shingles(b), repeated, assume_unique=True)
    smaller = min(own_a.size, own_b.size)
    if smaller < thresholds.min_own_shingles:
        return None
    shared = int(np.intersect1d(own_a, own_b, assume_unique=True).size)
    return shared >= thresholds.own_text_containment * smaller


def without_repeated(
    decision: Decision,
    a: Features,
    b: Features,
    repeated: Shingles,
    thresholds: Thresholds = DEFAULT,
) -> Decision:
    """`decision` on `a` and `b`, unless it is a text match (Jaccard, containment) that rests on
    `repeated`, the text their sources repeat across their own items (`own_text_shared`).
    Symmetric. An item with too little text of its own to judge by (a template's slot, a
    teaser whose lead its source also quoted in a newsletter) keeps its match."""
    if not decision.matched or decision.reason not in TEXT_MATCHES or repeated.size == 0:
        return decision
    if own_text_shared(a, b, repeated, thresholds) is not False:
        return decision
    return Decision(
        matched=False,
        reason="repeated-text",
        jaccard=decision.jaccard,
        containment=decision.containment,
        detail=f"{repeated.size} repeated shingles set aside",
    )
