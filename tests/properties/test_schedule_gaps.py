"""Backup rules judge a schedule by the shortest and longest time between its runs. Those are
worked out from the cron fields (checker.k8s.schedule_gaps) rather than by simulating runs;
they must agree with cronsim's own simulation of the same schedule."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from cronsim import CronSim
from hypothesis import given
from hypothesis import strategies as st

from checker.k8s import (
    _CALENDAR_START,
    _days_period,
    _days_with_runs,
    _gaps_within_a_day,
    schedule_gaps,
)

from .profile import examples

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


@pytest.mark.parametrize(("expression", "shortest", "longest"), [
    ("0 2 * * *", DAY, DAY),
    ("@daily", DAY, DAY),
    ("@every 90m", 1.5 * HOUR, 1.5 * HOUR),
    ("CRON_TZ=Europe/Paris 0 * * * *", HOUR, HOUR),
    ("*/15 * * * *", dt.timedelta(minutes=15), dt.timedelta(minutes=15)),
    ("0 1,2 * * *", HOUR, 23 * HOUR),
    ("0 3 * * 1-5", DAY, 3 * DAY),  # a weekend without a run
    ("0 9-17 * * MON-FRI", HOUR, 2 * DAY + 16 * HOUR),
    ("0 0 31 * *", 31 * DAY, 61 * DAY),  # months without a 31st
    ("0 0 1 1 *", 365 * DAY, 366 * DAY),
    ("0 0 L * *", 28 * DAY, 31 * DAY),
    ("0 0 * * 5L", 28 * DAY, 35 * DAY),
    ("0 0 * * MON#1", 28 * DAY, 35 * DAY),
    ("0 0 LW * *", 28 * DAY, 33 * DAY),
    ("0 0 13 * 5", DAY, 7 * DAY),  # the 13th or a Friday
    ("0 0 * 6 1", 7 * DAY, 343 * DAY),  # Mondays of June: weekday and month together
    ("0 0 */2 * 1", 7 * DAY, 21 * DAY),  # odd days that are Mondays
    ("*/10 */5 * * * *", dt.timedelta(seconds=10), dt.timedelta(seconds=250)),
    ("0 0 29 2 *", 1461 * DAY, 1461 * DAY),  # leap days: one in four years
    # Reached only over 28 years (weekday and date together) and across the period's end;
    # the figures are cronsim's own simulation over 2026-2099.
    ("0 0 LW */3 *", 87 * DAY, 94 * DAY),  # a quarter's last business day
    ("0 0 LW 12 *", 364 * DAY, 368 * DAY),
    ("0 0 LW 6,12 *", 179 * DAY, 186 * DAY),
    ("0 0 * * 1#3,2#1", 8 * DAY, 22 * DAY),
    ("0 0 * * 0#5,1#5", DAY, 118 * DAY),
    ("0 0,12 * 2 MON#5", 12 * HOUR, 10226 * DAY + 12 * HOUR),  # one day in 28 years
    ("0 0 */7 2,9 5L", 511 * DAY, 1827 * DAY),
])
def test_known_schedules(expression: str, shortest: dt.timedelta,
                         longest: dt.timedelta) -> None:
    gaps = schedule_gaps(expression)
    assert gaps is not None
    assert (gaps.shortest, gaps.longest) == (shortest, longest)


@pytest.mark.parametrize("expression", ["0 25 * * *", "0 0 30 2 *", "nonsense", "", None, 7,
                                        "@every soon",
                                        "0 0 LW * */7"])  # (a Sunday that is a weekday: never)
def test_unreadable_schedules(expression: object) -> None:
    assert schedule_gaps(expression) is None


def _field(low: int, high: int) -> st.SearchStrategy[str]:
    value = st.integers(low, high)
    return st.one_of(
        st.just("*"), value.map(str),
        st.lists(value, min_size=1, max_size=4, unique=True).map(
            lambda v: ",".join(map(str, v))),
        st.tuples(value, value).map(lambda p: f"{min(p)}-{max(p)}"),
        st.integers(2, max(2, high // 2)).map(lambda step: f"*/{step}"))


DAYS_OF_MONTH = st.one_of(_field(1, 31), st.sampled_from(["L", "LW", "1,L"]))
WEEKDAYS = st.one_of(_field(0, 7), st.sampled_from(["5L", "MON#1", "FRI#3", "SUN#5"]))


@examples(100)
@given(minutes=_field(0, 59), hours=_field(0, 23), seconds=st.one_of(
    st.just(None), _field(0, 59)))
def test_runs_of_a_day_as_simulated(minutes: str, hours: str, seconds: str | None) -> None:
    """First run, last run and the gaps between runs of a day match the sorted product of
    the fields as cronsim parses them."""
    expression = f"{minutes} {hours} * * *" if seconds is None else \
        f"{seconds} {minutes} {hours} * * *"
    sim = CronSim(expression, dt.datetime(2026, 1, 1))
    times = sorted(3600 * h + 60 * m + s
                   for h, m, s in itertools.product(sim.hours, sim.minutes, sim.seconds))
    first, last, within = _gaps_within_a_day(sim.hours, sim.minutes, sim.seconds)
    assert (first, last) == (times[0], times[-1])
    differences = [b - a for a, b in itertools.pairwise(times)]
    assert within == ((min(differences), max(differences)) if differences else None)


@examples(60)
@given(days=DAYS_OF_MONTH, months=_field(1, 12), weekdays=WEEKDAYS)
def test_days_with_runs_as_simulated(days: str, months: str, weekdays: str) -> None:
    """The days read off the calendar are the days cronsim runs a midnight job on, over
    the same four years."""
    expression = f"0 0 {days} {months} {weekdays}"
    try:
        sim = CronSim(expression, dt.datetime(2025, 12, 31, 23, 59))  # runs after this
    except Exception:  # noqa: BLE001 - cronsim refuses some combinations: nothing to compare
        return
    end = dt.datetime(2030, 1, 1)
    simulated = [run.date().toordinal()
                 for run in itertools.takewhile(lambda run: run < end, sim)]
    assert _days_with_runs(CronSim(expression, dt.datetime(2026, 1, 1)), 1461) == simulated
    assert _CALENDAR_START == dt.date(2026, 1, 1)


@examples(60)
@given(minutes=_field(0, 59), hours=_field(0, 23), days=DAYS_OF_MONTH,
       months=_field(1, 12), weekdays=WEEKDAYS)
def test_simulated_gaps_lie_within_the_worked_out_ones(
        minutes: str, hours: str, days: str, months: str, weekdays: str) -> None:
    """Every gap between 300 simulated runs lies between the shortest and the longest gap;
    both bounds are reached when the runs cover a whole cycle of the days with runs."""
    expression = f"{minutes} {hours} {days} {months} {weekdays}"
    try:
        runs = list(itertools.islice(CronSim(expression, dt.datetime(2026, 1, 1)), 300))
    except Exception:  # noqa: BLE001 - an expression cronsim refuses is unreadable here too
        assert schedule_gaps(expression) is None
        return
    gaps = schedule_gaps(expression)
    assert gaps is not None
    simulated = [b - a for a, b in itertools.pairwise(runs)]
    if simulated:
        assert gaps.shortest <= min(simulated)
        assert max(simulated) <= gaps.longest
    period = _days_period(CronSim(expression, dt.datetime(2026, 1, 1)))
    if len(runs) == 300 and runs[-1] - runs[0] >= dt.timedelta(days=period + 1):
        assert (gaps.shortest, gaps.longest) == (min(simulated), max(simulated))
