"""Figures from the results tables: pure functions that take DataFrames and return a Figure.

A researcher can call them in a notebook on the tables of ``sim.run`` / ``sim.load_results``, a
sweep's ``sweep.csv`` or a comparison; ``save_run_figures`` and ``save_sweep_figures`` write the
standard sets as PNG files. Nothing here runs a model: closed hours and per-day counts are read
from the tables themselves; demand peaks come from the scenario's hour weights when given (else
they are estimated from the simulated arrivals).
"""
from __future__ import annotations

import datetime as dt
import io
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import BoundaryNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patheffects import withStroke  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from PIL import Image  # noqa: E402  (matplotlib's own dependency)

from .calendar import MINUTES_PER_DAY  # noqa: E402
from .stats import mean_ci  # noqa: E402

if TYPE_CHECKING:
    from .runner import Results

DPI = 100                                  # with a 256-colour palette: ~40-60 KB per PNG
SERVICE_LEVEL_MARKS = (30.0, 60.0)         # minutes: shares waiting longer are marked on the ECDF
PEAK_FACTOR = 1.5                          # a peak hour has 1.5x the mean demand of the hours with demand
SWEEP_TARGET = ("wait_p90", 60.0)          # service-level target drawn on sweep heatmaps
CLOSED_COLOR, PEAK_COLOR = "0.88", "#fde9c4"

METRIC_LABELS = {
    "wait_mean": "mean wait (min)", "wait_p50": "median wait (min)", "wait_p90": "90th-percentile wait (min)",
    "wait_p95": "95th-percentile wait (min)", "wait_max": "longest wait (min)",
    "share_wait_over_60min": "share waiting over 60 min", "throughput_per_day": "throughput (per day)",
    "persons_per_day": "persons per day", "utilization": "utilization", "queue_length_mean": "mean queue length",
    "queue_length_max": "longest queue", "time_in_system_mean": "mean time in system (min)",
    "backlog_time_mean": "mean time in the cargo backlog (min)", "unfinished": "still inside at the end",
}


def group_label(group: str) -> str:
    """``class=car`` -> ``car``; ``all`` -> ``everyone``; other groups as written."""
    if group == "all":
        return "everyone"
    key, _, value = group.partition("=")
    if key == "green_channel":
        return "green-channel eligible" if value == "eligible" else "not eligible"
    if key == "direction":
        return value.replace("_to_", " → ")
    if key == "day":
        return f"{value}s"
    return value.replace("_", " ") if key in ("class", "stage") else group


def _groups(table: pd.DataFrame, prefix: str) -> list[str]:
    return [g for g in dict.fromkeys(table["group"]) if str(g).startswith(prefix)]


# --------------------------------------------------------------------------------------------
# what the hourly table says about the day: closed hours and peaks
# --------------------------------------------------------------------------------------------
def closed_hours(hourly: pd.DataFrame) -> list[int]:
    """Hours of the day with no booth open anywhere (group ``all``, staffed booths 0)."""
    rows = hourly[hourly["group"] == "all"]
    if rows.empty or "staffed_booths" not in rows:
        return []
    return sorted(int(h) for h in rows.loc[rows["staffed_booths"].fillna(0) <= 1e-9, "hour"])


def peak_hours(weights: Sequence[float], factor: float = PEAK_FACTOR) -> list[int]:
    """Hours of the day whose demand weight is at least ``factor`` times the mean weight of the
    hours with demand (pass ``demand.hour_weights``, or arrivals per hour from a table)."""
    weights = np.nan_to_num(np.asarray(weights, dtype=float))
    busy = weights[weights > 0]
    return [] if busy.size == 0 else [int(h) for h in np.flatnonzero(weights >= factor * busy.mean())]


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


def _hour_axis(axis, label: str = "hour of day") -> None:
    axis.set(xlim=(0, 24), xticks=range(0, 25, 3), xlabel=label)
    axis.grid(alpha=0.3)


