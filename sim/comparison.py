"""Scenario comparisons: a base and its variants, run with common random numbers, paired.

Every scenario runs the same replications ``0 … n−1`` with the same seed, so replication ``r`` of
each draws arrivals, service times and checks from the same named streams (see
:mod:`sim.streams`). The difference variant − base is then taken replication by replication and
summarized with a t confidence interval (:func:`sim.stats.paired_difference_ci`): far sharper
than comparing two independent runs. Groups are the summary's: everyone, each class,
green-channel eligible travelers against the others, weekdays and weekends; a class that only one
scenario has is not compared. Each variant gets one plain-language verdict
line per metric; with impatience in either scenario, the travellers lost and deferred a day get
theirs right after the waits (a scenario without impatience counts 0 of each).
"""
from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .errors import Problem, ScenarioError
from .experiment import run_replications
from .groups import EVERYONE, of_kinds
from .groups import label as group_label
from .catalogue import phrase
from .catalogue import unit as unit_of
from .runner import Results, hourly_table, replication_table, summary_table
from .scenario import Scenario, load_scenario
from .stats import paired_difference_ci

COMPARED_METRICS = ("wait_mean", "backlog_time_mean", "peak_hour_wait_mean", "wait_p90", "wait_p95",
                    "share_wait_over_60min", "throughput_per_day", "unfinished_share")
# travellers who left (impatience), compared when a scenario has them: one without impatience
# loses and defers nobody, so against one that has it, its count is 0 in every replication
NONE_WITHOUT_IMPATIENCE = ("lost", "deferred")
VERDICT_ORDER = (*COMPARED_METRICS[:2], *NONE_WITHOUT_IMPATIENCE, *COMPARED_METRICS[2:])   # beside the waits
RAIL_COMPARED = ("rail_dwell_mean_h", "rail_dwell_p90_h", "rail_outside_wait_mean_h", "rail_interchange_wait_mean_h",
                 "rail_backlog_mean", "rail_trains_per_day")     # rail model only: trains, by direction
DIFFERENCED_METRICS = VERDICT_ORDER + RAIL_COMPARED   # compare.csv's metrics (rail ones only where they exist)
SIDE_BY_SIDE = {"wait_mean": "backlog_time_mean"}   # cargo classes: checkpoint wait, then the backlog
VERDICT_KINDS = ("all", "class", "green_channel", "day")  # the groups of the verdict lines
SPLIT_LINES = [  # extra mean-wait lines: (topic, (group, its words), (other group, its words))
    ("green channel", ("green_channel=eligible", "eligible travelers"), ("green_channel=not_eligible", "others")),
    ("by day", ("day=weekend", "weekend arrivals"), ("day=weekday", "weekday arrivals")),
]
NEGLIGIBLE = 1e-6     # |difference| and CI bounds below this (minutes, shares, per day) are rounding noise
DIFFERENCE_COLUMNS = ["scenario", "group", "metric", "base_mean", "variant_mean", "difference", "ci_low",
                      "ci_high", "unit"]
FIGURE_FILE, REPORT_CAPTION = "compare.png", ("Left: mean wait per group in each scenario. Right: paired "
                                              "difference variant − base with its 95 % CI (left of 0: shorter "
                                              "waits). Bottom: everyone's mean wait by hour of arrival.")


# --------------------------------------------------------------------------------------------
# the comparison
# --------------------------------------------------------------------------------------------
def format_change(metric: str, value: float, sign: str = "+", low: float = np.nan, high: float = np.nan) -> str:
    """A value of ``metric`` in words and units: ``−38 min [−41, −35]``, ``+1.5 pp``, ``+6 a day``.

    ``sign="+"`` writes a difference (signed; shares in percentage points), ``""`` a level. Waits
    of 10 hours or more are written in hours.
    """
    unit = unit_of(metric)
    scale, suffix = {"min": (1.0, " min"), "fraction": (100.0, " pp" if sign else " %"),
                     "entities/day": (1.0, " a day")}.get(unit, (1.0, f" {unit}" if unit else ""))
    if all(np.isnan(v) for v in (value, low, high)):
        return "–"
    if unit == "min" and np.nanmax(np.abs([value, low, high])) >= 600:
        scale, suffix = 1 / 60, " h"
    values = [scale * v for v in (value, low, high)]
    finite = [abs(v) for v in values if not np.isnan(v)]
    digits = 0 if max(finite) >= 20 else 1 if max(finite) >= 1 else 2
    while digits < 3 and any(v != 0 and round(v, digits) == 0 for v in values[1:] if not np.isnan(v)):
        digits += 1                                # a CI bound that is not 0 must not read as 0

    def write(number: float) -> str:
        if round(number, digits) == 0:
            return f"{0:.{digits}f}"
        return ("−" if number < 0 else sign) + f"{abs(number):,.{digits}f}"
    text = write(values[0]) + suffix
    if not (np.isnan(values[1]) or np.isnan(values[2])):
        text += f" [{write(values[1])}, {write(values[2])}]"
    return text


