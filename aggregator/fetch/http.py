"""http and https through httpx: limits, conditional GET, retries, redirects, size cap.

Small httpx transports, one per connection (`CONNECTIONS_PER_TRANSPORT`), instead of one big
pool: httpcore's pool does work that grows with connections x queued requests
(encode/httpx#3215), and one pool of 50 connections was measured 5-10x slower than the
network allows (see /work/shared/PERFORMANCE.md). The transports of a host share its cookie
jar. Our own semaphores admit only as many requests to a transport as it has connections, so
httpcore never queues, and a global semaphore caps the requests in flight over all hosts.

Requests go to the transports directly, not through `httpx.AsyncClient`: of what the client
adds, we use only its cookies (kept here, per host) and proxies from the environment (read
here, per host); its auth, event hooks and redirect layers cost a quarter of a 304's CPU.
Redirects are followed here so that each hop goes through the pool and the per-host limit of
the host it points at, and so that we know which hops were permanent: the caller records as
the new URL the target of the last permanent hop before any temporary one (a 301 to an
address that answers a 302 moved the feed there; the 302 says nothing lasting).

A user name and password in the URL (http://user:password@host/feed) are sent as HTTP Basic
auth, as curl and feed readers send them, to that URL's origin only (`Login`); the URL
itself goes on without them, so no answer, error or recorded redirect carries the password.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import random
import ssl
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from http.cookiejar import CookieJar
from typing import Protocol

import certifi
import httpcore
import httpx

from aggregator.errors import Blocked, ConfigError, FetchError, RateLimited
from aggregator.fetch.caching import (
    fresh_until,
    http_date,
    request_headers,
    retry_after,
    validators_of,
)
from aggregator.fetch.challenge import find_challenge
from aggregator.fetch.describe import describe, host_not_found, too_large
from aggregator.fetch.holds import Holds, host_key
from aggregator.fetch.inflate import decoded_chunks, undecodable
from aggregator.fetch.network import AsyncioBackend
from aggregator.fetch.options import FetchOptions
from aggregator.fetch.parsed import parsed_url
from aggregator.models import CacheValidators, Fetched, Unchanged
from aggregator.urls import mask_password, url_problem

MAX_REDIRECTS = 10
MAX_COOKIES_PER_HOST = 50  # a browser keeps ~180 per domain; a feed needs a session or two
# Bytes of the Cookie header a host's cookies may fill: servers refuse request headers over
# about 8 KB (431, or 400 "Request Header Or Cookie Too Large"), and a host setting a new big
# cookie at every answer grew the header past that within the refresh, while still under
# MAX_COOKIES_PER_HOST. Half of that leaves room for the other headers and a long URL.
MAX_COOKIE_BYTES_PER_HOST = 4096
# httpcore's pool scans every connection of a transport several times per request (and asks
# the socket of each idle one whether it was closed), so a pool with few connections is
# cheap; a host allowed more gets several transports. One connection per transport was
# measured on the bench farm (1,000 feeds, 5 per host) at 20-25% less CPU than 5 per pool,
# warm (all 304s) and cold alike, and no slower; 25 per pool is slow. On an HTTP/2 host each
# transport has its own connection, so up to max_per_host connections, not one multiplexed.
CONNECTIONS_PER_TRANSPORT = 1
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_STATUSES = frozenset({301, 308})
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.8, */*;q=0.5"
)
# A listing page's: a server that negotiates (Rails, some CMSs) sent its feed for the page's
# URL when asked with the feed types first, and the selectors then matched nothing.
ACCEPT_PAGE = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
# httpx exceptions worth another attempt: the network or the server may do better next time.
TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
# Everything httpx raises that is not a bug of ours.
HTTPX_ERRORS = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError)

ACCEPT_ENCODING = "gzip, deflate, br"  # what fetch/inflate.py decodes
DEFAULT_PORTS = {"http": 80, "https": 443}


def _no_wait(asked: str) -> str:
    """Why a 429 or 503 holds nothing: the Retry-After it sent (`asked`) asks for no wait."""
    again = "it is retried as after any other failure"
    if not asked:
        return f"; it sent no Retry-After: {again}"
    if asked.isascii() and asked.isdigit() and not int(asked):
        return f"; its Retry-After is 0, no wait: {again}"
    return f"; its Retry-After, {asked!r}, is no delay or date: {again}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """One HTTP exchange, body read."""

    url: str
    status_code: int
    reason: str
    headers: Mapping[str, str]  # lower-case names
    content: bytes


@dataclass(frozen=True, slots=True)
class Login:
    """The user name and password of a URL, as the Authorization header that sends them,
    and the origin (scheme, host, port) they are sent to. A redirect elsewhere, http to
    https included, does not get them: curl does the same, for the same reason (a server
    may send the client anywhere, and the password is for this one)."""

    origin: tuple[str, str, int]
    authorization: str


def without_login(url: str) -> tuple[str, Login | None]:
    """`url` without its user name and password, and those as a `Login` (None: none)."""
    parsed = _parsed(url)
    if parsed is None or not parsed.userinfo:
        return url, None
    pair = f"{parsed.username}:{parsed.password}".encode()  # percent-decoded, as curl sends
    authorization = "Basic " + base64.b64encode(pair).decode("ascii")
    return str(parsed.copy_with(userinfo=b"")), Login(_origin(parsed), authorization)


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return url.scheme, url.host, url.port or DEFAULT_PORTS.get(url.scheme, 0)


def _signed(headers: Mapping[str, str], login: Login | None, url: str) -> Mapping[str, str]:
    """`headers`, with `login`'s Authorization when `url` is of the origin it is for."""
    parsed = _parsed(url) if login is not None else None
    if login is None or parsed is None or _origin(parsed) != login.origin:
        return headers
    return {**headers, "Authorization": login.authorization}