# --------------------------------------------------------------------------------------------
# figures of one run
# --------------------------------------------------------------------------------------------
def hourly_wait_profile(hourly: pd.DataFrame, peaks: Sequence[int] | None = None, title: str = "") -> Figure:
    """Mean wait by hour of arrival, one line per class with its 95 % CI band; closed hours and
    demand ``peaks`` (hours of the day; default: estimated from the arrivals) shaded."""
    figure, axis = plt.subplots(figsize=(9, 4.5), layout="constrained")
    _shade_day(axis, hourly, peaks)
    for group in _groups(hourly, "class=") or ["all"]:
        rows = hourly[hourly["group"] == group].sort_values("hour")
        line, = axis.plot(rows["hour"] + 0.5, rows["wait_mean"], marker="o", ms=3, label=group_label(group))
        axis.fill_between(rows["hour"] + 0.5, rows["wait_mean_ci_low"], rows["wait_mean_ci_high"],
                          color=line.get_color(), alpha=0.2, linewidth=0)
    _hour_axis(axis, "hour of arrival")
    axis.set(ylabel="mean wait (min)", title=title or "Mean checkpoint wait by hour of arrival (95 % CI)")
    axis.set_ylim(bottom=0)
    axis.legend(fontsize="small", ncols=2)
    return figure


