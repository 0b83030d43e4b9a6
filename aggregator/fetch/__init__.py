"""Stage 1, fetch: bytes from the outside world.

`Retriever` takes a source, its current URL and the cache validators of the last fetch, and
returns `Fetched` (bytes and headers) or `Unchanged` (304). http/https go through httpx
(http.py), file:// URLs are read from disk (file.py). Failures are `FetchError`s.
"""

from aggregator.fetch.options import FetchOptions
from aggregator.fetch.retriever import Retriever

__all__ = ["FetchOptions", "Retriever"]
