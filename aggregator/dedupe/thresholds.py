"""Every dedupe threshold and size, in one commented table.

Tuned on the labelled set in tests/data/dedupe/ (see `python -m aggregator.dedupe.eval`):
real-style EU press releases, joint statements re-published with their own intro or footer,
RSS teasers against full pages, updated releases, translations that must stay apart, and
hard negatives (template declarations that differ in one country, name, date or number;
two statements on the same topic on the same day). The figures quoted per row were measured
on that set when the value was chosen; change a value only with a new measurement.

Changing SHINGLE_SIZE, NUM_PERM, BANDS, the seed or the tokeniser changes every signature:
bump FEATURES_VERSION so stored signatures are recomputed (replay does this).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final


@dataclass(frozen=True, slots=True, kw_only=True)
class Thresholds:
    # --- fingerprints --------------------------------------------------------------------
    # Word 3-shingles: 2-shingles made unrelated releases on one file (both full of "the
    # Council", "child sexual abuse") overlap at Jaccard 0.15-0.25; 4-shingles lost teaser
    # recall because one changed word kills four shingles. 3 gave no false pair on the set.
    shingle_size: int = 3
    # MinHash permutations = bands x rows. 32 bands of 3 rows: a pair at Jaccard 0.4 shares a
    # bucket with probability 0.88, at 0.5 with 0.98, at 0.1 with 0.03. Fewer rows per band
    # would flood the verifier with same-topic candidates; more bands cost store rows.
    num_perm: int = 96
    bands: int = 32
    # Body words needed before the whole-text hash may match on its own: short bodies
    # ("Press release", "Read more") are shared by unrelated items.
    min_hash_tokens: int = 20
    # Words of title + text below which an item takes part in near-duplicate matching at
    # all (it can still match by URL): a headline-only item has too little to compare.
    min_tokens: int = 8
    # Words at the start of the body hashed as an extra LSH band, and title words hashed as
    # another: they make an RSS teaser a candidate of its full page although their Jaccard
    # is far below any band threshold (a 40-word teaser of a 600-word page: about 0.06).
    lead_tokens: int = 12
    min_title_tokens: int = 4
    # --- verification --------------------------------------------------------------------
    # Exact shingle Jaccard at or above this is a near-duplicate. Re-published statements
    # with a short intro or footer measured 0.55-0.97; the closest distinct-statement pair
    # on the set (two NGO reactions to one vote) measured 0.21.
    jaccard: float = 0.5
    # Share of the smaller item's shingles found in the larger one: a teaser in its full
    # page, a statement inside a page that wraps it in a long intro. Matching teasers
    # measured 0.84-1.0; the highest non-matching pair measured 0.34.
    containment: float = 0.8
    # Containment only counts when the smaller item has this many shingles, so a stub of
    # boilerplate cannot be "contained" in every long page of the same institution.
    min_containment_shingles: int = 15
    # Template guard: an interior difference (not the start or end of either text) of at
    # most this many words that involves a number, a date or a capitalised name means two
    # different statements from one template ("... Georgia align themselves" vs "... the
    # Republic of Moldova align themselves"; "Decision (CFSP) 2024/1058" vs "2024/1061").
    # The longest such difference on the set was 9 words; the shortest legitimate interior
    # edit (a corrected paragraph of an updated release) was 23 words.
    template_edit_max_tokens: int = 14
    # Template guard at the end of a teaser: the teaser may end this few words after the
    # last shared run; such a tail must continue the other text (see decide._teaser_tail).
    teaser_tail_tokens: int = 3
    # Containment also needs this share of the shorter title's words in the other title.
    title_overlap: float = 0.5
    # --- window ----------------------------------------------------------------------------
    # Two items further apart than this (by publication and by first sight) are never
    # compared: the same statement is re-published within days, and the window bounds the
    # candidates, so the cost per new item does not grow with the archive. A setting.
    window: timedelta = timedelta(days=30)

    @property
    def rows(self) -> int:
        return self.num_perm // self.bands


DEFAULT: Final = Thresholds()

# Stored signatures and bucket hashes carry this version; a new version means recompute.
FEATURES_VERSION: Final = 1
# Seed of the MinHash permutations: fixed, so signatures agree across processes and hosts.
MINHASH_SEED: Final = b"aggregator-dedupe-minhash-v1"
