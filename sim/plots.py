"""Figures from the results tables: pure functions that take DataFrames and return a Figure.

A researcher can call them in a notebook on the tables of ``sim.run`` / ``sim.load_results``, a
sweep's ``sweep.csv`` or a comparison; ``run_figures`` and ``sweep_figures`` give the standard
sets by file name, ``png_bytes`` renders one (files are written by :mod:`sim.publish` only: nothing
here reads or writes a file). Nothing here runs a model: closed hours and per-day counts are read
from the tables themselves; demand peaks come from the scenario's hour weights when given (else
they are estimated from the simulated arrivals).
"""
from __future__ import annotations

import datetime as dt
import io
import math
import re
import textwrap
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Iterable, Sequence

import matplotlib
import matplotlib.dates
import matplotlib.patches

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patheffects import withStroke  # noqa: E402
from matplotlib.ticker import (FixedFormatter, FixedLocator, FuncFormatter, LogFormatter, MaxNLocator, NullFormatter,  # noqa: E402
                               ScalarFormatter)
from PIL import Image  # noqa: E402  (matplotlib's own dependency)

from . import catalogue  # noqa: E402
from .memory import return_freed_memory  # noqa: E402
from .groups import Group, kind, of_kinds  # noqa: E402
from .groups import label as group_label  # noqa: E402,F401  (figures and reports name groups by it)
from .metrics import measurement_window, peak_hours  # noqa: E402
from .runner import EntityFigures  # noqa: E402
from .rail_metrics import RAIL_WAITS, binding_constraint, has_rail  # noqa: E402
from .scenario.units import parse_duration  # noqa: E402
from .stats import mean_ci  # noqa: E402

if TYPE_CHECKING:
    from .runner import Results

DPI = 100                                  # with a 256-colour palette: ~40-60 KB per PNG
SERVICE_LEVEL_MARKS = (30.0, 60.0)         # minutes: shares waiting longer are marked on the ECDF
SWEEP_TARGET = ("wait_p90", 60.0)          # service-level target drawn on sweep heatmaps
CLOSED_COLOR, PEAK_COLOR = "0.88", "#fde9c4"
BOOTHS_COLOR = "tab:red"                   # open booths, on every figure (no class has red)
EVERYONE_COLOR = "black"                   # the group "all"
CI_CAP = 2.0                               # axes reach at most this many times the largest |estimate|
CLIPPED_NOTE = "CI clipped at the axis edge"

# one colour per traveller class in every figure: the usual classes in a fixed order, any other
# class by name after them (red is kept for open booths, black for everyone)
CLASS_ORDER = ("pedestrian", "foot", "car", "bus", "truck", "train")
CLASS_PALETTE = ("tab:blue", "tab:cyan", "tab:orange", "tab:green", "tab:purple", "tab:brown",
                 "tab:pink", "tab:olive", "tab:gray", "#6a3d9a", "#b15928", "#1b9e77")


def class_colors(names: Iterable[str]) -> dict[str, str]:
    """Colour of each class name (``class=`` prefix allowed): the classes of ``CLASS_ORDER`` keep
    their fixed colour, others take the next colours in the order of their names."""
    bare = {(Group.parse(name).value if "=" in str(name) else str(name)): name for name in names}
    others = sorted(n for n in bare if n not in CLASS_ORDER)
    colors = {}
    for name, original in bare.items():
        index = CLASS_ORDER.index(name) if name in CLASS_ORDER else len(CLASS_ORDER) + others.index(name)
        colors[original] = CLASS_PALETTE[index % len(CLASS_PALETTE)]
    return colors


def group_color(group: str, groups: Iterable[str] = ()) -> str:
    """The colour of a group: black for everyone, the class colour for ``class=`` groups (the
    other classes in ``groups`` decide the colours of classes outside ``CLASS_ORDER``)."""
    if group == "all":
        return EVERYONE_COLOR
    classes = of_kinds(groups, "class") or [group]
    return class_colors({*classes, group}).get(group, "0.4")


def _entry(metric: str) -> catalogue.Metric:
    """The catalogue entry of ``metric``; a neutral stand-in for a name outside the catalogue."""
    return catalogue.METRICS.get(metric) or catalogue.Metric(metric, "", metric, metric, "neutral", 1, "")


def metric_scale(metric: str) -> float:
    """Factor from the stored value to the drawn one: fractions are drawn as percentages."""
    return 100.0 if _entry(metric).percent else 1.0


# --------------------------------------------------------------------------------------------
# axes that follow the estimates, not their confidence intervals
# --------------------------------------------------------------------------------------------
def estimate_limits(means: Iterable[float], lows: Iterable[float] = (), highs: Iterable[float] = (),
                    floor: float | None = 0.0, include: Iterable[float] = (), cap: float = CI_CAP,
                    scale: float | None = None, margin: float = 0.06) -> tuple[float, float]:
    """Axis limits that show every estimate and as much of the intervals as fits within ``cap``
    times the largest |estimate| (``scale`` instead, when given): with 2 replications a CI may
    be wider than anything worth drawing, and it must not set the scale.

    ``floor`` is the lowest possible value (0 for waits, counts, shares; None for differences);
    ``include`` are values that must be on the axis (0 under bars).
    """
    means = np.asarray([m for m in means], dtype=float)
    means = means[np.isfinite(means)]
    reach = scale if scale is not None else (float(np.abs(means).max()) if means.size else 0.0)
    reach = reach if reach > 0 else 1.0
    values = np.concatenate([means, np.asarray([*lows, *highs, *include], dtype=float)])
    values = values[np.isfinite(values)]
    if not values.size:
        return (0.0 if floor is None else floor, 1.0)
    low, high = max(float(values.min()), -cap * reach), min(float(values.max()), cap * reach)
    if means.size:                                   # every estimate stays on the axis
        low, high = min(low, float(means.min())), max(high, float(means.max()))
    if floor is not None:
        low = max(low, floor)
    if high <= low:
        high = low + reach
    pad = margin * (high - low)
    return (low if floor is not None and low <= floor else low - pad, high + pad)


def mark_clipped(axis, positions: Sequence[float], lows: Sequence[float], highs: Sequence[float],
                 color: str = "0.3", vertical: bool = True) -> int:
    """Mark the intervals [low, high] at ``positions`` that reach beyond the axis limits with an
    arrow head at the edge (the first one labelled for the legend); return how many were clipped.

    An interval that only goes below a floor the axis starts at (a wait CI below 0) is not
    marked: nothing there can be hidden."""
    start, end = axis.get_ylim() if vertical else axis.get_xlim()
    clipped = 0
    labelled = any(h.get_label() == CLIPPED_NOTE for h in axis.get_lines())
    for position, low, high in zip(positions, lows, highs):
        for beyond, edge, marker in ((high > end, end, "^" if vertical else ">"),
                                     (low < start and start != 0, start, "v" if vertical else "<")):
            if not (np.isfinite(position) and beyond):
                continue
            point = (position, edge) if vertical else (edge, position)
            axis.plot(*point, marker=marker, color=color, ms=6, clip_on=False, linestyle="none", zorder=5,
                      label=None if labelled else CLIPPED_NOTE)
            labelled, clipped = True, clipped + 1
    return clipped


def fit_to_estimates(axis, series: Sequence[tuple[Sequence[float], Sequence[float], Sequence[float],
                                                   Sequence[float], str]],
                     vertical: bool = True, **limits) -> int:
    """Set the value axis of ``axis`` from the estimates of ``series`` (``estimate_limits``) and
    mark every interval clipped by it; ``series`` are (positions, means, lows, highs, colour).
    Returns the number of clipped intervals."""
    if not series:
        return 0
    means = np.concatenate([np.asarray(s[1], dtype=float) for s in series])
    lows = np.concatenate([np.asarray(s[2], dtype=float) for s in series])
    highs = np.concatenate([np.asarray(s[3], dtype=float) for s in series])
    if vertical and axis.get_yscale() == "log":
        positive = means[means > 0]
        bottom = axis.get_ylim()[0]
        top = estimate_limits(means, lows, highs, **limits)[1]
        axis.set_ylim(bottom, max(top, (positive.max() if positive.size else 1) * 1.1))
    else:
        (axis.set_ylim if vertical else axis.set_xlim)(*estimate_limits(means, lows, highs, **limits))
    return sum(mark_clipped(axis, positions, low, high, color, vertical)
               for positions, _, low, high, color in series)


# --------------------------------------------------------------------------------------------
# what the hourly table says about the day: closed hours and peaks
# --------------------------------------------------------------------------------------------
def closed_hours(hourly: pd.DataFrame) -> list[int]:
    """Hours of the day with no booth open anywhere (group ``all``, staffed booths 0)."""
    rows = hourly[hourly["group"] == "all"]
    if rows.empty or "staffed_booths" not in rows:
        return []
    return sorted(int(h) for h in rows.loc[rows["staffed_booths"].fillna(0) <= 1e-9, "hour"])


def table_peak_hours(hourly: pd.DataFrame) -> list[int]:
    """Peak hours estimated from the simulated arrivals of everyone (noisy for short runs)."""
    rows = hourly[hourly["group"] == "all"].sort_values("hour")
    if rows.empty or "arrivals_per_day" not in rows:
        return []
    weights = np.zeros(24)
    weights[rows["hour"].astype(int)] = rows["arrivals_per_day"].fillna(0)
    return peak_hours(weights)


