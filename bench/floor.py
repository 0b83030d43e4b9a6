"""The floor, and our Retriever alone, against the feed farm.

The floor is what the network and the farm allow: a raw asyncio client, HTTP/1.1 keep-alive,
`connections` sockets, no parsing. The Retriever is measured with the same farm, cold (no
validators) and warm (the validators of the cold run: every answer a 304).

    python -m bench.floor BASEURL N [--connections 50] [--per-host 50]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from aggregator.errors import FetchError
from aggregator.fetch import FetchOptions, Retriever
from aggregator.models import CacheValidators, Fetched, OrgKind, Source, SourceKind, Unchanged


async def fetch_all_raw(urls: Sequence[str], connections: int = 50) -> tuple[int, int]:
    """GET every URL over `connections` keep-alive sockets; (body bytes, responses)."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for url in urls:
        queue.put_nowait(url)
    totals = [0, 0]

    async def worker() -> None:
        streams: dict[tuple[str, int], tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
        try:
            while not queue.empty():
                parts = urlsplit(queue.get_nowait())
                key = (parts.hostname or "", parts.port or 80)
                if key not in streams:
                    streams[key] = await asyncio.open_connection(*key)
                reader, writer = streams[key]
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                writer.write(f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
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
    urls = [f"{args.base_url.rstrip('/')}/feeds/{i}" for i in range(args.n)]
    options = FetchOptions(max_connections=args.connections, max_per_host=args.per_host)

    started = time.perf_counter()
    size, responses = await fetch_all_raw(urls, args.connections)
    print(
        f"floor     cold  {time.perf_counter() - started:6.2f} s  {responses} responses, "
        f"{size / 1e6:.1f} MB"
    )

    started = time.perf_counter()
    cold = await fetch_all_retriever(urls, options)
    print(
        f"retriever cold  {time.perf_counter() - started:6.2f} s  {cold.fetched} fetched, "
        f"{cold.bytes / 1e6:.1f} MB, {len(cold.errors)} errors"
    )

    started = time.perf_counter()
    warm = await fetch_all_retriever(urls, options, cold.validators)
    print(
        f"retriever warm  {time.perf_counter() - started:6.2f} s  {warm.unchanged} unchanged, "
        f"{warm.fetched} fetched, {len(warm.errors)} errors"
    )
    for error in (cold.errors + warm.errors)[:5]:
        print("  ", error)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.floor", description=__doc__.split("\n")[0]
    )
    parser.add_argument("base_url", help="the farm's base URL (python -m bench.farm prints it)")
    parser.add_argument("n", type=int, help="how many feeds")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--per-host", type=int, default=50, help="Retriever max_per_host")
    asyncio.run(_measure(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
