"""Digest schedules read as cron(8) reads them, where APScheduler 3's own reading differs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aggregator.cron import CronError, cron_trigger, next_fire_after
from aggregator.errors import ConfigError
from aggregator.settings import load_settings

THURSDAY = datetime(2026, 11, 26, 12, tzinfo=UTC)


def fires(expression: str, count: int = 4, after: datetime = THURSDAY) -> list[str]:
    trigger = cron_trigger(expression, "UTC")
    out = []
    for _ in range(count):
        fire = next_fire_after(trigger, after)
        assert fire is not None
        out.append(fire.strftime("%a %d"))
        after = fire
    return out


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # APScheduler's from_crontab counts 0 as Monday: "1" fired on Tuesdays.
        ("0 8 * * 1", ["Mon 30", "Mon 07", "Mon 14", "Mon 21"]),
        ("0 8 * * 0", ["Sun 29", "Sun 06", "Sun 13", "Sun 20"]),
        ("0 8 * * 7", ["Sun 29", "Sun 06", "Sun 13", "Sun 20"]),  # refused before
        ("0 8 * * 1-5", ["Fri 27", "Mon 30", "Tue 01", "Wed 02"]),
        ("0 8 * * MON-FRI", ["Fri 27", "Mon 30", "Tue 01", "Wed 02"]),
        ("0 8 * * 5,6", ["Fri 27", "Sat 28", "Fri 04", "Sat 05"]),
        ("0 8 * * */2", ["Sat 28", "Sun 29", "Tue 01", "Thu 03"]),  # 0,2,4,6: Sun Tue Thu Sat
        ("0 8 * * 1-7/3", ["Sun 29", "Mon 30", "Thu 03", "Sun 06"]),  # Mon, Thu, Sun
    ],
)
def test_a_numeric_day_of_week_is_cron_s(expression: str, expected: list[str]) -> None:
    assert fires(expression) == expected


def test_a_day_of_month_and_a_day_of_week_both_given_fire_on_either() -> None:
    # cron: the 1st, the 15th and every Monday (APScheduler: only a Monday that is one).
    assert fires("0 8 1,15 * mon", 6) == [
        "Mon 30",
        "Tue 01",
        "Mon 07",
        "Mon 14",
        "Tue 15",
        "Mon 21",
    ]
    # A "*"-started field is unrestricted, as in cron: both must match.
    assert fires("0 8 */2 * 1", 3) == ["Mon 07", "Mon 21", "Mon 11"]  # odd days, Mondays


def test_a_time_repeated_when_the_clocks_go_back_fires_once() -> None:
    # Brussels goes back from 03:00 CEST to 02:00 CET on 31 October 2027: 02:30 comes twice.
    trigger = cron_trigger("30 2 * * *", "Europe/Brussels")
    first = next_fire_after(trigger, datetime(2027, 10, 30, 12, tzinfo=UTC))
    assert first is not None and first.astimezone(UTC) == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
    second = next_fire_after(trigger, first)
    assert second is not None
    assert second.astimezone(UTC) == datetime(2027, 11, 1, 1, 30, tzinfo=UTC)  # the next night
    # Also from a moment just after the first, as a recorded window end is.
    later = next_fire_after(trigger, datetime(2027, 10, 31, 0, 30, 7, tzinfo=UTC))
    assert later == second
    # Going forward, 02:30 does not exist: it fires once, at 03:30 summer time.
    spring = next_fire_after(trigger, datetime(2027, 3, 27, 12, tzinfo=UTC))
    assert spring is not None
    in_brussels = spring.astimezone(UTC).astimezone(ZoneInfo("Europe/Brussels"))
    assert in_brussels.strftime("%d %H:%M") == "28 03:30"


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("0 8 * * 8", "day of week '8' is not 0-7"),
        ("0 8 * * 5-1", "runs backwards"),
        ("0 8 * * x", "day of week 'x' is not a number"),
        ("0 8 * *", "4 fields, expected 5"),
        ("@reboot", "1 field, expected 5"),  # a nickname without a time of day
        ("61 8 * * *", "higher than the maximum value"),
    ],
)
def test_what_cron_refuses_is_refused(expression: str, problem: str) -> None:
    with pytest.raises(CronError, match=problem):
        cron_trigger(expression, "UTC")


def test_the_config_takes_cron_s_sunday_seven_and_names_a_bad_day(tmp_path: Path) -> None:
    (tmp_path / "aggregator.toml").write_text(
        '[digest.profiles.weekly]\ncron = "0 8 * * 7"\n', encoding="utf-8"
    )
    assert load_settings(tmp_path, {}).digest.profiles[0].cron == "0 8 * * 7"
    (tmp_path / "aggregator.toml").write_text(
        '[digest.profiles.weekly]\ncron = "0 8 * * 9"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="day of week '9' is not 0-7"):
        load_settings(tmp_path, {})


def test_the_service_s_weekly_digest_goes_out_on_the_monday() -> None:
    from aggregator.schedule import cron_trigger as profile_trigger
    from aggregator.schedule import digest_due
    from tests.support_schedule import digest_profile

    weekly = digest_profile("0 8 * * 1", name="weekly")
    sunday = datetime(2026, 11, 29, 12, tzinfo=UTC)
    monday_0800 = datetime(2026, 11, 30, 7, tzinfo=UTC)  # 08:00 in Brussels
    assert digest_due(profile_trigger(weekly), since=sunday, now=monday_0800)


def test_every_time_of_a_repeated_hour_fires_once() -> None:
    trigger = cron_trigger("0,30 2 * * *", "Europe/Brussels")
    fire = datetime(2026, 10, 24, 12, tzinfo=UTC)
    seen = []
    for _ in range(4):
        fire_at = next_fire_after(trigger, fire)
        assert fire_at is not None
        fire = fire_at
        seen.append(fire.astimezone(UTC).strftime("%d %H:%M"))
    # 02:00 and 02:30 summer time on the 25th, then the 26th: not 02:00 and 02:30 again.
    assert seen == ["25 00:00", "25 00:30", "26 01:00", "26 01:30"]


def test_a_schedule_that_never_fires_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "aggregator.toml").write_text(
        '[digest.profiles.never]\ncron = "0 8 31 2 *"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="the schedule never fires"):
        load_settings(tmp_path, {})


def test_a_never_firing_branch_of_a_day_or_weekday_schedule_is_left_out() -> None:
    # "30 February, or any Monday of February": Mondays in February only.
    assert fires("0 0 30 2 mon", 2) == ["Mon 01", "Mon 08"]


@pytest.mark.parametrize(
    ("nickname", "expected"),
    [
        ("@daily", ["Fri 27", "Sat 28", "Sun 29", "Mon 30"]),
        ("@midnight", ["Fri 27", "Sat 28", "Sun 29", "Mon 30"]),
        ("@weekly", ["Sun 29", "Sun 06", "Sun 13", "Sun 20"]),
        ("@monthly", ["Tue 01", "Fri 01", "Mon 01", "Mon 01"]),
        ("@hourly", ["Thu 26", "Thu 26", "Thu 26", "Thu 26"]),
    ],
)
def test_cron_s_nicknames_are_read(nickname: str, expected: list[str]) -> None:
    # cron(8) reads them; "@daily" was refused as "1 field".
    assert fires(nickname) == expected


def test_a_nickname_is_a_valid_profile_schedule(tmp_path: Path) -> None:
    (tmp_path / "aggregator.toml").write_text('[digest.profiles.daily]\ncron = "@weekly"\n')
    settings = load_settings(tmp_path, {})
    (daily,) = [p for p in settings.digest.profiles if p.name == "daily"]
    assert daily.cron == "@weekly"
