"""Calibration: fit a scenario's free parameters so that it reproduces stated figures.

A scenario's ``calibration`` block (:mod:`sim.scenario.calibration`) names free parameters
(dotted field paths with bounds) and targets (a measure of some entities, at some hours, on some
days and dates, with a band and its source). :func:`calibrate`

1. measures every target on each replication's metric layer (:class:`sim.metrics.ReplicationMetrics`:
   the same selections and measures as the summary, without building the entity table);
2. evaluates a point with the same seed and replication indices every time (common random
   numbers: the objective is a deterministic, piecewise-smooth function of continuous
   parameters), the replications of one evaluation running in parallel on
   :class:`sim.experiment.Replications`;
3. minimises ``sum over targets of (distance outside the band / scale) ** 2`` (0 inside the
   band) with scipy.optimize (Powell or Nelder-Mead, bounded, in coordinates scaled to [0, 1],
   starting from the scenario's current values); integer parameters are rounded, continuous ones
   snapped to a thousandth of their range so that the written value is exactly the evaluated
   one; evaluations are cached, the budget counts distinct points, and the search stops as soon
   as every target is inside its band;
4. re-runs the best point on the full calendar with more replications when
   ``fit.check_replications`` is set; the verdict (met / NOT MET) comes from that check.

:func:`sim.publish.publish_calibration` writes the report folder (``calibration.csv``,
``report.html``, ``calibration.png``, ``evaluations.csv``, ``calibration.json``) atomically and the
calibrated scenario (:func:`write_calibrated_scenario`): a new YAML file that ``extends`` the original, with the fitted values and a comment
block describing the fit. A target that cannot be met within the bounds is reported NOT MET with
the closest fit; it is never hidden.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
import yaml

from .calendar import day_dates, open_days
from .errors import Problem, ScenarioError
from .experiment import Replications
from .metrics import ReplicationMetrics
from .runner import replication_metrics
from .scenario import Scenario, load_scenario, read_yaml
from .scenario.calibration import (SHARE_MEASURES, Calibration, Parameter, Target, day_selected,
                                   describe_selection, reference_problems, resolve_path, to_number, unit_of)
from .scenario.loader import resolve_extends
from .scenario.units import MINUTES_PER_UNIT
from .scenario.writer import write_scenario
from .stats import mean_ci
from .version import __version__

UNMEASURABLE = 10.0          # distance of a target that could not be measured (no entity selected)
COLUMNS = ["target", "measure", "selection", "unit", "source", "band_low", "band_high", "mean", "ci_low", "ci_high",
           "met", "run", "replications", "days"]
SENSITIVITY_COLUMNS = ["target", "factor", "low", "high", "unit", "mean_at_low", "mean_at_high", "change",
                       "met_at_low", "met_at_high"]


# --------------------------------------------------------------------------------------------
# measuring targets: pure functions of one replication's entity table
# --------------------------------------------------------------------------------------------
def day_flags(target: Target, calendar, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Per simulated day: (measured and open, selected by the target's day and date filters)."""
    measured = (np.arange(days) >= calendar.warmup_days) & open_days(calendar, days)
    selected = np.array([day_selected(target, date) for date in day_dates(calendar, days)], dtype=bool)
    return measured, selected


def selection_masks(target: Target, metrics: ReplicationMetrics) -> tuple[np.ndarray, np.ndarray]:
    """(selected, rest) entity masks: in the measurement window, of the target's classes; the
    selection passes the time filters (hours, days, dates), the rest does not. Counts of those
    who left are by exit time, everything else by arrival time."""
    calendar = metrics.scenario.calendar
    event = "exit" if target.measure == "throughput" else "arrival"
    _, selected_day = day_flags(target, calendar, calendar.days)
    window = metrics.entity_selection(target.classes, event=event, directions=target.directions)
    chosen = metrics.entity_selection(target.classes, target.hours, selected_day, event, target.directions)
    return chosen, window & ~chosen


def measure_entities(target: Target, metrics: ReplicationMetrics, mask: np.ndarray, day_count: int) -> float:
    """The target's measure over the masked entities (NaN when there is nothing to measure)."""
    if target.measure in ("throughput", "arrivals"):
        total = metrics.count(mask, target.count)
        if target.per == "total":
            return total
        return total / day_count if day_count else math.nan
    if target.measure in SHARE_MEASURES:
        return wait_share(target, metrics, mask)
    return metrics.wait_measure(target.measure, mask)


def wait_share(target: Target, metrics: ReplicationMetrics, mask: np.ndarray) -> float:
    """The share of the masked entities (or, with ``count: persons``, of the persons they carry)
    whose wait is over 60 min, or inside ``target.waits`` (NaN when there is nobody)."""
    waits = metrics.view.total_wait[mask]
    if not len(waits):
        return math.nan
    if target.measure == "share_wait_between":
        low, high = target.wait_limits()
        counted = (waits >= low) & (waits <= high)
    else:
        counted = waits > 60.0
    weights = metrics.records.arrivals.group_size[mask] if target.count == "persons" else np.ones(len(waits))
    return float(np.sum(weights * counted) / np.sum(weights))


