"""A failed request in an operator's words: what went wrong, and with which host.

httpx's exceptions print as "httpx.ConnectError: [Errno -2] Name or service not known",
which names a Python class and not the host. The refresh table, `sources` and the API show
this text for each failed source, so it says what happened ("host not found"), where
(host and port), and keeps the system's own words after it for whoever digs further.
"""

from __future__ import annotations

import errno
import re
import socket
import ssl

import httpx

from aggregator.fetch.inflate import IncompleteBody

# getaddrinfo's "no such name" answers. A resolver that could not be asked says EAI_AGAIN.
NO_SUCH_HOST = frozenset(
    code for code in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)) if code is not None
)

_CONNECTION_LOST = frozenset(
    {errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT, errno.ENOTCONN}
)
_UNREACHABLE = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN})


def causes(exc: BaseException) -> list[BaseException]:
    """`exc` and what caused it: httpx's error, httpcore's, the OS's (a short chain)."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 8:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    return chain


def host_not_found(exc: BaseException) -> bool:
    """Whether the DNS answered that the host name does not exist."""
    return any(
        isinstance(cause, socket.gaierror) and cause.errno in NO_SUCH_HOST for cause in causes(exc)
    )


# "[Errno 104] Connection reset by peer": how an OSError reads once httpcore has put it into
# an error of its own, without chaining it (a connection lost while reading, for one).
_ERRNO_TEXT = re.compile(r"^\[Errno (-?\d+)\] (.+)$")


def _errno(cause: BaseException) -> tuple[int, str] | None:
    """The OS error number and its words, from an OSError or from its text."""
    if isinstance(cause, OSError) and not isinstance(cause, ssl.SSLError) and cause.errno:
        return cause.errno, cause.strerror or str(cause)
    found = _ERRNO_TEXT.match(str(cause))
    return (int(found[1]), found[2]) if found else None


def _detail(exc: BaseException) -> str:
    """The innermost cause's own words ("Name or service not known"), without the errno."""
    for cause in reversed(causes(exc)):
        numbered = _errno(cause)
        if numbered is not None:
            return numbered[1]
        text = str(cause)
        if text:
            return text
    return ""


def _os_errno(exc: BaseException) -> int | None:
    for cause in causes(exc):
        numbered = _errno(cause)
        if numbered is not None:
            return numbered[0]
    return None


def _tls_error(exc: BaseException) -> ssl.SSLError | None:
    for cause in causes(exc):
        if isinstance(cause, ssl.SSLError):
            return cause
    return None


def _with(summary: str, detail: str) -> str:
    return f"{summary} ({detail})" if detail and detail not in summary else summary


def describe(exc: Exception, url: httpx.URL | None = None) -> str:
    """One line for a request that failed with `exc` (an httpx error) at `url`."""
    host = url.host if url is not None else ""
    shown = f"[{host}]" if ":" in host else host  # an IPv6 address, as URLs write it
    where = f"{shown}:{url.port}" if url is not None and url.port else shown
    detail = _detail(exc)
    tls = _tls_error(exc)
    number = _os_errno(exc)
    if host_not_found(exc):
        return _with(f"host not found: {host}", detail)
    if any(isinstance(cause, socket.gaierror) for cause in causes(exc)):
        return _with(f"cannot look up {host}: the DNS did not answer", detail)
    if isinstance(exc, httpx.ConnectTimeout):
        return _with(f"connect timeout: {where} did not answer", detail)
    if isinstance(exc, httpx.ReadTimeout):
        if detail.startswith("no answer "):  # accepted the request, sent not a byte back
            return f"read timeout: {where} sent no answer {detail.removeprefix('no answer ')}"
        return _with(f"read timeout: {where} sent nothing more", detail)
    if isinstance(exc, httpx.WriteTimeout):
        return _with(f"write timeout: {where} took no more of the request", detail)
    if isinstance(exc, httpx.TimeoutException):
        return _with(f"timeout with {where}", detail)
    if tls is not None:
        if isinstance(tls, ssl.SSLCertVerificationError):
            why = tls.verify_message or tls.reason or str(tls)
            return f"TLS certificate of {where} refused: certificate verify failed: {why}"
        return f"TLS error with {where}: {tls.reason or tls}"
    if number == errno.ECONNREFUSED:
        return f"connection refused by {where}"
    if number in _UNREACHABLE:
        return _with(f"{where} is unreachable", detail)
    if number in _CONNECTION_LOST:
        return _with(f"connection to {where} lost", detail)
    if isinstance(exc, IncompleteBody):  # its own words say it all, and more precisely
        return f"{where}: {exc}" if where else str(exc)
    if isinstance(exc, httpx.RemoteProtocolError):
        return _with(f"{where} sent an incomplete or malformed answer", detail)
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return _with(f"connection to {where} lost", detail)
    if isinstance(exc, httpx.ConnectError):
        return _with(f"cannot connect to {where}", detail)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return _with("unsupported URL scheme", detail)
    if isinstance(exc, httpx.InvalidURL):
        return _with("invalid URL", detail)
    if isinstance(exc, httpx.DecodingError):
        return _with(f"{where} sent a body that cannot be decompressed", detail)
    return _with(f"request to {where} failed", detail or type(exc).__name__)


def readable_size(count: int) -> str:
    """A byte count as an operator reads a limit: "1000 bytes", "10485760 bytes (10 MiB)"."""
    if count < 1024:
        return f"{count} bytes"
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= size:
            return f"{count} bytes ({count / size:.4g} {unit})"
    raise AssertionError("unreachable: count >= 1024 is at least a KiB")


def too_large(cap: int, *, decompressed: bool = False) -> str:
    """A body over the size cap: the limit, and the setting that sets it, so that the
    operator of a source whose documents are that large knows what to raise."""
    state = " once decompressed" if decompressed else ""
    return (
        f"response larger than {readable_size(cap)}{state}: the limit set by fetch.max_bytes"
        " (raise it in aggregator.toml to accept larger documents)"
    )
