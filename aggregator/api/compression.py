"""Gzip as the client's Accept-Encoding asks for it (RFC 9110 12.5.3), not as a substring.

Starlette's GZipMiddleware compresses whenever "gzip" occurs in Accept-Encoding, so
`gzip;q=0` ("never gzip") got gzip, and `*` (any coding) did not. `accepts_gzip` reads the
header by the RFC; the response cache keys its entries by it too, so an entry kept for a
client that takes gzip is never replayed to one that refuses it.
"""

from __future__ import annotations

from fastapi.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

GZIP_CODINGS = (b"gzip", b"x-gzip")  # RFC 9110 8.4.1.3: x-gzip is gzip


def _weight(parameters: list[bytes]) -> float | None:
    """The q parameter of a coding (1 without one); None when it is no weight (0 to 1)."""
    for parameter in parameters:
        name, _, value = parameter.partition(b"=")
        if name.strip().lower() == b"q":
            try:
                weight = float(value.strip())
            except ValueError:
                return None
            return weight if 0 <= weight <= 1 else None  # NaN is neither
    return 1.0


def _weights(header: bytes) -> dict[bytes, float]:
    """Each coding the header names with its weight (the highest, if named twice)."""
    found: dict[bytes, float] = {}
    for element in header.split(b","):
        coding, *parameters = element.split(b";")
        name = coding.strip().lower()
        weight = _weight(parameters)
        if name and weight is not None:
            found[name] = max(weight, found.get(name, 0.0))
    return found


def accepts_gzip(header: bytes) -> bool:
    """Whether a response may be gzipped for this Accept-Encoding value: gzip named with a
    weight above 0, or, gzip not named, `*` with one. No header: no gzip (as Starlette)."""
    weights = _weights(header)
    named = [weights[coding] for coding in GZIP_CODINGS if coding in weights]
    if named:
        return max(named) > 0
    return weights.get(b"*", 0.0) > 0


def wants_gzip(scope: Scope) -> bool:
    """`accepts_gzip` of a request; repeated Accept-Encoding fields are one list."""
    return accepts_gzip(b",".join(_accept_encodings(scope)))


def _accept_encodings(scope: Scope) -> list[bytes]:
    return [value for name, value in scope["headers"] if name == b"accept-encoding"]


class NegotiatedGZip:
    """GZipMiddleware, shown an Accept-Encoding that says what `accepts_gzip` read.

    The header is rewritten only where Starlette's substring test would read it wrong;
    every other request reaches GZipMiddleware untouched.
    """

    def __init__(self, app: ASGIApp, *, minimum_size: int, compresslevel: int) -> None:
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size, compresslevel=compresslevel)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            wanted = wants_gzip(scope)
            values = _accept_encodings(scope)
            starlette_would = bool(values) and b"gzip" in values[0]  # it reads the first
            if wanted != starlette_would:
                # In place, not on a copy: the route the router records in the scope is
                # what the metrics and the response cache read once this returns.
                scope["headers"] = [
                    *((n, v) for n, v in scope["headers"] if n != b"accept-encoding"),
                    (b"accept-encoding", b"gzip" if wanted else b"identity"),
                ]
        await self.gzip(scope, receive, send)