def measure_target(target: Target, metrics: ReplicationMetrics) -> tuple[float, float]:
    """(value, reference) of one replication, from its metric layer.

    The value is the measure of the selection; with ``above_rest`` it is the selection minus the
    rest and the reference is the rest's own value (NaN otherwise). Per-day counts divide by the
    open measured days selected (for the rest: the days it occurs on).
    """
    chosen, rest = selection_masks(target, metrics)
    calendar = metrics.scenario.calendar
    measured, selected = day_flags(target, calendar, calendar.days)
    value = measure_entities(target, metrics, chosen, int(np.sum(measured & selected)))
    if not target.above_rest:
        return value, math.nan
    rest_days = measured if target.hours is not None else measured & ~selected
    reference = measure_entities(target, metrics, rest, int(np.sum(rest_days)))
    return value - reference, reference


def inside(target: Target, value: float) -> bool:
    """Whether ``value`` meets the target (the default 'above the rest' needs a difference > 0)."""
    if not math.isfinite(value):
        return False
    low, high = target.limits()
    if target.strictly_above:
        return value > 0.0
    return low <= value <= high


def distance(target: Target, value: float, reference: float = math.nan) -> float:
    """How far ``value`` lies outside the band, relative to the band's largest finite bound (for
    'above the rest', to the rest's value); 0 inside."""
    if not math.isfinite(value):
        return UNMEASURABLE
    if inside(target, value):
        return 0.0
    low, high = target.limits()
    gap = low - value if value < low or target.strictly_above else value - high
    bounds = [abs(bound) for bound in (low, high) if math.isfinite(bound) and bound != 0]
    scale = max(bounds) if bounds else (abs(reference) if math.isfinite(reference) and reference else 1.0)
    return max(gap / scale, 1e-9)


def objective(targets: dict[str, Target], means: dict[str, float], references: dict[str, float]) -> float:
    """Sum over targets of the squared normalised distance to the band (0 when all are met)."""
    return float(sum(distance(target, means[name], references.get(name, math.nan)) ** 2
                     for name, target in targets.items()))


# --------------------------------------------------------------------------------------------
# free parameters: from [0, 1] coordinates to values as they are written in a scenario file
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FreeParameter:
    """A free parameter with its start, bounds (model units) and how its values are written."""

    spec: Parameter
    start: float
    low: float
    high: float
    decimals: int

    @classmethod
    def of(cls, spec: Parameter, scenario: Scenario) -> "FreeParameter":
        data = scenario.model_dump(mode="json", by_alias=True)
        value, _ = resolve_path(data, spec.paths[0])
        low, high = spec.limits()
        per_unit = MINUTES_PER_UNIT[spec.unit.lower()] if spec.is_duration else 1.0
        span = (high - low) / per_unit
        decimals = 0 if spec.integer else max(0, 3 - math.floor(math.log10(span)))
        return cls(spec, float(to_number(value)), low, high, decimals)

    def written(self, value: float) -> int | float | str:
        """``value`` (model units) clipped, rounded, and written as in a scenario file."""
        value = min(max(value, self.low), self.high)
        if self.spec.integer:
            return int(min(max(round(value), math.ceil(self.low)), math.floor(self.high)))
        if not self.spec.is_duration:
            number = round(value, self.decimals)
            return int(number) if number == int(number) else number
        number = f"{value / MINUTES_PER_UNIT[self.spec.unit.lower()]:.{self.decimals}f}"
        number = number.rstrip("0").rstrip(".") if "." in number else number
        return f"{number} {self.spec.unit}"

    def snap(self, value: float) -> float:
        """The value (model units) that ``written(value)`` stands for exactly."""
        return float(to_number(self.written(value)))

    def from_unit(self, u: float) -> float:
        return self.snap(self.low + float(np.clip(u, 0.0, 1.0)) * (self.high - self.low))

    def to_unit(self, value: float) -> float:
        return float(np.clip((value - self.low) / (self.high - self.low), 0.0, 1.0))

    def overrides(self, value: float) -> dict[str, Any]:
        return {path: self.written(value) for path in self.spec.paths}


def free_parameters(scenario: Scenario) -> list[FreeParameter]:
    return [FreeParameter.of(spec, scenario) for spec in scenario.calibration.parameters]


# --------------------------------------------------------------------------------------------
# evaluations
# --------------------------------------------------------------------------------------------
def measure_replication(scenario: Scenario, seed: int, replication: int,
                        targets: dict[str, Target]) -> dict[str, tuple[float, float]]:
    """Simulate one replication and measure every target on it (runs in a worker process)."""
    metrics = replication_metrics(scenario, seed, replication)
    return {name: measure_target(target, metrics) for name, target in targets.items()}