def queue_and_staffing(hourly: pd.DataFrame, peaks: Sequence[int] | None = None, title: str = "") -> Figure:
    """Mean queue length by hour per stage (bars, 95 % CI whiskers), open booths on a second axis;
    closed hours and demand ``peaks`` shaded."""
    stages = _groups(hourly, "stage=")
    columns = 2 if len(stages) > 3 else 1
    rows_count = max(1, -(-len(stages) // columns))
    size = (5.2 * columns if columns > 1 else 9, 1.9 * rows_count + 0.9)
    figure, axes = plt.subplots(rows_count, columns, figsize=size, sharex=True, layout="constrained", squeeze=False)
    for axis, group in zip(axes.flat, stages):
        rows = hourly[hourly["group"] == group].sort_values("hour")
        _shade_day(axis, hourly, peaks, legend=False)
        error = np.vstack([rows["queue_length_mean"] - rows["queue_length_mean_ci_low"],
                           rows["queue_length_mean_ci_high"] - rows["queue_length_mean"]]).clip(min=0)
        axis.bar(rows["hour"] + 0.5, rows["queue_length_mean"], width=0.8, color="tab:blue", alpha=0.75,
                 yerr=np.nan_to_num(error), error_kw={"elinewidth": 0.6, "capsize": 0, "ecolor": "0.3"})
        axis.set_ylabel("queue", fontsize="small")
        axis.set_title(group_label(group), loc="left")
        axis.set_ylim(bottom=0)
        booths = axis.twinx()
        booths.step(np.append(rows["hour"], 24), np.append(rows["staffed_booths"], rows["staffed_booths"].iloc[-1]),
                    where="post", color="tab:red")
        booths.set_ylabel("booths", fontsize="small", color="tab:red")
        booths.set_ylim(0, max(1.0, float(rows["staffed_booths"].max())) * 1.15)
        booths.yaxis.set_major_locator(MaxNLocator(integer=True))
        _hour_axis(axis, "")
    for axis in axes.flat[len(stages):]:
        axis.set_visible(False)
    for column in range(min(columns, len(stages))):      # the lowest drawn axis of each column gets the labels
        lowest = axes[(len(stages) - 1 - column) // columns, column]
        lowest.tick_params(labelbottom=True)
        lowest.set_xlabel("hour of day")
    figure.suptitle(title or "Mean queue length (bars) and open booths (red line) by hour of day")
    return figure


def queue_timeline(timeline: pd.DataFrame, measured: tuple[int, int] | None = None, title: str = "") -> Figure:
    """Mean queue length over the whole horizon, hour by hour, per stage (line, 95 % CI band),
    with open booths on a second axis; the warm-up is shaded."""
    stages = _groups(timeline, "stage=")
    figure, axes = plt.subplots(len(stages), 1, figsize=(10, 1.7 * len(stages) + 0.9), sharex=True,
                                layout="constrained", squeeze=False)
    for axis, group in zip(axes[:, 0], stages):
        rows = timeline[timeline["group"] == group].sort_values("hour")
        days = rows["hour"].to_numpy() / 24.0
        if measured is not None and measured[0] > 0:
            axis.axvspan(0, measured[0], color="0.9", linewidth=0)
        axis.fill_between(days, rows["queue_length_mean_ci_low"].clip(lower=0), rows["queue_length_mean_ci_high"],
                          step="post", color="tab:blue", alpha=0.2, linewidth=0)
        axis.step(days, rows["queue_length_mean"], where="post", color="tab:blue", linewidth=0.9)
        axis.set_ylabel("queue", fontsize="small")
        axis.set_title(group_label(group), loc="left")
        axis.set_ylim(0, max(1.0, float(rows["queue_length_mean"].max()) * 1.3))   # the mean sets the scale
        booths = axis.twinx()
        booths.step(days, rows["staffed_booths"], where="post", color="tab:red", linewidth=0.8)
        booths.set_ylabel("booths", fontsize="small", color="tab:red")
        booths.set_ylim(0, max(1.0, float(rows["staffed_booths"].max())) * 1.15)
        booths.yaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
    last = axes[-1, 0]
    last.set_xlim(0, float(timeline["hour"].max() + 1) / 24.0)
    last.set_xlabel("day of the horizon (warm-up shaded)")
    figure.suptitle(title or "Queue length (blue) and open booths (red) over the horizon")
    return figure


def utilization_heatmap(hourly: pd.DataFrame, title: str = "") -> Figure:
    """Busy share of the open booths, stage x hour of day (blank where no booth is open)."""
    stages = _groups(hourly, "stage=")
    matrix = np.full((len(stages), 24), np.nan)
    for row, group in enumerate(stages):
        rows = hourly[hourly["group"] == group]
        matrix[row, rows["hour"].astype(int)] = rows["utilization"]
    figure, axis = plt.subplots(figsize=(9, 0.36 * len(stages) + 1.5), layout="constrained")
    colormap = matplotlib.colormaps["YlOrRd"].with_extremes(bad="0.92")
    image = axis.imshow(np.ma.masked_invalid(matrix), aspect="auto", cmap=colormap, vmin=0, vmax=1,
                        extent=(0, 24, len(stages), 0), interpolation="nearest")
    axis.set(xticks=range(0, 25, 3), yticks=np.arange(len(stages)) + 0.5,
             yticklabels=[group_label(g) for g in stages], xlabel="hour of day",
             title=title or "Utilization of open booths by stage and hour, % (grey: closed)")
    axis.tick_params(axis="y", labelsize="small")
    if len(stages) <= 14:
        for (row, hour), value in np.ndenumerate(matrix):
            if np.isfinite(value):
                axis.text(hour + 0.5, row + 0.5, f"{100 * value:.0f}", ha="center", va="center", fontsize=7,
                          color="white" if value > 0.6 else "black")
    figure.colorbar(image, ax=axis, label="busy / open booth time", shrink=0.9)
    return figure


def _in_window(entities: pd.DataFrame, window: tuple[float, float] | None) -> pd.DataFrame:
    if window is None:
        return entities
    arrival = entities["arrival_min"]
    return entities[(arrival >= window[0]) & (arrival < window[1])]


def wait_ecdf(entities: pd.DataFrame, marks: tuple[float, ...] = SERVICE_LEVEL_MARKS,
              window: tuple[float, float] | None = None, title: str = "") -> Figure:
    """Empirical CDF of the total wait per class, with the share waiting over each mark.

    ``window`` (minutes) keeps the entities that arrive in it (the measurement window).
    """
    figure, axis = plt.subplots(figsize=(9, 4.5), layout="constrained")
    finished = _in_window(entities, window).dropna(subset=["wait_total"])
    longest = 0.0
    for name, rows in finished.groupby("class", sort=False):
        waits = np.sort(rows["wait_total"].to_numpy())
        shares = np.arange(1, len(waits) + 1) / len(waits)
        over = ", ".join(f"{100 * np.mean(waits > mark):.0f} % > {mark:g}" for mark in marks)
        line, = axis.step(waits, shares, where="post", label=f"{name}: {over} min")
        at_marks = [np.searchsorted(waits, mark, side="right") / len(waits) for mark in marks]
        axis.plot(marks, at_marks, "o", color=line.get_color(), ms=5)
        longest = max(longest, float(np.percentile(waits, 99.5)))
    for mark in marks:
        axis.axvline(mark, color="grey", linestyle="--", linewidth=1)
    axis.set(xlabel="total wait (min)", ylabel="share of travelers waiting at most this long", ylim=(0, 1.01),
             title=title or "Who waits how long (dots: share served within each service-level mark)")
    axis.set_xlim(0, max(longest, 1.2 * max(marks)))
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small", loc="lower right")
    return figure


def daily_throughput_table(entities: pd.DataFrame, start_date: dt.date | None = None) -> pd.DataFrame:
    """Exits per simulated day (``exit_min // 1440``) for ``all`` and each class: mean over
    replications with its 95 % CI. Columns: day, [date,] group, mean, ci_low, ci_high."""
    finished = entities.dropna(subset=["exit_min"])
    replications = sorted(entities["replication"].unique())
    days = np.arange(int(finished["exit_min"].max() // MINUTES_PER_DAY) + 1 if len(finished) else 0)
    day_of_exit = (finished["exit_min"] // MINUTES_PER_DAY).astype(int)
    rows = []
    selections = [("all", slice(None))] + [(f"class={name}", finished["class"] == name)
                                           for name in dict.fromkeys(entities["class"])]
    for group, selection in selections:
        counts = pd.crosstab(finished["replication"][selection], day_of_exit[selection])
        counts = counts.reindex(index=replications, columns=days, fill_value=0).to_numpy(dtype=float)
        for day in days:
            rows.append((int(day), group, *mean_ci(counts[:, day])))
    table = pd.DataFrame(rows, columns=["day", "group", "mean", "ci_low", "ci_high"])
    if start_date is not None:
        table.insert(1, "date", [start_date + dt.timedelta(days=int(d)) for d in table["day"]])
    return table


def daily_throughput(daily: pd.DataFrame, measured: tuple[int, int] | None = None, title: str = "") -> Figure:
    """Exits per day over the horizon, everyone and each class, with 95 % CI bands.

    ``measured`` = (first, end) day of the measurement window; the days outside it are shaded.
    """
    figure, axis = plt.subplots(figsize=(9, 4.2), layout="constrained")
    dated = "date" in daily.columns
    x_of = (lambda rows: pd.to_datetime(rows["date"])) if dated else (lambda rows: rows["day"] + 0.5)
    for group in ["all", *_groups(daily, "class=")]:
        rows = daily[daily["group"] == group].sort_values("day")
        if rows.empty:
            continue
        style = {"color": "black", "linewidth": 2} if group == "all" else {"linewidth": 1.2}
        line, = axis.plot(x_of(rows), rows["mean"], marker="o", ms=2.5, label=group_label(group), **style)
        axis.fill_between(x_of(rows), rows["ci_low"], rows["ci_high"], color=line.get_color(), alpha=0.15, linewidth=0)
    if measured is not None and not daily.empty:
        first_day = daily["date"].min() if dated else None
        to_x = (lambda d: pd.Timestamp(first_day) + pd.Timedelta(days=d - 0.5)) if dated else (lambda d: d)
        last = int(daily["day"].max()) + 1
        for start, end, label in ((0, measured[0], "warm-up"), (measured[1], last, "after the horizon")):
            if end > start:
                axis.axvspan(to_x(start), to_x(end), color=CLOSED_COLOR, zorder=0, linewidth=0, label=label)
    if dated:
        figure.autofmt_xdate()
    axis.set(ylabel="exits per day", xlabel="date" if dated else "day",
             title=title or "Daily throughput over the horizon (95 % CI)")
    axis.set_ylim(bottom=0)
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small", ncols=3)
    return figure


RUN_FIGURES = {  # file name -> caption, in report order
    "wait_by_hour.png": "Mean wait by hour of arrival per class, with 95 % confidence bands; closed hours "
                        "grey, demand peaks amber.",
    "wait_ecdf.png": "Distribution of total waits per class: the share served within 30 and 60 minutes (dots) "
                     "and the share waiting longer (legend).",
    "queues_and_booths.png": "Mean queue length per stage by hour of day (bars) and open booths (red line).",
    "queue_timeline.png": "Queue length per stage hour by hour over the whole horizon (blue, 95 % band) and "
                          "open booths (red); the warm-up is shaded.",
    "utilization_heatmap.png": "Utilization of the open booths, stage by hour of day.",
    "daily_throughput.png": "Exits per day over the whole horizon; warm-up and drain days shaded.",
}


def run_figures(results: "Results") -> dict[str, Figure]:
    """The standard figures of a run, by file name (the entity figures only when entities are kept)."""
    scenario = results.scenario
    name, calendar = scenario.crossing.name, scenario.calendar
    peaks = peak_hours(scenario.demand.hour_weights)
    figures = {"wait_by_hour.png": hourly_wait_profile(results.hourly, peaks, f"{name}: mean wait by hour of arrival"),
               "queues_and_booths.png": queue_and_staffing(results.hourly, peaks, f"{name}: queues and open booths"),
               "utilization_heatmap.png": utilization_heatmap(results.hourly, f"{name}: utilization of open booths, %")}
    if results.timeline is not None and len(results.timeline):
        figures["queue_timeline.png"] = queue_timeline(results.timeline, (calendar.warmup_days, calendar.days),
                                                       f"{name}: queues and open booths over the horizon")
    if results.entities is not None and len(results.entities):
        window = (calendar.warmup_days * MINUTES_PER_DAY, calendar.days * MINUTES_PER_DAY)
        figures["wait_ecdf.png"] = wait_ecdf(results.entities, window=window,
                                             title=f"{name}: who waits how long (measured days)")
        figures["daily_throughput.png"] = daily_throughput(
            daily_throughput_table(results.entities, calendar.start_date),
            measured=(calendar.warmup_days, calendar.days), title=f"{name}: exits per day")
    return figures


def png_bytes(figure: Figure) -> bytes:
    """``figure`` as a compact PNG: drawn at ``DPI``, then reduced to a 256-colour palette (a
    third of the size, no visible change for line and bar charts)."""
    drawn = io.BytesIO()
    figure.savefig(drawn, format="png", dpi=DPI)
    palette = Image.open(drawn).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    compact = io.BytesIO()
    palette.save(compact, format="png", optimize=True)
    return compact.getvalue()


def save_figure(figure: Figure, path: str | os.PathLike) -> Path:
    """Write ``figure`` as PNG under a temporary name, rename it into place and close it."""
    from .outputs import atomic_file

    try:
        with atomic_file(path) as staging:
            staging.write_bytes(png_bytes(figure))
    finally:
        plt.close(figure)
    return Path(path)


def save_figures(figures: dict[str, Figure], folder: str | os.PathLike) -> list[Path]:
    """Write each figure as ``folder/<file name>``."""
    return [save_figure(figure, Path(folder) / file_name) for file_name, figure in figures.items()]


def save_run_figures(results: "Results", folder: Path) -> list[Path]:
    """Write the standard figures of a run as PNG files into ``folder``."""
    return save_figures(run_figures(results), folder)


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
    from .scenario.units import parse_duration
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


def metric_vs_parameter(table: pd.DataFrame, parameter: str, metric: str = "wait_mean", group: str = "all",
                        by: str | None = None, target: float | None = None, title: str = "") -> Figure:
    """A sweep metric against one parameter with 95 % CI bands, one line per value of ``by``.

    ``target`` draws the service-level target as a horizontal line.
    """
    rows = _rows(table, metric, group)
    order, numeric = parameter_order(rows[parameter])
    position = {value: (float(value) if numeric else index) for index, value in enumerate(order)}
    figure, axis = plt.subplots(figsize=(8, 4.5), layout="constrained")
    lines = [(None, rows)] if by is None else [(value, rows[rows[by] == value])
                                               for value in parameter_order(rows[by])[0]]
    for value, part in lines:
        part = part.assign(_x=part[parameter].map(position)).sort_values("_x")
        line, = axis.plot(part["_x"], part["mean"], marker="o", label=None if by is None else f"{_short(by)} = {value}")
        axis.fill_between(part["_x"], part["ci_low"], part["ci_high"], color=line.get_color(), alpha=0.2, linewidth=0)
    if target is not None:
        axis.axhline(target, color="tab:red", linestyle="--", linewidth=1.2, label=f"target {target:g}")
    if not numeric:
        axis.set_xticks(list(position.values()), [str(v) for v in order])
    elif all(float(v).is_integer() for v in order):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set(xlabel=_short(parameter),
             ylabel=METRIC_LABELS.get(metric, metric) + _log_scale_if_spread(axis, rows["mean"]),
             title=title or f"{METRIC_LABELS.get(metric, metric)} ({group_label(group)}) against {_short(parameter)}")
    axis.grid(alpha=0.3)
    if by is not None or target is not None:
        axis.legend(fontsize="small")
    return figure


def sweep_heatmap(table: pd.DataFrame, x: str, y: str, metric: str = SWEEP_TARGET[0], group: str = "all",
                  target: float | None = SWEEP_TARGET[1], title: str = "") -> Figure:
    """A 2-D sweep as a heatmap of ``metric`` (cells annotated), with the ``target`` level drawn
    as a contour; cells are green where they meet the target (``metric`` at most ``target``),
    red where they miss it."""
    rows = _rows(table, metric, group)
    x_order, y_order = parameter_order(rows[x])[0], parameter_order(rows[y])[0]
    grid = rows.groupby([y, x], sort=False)["mean"].mean().unstack(x).reindex(index=y_order, columns=x_order)
    values = grid.to_numpy(dtype=float)
    figure, axis = plt.subplots(figsize=(max(5.5, 1.1 * len(x_order) + 2.5), max(3.5, 0.6 * len(y_order) + 1.8)),
                                layout="constrained")
    finite = values[np.isfinite(values)]
    norm, colormap = None, "viridis_r"
    if target is not None and target > 0 and finite.size:     # green meets the target, red misses it
        bounds = target * np.array([0, 0.25, 0.5, 0.75, 1, 1.5, 2, 4])
        bounds = np.append(np.minimum(bounds[0], finite.min()), np.append(bounds[1:], max(8 * target, finite.max())))
        norm, colormap = BoundaryNorm(bounds, 256), "RdYlGn_r"
    image = axis.imshow(values, origin="lower", aspect="auto", cmap=colormap, norm=norm, interpolation="nearest")
    for (row, column), value in np.ndenumerate(values):
        if np.isfinite(value):
            axis.text(column, row, f"{value:.1f}" if abs(value) < 100 else f"{value:,.0f}", ha="center",
                      va="center", fontsize="small", path_effects=[withStroke(linewidth=2.5, foreground="white")])
    note = ""
    if target is not None and finite.size:
        if min(values.shape) >= 2 and finite.min() < target < finite.max():
            contour = axis.contour(np.arange(len(x_order)), np.arange(len(y_order)), values, levels=[target],
                                   colors="black", linewidths=2, linestyles="--")
            axis.clabel(contour, fmt=lambda level: f"target {level:g}", fontsize="small")
        else:
            note = " — target met everywhere" if finite.max() <= target else \
                " — target missed everywhere" if finite.min() > target else ""
    axis.set_xticks(range(len(x_order)), [str(v) for v in x_order])
    axis.set_yticks(range(len(y_order)), [str(v) for v in y_order])
    axis.set(xlabel=_short(x), ylabel=_short(y),
             title=(title or f"{METRIC_LABELS.get(metric, metric)} ({group_label(group)})") +
             (f"; dashed line: target {target:g}" if target is not None and not note else note))
    figure.colorbar(image, ax=axis, label=METRIC_LABELS.get(metric, metric), format="%g")
    return figure


def _file_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", str(text)).strip("_") or "parameter"


def sweep_figures(table: pd.DataFrame, metric: str = SWEEP_TARGET[0], target: float | None = SWEEP_TARGET[1],
                  group: str = "all") -> dict[str, Figure]:
    """The standard figures of a sweep: the mean wait and ``metric`` against each varying
    parameter (one line per value of the next one), and a heatmap with the target contour when
    two parameters vary."""
    varying = [p for p in sweep_parameters(table) if table[p].nunique(dropna=False) > 1]
    figures: dict[str, Figure] = {}
    for index, parameter in enumerate(varying):
        others = [p for p in varying if p != parameter]
        by = others[0] if others and table[others[0]].nunique() <= 8 else None
        for shown, line in (("wait_mean", None), (metric, target)):
            name = f"sweep_{shown}_vs_{_file_safe(_short(parameter))}.png"
            if name not in figures:
                figures[name] = metric_vs_parameter(table, parameter, shown, group, by=by, target=line)
    if len(varying) >= 2:
        figures["sweep_heatmap.png"] = sweep_heatmap(table, varying[0], varying[1], metric, group, target)
    return figures


def save_sweep_figures(table: pd.DataFrame, folder: str | os.PathLike, metric: str = SWEEP_TARGET[0],
                       target: float | None = SWEEP_TARGET[1]) -> list[Path]:
    """Write the standard sweep figures as PNG files into ``folder``."""
    return save_figures(sweep_figures(table, metric, target), folder)


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
    ``compare.csv`` table; ``peaks`` are the base's demand peak hours.
    """
    scenarios = list(dict.fromkeys(summary["scenario"]))
    waits = summary[summary["metric"] == "wait_mean"]
    groups = groups or [g for g in dict.fromkeys(waits["group"])
                        if g == "all" or g.startswith(("class=", "green_channel="))]
    figure = plt.figure(figsize=(11, 8.2), layout="constrained")
    top, bottom = figure.subfigures(2, 1, height_ratios=[1.15, 1])
    bars, forest = top.subplots(1, 2)
    width = 0.8 / len(scenarios)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, name in enumerate(scenarios):
        rows = waits[waits["scenario"] == name].set_index("group").reindex(groups)
        centers = np.arange(len(groups)) + (index - (len(scenarios) - 1) / 2) * width
        error = np.vstack([rows["mean"] - rows["ci_low"], rows["ci_high"] - rows["mean"]])
        bars.bar(centers, rows["mean"], width, yerr=np.nan_to_num(error).clip(min=0), capsize=2,
                 color=colors[index % len(colors)], label=name)
    bars.set_xticks(range(len(groups)), [group_label(g) for g in groups], rotation=30, ha="right")
    bars.set(ylabel="mean wait (min)" + _log_scale_if_spread(bars, waits["mean"]),
             title="Mean wait per group (95 % CI)")
    bars.grid(axis="y", alpha=0.3)
    bars.legend(fontsize="small")

    mean_waits = differences[differences["metric"] == "wait_mean"]
    variants = list(dict.fromkeys(mean_waits["scenario"]))
    height = 0.8 / max(1, len(variants))
    for index, name in enumerate(variants):
        rows = mean_waits[mean_waits["scenario"] == name].set_index("group").reindex(groups)
        centers = np.arange(len(groups)) + (index - (len(variants) - 1) / 2) * height
        error = np.vstack([rows["difference"] - rows["ci_low"], rows["ci_high"] - rows["difference"]])
        forest.errorbar(rows["difference"], centers, xerr=np.nan_to_num(error).clip(min=0), fmt="o", capsize=3,
                        color=colors[(scenarios.index(name) if name in scenarios else index + 1) % len(colors)],
                        label=f"{name} − {scenarios[0]}")
    forest.axvline(0, color="black", linewidth=1)
    forest.set_yticks(range(len(groups)), [group_label(g) for g in groups])
    forest.invert_yaxis()
    forest.set(xlabel="difference in mean wait (min)", title="Paired difference from the base (95 % CI)")
    forest.grid(axis="x", alpha=0.3)
    forest.legend(fontsize="small")

    profile = bottom.subplots()
    everyone = hourly[hourly["group"] == "all"]
    _shade_day(profile, everyone[everyone["scenario"] == scenarios[0]], peaks)
    for index, name in enumerate(scenarios):
        rows = everyone[everyone["scenario"] == name].sort_values("hour")
        profile.plot(rows["hour"] + 0.5, rows["wait_mean"], marker="o", ms=3, color=colors[index % len(colors)],
                     label=name)
        profile.fill_between(rows["hour"] + 0.5, rows["wait_mean_ci_low"], rows["wait_mean_ci_high"],
                             color=colors[index % len(colors)], alpha=0.2, linewidth=0)
    _hour_axis(profile, "hour of arrival")
    profile.set_ylim(bottom=0)
    profile.set(ylabel="mean wait (min)" + _log_scale_if_spread(profile, everyone["wait_mean"]),
                title="Everyone's mean wait by hour of arrival (95 % CI; base's closed hours and peaks shaded)")
    profile.legend(fontsize="small", ncols=2)
    if title:
        figure.suptitle(title)
    return figure
