"""The dedupe stage's records: what it needs to know of an item, and what it derives."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from aggregator.dedupe.pairs import unpack
from aggregator.dedupe.procedure_rule import ProcedureSide
from aggregator.models import OrgKind, SourceKind

# A stored item id (int) in the store, any label (str) in tests and the labelled set.
Key = int | str


@dataclass(frozen=True, slots=True, kw_only=True)
class DedupeItem:
    """The part of an item that decides its cluster. Datetimes are tz-aware UTC."""

    key: Key
    source_id: str
    org: OrgKind
    title: str
    text: str
    canonical_url: str
    published: datetime
    first_seen: datetime | None = None  # None: the same as `published`
    # An ep-procedure source's items are procedure events (the procedure rule).
    source_kind: str = SourceKind.FEED

    @property
    def seen(self) -> datetime:
        return self.published if self.first_seen is None else self.first_seen


@dataclass(frozen=True, slots=True, kw_only=True)
class Detail:
    """The word-level part of an item's features: what only `decide` needs. An item the index
    finds no candidate for never needs it, so `Features` computes it on first use; and most
    decisions need only its `Shape`, which `Features` computes alone when asked first."""

    tokens: tuple[str, ...]  # casefolded words of title + text
    keyword: tuple[bool, ...]  # per token: a number, a date or a capitalised name
    body_start: int  # tokens[body_start:] are the text's, the ones before the title's
    # Positions p where a sentence ends before tokens[p] (0, body_start, and len(tokens) when
    # the text ends with a full stop are included): tells a whole intro sentence from a slot.
    breaks: frozenset[int]
    # 64-bit hashes of word shingles: sorted, unique, little-endian. (A frozenset of ints took
    # six times the memory, ~7 KB an item, and a write batch holds the detail of ~1,000.)
    shingles: bytes

    @property
    def shingle_count(self) -> int:
        return len(self.shingles) // 8

    def shape(self) -> Shape:
        title = self.tokens[: self.body_start]
        return Shape(
            token_count=len(self.tokens),
            body_start=self.body_start,
            title_words=frozenset(title),
            shingles=self.shingles,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Shape:
    """The part of an item's Detail that most decisions need: how many words, which are the
    title's, and the shingle set. Computed from the words as UTF-8 bytes (as `fingerprints`
    reads them), without the per-word keyword flags and sentence breaks, which only the
    template guard reads, for pairs that match already: a decision of two items that do not
    match, most of them, no longer pays for those."""

    token_count: int  # words of title + text
    body_start: int  # how many of them are the title's
    title_words: frozenset[str]  # the title's words, casefolded
    shingles: bytes  # as Detail.shingles

    @property
    def shingle_count(self) -> int:
        return len(self.shingles) // 8


@dataclass(frozen=True, slots=True, kw_only=True)
class Fingerprint:
    """What the candidate index needs of an item, without its key or first-seen time: small
    enough to compute where the item was parsed and hand to the store with it. `basis` is a
    digest of everything it was computed from (thresholds included); the store uses it only
    for an item whose own digest is the same (`signatures.features_from`)."""

    basis: bytes
    text_hash: str | None
    signature: bytes
    buckets: bytes  # packed (dedupe/pairs.py): the form items.buckets stores
    procedure: ProcedureSide


@dataclass(frozen=True, slots=True, kw_only=True)
class Features:
    """What `signatures.features` derives from a `DedupeItem`; all `decide` looks at."""

    item: DedupeItem
    text_hash: str | None  # None: the body is too short to match on its hash alone
    signature: bytes  # MinHash, NUM_PERM little-endian uint32
    # The (band, bucket) rows for the candidate index, packed (dedupe/pairs.py): the form
    # items.buckets stores and the store's writer reads them in; `buckets` unpacks them.
    packed: bytes = field(repr=False)
    procedure: ProcedureSide  # what the procedure rule knows of the item
    shingle_size: int  # of the thresholds the features were computed with
    # The Detail once computed (empty until then): a list, so a frozen record can fill it.
    computed: list[Detail] = field(default_factory=list, compare=False, repr=False)
    # The Shape once computed (empty until then; with a Detail, read off it).
    shaped: list[Shape] = field(default_factory=list, compare=False, repr=False)
    # `buckets` once unpacked (empty until then).
    unpacked: list[tuple[tuple[int, int], ...]] = field(
        default_factory=list, compare=False, repr=False
    )

    @property
    def key(self) -> Key:
        return self.item.key

    @property
    def buckets(self) -> tuple[tuple[int, int], ...]:
        """The (band, bucket) rows, sorted. Unpacked on first use only: a cold refresh's
        store writer makes the features of thirty thousand items from their packed rows and
        needs them packed; unpacking them all was a twentieth of its CPU."""
        if not self.unpacked:
            self.unpacked.append(tuple(unpack(self.packed)))
        return self.unpacked[0]

    @property
    def detail(self) -> Detail:
        if not self.computed:
            # Deferred: signatures imports this module.
            from aggregator.dedupe.signatures import detail

            self.computed.append(detail(self.item, self.shingle_size))
        return self.computed[0]

    @property
    def shape(self) -> Shape:
        if not self.shaped:
            if self.computed:
                self.shaped.append(self.computed[0].shape())
            else:
                from aggregator.dedupe.signatures import shape  # as in `detail`

                self.shaped.append(shape(self.item, self.shingle_size))
        return self.shaped[0]

    @property
    def tokens(self) -> tuple[str, ...]:
        return self.detail.tokens

    @property
    def keyword(self) -> tuple[bool, ...]:
        return self.detail.keyword

    @property
    def body_start(self) -> int:
        return self.shape.body_start

    @property
    def token_count(self) -> int:
        return self.shape.token_count

    @property
    def breaks(self) -> frozenset[int]:
        return self.detail.breaks

    @property
    def shingles(self) -> bytes:
        return self.shape.shingles


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """What the primary rule needs of a cluster member."""

    key: Key
    org: OrgKind
    published: datetime