@dataclass
class Evaluation:
    """The targets measured at one point: per-replication values, their means and the objective."""

    point: tuple[float, ...]                 # parameter values, model units
    values: dict[str, np.ndarray]            # target -> value per replication
    references: dict[str, np.ndarray]        # target -> the rest's value per replication (above_rest)
    objective: float
    replications: int
    days: int

    def summary(self, name: str) -> tuple[float, float, float]:
        return mean_ci(self.values[name])


def evaluate(scenario: Scenario, targets: dict[str, Target], seed: int, replications: int, runner: Replications,
             point: tuple[float, ...] = ()) -> Evaluation:
    """Measure ``targets`` on replications ``0 .. replications - 1`` of ``scenario`` with ``seed``
    (``runner``'s task is :func:`measure_replication`)."""
    runner.submit("evaluation", scenario, seed, range(replications), targets)
    ordered = runner.collect()["evaluation"]
    values = {name: np.array([o[name][0] for o in ordered]) for name in targets}
    references = {name: np.array([o[name][1] for o in ordered]) for name in targets}
    means = {name: mean_ci(v)[0] for name, v in values.items()}
    reference_means = {name: mean_ci(v)[0] for name, v in references.items()}
    return Evaluation(point, values, references, objective(targets, means, reference_means), replications,
                      scenario.calendar.days)


def scenario_at(base: Scenario, parameters: list[FreeParameter], point: Iterable[float],
                days: int | None = None) -> Scenario:
    """``base`` with the free parameters set to ``point`` (and ``days`` simulated days)."""
    overrides: dict[str, Any] = {}
    for parameter, value in zip(parameters, point):
        overrides.update(parameter.overrides(value))
    if days is not None:
        overrides["calendar.days"] = days
    return load_scenario(base, overrides)


class _Stop(Exception):
    """Ends the search: every target met, or the evaluation budget spent."""


@dataclass
class _Search:
    """The objective scipy sees: [0, 1] coordinates -> cached evaluations within a budget."""

    base: Scenario
    parameters: list[FreeParameter]
    targets: dict[str, Target]
    seed: int
    replications: int
    days: int | None
    budget: int
    runner: Replications
    history: list[Evaluation] = field(default_factory=list)
    cache: dict[tuple[float, ...], Evaluation] = field(default_factory=dict)
    stop_reason: str = "the optimizer converged"

    def __call__(self, coordinates: np.ndarray) -> float:
        point = tuple(p.from_unit(u) for p, u in zip(self.parameters, np.atleast_1d(coordinates)))
        if point in self.cache:
            return self.cache[point].objective
        if len(self.cache) >= self.budget:
            self.stop_reason = f"the budget of {self.budget} evaluations was spent"
            raise _Stop
        scenario = scenario_at(self.base, self.parameters, point, self.days)
        evaluation = evaluate(scenario, self.targets, self.seed, self.replications, self.runner, point)
        self.cache[point] = evaluation
        self.history.append(evaluation)
        if evaluation.objective == 0.0:
            self.stop_reason = "every target is inside its band"
            raise _Stop
        return evaluation.objective

    def best(self) -> Evaluation:
        return min(self.history, key=lambda evaluation: evaluation.objective)

    def at(self, point: tuple[float, ...], demand: float = 1.0) -> Evaluation:
        """The evaluation at ``point`` with demand scaled by ``demand``, outside the budget (cached)."""
        if demand == 1.0 and point in self.cache:
            return self.cache[point]
        scenario = scaled_demand(scenario_at(self.base, self.parameters, point, self.days), demand)
        evaluation = evaluate(scenario, self.targets, self.seed, self.replications, self.runner, point)
        if demand == 1.0:
            self.cache[point] = evaluation
        return evaluation


def scaled_demand(scenario: Scenario, factor: float) -> Scenario:
    """``scenario`` with every daily volume (``daily_volume`` and ``daily_volumes``) times ``factor``."""
    if factor == 1.0:
        return scenario
    demand = scenario.demand
    overrides: dict[str, Any] = {"demand.daily_volume": demand.daily_volume * factor}
    if demand.daily_volumes:
        overrides["demand.daily_volumes"] = {str(date): volume * factor
                                             for date, volume in demand.daily_volumes.items()}
    return load_scenario(scenario, overrides)


DEMAND_STEP = 0.10           # sensitivity to demand: +-10 %
PARAMETER_STEP = 0.10        # sensitivity to a parameter: +-10 % of its range (+-1 for whole numbers)


@dataclass
class Sensitivity:
    """The targets at two points around the fit: one parameter moved down and up (or demand)."""

    factor: str                      # the parameter's label, or "demand"
    low: str                         # the values as written ("-10%" / "+10%" for demand)
    high: str
    at_low: Evaluation
    at_high: Evaluation


