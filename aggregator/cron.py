"""Cron expressions read as cron(8) reads them, on APScheduler 3's triggers.

APScheduler 3's `CronTrigger.from_crontab` departs from cron in two ways that move a digest
to another day (agronholm/apscheduler#286, not fixed in 3.x):

- a numeric day of week counts from Monday (its 0 is Monday), where cron's 0 and 7 are
  Sunday: "0 8 * * 1" went out on Tuesdays, "1-5" from Tuesday to Saturday;
- a restricted day of month and day of week must both match, where cron fires when either
  does: "0 8 1,15 * mon" is the 1st, the 15th and every Monday.

Here the day-of-week field is turned into day names, which APScheduler reads as cron does,
and the two restricted day fields become two triggers, either of which fires. And a time of
day repeated when the clocks go back runs once, as in cron (`next_fire_after`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

# cron's day numbers: 0 (and 7) Sunday, 1 Monday, ... 6 Saturday.
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# APScheduler lists days from Monday; any order is read alike, this one reads naturally.
_WEEK_ORDER = (1, 2, 3, 4, 5, 6, 0)


class CronError(ValueError):
    """A cron expression cron(8) would refuse."""


# The nicknames cron(8) reads for a whole expression (not @reboot: no time of day).
NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def expanded(expression: str) -> str:
    """The five fields a nickname stands for ("@daily": "0 0 * * *"); others as written."""
    return NICKNAMES.get(expression.strip().lower(), expression)


def cron_trigger(expression: str, timezone: str | tzinfo) -> BaseTrigger:
    """The trigger of a 5-field cron expression (or a nickname such as "@daily") in
    `timezone`; CronError when it is wrong."""
    fields = expanded(expression).split()
    if len(fields) != 5:
        raise CronError(f"{len(fields)} field{'' if len(fields) == 1 else 's'}, expected 5")
    minute, hour, day, month, weekday = fields
    days = _weekday_names(weekday)

    def trigger(day: str, days: str) -> CronTrigger:
        return CronTrigger(
            minute=minute, hour=hour, day=day, month=month, day_of_week=days, timezone=timezone
        )

    try:
        # cron's rule: a field that starts with "*" is unrestricted ("*/2" included).
        if not day.startswith("*") and not weekday.startswith("*"):
            # A branch that never fires (30 February) is left out: searching it to the
            # year 9999 took a quarter of a second at every look at the schedule.
            now = datetime.now(UTC)
            branches = [trigger(day, "*"), trigger("*", days)]
            live = [b for b in branches if b.get_next_fire_time(None, now) is not None]
            return OrTrigger(live or branches) if len(live) != 1 else live[0]
        return trigger(day, days)
    except ValueError as exc:
        raise CronError(str(exc)) from exc


def _weekday_names(field: str) -> str:
    """cron's day-of-week field as the day names it means ("1-5" -> "mon,tue,wed,thu,fri")."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.split(","):
        base, slash, step_text = part.partition("/")
        step = _number(step_text, "step") if slash else 1
        if step < 1:
            raise CronError(f"day-of-week step {step_text!r} must be at least 1")
        if base == "*":
            first, last = 0, 6
        elif "-" in base:
            start, _, end = base.partition("-")
            first, last = _day(start), _day(end)  # "1-7": Monday to Sunday
            if first > last:
                raise CronError(f"day-of-week range {base!r} runs backwards")
        else:
            first = _day(base)
            last = 7 if slash else first  # "1/2": from Monday on, every other day
        days.update(n % 7 for n in range(first, last + 1, step))
    return ",".join(_DAY_NAMES[n] for n in _WEEK_ORDER if n in days)


def _day(text: str) -> int:
    word = text.strip().lower()
    if word in _DAY_NAMES:
        return _DAY_NAMES.index(word)
    number = _number(word, "day of week")
    if not 0 <= number <= 7:
        raise CronError(f"day of week {text!r} is not 0-7 (0 and 7: Sunday) or a day name")
    return number


def _number(text: str, what: str) -> int:
    if not text.isdigit():
        raise CronError(f"{what} {text!r} is not a number")
    return int(text)


def _zone_of(trigger: BaseTrigger) -> tzinfo | None:
    if isinstance(trigger, CronTrigger):
        zone: tzinfo = trigger.timezone
        return zone
    if isinstance(trigger, OrTrigger) and trigger.triggers:
        return _zone_of(trigger.triggers[0])
    return None


def next_fire_after(trigger: BaseTrigger, after: datetime) -> datetime | None:
    """The first fire time strictly after `after` (None: the schedule never fires again).

    One whose wall-clock time is not after `after`'s is skipped: it is a time of day seen a
    second time when the clocks went back ("30 2 * * *" in Brussels fires at 02:30 CEST and
    again at 02:30 CET on the last Sunday of October), which cron runs once.
    """
    fire: datetime | None = trigger.get_next_fire_time(None, _just_after(after))
    zone = _zone_of(trigger)
    if zone is None:
        return fire
    # Every time of the repeated hour is skipped ("0,30 2 * * *" has two), at most an hour
    # of them: a schedule fires at most once a minute.
    for _ in range(_MOST_IN_AN_HOUR):
        if fire is None or _wall(fire, zone) > _wall(after, zone):
            break
        fire = trigger.get_next_fire_time(None, _just_after(fire))
    return fire


_MOST_IN_AN_HOUR = 61


def check_fires(trigger: BaseTrigger, now: datetime) -> None:
    """CronError for a schedule that never fires (31 February): its digest would never go
    out, or take the whole archive when run by hand."""
    if next_fire_after(trigger, now) is None:
        raise CronError("the schedule never fires (no such date)")


def _just_after(moment: datetime) -> datetime:
    # In UTC: arithmetic on a zoned datetime is wall-clock arithmetic, and loses the fold
    # that tells the two 02:30 of a night when the clocks go back apart.
    return moment.astimezone(UTC) + timedelta(microseconds=1)


def _wall(moment: datetime, zone: tzinfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)
