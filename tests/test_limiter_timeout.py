"""A limiter that stops answering (a host dropping packets: the TCP connection is taken, no
reply ever comes) is a LimiterError after the client's timeout, which the worker reports as
an outage; without a timeout, the worker's thread waited for ever."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from aggregator.hostslots import HostSlots, LimiterError
from aggregator.worker import LIMITER_TIMEOUT_SECONDS, limiter_client
from tests.support_proxy import SilentServer


@pytest.fixture()
def silent_server() -> Iterator[int]:
    """Accepts connections, never answers."""
    with SilentServer() as port:
        yield port


def test_a_silent_limiter_is_a_limiter_error_after_the_timeout(silent_server: int) -> None:
    client = limiter_client(f"redis://127.0.0.1:{silent_server}/0", timeout=0.5)
    slots = HostSlots(
        client, prefix="t", limit=1, hold=timedelta(seconds=5), wait=timedelta(seconds=1)
    )
    with pytest.raises(LimiterError, match="Timeout"), slots.hold("https://example.org/feed"):
        pass
    client.close()


def test_the_worker_limiter_client_has_a_timeout() -> None:
    kwargs = limiter_client("redis://127.0.0.1:6379/0").connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == LIMITER_TIMEOUT_SECONDS
