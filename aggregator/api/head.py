"""HEAD on every GET route: the GET's status and headers, without the body (RFC 9110 9.3.2).

FastAPI routes declared for GET answer HEAD with 405, which breaks link checkers, feed
readers probing a feed URL, and `curl -I`.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """Plain ASGI middleware: a HEAD request runs as a GET; body chunks are dropped."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] != "http.response.body":
                await send(message)  # the start, with Content-Length as the GET's
            elif not message.get("more_body", False):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.app({**scope, "method": "GET"}, receive, headers_only)