def sensitivities(search: _Search, point: tuple[float, ...]) -> list[Sensitivity]:
    """Finite differences with common random numbers around ``point``: each free parameter moved
    by :data:`PARAMETER_STEP` of its range (1 for whole numbers) down and up, within its bounds,
    then demand by -+ :data:`DEMAND_STEP`."""
    found = []
    for index, parameter in enumerate(search.parameters):
        step = 1.0 if parameter.spec.integer else PARAMETER_STEP * (parameter.high - parameter.low)
        low, high = (parameter.snap(max(parameter.low, point[index] - step)),
                     parameter.snap(min(parameter.high, point[index] + step)))
        points = [tuple(value if i != index else moved for i, value in enumerate(point)) for moved in (low, high)]
        found.append(Sensitivity(parameter.spec.label(), str(parameter.written(low)), str(parameter.written(high)),
                                 search.at(points[0]), search.at(points[1])))
    found.append(Sensitivity("demand", f"-{DEMAND_STEP:.0%}", f"+{DEMAND_STEP:.0%}",
                             search.at(point, 1 - DEMAND_STEP), search.at(point, 1 + DEMAND_STEP)))
    return found


def _minimise(search: _Search, start: np.ndarray, method: str) -> None:
    from scipy import optimize      # ~28 MiB and 0.3 s: only a calibration needs it, not every run's report
    bounds = [(0.0, 1.0)] * len(start)
    try:
        if method == "powell":
            optimize.minimize(search, start, method="Powell", bounds=bounds,
                              options={"xtol": 1e-3, "ftol": 1e-4, "maxfev": 100 * search.budget})
        else:
            simplex = [start] + [np.clip(start + np.eye(len(start))[i] * (0.25 if start[i] <= 0.5 else -0.25), 0, 1)
                                 for i in range(len(start))]
            optimize.minimize(search, start, method="Nelder-Mead", bounds=bounds,
                              options={"initial_simplex": np.array(simplex), "xatol": 1e-3, "fatol": 1e-9,
                                       "maxfev": 100 * search.budget})
    except _Stop:
        pass


@dataclass
class CalibrationResult:
    """What a calibration found: the best point, its evaluations and the verdict per target."""

    scenario: Scenario
    source: Path | None
    parameters: list[FreeParameter]
    fit: Evaluation
    check: Evaluation | None
    history: list[Evaluation]
    stop_reason: str
    info: dict[str, Any]
    sensitivity: list[Sensitivity] = field(default_factory=list)

    @property
    def calibration(self) -> Calibration:
        return self.scenario.calibration

    @property
    def final(self) -> Evaluation:
        """The evaluation the verdict comes from: the check run if there is one, else the fit."""
        return self.check or self.fit

    def met(self, name: str, evaluation: Evaluation | None = None) -> bool:
        evaluation = evaluation or self.final
        return inside(self.calibration.targets[name], evaluation.summary(name)[0])

    @property
    def all_met(self) -> bool:
        return all(self.met(name) for name in self.calibration.targets)

    @property
    def candidates(self) -> list[Evaluation]:
        """Every point evaluated with the fit's settings: the search's, then the parameter
        sensitivity points (not the demand ones: demand is not a candidate value)."""
        moved = [e for s in self.sensitivity if s.factor != "demand" for e in (s.at_low, s.at_high)]
        return self.history + moved

    def informative(self, name: str) -> bool:
        """False when every evaluated candidate meets the target: it did not guide the fit."""
        target = self.calibration.targets[name]
        return not all(inside(target, evaluation.summary(name)[0]) for evaluation in self.candidates)

    def demand_response(self, name: str) -> tuple[float, float]:
        """The target's mean at -10 % and +10 % demand around the fit (NaN without sensitivity)."""
        for item in self.sensitivity:
            if item.factor == "demand":
                return item.at_low.summary(name)[0], item.at_high.summary(name)[0]
        return math.nan, math.nan

    def table(self) -> pd.DataFrame:
        """Tidy: one row per target and run (fit, check), with whether the target is informative
        and its mean at -10 % and +10 % demand around the fit (fit settings)."""
        runs = [("fit", self.fit)] + ([("check", self.check)] if self.check is not None else [])
        table = pd.concat([target_table(self.calibration.targets, evaluation, run) for run, evaluation in runs],
                          ignore_index=True)
        table["informative"] = [self.informative(name) for name in table["target"]]
        response = {name: self.demand_response(name) for name in self.calibration.targets}
        table["demand_minus_10pct"] = [response[name][0] for name in table["target"]]
        table["demand_plus_10pct"] = [response[name][1] for name in table["target"]]
        return table

    def sensitivity_table(self) -> pd.DataFrame:
        """Each target x each factor (free parameter, demand): the values moved to, the target's
        mean at each (fit settings, common random numbers), the change and whether each meets it."""
        rows = []
        for item in self.sensitivity:
            for name, target in self.calibration.targets.items():
                low, high = item.at_low.summary(name)[0], item.at_high.summary(name)[0]
                rows.append((name, item.factor, item.low, item.high, unit_of(target), low, high, high - low,
                             inside(target, low), inside(target, high)))
        return pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)


