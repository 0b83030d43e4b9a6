"""Every dedupe threshold and size, in one commented table.

Tuned on the labelled set in tests/data/dedupe/ (138 items, 60 gold clusters, since grown to
155 and 70 with corrected_reissues.json: EU press releases, joint statements re-published
with their own intro or footer, RSS teasers against full pages, updated releases,
translations that must stay apart, template statements that
differ in one country, name, date or number) plus the 203 real items of the corpus's openmag
snapshots (EDRi, Commission, Europol, EP, Politico, Euronews). `python -m aggregator.dedupe.eval`
prints the scores; every figure below was measured with it (a sweep varying one value at a
time) when the value was chosen. Change a value only with a new measurement.

With these values: precision 1.000, recall 0.994, F1 0.997 on the labelled set (the one
missed pair is another source's wire copy of a release whose figure was corrected, 1.5 -> 1.3
million: without its source's correction marker the template guard cannot tell a corrected
number from a template's slot); with the corpus items added (358 items), precision 1.000,
recall 0.994.

Changing shingle_size, num_perm, bands, the seed or the tokeniser changes every signature and
bucket: bump FEATURES_VERSION, and re-fingerprint stored items (assign_clusters on them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final


@dataclass(frozen=True, slots=True, kw_only=True)
class Thresholds:
    # --- fingerprints ----------------------------------------------------------------------
    # Word n-grams. 2, 3, 4 and 5 all score the same on the set (the template guard and the
    # title rule do the fine work); 3 is the middle: 2-grams of unrelated releases on one
    # file ("the council", "sexual abuse") overlap more, and every changed word kills n
    # shingles, which hurts teasers cut mid-sentence as n grows.
    shingle_size: int = 3
    # MinHash permutations = bands x rows (32 x 3). Candidate probability at Jaccard 0.55
    # (the verify threshold) is 1-(1-0.55^3)^32 = 0.997; at 0.1, 0.03. 64 x 16 bands and
    # 128 x 32 scored the same on the set, but 16 bands of 4 rows would miss 1 pair in 5
    # at 0.55 (0.785).
    # Cost: 32 + 2 bucket rows per item.
    num_perm: int = 96
    bands: int = 32
    # Body words needed before the whole-body hash may match on its own: short bodies
    # ("Read more on our website.") are shared by unrelated items. Not tuned: a floor.
    min_hash_tokens: int = 20
    # Body words a body equal word for word must have to match under titles that disagree
    # (a re-publisher's own title): below, such a body is a stock description ("available
    # in all official languages", 33 words). Not tuned: the shortest retitled copies in the
    # labelled set run to a paragraph.
    retitled_copy_tokens: int = 60
    # Words of title + text below which an item takes no part in near-duplicate matching
    # (it can still match by URL): a bare headline has too little to compare.
    min_tokens: int = 8
    # Two extra bands: the first `lead_tokens` body words and the whole title (when it has
    # `min_title_tokens` words). They make an RSS teaser a candidate of its full page,
    # although their Jaccard (0.13-0.50 on the set) is far below any MinHash band
    # threshold. Without them recall falls from 0.992 to 0.863.
    lead_tokens: int = 12
    min_title_tokens: int = 4
    # --- verification ----------------------------------------------------------------------
    # Exact shingle Jaccard at or above this is a near-duplicate. Matching pairs on the set
    # that needed Jaccard measured 0.60 and up; the closest distinct pair not caught by the
    # template guard measured 0.49 (two real "EDRi-gram" newsletter items sharing their
    # boilerplate). 0.4 merged distinct statements (precision 0.925), 0.3 more (0.904);
    # 0.6-0.8 scored as 0.55 does; 0.55 sits between the two measured edges.
    jaccard: float = 0.55
    # Two items of one source under different identities (GUID, URL) are two items: a source
    # does not publish one statement twice in other words, while its newsletters and press
    # releases share headers, footers and background paragraphs (two issues of a weekly
    # differing by one sentence measured 0.6 and up). Only a near-copy (a re-issued release,
    # a corrected one) is one item again.
    same_source_jaccard: float = 0.9
    # A corrected re-issue (dedupe/corrections.py): two items of one source that nearly copy
    # each other (`same_source_jaccard`) and differ in one slot, a figure, date or name, are
    # one item when the source marked one a correction of the other (in its title or its
    # address) and published it within this time of the other. Corrections come hours to a
    # day after the release (the reviewer's four: 3-4 hours; the Commission's corrigenda: the
    # same or the next day). Not tuned: no item of the labelled set is a corrected re-issue
    # published later than that, and no template pair carries a correction marker at all
    # (council_alignment's "-corrigendum-list" is another word beside one). Two days bounds
    # how long an address marker vouches for the item it extends.
    correction_window: timedelta = timedelta(days=2)
    # Share of the smaller item's shingles found in the larger one: a teaser in its full
    # page, a statement inside a long intro. Matching teasers measured 0.84-1.0; at 0.9
    # recall falls to 0.976. Newsletters quoting a teaser also reach 1.0: `title_overlap`
    # is what keeps those apart.
    containment: float = 0.8
    # Containment only counts when the smaller item has this many shingles, so a stub of
    # boilerplate cannot be "contained" in every long page of the same institution.
    min_containment_shingles: int = 15
    # Containment also needs this share of the shorter title's words in the other title: a
    # teaser and its page carry the article's title, a newsletter ("EDRi-gram, 19 June
    # 2024") has its own. Without it precision falls to 0.904; 0.3-0.8 scored the same.
    title_overlap: float = 0.5
    # Template guard: an edit inside otherwise equal bodies of at most this many words that
    # involves a number, a date or a capitalised name means two statements from one
    # template ("... Georgia, align" / "... align"; "2023/1215" / "2023/1216"). Without the
    # guard precision is 0.288. The template differences on the set are 1-4 words; the
    # shortest legitimate edit with a name between matching items is 18 words (two
    # re-publications' own intros). Anything from 4 to 17 scores the same; 14 leaves room
    # for longer country lists.
    template_edit_max_tokens: int = 14
    # Template guard at the end of a teaser: a teaser may end this few words after the last
    # shared run, and those words must continue the other text (decide._teaser_tail). With
    # 0, teasers cut right after the differing country join the wrong operation
    # (precision 0.954).
    teaser_tail_tokens: int = 3
    # Template guard, intro or slot: a short edit before the shared body (or a short tail
    # after it) made of whole sentences on both sides is an organisation's own intro (or
    # footer), not a template's slot, unless the two are one sentence with its names,
    # numbers and dates filled differently: the difflib ratio of the sentences, with every
    # keyword as one placeholder, at or above this (decide.replaced_sentences). Measured on
    # joint_statement_intros.json: 0 (no intro allowance) recall 0.920; 0.2, 0.920 (the
    # intros there measure 0.22-0.40); 0.3-0.8 precision 1.000 recall 0.993; above 1 (every
    # whole-sentence edit an intro) precision 0.993 ("Freed: A." / "Freed: B." merge).
    # 0.5: the middle of the flat range.
    slot_alignment: float = 0.5
    # Text a source repeats (dedupe/repeated.py): a Jaccard or containment match between two
    # sources' items must hold on their own text, with the shingles their publishers share
    # with other items of their own set aside on both sides: the smaller item's own shingles
    # found in the other at `own_text_containment`. Releases matching only through a shared
    # Background paragraph (tests/test_dedupe_repeated.py, the tester's reproduction) share
    # 0 of their 38-46 own shingles; a wire copy of one, 44 of 46. On the labelled set with
    # the corpus items every value from 0.2 to 0.9 scores as no check does (1.0: recall 0.973);
    # with every other item of a source in the window taken as a sibling (more than the live
    # stage sees), matching pairs with 15 own shingles or more measure 0.77 and up (a teaser
    # of EDRi's joint statement its newsletter also quoted). 0.5: the middle. Below
    # `min_own_shingles` on either side there is too little to judge by (0, 5, 10, 15 and 25
    # score the same): the templates' copies (1-23 own shingles: their slots) and teasers
    # whose lead their source quoted elsewhere keep their match. 15, as
    # `min_containment_shingles`.
    own_text_containment: float = 0.5
    min_own_shingles: int = 15
    # --- work per item ---------------------------------------------------------------------
    # What bounds the cost of one new item whatever the data (a template family of hundreds
    # of declarations, or a synthetic archive where every item resembles every other): the
    # index returns at most `max_candidates` candidates, best first (the same URL or body
    # hash, or a shared title/lead/procedure band, then the most MinHash bands shared); a
    # candidate found by MinHash bands alone is dropped unread when the stored signatures
    # estimate a Jaccard below `min_estimated_jaccard`; at most `max_verified` remaining
    # candidates not already in the item's cluster are compared exactly. Measured on the
    # labelled set with the corpus items: the longest candidate list of any item is 19; a
    # cap of 4 verifications or more scores as no cap (2: recall 0.977, 1: 0.913); pairs
    # found by MinHash bands alone that match estimate a Jaccard of 0.625 and up, so the
    # floor of 0.15 (0.15 to 0.5 all score the same) keeps a wide margin and drops the random
    # band collisions of an archive. 128 / 32 leave room for a family of hundreds of copies
    # and templates; with them the work per item is at most 32 exact comparisons.
    max_candidates: int = 128
    max_verified: int = 32
    min_estimated_jaccard: float = 0.15
    # --- window ------------------------------------------------------------------------------
    # Items further apart than this (by publication and by first sight) are never compared:
    # the same statement is re-published within days, and the window bounds the candidates,
    # so the cost per new item does not grow with the archive. Setting dedupe.window_days.
    window: timedelta = timedelta(days=30)

    @property
    def rows(self) -> int:
        return self.num_perm // self.bands


DEFAULT: Final = Thresholds()

# Stored text hashes carry this version ("t1:..."); a new version means recompute.
FEATURES_VERSION: Final = 1
# Seed of the MinHash permutations: fixed, so signatures agree across processes and hosts.
MINHASH_SEED: Final = b"aggregator-dedupe-minhash-v1"
