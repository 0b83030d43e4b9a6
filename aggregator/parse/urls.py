"""Links made absolute, and only web links kept."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
# The schemes whose paths a browser reads a backslash in as a slash (WHATWG URL's "special"
# schemes): "\en\press\item" on an https page is "/en/press/item".
_SPECIAL_SCHEMES = frozenset(("http", "https", "ftp", "ws", "wss", "file"))
# An absolute http(s) URL that urljoin gives back as it is, whatever the base (of another
# scheme: as given; of the same: split and joined again, unchanged), with a host: most links
# of most feeds. Left out, for the long way: anything urlsplit or urlunsplit may change or
# read otherwise (a scheme in capitals, an empty or any query, fragment or ";" parameters,
# whitespace and controls, which it strips; backslashes, brackets, userinfo, non-ASCII).
_PLAIN_HTTP_URL = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::[0-9]*)?(?:/[A-Za-z0-9._~!$&'()*+,=:@%/-]*)?\Z"
)


def absolute_http_url(link: str | None, base: str | None) -> str | None:
    """`link` resolved against `base`, as a browser resolves it; None unless the result is
    an http(s) URL with a host.

    Drops ``javascript:``, ``mailto:``, ``data:`` and fragment-only links, which never name
    an item.
    """
    if not link:
        return None
    link = link.strip()
    if not link or link.startswith("#"):
        return None
    if _PLAIN_HTTP_URL.match(link):
        return link  # what urljoin and urlsplit make of it against any base, at a tenth
    if "\\" in link:
        link = _with_slashes(link, base or "")
    try:
        resolved = urljoin(base or "", link)
        parts = urlsplit(resolved)
    except ValueError:  # e.g. an invalid IPv6 literal in the host
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return resolved


def anchor_url(link: str | None, base: str | None) -> str | None:
    """A listing entry's link to an anchor of the page itself ("#statement-3"), resolved:
    a page of one statement per anchor names each so. None for a bare "#" (or "#!"), the
    link of a button a script handles, and for any other link (`absolute_http_url`'s)."""
    link = (link or "").strip()
    if len(link) < 2 or not link.startswith("#") or link in ("#!", "#/"):
        return None
    return absolute_http_url(urljoin(base or "", link), None)


def _with_slashes(link: str, base: str) -> str:
    """`link` with the backslashes before its query and fragment as slashes, where its scheme
    (a relative link's is its base's) is a special one; those after stay, as in a browser."""
    scheme = _SCHEME.match(link) or _SCHEME.match(base)
    if scheme is None or scheme[1].lower() not in _SPECIAL_SCHEMES:
        return link
    end = min((at for at in (link.find("?"), link.find("#")) if at >= 0), default=len(link))
    return link[:end].replace("\\", "/") + link[end:]
