"""Schedules: intervals and cron expressions, refused at config load when wrong; backoff."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from deskmail.config.errors import ConfigError
from deskmail.config.loader import load_config
from deskmail.config.schedule import Cron, Interval, parse_schedule
from deskmail.daemon.backoff import Backoff
from deskmail.daemon.schedule import JITTER_MAX, seconds_until_next

MONDAY_NOON = datetime(2026, 11, 23, 12, 0, 0)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("2d", 172800), (" 90s ", 90)],
)
def test_intervals(text: str, seconds: int) -> None:
    schedule = parse_schedule(text)
    assert isinstance(schedule, Interval)
    assert schedule.seconds == seconds
    assert schedule.next_after(MONDAY_NOON) == MONDAY_NOON + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("*/10 * * * *", MONDAY_NOON, datetime(2026, 11, 23, 12, 10)),
        ("0 2 * * *", MONDAY_NOON, datetime(2026, 11, 24, 2, 0)),
        ("30 8 * * mon-fri", datetime(2026, 11, 27, 9, 0), datetime(2026, 11, 30, 8, 30)),
        ("0 0 1 * *", MONDAY_NOON, datetime(2026, 12, 1, 0, 0)),
    ],
)
def test_cron(expression: str, after: datetime, expected: datetime) -> None:
    schedule = parse_schedule(expression)
    assert isinstance(schedule, Cron)
    assert schedule.next_after(after) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("300", 'needs a unit: "300s"'),
        ("5 minutes", "a cron expression has 5 fields"),
        ("every tuesday", "a cron expression has 5 fields"),
        ("5min", "must be an interval"),
        ("0s", "at least 1 second"),
        ("61 * * * *", "bad minute"),
        ("0 0 30 2 *", "bad day-of-month"),
        ("* * * * * *", "5 fields"),
    ],
)
def test_bad_schedules_are_refused_in_plain_words(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_schedule(text)


def test_bad_schedule_is_refused_at_config_load_with_its_key(tmp_path: Path) -> None:
    config = tmp_path / "deskmail.toml"
    config.write_text(
        '[[jobs]]\nname = "Support"\nprotocol = "maildir"\npath = "mail"\nschedule = "5 minutes"\n',
        "utf-8",
    )
    with pytest.raises(ConfigError) as refused:
        load_config(config)
    assert refused.value.key == 'jobs[0] ("Support").schedule'
    assert "cron expression has 5 fields" in refused.value.problem
    assert str(config) in str(refused.value)


def test_next_run_keeps_the_pace_from_the_last_start_with_a_little_jitter() -> None:
    started = datetime.now() - timedelta(seconds=10)
    delays = [
        seconds_until_next(parse_schedule("1m"), started, random.Random(n)) for n in range(50)
    ]
    assert all(49 <= delay <= 50 + 6 + 0.5 for delay in delays)  # 60 - 10, plus up to 10%
    assert len({round(delay, 3) for delay in delays}) > 1
    overdue = seconds_until_next(parse_schedule("5s"), started - timedelta(hours=1))
    assert overdue <= 0.5 + 0.01
    long = seconds_until_next(parse_schedule("1d"), datetime.now(), random.Random(1))
    assert 86400 - 1 <= long <= 86400 + JITTER_MAX


def test_backoff_grows_to_the_cap_and_resets_on_success() -> None:
    backoff = Backoff(base=5, cap=80, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [5, 10, 20, 40, 80, 80, 80, 80]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert delays[:5] == sorted(delays[:5])  # each wait at least the one before
    assert backoff.failures == 8
    backoff.reset()
    assert backoff.next_delay() <= 5


def test_backoff_jitter_differs_between_instances() -> None:
    firsts = {Backoff(10, 100).next_delay() for _ in range(20)}
    assert len(firsts) > 1
    assert all(5 <= delay <= 10 for delay in firsts)