def describe_change(metric: str, difference: float, low: float, high: float) -> str:
    """A paired difference with its CI, or "no significant change" when the CI covers 0 ("no
    change" when it is 0 up to rounding: same entities, same draws)."""
    change = format_change(metric, difference, "+", low, high)
    if np.isnan(difference):
        return "not available"
    if np.isnan(low) or np.isnan(high):
        return f"{change} (one replication: no confidence interval)"
    if max(abs(low), abs(high), abs(difference)) < NEGLIGIBLE:
        return "no change"
    if low <= 0 <= high:
        return f"no significant change ({change})"
    return change


def _joined(change: str) -> str:
    """``" +2 min [+1, +3]"``, but ``": no significant change (…)"`` after a noun."""
    return (": " if change.startswith("no") else " ") + change


def scenario_differences(base: Scenario, variant: Scenario) -> list[tuple[str, str, str]]:
    """Every field (dotted path) whose value differs between two scenarios, with both values.

    Lists are compared as a whole; a missing key reads "—". Names and descriptions are left out.
    """
    def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
        if isinstance(data, dict):
            flat: dict[str, Any] = {}
            for key, value in data.items():
                flat.update(flatten(value, f"{prefix}{key}."))
            return flat or {prefix[:-1]: {}}
        return {prefix[:-1]: data}

    def text(value: Any) -> str:
        written = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        return written if len(written) <= 160 else written[:157] + "…"
    old, new = (flatten(s.model_dump(mode="json", by_alias=True)) for s in (base, variant))
    return [(path, text(old[path]) if path in old else "—", text(new[path]) if path in new else "—")
            for path in dict.fromkeys([*old, *new])
            if path not in ("name", "description") and old.get(path, ...) != new.get(path, ...)]


