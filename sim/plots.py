"""Figures from the results tables: pure functions that take DataFrames and return a Figure.

A researcher can call them in a notebook; ``save_run_figures`` writes the standard set of a run
as PNG files.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

if TYPE_CHECKING:
    from .runner import Results


def hourly_wait_profile(hourly: pd.DataFrame, title: str = "") -> Figure:
    """Mean wait by hour of arrival, one line per class, with its 95 % CI band."""
    figure, axis = plt.subplots(figsize=(9, 4.5), layout="constrained")
    groups = [g for g in hourly["group"].unique() if g.startswith("class=")] or ["all"]
    for group in groups:
        rows = hourly[hourly["group"] == group].sort_values("hour")
        line, = axis.plot(rows["hour"] + 0.5, rows["wait_mean"], marker="o", ms=3, label=group.split("=", 1)[-1])
        axis.fill_between(rows["hour"] + 0.5, rows["wait_mean_ci_low"], rows["wait_mean_ci_high"],
                          color=line.get_color(), alpha=0.2, linewidth=0)
    axis.set(xlim=(0, 24), xticks=range(0, 25, 3), xlabel="hour of arrival", ylabel="mean wait (min)",
             title=title or "Mean checkpoint wait by hour of arrival (95 % CI)")
    axis.grid(alpha=0.3)
    axis.legend(title="class", fontsize="small")
    return figure


def queue_and_staffing(hourly: pd.DataFrame, title: str = "") -> Figure:
    """Mean queue length by hour per stage, with open booths on a second axis."""
    stages = [g for g in hourly["group"].unique() if g.startswith("stage=")]
    figure, axes = plt.subplots(len(stages), 1, figsize=(9, 1.9 * len(stages) + 0.8), sharex=True,
                                layout="constrained", squeeze=False)
    for axis, group in zip(axes[:, 0], stages):
        rows = hourly[hourly["group"] == group].sort_values("hour")
        axis.bar(rows["hour"] + 0.5, rows["queue_length_mean"], width=0.8, color="tab:blue", alpha=0.7)
        axis.set_ylabel("queue", fontsize="small")
        axis.set_title(group.split("=", 1)[1], fontsize="small", loc="left")
        booths = axis.twinx()
        booths.step(np.append(rows["hour"], 24), np.append(rows["staffed_booths"], rows["staffed_booths"].iloc[-1]),
                    where="post", color="tab:red")
        booths.set_ylabel("booths", fontsize="small", color="tab:red")
        booths.set_ylim(bottom=0)
    axes[-1, 0].set(xlim=(0, 24), xticks=range(0, 25, 3), xlabel="hour of day")
    figure.suptitle(title or "Mean queue length (bars) and open booths (line) by hour")
    return figure


def wait_ecdf(entities: pd.DataFrame, marks: tuple[float, ...] = (30.0, 60.0), title: str = "") -> Figure:
    """Empirical CDF of the total wait per class, with service-level markers."""
    figure, axis = plt.subplots(figsize=(8, 4.5), layout="constrained")
    finished = entities.dropna(subset=["wait_total"])
    for name, rows in finished.groupby("class", sort=False):
        waits = np.sort(rows["wait_total"].to_numpy())
        axis.step(waits, np.arange(1, len(waits) + 1) / len(waits), where="post",
                  label=f"{name} ({100 * np.mean(waits > marks[-1]):.0f} % > {marks[-1]:g} min)")
    for mark in marks:
        axis.axvline(mark, color="grey", linestyle="--", linewidth=1)
    axis.set(xlabel="total wait (min)", ylabel="share of travelers", ylim=(0, 1.01),
             title=title or "Who waits how long")
    axis.set_xlim(left=0)
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    return figure


def save_run_figures(results: "Results", folder: Path) -> list[Path]:
    """Write the standard figures of a run as PNG files into ``folder``."""
    name = results.scenario.crossing.name
    figures = {"wait_by_hour.png": hourly_wait_profile(results.hourly, f"{name}: mean wait by hour of arrival"),
               "queues_and_booths.png": queue_and_staffing(results.hourly, f"{name}: queues and open booths")}
    if results.entities is not None:
        figures["wait_ecdf.png"] = wait_ecdf(results.entities, title=f"{name}: distribution of waits")
    paths = []
    for file_name, figure in figures.items():
        figure.savefig(folder / file_name, dpi=110)
        plt.close(figure)
        paths.append(folder / file_name)
    return paths
