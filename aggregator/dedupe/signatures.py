"""Fingerprints of an item: words, shingles, a text hash, a MinHash signature, LSH buckets.

Everything here is deterministic across processes, machines and Python versions: hashes come
from BLAKE2b (never the built-in `hash()`, which is salted per process), and the MinHash
permutations are derived from a fixed seed, not from a random generator's stream.

MinHash is vectorised with numpy: a signature is one (num_perm x shingles) array operation
instead of a Python loop per permutation (about 30x faster per item than the datasketch
library, which the first version used).

`fingerprint` computes an item's Fingerprint the plain way; `fingerprints`, which the parse
workers call for each document, gives the very same records at well under half the CPU: the
words as bytes (ASCII text through one bytes.translate), every item's shingles and MinHash in
a few array operations, band buckets from copies of pre-fed BLAKE2b hashers, and the packed
bucket rows put together as bytes in `pack`'s order. tests/test_dedupe_fingerprint_golden.py
holds both to digests recorded before the fast path was written.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cache
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt

from aggregator.dedupe.pairs import pack
from aggregator.dedupe.procedure_rule import ProcedureKey, ProcedureSide, procedure_side
from aggregator.dedupe.records import DedupeItem, Detail, Features, Fingerprint, Shape
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


class _TokenHashes(dict[str | bytes, bytes]):
    """Each token's 64-bit BLAKE2b digest (of its UTF-8), remembered: news text repeats its
    words, and a lookup through `__getitem__` stays in C when the token is known (an
    lru_cache hit did not). Tokens come as str (`features`) or already encoded
    (`fingerprints`). Bounded: cleared when full."""

    def __missing__(self, token: str | bytes) -> bytes:
        if len(self) >= _TOKEN_HASHES_LIMIT:
            self.clear()
        data = token.encode() if isinstance(token, str) else token
        found = self[token] = hashlib.blake2b(data, digest_size=8).digest()
        return found


_TOKEN_HASHES_LIMIT = 1 << 16
_TOKEN_HASHES = _TokenHashes()
_token_digest = _TOKEN_HASHES.__getitem__


def _token_hashes(tokens: Iterable[str | bytes]) -> npt.NDArray[np.uint64]:
    """`_blake64` of each token: the digests joined and read as little-endian uint64 (which
    converts no Python int; half of them do not fit an int64, numpy's fast path)."""
    return np.frombuffer(b"".join(map(_token_digest, tokens)), dtype="<u8").astype(_U64, copy=False)


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
    return tuple(_folded_words(text))


# Characters whose case folding is not word characters only, or not only other characters
# (`_WORD`'s class): "İ" folds to "i" and a combining dot above, "ᾷ" to "ᾶι" with a combining
# tilde. tests/test_dedupe_fingerprint_golden.py checks the list against every code point.
_FOLDS_ACROSS_WORDS = re.compile(
    "[\u0130\u01f0\u0345\u0390\u03b0\u1e96-\u1e99\u1f50\u1f52\u1f54\u1f56"
    "\u1fb6\u1fb7\u1fc6\u1fc7\u1fd2\u1fd3\u1fd6\u1fd7\u1fe2-\u1fe4\u1fe6\u1fe7"
    "\u1ff6\u1ff7]"
)


def _folded_words(text: str) -> list[str]:
    """The casefolded words of the NFKC form of `text`. Case folding goes character by
    character (no context, unlike lower()'s final sigma), so without the characters above
    the words of the folded text are the folded words: one C-level fold and one scan instead
    of a fold per word. ASCII text is NFKC already, and lower() is its casefold."""
    if text.isascii():
        return _WORD.findall(text.lower())
    text = unicodedata.normalize("NFKC", text)
    if _FOLDS_ACROSS_WORDS.search(text) is None:
        return _WORD.findall(text.casefold())
    return [word.casefold() for word in _WORD.findall(text)]


def _word_bytes(text: str) -> list[bytes]:
    """`words(text)`, UTF-8 encoded: the form fingerprints hash and join them in. ASCII text
    (most of it) takes one bytes.translate, which lower-cases word characters and blanks the
    others, and one split: C loops over bytes, twice as fast as the regex scan of a str."""
    if text.isascii():
        return text.encode().translate(_ASCII_WORDS).split()
    return [word.encode() for word in _folded_words(text)]


# Per byte: an ASCII word character (`_WORD`: a letter, a digit, "_") lower-cased, any other
# ASCII character a space. (Bytes from 128 up, left as they are, never occur: ASCII text.)
_ASCII_WORDS = bytes(
    c if c >= 128 else ord(chr(c).lower()) if _WORD.match(chr(c)) else ord(" ") for c in range(256)
)


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


def text_hash(body_tokens: Sequence[str], thresholds: Thresholds = DEFAULT) -> str | None:
    """Hash of the normalised body alone (not the title: re-publishers retitle), or None."""
    if len(body_tokens) < thresholds.min_hash_tokens:
        return None
    return _text_digest(" ".join(body_tokens).encode())


def _text_hash_of_bytes(body_tokens: Sequence[bytes], thresholds: Thresholds) -> str | None:
    """`text_hash` of the tokens UTF-8 encoded."""
    if len(body_tokens) < thresholds.min_hash_tokens:
        return None
    return _text_digest(b" ".join(body_tokens))


def _text_digest(body: bytes) -> str:
    return _TEXT_HASH_START + hashlib.sha256(body).hexdigest()[:32]


_TEXT_HASH_START = f"t{FEATURES_VERSION}:"


def shingle_hashes(tokens: Sequence[str | bytes], size: int) -> npt.NDArray[np.uint64]:
    """64-bit hashes of the word `size`-grams, unique. Fewer tokens than `size`: one shingle."""
    if not tokens:
        return np.empty(0, dtype=_U64)
    word = _token_hashes(tokens)
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


def shape(item: DedupeItem, shingle_size: int) -> Shape:
    """`detail(item).shape()`, without the keyword flags and sentence breaks: from the words
    as UTF-8 bytes (`_word_bytes`, as `fingerprints` reads them), a third of the CPU."""
    return _shape(item, shingle_size)[0]


def _shape(item: DedupeItem, shingle_size: int) -> tuple[Shape, list[bytes]]:
    """The item's Shape, and its text's words as UTF-8 bytes."""
    title, body = _word_bytes(item.title), _word_bytes(item.text)
    tokens = title + body
    found = Shape(
        token_count=len(tokens),
        body_start=len(title),
        title_words=frozenset(word.decode() for word in title),
        # np.unique: sorted already. Hashed as bytes, the words hash as `_analyse`'s str.
        shingles=shingle_hashes(tokens, shingle_size).astype("<u8").tobytes(),
    )
    return found, body


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
        packed=pack(text_buckets + procedure_buckets(procedure.keys)),  # sorted, as stored
        procedure=procedure,
        shingle_size=thresholds.shingle_size,
        computed=[found],
    )


