"""The JSON API, feeds out and the digest web page (FastAPI). Build it with `create_app`."""

from __future__ import annotations

from aggregator.api.app import create_app

__all__ = ["create_app"]
