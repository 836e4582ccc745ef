"""The yard conservation check (sim.conservation) on synthetic records."""
from __future__ import annotations

import numpy as np
import pytest

from sim.conservation import conservation_problems, daily_balance


def synthetic_yard(days: int = 10, seed: int = 3):
    """Trains bring containers; each container leaves after its own dwell on some later
    departure; the stock at each day end is counted container by container (independently of
    the event counts)."""
    rng = np.random.default_rng(seed)
    arrivals = np.sort(rng.uniform(0, days * 1440, 60))
    loads = rng.integers(40, 51, len(arrivals))
    entry = np.repeat(arrivals, loads)
    departures = np.sort(rng.uniform(0, days * 1440 + 2000, 80))
    ready = entry + rng.exponential(600, len(entry))
    leave_index = np.searchsorted(departures, ready)              # the first departure after it is ready
    leaves = leave_index < len(departures)
    exit_time = np.where(leaves, departures[np.minimum(leave_index, len(departures) - 1)], np.inf)
    out_times, out_counts = np.unique(exit_time[np.isfinite(exit_time)], return_counts=True)
    ends = 1440.0 * np.arange(1, days + 1)
    stock = np.array([np.sum((entry < end) & (exit_time >= end)) for end in ends])
    return arrivals, loads, out_times, out_counts, stock


def test_a_consistent_yard_has_no_problems():
    arrivals, loads, out_times, out_counts, stock = synthetic_yard()
    balance = daily_balance(arrivals, loads, out_times, out_counts, 10, stock)
    assert conservation_problems(balance) == []
    assert balance["entered"].sum() == loads.sum()
    assert np.array_equal(balance["expected_in_yard"], stock)
    assert (balance["lowest_in_yard"] >= 0).all()


def test_a_lost_container_is_found_on_its_day_and_after():
    arrivals, loads, out_times, out_counts, stock = synthetic_yard()
    counts = out_counts.copy()
    day = 4
    index = np.flatnonzero((out_times >= day * 1440) & (out_times < (day + 1) * 1440))[0]
    counts[index] += 1                           # one container leaves that never came in
    problems = conservation_problems(daily_balance(arrivals, loads, out_times, counts, 10, stock))
    assert len(problems) == 10 - day and problems[0].startswith(f"day {day}:") and "(-1)" in problems[0]


def test_a_wrong_reported_stock_and_a_negative_stock_are_reported():
    arrivals, loads, out_times, out_counts, stock = synthetic_yard()
    wrong = stock.copy()
    wrong[2] += 5
    problems = conservation_problems(daily_balance(arrivals, loads, out_times, out_counts, 10, wrong))
    assert len(problems) == 1 and problems[0].startswith("day 2:") and "(-5)" in problems[0]
    # units leaving before any came in: negative within the day, balanced by the day's end
    balance = daily_balance([600.0], [10], [300.0], [10], 1, [0])
    assert balance["residual"].tolist() == [0] and balance["lowest_in_yard"].tolist() == [-10]
    assert conservation_problems(balance) == ["day 0: the yard holds -10 units at one point (more left than came in)"]
    # in and out at the same minute: ins first, no negative stock
    assert conservation_problems(daily_balance([60.0], [5], [60.0], [5], 1, [0])) == []


def test_bad_input():
    with pytest.raises(ValueError, match="one count"):
        daily_balance([1.0, 2.0], [1], [], [], 1)
    with pytest.raises(ValueError, match="one reported stock per day"):
        daily_balance([1.0], [1], [], [], 2, [1])