def target_table(targets: dict[str, Target], evaluation: Evaluation, run: str) -> pd.DataFrame:
    """Each target: band, achieved mean with its 95 % CI, met (model units: minutes, counts)."""
    rows = []
    for name, target in targets.items():
        low, high = target.limits()
        mean, ci_low, ci_high = evaluation.summary(name)
        rows.append((name, target.measure + (" above the rest" if target.above_rest else ""),
                     describe_selection(target), unit_of(target), target.source, low, high, mean, ci_low, ci_high,
                     inside(target, mean), run, evaluation.replications, evaluation.days))
    return pd.DataFrame(rows, columns=COLUMNS)


def load_for_calibration(source: str | os.PathLike | Scenario | dict) -> Scenario:
    """Load a scenario and check its calibration block against it: parameter paths, classes and
    the dates the calendar simulates. Problems are ``ScenarioError`` s with file, line and path."""
    path = Path(source) if isinstance(source, (str, os.PathLike)) else None
    scenario = load_scenario(source)
    label = str(path) if path is not None else "<scenario>"
    if scenario.calibration is None:
        raise ScenarioError(Problem(label, "calibration", "no calibration block to fit: add one with parameters "
                                    "and targets (see 'Calibration' in docs/scenario.md)"))
    problems = list(reference_problems(scenario))
    if problems:
        lines: dict[tuple[str, ...], tuple[str, int]] = {}
        if path is not None:
            raw, lines = read_yaml(path)
            _, lines = resolve_extends(raw, lines, label, path.parent, (path.resolve(),))
        raise ScenarioError([_located(lines, dotted, message, label) for dotted, message in problems])
    return scenario


def _located(lines: dict[tuple[str, ...], tuple[str, int]], dotted: str, message: str, label: str) -> Problem:
    """A problem at ``dotted``, with the file and line of its nearest written ancestor."""
    parts = tuple(dotted.split("."))
    for end in range(len(parts), -1, -1):
        if parts[:end] in lines:
            file, line = lines[parts[:end]]
            return Problem(file, dotted, message, line)
    return Problem(label, dotted, message)


def calibrate(source: str | os.PathLike | Scenario | dict, workers: int = 1, max_evaluations: int | None = None,
              progress: bool | None = None) -> CalibrationResult:
    """Fit the free parameters of ``source``'s calibration block to its targets."""
    path = Path(source) if isinstance(source, (str, os.PathLike)) else None
    scenario = load_for_calibration(source)
    spec = scenario.calibration
    fit = spec.fit
    seed = scenario.run.seed if fit.seed is None else fit.seed
    budget = max_evaluations or fit.max_evaluations
    parameters = free_parameters(scenario)
    start = np.array([p.to_unit(p.snap(p.start)) for p in parameters])
    started = time.perf_counter()
    replications = max(fit.replications, fit.check_replications or 0)
    with Replications(min(workers, replications), description=f"calibrate {scenario.name}", progress=progress,
                      task=measure_replication,
                      expected=budget * fit.replications + (fit.check_replications or 0)) as runner:
        search = _Search(scenario, parameters, spec.targets, seed, fit.replications, fit.days, budget, runner)
        _minimise(search, start, fit.method)
        best = search.best()
        moves = 2 * len(parameters) + 2 if fit.sensitivity else 0
        runner.expect((len(search.history) + moves) * fit.replications + (fit.check_replications or 0))
        sensitivity = sensitivities(search, best.point) if fit.sensitivity else []
        check = None
        if fit.check_replications:
            check = evaluate(scenario_at(scenario, parameters, best.point), spec.targets, seed,
                             fit.check_replications, runner, best.point)
    info = {"package_version": __version__, "scenario": scenario.name, "seed": seed,
            "fit_replications": fit.replications, "fit_days": fit.days or scenario.calendar.days,
            "check_replications": fit.check_replications, "check_days": scenario.calendar.days,
            "method": fit.method, "max_evaluations": budget, "evaluations": len(search.history),
            "stop_reason": search.stop_reason, "workers": workers,
            "wall_time_s": round(time.perf_counter() - started, 1)}
    return CalibrationResult(scenario, path, parameters, best, check, search.history, search.stop_reason, info,
                             sensitivity)


