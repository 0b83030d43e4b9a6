"""When a source is fetched next: interval, posting rhythm, cache headers, backoff."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.cadence import (
    LONGEST_WAIT,
    CadencePolicy,
    next_fetch_after_failure,
    next_fetch_after_success,
    posting_interval,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
POLICY = CadencePolicy(
    min_interval=timedelta(minutes=5),
    max_interval=timedelta(days=1),
    max_backoff=timedelta(hours=12),
)
HOUR = timedelta(hours=1)


def test_configured_interval_when_nothing_else_is_known() -> None:
    assert next_fetch_after_success(now=NOW, interval=HOUR, policy=POLICY) == NOW + HOUR


def test_interval_is_clamped_between_settings() -> None:
    assert next_fetch_after_success(now=NOW, interval=timedelta(seconds=10), policy=POLICY) == (
        NOW + POLICY.min_interval
    )
    assert next_fetch_after_success(now=NOW, interval=timedelta(days=9), policy=POLICY) == (
        NOW + POLICY.max_interval
    )


def test_slow_posting_rhythm_stretches_the_interval_but_not_past_the_cap() -> None:
    every_two_days = [NOW - timedelta(days=2 * k) for k in range(8)]
    rhythm = posting_interval(every_two_days)
    assert rhythm == timedelta(days=2)
    when = next_fetch_after_success(now=NOW, interval=HOUR, policy=POLICY, rhythm=rhythm)
    assert when == NOW + POLICY.max_interval  # half of 2 days, clamped to 1 day
    daily = [NOW - timedelta(hours=6 * k) for k in range(8)]
    assert next_fetch_after_success(
        now=NOW, interval=HOUR, policy=POLICY, rhythm=posting_interval(daily)
    ) == NOW + timedelta(hours=3)


def test_fast_rhythm_never_fetches_more_often_than_configured() -> None:
    busy = [NOW - timedelta(minutes=2 * k) for k in range(10)]
    assert (
        next_fetch_after_success(
            now=NOW, interval=HOUR, policy=POLICY, rhythm=posting_interval(busy)
        )
        == NOW + HOUR
    )


def test_too_few_posts_give_no_rhythm() -> None:
    assert posting_interval([NOW, NOW - HOUR, NOW - 2 * HOUR]) is None


def test_cache_headers_and_ttl_only_delay() -> None:
    later = NOW + timedelta(hours=5)
    assert (
        next_fetch_after_success(now=NOW, interval=HOUR, policy=POLICY, fresh_until=later) == later
    )
    sooner = NOW + timedelta(minutes=10)
    assert next_fetch_after_success(now=NOW, interval=HOUR, policy=POLICY, fresh_until=sooner) == (
        NOW + HOUR
    )
    assert next_fetch_after_success(
        now=NOW, interval=HOUR, policy=POLICY, ttl=timedelta(hours=2)
    ) == NOW + timedelta(hours=2)


@pytest.mark.parametrize("failures", [1, 2, 3, 5, 8, 30])
def test_backoff_grows_with_jitter_and_is_capped(failures: int) -> None:
    rng = random.Random(7)
    waits = [
        next_fetch_after_failure(now=NOW, interval=HOUR, failures=failures, policy=POLICY, rng=rng)
        - NOW
        for _ in range(50)
    ]
    full = min(HOUR * 2 ** (failures - 1), POLICY.max_backoff)
    assert all(full / 2 <= w <= full for w in waits)
    assert len(set(waits)) > 1  # jittered, not lock-step


def test_retry_after_is_honoured() -> None:
    retry_at = NOW + timedelta(hours=3)
    when = next_fetch_after_failure(
        now=NOW, interval=timedelta(minutes=5), failures=1, policy=POLICY, retry_at=retry_at
    )
    assert when == retry_at


# The settings refuse durations beyond a year; a policy built any other way must still never
# overflow the date arithmetic (it was "OverflowError: date value out of range" mid-refresh).
ABSURD = CadencePolicy(
    min_interval=timedelta(minutes=5),
    max_interval=timedelta(days=3_000_000),
    max_backoff=timedelta(days=10_000_000),
)
FOREVER = datetime(9999, 12, 31, tzinfo=UTC)


@pytest.mark.parametrize("failures", [1, 2, 17, 1_000])
def test_absurd_durations_wait_at_most_a_year_after_a_failure(failures: int) -> None:
    when = next_fetch_after_failure(
        now=NOW,
        interval=timedelta(days=5_000_000),
        failures=failures,
        policy=ABSURD,
        retry_at=FOREVER,
        rng=random.Random(1),
    )
    assert NOW < when <= NOW + LONGEST_WAIT


def test_absurd_durations_wait_at_most_a_year_after_a_success() -> None:
    when = next_fetch_after_success(
        now=NOW,
        interval=timedelta(days=5_000_000),
        policy=ABSURD,
        rhythm=timedelta(days=900_000_000),
        fresh_until=FOREVER,
        ttl=timedelta(days=900_000_000),
    )
    assert when == NOW + LONGEST_WAIT


def test_a_clock_at_the_end_of_time_gives_the_last_time_not_an_error() -> None:
    end = datetime(9999, 12, 1, tzinfo=UTC)
    assert next_fetch_after_success(now=end, interval=HOUR, policy=ABSURD).year == 9999
    when = next_fetch_after_failure(now=end, interval=HOUR, failures=40, policy=ABSURD)
    assert when == datetime.max.replace(tzinfo=UTC)
