"""Recognising a bot-protection challenge page served instead of the document.

A challenge is a page of JavaScript (or a CAPTCHA) that a browser solves and a feed reader
cannot. Retrying does not help and parsing it yields nothing, so it becomes `Blocked`, whose
advice tells the operator what can be done.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True, kw_only=True)
class Marker:
    vendor: str
    where: Literal["header", "body"]
    text: str  # header: "name: value-substring" (lower case); body: a substring
    on_success: bool  # also trusted on a 200 HTML page (too ambiguous otherwise)


# One table of every marker we know. `on_success=False` markers are only believed on the
# statuses challenges come with (403, 429, 503): a 200 article may well *mention* "DDoS-Guard".
MARKERS: tuple[Marker, ...] = (
    # Cloudflare states it outright in a header on every managed/JS challenge.
    Marker(vendor="Cloudflare", where="header", text="cf-mitigated: challenge", on_success=True),
    # Cloudflare's interstitial: title, and the challenge script paths and form ids.
    Marker(
        vendor="Cloudflare", where="body", text="<title>Just a moment...</title>", on_success=True
    ),
    # The challenge's own script (".../challenge-platform/h/g/orchestrate/chl_page/..."). Not
    # the bare path: Cloudflare adds ".../challenge-platform/scripts/jsd/main.js", its bot
    # detection, to ordinary pages it serves, whose items were lost as "blocked".
    Marker(
        vendor="Cloudflare", where="body", text="/cdn-cgi/challenge-platform/h/", on_success=True
    ),
    Marker(vendor="Cloudflare", where="body", text="cf-chl", on_success=False),
    Marker(vendor="Cloudflare", where="body", text="challenge-platform", on_success=False),
    Marker(
        vendor="Cloudflare", where="body", text="Attention Required! | Cloudflare", on_success=True
    ),
    # Imperva Incapsula: the resource script is the challenge itself.
    Marker(vendor="Incapsula", where="body", text="_Incapsula_Resource", on_success=True),
    Marker(vendor="DDoS-Guard", where="header", text="server: ddos-guard", on_success=False),
    Marker(vendor="DDoS-Guard", where="body", text="DDoS-Guard", on_success=False),
    # Sucuri WebSite Firewall: its access-denied and JS-cookie pages.
    Marker(vendor="Sucuri", where="header", text="x-sucuri-block:", on_success=False),
    Marker(vendor="Sucuri", where="body", text="Sucuri WebSite Firewall", on_success=False),
    Marker(vendor="Sucuri", where="body", text="sucuri_cloudproxy_js", on_success=True),
    # Akamai Bot Manager: the block page's reference number, and its sensor script.
    Marker(vendor="Akamai", where="body", text="Reference&#32;&#35;", on_success=False),
    Marker(vendor="Akamai", where="body", text="akamai-bm-telemetry", on_success=False),
)

CHALLENGE_STATUSES = frozenset({403, 429, 503})
# Challenge pages are small; looking further into a big document only costs time.
SCAN_BYTES = 64 * 1024


def find_challenge(status_code: int, headers: Mapping[str, str], body: bytes) -> str | None:
    """The vendor whose challenge this response is, or None. `headers` has lower-case names."""
    usual_status = status_code in CHALLENGE_STATUSES
    if not usual_status and status_code != 200:
        return None
    # A 200 feed is never a challenge page, whatever its text says; only its headers count.
    scan_body = usual_status or _looks_like_html(headers, body)
    head = body[:SCAN_BYTES].decode("utf-8", "replace") if scan_body else ""
    for marker in MARKERS:
        if not (usual_status or marker.on_success):
            continue
        if marker.where == "header":
            name, _, value = marker.text.partition(":")
            if name in headers and value.strip() in headers[name].lower():
                return marker.vendor
        elif scan_body and marker.text in head:
            return marker.vendor
    return None


def _looks_like_html(headers: Mapping[str, str], body: bytes) -> bool:
    if "html" in headers.get("content-type", "").lower():
        return True
    start = body[:512].lstrip().lower()
    return start.startswith((b"<!doctype html", b"<html"))