class Transient(Exception):
    """An attempt failed in a way another attempt may not; carries the error to raise last."""

    def __init__(self, error: FetchError, cause: BaseException | None = None) -> None:
        super().__init__(str(error))
        if cause is not None:
            error.__cause__ = cause  # as `raise error from cause` would, once it is raised
        self.error = error


class HostPool:
    """The transports of one host, its cookies, and a slot per connection they may open.

    A request takes a slot (waiting, in order, when the host is at its limit), which names the
    transport to use; so no transport is ever asked for more than it has connections, and the
    most recently freed slot is taken first, whose connection is the likeliest to be open and
    idle.
    """

    def __init__(self, transports: list[tuple[httpx.AsyncHTTPTransport, int]]) -> None:
        self.transports = [transport for transport, _ in transports]
        # The host's cookies, one jar for all its connections, as one client would keep them.
        self.jar = CookieJar()
        self.cookies = httpx.Cookies(self.jar)
        # The jar's cookies, least recently set first: the ones given up when over a limit.
        self._cookie_order: dict[tuple[str, str, str], None] = {}
        self._free: asyncio.LifoQueue[httpx.AsyncHTTPTransport] = asyncio.LifoQueue()
        # Interleaved, so that the first requests spread over all the transports.
        for round_ in range(max(size for _, size in transports)):
            for transport, size in transports:
                if round_ < size:
                    self._free.put_nowait(transport)

    def keep_cookies(self, response: httpx.Response) -> None:
        """Take the cookies `response` sets, then drop the least recently set ones while
        the host has more than MAX_COOKIES_PER_HOST, or more than MAX_COOKIE_BYTES_PER_HOST
        of them to send: every request to the host carries them all, and a header grown
        past what its server accepts fails every request (431) until the run ends. The
        freshest are kept, as the ones the site's current answers rely on (a session it
        sets again stays; a cookie bigger than the whole allowance is not kept at all)."""
        self.cookies.extract_cookies(response)
        just_set = {_cookie_name(header) for header in response.headers.get_list("set-cookie")}
        kept = {(c.domain, c.path, c.name): c for c in self.jar}
        for key, cookie in list(kept.items()):
            if _cookie_bytes(cookie.name, cookie.value) > MAX_COOKIE_BYTES_PER_HOST:
                # Alone over the allowance: dropping older ones would not make it fit.
                self.jar.clear(*key)
                del kept[key]
        order = [k for k in self._cookie_order if k in kept and k[2] not in just_set]
        order += [k for k in kept if k not in order]  # new ones, and those set again
        size = sum(_cookie_bytes(c.name, c.value) for c in kept.values())
        while order and (len(order) > MAX_COOKIES_PER_HOST or size > MAX_COOKIE_BYTES_PER_HOST):
            domain, path, name = order.pop(0)
            size -= _cookie_bytes(name, kept[domain, path, name].value)
            self.jar.clear(domain, path, name)
        self._cookie_order = dict.fromkeys(order)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[httpx.AsyncHTTPTransport]:
        transport = await self._free.get()
        try:
            yield transport
        finally:
            self._free.put_nowait(transport)


