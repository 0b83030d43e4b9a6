"""Fingerprints of an item: words, shingles, a text hash, a MinHash signature, LSH buckets.

Everything here is deterministic across processes, machines and Python versions: hashes come
from BLAKE2b (never the built-in `hash()`, which is salted per process), and the MinHash
permutations are derived from a fixed seed, not from a random generator's stream.

MinHash is vectorised with numpy: a signature is one (num_perm x shingles) array operation
instead of a Python loop per permutation (about 30x faster per item than the datasketch
library, which the first version used).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from functools import cache, lru_cache

import numpy as np
import numpy.typing as npt

from aggregator.dedupe.pairs import pack, unpack
from aggregator.dedupe.procedure_rule import ProcedureKey, ProcedureSide, procedure_side
from aggregator.dedupe.records import DedupeItem, Detail, Features, Fingerprint
from aggregator.dedupe.thresholds import DEFAULT, FEATURES_VERSION, MINHASH_SEED, Thresholds

_WORD = re.compile(r"\w+", re.UNICODE)
_U64 = np.uint64
_MASK32 = _U64(0xFFFFFFFF)

# Capitalised words that are grammar, not names: they don't make a template difference.
_NOT_NAMES = frozenset(
    " ".join(
        (
            "a an and as at but by for from he her his i if in is it its no of on or our she so",
            "that the their then there these they this those to we what when where which who",
            "will with you der die das und ein eine le la les un une des et",
        )
    ).split()
)


def _blake64(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


@lru_cache(maxsize=1 << 16)
def _token_hash(token: str) -> int:
    return _blake64(token.encode())


# Between two words, a sentence ends where ".", "!", "?", ":" or ";" is followed by a space
# ("1.5 million" and "2023/1215" do not end one), or at a line break.
_SENTENCE_GAP = re.compile(r"[.!?:;]['\"\u2019\u201d)\]]*\s|\n")
_SENTENCE_END = re.compile(r"[.!?]['\"\u2019\u201d)\]]*\s*$")


def tokenise(text: str) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    """Casefolded words, and per word whether it is a number, a date or a capitalised name."""
    tokens, keyword, _ = tokenise_sentences(text)
    return tokens, keyword


def tokenise_sentences(
    text: str,
) -> tuple[tuple[str, ...], tuple[bool, ...], frozenset[int]]:
    """`tokenise`, and the positions p where a sentence ends before word p: 0 always, and
    len(words) when the text ends with a full stop, "!" or "?"."""
    text = unicodedata.normalize("NFKC", text)
    # Split at sentence gaps, then count words per piece: the gap pattern holds no word
    # character, so it never cuts a word and each match lies inside one gap between words;
    # the word after a gap is the first of the next piece. (One scan each, instead of a
    # search per pair of words: this runs for every item of a refresh.)
    breaks = {0}
    words: list[str] = []
    for piece in _SENTENCE_GAP.split(text):
        if words:
            breaks.add(len(words))
        words.extend(_WORD.findall(piece))
    breaks.discard(len(words))  # a gap after the last word is not between two words
    if words and _SENTENCE_END.search(text, _last_word_end(text)):
        breaks.add(len(words))
    if not words:
        return (), (), frozenset({0})
    cache = _WORDS
    if len(cache) > _WORDS_LIMIT:
        cache.clear()
    tokens, keyword = zip(*(cache.get(w) or _remember(w) for w in words), strict=True)
    return tokens, keyword, frozenset(breaks)


def words(text: str) -> tuple[str, ...]:
    """The tokens of `tokenise(text)`, without the keyword flags and sentence breaks."""
    found = _WORD.findall(unicodedata.normalize("NFKC", text))
    cache = _WORDS
    if len(cache) > _WORDS_LIMIT:
        cache.clear()
    return tuple([(cache.get(w) or _remember(w))[0] for w in found])


# Each word's (casefolded token, keyword flag): news text repeats its words, and this ran a
# million times in a cold refresh. Bounded: cleared when full.
_WORDS: dict[str, tuple[str, bool]] = {}
_WORDS_LIMIT = 1 << 17


def _remember(word: str) -> tuple[str, bool]:
    found = _WORDS[word] = (word.casefold(), _is_keyword(word))
    return found


def _last_word_end(text: str) -> int:
    """Where the last word of `text` ends (the text has one)."""
    end = len(text)
    while not _WORD.match(text, end - 1):
        end -= 1
    return end


def _is_keyword(word: str) -> bool:
    # isalpha() first: a letter is never a digit, and most words are letters only.
    if not word.isalpha() and any(ch.isdigit() for ch in word):
        return True
    return word[:1].isupper() and word.casefold() not in _NOT_NAMES


def text_hash(body_tokens: tuple[str, ...], thresholds: Thresholds = DEFAULT) -> str | None:
    """Hash of the normalised body alone (not the title: re-publishers retitle), or None."""
    if len(body_tokens) < thresholds.min_hash_tokens:
        return None
    digest = hashlib.sha256(" ".join(body_tokens).encode()).hexdigest()[:32]
    return f"t{FEATURES_VERSION}:{digest}"


def shingle_hashes(tokens: tuple[str, ...], size: int) -> npt.NDArray[np.uint64]:
    """64-bit hashes of the word `size`-grams, unique. Fewer tokens than `size`: one shingle."""
    if not tokens:
        return np.empty(0, dtype=_U64)
    word = np.fromiter(map(_token_hash, tokens), dtype=_U64, count=len(tokens))
    if len(tokens) < size:
        size = len(tokens)
    count = len(tokens) - size + 1
    # A rolling polynomial over the word hashes: position-sensitive, wraps mod 2**64.
    combined = np.zeros(count, dtype=_U64)
    with np.errstate(over="ignore"):
        for offset in range(size):
            combined = combined * _U64(0x100000001B3) + word[offset : offset + count]
    return np.unique(combined)


@cache
def _permutations(num_perm: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """Multiply-shift hash parameters: odd multipliers and offsets, derived from the seed."""
    mult = [_blake64(MINHASH_SEED + b"a" + i.to_bytes(4, "little")) | 1 for i in range(num_perm)]
    add = [_blake64(MINHASH_SEED + b"b" + i.to_bytes(4, "little")) for i in range(num_perm)]
    return np.array(mult, dtype=_U64), np.array(add, dtype=_U64)


def minhash(shingles: npt.NDArray[np.uint64], num_perm: int) -> npt.NDArray[np.uint32]:
    """The MinHash signature: per permutation, the least 32-bit hash of any shingle."""
    if shingles.size == 0:
        return np.full(num_perm, 0xFFFFFFFF, dtype=np.uint32)
    mult, add = _permutations(num_perm)
    with np.errstate(over="ignore"):
        hashed = (mult[:, None] * shingles[None, :] + add[:, None]) >> _U64(32)
    signature: npt.NDArray[np.uint32] = (hashed & _MASK32).min(axis=1).astype(np.uint32)
    return signature


def _bucket(band: int, data: bytes) -> int:
    """A signed 64-bit bucket id (the column is BIGINT), from the band number and its bytes:
    the little-endian BLAKE2b-64 of both, read as two's complement."""
    digest = hashlib.blake2b(_band_prefix(band) + data, digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


@cache
def _band_prefix(band: int) -> bytes:
    return band.to_bytes(4, "little", signed=True)


# Bands beyond the MinHash ones: exact title and exact body lead (see thresholds.lead_tokens),
# and the procedure rule's (reference, day) keys: an event and the release on it share no
# words, so no text band would make them candidates of each other.
TITLE_BAND = -1
LEAD_BAND = -2
PROCEDURE_BAND = -3


def procedure_buckets(keys: frozenset[ProcedureKey]) -> tuple[tuple[int, int], ...]:
    """One row per (reference, day) key: a stable 63-bit hash of "reference|YYYY-MM-DD"."""
    return tuple(
        (PROCEDURE_BAND, _bucket(PROCEDURE_BAND, f"{ref}|{day.isoformat()}".encode()))
        for ref, day in sorted(keys)
    )


def buckets(
    signature: npt.NDArray[np.uint32],
    title_tokens: tuple[str, ...],
    body_tokens: tuple[str, ...],
    thresholds: Thresholds = DEFAULT,
) -> tuple[tuple[int, int], ...]:
    rows = thresholds.rows
    raw = signature.astype("<u4").tobytes()
    out = [
        (band, _bucket(band, raw[band * rows * 4 : (band + 1) * rows * 4]))
        for band in range(thresholds.bands)
    ]
    if len(title_tokens) >= thresholds.min_title_tokens:
        out.append((TITLE_BAND, _bucket(TITLE_BAND, " ".join(title_tokens).encode())))
    if len(body_tokens) >= thresholds.lead_tokens:
        lead = " ".join(body_tokens[: thresholds.lead_tokens]).encode()
        out.append((LEAD_BAND, _bucket(LEAD_BAND, lead)))
    return tuple(out)


def _analyse(
    item: DedupeItem, shingle_size: int
) -> tuple[Detail, npt.NDArray[np.uint64], tuple[str, ...], tuple[str, ...]]:
    """The item's Detail, its shingle hashes, and its title and body tokens."""
    title_tokens, title_kw = tokenise(item.title)
    body_tokens, body_kw, body_breaks = tokenise_sentences(item.text)
    tokens = title_tokens + body_tokens
    hashes = shingle_hashes(tokens, shingle_size)
    found = Detail(
        tokens=tokens,
        keyword=title_kw + body_kw,
        body_start=len(title_tokens),
        breaks=frozenset({0, len(title_tokens)} | {len(title_tokens) + p for p in body_breaks}),
        shingles=hashes.astype("<u8").tobytes(),  # np.unique: sorted already
    )
    return found, hashes, title_tokens, body_tokens


def detail(item: DedupeItem, shingle_size: int) -> Detail:
    return _analyse(item, shingle_size)[0]


def _procedure(item: DedupeItem) -> ProcedureSide:
    return procedure_side(
        source_id=item.source_id,
        source_kind=item.source_kind,
        org=item.org,
        title=item.title,
        text=item.text,
        published=item.published,
    )


def features(item: DedupeItem, thresholds: Thresholds = DEFAULT) -> Features:
    """Everything `decide` and the candidate index need, computed once per item."""
    found, hashes, title_tokens, body_tokens = _analyse(item, thresholds.shingle_size)
    near = len(found.tokens) >= thresholds.min_tokens
    signature = minhash(hashes if near else hashes[:0], thresholds.num_perm)
    procedure = _procedure(item)
    text_buckets = buckets(signature, title_tokens, body_tokens, thresholds) if near else ()
    return Features(
        item=item,
        text_hash=text_hash(body_tokens, thresholds),
        signature=signature.astype("<u4").tobytes(),
        buckets=tuple(sorted(text_buckets + procedure_buckets(procedure.keys))),  # as stored
        procedure=procedure,
        shingle_size=thresholds.shingle_size,
        computed=[found],
    )


def basis(item: DedupeItem, thresholds: Thresholds = DEFAULT) -> bytes:
    """A digest of everything a Fingerprint of `item` is computed from (not its key, not its
    first-seen time), and of the thresholds and fingerprint version."""
    parts = (
        _described(thresholds),
        item.source_id,
        str(item.org),
        str(item.source_kind),
        item.title,
        item.text,
        item.published.isoformat(),
    )
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).digest()


