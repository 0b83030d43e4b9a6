"""Canonical URLs: one spelling per web page, so the same link from two feeds compares equal.

`canonical_url` is total (it never raises) and idempotent. What it changes, and why each
change is safe (the server sees the same resource):

- scheme and host lower-cased; a non-ASCII host converted to its IDNA (punycode) form; a
  fully qualified name's final dot and any user name or password dropped;
- default ports dropped (``:80`` for http, ``:443`` for https), an empty port too;
- the fragment dropped: it never reaches the server (unless it is a script-driven site's
  route, ``#!topic/x`` or ``#/news/12``, which names a page of its own);
- tracking parameters and session ids removed (the table below, and a servlet's
  ``;jsessionid=`` in the path), the rest sorted by name, stably, so
  repeated names keep their order and blank values (``a=`` and ``a``) are kept as written;
- percent-encoding normalised: hex digits upper-cased, unreserved characters decoded,
  characters that may not appear in a URL (spaces, non-ASCII, quotes...) encoded as UTF-8;
- dot segments (``/a/./b/../c``) resolved and a trailing slash dropped (except the root).

``http`` is *not* upgraded to ``https``: plenty of official sites still serve some pages on
http only, or a different page on each scheme, so the upgrade would make broken links.
Dedupe can still compare URLs without their scheme if it wants to.

Anything that is not an absolute http(s) URL with a host (``mailto:``, ``tag:`` GUIDs,
relative paths, garbage) is returned stripped and otherwise untouched.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, unquote, urlsplit

import idna

# Query parameters that only say how a reader reached the page. Exact names, compared
# lower-cased; then prefixes, for families that add names over time.
TRACKING_PARAMETERS: frozenset[str] = frozenset(
    {
        "fbclid",  # Facebook click id
        "gclid",  # Google Ads click id
        "gclsrc",  # Google Ads click source
        "dclid",  # Google Display (DoubleClick) click id
        "gbraid",  # Google Ads, iOS app campaigns
        "wbraid",  # Google Ads, web-to-app campaigns
        "msclkid",  # Microsoft Ads click id
        "yclid",  # Yandex click id
        "twclid",  # Twitter/X click id
        "igshid",  # Instagram share id
        "mc_cid",  # Mailchimp campaign id
        "mc_eid",  # Mailchimp subscriber id
        "_hsenc",  # HubSpot email
        "_hsmi",  # HubSpot email
        "mkt_tok",  # Marketo email
        "ito",  # BBC and others: internal traffic origin
        "ref_src",  # Twitter/X embeds
        "xtor",  # AT Internet campaigns, common on French and EU news sites
        "_ga",  # Google Analytics cross-domain linker
        "_gl",  # Google Analytics cross-domain linker
        "oly_anon_id",  # Omeda newsletters
        "oly_enc_id",  # Omeda newsletters
        "vero_id",  # Vero email
        "li_fat_id",  # LinkedIn first-party ad tracking
        "wt_mc",  # Webtrekk (Mapp) campaigns: heise, Spiegel and other German publishers
        "wt_zmc",  # Webtrekk (Mapp) campaigns
        "wprss",  # Washington Post feed links
        "cmpid",  # campaign id (Guardian, Telegraph and others)
        "hpt",  # CNN home-page placement
        # Miniflux's list (internal/reader/urlcleaner) beyond the above
        "fb_ref",  # Facebook
        "fb_source",
        "fb_action_ids",
        "fb_action_types",
        "_openstat",  # Yandex Openstat
        "srsltid",  # Google Merchant Center
        "ysclid",  # Yandex click id
        "mc_tc",  # Mailchimp
        "__hstc",  # HubSpot
        "__hssc",
        "__hsfp",
        "hsctatracking",
        "rb_clickid",  # Rakuten
        "vero_conv",  # Vero email
        "sc_cid",  # Snapchat
        "_bhlid",  # Beehiiv newsletters
        "_branch_match_id",  # Branch deep links
        "igsh",  # Instagram share
        # Session ids: a stale one in a link makes every refresh's copy a new page.
        "phpsessid",
        "jsessionid",
    }
)

_DEFAULT_PORTS = {"http": "80", "https": "443"}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# RFC 3986 pchar minus '%': what may stay literal in a path segment.
_PATH_SAFE = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
# In a query, '?' and '/' are also fine; '&' and '=' are the separators and stay literal.
_QUERY_SAFE = _PATH_SAFE | frozenset("?")
_HEX = frozenset("0123456789abcdefABCDEF")
# Fast check: a component made only of these needs no percent-encoding work.
_PLAIN = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/?]*\Z")


# A URL canonical as it is: http(s), a host in lower case with no port or final dot, a path
# of segments of unreserved characters but ".", none empty, no query or fragment (most links
# of most feeds). `_canonical` gives it back unchanged; this finds that in a tenth the time.
_OWN_SUFFIX = re.compile(r"#(?:sha256:[0-9a-f]{16,64}|entry-[0-9a-f]{16})\Z")
_CANONICAL_ALREADY = re.compile(r"https?://[a-z0-9-]+(?:\.[a-z0-9-]+)*(?:/[A-Za-z0-9_~-]+)+\Z")


def canonical_url(url: str) -> str:
    """The canonical spelling of `url`; never raises, and canonical_url is idempotent."""
    stripped = url.strip()
    if _CANONICAL_ALREADY.match(stripped):
        return stripped
    own = _OWN_SUFFIX.search(stripped)
    if own is not None:
        # What the store appends (keys.py's hash of a long URL cut short, an entry's own
        # mark): a stored canonical URL stays what it is, not its fragment dropped.
        return canonical_url(stripped[: own.start()]) + own.group()
    try:
        return _canonical(stripped)
    except (ValueError, UnicodeError):
        # urlsplit rejects some netlocs (bad IPv6 brackets, NFKC tricks): leave them alone.
        return stripped


def same_page_key(canonical: str) -> str:
    """What two sites' links to one page share: a canonical URL without its scheme (http or
    https) and without a leading "www." on its host. Dedupe compares links across sources by
    it; the store keeps each link as given (see the module's note on http)."""
    scheme, sep, rest = canonical.partition("://")
    if not sep or scheme not in _WEB_SCHEMES:
        return canonical
    return "//" + rest.removeprefix("www.")


def same_page_variants(canonical: str) -> tuple[str, ...]:
    """The canonical URLs whose `same_page_key` is that of `canonical`: itself under both
    schemes, with and without "www.", for an indexed lookup of stored links."""
    key = same_page_key(canonical)
    if not key.startswith("//"):
        return (canonical,)
    rest = key[2:]
    return tuple(f"{scheme}://{www}{rest}" for scheme in _WEB_SCHEMES for www in ("", "www."))


_WEB_SCHEMES = ("http", "https")


def without_tracking(url: str) -> str:
    """`url` without its tracking parameters, and otherwise as written: the address a reader
    is given (a digest's links, the API's `url`), where `canonical_url` is the one compared."""
    base, hash_mark, fragment = url.partition("#")
    path, question_mark, query = base.partition("?")
    if ";" in path:
        path = _PATH_SESSION.sub("", path)
        url = f"{path}{question_mark}{query}{hash_mark}{fragment}"
    if not question_mark:
        return url
    pairs = query.split("&")
    tracking = [
        bool(pair) and is_tracking_parameter(unquote(pair.partition("=")[0])) for pair in pairs
    ]
    if not any(tracking):
        return url  # the common case: the URL untouched
    kept = "&".join(pair for pair, drop in zip(pairs, tracking, strict=True) if pair and not drop)
    return f"{path}?{kept}{hash_mark}{fragment}" if kept else f"{path}{hash_mark}{fragment}"


# What a browser percent-encodes in an href before following it: a space in a plain-text
# digest would end the link where the mail client sees it.
_UNSAFE_IN_LINKS = re.compile(r'[\x00-\x20"<>`\x7f]')


def with_unsafe_characters_encoded(url: str) -> str:
    """`url` with spaces, quotes, angle brackets and control characters percent-encoded."""
    if not _UNSAFE_IN_LINKS.search(url):
        return url
    return _UNSAFE_IN_LINKS.sub(lambda found: f"%{ord(found.group()):02X}", url)


_QUERY_PASSWORD = re.compile(r"(?i)([?&]password=)[^&#]*")
# Everything between "user:" and the last "@" of the authority: a password with an unencoded
# "/", "#" or "?" (base64-made ones have them) still ends at that "@".
_AUTHORITY_PASSWORD = re.compile(r"^([a-z][\w+.-]*://[^:/@?#]*:)[^@]*@", re.IGNORECASE)


# A click-counting redirect that carries its target whole after a "*" (Folha de S.Paulo's
# "https://redir.folha.com.br/redir/online/.../rss091/*https://www1.folha.uol.com.br/...").
_STAR_WRAPPED = re.compile(r"^https?://[^?#]*?/\*(https?://.+)$", re.IGNORECASE)


def unwrapped(url: str) -> str:
    """The article's own address inside a redirect wrapper; other URLs as they are."""
    found = _STAR_WRAPPED.match(url)
    return found.group(1) if found else url


def mask_password(url: str) -> str:
    """`url` with any password in it replaced by ***, however broken the URL is."""
    url = _AUTHORITY_PASSWORD.sub(r"\1***@", url, count=1)
    return _QUERY_PASSWORD.sub(r"\1***", url)


def without_login(url: str) -> str:
    """`url` without a user name and password: a source's own address shown to readers."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def with_login_of(configured: str, url: str) -> str:
    """`url` with the user name and password of `configured` when it has none of its own
    and is of the same origin (scheme, host and port): the URL a source that moved within
    its server is fetched from, as fetch.http sends it the configured URL's login."""
    try:
        given, target = urlsplit(configured), urlsplit(url)
        same = _origin(given) == _origin(target)
    except ValueError:  # a port that is no number
        return url
    if "@" not in given.netloc or "@" in target.netloc or not same:
        return url
    login = given.netloc.rpartition("@")[0]
    return target._replace(netloc=f"{login}@{target.netloc}").geturl()


def _origin(parts: SplitResult) -> tuple[str, str | None, int | None]:
    scheme = parts.scheme.lower()
    default = _DEFAULT_PORTS.get(scheme)
    return scheme, parts.hostname, parts.port or (int(default) if default else None)


def is_web_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in _DEFAULT_PORTS and bool(parts.hostname)


def _canonical(url: str) -> str:
    scheme, sep, _ = url.partition(":")
    if not sep or scheme.lower() not in _DEFAULT_PORTS:
        return url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    netloc = _canonical_netloc(scheme, parts.netloc)
    if netloc is None:
        return url
    path = _canonical_path(parts.path)
    query = _canonical_query(parts.query)
    route = _route(parts.fragment)
    return f"{scheme}://{netloc}{path}{'?' + query if query else ''}{route}"


def _route(fragment: str) -> str:
    """The fragment when it names a page of a script-driven site, else nothing: "#!topic/x"
    (Google's crawlable hash-bang, which it fetched as ?_escaped_fragment_=topic/x) and
    "#/news/12" are what the site shows, where "#section-2" is a place in one page."""
    if not fragment.startswith(("!", "/")) or fragment in ("!", "/"):
        return ""
    return "#" + _normalise_percent(fragment, _QUERY_SAFE)


def _canonical_netloc(scheme: str, netloc: str) -> str | None:
    # A user name or password says who fetched the page, not which page it is: dropped.
    _, _, hostport = netloc.rpartition("@")
    if hostport.startswith("["):  # IPv6 literal
        close = hostport.find("]")
        if close == -1:
            return None
        host, port_part = hostport[: close + 1], hostport[close + 1 :]
        if port_part and not port_part.startswith(":"):
            return None
        port = port_part[1:]
        host = _canonical_ipv6(host)
    else:
        host, _, port = hostport.partition(":")
        host = _canonical_host(host)
    if not host or not port.isascii() or (port and not port.isdigit()):
        return None
    if port:
        port = str(int(port))
        if port == _DEFAULT_PORTS[scheme]:
            port = ""
    return f"{host}{':' + port if port else ''}"


def _canonical_ipv6(bracketed: str) -> str:
    """ "[2001:DB8:0:0:0:0:0:1]" as "[2001:db8::1]" (RFC 5952): one address, one spelling."""
    try:
        return f"[{ipaddress.IPv6Address(bracketed[1:-1]).compressed}]"
    except ValueError:  # a zone id, or no address: as written, in lower case
        return bracketed.lower()


def _canonical_host(host: str) -> str:
    host = host.lower().rstrip(".")  # "example.com." is the same name, fully qualified
    if host.isascii():
        return host
    try:
        # UTS #46 mapping, as browsers do (IDNA 2008, non-transitional: "ß" stays "ß").
        return idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return host  # not a valid IDN: keep it readable rather than fail


# A Java servlet's session id, written into the path: ";jsessionid=A1B2C3".
_PATH_SESSION = re.compile(r";jsessionid=[^/?#;]*", re.IGNORECASE)


def _canonical_path(path: str) -> str:
    if ";" in path:
        path = _PATH_SESSION.sub("", path)
    path = _normalise_percent(path, _PATH_SAFE)
    if "." in path:
        path = _remove_dot_segments(path)
    path = path.rstrip("/")
    if not path.startswith("/"):
        path = "/" + path
    return path


def _canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs: list[tuple[str, str]] = []
    for pair in query.split("&"):
        if not pair:
            continue
        pair = _normalise_percent(pair, _QUERY_SAFE)
        name = pair.partition("=")[0]
        if is_tracking_parameter(name):
            continue
        pairs.append((name, pair))
    pairs.sort(key=lambda item: item[0])  # stable: repeated names keep their order
    return "&".join(pair for _, pair in pairs)


# The families canonical URLs drop by prefix, by their names only: a link readers click
# keeps "at_home=1" or "pk_id=42", which a site may need, where comparing URLs may drop them.
_KNOWN_FAMILY_NAMES = re.compile(
    # Google Analytics (utm_), Matomo (mtm_), comScore (ns_), Adobe/Hubspot ads (itm_, hsa_):
    # tracking whatever follows. AT Internet (at_) and Piwik (pk_): the names they use.
    r"(?:utm|mtm|ns|itm|hsa)_\w+"
    r"|(?:at|pk)_(?:medium|campaign|source|kwd|kw|keyword|content|cid|cpn|vid|mchannel|linkname|fee"
    r"|platform|creation|variant|format|send_date|link\w*|custom\d+|general_placement"
    r"|detail_placement|emt)",
    re.IGNORECASE,
)


def is_tracking_parameter(name: str) -> bool:
    """Whether a query parameter's name says only how a reader reached the page."""
    return name.lower() in TRACKING_PARAMETERS or bool(_KNOWN_FAMILY_NAMES.fullmatch(name))


def _normalise_percent(component: str, safe: frozenset[str]) -> str:
    """Upper-case escapes, decode unreserved ones, encode what may not appear literally."""
    if _PLAIN.match(component):
        return component  # the common case: nothing to decode or encode
    out: list[str] = []
    i = 0
    n = len(component)
    while i < n:
        char = component[i]
        if char == "%" and _is_hex_pair(component, i + 1):
            decoded = chr(int(component[i + 1 : i + 3], 16))
            out.append(
                decoded if decoded in _UNRESERVED else "%" + component[i + 1 : i + 3].upper()
            )
            i += 3
            continue
        if char in safe:
            out.append(char)
        else:
            out.append("".join(f"%{b:02X}" for b in char.encode("utf-8", "surrogatepass")))
        i += 1
    return "".join(out)


def _is_hex_pair(text: str, start: int) -> bool:
    return start + 2 <= len(text) and text[start] in _HEX and text[start + 1] in _HEX


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, on segments rather than on string prefixes."""
    segments = path.split("/")
    output: list[str] = []
    for segment in segments[1:] if path.startswith("/") else segments:
        if segment == ".":
            continue
        if segment == "..":
            if output:
                output.pop()
            continue
        output.append(segment)
    # "/a/." and "/a/.." denote directories: keep the trailing slash for rstrip to judge.
    if segments[-1] in (".", ".."):
        output.append("")
    return "/" + "/".join(output)


# A host name's label as servers and browsers take it (underscores too: some real hosts have
# them, though IDNA does not allow them).
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)", re.IGNORECASE)
_DOTTED_NUMBERS = re.compile(r"\d+(?:\.\d+)*\.?")


# `\s` in a str pattern is what str.isspace() says of each character.
_SPACE = re.compile(r"\s")


def spaced_or_unprintable(url: str) -> bool:
    """Does `url` hold a space (any Unicode one) or a character that is not printable? Two
    C scans, not two Python calls per character: every source URL is checked twice at start
    (a thousandth of a warm refresh's CPU per thousand sources)."""
    return not url.isprintable() or _SPACE.search(url) is not None


def url_problem(url: str) -> str | None:
    """Why an http(s) or file URL cannot be fetched as written, or None when it can.

    What the HTTP client would only find out at connect time, some of it as a crash deep in
    the socket layer (a port past 65535, a host label of 70 characters): checked for a
    source URL in the config, and for a redirect's Location.
    """
    if spaced_or_unprintable(url):
        return "spaces or control characters in it (a space is written %20)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # a port that is no number, a broken IPv6 literal
        return str(exc)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.hostname not in (None, "", "localhost"):
            return f"a file URL names no host but localhost, not {parts.hostname!r}"
        if not parts.path:  # else the working directory would be read
            return "no path (a file URL is written file:///path/to/feed.xml)"
        return None
    if scheme not in ("http", "https"):
        return f"unsupported scheme {parts.scheme!r}"
    if port is not None and not 1 <= port <= 65535:
        return f"port {port} is out of range (1 to 65535)"
    host = parts.hostname or ""
    if not host:
        return "no host"
    if ":" in host or _DOTTED_NUMBERS.fullmatch(host):
        problem = _ip_problem(host.rstrip("."))
    else:
        problem = _name_problem(host)
    return problem or _client_problem(url)


def _name_problem(host: str) -> str | None:
    name = host[:-1] if host.endswith(".") else host
    try:
        ascii_name = name if name.isascii() else idna.encode(name, uts46=True).decode("ascii")
        for label in ascii_name.split("."):
            if label.lower().startswith("xn--"):
                idna.decode(label)  # a punycode label must decode to a valid name
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        return f"invalid host name {host!r}: {exc}"
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return f"invalid host name {host!r}"
    return None


def _ip_problem(host: str) -> str | None:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return f"invalid IP address {host!r}"
    return None


def _client_problem(url: str) -> str | None:
    """What the HTTP client itself refuses ("[::1]]", which urlsplit lets through)."""
    import httpx

    from aggregator.fetch.parsed import parsed_url  # the fetch parses it again: remembered

    try:
        parsed_url(url)
    except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
        return str(exc)
    return None
