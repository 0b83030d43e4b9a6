"""`httpx.URL` of a URL string, remembered.

A fetch reads its URL several times over: the config check (`urls.url_problem`), the host's
hold (`holds.host_key`), the login split (`http.without_login`) and the request itself. Each
parse is httpx's full RFC 3986 pass (~30 us): 4,000 of them were a twentieth of the CPU of
a warm refresh of 1,000 sources, whose every answer is a 304. An `httpx.URL` is immutable
(`copy_with` and `join` make new ones), so one parsed object can serve every caller.
"""

from __future__ import annotations

from functools import lru_cache

import httpx

# A refresh's sources, their redirects and their permanent URLs: a few thousand at most,
# ~2 KB each.
_REMEMBERED = 4_096


@lru_cache(maxsize=_REMEMBERED)
def parsed_url(url: str) -> httpx.URL:
    """`httpx.URL(url)`: raises as it does (an error is not remembered)."""
    return httpx.URL(url)