@cache
def _described(thresholds: Thresholds) -> str:
    return f"{FEATURES_VERSION}:{thresholds!r}"


def fingerprint(item: DedupeItem, thresholds: Thresholds = DEFAULT) -> Fingerprint:
    """The part of `features` the store's index needs, to compute away from the store. Only
    the words are needed, not their keyword flags, sentence breaks or shingle set."""
    title_tokens, body_tokens = words(item.title), words(item.text)
    tokens = title_tokens + body_tokens
    near = len(tokens) >= thresholds.min_tokens
    hashes = shingle_hashes(tokens, thresholds.shingle_size) if near else _NO_SHINGLES
    return _fingerprint(
        item, title_tokens, body_tokens, minhash(hashes, thresholds.num_perm), thresholds
    )


def fingerprints(
    items: Sequence[DedupeItem], thresholds: Thresholds = DEFAULT
) -> list[Fingerprint]:
    """`fingerprint` of each item (the very same), with the shingles and MinHash signatures of
    all of them computed in a few array operations: item by item, numpy's overhead per call was
    most of their cost (a document's items are ~150 shingles each)."""
    size = thresholds.shingle_size
    split = [(words(item.title), words(item.text)) for item in items]
    streams = [title + body for title, body in split]
    # Shingled together: items with at least `size` words (an item shorter than `min_tokens`
    # has no shingles; a shorter `min_tokens` than `size` is left to `fingerprint`).
    near = [len(tokens) >= thresholds.min_tokens for tokens in streams]
    together = [n and len(tokens) >= size for n, tokens in zip(near, streams, strict=True)]
    signatures = iter(
        _minhash_many(
            [t for t, joined in zip(streams, together, strict=True) if joined],
            size,
            thresholds.num_perm,
        )
    )
    empty = minhash(_NO_SHINGLES, thresholds.num_perm)
    out = []
    for item, (title, body), tokens, n, joined in zip(
        items, split, streams, near, together, strict=True
    ):
        if joined:
            signature = next(signatures)
        elif n:
            signature = minhash(shingle_hashes(tokens, size), thresholds.num_perm)
        else:
            signature = empty
        out.append(_fingerprint(item, title, body, signature, thresholds))
    return out