@dataclass
class Comparison:
    """A base scenario and its variants, run with common random numbers.

    ``replications`` holds every value per replication (columns scenario, replication, group,
    metric, value); ``summary`` and ``hourly`` are the usual run tables with a ``scenario`` column;
    ``differences`` is ``compare.csv``: one row per variant, group and compared metric.
    """

    scenarios: list[Scenario]
    replications: pd.DataFrame
    summary: pd.DataFrame
    hourly: pd.DataFrame
    differences: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def base(self) -> Scenario:
        return self.scenarios[0]

    def results(self, name: str) -> Results:
        """One scenario's part as a :class:`~sim.runner.Results` (no entity rows)."""
        scenario = next(s for s in self.scenarios if s.name == name)
        summary = self.summary[self.summary["scenario"] == name].drop(columns="scenario").reset_index(drop=True)
        hourly = self.hourly[self.hourly["scenario"] == name].drop(columns="scenario").reset_index(drop=True)
        return Results(scenario, summary, hourly, None, {**self.info, "scenario": name})

    def verdicts(self, variant: str) -> list[str]:
        """Plain-language lines, one per metric (and one for the green channel), for ``variant``."""
        rows = self.differences[self.differences["scenario"] == variant].set_index(["group", "metric"])

        def describe(row: pd.Series) -> str:
            return describe_change(row.name[1], row["difference"], row["ci_low"], row["ci_high"])
        groups = of_kinds(rows.index.get_level_values(0), "all", "class")
        def part(group: str, metric: str) -> str:
            text = f"{group_label(group)}{_joined(describe(rows.loc[(group, metric)]))}"
            beside = SIDE_BY_SIDE.get(metric)
            if group != str(EVERYONE) and (group, beside) in rows.index:
                text += f" at the checkpoint, {phrase(beside)}{_joined(describe(rows.loc[(group, beside)]))}"
            return text
        lines = [self.no_effect_note(variant)] if self.identical(variant) else []
        for metric in VERDICT_ORDER:
            if metric in SIDE_BY_SIDE.values():
                continue
            parts = [part(g, metric) for g in groups if (g, metric) in rows.index]
            if parts:
                lines.append(f"{phrase(metric)}: " + "; ".join(parts))
            if metric == "wait_mean":
                lines += [f"{topic}: {first}' mean wait{_joined(describe(rows.loc[(one, metric)]))}; "
                          f"{second}{_joined(describe(rows.loc[(other, metric)]))}"
                          for topic, (one, first), (other, second) in SPLIT_LINES
                          if (one, metric) in rows.index and (other, metric) in rows.index]
        return lines + rail_verdicts(rows)

    def identical(self, variant: str) -> bool:
        """Whether ``variant`` gave exactly the base's numbers, every metric of every group in
        every replication (with common random numbers, a change that never acts does)."""
        def values(name: str) -> pd.Series:
            own = self.replications[self.replications["scenario"] == name]
            return own.set_index(["replication", "group", "metric"])["value"].sort_index()
        base, other = values(self.base.name), values(variant)
        return base.index.equals(other.index) and bool(((base == other) | (base.isna() & other.isna())).all())

    def no_effect_note(self, variant: str) -> str:
        """The verdict for a variant whose results are the base's: which changes did not act, and
        on which days (a weekend-only change measured over weekdays, say)."""
        scenario = next(s for s in self.scenarios if s.name == variant)
        calendar = scenario.calendar
        days = [calendar.start_date + dt.timedelta(days=d) for d in range(calendar.warmup_days, calendar.days)]
        weekend = sum(day.weekday() >= 5 for day in days)
        changed = ", ".join(path for path, _, _ in scenario_differences(self.base, scenario) if path != "name")
        return (f"no effect: every result is the same as {self.base.name}'s in every replication; its changes "
                f"({changed or 'none'}) do not act on the measured days, {days[0]} to {days[-1]} "
                f"({len(days)} day{'s' if len(days) != 1 else ''}, {weekend} at a weekend): measure days where they "
                f"apply (--days, or the calendar's start_date)")

    def skipped_note(self) -> str:
        """Which classes were not compared because only some scenarios have them."""
        classes = {s.name: set(s.classes) for s in self.scenarios}
        everywhere = set.intersection(*classes.values())
        notes = [f"{name} ({', '.join(s.name for s in self.scenarios if name in classes[s.name])})"
                 for name in dict.fromkeys(c for s in self.scenarios for c in s.classes) if name not in everywhere]
        return ("Not compared (a class only some scenarios have): " + "; ".join(notes) +
                ". Everyone's numbers include them where they exist.") if notes else ""


def paired_differences(replications: pd.DataFrame, base: str, variants: Sequence[str]) -> pd.DataFrame:
    """``compare.csv``: variant − base per group and compared metric, paired by replication.

    Only groups both scenarios have are compared; a replication where either value is missing
    (no traveler of that group) is left out of that pair. The lost and deferred counts are
    compared as soon as one of the two has them: the other, without impatience, has 0.
    """
    compared = replications[replications["metric"].isin(DIFFERENCED_METRICS)]
    wide = compared.pivot_table(index="replication", columns=["scenario", "group", "metric"], values="value",
                                aggfunc="first")
    wide = _zero_where_nobody_leaves(wide, replications, [base, *variants])
    keys = [key for key in dict.fromkeys(map(tuple, compared[["group", "metric"]].to_numpy()))]
    keys.sort(key=lambda key: DIFFERENCED_METRICS.index(key[1]))
    rows = []
    for variant in variants:
        for group, metric in keys:
            if (base, group, metric) not in wide.columns or (variant, group, metric) not in wide.columns:
                continue
            before, after = wide[(base, group, metric)].to_numpy(), wide[(variant, group, metric)].to_numpy()
            difference, low, high = paired_difference_ci(after, before)
            rows.append((variant, group, metric, float(np.nanmean(before)), float(np.nanmean(after)),
                         difference, low, high, unit_of(metric)))
    return pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)