def basis(item: DedupeItem, thresholds: Thresholds = DEFAULT) -> bytes:
    """A digest of everything a Fingerprint of `item` is computed from (not its key, not its
    first-seen time), and of the thresholds and fingerprint version."""
    return _basis(item, _described(thresholds))


def _basis(item: DedupeItem, described: hashlib.blake2b) -> bytes:
    parts = (
        item.source_id,
        str(item.org),
        str(item.source_kind),
        item.title,
        item.text,
        item.published.isoformat(),
    )
    hasher = described.copy()
    hasher.update("\x1f".join(map(str, parts)).encode())
    return hasher.digest()


def _described(thresholds: Thresholds) -> hashlib.blake2b:
    """A BLAKE2b-128 hasher fed the thresholds and version, and the separator after them:
    copied for each item (the thresholds' repr is 500 characters). The last one asked for
    is found by identity: the store writer asks once per item, always for the same
    thresholds, and hashing them (forty fields) for a cache lookup was a third of `basis`."""
    last = _LAST_DESCRIBED
    if last and last[0][0] is thresholds:
        return last[0][1]
    found = _described_by_value(thresholds)
    _LAST_DESCRIBED[:] = [(thresholds, found)]
    return found


_LAST_DESCRIBED: list[tuple[Thresholds, hashlib.blake2b]] = []