def _cookie_name(set_cookie: str) -> str:
    """The name a Set-Cookie header sets ("a" of "a=1; Path=/")."""
    return set_cookie.split(";", 1)[0].split("=", 1)[0].strip()


def _cookie_bytes(name: str, value: str | None) -> int:
    """What one cookie adds to a Cookie header: "name=value" and the "; " before the next."""
    return len(name) + len(value or "") + 3


class Admit(Protocol):
    """A refresh's place for the document a request will bring (pipeline.Admission): taken
    once the request has its connection, before it is sent; given back while a failed
    attempt waits out its backoff, holding no document (with many sources retrying at once,
    their places would keep the other sources' requests from going out)."""

    async def take(self) -> None: ...

    def give_back(self) -> None: ...


class _Turn:
    """One attempt's start: its total timeout runs from when its first request has a
    connection and is admitted, not from when it began to wait. Waiting behind the host's
    other requests, or for the refresh to make room for another document, is not the host
    being slow (a config with hundreds of sources on one host timed out in the queue)."""

    def __init__(
        self,
        deadline: asyncio.Timeout,
        seconds: float,
        admit: Admit | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._deadline = deadline
        self._seconds = seconds
        self._admit = admit
        self._started = False
        self.clock = clock  # the time now, on the caller's clock (`now` plus time elapsed)

    async def begin(self) -> None:
        if self._started:
            return
        if self._admit is not None:
            await self._admit.take()
        self._deadline.reschedule(asyncio.get_running_loop().time() + self._seconds)
        self._started = True

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The clock stopped while a later hop (a redirect to a busy host, or to https, which
        is another pool) waits for its connection, for the reason `begin` waits to start it."""
        when = self._deadline.when()
        if not self._started or when is None:
            yield
            return
        loop = asyncio.get_running_loop()
        left = when - loop.time()
        self._deadline.reschedule(None)
        try:
            yield
        finally:
            self._deadline.reschedule(loop.time() + left)


class HttpFetcher:
    def __init__(self, options: FetchOptions) -> None:
        self._options = options
        self._in_flight = asyncio.Semaphore(options.max_connections)
        self._pools: dict[tuple[str, str, int | None], HostPool] = {}
        self._tls: ssl.SSLContext | None = None  # built for the first https host (_verify)
        # Hosts that answered with Retry-After, until then asked nothing more (fetch.holds).
        self.holds = Holds()
        # Every request's headers before its own (the conditional ones); httpx adds Host.
        self._headers = {
            "Accept": ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,
            "Connection": "keep-alive",
            "User-Agent": options.user_agent,
        }
        self._timeouts = httpx.Timeout(
            connect=options.connect_timeout,
            read=options.read_timeout,
            write=options.read_timeout,
            pool=options.connect_timeout,
        ).as_dict()

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            for transport in pool.transports:
                await transport.aclose()

    async def fetch(
        self,
        source_id: str,
        url: str,
        validators: CacheValidators,
        *,
        now: datetime,
        admit: Admit | None = None,
        credentials_of: str | None = None,
        accept: str = ACCEPT,
    ) -> Fetched | Unchanged:
        """`credentials_of`: a URL whose user name and password are sent when `url` has
        none (the source's configured URL, `url` where it moved), to its origin only.
        `accept`: the Accept header (`ACCEPT_PAGE` for a listing page)."""
        options = self._options
        last: FetchError | None = None
        loop = asyncio.get_running_loop()
        began = loop.time()

        def clock() -> datetime:
            # `now` is when the source's refresh began; its request may get its turn much
            # later (behind its host's other requests), when a hold may have ended.
            return now + timedelta(seconds=loop.time() - began)

        url, login = without_login(url)
        if login is None and credentials_of is not None:
            login = without_login(credentials_of)[1]

        for attempt in range(options.retries + 1):
            if attempt:
                if admit is not None:
                    admit.give_back()  # taken again by the next attempt's turn
                # Full jitter: sources failing together must not come back together.
                wait = min(options.backoff_base * 2 ** (attempt - 1), MAX_RETRY_WAIT)
                await asyncio.sleep(random.uniform(0, wait))
            try:
                async with asyncio.timeout(None) as deadline:  # set by the turn's start
                    turn = _Turn(deadline, options.total_timeout, admit, clock)
                    return await self._follow(source_id, url, validators, now, turn, login, accept)
            except Transient as exc:
                last = exc.error
            except TimeoutError:
                # The server as other network errors name it: with its port, when not the
                # scheme's default (one host may serve feeds on several).
                server = host_key(url) or url
                last = FetchError(
                    source_id,
                    f"total timeout: no complete answer from {server}"
                    f" within {options.total_timeout:g}s (fetch.total_timeout)",
                )
        assert last is not None  # the loop ran at least once
        raise last

    async def _follow(
        self,
        source_id: str,
        url: str,
        validators: CacheValidators,
        now: datetime,
        turn: _Turn,
        login: Login | None,
        accept: str = ACCEPT,
    ) -> Fetched | Unchanged:
        headers = request_headers(validators)
        if accept != ACCEPT:
            headers["Accept"] = accept
        all_permanent = True  # every hop so far
        moved_to: str | None = None  # the target of the last of those
        answer = await self._exchange(source_id, url, _signed(headers, login, url), turn)
        hops = 0
        visited = [url]  # the URLs asked, in order: what a too-long chain's error names
        while answer.status_code in REDIRECT_STATUSES:
            location = answer.headers.get("location")
            if not location:
                raise FetchError(
                    source_id,
                    f"HTTP {answer.status_code} redirect without a Location header",
                    status_code=answer.status_code,
                )
            hops += 1
            if hops > MAX_REDIRECTS:
                raise FetchError(
                    source_id, _too_many_redirects(visited, answer), status_code=answer.status_code
                )
            all_permanent = all_permanent and answer.status_code in PERMANENT_STATUSES
            try:
                target = str(httpx.URL(answer.url).join(location))
            except (*HTTPX_ERRORS, ValueError, UnicodeError) as exc:
                raise FetchError(source_id, f"bad redirect to {location!r}: {exc}") from exc
            problem = url_problem(target)  # a port past 65535 crashed the socket layer
            if problem is None and not target.lower().startswith(("http://", "https://")):
                # file:// is a scheme the operator may configure, not one a server may send
                # a fetch to: that would read this machine's files.
                problem = "a server may redirect only to http:// or https://"
            if problem is not None:
                raise FetchError(source_id, f"bad redirect to {location!r}: {problem}")
            if all_permanent:
                moved_to = target
            visited.append(target)
            answer = await self._exchange(source_id, target, _signed(headers, login, target), turn)
        conditional = bool(headers)  # what was sent: an unsendable validator was not
        return self._judge(
            source_id,
            answer,
            now,
            moved_to=moved_to,
            conditional=conditional,
            redirected_from=url if hops else None,
        )

    def _judge(
        self,
        source_id: str,
        answer: Answer,
        now: datetime,
        *,
        moved_to: str | None,
        conditional: bool,
        redirected_from: str | None = None,
    ) -> Fetched | Unchanged:
        status, headers = answer.status_code, answer.headers
        if status == 304:
            if not conditional:
                # "Not modified" since nothing: no document, and no success either, or a
                # broken server would look healthy forever with no items.
                raise FetchError(
                    source_id,
                    "HTTP 304 Not Modified to a request that was not conditional",
                    status_code=status,
                )
            return Unchanged(
                url=answer.url,
                fresh_until=fresh_until(headers, now),
                permanent_redirect=moved_to,
                # A server may rotate its ETag at every 304: the next request must send
                # the new one, or it stops matching and every fetch is a whole document.
                validators=validators_of(headers),
            )
        vendor = find_challenge(status, headers, answer.content)
        if vendor is not None:
            raise Blocked(source_id, f"HTTP {status}: {vendor} challenge page", status_code=status)
        described = f"HTTP {status} {answer.reason}".rstrip()
        if redirected_from is not None:
            # Said where: the configured URL may answer a redirect, and the error is its target's.
            described += f" at {answer.url} (redirected from {redirected_from})"
        if status == 429 or (status == 503 and "retry-after" in headers):
            asked = headers.get("retry-after", "").strip()
            when = retry_after(asked, now)
            said = None if asked.isdigit() else http_date(asked)
            if said is not None and when is None:
                # A date already past (the server's clock is behind, or the answer is an old
                # cached one) asks for no wait: no hold, and nothing may claim one.
                described += _past_retry_after(said)
            if when is None and said is None and status == 503:
                # Retried as any 503 (below), and said why no wait was kept.
                described += _no_wait(asked)
            if when is not None or status == 429:
                later = f", retry after {when.replace(microsecond=0).isoformat()}" if when else ""
                if when is None and said is None:
                    # Asked again at the next interval (the backoff of failures): the
                    # operator sees why no time was kept.
                    later = _no_wait(asked)
                if said is not None and when is not None:
                    # An HTTP-date, told as the server's date in UTC, as a delay is: one in
                    # 2099 is held to ten years above, and the schedule's cap (pipeline)
                    # says when it will be asked again.
                    later = f", retry after {said.replace(microsecond=0).isoformat()}"
                if when is not None:
                    # The server's word about itself: none of its sources' requests still
                    # waiting for their turn is sent before then (the pipeline shortens
                    # the hold to the schedule's cap). Held before this task next yields,
                    # so the request that takes the connection this answer freed sees it.
                    self.holds.hold(answer.url, when, source_id)
                raise RateLimited(
                    source_id,
                    described + later,
                    retry_at=when,
                    status_code=status,
                    answered_by=str(answer.url),
                )
        if status >= 500:
            raise Transient(FetchError(source_id, described, status_code=status))
        if not 200 <= status < 300:
            raise FetchError(source_id, described, status_code=status)
        if status == 204:  # not "parse failed: empty document": the server said it
            raise FetchError(
                source_id, f"{described}: the server sent no document", status_code=204
            )
        compressed = _undeclared_compression(headers, answer.content)
        if compressed is not None:
            raise FetchError(source_id, compressed, status_code=status)
        return Fetched(
            url=answer.url,
            status_code=status,
            content=answer.content,
            headers=headers,
            validators=validators_of(headers),
            permanent_redirect=moved_to,
            fresh_until=fresh_until(headers, now),
        )

    async def _exchange(
        self, source_id: str, url: str, headers: Mapping[str, str], turn: _Turn
    ) -> Answer:
        """One request and its whole (decompressed, capped) body, through the host's pool."""
        try:
            target = parsed_url(url)
            pool = self._pool(target)
            # The host's slot first, then one of all hosts': a request waiting for its host
            # holds none of the connections other hosts could use.
            async with contextlib.AsyncExitStack() as held:
                with turn.paused():
                    transport = await held.enter_async_context(pool.slot())
                    # Its host's turn has come: while it waited, the host may have answered
                    # another source "come back later" (Retry-After). Then it is not asked.
                    self.holds.check(source_id, url, turn.clock())
                    await held.enter_async_context(self._in_flight)
                await turn.begin()
                # What httpx.AsyncClient.send does for a GET, less what we do not use (auth,
                # hooks, its redirects): a third of the CPU of a 304 went to those layers.
                request = httpx.Request(
                    "GET",
                    target,
                    headers={**self._headers, **headers},
                    extensions={"timeout": self._timeouts},
                )
                if pool.jar:
                    pool.cookies.set_cookie_header(request)
                response = await transport.handle_async_request(request)
                response.request = request
                try:
                    if "set-cookie" in response.headers:
                        pool.keep_cookies(response)
                    content = await self._read(source_id, response)
                finally:
                    # Returns the connection to the pool when the body was read (a 304 too).
                    await response.aclose()
        except TRANSIENT as exc:
            failure = FetchError(source_id, describe(exc, _parsed(url)))
            # A name the DNS said does not exist gets the same answer again: offline, each
            # lookup can take the resolver's whole timeout, and retrying it tripled the time
            # of an offline `make run`. (A resolver that could not be asked stays transient.)
            if host_not_found(exc):
                raise failure from exc
            raise Transient(failure, exc) from exc
        except HTTPX_ERRORS as exc:
            raise FetchError(source_id, describe(exc, _parsed(url))) from exc
        headers = {name.lower(): value for name, value in response.headers.items()}
        if "location" in headers:
            headers["location"] = _location(response.headers)
        return Answer(
            url=str(response.url),
            status_code=response.status_code,
            reason=_reason(response.reason_phrase, response.status_code),
            headers=headers,
            content=content,
        )

    async def _read(self, source_id: str, response: httpx.Response) -> bytes:
        """The body, decompressed and capped. An error page's or a redirect's body is only
        looked at for a challenge's markers (its status says what happened): when it cannot
        be read (cut short, not the gzip it says it is, over the cap), what arrived of it will
        do, and the status is reported: a 503's Retry-After holds, a 301 is followed."""
        chunks: list[bytes] = []
        try:
            await self._read_into(chunks, source_id, response)
        except (FetchError, httpx.DecodingError, httpx.TransportError):
            if 200 <= response.status_code < 300:
                raise  # a document cut short: retried, and never stored with its ETag
        return b"".join(chunks)

    async def _read_into(
        self, chunks: list[bytes], source_id: str, response: httpx.Response
    ) -> None:
        cap = self._options.max_bytes
        too_big = FetchError(source_id, too_large(cap), status_code=response.status_code)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise too_big  # refused before a byte of the body is read
        coded = undecodable(response.headers.get("content-encoding", ""))
        if coded:
            raise FetchError(
                source_id,
                f"the response is compressed with {', '.join(coded)} (Content-Encoding), which"
                f" was not asked for and cannot be decoded; asked for: {ACCEPT_ENCODING}",
                status_code=response.status_code,
            )
        if response.headers.get("content-encoding", "identity").strip().lower() != "identity":
            too_big = FetchError(
                source_id, too_large(cap, decompressed=True), status_code=response.status_code
            )
        size = 0
        # Decoded bytes, a bounded step at a time: the cap also stops gzip/br bombs, before
        # they are in memory (httpx's aiter_bytes inflates each network chunk whole).
        async for chunk in decoded_chunks(response):
            size += len(chunk)
            if size > cap:
                raise too_big
            chunks.append(chunk)

    def _pool(self, url: httpx.URL) -> HostPool:
        key = (url.scheme, url.host, url.port)
        pool = self._pools.get(key)
        if pool is None:
            limit = self._options.max_per_host
            count = -(-limit // CONNECTIONS_PER_TRANSPORT)  # ceiling division
            sizes = [limit // count + (1 if i < limit % count else 0) for i in range(count)]
            verify = self._verify(url.scheme)
            proxy = environment_proxy(url)
            pool = HostPool([(self._transport(size, verify, proxy), size) for size in sizes])
            self._pools[key] = pool
        return pool

    def _verify(self, scheme: str) -> ssl.SSLContext:
        """The TLS context of a host's transports. One for every https host: building one
        loads the CA bundle (~20 ms of CPU), which, per host, would cost more than fetching. An
        http host's transports never open TLS (a redirect to https goes to that host's own),
        so theirs has no CA at all: were it ever used, it would refuse every certificate."""
        if scheme != "https":
            return _NO_TLS
        if self._tls is None:
            self._tls = tls_context()
        return self._tls

    def _transport(
        self, connections: int, verify: ssl.SSLContext, proxy: str | None
    ) -> httpx.AsyncHTTPTransport:
        # HTTP/2 is negotiated in the TLS handshake: for http:// it would only load h2.
        http2 = verify is not _NO_TLS
        transport = httpx.AsyncHTTPTransport(
            http2=http2,
            verify=verify,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            proxy=proxy,
        )
        if proxy is None:
            # The same pool as httpx makes, on asyncio itself instead of anyio (network.py).
            # httpx has no parameter for it; tests/test_fetch_network.py checks this still holds.
            transport._pool = httpcore.AsyncConnectionPool(
                ssl_context=verify,
                max_connections=connections,
                max_keepalive_connections=connections,
                keepalive_expiry=KEEPALIVE_EXPIRY,
                http2=http2,
                network_backend=_BACKEND,
            )
        return transport


def environment_proxy(url: httpx.URL) -> str | None:
    """The proxy that HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY name for `url`, as
    httpx's clients and urllib read them (a proxy URL without a scheme is an http:// one)."""
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(url.host):  # NO_PROXY
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


_BACKEND = AsyncioBackend()
KEEPALIVE_EXPIRY = 5.0  # seconds an idle connection is kept (httpx's default)

# The transports of http hosts: verification on, no CA loaded (cheap to make, fails closed).
_NO_TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def check_tls_environment() -> None:
    """At start, before any fetch: SSL_CERT_FILE / SSL_CERT_DIR name what exists (a typo
    there would make every https source fail, one by one, as a bug)."""
    for name, wanted in (("SSL_CERT_FILE", os.path.isfile), ("SSL_CERT_DIR", os.path.isdir)):
        value = os.environ.get(name)
        if value and not wanted(value):
            kind = "file" if name == "SSL_CERT_FILE" else "folder"
            raise ConfigError(
                "environment",
                f"{name}={value}: no such {kind}",
                expected=f"the {kind} of CA certificates to trust, or {name} unset",
            )


def tls_context() -> ssl.SSLContext:
    """The CAs https sources are checked against: certifi's bundle, or the bundle or folder
    named by SSL_CERT_FILE / SSL_CERT_DIR, as OpenSSL, httpx and curl read them (a private
    CA, or a proxy that inspects TLS, is trusted by naming its certificate there)."""
    cafile = os.environ.get("SSL_CERT_FILE") or None
    capath = os.environ.get("SSL_CERT_DIR") or None
    if cafile is None and capath is None:
        cafile = certifi.where()
    try:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    except (OSError, ssl.SSLError) as exc:
        named = " and ".join(
            f"{name}={value}"
            for name, value in (("SSL_CERT_FILE", cafile), ("SSL_CERT_DIR", capath))
            if value and name in os.environ
        )
        raise ConfigError(
            "environment",
            f"cannot load the CA certificates of {named or cafile}: {exc}",
            expected="a PEM file of CA certificates (SSL_CERT_FILE) or a folder of them "
            "(SSL_CERT_DIR), or neither for the public CAs",
        ) from exc


_GZIP_MAGIC = b"\x1f\x8b"


def _undeclared_compression(headers: Mapping[str, str], content: bytes) -> str | None:
    """What is wrong with a body that is still gzip data once its Content-Encoding is
    undone (a .gz file served as the feed, or gzip applied twice and declared once), or
    None. No feed, page or JSON document begins with the bytes 1f 8b: the parser called it
    "not well-formed (invalid token) at line 1, column 0", which sent the operator looking
    for a broken document. It is not decompressed: browsers and feed readers read a body as
    its headers declare it, so a server sending this is broken for every reader, and the
    publisher is the one to fix it."""
    if content[:2] != _GZIP_MAGIC:
        return None
    coding = headers.get("content-encoding", "").strip()
    if coding and coding.lower() != "identity":
        return (
            "the body is compressed twice: once its Content-Encoding "
            f"({coding}) is undone it is gzip data again, which the server did not declare"
            " (not decompressed, as browsers do not: the publisher's server needs fixing)"
        )
    served_as = headers.get("content-type", "").strip() or "none"
    return (
        "the body is gzip-compressed data that the server did not declare as such"
        f" (no Content-Encoding: gzip; Content-Type: {served_as}); not decompressed, as"
        " browsers do not: the publisher's server needs fixing"
    )


def _past_retry_after(said: datetime) -> str:
    """What an answer's Retry-After date already past means for the source."""
    return (
        f"; its Retry-After, {said.replace(microsecond=0).isoformat()}, is already past"
        " (the server's clock may be behind): no wait is held, and it is retried as after"
        " any other failure"
    )


# URLs of a redirect loop named in its error, at most: the rest is "...".
LOOP_URLS_SHOWN = 4


def _too_many_redirects(visited: list[str], last: Answer) -> str:
    """The error of a chain of redirects that did not end: the loop it goes round, when a
    URL came back (a server may send a client to the same URL again, to set a cookie, so
    that is followed until the limit), else where it began and where it was still going.
    Said without the URLs, the operator could not tell which server to look at."""
    again = next((i for i, seen in enumerate(visited) if seen in visited[:i]), None)
    if again is not None:
        loop = visited[visited.index(visited[again]) : again + 1]
        if len(loop) > LOOP_URLS_SHOWN:
            loop = [*loop[: LOOP_URLS_SHOWN - 1], "...", loop[-1]]
        shown = " -> ".join(mask_password(url) for url in loop)
        return (
            f"a redirect loop: {shown}, round again for more than {MAX_REDIRECTS} redirects"
            " (the server's redirects need fixing)"
        )
    location = last.headers.get("location", "")
    try:
        onward = str(httpx.URL(last.url).join(location))
    except (*HTTPX_ERRORS, ValueError, UnicodeError):
        onward = location
    return (
        f"more than {MAX_REDIRECTS} redirects from {mask_password(visited[0])}: the last"
        f" one, at {mask_password(last.url)}, pointed on to {mask_password(onward)}"
    )


def _location(headers: httpx.Headers) -> str:
    """The Location header with the server's own bytes: one past ASCII percent-encoded as it
    is, as curl and browsers send it back. httpx decodes a header of such bytes as Latin-1,
    and joining that to the URL encoded it as UTF-8 again, which asked the server for another
    path (a Latin-1 "é", the byte E9, became %C3%A9 instead of %E9)."""
    raw = b", ".join(value for name, value in headers.raw if name.lower() == b"location")
    if raw.isascii():
        return raw.decode("ascii")
    return "".join(chr(byte) if byte < 0x80 else f"%{byte:02X}" for byte in raw)


def _parsed(url: str) -> httpx.URL | None:
    try:
        return parsed_url(url)
    except httpx.InvalidURL:
        return None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


REASON_CHARS = 100  # of a server's reason phrase, in messages
# The longest wait before a retry (the backoff doubles with each): a source failing with
# many retries must not hold a refresh for hours.
MAX_RETRY_WAIT = 300.0


def _reason(phrase: str, status: int) -> str:
    """The server's reason phrase as messages carry it to a terminal: the standard phrase for
    none; quoted with its escapes shown (`'\\x1b[2J...'`) when it holds control characters,
    which cleared the operator's screen from the result table; cut to REASON_CHARS."""
    if not phrase:
        return _phrase(status)
    if len(phrase) > REASON_CHARS:
        phrase = phrase[: REASON_CHARS - 1] + "…"
    return phrase if phrase.isprintable() else repr(phrase)