def hour_spans(hours: Iterable[int]) -> list[tuple[int, int]]:
    """Consecutive hours merged into [start, end) spans."""
    spans: list[tuple[int, int]] = []
    for hour in sorted(hours):
        if spans and spans[-1][1] == hour:
            spans[-1] = (spans[-1][0], hour + 1)
        else:
            spans.append((hour, hour + 1))
    return spans


def _shade_day(axis, hourly: pd.DataFrame, peaks: Sequence[int] | None, legend: bool = True) -> None:
    """Shade closed hours (grey) and demand peaks (amber; estimated from the table when None)."""
    peaks = table_peak_hours(hourly) if peaks is None else peaks
    for color, label, hours in ((CLOSED_COLOR, "closed", closed_hours(hourly)), (PEAK_COLOR, "demand peak", peaks)):
        for number, (start, end) in enumerate(hour_spans(hours)):
            axis.axvspan(start, end, color=color, zorder=0, linewidth=0,
                         label=label if legend and number == 0 else None)


def set_title(axis, text: str, **options) -> None:
    """``axis.set_title(text, **options)``, the title pinned at the top of the axes when nothing
    can rise above that (:func:`clear_above`), else placed by matplotlib. Its automatic
    placement measures the tick labels of the axes and of its twins in every layout pass (a
    quarter of a per-stage figure's drawing time) only to lift a title over top tick labels or
    a y-axis offset text (``1e-5``): where neither can be, a pinned title has the same pixels.
    Set it once the y limits and any twin axes are final (it looks at them)."""
    pinned = "\n" not in text and clear_above(axis)
    axis.set_title(text, y=1.0 if pinned else None, **options)


def clear_above(axis) -> bool:
    """Whether nothing of ``axis`` or of its twins can be drawn above their top edge: no x ticks
    or label at the top, no inset axes, and every y axis either without an offset text (fixed,
    log, no or fixed tick labels) or with fixed limits whose ticks matplotlib writes in full for sure:
    no offset (the limits include 0, or span a tenth of their reach at least: ticks that differ
    in their first three digits) and no order of magnitude (the largest tick, at least half the
    reach, within ``axes.formatter.limits``; the ticks of a locator that picks them, so that
    limits including 0 have 0 as a tick; matplotlib's default ``axes.formatter.offset_threshold``
    or a higher one)."""
    low_power, high_power = matplotlib.rcParams["axes.formatter.limits"]
    if matplotlib.rcParams["axes.formatter.offset_threshold"] < 4:
        return False
    spec = axis.get_subplotspec()
    for other in axis.get_shared_x_axes().get_siblings(axis):
        if other is not axis and other.get_subplotspec() != spec:      # not a twin of it
            continue
        ticks = [other.xaxis.get_tick_params(which=which) for which in ("major", "minor")]
        if (other.child_axes or other.xaxis.get_label_position() == "top"
                or any(tick.get("top") or tick.get("labeltop") for tick in ticks)):
            return False
        formatter = other.yaxis.get_major_formatter()
        if isinstance(formatter, ScalarFormatter):
            if other.get_autoscaley_on() or isinstance(other.yaxis.get_major_locator(), FixedLocator):
                return False
            low, high = sorted(other.get_ylim())
            reach = max(-low, high)
            if not (10.0 ** (low_power + 2) <= reach < 10.0 ** high_power
                    and (low <= 0 <= high or reach < 10 * (high - low))):
                return False
        elif not (isinstance(formatter, (LogFormatter, NullFormatter))
                  or isinstance(formatter, (FixedFormatter, FuncFormatter)) and not formatter.get_offset()):
            return False
    return True


def _hour_axis(axis, label: str = "hour of day") -> None:
    axis.set(xlim=(0, 24), xticks=range(0, 25, 3), xlabel=label)
    axis.grid(alpha=0.3)


# --------------------------------------------------------------------------------------------
# figures of one run
# --------------------------------------------------------------------------------------------
def _band_series(rows: pd.DataFrame, metric: str, positions, color: str) -> tuple:
    """(positions, means, lows, highs, colour) of ``metric`` in ``rows``, for ``fit_to_estimates``."""
    return (np.asarray(positions, dtype=float), rows[metric].to_numpy(dtype=float),
            rows[f"{metric}_ci_low"].to_numpy(dtype=float), rows[f"{metric}_ci_high"].to_numpy(dtype=float), color)


def cargo_waits(summary: pd.DataFrame | None) -> pd.DataFrame:
    """Per cargo class (groups with ``backlog_time_mean``): the cargo backlog time and the
    checkpoint wait side by side. Columns: group, metric, mean, ci_low, ci_high."""
    if summary is None or summary.empty:
        return pd.DataFrame(columns=["group", "metric", "mean", "ci_low", "ci_high"])
    backlog = summary[summary["metric"] == "backlog_time_mean"]
    cargo = of_kinds(backlog["group"], "class")
    rows = summary[summary["group"].isin(cargo) & summary["metric"].isin(["backlog_time_mean", "wait_mean"])]
    return rows[["group", "metric", "mean", "ci_low", "ci_high"]].reset_index(drop=True)


def _cargo_panel(axis, cargo: pd.DataFrame, classes: Iterable[str]) -> None:
    """Bars of the cargo backlog time and the checkpoint wait of each cargo class (hours), each
    annotated with its value: a day in the backlog and a few minutes at the booths."""
    groups = list(dict.fromkeys(cargo["group"]))
    colors = class_colors(classes)
    series = []
    for index, group in enumerate(groups):
        for offset, (metric, hatch, name) in enumerate((("backlog_time_mean", "//", "cargo backlog"),
                                                         ("wait_mean", "", "checkpoint wait"))):
            row = cargo[(cargo["group"] == group) & (cargo["metric"] == metric)]
            if row.empty:
                continue
            mean, low, high = (row[c].iloc[0] / 60 for c in ("mean", "ci_low", "ci_high"))
            x = index + (offset - 0.5) * 0.4
            axis.bar(x, mean, 0.38, color=colors.get(group, "0.5"), alpha=0.45 if hatch else 0.95, hatch=hatch,
                     edgecolor="0.25", label=name if index == 0 else None)
            axis.errorbar(x, mean, yerr=np.nan_to_num([[max(mean - low, 0)], [max(high - mean, 0)]]), color="0.2",
                          capsize=2, linewidth=0.8)
            text = catalogue.format_value(metric, mean * 60, 0) + (f"\n≈ {mean:.1f} h" if mean >= 2 else "")
            axis.annotate(text, (x, mean), xytext=(0, 3),
                          textcoords="offset points", ha="center", fontsize="x-small")
            series.append(([x], [mean], [low], [high], "0.2"))
    fit_to_estimates(axis, series, include=[0])
    axis.set_xticks(range(len(groups)), [group_label(g) for g in groups])
    axis.set_ylabel("hours")
    set_title(axis, "cargo: backlog vs checkpoint wait", fontsize="small")
    axis.grid(axis="y", alpha=0.3)
    axis.legend(fontsize="x-small", loc="upper right")


def hourly_wait_profile(hourly: pd.DataFrame, peaks: Sequence[int] | None = None, title: str = "",
                        summary: pd.DataFrame | None = None) -> Figure:
    """Mean wait by hour of arrival, one line per class with its 95 % CI band; closed hours and
    demand ``peaks`` (hours of the day; default: estimated from the arrivals) shaded.

    With the run's ``summary``, cargo classes get a panel of their mean time in the cargo
    backlog beside their checkpoint wait (the backlog is not a wait, and is often a day long).
    The value axis follows the means; CIs reaching beyond it are clipped and marked.
    """
    cargo = cargo_waits(summary)
    if cargo.empty:
        figure, axis = plt.subplots(figsize=(9, 4.5), layout="constrained")
    else:
        figure, (axis, side) = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained",
                                            gridspec_kw={"width_ratios": [3.2, 1]})
    _shade_day(axis, hourly, peaks)
    groups = of_kinds(hourly["group"], "class") or ["all"]
    series = []
    for group in groups:
        rows = hourly[hourly["group"] == group].sort_values("hour")
        color = group_color(group, groups)
        cargo_note = " (+ cargo backlog, right)" if group in set(cargo["group"]) else ""
        axis.plot(rows["hour"] + 0.5, rows["wait_mean"], marker="o", ms=3, color=color,
                  label=group_label(group) + cargo_note)
        axis.fill_between(rows["hour"] + 0.5, rows["wait_mean_ci_low"], rows["wait_mean_ci_high"],
                          color=color, alpha=0.2, linewidth=0)
        series.append(_band_series(rows, "wait_mean", rows["hour"] + 0.5, color))
    fit_to_estimates(axis, series)
    _hour_axis(axis, "hour of arrival")
    axis.set_ylabel(catalogue.label("wait_mean"))
    set_title(axis, title or "Mean checkpoint wait by hour of arrival (95 % CI)")
    axis.legend(fontsize="small", ncols=2)
    if not cargo.empty:
        _cargo_panel(side, cargo, groups)
    return figure


LEAVING_PANELS = (("lost_share", "lost: balked or reneged"), ("deferred_share", "deferred to the next day"))