@cache
def _described_by_value(thresholds: Thresholds) -> hashlib.blake2b:
    return hashlib.blake2b(f"{FEATURES_VERSION}:{thresholds!r}\x1f".encode(), digest_size=16)


def fingerprint(item: DedupeItem, thresholds: Thresholds = DEFAULT) -> Fingerprint:
    """The part of `features` the store's index needs, to compute away from the store. Only
    the words are needed, not their keyword flags, sentence breaks or shingle set.

    The plain way, one item at a time; `fingerprints` gives the very same records for a
    document's items at once (the tests hold the two together)."""
    title_tokens, body_tokens = words(item.title), words(item.text)
    tokens = title_tokens + body_tokens
    near = len(tokens) >= thresholds.min_tokens
    hashes = shingle_hashes(tokens, thresholds.shingle_size) if near else _NO_SHINGLES
    signature = minhash(hashes, thresholds.num_perm)
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


def fingerprints(
    items: Sequence[DedupeItem], thresholds: Thresholds = DEFAULT
) -> list[Fingerprint]:
    """`fingerprint` of each item (the very same), for a document's items at once: their
    shingles, MinHash signatures and MinHash band buckets in a few array operations (item by
    item, numpy's overhead per call was most of their cost: an item has ~150 shingles), their
    words as UTF-8 bytes (hashed and joined as such), and their packed bucket rows put
    together as bytes."""
    size = thresholds.shingle_size
    split = [(_word_bytes(item.title), _word_bytes(item.text)) for item in items]
    lengths = [len(title) + len(body) for title, body in split]
    # Hashed together: items with at least `size` words (an item shorter than `min_tokens`
    # has no shingles; a shorter `min_tokens` than `size` is left to the plain way).
    near = [length >= thresholds.min_tokens for length in lengths]
    together = [n and length >= size for n, length in zip(near, lengths, strict=True)]
    signatures = _minhash_many(
        [pair for pair, joined in zip(split, together, strict=True) if joined],
        size,
        thresholds.num_perm,
    )
    signature_rows = iter(_row_bytes(signatures))
    band_rows = iter(_row_bytes(_band_rows(signatures, thresholds)))
    minhashed = [
        (next(signature_rows), next(band_rows))
        if joined
        else _minhashed(title + body, n, thresholds)
        for (title, body), n, joined in zip(split, near, together, strict=True)
    ]
    procedures = [_procedure(item) for item in items]
    described = _described(thresholds)
    return [
        Fingerprint(
            basis=_basis(item, described),
            text_hash=_text_hash_of_bytes(body, thresholds),
            signature=signature,
            buckets=_packed(procedure.keys, title, body, bands, thresholds),
            procedure=procedure,
        )
        for item, (title, body), (signature, bands), procedure in zip(
            items, split, minhashed, procedures, strict=True
        )
    ]


def _minhashed(
    tokens: Sequence[bytes], near: bool, thresholds: Thresholds
) -> tuple[bytes, bytes | None]:
    """The plain way for an item `fingerprints` does not hash with others: its signature, and
    its text bands' packed rows (None when it is too short to match on its text)."""
    if not near:
        return minhash(_NO_SHINGLES, thresholds.num_perm).astype("<u4").tobytes(), None
    signature = minhash(shingle_hashes(tokens, thresholds.shingle_size), thresholds.num_perm)
    return signature.astype("<u4").tobytes(), _band_rows(signature[None, :], thresholds).tobytes()


# Shingles hashed at once, at most: their array of hashes is num_perm times as large
# (96 x 8 bytes a shingle: ~3 MB), and a document may have thousands of items. (10,000 took
# the same CPU and kept the worker 4 MiB larger: bench/README.md.)
_SHINGLES_AT_ONCE = 4000

