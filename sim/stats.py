"""Statistics across replications: means with t-distribution confidence intervals.

Pure functions on numbers and DataFrames; nothing here knows of SimPy or scenarios. The tables of
metrics (:func:`summarize`, :func:`summarize_replications`) bound each interval to the values its
metric can take (:func:`sim.catalogue.value_range`): a t interval of a wait of 2 ± 5 min is
reported as 0 to 7 min, not -3 to 7.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .catalogue import value_range

CONFIDENCE = 0.95
UNBOUNDED = (-np.inf, np.inf)


def t_quantile(dof, probability: float):
    """Student's t quantile (``scipy.special.stdtrit``), imported on first use: the simulation's
    worker processes import this module through the metrics but never make an interval."""
    from scipy.special import stdtrit
    return stdtrit(dof, probability)


def mean_ci(values: np.ndarray, confidence: float = CONFIDENCE,
            bounds: tuple[float, float] = UNBOUNDED) -> tuple[float, float, float]:
    """Mean and two-sided t confidence interval of independent replication values, the interval
    cut to ``bounds`` (the values can take no other: e.g. ``(0, inf)`` for a wait).

    NaN values are ignored; with fewer than two values the interval is NaN.
    """
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return np.nan, np.nan, np.nan
    mean = float(values.mean())
    if len(values) < 2:
        return mean, np.nan, np.nan
    half = float(t_quantile(len(values) - 1, (1 + confidence) / 2) * values.std(ddof=1) / np.sqrt(len(values)))
    return mean, max(mean - half, bounds[0]), min(mean + half, bounds[1])


def metric_bounds(metrics: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(lowest, highest) value of each row's metric (:func:`sim.catalogue.value_range`)."""
    ranges = {name: value_range(name) for name in metrics.unique()}
    return (metrics.map(lambda name: ranges[name][0]).to_numpy(dtype=float),
            metrics.map(lambda name: ranges[name][1]).to_numpy(dtype=float))


def summarize(per_replication: pd.DataFrame, keys: list[str], value: str = "value") -> pd.DataFrame:
    """Collapse one row per replication into mean, ci_low, ci_high per ``keys``; with ``metric``
    among the keys, each interval is bounded to its metric's range."""
    rows = []
    for key, group in per_replication.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        bounds = value_range(key[keys.index("metric")]) if "metric" in keys else UNBOUNDED
        rows.append((*key, *mean_ci(group[value].to_numpy(), bounds=bounds)))
    return pd.DataFrame(rows, columns=[*keys, "mean", "ci_low", "ci_high"])


def paired_difference_ci(variant: np.ndarray, base: np.ndarray,
                         confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Mean difference ``variant - base`` over replications paired by index (common random
    numbers), with its t confidence interval."""
    variant, base = np.asarray(variant, dtype=float), np.asarray(base, dtype=float)
    if variant.shape != base.shape:
        raise ValueError("paired samples need the same number of replications")
    return mean_ci(variant - base, confidence)


def welch_difference_ci(variant: np.ndarray, base: np.ndarray,
                        confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Mean difference ``variant - base`` treating the samples as independent (Welch t interval)."""
    variant, base = np.asarray(variant, dtype=float), np.asarray(base, dtype=float)
    var_v, var_b = variant.var(ddof=1) / len(variant), base.var(ddof=1) / len(base)
    difference = float(variant.mean() - base.mean())
    se = np.sqrt(var_v + var_b)
    dof = (var_v + var_b) ** 2 / (var_v ** 2 / (len(variant) - 1) + var_b ** 2 / (len(base) - 1))
    half = float(t_quantile(dof, (1 + confidence) / 2) * se)
    return difference, difference - half, difference + half


def replications_needed(replications: int, half_width: float, target_half_width: float,
                        confidence: float = CONFIDENCE, limit: int = 100_000) -> int:
    """Replications that would bring a t interval's half-width from ``half_width`` (seen with
    ``replications``) down to ``target_half_width``, assuming the same spread between replications."""
    if replications < 2 or not half_width > 0 or not target_half_width > 0:
        raise ValueError("need at least 2 replications and positive half-widths")
    spread = half_width * np.sqrt(replications) / t_quantile(replications - 1, (1 + confidence) / 2)
    needed = max(replications, int(np.ceil((spread * 1.96 / target_half_width) ** 2)))
    while needed < limit and t_quantile(needed - 1, (1 + confidence) / 2) * spread / np.sqrt(needed) > target_half_width:
        needed += 1
    return needed


def summarize_replications(per_replication: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """:func:`summarize` (mean, ci_low, ci_high per ``keys``, in order of first
    appearance) with the same numbers, bit for bit, in one numpy pass when every key has the same
    number of replications: a key x replication matrix whose rows are reduced as
    :func:`mean_ci` reduces one (rows with a NaN go through it). A 16-day run has ~10,000
    keys, which the per-group loop takes about a second over."""
    grouped = per_replication.groupby(keys, sort=False)
    codes = grouped.ngroup().to_numpy()
    sizes = np.bincount(codes)
    if len(sizes) == 0 or (sizes != sizes[0]).any():
        return summarize(per_replication, keys)
    order = np.argsort(codes, kind="stable")             # each key's rows in their original order
    values = per_replication["value"].to_numpy(dtype=float)[order].reshape(len(sizes), sizes[0])
    table = per_replication[keys].iloc[order[::sizes[0]]].reset_index(drop=True)
    lowest, highest = (metric_bounds(table["metric"]) if "metric" in keys
                       else (np.full(len(table), -np.inf), np.full(len(table), np.inf)))
    mean, low, high = _mean_ci_rows(values, lowest, highest)
    table["mean"], table["ci_low"], table["ci_high"] = mean, low, high
    return table


def _mean_ci_rows(values: np.ndarray, lowest: np.ndarray,
                  highest: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`mean_ci` of each row of ``values`` (replications in columns), bounded to
    ``[lowest, highest]`` of its row."""
    count = values.shape[1]
    mean = values.mean(axis=1)
    if count >= 2:
        half = t_quantile(count - 1, (1 + CONFIDENCE) / 2) * values.std(axis=1, ddof=1) / np.sqrt(count)
        low, high = np.maximum(mean - half, lowest), np.minimum(mean + half, highest)
    else:
        low = high = np.full(len(values), np.nan)
    for row in np.flatnonzero(np.isnan(values).any(axis=1)):
        mean[row], low[row], high[row] = mean_ci(values[row], bounds=(lowest[row], highest[row]))
    return mean, low, high