def leaving_by_hour(hourly: pd.DataFrame, peaks: Sequence[int] | None = None, title: str = "") -> Figure:
    """Share of arrivals lost (balked + reneged, left) and deferred (right) by hour of arrival,
    one line per class in its colour with its 95 % CI band (cut to 0-100 %); closed hours and
    demand ``peaks`` shaded. Only for runs with impatience (an hourly table with ``lost_share``)."""
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained", sharex=True)
    groups = of_kinds(hourly["group"], "class") or ["all"]
    for axis, (metric, name) in zip(axes, LEAVING_PANELS):
        _shade_day(axis, hourly, peaks, legend=axis is axes[0])
        scale, series = metric_scale(metric), []
        for group in groups:
            rows = hourly[hourly["group"] == group].sort_values("hour")
            columns = [metric, f"{metric}_ci_low", f"{metric}_ci_high"]
            rows = rows[["hour"]].join((rows[columns] * scale).clip(0.0, scale))   # a share lies in 0-100 %
            color = group_color(group, groups)
            axis.plot(rows["hour"] + 0.5, rows[metric], marker="o", ms=3, color=color, label=group_label(group))
            axis.fill_between(rows["hour"] + 0.5, rows[columns[1]], rows[columns[2]], color=color, alpha=0.2,
                              linewidth=0)
            series.append(_band_series(rows, metric, rows["hour"] + 0.5, color))
        fit_to_estimates(axis, series, include=[0])
        _hour_axis(axis, "hour of arrival")
        axis.set_ylabel(catalogue.label(metric))
        set_title(axis, name, fontsize="small")
    axes[0].legend(fontsize="small", ncols=2)
    figure.suptitle(title or "Share of arrivals lost and deferred by hour of arrival (95 % CI)")
    return figure


