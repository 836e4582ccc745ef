"""Conservation of units in a yard, per day: units in = units out + still in the yard.

A check for the rail model (issue 14): containers (or wagons) enter a border yard on arriving
trains and leave on departing ones, and the model reports how many are in the yard at the end of
each day. These three are kept apart in the model, so their balance is a real check:
``initial + entered up to day d - left up to day d`` must equal the stock reported at the end of
day ``d``, and the stock may never go negative (more units leaving than have come in), not even
between two day ends. Pure functions of arrays; no SimPy.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .calendar import MINUTES_PER_DAY



def daily_balance(in_times, in_counts, out_times, out_counts, days: int, stock_at_day_end=None,
                  initial: int = 0) -> pd.DataFrame:
    """One row per day: ``entered``, ``left``, ``expected_in_yard`` (initial + cumulative in - out at
    the day's end), ``reported_in_yard`` (``stock_at_day_end``, or the expected value if None),
    ``residual`` (expected - reported) and ``lowest_in_yard`` (the smallest stock after any
    event of the day, units entering before those leaving at the same minute).

    Times are minutes from the start of the horizon; events at or after ``days`` x 1440 are ignored.
    """
    in_times, out_times = np.asarray(in_times, dtype=float), np.asarray(out_times, dtype=float)
    in_counts, out_counts = np.asarray(in_counts, dtype=np.int64), np.asarray(out_counts, dtype=np.int64)
    if in_times.shape != in_counts.shape or out_times.shape != out_counts.shape:
        raise ValueError("each event time needs one count")
    if np.any(in_counts < 0) or np.any(out_counts < 0):
        raise ValueError("counts must be >= 0")
    edges = MINUTES_PER_DAY * np.arange(days + 1)
    entered = np.histogram(in_times, bins=edges, weights=in_counts)[0].astype(np.int64)
    left = np.histogram(out_times, bins=edges, weights=out_counts)[0].astype(np.int64)
    expected = initial + np.cumsum(entered) - np.cumsum(left)
    reported = expected if stock_at_day_end is None else np.asarray(stock_at_day_end, dtype=np.int64)
    if reported.shape != (days,):
        raise ValueError(f"expected one reported stock per day ({days}), got {reported.shape}")
    # the stock after every event, ins before outs at equal times
    times = np.concatenate((in_times, out_times))
    changes = np.concatenate((in_counts, -out_counts))
    order = np.lexsort((np.concatenate((np.zeros(len(in_times)), np.ones(len(out_times)))), times))
    times, stock = times[order], initial + np.cumsum(changes[order])
    inside = times < edges[-1]
    day_of = (times[inside] // MINUTES_PER_DAY).astype(np.int64)
    lowest = np.full(days, np.iinfo(np.int64).max)
    np.minimum.at(lowest, day_of, stock[inside])
    start_of_day = np.concatenate(([initial], expected[:-1]))
    lowest = np.minimum(lowest, start_of_day)
    return pd.DataFrame({"day": np.arange(days), "entered": entered, "left": left,
                         "expected_in_yard": expected, "reported_in_yard": reported,
                         "residual": expected - reported, "lowest_in_yard": lowest})


def conservation_problems(balance: pd.DataFrame) -> list[str]:
    """One line per day where units are not conserved: a residual, or a negative stock."""
    problems = []
    for row in balance.itertuples(index=False):
        if row.residual != 0:
            problems.append(f"day {row.day}: {row.entered} in, {row.left} out, {row.expected_in_yard} expected "
                            f"in the yard but {row.reported_in_yard} reported ({row.residual:+d})")
        if row.lowest_in_yard < 0:
            problems.append(f"day {row.day}: the yard holds {row.lowest_in_yard} units at one point "
                            "(more left than came in)")
    return problems