def check_targets(source: str | os.PathLike | Scenario | dict, replications: int | None = None,
                  days: int | None = None, workers: int = 1) -> pd.DataFrame:
    """Measure a scenario's own calibration targets at its current values (no fitting): by default
    with the block's fit replications, seed and days. Returns the table of :func:`target_table`."""
    scenario = load_for_calibration(source)
    fit = scenario.calibration.fit
    replications = replications or fit.replications
    seed = scenario.run.seed if fit.seed is None else fit.seed
    run_scenario = load_scenario(scenario, {"calendar.days": days or fit.days or scenario.calendar.days})
    with Replications(min(workers, replications), task=measure_replication) as runner:
        evaluation = evaluate(run_scenario, scenario.calibration.targets, seed, replications, runner)
    return target_table(scenario.calibration.targets, evaluation, "check")


# --------------------------------------------------------------------------------------------
# writing: the calibrated scenario, the report folder, the printed table
# --------------------------------------------------------------------------------------------
def format_value(value: float, unit: str = "") -> str:
    """A value for tables: minutes with one decimal, counts whole, fractions with three digits."""
    if not math.isfinite(value):
        return "-" if value != value else ("inf" if value > 0 else "-inf")
    if unit == "min":
        return f"{value:.1f}"
    if unit == "fraction":
        return f"{value:.3f}"
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def format_band(target: Target, unit: str) -> str:
    low, high = target.limits()
    if target.strictly_above:
        return "> 0"
    if not math.isfinite(high):
        return f">= {format_value(low, unit)}"
    if not math.isfinite(low):
        return f"<= {format_value(high, unit)}"
    return f"[{format_value(low, unit)}, {format_value(high, unit)}]"


def target_lines(result: CalibrationResult, evaluation: Evaluation) -> list[tuple[str, ...]]:
    """(name, what, band, achieved, verdict) for each target."""
    lines = []
    for name, target in result.calibration.targets.items():
        unit = unit_of(target)
        mean, low, high = evaluation.summary(name)
        ci = f" [{format_value(low, unit)}, {format_value(high, unit)}]" if math.isfinite(low) else ""
        what = target.measure + (" above rest" if target.above_rest else "")
        selection = describe_selection(target)
        lines.append((name, what + (f" ({selection})" if selection else ""), f"{format_band(target, unit)} {unit}",
                      f"{format_value(mean, unit)}{ci}", "met" if result.met(name, evaluation) else "NOT MET"))
    return lines


def parameter_lines(result: CalibrationResult) -> list[tuple[str, str, str, str]]:
    """(paths, start, fitted, bounds) as written in the scenario file."""
    return [(p.spec.label(), str(p.written(p.start)), str(p.written(value)),
             f"[{p.spec.bounds[0]:g}, {p.spec.bounds[1]:g}]" if not p.spec.is_duration else
             f"[{p.spec.bounds[0]}, {p.spec.bounds[1]}]")
            for p, value in zip(result.parameters, result.fit.point)]


def _columns(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> list[str]:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]


def describe_run(result: CalibrationResult) -> str:
    """One sentence: evaluations, why the search stopped, the runs' seed, replications and days."""
    info = result.info
    count = info["evaluations"]
    text = (f"{count} evaluation{'s' if count != 1 else ''} of at most {info['max_evaluations']} "
            f"({info['method']}), stopped because {result.stop_reason}. Fit runs: seed {info['seed']}, "
            f"replications 0-{info['fit_replications'] - 1}, {info['fit_days']} days")
    if result.check is not None:
        text += f". Check run: {info['check_replications']} replications, {info['check_days']} days"
    return text + "."


def uninformative_note(result: CalibrationResult) -> str:
    """A sentence naming the targets every evaluated candidate met ("" when there are none)."""
    names = [name for name in result.calibration.targets if not result.informative(name)]
    if not names:
        return ""
    return (f"Uninformative: {', '.join(names)} met at every one of the {len(result.candidates)} evaluated "
            "candidates (the search and the sensitivity points): they did not constrain the fit.")


def sensitivity_lines(result: CalibrationResult) -> list[tuple[str, str, str, str, str]]:
    """(target, factor, moved from -> to, target at each, change) for every target and factor."""
    lines = []
    for item in result.sensitivity:
        for name, target in result.calibration.targets.items():
            unit = unit_of(target)
            low, high = item.at_low.summary(name)[0], item.at_high.summary(name)[0]
            change = high - low
            lines.append((name, item.factor, f"{item.low} -> {item.high}",
                          f"{format_value(low, unit)} -> {format_value(high, unit)}",
                          ("+" if change > 0 else "") + f"{format_value(change, unit)} {unit}"))
    return lines


SENSITIVITY_HEADER = ("target", "factor", "moved", "target at each", "change")


