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
    backoff = HOUR * 2 ** (failures - 1)
    if backoff * 1.5 <= POLICY.max_backoff:  # up to half of the backoff more
        assert all(backoff <= w <= backoff * 1.5 for w in waits)
    else:  # capped: in the cap's top third, still jittered
        assert all(POLICY.max_backoff * 2 / 3 <= w <= POLICY.max_backoff for w in waits)
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


@pytest.mark.parametrize(
    ("interval", "floor"),
    [
        (timedelta(minutes=1), timedelta(minutes=1)),  # the audit's: asked again 45 s later
        (timedelta(minutes=2), timedelta(minutes=2)),  # ... and 99 s later
        (timedelta(seconds=20), timedelta(minutes=1)),  # below min_interval: min_interval
    ],
)
def test_the_first_retry_is_no_sooner_than_the_interval_nor_min_interval(
    interval: timedelta, floor: timedelta
) -> None:
    policy = CadencePolicy(
        min_interval=timedelta(minutes=1),
        max_interval=timedelta(days=1),
        max_backoff=timedelta(minutes=10),
    )
    rng = random.Random(3)
    waits = [
        next_fetch_after_failure(now=NOW, interval=interval, failures=1, policy=policy, rng=rng)
        - NOW
        for _ in range(200)
    ]
    assert all(floor <= w <= floor * 1.5 for w in waits), (min(waits), max(waits))
    assert len(set(waits)) > 1


def test_an_interval_beyond_the_cap_is_retried_within_the_cap_still_jittered() -> None:
    rng = random.Random(5)
    waits = {
        next_fetch_after_failure(
            now=NOW, interval=timedelta(days=1), failures=1, policy=POLICY, rng=rng
        )
        - NOW
        for _ in range(50)
    }
    assert all(POLICY.max_backoff * 2 / 3 <= w <= POLICY.max_backoff for w in waits)
    assert len(waits) > 1
