"""Keys the store indexes (item identities, canonical URLs), kept within what an index holds."""

from __future__ import annotations

import hashlib

# PostgreSQL indexes at most 2,704 bytes a row; the store indexes identities and canonical
# URLs. A longer one (a GUID or link of kilobytes: a base64 blob, a redirect that carries the
# whole query of the page before) is cut, and stays unique through a hash of the whole.
MAX_KEY_BYTES = 1024
_KEY_HASH_HEX = 32


def indexable(value: str) -> str:
    """`value`, or when it is over MAX_KEY_BYTES its start and "#sha256:" a hash of it all."""
    encoded = value.encode("utf-8", "surrogatepass")
    if len(encoded) <= MAX_KEY_BYTES:
        return value
    digest = hashlib.sha256(encoded).hexdigest()[:_KEY_HASH_HEX]
    head = encoded[: MAX_KEY_BYTES - _KEY_HASH_HEX - 8].decode("utf-8", "ignore")
    return f"{head}#sha256:{digest}"
