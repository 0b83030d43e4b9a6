"""The floor, and our Retriever alone, against the feed farm.

The floor is what the network and the farm allow: a raw asyncio client, HTTP/1.1 keep-alive,
`connections` sockets, no parsing. The Retriever is measured with the same farm, cold (no
validators) and warm (the validators of the cold run: every answer a 304).

    python -m bench.farm --port 0 --feeds 1000 [--hosts 10] &     # prints BASEURL
    python -m bench.floor BASEURL 1000 [--connections 50] [--per-host 50] [--repeat 3]

With one farm host, `--per-host` must allow the floor's 50 connections for a fair comparison
(the default of 6 per host is for politeness, not speed); with `--hosts 10` the default does.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

# The aggregator is imported only where the Retriever is measured: the raw client's process
# (bench/refresh.py runs it alone, for its wall time and RSS) must not pay for httpx & co.
if TYPE_CHECKING:
    from aggregator.errors import FetchError
    from aggregator.fetch import FetchOptions
    from aggregator.models import CacheValidators, Fetched, Unchanged


async def fetch_all_raw(
    urls: Sequence[str], connections: int = 50, etags: Mapping[str, str] | None = None
) -> tuple[int, int]:
    """GET every URL over `connections` keep-alive sockets; (body bytes, responses).

    With `etags` (by URL) the requests carry If-None-Match: the floor of a warm refresh.
    """
    etags = etags or {}
    queue: asyncio.Queue[str] = asyncio.Queue()
    for url in urls:
        queue.put_nowait(url)
    totals = [0, 0]

    async def worker() -> None:
        streams: dict[tuple[str, int], tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
        try:
            while not queue.empty():
                url = queue.get_nowait()
                parts = urlsplit(url)
                key = (parts.hostname or "", parts.port or 80)
                if key not in streams:
                    streams[key] = await asyncio.open_connection(*key)
                reader, writer = streams[key]
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                condition = f"If-None-Match: {etags[url]}\r\n" if url in etags else ""
                writer.write(
                    f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{condition}\r\n".encode()
                )
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                totals[0] += len(await reader.readexactly(length))
                totals[1] += 1
        finally:
            for _reader, writer in streams.values():
                writer.close()

    await asyncio.gather(*(worker() for _ in range(min(connections, len(urls)))))
    return totals[0], totals[1]


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrieverRun:
    bytes: int
    fetched: int
    unchanged: int
    errors: tuple[str, ...]
    validators: Mapping[str, CacheValidators] = field(default_factory=dict)  # by URL


async def fetch_all_retriever(
    urls: Sequence[str],
    options: FetchOptions,
    validators: Mapping[str, CacheValidators] | None = None,
) -> RetrieverRun:
    """Retrieve every URL at once (the Retriever's own limits do the queueing).

    With `validators` (by URL, e.g. a cold run's `RetrieverRun.validators`) the requests are
    conditional: against an unchanged farm every answer is a 304.
    """
    from aggregator.errors import FetchError
    from aggregator.fetch import Retriever
    from aggregator.models import CacheValidators, Fetched, OrgKind, Source, SourceKind, Unchanged

    now = datetime.now(UTC)
    known = dict(validators or {})
    outcomes: list[Fetched | Unchanged | FetchError] = []
    async with Retriever(options) as retriever:

        async def one(index: int, url: str) -> Fetched | Unchanged | FetchError:
            source = Source(
                id=f"farm-{index}", name=url, url=url, kind=SourceKind.FEED, org=OrgKind.PRESS
            )
            try:
                return await retriever.retrieve(
                    source, url, known.get(url, CacheValidators()), now=now
                )
            except FetchError as exc:
                return exc

        outcomes = await asyncio.gather(*(one(i, url) for i, url in enumerate(urls)))
    fetched = {url: r for url, r in zip(urls, outcomes, strict=True) if isinstance(r, Fetched)}
    return RetrieverRun(
        bytes=sum(len(r.content) for r in fetched.values()),
        fetched=len(fetched),
        unchanged=sum(isinstance(r, Unchanged) for r in outcomes),
        errors=tuple(str(r) for r in outcomes if isinstance(r, FetchError)),
        validators=known | {url: r.validators for url, r in fetched.items()},
    )


async def _measure(args: argparse.Namespace) -> None:
    with urllib.request.urlopen(f"{args.base_url.rstrip('/')}/urls") as answer:
        urls = answer.read().decode().split()[: args.n]
    from aggregator.fetch import FetchOptions

    options = FetchOptions(max_connections=args.connections, max_per_host=args.per_host)
    timings: dict[str, list[float]] = {"floor": [], "retriever cold": [], "retriever warm": []}
    for _ in range(args.repeat):
        started = time.perf_counter()
        size, responses = await fetch_all_raw(urls, args.connections)
        timings["floor"].append(time.perf_counter() - started)

        started = time.perf_counter()
        cold = await fetch_all_retriever(urls, options)
        timings["retriever cold"].append(time.perf_counter() - started)

        started = time.perf_counter()
        warm = await fetch_all_retriever(urls, options, cold.validators)
        timings["retriever warm"].append(time.perf_counter() - started)
        if cold.errors or warm.errors or warm.unchanged != len(urls):
            print("errors:", *(cold.errors + warm.errors)[:5], sep="\n  ")
    print(
        f"{responses} feeds, {size / 1e6:.1f} MB; {args.connections} connections, "
        f"max_per_host={args.per_host}; median of {args.repeat}"
    )
    floor = statistics.median(timings["floor"])
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"{name:16} {median:6.2f} s  ({median / floor:.2f}x the floor)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.floor", description=__doc__.split("\n")[0]
    )
    parser.add_argument("base_url", help="the farm's base URL (python -m bench.farm prints it)")
    parser.add_argument("n", type=int, help="how many feeds")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--per-host", type=int, default=50, help="Retriever max_per_host")
    parser.add_argument("--repeat", type=int, default=3, help="runs; medians are printed")
    asyncio.run(_measure(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
