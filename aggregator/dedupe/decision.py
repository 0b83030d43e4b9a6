"""The match decision for one pair of items. Pure: no I/O, no clock, symmetric in (a, b).

First the procedure rule (`procedure_rule`): two events of one procedure source never match,
an event and an official release on it the same day always do. Then levels, strictest
first: the same canonical URL; the same body hash; near-duplicate text
(shingle Jaccard, or containment of the smaller item in the larger one); two items of one
source only when one nearly copies the other. Near-duplicates must also pass the template
guard, which keeps apart statements written from one template
(the Council's alignment declarations differ in a country, a date and a decision number),
unless the one slot they differ in is a source's correction of its own release, re-issued
marked as such (`corrections`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from difflib import Match, SequenceMatcher
from itertools import pairwise
from typing import Literal
from urllib.parse import urlsplit

import numpy as np

from aggregator.dedupe.corrections import is_correction
from aggregator.dedupe.procedure_rule import procedure_apart, procedure_match
from aggregator.dedupe.records import Features
from aggregator.dedupe.thresholds import DEFAULT, Thresholds
from aggregator.urls import same_page_key

Reason = Literal[
    "procedure",
    "procedure-events",
    "url",
    "text-hash",
    "jaccard",
    "containment",
    "outside-window",
    "too-short",
    "same-source",
    "template-difference",
    "dissimilar",
    "repeated-text",  # a text match resting on what a source repeats (dedupe/repeated.py)
    "shared-body",  # one short body under unrelated titles: a publisher's stock description
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    matched: bool
    reason: Reason
    jaccard: float = 0.0
    containment: float = 0.0
    # For a template difference: the words that differ; for a corrected re-issue that
    # matches, "corrected: " and those words.
    detail: str = ""


def decide(
    a: Features, b: Features, *, window: timedelta | None = None, thresholds: Thresholds = DEFAULT
) -> Decision:
    """Do `a` and `b` publish the same statement? The same answer for (b, a)."""
    # The procedure rule first: it is about what items are (a procedure's events, an official
    # release on one of them), which no text similarity can overrule.
    if procedure_apart(a.procedure, b.procedure):
        return Decision(matched=False, reason="procedure-events")
    if procedure_match(a.procedure, b.procedure):
        return Decision(matched=True, reason="procedure")
    window = thresholds.window if window is None else window
    if abs(a.item.published - b.item.published) > window or abs(a.item.seen - b.item.seen) > window:
        return Decision(matched=False, reason="outside-window")
    if (
        a.item.source_id != b.item.source_id
        # One page, though one site links it over http and another over https, or with and
        # without "www.": the same server's page to every reader.
        and same_page_key(a.item.canonical_url) == same_page_key(b.item.canonical_url)
        and _is_document_url(a.item.canonical_url)
    ):
        # Not within one source: two of its items at one address are two entries of one
        # page (a parliament's agenda items at page#top-12, #top-15), as the store keeps
        # them apart; one item seen again at its address is the same item to the store.
        return Decision(matched=True, reason="url")
    if a.text_hash is not None and a.text_hash == b.text_hash:
        # The same body. Under titles that agree, or, across sources, long enough to be one
        # statement retitled by a re-publisher, it is one item. A short body under unrelated
        # titles is a description publishers give every release ("This press release is
        # available in all official languages ..."): four Commission and Parliament
        # releases on state aid, fines and the budget were one story.
        bodies = min(a.token_count - a.body_start, b.token_count - b.body_start)
        if titles_agree(a, b, thresholds) or (
            a.item.source_id != b.item.source_id and bodies >= thresholds.retitled_copy_tokens
        ):
            return Decision(matched=True, reason="text-hash")
        return Decision(matched=False, reason="shared-body")
    if min(a.token_count, b.token_count) < thresholds.min_tokens:
        return Decision(matched=False, reason="too-short")

    common = _common(a.shingles, b.shingles)
    union = a.shape.shingle_count + b.shape.shingle_count - common
    jaccard = common / union if union else 0.0
    smaller = min(a.shape.shingle_count, b.shape.shingle_count)
    containment = common / smaller if smaller >= thresholds.min_containment_shingles else 0.0
    bodies = min(a.token_count - a.body_start, b.token_count - b.body_start)
    if a.item.source_id == b.item.source_id and (
        jaccard < thresholds.same_source_jaccard or bodies < thresholds.min_tokens
    ):
        # Not a copy of one another: two items the source published (see thresholds). Nor
        # are two of its headlines alone, however long and alike: a listing page's
        # "Declaration by the High Representative on ... Iran" comes out every few weeks.
        return Decision(
            matched=False, reason="same-source", jaccard=jaccard, containment=containment
        )
    if jaccard >= thresholds.jaccard:
        reason: Reason = "jaccard"
    elif containment >= thresholds.containment and titles_agree(a, b, thresholds):
        reason = "containment"
    else:
        return Decision(
            matched=False, reason="dissimilar", jaccard=jaccard, containment=containment
        )
    slots = _differing_slots(a, b, thresholds)
    if len(slots) == 1 and is_correction(a, b, thresholds.correction_window):
        # One figure, date or name corrected in a release its source re-issued marked as
        # a correction: one item, not two statements of a template.
        return Decision(
            matched=True,
            reason=reason,
            jaccard=jaccard,
            containment=containment,
            detail=f"corrected: {slots[0]}",
        )
    if slots:
        conflict = slots[0]
        return Decision(
            matched=False,
            reason="template-difference",
            jaccard=jaccard,
            containment=containment,
            detail=conflict,
        )
    return Decision(matched=True, reason=reason, jaccard=jaccard, containment=containment)


def template_difference(a: Features, b: Features, thresholds: Thresholds = DEFAULT) -> str | None:
    """The first of `template_differences`, or None when the bodies differ in no slot."""
    return next(template_differences(a, b, thresholds), None)


def _differing_slots(a: Features, b: Features, thresholds: Thresholds) -> list[str]:
    """The distinct template differences of `a` and `b`, up to two: enough to tell none,
    one slot (a figure corrected wherever the text repeats it counts once) and several."""
    found: list[str] = []
    for difference in template_differences(a, b, thresholds):
        if difference not in found:
            found.append(difference)
            if len(found) == 2:
                break
    return found


def template_differences(
    a: Features, b: Features, thresholds: Thresholds = DEFAULT
) -> Iterator[str]:
    """Each short interior edit of the bodies that touches a number, date or name, as "x | y".

    Edits before the first or after the last shared run of words are allowed: an intro, a
    footer, a teaser cut short. Long interior edits are allowed: a corrected paragraph.
    What remains, a few words swapped inside otherwise equal text that name something, is
    how one template becomes two statements. Titles are left out (re-publishers retitle).
    Runs shorter than a shingle ("the", "of the") anchor nothing: they are chance matches
    inside an edit. The pair is ordered canonically, so the answer is symmetric.

    A slot and an intro differ in where the edit sits: a slot is a few words inside a
    sentence the two texts share ("43 suspects have been arrested" / "38 suspects ..."); an
    organisation's own intro ("NGO A signed this statement today." / "The Council received
    this letter.") is a whole sentence of its own on each side, ending where the shared body
    begins, and the two intros are different sentences, not one sentence with a word swapped
    (`replaced_sentences`). The same holds for a footer after the shared body.
    """
    sa, sb = _Side.of(a), _Side.of(b)
    if (sa.tokens, sa.keyword) > (sb.tokens, sb.keyword):
        sa, sb = sb, sa
    ta, ka, tb, kb = sa.tokens, sa.keyword, sb.tokens, sb.keyword
    blocks = SequenceMatcher(None, ta, tb, autojunk=False).get_matching_blocks()
    anchors = [blk for blk in blocks if blk.size >= thresholds.shingle_size]
    tail = _teaser_tail(sa, sb, anchors[-1] if anchors else None, thresholds)
    if tail is not None:
        yield tail
    # The start counts as an anchor of size 0: two texts that begin with different short
    # words ("43 suspects have been arrested" / "38 suspects ...") differ in the template's
    # first slot. An intro on one side only (the other side empty) is allowed below.
    start = Match(0, 0, 0)
    for left, right in pairwise([start, *anchors]):
        i1, j1 = left.a + left.size, left.b + left.size
        i2, j2 = right.a, right.b
        if max(i2 - i1, j2 - j1) > thresholds.template_edit_max_tokens:
            continue
        if left is start and (i1 == i2 or j1 == j2):
            continue
        if left is start and replaced_sentences(sa, (i1, i2), sb, (j1, j2), thresholds):
            continue
        if _fills_a_slot(ka[i1:i2], kb[j1:j2]):
            yield f"{' '.join(ta[i1:i2])} | {' '.join(tb[j1:j2])}"


def _fills_a_slot(left: Sequence[bool], right: Sequence[bool]) -> bool:
    """Is an edit (the keyword flags of its words on each side) a template's slot filled
    differently: a name, number or date on both sides ("43" / "38", "Georgia" / "Armenia"),
    or one added where the other side has nothing ("as well as Georgia," added to a list)?
    Plain words replaced by words with a name ("member states' representatives" / "the
    member states' ambassadors (Coreper)") are a correction of one statement's wording,
    not another statement."""
    named_left, named_right = any(left), any(right)
    if named_left and named_right:
        return True
    return (named_left and not right) or (named_right and not left)


@dataclass(frozen=True, slots=True)
class _Side:
    """One item's body as the template guard reads it: words, keyword flags, and the
    positions (in body words) where a sentence ends before a word."""

    tokens: tuple[str, ...]
    keyword: tuple[bool, ...]
    breaks: frozenset[int]

    @classmethod
    def of(cls, f: Features) -> _Side:
        start = f.body_start
        return cls(
            f.tokens[start:],
            f.keyword[start:],
            frozenset(p - start for p in f.breaks if p >= start),
        )

    def masked(self, start: int, end: int) -> list[str]:
        """The words from start to end, each name, number or date as one placeholder."""
        return [
            "\0" if flag else word
            for word, flag in zip(self.tokens[start:end], self.keyword[start:end], strict=True)
        ]


def replaced_sentences(
    a: _Side, span_a: tuple[int, int], b: _Side, span_b: tuple[int, int], thresholds: Thresholds
) -> bool:
    """Are a[span_a] and b[span_b] whole sentences of their own, and different ones?

    Whole: each span starts and ends at a sentence boundary of its text. Different: the two
    spans are not one sentence with its slots filled differently. Slots are the names, numbers
    and dates, so each keyword counts as the same placeholder word and what is compared is
    the sentence around them (difflib's ratio, below `thresholds.slot_alignment`):
    "Spain: 12 arrests." / "Poland: 7 arrests." are one sentence (1.0), a template's first
    slot; "NGO A signed this statement today." / "The Council received this letter." are
    two (0.36), two intros.
    """
    (i1, i2), (j1, j2) = span_a, span_b
    if not {i1, i2} <= a.breaks or not {j1, j2} <= b.breaks:
        return False
    matcher = SequenceMatcher(None, a.masked(i1, i2), b.masked(j1, j2), autojunk=False)
    return matcher.ratio() < thresholds.slot_alignment


def _teaser_tail(a: _Side, b: _Side, last: Match | None, thresholds: Thresholds) -> str | None:
    """A teaser cut just after the word that tells two template statements apart.

    After the last shared run, the text that ends first has at most a few words left; if
    they are not the words the other text goes on with, and one of them names something,
    the teaser belongs to another statement of the template. A last word cut short
    ("Parliam") is a prefix of the other's word and passes. So does an organisation's own
    short footer ("Contact: NGO A." / "Signed: the Council."): whole, different sentences.
    """
    if last is None:
        return None
    i, j = last.a + last.size, last.b + last.size
    rest_a, rest_b = len(a.tokens) - i, len(b.tokens) - j
    if rest_a <= rest_b:
        short, long_, start, other = a, b, i, j
    else:
        short, long_, start, other = b, a, j, i
    count = len(short.tokens) - start
    if count == 0 or count > thresholds.teaser_tail_tokens:
        return None
    if replaced_sentences(
        short, (start, len(short.tokens)), long_, (other, len(long_.tokens)), thresholds
    ):
        return None
    for offset in range(count):
        word, theirs = short.tokens[start + offset], long_.tokens[other + offset]
        if word == theirs:
            continue
        cut_short = start + offset == len(short.tokens) - 1 and theirs.startswith(word)
        if not cut_short and (short.keyword[start + offset] or long_.keyword[other + offset]):
            return (
                f"{' '.join(short.tokens[start:])} | "
                f"{' '.join(long_.tokens[other : other + count])} ..."
            )
    return None


def titles_agree(a: Features, b: Features, thresholds: Thresholds = DEFAULT) -> bool:
    """Most words of the shorter title appear in the other one.

    Containment alone cannot tell a teaser in its full page from a teaser quoted in a
    newsletter; the title can: a teaser and its page carry the article's title, while a
    newsletter ("EDRi-gram, 19 June 2024") has its own.
    """
    ta, tb = a.shape.title_words, b.shape.title_words
    if not ta or not tb:
        return False
    return len(ta & tb) / min(len(ta), len(tb)) >= thresholds.title_overlap


def _is_document_url(url: str) -> bool:
    """A bare host ("https://example.org/") is where link-less items point: not an identity."""
    parts = urlsplit(url)
    return bool(parts.netloc) and (parts.path.strip("/") != "" or bool(parts.query))


def _common(a: bytes, b: bytes) -> int:
    """How many shingle hashes two sorted, unique arrays (`Detail.shingles`) share."""
    left, right = np.frombuffer(a, dtype="<u8"), np.frombuffer(b, dtype="<u8")
    return int(np.intersect1d(left, right, assume_unique=True).size)
