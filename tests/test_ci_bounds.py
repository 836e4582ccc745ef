"""Confidence intervals bounded to what a metric can take (sim.stats, sim.catalogue.value_range).

A t interval of a non-negative metric reaches below 0 when its half-width exceeds its mean (a
wait of 2 ± 5 min), and of a share above 1; the summary, hourly and timeline tables bound it.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from conftest import load, small_scenario
from sim.catalogue import METRICS, estimate, format_estimate, value_range
from sim.replication import run_replication
from sim.runner import hourly_table, replication_table, summary_table
from sim.stats import mean_ci, summarize, summarize_replications


def test_mean_ci_is_cut_to_its_bounds_and_only_there():
    values = [0.0, 0.0, 0.5, 7.5]                      # mean 2, t half-width about 5.9
    mean, low, high = mean_ci(values)
    assert low < 0
    assert mean_ci(values, bounds=(0.0, math.inf)) == (mean, 0.0, high)
    assert mean_ci([0.9, 1.0, 1.0, 0.7], bounds=(0.0, 1.0))[2] == 1.0
    assert mean_ci([3.0, 4.0, 5.0], bounds=(0.0, math.inf)) == mean_ci([3.0, 4.0, 5.0])   # inside: unchanged


def test_every_catalogue_metric_is_non_negative_and_a_share_at_most_one():
    assert value_range("wait_mean") == (0.0, math.inf) and value_range("share_waiting") == (0.0, 1.0)
    assert value_range("not_a_metric") == (-math.inf, math.inf)
    assert all(entry.value_range == ((0.0, 1.0) if entry.unit == "fraction" else (0.0, math.inf))
               for entry in METRICS.values())


@pytest.mark.parametrize("ragged", [False, True], ids=["one pass", "per group"])
def test_summaries_bound_each_interval_to_its_metric(ragged):
    rows = [(r, "all", metric, value) for metric, values in
            (("wait_mean", [0.0, 0.0, 0.5, 7.5]), ("share_waiting", [1.0, 1.0, 0.6, 1.0]),
             ("not_a_metric", [0.0, 0.0, 0.5, 7.5])) for r, value in enumerate(values)]
    if ragged:                                        # one key with fewer replications: the per-group path
        rows.append((0, "other", "wait_mean", 1.0))
    table = pd.DataFrame(rows, columns=["replication", "group", "metric", "value"])
    for summary in (summarize_replications(table, ["group", "metric"]), summarize(table, ["group", "metric"])):
        by = summary.set_index(["group", "metric"])
        assert by.loc[("all", "wait_mean"), "ci_low"] == 0.0
        assert by.loc[("all", "share_waiting"), "ci_high"] == 1.0
        assert by.loc[("all", "not_a_metric"), "ci_low"] < 0          # outside the catalogue: no bound
        assert by.loc[("all", "wait_mean"), "mean"] == pytest.approx(2.0)
        assert by.loc[("all", "wait_mean"), "ci_high"] == pytest.approx(mean_ci([0.0, 0.0, 0.5, 7.5])[2])


def test_estimates_write_the_t_half_width_of_a_bounded_interval():
    mean, low, high = mean_ci([0.0, 0.0, 0.5, 7.5])
    bounded = mean_ci([0.0, 0.0, 0.5, 7.5], bounds=(0.0, math.inf))
    assert estimate(*bounded, bounds=(0.0, math.inf)) == estimate(mean, low, high) == f"2.0 ±{high - mean:.1f}"
    assert format_estimate("wait_mean", *bounded) == f"2.0 ±{high - mean:.1f}"
    share = mean_ci([1.0, 1.0, 0.6, 1.0], bounds=(0.0, 1.0))
    assert format_estimate("share_waiting", *share) == f"{100 * share[0]:.1f} ±{100 * (share[0] - share[1]):.1f} %"


def test_a_run_s_tables_never_leave_the_metrics_range():
    """A small, lightly loaded crossing, three replications of two days: many intervals (a wait
    in a quiet hour, a secondary inspection's queue) are wider than their mean, so an unbounded
    t interval goes below 0; every replication value and every bound is inside its metric's range."""
    scenario = load(small_scenario())
    outputs = [run_replication(scenario, 3, r, keep_entities=False) for r in range(3)]
    per_replication = replication_table(outputs)
    lowest = np.array([value_range(m)[0] for m in per_replication["metric"]])
    highest = np.array([value_range(m)[1] for m in per_replication["metric"]])
    values = per_replication["value"].to_numpy()
    assert ((values >= lowest) & (values <= highest) | np.isnan(values)).all()
    unbounded = per_replication.groupby(["group", "metric"])["value"].apply(lambda v: mean_ci(v.to_numpy())[1])
    assert (unbounded < 0).any()                      # the case the bounds are for does occur here
    tables = {"summary": summary_table(outputs).rename(columns={"mean": "value"}),
              "hourly": _long(hourly_table(outputs)), "timeline": _long(hourly_table(outputs, "timeline"))}
    for name, table in tables.items():
        low = np.array([value_range(m)[0] for m in table["metric"]])
        high = np.array([value_range(m)[1] for m in table["metric"]])
        finite = table["ci_low"].notna()
        assert finite.any(), name
        assert (table["ci_low"][finite] >= low[finite]).all(), name
        assert (table["ci_high"][finite] <= high[finite]).all(), name
        assert (table["ci_low"][finite] <= table["value"][finite]).all(), name
        assert (table["value"][finite] <= table["ci_high"][finite]).all(), name


def _long(wide: pd.DataFrame) -> pd.DataFrame:
    """An hourly or timeline table as rows of (metric, value, ci_low, ci_high)."""
    metrics = [c for c in wide.columns if f"{c}_ci_low" in wide.columns]
    return pd.concat([pd.DataFrame({"metric": metric, "value": wide[metric], "ci_low": wide[f"{metric}_ci_low"],
                                    "ci_high": wide[f"{metric}_ci_high"]}) for metric in metrics], ignore_index=True)