def format_summary(result: CalibrationResult) -> str:
    """The short plain-text table printed by ``checkpoint-sim calibrate``."""
    evaluation = result.final
    heading = f"{result.scenario.crossing.name} ({result.scenario.name}) calibration: {describe_run(result)}"
    lines = textwrap.wrap(heading, 110) + [""]
    lines += _columns(parameter_lines(result), ("parameter", "start", "fitted", "bounds"))
    lines.append("")
    lines += _columns(target_lines(result, evaluation),
                      ("target", "measure", "band", f"achieved ({'check' if result.check else 'fit'}, 95 % CI)", ""))
    missed = [name for name in result.calibration.targets if not result.met(name)]
    lines.append("")
    lines.append("all targets met" if not missed else
                 f"NOT MET: {', '.join(missed)} (closest fit within the bounds shown; the targets or bounds "
                 "cannot all be satisfied)")
    if note := uninformative_note(result):
        lines += textwrap.wrap(note, 110)
    if result.sensitivity:
        lines += ["", "Sensitivity around the fit (fit settings, common random numbers):"]
        lines += _columns(sensitivity_lines(result), SENSITIVITY_HEADER)
    return "\n".join(lines)


def calibration_markdown(result: CalibrationResult) -> str:
    """``calibration.md``: the run, the parameters, the targets (informative or not, at -+10 %
    demand) and the sensitivity of each target to each factor, as Markdown tables."""
    def markdown(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
        cells = [[str(cell).replace("|", "/") for cell in row] for row in rows]
        return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
            ["| " + " | ".join(row) + " |" for row in cells]

    lines = [f"# {result.scenario.crossing.name}: calibration of {result.scenario.name}", "", describe_run(result), "",
             "## Free parameters", ""]
    lines += markdown(("parameter", "start", "fitted", "bounds"), parameter_lines(result))
    rows = []
    for line, name in zip(target_lines(result, result.final), result.calibration.targets):
        unit = unit_of(result.calibration.targets[name])
        low, high = result.demand_response(name)
        rows.append((*line, "yes" if result.informative(name) else "NO (met at every candidate)",
                     f"{format_value(low, unit)} / {format_value(high, unit)}"))
    lines += ["", f"## Targets ({'check' if result.check else 'fit'} run)", ""]
    lines += markdown(("target", "measure", "band", "achieved (95 % CI)", "verdict", "informative",
                       "at -10 % / +10 % demand"), rows)
    if note := uninformative_note(result):
        lines += ["", note]
    if result.sensitivity:
        lines += ["", "## Sensitivity", "", "Each free parameter moved by 10 % of its range (1 for whole numbers) "
                  "down and up around the fit, within its bounds, and demand by -10 % and +10 %; the targets "
                  "measured with the fit's replications and seed (common random numbers).", ""]
        lines += markdown(SENSITIVITY_HEADER, sensitivity_lines(result))
    return "\n".join(lines) + "\n"


def calibrated_overlay(result: CalibrationResult, name: str) -> dict[str, Any]:
    """The nested YAML that, over the original file, sets the fitted values.

    Lists replace as a whole under ``extends``, so a path through a list (a booth rule) carries
    the whole list, copied from the original with the fitted value set in it.
    """
    if result.source is not None:
        raw, lines = read_yaml(result.source)
        raw, _ = resolve_extends(raw, lines, str(result.source), result.source.parent, (result.source.resolve(),))
    else:
        raw = result.scenario.model_dump(mode="json", by_alias=True)
    overlay: dict[str, Any] = {"name": name}
    for parameter, value in zip(result.parameters, result.fit.point):
        for dotted in parameter.spec.paths:
            _set_in_overlay(overlay, raw, dotted.split("."), parameter.written(value))
    return overlay


def _set_in_overlay(overlay: dict, raw: Any, parts: list[str], value: Any) -> None:
    node, source = overlay, raw
    for index, part in enumerate(parts[:-1]):
        source = source.get(part) if isinstance(source, dict) else None
        if isinstance(source, list):
            if not isinstance(node.get(part), list):
                node[part] = json.loads(json.dumps(source, default=str))
            _set_inside(node[part], parts[index + 1:], value)
            return
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _set_inside(container: Any, parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        container = container[int(part)] if isinstance(container, list) else container.setdefault(part, {})
    if isinstance(container, list):
        container[int(parts[-1])] = value
    else:
        container[parts[-1]] = value


def yaml_comment(text: str, width: int = 108) -> str:
    """``text`` as YAML comment lines, long lines wrapped (keeping their indentation)."""
    lines = []
    for line in text.splitlines():
        indent = " " * (len(line) - len(line.lstrip()))
        wrapped = textwrap.wrap(line, width, subsequent_indent=indent + "  ", break_long_words=False,
                                break_on_hyphens=False) or [""]
        lines += [f"# {part}".rstrip() for part in wrapped]
    return "\n".join(lines)


class FlowListDumper(yaml.SafeDumper):
    """Lists of plain values in flow style (``hours: [6, 22]``), as the scenario files write them."""


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(not isinstance(item, (dict, list)) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


FlowListDumper.add_representer(list, _represent_list)


def calibrated_yaml(result: CalibrationResult, scenario_out: Path, command: str, when: dt.datetime) -> str:
    """The calibrated scenario file: a comment block describing the fit, then ``extends`` and the
    fitted values as nested YAML."""
    name = scenario_out.stem if re.fullmatch(r"[A-Za-z0-9_.-]+", scenario_out.stem) else f"{result.scenario.name}_calibrated"
    parent = os.path.relpath(result.source.resolve(), scenario_out.parent.resolve()) if result.source else None
    evaluation = result.final
    missed = [n for n in result.calibration.targets if not result.met(n)]
    header = [f"{name}: {result.source.name if result.source else result.scenario.name} with its free parameters fitted by",
              f"  {command}",
              f"on {when:%Y-%m-%d %H:%M} UTC (checkpoint-sim {__version__}). Re-run the command rather than editing "
              "the values by hand;",
              "the calibration block (parameters, targets, sources) is inherited from the file extended below.", "",
              describe_run(result), "", "Free parameters (start -> fitted, within bounds):"]
    for (label, start, fitted, bounds), parameter in zip(parameter_lines(result), result.parameters):
        header.append(f"  {label}: {start} -> {fitted} in {bounds}")
        if parameter.spec.source:
            header.append(f"    why free: {parameter.spec.source}")
    header += ["", f"Targets ({'check' if result.check else 'fit'} run: mean [95 % CI]):"]
    for (target_name, what, band, achieved, verdict), target in zip(target_lines(result, evaluation),
                                                                    result.calibration.targets.values()):
        header.append(f"  {target_name}: {what}: {achieved} for {band}: {verdict}")
        header.append(f"    source: {target.source}")
    header += ["", "Result: all targets met." if not missed else
               f"Result: NOT MET: {', '.join(missed)}. This is the closest fit within the bounds, not a calibration "
               "that reproduces the sources."]
    if note := uninformative_note(result):
        header.append(note)
    return extending_yaml("\n".join(header), parent, calibrated_overlay(result, name))


def extending_yaml(header: str, parent: str | None, overlay: dict[str, Any]) -> str:
    """A scenario file written by a command: ``header`` as comment lines, then ``extends:
    parent`` (a path relative to the file) and ``overlay`` as nested YAML."""
    body = yaml.dump({"extends": Path(parent).as_posix(), **overlay} if parent else overlay, Dumper=FlowListDumper,
                     sort_keys=False, allow_unicode=True, width=110)
    return yaml_comment(header) + "\n" + body


def evaluations_table(result: CalibrationResult) -> pd.DataFrame:
    """Every evaluated point in order: parameter values as written, objective, target means."""
    rows = []
    for number, evaluation in enumerate(result.history, 1):
        row = {"evaluation": number}
        row.update({p.spec.label(): p.written(v) for p, v in zip(result.parameters, evaluation.point)})
        row["objective"] = evaluation.objective
        row.update({f"{name}_mean": mean_ci(v)[0] for name, v in evaluation.values.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def default_scenario_out(source: Path) -> Path:
    """``<stem>_calibrated.yaml`` next to the original."""
    return source.with_name(f"{source.stem}_calibrated.yaml")


def check_scenario_out(result: CalibrationResult, scenario_out: Path | None, force: bool = False) -> None:
    """Refuse a calibrated scenario file that cannot be written: a result without a source
    file (a calibrated scenario extends it), or an existing file without ``force``."""
    if scenario_out is not None and result.source is None:
        raise ValueError("a calibrated scenario extends its original file: calibrate a scenario file, not a dict")
    if scenario_out is not None and scenario_out.exists() and not force:
        raise ScenarioError(Problem("--scenario-out", "", f"{scenario_out} already exists: pass --force to replace it"))


def write_calibrated_scenario(text: str, path: Path, result: CalibrationResult) -> None:
    """Write the calibrated scenario ``text`` (:func:`calibrated_yaml`) under a hidden name beside
    ``path``, check it loads to the fitted values, and rename it into place."""
    def mismatch(loaded: Scenario) -> str | None:
        data = loaded.model_dump(mode="json", by_alias=True)
        for parameter, value in zip(result.parameters, result.fit.point):
            for dotted in parameter.spec.paths:
                written, _ = resolve_path(data, dotted)
                if not math.isclose(float(to_number(written)), value, rel_tol=1e-12, abs_tol=1e-12):
                    return f"the calibrated file sets {dotted} to {written!r}, not the fitted {value!r}"
        return None
    write_scenario(text, path, mismatch)


__all__ = ["CalibrationResult", "Evaluation", "Sensitivity", "calibration_markdown", "sensitivities",
           "sensitivity_lines", "uninformative_note", "FreeParameter", "calibrate", "calibrated_yaml", "check_targets",
           "default_scenario_out", "distance", "extending_yaml", "format_summary", "inside", "measure_target", "objective",
           "target_table", "write_calibrated_scenario"]