# An item's words: its title's and its text's, UTF-8 encoded.
_Words = tuple[list[bytes], list[bytes]]


def _minhash_many(streams: Sequence[_Words], size: int, num_perm: int) -> npt.NDArray[np.uint32]:
    """`minhash(shingle_hashes(title + text, size), num_perm)` of each item's words (at least
    `size` of them), one row each. The minimum over a stream's shingles does not care about
    repeats, so the shingles are not made unique first."""
    parts = []
    start = 0
    while start < len(streams):
        end, shingles = start, 0
        while end < len(streams) and (end == start or shingles < _SHINGLES_AT_ONCE):
            shingles += len(streams[end][0]) + len(streams[end][1]) - size + 1
            end += 1
        parts.append(_minhash_part(streams[start:end], size, num_perm))
        start = end
    if not parts:
        return np.empty((0, num_perm), dtype=np.uint32)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _minhash_part(streams: Sequence[_Words], size: int, num_perm: int) -> npt.NDArray[np.uint32]:
    lengths = np.fromiter(
        (len(title) + len(body) for title, body in streams), dtype=np.intp, count=len(streams)
    )
    word = _token_hashes(chain.from_iterable(chain.from_iterable(streams)))
    count = len(word) - size + 1
    # As in shingle_hashes (the same rolling polynomial), in place: its first step, 0 x P +
    # word, is a copy.
    combined = word[:count].copy()
    for offset in range(1, size):
        combined *= _U64(0x100000001B3)  # wraps mod 2**64 (no warning from array operations)
        combined += word[offset : offset + count]
    # Only windows inside one stream: drop the size - 1 that start before each stream's end
    # and run into the next one (every stream has at least `size` words).
    if size > 1 and len(streams) > 1:
        ends = np.cumsum(lengths[:-1])
        inside = np.ones(count, dtype=bool)
        for back in range(1, size):
            inside[ends - back] = False
        combined = combined[inside]
    firsts = np.zeros(len(streams), dtype=np.intp)
    np.cumsum(lengths[:-1] - (size - 1), out=firsts[1:])
    mult, add = _permutations(num_perm)
    hashed = mult[:, None] * combined[None, :]  # as in minhash, in place: one array
    hashed += add[:, None]
    least = np.minimum.reduceat(hashed, firsts, axis=1)
    least >>= _U64(32)  # after the minimum: shifting keeps the order (x <= y: x>>32 <= y>>32)
    return np.ascontiguousarray(least.T, dtype="<u4")


def _band_rows(signatures: npt.NDArray[np.uint32], thresholds: Thresholds) -> npt.NDArray[Any]:
    """The packed (band, bucket) rows of each signature's MinHash bands: `buckets`' text bands
    as `pack` lays them out, one row of 2 x bands little-endian int64 per signature. A band's
    BLAKE2b continues a copy of one fed its number already (a new hasher costs more: its
    keyword arguments), and a bucket's int64 is its digest as it is."""
    count, rows, bands = len(signatures), thresholds.rows, thresholds.bands
    if rows:
        values = np.ascontiguousarray(signatures[:, : bands * rows], dtype="<u4")
        chunks: list[bytes] = values.view(f"V{4 * rows}").ravel().tolist()
    else:
        chunks = [b""] * (count * bands)
    digests = []
    for started, chunk in zip(_band_hashers(bands) * count, chunks, strict=True):
        hasher = started.copy()
        hasher.update(chunk)
        digests.append(hasher.digest())
    packed = np.empty((count, bands, 2), dtype=_I64)
    packed[:, :, 0] = np.arange(bands)
    packed[:, :, 1] = np.frombuffer(b"".join(digests), dtype=_I64).reshape(count, bands)
    return packed.reshape(count, 2 * bands)


_I64 = np.dtype("<i8")