def queue_and_staffing(hourly: pd.DataFrame, peaks: Sequence[int] | None = None, title: str = "") -> Figure:
    """Mean queue length by hour per stage (bars, 95 % CI whiskers), open booths on a second axis;
    closed hours and demand ``peaks`` shaded. Queue axes follow the means (CIs clipped, marked)."""
    stages = of_kinds(hourly["group"], "stage")
    columns = 2 if len(stages) > 3 else 1
    rows_count = max(1, -(-len(stages) // columns))
    size = (5.2 * columns if columns > 1 else 9, 1.9 * rows_count + 0.9)
    figure, axes = plt.subplots(rows_count, columns, figsize=size, sharex=True, layout="constrained", squeeze=False)
    clipped = 0
    for axis, group in zip(axes.flat, stages):
        rows = hourly[hourly["group"] == group].sort_values("hour")
        _shade_day(axis, hourly, peaks, legend=False)
        error = np.vstack([rows["queue_length_mean"] - rows["queue_length_mean_ci_low"],
                           rows["queue_length_mean_ci_high"] - rows["queue_length_mean"]]).clip(min=0)
        axis.bar(rows["hour"] + 0.5, rows["queue_length_mean"], width=0.8, color="tab:blue", alpha=0.75,
                 yerr=np.nan_to_num(error), error_kw={"elinewidth": 0.6, "capsize": 0, "ecolor": "0.3"})
        clipped += fit_to_estimates(axis, [_band_series(rows, "queue_length_mean", rows["hour"] + 0.5, "0.3")],
                                    include=[0])
        axis.set_ylabel("queue", fontsize="small")
        _booths_axis(axis, np.append(rows["hour"], 24), np.append(rows["staffed_booths"], rows["staffed_booths"].iloc[-1]))
        set_title(axis, group_label(group), loc="left")
        _hour_axis(axis, "")
    for axis in axes.flat[len(stages):]:
        axis.set_visible(False)
    for column in range(min(columns, len(stages))):      # the lowest drawn axis of each column gets the labels
        lowest = axes[(len(stages) - 1 - column) // columns, column]
        lowest.tick_params(labelbottom=True)
        lowest.set_xlabel("hour of day")
    figure.suptitle((title or "Mean queue length (bars) and open booths (red line) by hour of day") +
                    (f" — ▲ {CLIPPED_NOTE}" if clipped else ""))
    return figure


def _booths_axis(axis, x, booths, linewidth: float = 1.5) -> None:
    """Open booths as a red step line on a second y axis of ``axis``."""
    twin = axis.twinx()
    twin.step(x, booths, where="post", color=BOOTHS_COLOR, linewidth=linewidth)
    twin.set_ylabel("booths", fontsize="small", color=BOOTHS_COLOR)
    twin.set_ylim(0, max(1.0, float(np.nanmax(booths)) if len(booths) else 1.0) * 1.15)
    twin.yaxis.set_major_locator(MaxNLocator(integer=True))


def queue_timeline(timeline: pd.DataFrame, measured: tuple[int, int] | None = None, title: str = "") -> Figure:
    """Mean queue length over the whole horizon, hour by hour, per stage (line, 95 % CI band),
    with open booths on a second axis; the warm-up is shaded. Queue axes follow the means."""
    stages = of_kinds(timeline["group"], "stage")
    figure, axes = plt.subplots(len(stages), 1, figsize=(10, 1.7 * len(stages) + 0.9), sharex=True,
                                layout="constrained", squeeze=False)
    clipped = 0
    for axis, group in zip(axes[:, 0], stages):
        rows = timeline[timeline["group"] == group].sort_values("hour")
        days = rows["hour"].to_numpy() / 24.0
        if measured is not None and measured[0] > 0:
            axis.axvspan(0, measured[0], color="0.9", linewidth=0)
        axis.fill_between(days, rows["queue_length_mean_ci_low"].clip(lower=0), rows["queue_length_mean_ci_high"],
                          step="post", color="tab:blue", alpha=0.2, linewidth=0)
        axis.step(days, rows["queue_length_mean"], where="post", color="tab:blue", linewidth=0.9)
        clipped += fit_to_estimates(axis, [_band_series(rows, "queue_length_mean", days + 1 / 48, "tab:blue")],
                                    include=[0, 1])
        axis.set_ylabel("queue", fontsize="small")
        _booths_axis(axis, days, rows["staffed_booths"].to_numpy(dtype=float), linewidth=0.8)
        set_title(axis, group_label(group), loc="left")
        axis.grid(alpha=0.3)
    last = axes[-1, 0]
    last.set_xlim(0, float(timeline["hour"].max() + 1) / 24.0)
    last.set_xlabel("day of the horizon (warm-up shaded)")
    figure.suptitle((title or "Queue length (blue) and open booths (red) over the horizon") +
                    (f" — ▲ {CLIPPED_NOTE}" if clipped else ""))
    return figure


def utilization_heatmap(hourly: pd.DataFrame, title: str = "") -> Figure:
    """Busy share of the open booths in %, stage x hour of day (blank where no booth is open)."""
    stages = of_kinds(hourly["group"], "stage")
    scale = metric_scale("utilization")
    matrix = np.full((len(stages), 24), np.nan)
    for row, group in enumerate(stages):
        rows = hourly[hourly["group"] == group]
        matrix[row, rows["hour"].astype(int)] = scale * rows["utilization"]
    figure, axis = plt.subplots(figsize=(9, 0.36 * len(stages) + 1.5), layout="constrained")
    colormap = matplotlib.colormaps["YlOrRd"].with_extremes(bad="0.92")
    image = axis.imshow(np.ma.masked_invalid(matrix), aspect="auto", cmap=colormap, vmin=0, vmax=scale,
                        extent=(0, 24, len(stages), 0), interpolation="nearest")
    axis.set(xticks=range(0, 25, 3), yticks=np.arange(len(stages)) + 0.5,
             yticklabels=[group_label(g) for g in stages], xlabel="hour of day")
    set_title(axis, title or "Utilization of open booths by stage and hour, % (grey: closed)")
    axis.tick_params(axis="y", labelsize="small")
    if len(stages) <= 14:
        for (row, hour), value in np.ndenumerate(matrix):
            if np.isfinite(value):
                axis.text(hour + 0.5, row + 0.5, f"{value:.0f}", ha="center", va="center", fontsize=7,
                          color="white" if value > 0.6 * scale else "black",
                          in_layout=False)        # inside its cell: the layout need not measure it
    figure.colorbar(image, ax=axis, label=catalogue.label("utilization"), shrink=0.9)
    return figure


def wait_ecdf(entities: pd.DataFrame | EntityFigures, marks: tuple[float, ...] = SERVICE_LEVEL_MARKS,
              window: tuple[float, float] | None = None, title: str = "",
              backlog: dict[str, float] | None = None) -> Figure:
    """Empirical CDF of the total wait per class, with the share waiting over each mark.

    ``entities``: the entity rows, or their reduction (:class:`~sim.runner.EntityFigures`, the
    same figure). ``window`` (minutes) keeps the entities that arrive in it (the measurement
    window; a reduction is already of its window). Cargo classes (with a release time) say
    their mean time in the cargo backlog in the legend: it comes before the checkpoint and is
    not in the wait. ``backlog`` (class -> minutes, e.g. the summary's ``backlog_time_mean``,
    which counts trucks still in the backlog until the stop) takes precedence over the mean of
    the released trucks of the table.
    """
    reduced = _reduced(entities, window)
    figure, axis = plt.subplots(figsize=(9, 4.5), layout="constrained")
    colors = class_colors(reduced.classes)
    longest = 0.0
    for name, waits in reduced.waits.items():
        shares = np.arange(1, len(waits) + 1) / len(waits)
        over = ", ".join(f"{100 * np.mean(waits > mark):.0f} % > {mark:g}" for mark in marks)
        label = f"{name}: {over} min" + _backlog_note(reduced.released.get(name), (backlog or {}).get(name))
        steps = ecdf_steps(len(waits))
        axis.step(waits[steps], shares[steps], where="post", color=colors[name], label=label)
        at_marks = [np.searchsorted(waits, mark, side="right") / len(waits) for mark in marks]
        axis.plot(marks, at_marks, "o", color=colors[name], ms=5)
        longest = max(longest, float(np.percentile(waits, 99.5)))
    for mark in marks:
        axis.axvline(mark, color="grey", linestyle="--", linewidth=1)
    axis.set(xlabel="total wait (min)", ylabel="share of travelers waiting at most this long", ylim=(0, 1.01))
    set_title(axis, title or "Who waits how long (dots: share served within each service-level mark)")
    axis.set_xlim(0, max(longest, 1.2 * max(marks)))
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small", loc="lower right")
    return figure


def _reduced(entities: pd.DataFrame | EntityFigures, window: tuple[float, float] | None = None) -> EntityFigures:
    """``entities`` reduced for the entity figures (as they are if already reduced, of ``window``)."""
    if not isinstance(entities, EntityFigures):
        return EntityFigures.of(entities, window)
    if window is not None and entities.window is not None and tuple(window) != tuple(entities.window):
        raise ValueError(f"the entity figures were reduced for the window {entities.window}, not {window}")
    return entities


ECDF_STEPS = 2000     # an ECDF drawn through at most this many of its steps: off by 1/2000 at most


def ecdf_steps(count: int, most: int = ECDF_STEPS) -> np.ndarray:
    """Indices of the sorted values an ECDF of ``count`` values is drawn through: all of them up
    to ``most``, else ``most`` evenly spaced ones with the first and the last (the curve is then
    within ``1 / most`` of the exact one, and the figure draws a few thousand vertices, not a
    million)."""
    if count <= most:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, most).round().astype(np.int64))


def _backlog_note(released: tuple[float, int] | None, backlog: float | None = None) -> str:
    """``; cargo backlog before it: 1,352 min`` for a cargo class (``backlog``, or the mean of the
    ``released`` entities' time in the cargo backlog: their sum and count)."""
    if backlog is None:
        if not released or not released[1]:
            return ""
        backlog = released[0] / released[1]
    return f"; cargo backlog before it: {catalogue.format_value('backlog_time_mean', backlog, 0)}"


def daily_throughput_table(entities: pd.DataFrame | EntityFigures, start_date: dt.date | None = None) -> pd.DataFrame:
    """Exits per simulated day (``exit_min // 1440``) for ``all`` and each class: mean over
    replications with its 95 % CI, from the entity rows or their reduction
    (:class:`~sim.runner.EntityFigures`). Columns: day, [date,] group, mean, ci_low, ci_high."""
    reduced = _reduced(entities)
    everyone = sum(reduced.exits.values(), np.zeros((len(reduced.replications), reduced.days), np.int64))
    rows = []
    for group, counts in [("all", everyone)] + [(str(Group("class", name)), reduced.exits[name])
                                               for name in reduced.classes]:
        counts = counts.astype(float)
        for day in range(counts.shape[1]):
            rows.append((day, group, *mean_ci(counts[:, day], bounds=catalogue.value_range("throughput_per_day"))))
    table = pd.DataFrame(rows, columns=["day", "group", "mean", "ci_low", "ci_high"])
    if start_date is not None:
        table.insert(1, "date", [start_date + dt.timedelta(days=int(d)) for d in table["day"]])
    return table


def daily_throughput(daily: pd.DataFrame, measured: tuple[int, int] | None = None, title: str = "") -> Figure:
    """Exits per day over the horizon, everyone and each class, with 95 % CI bands.

    ``measured`` = (first, end) day of the measurement window; the days outside it are shaded.
    """
    figure, axis = plt.subplots(figsize=(10, 4.2), layout="constrained")
    dated = "date" in daily.columns
    x_of = (lambda rows: pd.to_datetime(rows["date"])) if dated else (lambda rows: rows["day"] + 0.5)
    groups = ["all", *of_kinds(daily["group"], "class")]
    series = []
    for group in groups:
        rows = daily[daily["group"] == group].sort_values("day")
        if rows.empty:
            continue
        color = group_color(group, groups)
        axis.plot(x_of(rows), rows["mean"], marker="o", ms=2.5, label=group_label(group), color=color,
                  linewidth=2 if group == "all" else 1.2)
        axis.fill_between(x_of(rows), rows["ci_low"], rows["ci_high"], color=color, alpha=0.15, linewidth=0)
        positions = matplotlib.dates.date2num(x_of(rows)) if dated else x_of(rows)
        series.append((positions, rows["mean"], rows["ci_low"], rows["ci_high"], color))
    if measured is not None and not daily.empty:
        first_day = daily["date"].min() if dated else None
        to_x = (lambda d: pd.Timestamp(first_day) + pd.Timedelta(days=d - 0.5)) if dated else (lambda d: d)
        last = int(daily["day"].max()) + 1
        for start, end, label in ((0, measured[0], "warm-up"), (measured[1], last, "after the horizon")):
            if end > start:
                axis.axvspan(to_x(start), to_x(end), color=CLOSED_COLOR, zorder=0, linewidth=0, label=label)
    if dated:
        figure.autofmt_xdate()
    axis.set(ylabel="exits per day", xlabel="date" if dated else "day")
    fit_to_estimates(axis, series)
    set_title(axis, title or "Daily throughput over the horizon (95 % CI)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))   # beside: never over a line
    return figure


RUN_FIGURES = {  # file name -> caption, in report order
    "wait_by_hour.png": "Mean wait by hour of arrival per class, with 95 % confidence bands (the axis follows the "
                        "means; wider bands are clipped and marked ▲); closed hours grey, demand peaks amber. Cargo "
                        "classes: their mean time in the cargo backlog beside their checkpoint wait (right).",
    "leaving_by_hour.png": "Share of arrivals lost (balked at a full queue or reneged when their patience ran "
                           "out) and deferred to the next day, by hour of arrival per class, with 95 % confidence "
                           "bands; closed hours grey, demand peaks amber. Only in runs with impatience.",
    "wait_ecdf.png": "Distribution of total waits per class: the share served within 30 and 60 minutes (dots) "
                     "and the share waiting longer (legend).",
    "queues_and_booths.png": "Mean queue length per stage by hour of day (bars) and open booths (red line).",
    "queue_timeline.png": "Queue length per stage hour by hour over the whole horizon (blue, 95 % band) and "
                          "open booths (red); the warm-up is shaded.",
    "utilization_heatmap.png": "Utilization of the open booths (% of open booth time busy), stage by hour of day.",
    "daily_throughput.png": "Exits per day over the whole horizon; warm-up and drain days shaded.",
}


def run_figures_planned(results: "Results") -> list[str]:
    """The file names of the run figures ``results`` can draw, in report order (the entity
    figures only when entities are kept, the timeline only when there is one, who left by hour
    only with impatience)."""
    names = ["wait_by_hour.png", "queues_and_booths.png", "utilization_heatmap.png"]
    if "lost_share" in results.hourly.columns:
        names.insert(1, "leaving_by_hour.png")
    if results.timeline is not None and len(results.timeline):
        names.append("queue_timeline.png")
    if (results.entity_figures.rows if results.entity_figures is not None
            else results.entities is not None and len(results.entities)):
        names += ["wait_ecdf.png", "daily_throughput.png"]
    if has_rail(results.summary):                   # the rail model's figure (rail_figure, at the end)
        names.append("rail.png")
    return names


def run_figure(results: "Results", name: str) -> Figure:
    """One standard figure of a run, by file name (see :data:`RUN_FIGURES`)."""
    scenario = results.scenario
    title, calendar = scenario.crossing.name, scenario.calendar
    peaks = peak_hours(scenario.demand.hour_weights)
    if name == "wait_by_hour.png":
        return hourly_wait_profile(results.hourly, peaks, f"{title}: mean wait by hour of arrival",
                                   summary=results.summary)
    if name == "leaving_by_hour.png":
        return leaving_by_hour(results.hourly, peaks, f"{title}: share of arrivals lost and deferred by hour")
    if name == "queues_and_booths.png":
        return queue_and_staffing(results.hourly, peaks, f"{title}: queues and open booths")
    if name == "utilization_heatmap.png":
        return utilization_heatmap(results.hourly, f"{title}: utilization of open booths, %")
    if name == "queue_timeline.png":
        return queue_timeline(results.timeline, (calendar.warmup_days, calendar.days),
                              f"{title}: queues and open booths over the horizon")
    if name == "wait_ecdf.png":
        summary = results.summary
        backlog = summary[(summary["metric"] == "backlog_time_mean")
                          & summary["group"].isin(of_kinds(summary["group"], "class"))]
        return wait_ecdf(entity_figures(results), title=f"{title}: who waits how long (measured days)",
                         backlog={Group.parse(g).value: m for g, m in zip(backlog["group"], backlog["mean"])})
    if name == "daily_throughput.png":
        return daily_throughput(daily_throughput_table(entity_figures(results), calendar.start_date),
                                measured=(calendar.warmup_days, calendar.days), title=f"{title}: exits per day")
    if name == "rail.png":
        return rail_figure(results.summary, results.timeline, (calendar.warmup_days, calendar.days), title)
    raise KeyError(f"no run figure {name!r}")


def entity_figures(results: "Results") -> EntityFigures | None:
    """What the entity figures of ``results`` are drawn from: ``results.entity_figures``, else its
    entity rows reduced (the waits of the measurement window); None without either."""
    if results.entity_figures is not None or results.entities is None:
        return results.entity_figures
    return EntityFigures.of(results.entities, measurement_window(results.scenario))


def drawable(results: "Results") -> "Results":
    """``results`` with its entity rows reduced to what the figures draw, once (and not kept)."""
    return replace(results, entities=None, entity_figures=entity_figures(results))


def run_figures(results: "Results") -> dict[str, Figure]:
    """The standard figures of a run, by file name (the entity figures only when entities are kept)."""
    results = drawable(results)
    return {name: run_figure(results, name) for name in run_figures_planned(results)}


def rgb_pixels(figure: Figure) -> Image.Image:
    """``figure`` drawn once by Agg at ``DPI`` (its layout engine run in that one draw), as RGB
    pixels: the pixels ``savefig`` would write, without its second, layout-only pass over every
    artist nor a PNG encoded and decoded again (a quarter less time for the run figures)."""
    if figure.dpi != DPI:
        figure.set_dpi(DPI)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1).convert("RGB")


def png_bytes(figure: Figure, close: bool = False) -> bytes:
    """``figure`` as a compact PNG: drawn at ``DPI``, then reduced to a 256-colour palette (a
    third of the size, no visible change for line and bar charts); ``close`` closes the figure."""
    try:
        pixels = rgb_pixels(figure)
    finally:
        if close:
            plt.close(figure)
    palette = pixels.quantize(256, method=Image.Quantize.MEDIANCUT)
    compact = io.BytesIO()
    palette.save(compact, format="png", optimize=True)
    return compact.getvalue()


# --------------------------------------------------------------------------------------------
# forecasts
# --------------------------------------------------------------------------------------------
def forecast_figure(table: pd.DataFrame, title: str = "") -> Figure:
    """Daily counts of a forecast table (``forecast.csv``): the history, the held-back days with
    the forecast made without them, and the forecast dates, each forecast as its P50 line and
    [P10, P90] band."""
    figure, axis = plt.subplots(figsize=(11, 4.2))
    dates = pd.to_datetime(table["date"])
    history = table["part"] == "history"
    axis.plot(dates[history], table.loc[history, "observed"], color="0.55", linewidth=0.8, label="history")
    for part, color, label in (("holdout", "tab:orange", "held-back check"), ("forecast", "tab:blue", "forecast")):
        rows = table["part"] == part
        if not rows.any():
            continue
        axis.fill_between(dates[rows], table.loc[rows, "p10"], table.loc[rows, "p90"], color=color, alpha=0.25,
                          linewidth=0, label=f"{label}: P10-P90")
        axis.plot(dates[rows], table.loc[rows, "p50"], color=color, linewidth=1.4, label=f"{label}: P50")
        axis.plot(dates[rows], table.loc[rows, "p90"], color=color, linewidth=0.8, linestyle="--",
                  label=f"{label}: P90")
        if part == "holdout":
            axis.plot(dates[rows], table.loc[rows, "observed"], "o", color=EVERYONE_COLOR, markersize=2.5,
                      label="held-back days (observed)")
    axis.set_ylabel("count a day")
    axis.set_ylim(bottom=0)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, loc="upper left", ncol=2, frameon=False)
    if title:
        set_title(axis, "\n".join(textwrap.wrap(title, 130)), fontsize=9)
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure


