"""A local feed farm: N feeds over HTTP/1.1 keep-alive, with latency, ETags and ticks.

Test infrastructure, so a minimal hand-written asyncio server (no dependency, and no framework
overhead that would blur the client's figures). Feed i is RSS 2.0 when i is even and Atom when
odd, ~27 KB and 20-40 items of press-release-like text (bench/farm_text.py: a large seeded
vocabulary, so items are as unlike each other as real ones; 2 % re-publish another feed's
item), generated from a seed: the same arguments give the same bytes. Every response (304s
too) waits `latency` seconds with asyncio.sleep, so concurrency is real. A tick adds 3 items
to every feed and changes its ETag.

    python -m bench.farm --port 0 --feeds 1000      # prints the base URL on stdout line 1

URLs: ``{base}/feeds/{i}`` for i in 0..N-1; ``POST {base}/tick`` ticks; ``GET {base}/urls``
lists the feed URLs one per line. With ``--hosts K`` feed i is served from host
127.0.0.(1 + i % K) on the same port, so a client's per-host limits come into play as they do
against real sites.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

from bench import farm_text

BASE_DATE = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
ITEMS_PER_TICK = 3

# Share of items that re-publish another feed's item (a joint statement, a wire copy): the
# cross-feed duplicates dedupe has to fold. The copy keeps the original's title and text,
# sometimes with an intro of its own, and appears a few hours after it.
REPUBLISHED = 0.02
# How far back (in feed numbers) a re-publishing feed looks for its original.
REPUBLISH_REACH = 40
INTROS = (
    "We republish the following statement.",
    "The statement below was published today by our partners.",
    "",
)


def feed_count_items(index: int) -> int:
    return random.Random(f"size:{index}").randint(20, 40)


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    guid: str
    link: str
    title: str
    summary: str
    published: datetime


def entry(feed: int, number: int) -> Entry:
    """Item `number` of feed `feed` (0 the oldest): always the same for the same pair.

    Text comes from `farm_text` (a large seeded vocabulary: names, places, numbers, dates),
    3-6 sentences, ~550 characters, like a press release's feed summary. REPUBLISHED of the
    items copy item `number` of an earlier feed (the same age, so within the dedupe window).
    """
    rng = random.Random(f"item:{feed}:{number}")
    link = f"https://press.example.org/source-{feed}/releases/{number:05d}"
    published = BASE_DATE + timedelta(hours=6 * number, minutes=rng.randint(0, 300))
    if feed > 0 and rng.random() < REPUBLISHED:
        original = entry(max(0, feed - rng.randint(1, REPUBLISH_REACH)), number)
        intro = rng.choice(INTROS)
        return Entry(
            guid=link,
            link=link,
            title=original.title,
            summary=f"{intro} {original.summary}".strip(),
            published=original.published + timedelta(hours=rng.randint(1, 6)),
        )
    return Entry(
        guid=link,
        link=link,
        title=farm_text.title(rng),
        summary=farm_text.text(rng, rng.randint(3, 6)),
        published=published,
    )


def render(feed: int, count: int, base_url: str) -> bytes:
    """The document of `feed` holding its newest `count` items, newest first."""
    entries = [entry(feed, n) for n in range(count - 1, -1, -1)]
    self_url = f"{base_url}/feeds/{feed}"
    if feed % 2 == 0:
        return _rss(feed, entries, self_url).encode("utf-8")
    return _atom(feed, entries, self_url).encode("utf-8")


def _rss(feed: int, entries: list[Entry], self_url: str) -> str:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
        'xmlns:atom="http://www.w3.org/2005/Atom"><channel>\n'
        f"<title>Press releases of source {feed}</title>\n"
        f"<link>https://press.example.org/source-{feed}/</link>\n"
        f'<atom:link href="{escape(self_url)}" rel="self" type="application/rss+xml"/>\n'
        "<description>Statements on the protection of children online</description>\n"
        "<language>en</language>\n"
    ]
    for e in entries:
        parts.append(
            f"<item><title>{escape(e.title)}</title><link>{e.link}</link>"
            f'<guid isPermaLink="true">{e.guid}</guid>'
            f"<pubDate>{format_datetime(e.published, usegmt=True)}</pubDate>"
            f"<description>{escape(e.summary)}</description></item>\n"
        )
    parts.append("</channel></rss>\n")
    return "".join(parts)


def _atom(feed: int, entries: list[Entry], self_url: str) -> str:
    updated = entries[0].published.isoformat() if entries else BASE_DATE.isoformat()
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
        'xml:lang="en">\n'
        f"<title>Press releases of source {feed}</title>\n"
        f'<link href="https://press.example.org/source-{feed}/"/>\n'
        f'<link rel="self" href="{escape(self_url)}"/>\n'
        f"<id>urn:farm:source:{feed}</id><updated>{updated}</updated>\n"
    ]
    for e in entries:
        parts.append(
            f'<entry><title>{escape(e.title)}</title><link href="{e.link}"/>'
            f"<id>{e.guid}</id><published>{e.published.isoformat()}</published>"
            f"<updated>{e.published.isoformat()}</updated>"
            f'<summary type="text">{escape(e.summary)}</summary></entry>\n'
        )
    parts.append("</feed>\n")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Document:
    body: bytes
    etag: str
    last_modified: str
    content_type: str


class Farm:
    """The feeds and their server: `await start()`, `urls()`, `tick()`, `await stop()`."""

    def __init__(
        self,
        *,
        feeds: int = 1000,
        latency: float = 0.05,
        host: str = "127.0.0.1",
        port: int = 0,
        hosts: int = 1,
    ) -> None:
        self.feeds = feeds
        self.hosts = hosts
        self.latency = latency
        self.generation = 0
        # False: as a server without validators, every answer a 200 with the whole document.
        self.validators = True
        self.requests = 0
        self.not_modified = 0
        self._host, self._port = host, port
        self._server: asyncio.Server | None = None
        self._extra: list[asyncio.Server] = []
        self._documents: list[Document] = []
        self.base_url = ""

    async def start(self) -> Farm:
        self._server = await asyncio.start_server(
            self._serve, self._host, self._port, backlog=2048, reuse_address=True
        )
        host, port = self._server.sockets[0].getsockname()[:2]
        self.base_url = f"http://{host}:{port}"
        # More hosts: more loopback addresses (all of 127/8 is loopback on Linux), same port.
        self._extra = [
            await asyncio.start_server(self._serve, f"127.0.0.{n}", port, backlog=2048)
            for n in range(2, self.hosts + 1)
        ]
        self._render_all()
        return self

    async def stop(self) -> None:
        for server in [self._server, *self._extra]:
            if server is not None:
                server.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(server.wait_closed(), 1)

    def urls(self) -> list[str]:
        """Feed i is on host 127.0.0.(1 + i % hosts)."""
        port = self.base_url.rpartition(":")[2]
        return [f"http://127.0.0.{1 + i % self.hosts}:{port}/feeds/{i}" for i in range(self.feeds)]

    def etags(self) -> list[str]:
        """The current ETag of each feed, in `urls()` order (a conditional client's validators)."""
        return [doc.etag for doc in self._documents]

    def tick(self) -> None:
        """Every feed gains ITEMS_PER_TICK new items (and a new ETag)."""
        self.generation += 1
        self._render_all()

    def _render_all(self) -> None:
        extra = self.generation * ITEMS_PER_TICK
        stamp = format_datetime(BASE_DATE + timedelta(days=self.generation), usegmt=True)
        self._documents = [
            Document(
                body=render(i, feed_count_items(i) + extra, self.base_url),
                etag=f'"{i}-{self.generation}"',
                last_modified=stamp,
                content_type="application/rss+xml" if i % 2 == 0 else "application/atom+xml",
            )
            for i in range(self.feeds)
        ]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                request_line, *lines = head.decode("latin-1").split("\r\n")
                method, target, _version = request_line.split(" ", 2)
                headers = {}
                for line in lines:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                if headers.get("content-length", "0") != "0":
                    await reader.readexactly(int(headers["content-length"]))
                status, extra, body = self._answer(method, target, headers)
                if self.latency:
                    await asyncio.sleep(self.latency)
                writer.write(_response(status, extra, body if method != "HEAD" else b""))
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, ValueError):
            return
        finally:
            writer.close()

    def _answer(
        self, method: str, target: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        self.requests += 1
        path = target.split("?", 1)[0]
        if path == "/tick" and method == "POST":
            self.tick()
            return 200, {"Content-Type": "text/plain"}, f"{self.generation}\n".encode()
        if path == "/urls":
            return 200, {"Content-Type": "text/plain"}, "\n".join(self.urls()).encode() + b"\n"
        prefix, _, number = path.rpartition("/")
        if prefix != "/feeds" or not number.isdigit() or int(number) >= self.feeds:
            return 404, {"Content-Type": "text/plain"}, b"not found\n"
        doc = self._documents[int(number)]
        if not self.validators:
            return 200, {"Content-Type": doc.content_type}, doc.body
        validators = {"ETag": doc.etag, "Last-Modified": doc.last_modified}
        if headers.get("if-none-match") == doc.etag or (
            "if-none-match" not in headers and headers.get("if-modified-since") == doc.last_modified
        ):
            self.not_modified += 1
            return 304, validators, b""
        return 200, {"Content-Type": doc.content_type, **validators}, doc.body


REASONS = {200: "OK", 304: "Not Modified", 404: "Not Found"}


def _response(status: int, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"]
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    if status != 304:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _main(args: argparse.Namespace) -> None:
    farm = await Farm(
        feeds=args.feeds,
        latency=args.latency_ms / 1000,
        host=args.host,
        port=args.port,
        hosts=args.hosts,
    ).start()
    print(farm.base_url, flush=True)
    try:
        await asyncio.Event().wait()  # until killed
    finally:
        await farm.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.farm", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument(
        "--hosts", type=int, default=1, help="spread feeds over 127.0.0.1..127.0.0.N"
    )
    parser.add_argument("--latency-ms", type=float, default=50.0, help="added to every response")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args))


if __name__ == "__main__":
    main()