# Shingles hashed at once, at most: their array of hashes is num_perm times as large
# (96 x 8 bytes a shingle: ~3 MB), and a document may have thousands of items. (10,000 took
# the same CPU and kept the worker 4 MiB larger: bench/README.md.)
_SHINGLES_AT_ONCE = 4000


def _minhash_many(
    streams: Sequence[tuple[str, ...]], size: int, num_perm: int
) -> list[npt.NDArray[np.uint32]]:
    """`minhash(shingle_hashes(tokens, size), num_perm)` of each stream of at least `size`
    tokens. The minimum over a stream's shingles does not care about repeats, so the shingles
    are not made unique first."""
    out: list[npt.NDArray[np.uint32]] = []
    start = 0
    while start < len(streams):
        end, shingles = start, 0
        while end < len(streams) and (end == start or shingles < _SHINGLES_AT_ONCE):
            shingles += len(streams[end]) - size + 1
            end += 1
        out.extend(_minhash_part(streams[start:end], size, num_perm))
        start = end
    return out


def _minhash_part(
    streams: Sequence[tuple[str, ...]], size: int, num_perm: int
) -> list[npt.NDArray[np.uint32]]:
    lengths = [len(tokens) for tokens in streams]
    total = sum(lengths)
    word = np.fromiter(
        map(_token_hash, (token for tokens in streams for token in tokens)), dtype=_U64, count=total
    )
    count = total - size + 1
    combined = np.zeros(count, dtype=_U64)
    with np.errstate(over="ignore"):  # as in shingle_hashes: the same rolling polynomial
        for offset in range(size):
            combined = combined * _U64(0x100000001B3) + word[offset : offset + count]
    # The windows that lie inside one stream: from its first word to its last but size - 1.
    firsts, position = [], 0
    for length in lengths:
        firsts.append(position)
        position += length
    inside = np.concatenate(
        [
            np.arange(first, first + length - size + 1)
            for first, length in zip(firsts, lengths, strict=True)
        ]
    )
    segments = np.cumsum([0] + [length - size + 1 for length in lengths[:-1]])
    mult, add = _permutations(num_perm)
    with np.errstate(over="ignore"):  # as in minhash, in place: one array of that size
        hashed = mult[:, None] * combined[inside][None, :]
        hashed += add[:, None]
        hashed >>= _U64(32)
    least = np.minimum.reduceat(hashed, segments, axis=1).astype(np.uint32)  # < 2**32 now
    return list(least.T)