def _zero_where_nobody_leaves(wide: pd.DataFrame, replications: pd.DataFrame,
                              scenarios: Sequence[str]) -> pd.DataFrame:
    """Columns of 0 for the lost and deferred of the groups of a scenario without impatience (no
    ``lost`` row at all), where another scenario has them."""
    leaving = replications[replications["metric"].isin(NONE_WITHOUT_IMPATIENCE)]
    if leaving.empty:
        return wide
    wanted = list(dict.fromkeys(map(tuple, leaving[["group", "metric"]].to_numpy())))
    added = {}
    for scenario in scenarios:
        own = replications[replications["scenario"] == scenario]
        if (own["metric"] == "lost").any():
            continue
        groups = set(own["group"])
        added.update({(scenario, group, metric): 0.0 for group, metric in wanted if group in groups})
    if not added:
        return wide
    return pd.concat([wide, pd.DataFrame(added, index=wide.index)], axis=1)


def _check_names(scenarios: list[Scenario], labels: list[str]) -> None:
    seen: dict[str, str] = {}
    for scenario, label in zip(scenarios, labels):
        if scenario.name in seen:
            raise ScenarioError(Problem(label, "name", f"scenario name {scenario.name!r} is also the name of "
                                        f"{seen[scenario.name]}: give each variant its own name"))
        seen[scenario.name] = label


def compare(scenarios: Sequence[Scenario | str | os.PathLike | dict], replications: int | None = None,
            seed: int | None = None, workers: int = 1, progress: bool | None = None, executor: str = "local",
            scheduler: str | None = None, overrides: dict[str, Any] | None = None) -> Comparison:
    """Run the base (first) and each variant with the same seed and replications; pair them.

    ``replications`` and ``seed`` default to the base scenario's ``run`` block; ``overrides``
    (dotted field paths, e.g. ``{"calendar.days": 9}``) apply to every scenario.
    """
    if len(scenarios) < 2:
        raise ScenarioError(Problem("", "", "a comparison needs a base scenario and at least one variant"))
    labels = [str(s) if isinstance(s, (str, os.PathLike)) else getattr(s, "name", "scenario") for s in scenarios]
    loaded = [load_scenario(s, overrides) for s in scenarios]
    _check_names(loaded, labels)
    base = loaded[0]
    replications = base.run.replications if replications is None else int(replications)
    seed = base.run.seed if seed is None else int(seed)
    outputs, record = run_replications(dict(enumerate(loaded)), replications, seed, workers, executor, scheduler,
                                       f"compare {base.name}", progress, args=(False,))
    per_scenario = {s.name: outputs[i] for i, s in enumerate(loaded)}
    tables = {"replications": replication_table, "summary": summary_table, "hourly": hourly_table}
    combined = {key: pd.concat([function(ordered).assign(scenario=name) for name, ordered in per_scenario.items()],
                               ignore_index=True) for key, function in tables.items()}
    combined = {key: frame[["scenario", *frame.columns.drop("scenario")]] for key, frame in combined.items()}
    differences = paired_differences(combined["replications"], base.name, [s.name for s in loaded[1:]])
    info = {**record, "scenarios": [s.name for s in loaded], "files": labels}
    return Comparison(loaded, combined["replications"], combined["summary"], combined["hourly"], differences, info)


# --------------------------------------------------------------------------------------------
# the comparison folder
# --------------------------------------------------------------------------------------------
SCENARIO_FOLDER = "scenarios"


def load_comparison(folder: str | os.PathLike) -> Comparison:
    """Read a comparison folder back."""
    folder = Path(folder)
    info = json.loads((folder / "compare.json").read_text(encoding="utf-8"))
    info.pop("verdicts", None)
    scenarios = [load_scenario(folder / SCENARIO_FOLDER / f"{name}.resolved.yaml") for name in info["scenarios"]]
    return Comparison(scenarios, pd.read_csv(folder / "replications.csv"), pd.read_csv(folder / "summary.csv"),
                      pd.read_csv(folder / "hourly.csv"), pd.read_csv(folder / "compare.csv"), info)


def rail_verdicts(rows: pd.DataFrame) -> list[str]:
    """The rail model's verdict lines (trains: all of them, then each direction), from a variant's
    differences indexed by (group, metric); none without rail rows."""
    lines = []
    for metric in RAIL_COMPARED:
        groups = [g for g in of_kinds(rows.index.get_level_values(0), "all", "direction") if (g, metric) in rows.index]
        parts = [f"{'all trains' if g == str(EVERYONE) else group_label(g)}"
                 f"{_joined(describe_change(metric, *rows.loc[(g, metric), ['difference', 'ci_low', 'ci_high']]))}"
                 for g in groups]
        if parts:
            lines.append(f"{phrase(metric)}: " + "; ".join(parts))
    return lines
