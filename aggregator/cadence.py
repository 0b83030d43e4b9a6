"""When to fetch a source next. Pure: the caller passes the clock and the randomness.

The configured interval is the starting point. It is
- adapted to the source's posting rhythm (a source that posts every few days is not asked
  every hour; one that posts hourly is asked as often as configured), clamped between the
  `schedule.min_interval` and `schedule.max_interval` settings;
- never earlier than the server allows: Cache-Control max-age / Expires, an RSS <ttl>, and a
  Retry-After all move the next fetch later, never earlier;
- after failures, backed off exponentially with jitter (so a fleet of failing sources does
  not retry in lock-step), capped at `schedule.max_backoff`: the first retry comes no sooner
  than the interval (a failure never makes a source fetched more often than it is when it
  answers), and no retry sooner than `schedule.min_interval`. A failing source is never
  given up on: it stays due at the cap and stays visible in health.

No wait is longer than `LONGEST_WAIT`, whatever the policy or the source says: the settings
refuse longer intervals and backoffs (settings/checks.py), and this module clamps anyway, so
that no policy built elsewhere can make `now + wait` overflow a datetime and fail a refresh.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

# A year: the longest interval, backoff or server-asked delay the scheduler will wait. Also
# the settings' maximum for those durations. Well inside a datetime's range (year 9999).
LONGEST_WAIT = timedelta(days=365)


@dataclass(frozen=True, slots=True, kw_only=True)
class CadencePolicy:
    min_interval: timedelta = timedelta(minutes=5)
    max_interval: timedelta = timedelta(days=1)
    max_backoff: timedelta = timedelta(hours=12)

    def bounded(self) -> CadencePolicy:
        """The policy with every duration at most `LONGEST_WAIT`."""
        return CadencePolicy(
            min_interval=min(self.min_interval, LONGEST_WAIT),
            max_interval=min(self.max_interval, LONGEST_WAIT),
            max_backoff=min(self.max_backoff, LONGEST_WAIT),
        )


def _after(now: datetime, wait: timedelta) -> datetime:
    """`now + wait`, the wait at most `LONGEST_WAIT`; a clock set near year 9999 gives the
    last representable time rather than an OverflowError."""
    try:
        return now + min(wait, LONGEST_WAIT)
    except OverflowError:
        return datetime.max.replace(tzinfo=now.tzinfo)


def posting_interval(published: Sequence[datetime]) -> timedelta | None:
    """The median gap between recent posts, or None when there are too few to tell."""
    stamps = sorted(set(published), reverse=True)[:20]
    if len(stamps) < 4:
        return None
    gaps = sorted(newer - older for newer, older in pairwise(stamps))
    return gaps[len(gaps) // 2]


def next_fetch_after_success(
    *,
    now: datetime,
    interval: timedelta,
    policy: CadencePolicy,
    rhythm: timedelta | None = None,
    fresh_until: datetime | None = None,
    ttl: timedelta | None = None,
) -> datetime:
    """The next fetch time after a fetch that succeeded (new items or not modified)."""
    policy = policy.bounded()  # every wait below ends clamped to its max_interval
    wait = interval
    if rhythm is not None and rhythm > interval:
        # Half the posting gap keeps the expected delay for a new post under the gap.
        wait = max(interval, rhythm / 2)
    wait = max(policy.min_interval, min(wait, policy.max_interval))
    # The server's own word only ever delays us; it never makes us fetch more often.
    if ttl is not None:
        wait = max(wait, min(ttl, policy.max_interval))
    when = _after(now, wait)
    if fresh_until is not None and fresh_until > when:
        when = min(fresh_until, _after(now, policy.max_interval))
    return when


def next_fetch_after_failure(
    *,
    now: datetime,
    interval: timedelta,
    failures: int,
    policy: CadencePolicy,
    retry_at: datetime | None = None,
    rng: random.Random | None = None,
) -> datetime:
    """The next fetch time after the `failures`-th consecutive failure (1 for the first)."""
    rng = rng or random.Random()
    # Bounded first: a year times 2**16 is ~24 million days, inside a timedelta's range.
    policy = policy.bounded()
    # The shortest wait: the interval (the cap when that is shorter: a daily source that
    # failed is tried again within max_backoff), never below min_interval, which holds
    # "whatever the source asks" and so whatever it answers.
    base = max(policy.min_interval, min(interval, policy.max_backoff))
    cap = max(policy.max_backoff, base)  # a min_interval above max_backoff wins
    exponent = min(max(failures - 1, 0), 16)  # 2**16 intervals is beyond any cap anyway
    backoff = base * (1 << exponent)
    # Jitter above the backoff, up to half of it more: [interval, 1.5 interval] after the
    # first failure, then twice that at each. Near the cap, in its top third instead: a
    # fleet that failed together (the network down) would otherwise retry in lock-step once
    # capped. Never below the interval, unless that is longer than the cap anyway.
    floor = base if interval <= policy.max_backoff else max(policy.min_interval, cap * 2 / 3)
    high = min(backoff * 1.5, cap)
    low = max(floor, min(backoff, high * 2 / 3))
    wait = low + (high - low) * rng.random()
    when = _after(now, wait)
    if retry_at is not None and retry_at > when:
        # Honour Retry-After, but not beyond the longest wait we'd choose ourselves.
        longest: timedelta = max(policy.max_backoff, policy.max_interval)
        when = min(retry_at, _after(now, longest))
    return when