def _fingerprint(
    item: DedupeItem,
    title_tokens: tuple[str, ...],
    body_tokens: tuple[str, ...],
    signature: npt.NDArray[np.uint32],
    thresholds: Thresholds,
) -> Fingerprint:
    near = len(title_tokens) + len(body_tokens) >= thresholds.min_tokens
    procedure = _procedure(item)
    text_buckets = buckets(signature, title_tokens, body_tokens, thresholds) if near else ()
    return Fingerprint(
        basis=basis(item, thresholds),
        text_hash=text_hash(body_tokens, thresholds),
        signature=signature.astype("<u4").tobytes(),
        buckets=pack(text_buckets + procedure_buckets(procedure.keys)),
        procedure=procedure,
    )


_NO_SHINGLES = np.empty(0, dtype=_U64)


def features_as_stored(
    item: DedupeItem,
    signature: bytes,
    stored_buckets: bytes,
    thresholds: Thresholds = DEFAULT,
) -> Features:
    """`features(item)` for a stored item met as a candidate: its words, text hash and
    procedure computed, its MinHash signature and buckets taken as stored (what the index
    found it by; `decide` looks at neither). The MinHash and buckets are a fifth of the cost
    of `features`, and an item already indexed has them."""
    found, _, _, body_tokens = _analyse(item, thresholds.shingle_size)
    return Features(
        item=item,
        text_hash=text_hash(body_tokens, thresholds),
        signature=signature,
        buckets=tuple(unpack(stored_buckets)),
        procedure=_procedure(item),
        shingle_size=thresholds.shingle_size,
        computed=[found],
        packed=stored_buckets,
    )


def features_from(
    item: DedupeItem, given: Fingerprint | None, thresholds: Thresholds = DEFAULT
) -> Features:
    """`features(item)`, from a fingerprint computed elsewhere when it was computed from this
    same item and thresholds; the word-level Detail is then computed only if `decide` asks."""
    if given is None or given.basis != basis(item, thresholds):
        return features(item, thresholds)
    return Features(
        item=item,
        text_hash=given.text_hash,
        signature=given.signature,
        buckets=tuple(unpack(given.buckets)),
        packed=given.buckets,
        procedure=given.procedure,
        shingle_size=thresholds.shingle_size,
    )
