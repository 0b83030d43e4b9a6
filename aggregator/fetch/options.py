"""Settings of the fetch stage: one frozen value, built once by the caller."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchOptions:
    # The caller appends a contact address: "aggregator/0.1 (+mailto:x@y)". Sites that block
    # anonymous clients often let through one that says who to write to.
    user_agent: str = "aggregator/0.1"
    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # between two reads of the socket, not for the whole body
    total_timeout: float = 60.0  # one attempt, body included; a trickling server cannot hold us
    max_connections: int = 50  # requests in flight over all hosts
    max_per_host: int = 6  # requests in flight to one host: be polite to small sites
    retries: int = 2  # extra attempts after a connection error, a timeout or a 5xx
    backoff_base: float = 0.5  # seconds; attempt n waits uniform(0, base * 2**n): full jitter
    max_bytes: int = 10 * 1024 * 1024  # decompressed body cap, checked while streaming

    def __post_init__(self) -> None:
        # Fail at startup, not on the first fetch: these would deadlock or never finish.
        for name in ("connect_timeout", "read_timeout", "total_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"FetchOptions.{name} must be > 0")
        for name in ("max_connections", "max_per_host", "max_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"FetchOptions.{name} must be >= 1")
        if self.retries < 0 or self.backoff_base < 0:
            raise ValueError("FetchOptions.retries and backoff_base must be >= 0")