@cache
def _band_hashers(bands: int) -> list[hashlib.blake2b]:
    """BLAKE2b-64 hashers fed `_band_prefix` of bands 0 .. bands - 1, to be copied."""
    return [hashlib.blake2b(_band_prefix(band), digest_size=8) for band in range(bands)]


def _row_bytes(table: npt.NDArray[Any]) -> list[bytes]:
    """Each row of a C-ordered 2-d array as bytes."""
    if table.size == 0:
        return [b""] * len(table)
    blob = table.tobytes()
    width = len(blob) // len(table)
    return [blob[start : start + width] for start in range(0, len(blob), width)]


def _packed(
    keys: frozenset[ProcedureKey],
    title: Sequence[bytes],
    body: Sequence[bytes],
    band_rows: bytes | None,
    thresholds: Thresholds,
) -> bytes:
    """`pack` of the item's rows (`band_rows` None: too short to match on its text), put
    together in its order, by band then bucket: the procedure rows (-3), the lead row (-2),
    the title row (-1), then the MinHash bands' rows from band 0 up (one each)."""
    rows = _procedure_rows(keys)
    if band_rows is None:
        return rows
    if len(body) >= thresholds.lead_tokens:
        rows += _row(LEAD_BAND, b" ".join(body[: thresholds.lead_tokens]))
    if len(title) >= thresholds.min_title_tokens:
        rows += _row(TITLE_BAND, b" ".join(title))
    return rows + band_rows


def _procedure_rows(keys: frozenset[ProcedureKey]) -> bytes:
    """`procedure_buckets(keys)` packed: sorted by bucket."""
    if not keys:
        return b""
    rows = [_row(PROCEDURE_BAND, f"{ref}|{day.isoformat()}".encode()) for ref, day in keys]
    if len(rows) > 1:
        rows.sort(key=_row_bucket)
    return b"".join(rows)


def _row(band: int, data: bytes) -> bytes:
    """The packed (band, `_bucket(band, data)`) row of a band below 0."""
    start, hasher = _ROW_STARTS[band]
    hasher = hasher.copy()
    hasher.update(data)
    return start + hasher.digest()


# Per band below 0: its packed number, and a hasher fed its `_band_prefix` (see _band_rows).
_ROW_STARTS = {
    band: (
        band.to_bytes(8, "little", signed=True),
        hashlib.blake2b(_band_prefix(band), digest_size=8),
    )
    for band in (TITLE_BAND, LEAD_BAND, PROCEDURE_BAND)
}


def _row_bucket(row: bytes) -> int:
    return int.from_bytes(row[8:], "little", signed=True)


def features_as_stored(
    item: DedupeItem,
    signature: bytes,
    stored_buckets: bytes,
    thresholds: Thresholds = DEFAULT,
) -> Features:
    """`features(item)` for a stored item met as a candidate: its Shape, text hash and
    procedure computed, its MinHash signature and buckets taken as stored (what the index
    found it by; `decide` looks at neither). The MinHash and buckets are a fifth of the cost
    of `features`, and an item already indexed has them. The full Detail is computed only if
    `decide` asks (the template guard of a pair that matches)."""
    found, body = _shape(item, thresholds.shingle_size)
    return Features(
        item=item,
        text_hash=_text_hash_of_bytes(body, thresholds),
        signature=signature,
        packed=stored_buckets,
        procedure=_procedure(item),
        shingle_size=thresholds.shingle_size,
        shaped=[found],
    )


def features_from(
    item: DedupeItem, given: Fingerprint | None, thresholds: Thresholds = DEFAULT
) -> Features:
    """`features(item)`, from a fingerprint computed elsewhere when it was computed from this
    same item and thresholds; its Shape, and its full Detail, are then computed only if
    `decide` asks."""
    if given is None or given.basis != basis(item, thresholds):
        return features(item, thresholds)
    return Features(
        item=item,
        text_hash=given.text_hash,
        signature=given.signature,
        packed=given.buckets,
        procedure=given.procedure,
        shingle_size=thresholds.shingle_size,
    )