# --------------------------------------------------------------------------------------------
# sweeps
# --------------------------------------------------------------------------------------------
def sweep_parameters(table: pd.DataFrame) -> list[str]:
    """The point-parameter columns of a ``sweep.csv`` table (between ``point`` and ``replications``)."""
    columns = list(table.columns)
    return columns[columns.index("point") + 1:columns.index("replications")]


def parameter_order(values: pd.Series) -> tuple[list, bool]:
    """Distinct values of a parameter in plotting order, and whether they are numbers.

    Numbers sort numerically, durations ("45 s", "2 min") by their length, anything else keeps
    the order of the sweep file.
    """
    distinct = list(dict.fromkeys(values.tolist()))
    numbers = pd.to_numeric(pd.Series(distinct, dtype=object), errors="coerce")
    if not numbers.isna().any():
        return [v for _, v in sorted(zip(numbers, distinct))], True
    try:
        minutes = [parse_duration(str(v)) for v in distinct]
    except (ValueError, TypeError):
        return distinct, False
    return [v for _, v in sorted(zip(minutes, distinct))], False


def _rows(table: pd.DataFrame, metric: str, group: str) -> pd.DataFrame:
    rows = table[(table["metric"] == metric) & (table["group"] == group)]
    if rows.empty:
        raise ValueError(f"the sweep table has no {metric!r} for group {group!r}")
    return rows


def _short(name: str) -> str:
    """A dotted field path's last two parts: ``stages.desk.pools.booths.booths`` -> ``booths.booths``."""
    return ".".join(str(name).split(".")[-2:])


def varying_parameters(table: pd.DataFrame, exclude: Iterable[str] = ()) -> list[str]:
    """The sweep parameters (``variant`` included) that take more than one value in ``table``."""
    exclude = set(exclude)
    return [p for p in sweep_parameters(table) if p not in exclude and table[p].nunique(dropna=False) > 1]


def _as_list(columns: str | Sequence[str] | None) -> list[str]:
    return [] if columns is None else [columns] if isinstance(columns, str) else list(columns)


def _combination_label(columns: list[str], values) -> str:
    values = values if isinstance(values, tuple) else (values,)
    return ", ".join(f"{_short(c)} = {v}" for c, v in zip(columns, values))


def metric_vs_parameter(table: pd.DataFrame, parameter: str, metric: str = "wait_mean", group: str = "all",
                        by: str | Sequence[str] | None = None, target: float | None = None,
                        title: str = "") -> Figure:
    """A sweep metric against one parameter with 95 % CI bands, one line per value (or
    combination of values) of ``by``; fractions are drawn in %.

    Every other parameter that varies must be in ``by``: points are never averaged over a
    dimension, and a ValueError names the dimensions left out. ``target`` draws the
    service-level target as a horizontal line. The axis follows the means (CIs clipped, marked).
    """
    rows = _rows(table, metric, group)
    by = _as_list(by)
    left_out = varying_parameters(rows, [parameter, *by])
    if left_out:
        raise ValueError(f"the sweep also varies {', '.join(left_out)}: pass it as `by` (one line per "
                         f"combination) or select its values first; lines never average over it")
    order, numeric = parameter_order(rows[parameter])
    position = {value: (float(value) if numeric else index) for index, value in enumerate(order)}
    scale, entry = metric_scale(metric), _entry(metric)
    figure, axis = plt.subplots(figsize=(8, 4.5), layout="constrained")
    if len(by) == 1:
        lines = [(value, rows[rows[by[0]] == value]) for value in parameter_order(rows[by[0]])[0]]
    else:
        lines = [(None, rows)] if not by else list(rows.groupby(by, sort=False))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    series = []
    for index, (value, part) in enumerate(lines):
        part = part.assign(_x=part[parameter].map(position)).sort_values("_x")
        color = colors[index % len(colors)]
        axis.plot(part["_x"], scale * part["mean"], marker="o", color=color,
                  label=None if not by else _combination_label(by, value))
        axis.fill_between(part["_x"], scale * part["ci_low"], scale * part["ci_high"], color=color, alpha=0.2,
                          linewidth=0)
        series.append((part["_x"], scale * part["mean"], scale * part["ci_low"], scale * part["ci_high"], color))
    if target is not None:
        axis.axhline(scale * target, color="tab:red", linestyle="--", linewidth=1.2, label=f"target {scale * target:g}")
    if not numeric:
        axis.set_xticks(list(position.values()), [str(v) for v in order])
    elif all(float(v).is_integer() for v in order):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    log = _log_scale_if_spread(axis, scale * rows["mean"])
    fit_to_estimates(axis, series, floor=0.0 if (rows["mean"] >= 0).all() else None,
                     include=[] if target is None else [scale * target])
    axis.set(xlabel=_short(parameter), ylabel=entry.label + log)
    set_title(axis, title or f"{entry.label} ({group_label(group)}) against {_short(parameter)}")
    axis.grid(alpha=0.3)
    if axis.get_legend_handles_labels()[0]:
        axis.legend(fontsize="small")
    return figure


def target_mask(values: np.ndarray, metric: str, target: float) -> np.ndarray | None:
    """Which cells meet ``target`` by the catalogue's direction of ``metric`` (True: met);
    None for a metric with no better direction (nothing to mark). NaN cells are False."""
    entry = _entry(metric)
    if entry.better == "neutral":
        return None
    values = np.asarray(values, dtype=float)
    return np.vectorize(lambda v: bool(np.isfinite(v) and entry.meets(float(v), target)), otypes=[bool])(values) \
        if values.size else np.zeros(values.shape, dtype=bool)


