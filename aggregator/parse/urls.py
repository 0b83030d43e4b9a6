"""Links made absolute, and only web links kept."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit


def absolute_http_url(link: str | None, base: str | None) -> str | None:
    """`link` resolved against `base`; None unless the result is an http(s) URL with a host.

    Drops ``javascript:``, ``mailto:``, ``data:`` and fragment-only links, which never name
    an item.
    """
    if not link:
        return None
    link = link.strip()
    if not link or link.startswith("#"):
        return None
    try:
        resolved = urljoin(base or "", link)
        parts = urlsplit(resolved)
    except ValueError:  # e.g. an invalid IPv6 literal in the host
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return resolved
