"""Stage 1, fetch: bytes from the outside world.

`Retriever` takes a source, its current URL and the cache validators of the last fetch, and
returns `Fetched` (bytes and headers) or `Unchanged` (304). http/https go through httpx
(http.py), file:// URLs are read from disk (file.py). Failures are `FetchError`s.
"""

import sys

# httpx's __init__ imports its command-line client (click, rich, pygments: about 0.1 s of CPU
# on every start of `aggregator refresh`), and falls back to a stub when that import fails,
# as it does when those packages are missing. We never use that client, so its import is made
# to fail unless something loaded it already; `import httpx` works as before.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

from aggregator.fetch.options import FetchOptions
from aggregator.fetch.retriever import Retriever

__all__ = ["FetchOptions", "Retriever"]