def _target_colors(finite: np.ndarray, target: float, better: str):
    """A norm and colormap that colour cells green on the side of ``target`` that meets it and
    red on the other, the colour changing at the target (yellow), symmetric around it; values
    beyond a quarter or four times the target saturate (their cells still say their value)."""
    span = max(float(np.abs(finite - target).max()), 1e-6 * max(abs(target), 1.0))
    low, high = target - span, target + span
    if target > 0:
        low, high = max(low, target / 4), min(high, 4 * target)
    return TwoSlopeNorm(target, low, high), "RdYlGn_r" if better == "lower" else "RdYlGn"


def _heatmap_panel(axis, values: np.ndarray, x_order: list, y_order: list, norm, colormap, target: float | None,
                   metric: str):
    """One heatmap: cells annotated in the metric's digits, the target level as a dashed contour."""
    image = axis.imshow(values, origin="lower", aspect="auto", cmap=colormap, norm=norm, interpolation="nearest")
    digits = _entry(metric).digits
    for (row, column), value in np.ndenumerate(values):
        if np.isfinite(value):
            axis.text(column, row, f"{value:,.{digits if abs(value) < 100 else 0}f}", ha="center", va="center",
                      fontsize="small", path_effects=[withStroke(linewidth=2.5, foreground="white")])
    finite = values[np.isfinite(values)]
    if target is not None and min(values.shape) >= 2 and finite.size and finite.min() < target < finite.max():
        contour = axis.contour(np.arange(len(x_order)), np.arange(len(y_order)), values, levels=[target],
                               colors="black", linewidths=2, linestyles="--")
        axis.clabel(contour, fmt=lambda level: f"target {level:g}", fontsize="small")
    axis.set_xticks(range(len(x_order)), [str(v) for v in x_order])
    axis.set_yticks(range(len(y_order)), [str(v) for v in y_order])
    return image


def target_note(values: np.ndarray, metric: str, target: float | None) -> str:
    """What the heatmap says about the target: met/missed everywhere, a dashed frontier, or that
    the metric has no better direction (``utilization``: neither more nor less is better)."""
    if target is None:
        return ""
    entry, finite = _entry(metric), np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if entry.better == "neutral":
        return f"; no target marked: {entry.phrase} has no better direction"
    if not finite.size:
        return ""
    met = target_mask(finite, metric, target)
    unit = " %" if entry.percent else f" {entry.unit}" if entry.unit else ""
    if met.all():
        return f" — target met everywhere ({target:g}{unit})"
    if not met.any():
        return f" — target missed everywhere ({target:g}{unit})"
    return f"; dashed line: target {target:g}{unit} ({entry.better} is better)"


def sweep_heatmap(table: pd.DataFrame, x: str, y: str, metric: str = SWEEP_TARGET[0], group: str = "all",
                  target: float | None = SWEEP_TARGET[1], title: str = "", facet: str | None = None) -> Figure:
    """A 2-D sweep as a heatmap of ``metric`` (cells annotated; fractions in %), with the
    ``target`` level drawn as a contour; cells are green where they meet the target and red
    where they miss it, in the catalogue's direction of ``metric`` (``Metric.meets``). A metric
    with no better direction (neutral) gets no marking, and the title says so.

    A third parameter that varies (``variant`` or a grid field) gets one panel per value
    (``facet``, found by itself when there is one); with more, a ValueError names them: cells
    are never averaged over a dimension.
    """
    rows = _rows(table, metric, group)
    extra = varying_parameters(rows, [x, y] + ([facet] if facet else []))
    if facet is None and len(extra) == 1:
        facet, extra = extra[0], []
    if extra:
        raise ValueError(f"the sweep also varies {', '.join(extra)}: a heatmap of {x} x {y} shows one more "
                         "dimension as panels (facet) at most; select its values first, it is never averaged")
    scale, entry = metric_scale(metric), _entry(metric)
    target = None if target is None else scale * target
    x_order, y_order = parameter_order(rows[x])[0], parameter_order(rows[y])[0]
    panels = [(None, rows)] if facet is None else [(value, rows[rows[facet] == value])
                                                   for value in parameter_order(rows[facet])[0]]
    grids = [part.groupby([y, x], sort=False)["mean"].first().unstack(x).reindex(index=y_order, columns=x_order)
             .to_numpy(dtype=float) * scale for _, part in panels]      # one point per cell: nothing to average
    every = np.concatenate([g.ravel() for g in grids])
    finite = every[np.isfinite(every)]
    norm, colormap = None, "viridis_r" if entry.better == "lower" else "viridis"
    if target is not None and entry.better != "neutral" and finite.size:
        norm, colormap = _target_colors(finite, target, entry.better)
    elif finite.size:
        norm = matplotlib.colors.Normalize(finite.min(), finite.max())
    count = len(panels)
    columns = min(count, 3)
    panel_width, panel_height = max(4.5, 1.1 * len(x_order) + 1.5), max(3.2, 0.6 * len(y_order) + 1.6)
    figure, axes = plt.subplots(-(-count // columns), columns, figsize=(panel_width * columns + 1.2,
                                panel_height * -(-count // columns) + 0.6), layout="constrained", squeeze=False)
    for axis, (value, _), values in zip(axes.flat, panels, grids):
        image = _heatmap_panel(axis, values, x_order, y_order, norm, colormap, target, metric)
        axis.set(xlabel=_short(x), ylabel=_short(y))
        if facet is not None:
            set_title(axis, f"{_short(facet)} = {value}", fontsize="medium")
    for axis in axes.flat[count:]:
        axis.set_visible(False)
    heading, note = title or f"{entry.label} ({group_label(group)})", target_note(every, metric, target)
    fits = len(heading + note) <= 10 * figure.get_figwidth()          # else the note on a line of its own
    heading = heading + note if fits else heading + "\n" + note.lstrip(";— ")
    if facet is not None:
        figure.suptitle(heading)
    else:
        set_title(axes[0, 0], heading)
    figure.colorbar(image, ax=axes.ravel().tolist(), label=entry.label, format="%g")
    return figure


def _file_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", str(text)).strip("_") or "parameter"


MAX_LINES = 8     # lines on one sweep figure at most


def sweep_figures(table: pd.DataFrame, metric: str = SWEEP_TARGET[0], target: float | None = SWEEP_TARGET[1],
                  group: str = "all") -> dict[str, Figure]:
    """The standard figures of a sweep: the mean wait, ``metric`` and, with impatience, the share
    lost against each varying parameter (one line per combination of the others, when there are
    at most ``MAX_LINES``),
    and a heatmap with the target contour when two parameters vary (a third as panels)."""
    varying = varying_parameters(table)
    figures: dict[str, Figure] = {}
    for parameter in varying:
        others = [p for p in varying if p != parameter]
        if others and len(table[others].drop_duplicates()) > MAX_LINES:
            continue
        for shown, line in (("wait_mean", None), (metric, target), ("lost_share", None)):   # the last: impatience
            name = f"sweep_{shown}_vs_{_file_safe(_short(parameter))}.png"
            if name not in figures and (table["metric"] == shown).any():
                figures[name] = metric_vs_parameter(table, parameter, shown, group, by=others or None, target=line)
    if 2 <= len(varying) <= 3:
        x, y = varying[-2:] if varying[0] == "variant" else varying[:2]
        figures["sweep_heatmap.png"] = sweep_heatmap(table, x, y, metric, group, target)
        if has_rail(table) and len(varying) == 2:         # the rail model: where the bottleneck is
            figures["rail_bottleneck.png"] = rail_bottleneck_map(table, x, y)
    return figures


# --------------------------------------------------------------------------------------------
# comparisons
# --------------------------------------------------------------------------------------------
def _log_scale_if_spread(axis, values: pd.Series, spread: float = 30.0) -> str:
    """Switch ``axis`` to a log y scale when the largest value is over ``spread`` times the median
    positive one (an overloaded scenario beside a working one); return the label suffix."""
    positive = values[values > 0].dropna()
    if positive.empty or positive.max() <= spread * positive.median():
        return ""
    axis.set_yscale("log")
    axis.set_ylim(bottom=max(positive.min() / 2, 0.1))
    return " (log scale)"


def comparison_figure(summary: pd.DataFrame, differences: pd.DataFrame, hourly: pd.DataFrame,
                      groups: list[str] | None = None, peaks: Sequence[int] | None = None, title: str = "") -> Figure:
    """Scenarios side by side: mean wait per group (bars, 95 % CI), the paired difference of each
    variant from the base (95 % CI), and the hour-of-day wait profile of everyone.

    ``summary`` and ``hourly`` carry a ``scenario`` column (base first); ``differences`` is the
    ``compare.csv`` table; ``peaks`` are the base's demand peak hours. Every value axis follows
    the estimates: intervals wider than about twice the largest estimate are clipped and marked.
    """
    scenarios = list(dict.fromkeys(summary["scenario"]))
    waits = summary[summary["metric"] == "wait_mean"]
    groups = groups or [g for g in dict.fromkeys(waits["group"])
                        if kind(g) in ("all", "class", "green_channel")]
    figure = plt.figure(figsize=(11, 8.2), layout="constrained")
    top, bottom = figure.subfigures(2, 1, height_ratios=[1.15, 1])
    bars, forest = top.subplots(1, 2)
    width = 0.8 / len(scenarios)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    label = catalogue.label("wait_mean")
    series = []
    for index, name in enumerate(scenarios):
        rows = waits[waits["scenario"] == name].set_index("group").reindex(groups)
        centers = np.arange(len(groups)) + (index - (len(scenarios) - 1) / 2) * width
        error = np.vstack([rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]])
        bars.bar(centers, rows["mean"], width, yerr=np.nan_to_num(error).clip(min=0), capsize=2,
                 color=colors[index % len(colors)], label=name)
        series.append((centers, rows["mean"], rows["ci_low"], rows["ci_high"], "0.2"))
    bars.set_xticks(range(len(groups)), [group_label(g) for g in groups], rotation=30, ha="right")
    log = _log_scale_if_spread(bars, waits["mean"])
    fit_to_estimates(bars, series, include=[0])
    bars.set_ylabel(label + log)
    set_title(bars, "Mean wait per group (95 % CI)")
    bars.grid(axis="y", alpha=0.3)
    bars.legend(fontsize="small")

    mean_waits = differences[differences["metric"] == "wait_mean"]
    variants = list(dict.fromkeys(mean_waits["scenario"]))
    height = 0.8 / max(1, len(variants))
    series = []
    for index, name in enumerate(variants):
        rows = mean_waits[mean_waits["scenario"] == name].set_index("group").reindex(groups)
        centers = np.arange(len(groups)) + (index - (len(variants) - 1) / 2) * height
        error = np.vstack([rows["difference"] - rows["ci_low"], rows["ci_high"] - rows["difference"]])
        color = colors[(scenarios.index(name) if name in scenarios else index + 1) % len(colors)]
        forest.errorbar(rows["difference"], centers, xerr=np.nan_to_num(error).clip(min=0), fmt="o", capsize=3,
                        color=color, label=f"{name} − {scenarios[0]}")
        series.append((centers, rows["difference"], rows["ci_low"], rows["ci_high"], color))
    forest.axvline(0, color="black", linewidth=1)
    largest = np.nanmax(np.abs(mean_waits["difference"].to_numpy(dtype=float)), initial=0.0)
    fit_to_estimates(forest, series, vertical=False, floor=None, include=[0],
                     scale=max(largest, 0.1 * np.nanmax(waits["mean"].abs().to_numpy(dtype=float), initial=0.0)))
    forest.set_yticks(range(len(groups)), [group_label(g) for g in groups])
    forest.invert_yaxis()
    forest.set_xlabel("difference in " + label)
    set_title(forest, "Paired difference from the base (95 % CI)")
    forest.grid(axis="x", alpha=0.3)
    forest.legend(fontsize="small")

    profile = bottom.subplots()
    everyone = hourly[hourly["group"] == "all"]
    _shade_day(profile, everyone[everyone["scenario"] == scenarios[0]], peaks)
    series = []
    for index, name in enumerate(scenarios):
        rows = everyone[everyone["scenario"] == name].sort_values("hour")
        color = colors[index % len(colors)]
        profile.plot(rows["hour"] + 0.5, rows["wait_mean"], marker="o", ms=3, color=color, label=name)
        profile.fill_between(rows["hour"] + 0.5, rows["wait_mean_ci_low"], rows["wait_mean_ci_high"],
                             color=color, alpha=0.2, linewidth=0)
        series.append(_band_series(rows, "wait_mean", rows["hour"] + 0.5, color))
    _hour_axis(profile, "hour of arrival")
    log = _log_scale_if_spread(profile, everyone["wait_mean"])
    fit_to_estimates(profile, series)
    profile.set_ylabel(label + log)
    set_title(profile, "Everyone's mean wait by hour of arrival (95 % CI; base's closed hours and peaks shaded)")
    profile.legend(fontsize="small", ncols=2)
    if title:
        figure.suptitle(title)
    return figure


# --------------------------------------------------------------------------------------------
# calibrations
# --------------------------------------------------------------------------------------------
def calibration_figure(table: pd.DataFrame) -> Figure:
    """Each target's band (shaded) against the achieved mean with its 95 % CI, one panel each,
    from a calibration table (``calibration.csv``: the fit run, and the check run if any)."""
    final_run = "check" if (table["run"] == "check").any() else "fit"
    rows = table[table["run"] == final_run].reset_index(drop=True)
    fit_rows = table[table["run"] == "fit"].set_index("target") if final_run == "check" else None
    columns = min(len(rows), 2)
    lines = math.ceil(len(rows) / columns)
    figure, axes = plt.subplots(lines, columns, figsize=(5.2 * columns, 2.1 * lines), squeeze=False)
    for ax, row in zip(axes.ravel(), rows.itertuples()):
        fit = fit_rows.loc[row.target] if fit_rows is not None else None
        finite = [v for v in (row.band_low, row.band_high, row.mean, row.ci_low, row.ci_high) if np.isfinite(v)]
        if fit is not None:
            finite += [v for v in (fit["mean"], fit["ci_low"], fit["ci_high"]) if np.isfinite(v)]
        left, right = (min(finite), max(finite)) if finite else (0.0, 1.0)
        pad = 0.15 * (right - left) or 0.15 * abs(right) or 1.0
        left, right = left - pad, right + pad
        low = row.band_low if np.isfinite(row.band_low) else left
        high = row.band_high if np.isfinite(row.band_high) else right
        ax.axvspan(low, high, color="#cfe8cf", label="target band")
        color = "#2a7a2a" if row.met else "#c0392b"
        if np.isfinite(row.mean):
            error = ([[row.mean - row.ci_low], [row.ci_high - row.mean]] if np.isfinite(row.ci_low) else None)
            ax.errorbar([row.mean], [0], xerr=error, fmt="o", color=color, capsize=5, label=f"{final_run} (95 % CI)")
        if fit is not None and np.isfinite(fit["mean"]):
            error = ([[fit["mean"] - fit["ci_low"]], [fit["ci_high"] - fit["mean"]]]
                     if np.isfinite(fit["ci_low"]) else None)
            ax.errorbar([fit["mean"]], [0.5], xerr=error, fmt="o", mfc="white", color="0.45", capsize=4,
                        label="fit (95 % CI)")
        ax.set_ylim(-0.6, 1.0 if fit is not None else 0.6)
        ax.legend(fontsize=7, loc="upper right", frameon=False, ncol=3)
        ax.set_xlim(left, right)
        ax.set_yticks([])
        ax.set_xlabel(row.unit, fontsize=8)
        selection = row.selection if isinstance(row.selection, str) else ""      # NaN once read from a CSV
        title = f"{row.target}: {row.measure}" + (f" ({selection})" if selection else "")
        set_title(ax, "\n".join(textwrap.wrap(f"{title} — {'met' if row.met else 'NOT MET'}", 65)), fontsize=9,
                  color=color)
        ax.tick_params(labelsize=8)
    for ax in axes.ravel()[len(rows):]:
        ax.set_visible(False)
    figure.suptitle(f"Calibration targets vs achieved ({final_run} run)", fontsize=10)
    figure.tight_layout()
    return figure


def close(figure: Figure) -> None:
    """Release ``figure`` (pyplot keeps every figure it made until closed)."""
    plt.close(figure)


# --------------------------------------------------------------------------------------------
# staffing plans (sim.staffing_planner)
# --------------------------------------------------------------------------------------------
def staffing_booths_figure(before: pd.DataFrame, after: pd.DataFrame) -> Figure:
    """Open booths by hour of day, before (as written) and after the plan, one panel per free
    pool and day type (tables of :func:`sim.staffing_planner.open_booths_by_hour`)."""
    panels = list(after[["pool", "day_type"]].drop_duplicates().itertuples(index=False))
    columns = min(len(panels), 3)
    lines = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(lines, columns, figsize=(4.2 * columns, 2.3 * lines), squeeze=False, sharex=True)
    for ax, (pool, day_type) in zip(axes.ravel(), panels):
        top = 0
        for table, label, color, style in ((before, "before", "0.45", "--"), (after, "after", BOOTHS_COLOR, "-")):
            rows = table[(table["pool"] == pool) & (table["day_type"] == day_type)].sort_values("hour")
            hours = np.append(rows["hour"].to_numpy(), 24)
            booths = np.append(rows["booths"].to_numpy(), rows["booths"].to_numpy()[-1:])
            ax.step(hours, booths, where="post", color=color, linestyle=style, label=label)
            top = max(top, booths.max())
        ax.set_ylim(0, top + 1)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        set_title(ax, pool + ("" if day_type == "all" else f" ({day_type})"), fontsize=9)
        ax.set_xlim(0, 24)
        ax.set_xticks(range(0, 25, 6))
        ax.tick_params(labelsize=8)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    axes.ravel()[0].legend(fontsize=7, frameon=False, loc="upper left")
    figure.supxlabel("hour of day", fontsize=9)
    figure.supylabel("open booths", fontsize=9)
    figure.suptitle("Open booths by hour: before (as written) and after the plan", fontsize=10)
    figure.tight_layout()
    return figure


def staffing_frontier_figure(simulated: pd.DataFrame, theory: pd.DataFrame, target: str, limit: float,
                             unit: str = "min") -> Figure:
    """Booth-hours per day against the service level: every roster the search simulated (its
    worst check's 95 % bound for ``target``), their Pareto front, and the queueing-theory start
    for limits from ``theory`` (a :func:`sim.staffing_planner.frontier_table` and
    :func:`~sim.staffing_planner.theory_frontier`)."""
    figure, ax = plt.subplots(figsize=(6.4, 3.8))
    finite = simulated[np.isfinite(simulated[target])]
    ax.scatter(finite[target], finite["booth_hours"], s=14, c=np.where(finite["all_met"], "#2a7a2a", "0.6"),
               label="simulated rosters (green: every target met)", zorder=3)
    front = finite[finite["pareto"]].sort_values(target)
    ax.step(front[target], front["booth_hours"], where="post", color="#2a7a2a", linewidth=1.2,
            label="Pareto front of the simulated rosters")
    if not theory.empty:
        ax.plot(theory["limit"], theory["booth_hours"], "o--", color="tab:blue", markersize=4,
                label="queueing-theory start (Erlang C / SIPP) at each limit")
    ax.axvline(limit, color=BOOTHS_COLOR, linewidth=1, linestyle=":", label=f"target {limit:g} {unit}")
    ax.set_xlabel(f"{target}: worst 95 % bound over its checks ({unit})", fontsize=9)
    ax.set_ylabel("booth-hours per day (cost-weighted)", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=7, frameon=False)
    set_title(ax, "What each minute of waiting costs in booth-hours", fontsize=10)
    figure.tight_layout()
    return figure


# --------------------------------------------------------------------------------------------
# the rail model (issue 14)
# --------------------------------------------------------------------------------------------
RUN_FIGURES["rail.png"] = ("Rail: trains waiting outside full stations or for the interchange limit, hour by hour "
                           "over the horizon (95 % band; warm-up shaded), and the mean wait per train at each "
                           "station stage and interchange limit (the binding constraint in red).")
RAIL_WAIT_LABELS = {"rail_outside_wait_mean_h": "tracks full at", "rail_stage_wait_mean_h": "stage",
                    "rail_interchange_wait_mean_h": "interchange limit"}


def rail_wait_components(summary: pd.DataFrame) -> pd.DataFrame:
    """What trains wait for, one row each (label, mean, ci_low, ci_high in hours): the tracks of each
    station, each station stage, the interchange limit of each direction."""
    at_stage = summary["metric"].isin(RAIL_WAITS[:2]) & summary["group"].str.startswith("stage=")
    at_gate = (summary["metric"] == RAIL_WAITS[2]) & summary["group"].str.startswith("direction=")
    rows = summary[at_stage | at_gate].copy()
    rows["label"] = [f"{RAIL_WAIT_LABELS[m]} {Group.parse(g).value.removesuffix('_documents')}"
                     if m == RAIL_WAITS[0] else f"{RAIL_WAIT_LABELS[m]} {Group.parse(g).value}"
                     for g, m in zip(rows["group"], rows["metric"])]
    return rows[["label", "mean", "ci_low", "ci_high", "group", "metric"]].reset_index(drop=True)


def rail_figure(summary: pd.DataFrame, timeline: pd.DataFrame | None, measured: tuple[int, int] | None = None,
                title: str = "") -> Figure:
    """Left: trains waiting (outside or for the interchange) over the horizon; right: the mean wait
    per train for each component, the binding constraint highlighted."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4), layout="constrained",
                                         gridspec_kw={"width_ratios": [3, 2]})
    rows = None if timeline is None or "rail_backlog" not in timeline else \
        timeline[(timeline["group"] == "all") & timeline["rail_backlog"].notna()].sort_values("hour")
    if rows is not None and len(rows):
        days = rows["hour"].to_numpy() / 24.0
        if measured is not None and measured[0] > 0:
            left.axvspan(0, measured[0], color="0.9", linewidth=0)
        left.fill_between(days, rows["rail_backlog_ci_low"].clip(lower=0), rows["rail_backlog_ci_high"], step="post",
                          color="tab:brown", alpha=0.25, linewidth=0)
        left.step(days, rows["rail_backlog"], where="post", color="tab:brown", linewidth=1.0)
        left.set_xlim(0, float(rows["hour"].max() + 1) / 24.0)
        clipped = fit_to_estimates(left, [_band_series(rows, "rail_backlog", days + 1 / 48, "tab:brown")],
                                   include=[0, 1])
    else:
        left.set_ylim(bottom=0)
        clipped = 0
    left.set_xlabel("day of the horizon (warm-up shaded)")
    left.set_ylabel("trains waiting")
    set_title(left, "trains waiting outside or for the interchange", loc="left", fontsize="medium")
    left.grid(alpha=0.3)
    components = rail_wait_components(summary)
    binding = binding_constraint(summary)
    colors = ["tab:red" if binding is not None and (group, metric) == (binding.group, binding.metric) else "tab:gray"
              for group, metric in zip(components["group"], components["metric"])]
    positions = np.arange(len(components))
    errors = np.vstack([(components["mean"] - components["ci_low"]).clip(lower=0).fillna(0),
                        (components["ci_high"] - components["mean"]).clip(lower=0).fillna(0)])
    right.barh(positions, components["mean"], xerr=errors, color=colors, capsize=3)
    right.set_yticks(positions, components["label"], fontsize="small")
    right.invert_yaxis()
    clipped += fit_to_estimates(right, [(positions, components["mean"], components["ci_low"], components["ci_high"],
                                         "0.3")], vertical=False, floor=0, include=[0])
    right.set_xlabel("mean wait per train (h)")
    set_title(right, "what trains wait for", loc="left", fontsize="medium")
    right.grid(alpha=0.3, axis="x")
    figure.suptitle((title or "Rail") + (f" — ▲ {CLIPPED_NOTE}" if clipped else ""))
    return figure


def rail_bottleneck_map(table: pd.DataFrame, x: str, y: str, metric: str = "rail_dwell_mean_h",
                        group: str = "all") -> Figure:
    """A sweep over two parameters of a rail scenario: each cell coloured by its binding
    constraint (what trains waited longest for, :func:`sim.rail_metrics.binding_constraint`), with
    that wait and ``metric`` (default: the mean dwell of all trains) written in it."""
    x_order, _ = parameter_order(table[x])
    y_order, _ = parameter_order(table[y])
    cells = {}
    for (x_value, y_value), rows in table.groupby([x, y], sort=False):
        binding = binding_constraint(rows)
        value = rows.loc[(rows["group"] == group) & (rows["metric"] == metric), "mean"]
        cells[x_value, y_value] = (binding, float(value.iloc[0]) if len(value) else np.nan)
    kinds = list(dict.fromkeys(b.what for b, _ in cells.values() if b is not None))
    palette = dict(zip(kinds, plt.get_cmap("tab10").colors))
    figure, axis = plt.subplots(figsize=(1.6 * len(x_order) + 3.5, 0.9 * len(y_order) + 1.8), layout="constrained")
    for i, x_value in enumerate(x_order):
        for j, y_value in enumerate(y_order):
            binding, value = cells.get((x_value, y_value), (None, np.nan))
            color = palette.get(binding.what, "0.9") if binding is not None else "0.9"
            axis.add_patch(matplotlib.patches.Rectangle((i - 0.5, j - 0.5), 1, 1, color=color, alpha=0.55))
            text = f"{value:.2f} h" + (f"\nwait {binding.hours:.2f} h" if binding is not None else "")
            axis.text(i, j, text, ha="center", va="center", fontsize="small")
    axis.set_xlim(-0.5, len(x_order) - 0.5)
    axis.set_ylim(-0.5, len(y_order) - 0.5)
    axis.set_xticks(range(len(x_order)), [str(v) for v in x_order])
    axis.set_yticks(range(len(y_order)), [str(v) for v in y_order])
    axis.set_xlabel(x.removeprefix("rail."))
    axis.set_ylabel(y.removeprefix("rail."))
    handles = [matplotlib.patches.Patch(color=palette[k], alpha=0.55, label=k) for k in kinds]
    axis.legend(handles=handles, title="binding constraint", fontsize="small", loc="upper left",
                bbox_to_anchor=(1.01, 1.0))
    who = "all trains" if group == "all" else group_label(group)
    set_title(axis, f"binding constraint per point; in each cell: {catalogue.label(metric)} ({who}) "
              "and the binding wait per train", fontsize="medium", loc="left")
    return figure


_warmed = False         # whether this process has called warm_up


def warm_up(pause: float = 0.1) -> None:
    """Nothing but what importing this module does (matplotlib, PIL) and giving freed memory back:
    a worker that falls idle during a run's last replications calls it, so that the figures it
    draws next do not wait for the imports, and every worker is offered it again as the last
    replication finishes (:meth:`~sim.executors.LocalPoolExecutor.when_idle`). A pool hands a
    call to whichever worker asks first, often the one already warm: called again, it pauses
    ``pause`` seconds, so that the next call goes to another worker."""
    global _warmed
    if _warmed:
        time.sleep(pause)
    _warmed = True
    return_freed_memory()


def run_figure_png(results: "Results", name: str) -> bytes:
    """One run figure (:func:`run_figure`) rendered to PNG and closed: a task a worker process
    can run (it returns bytes, not a figure)."""
    return png_bytes(run_figure(results, name), close=True)
