"""The staffing planner: the fewest booth-hours that meet a scenario's ``staffing_targets``.

A *roster* gives, for every free pool, its open booths in each hour block between the change
hours, one row per day type (every day alike, or weekdays and weekends); rosters, the validated
plan and the queueing-theory start are :mod:`sim.staffing_plan`. This module is the search, its
tables and the roster file. The search:

1. **Start** from queueing theory per pool and hour (``search.start: theory``): the hourly rate of
   visits to the pool and its mean service time give the Erlang-C (M/M/c, SIPP) minimum that meets
   the pool's share of each target; a block takes its busiest hour's number. Or start from the
   roster as written (``start: current``).
2. **Evaluate** a roster by simulating replications ``0 .. n - 1`` with the same seed for every
   roster (common random numbers). Each target is checked in every hour of arrival it covers (or
   over the day); a check is *met* only when its 95 % CI lies on the right side of the limit,
   *missed* when it lies on the wrong side, and *close* otherwise; a close check doubles the
   replications of that roster up to ``search.max_replications``, after which it counts as missed.
3. **Repair**: while a check is missed, add one booth, for each missed check, to the free pool and
   block where the waiting of that check's travellers is longest per unit cost (within the lanes).
4. **Trim**: when every check is met, remove booths: the candidates (one booth fewer in one block,
   within the minimum and the shift rule) are ordered by the wait measured at their pool and
   block, cheapest-to-lose first, and tried in groups (half of the untried ones, then halves of a
   failed group, down to single ones). A group is kept when every check is still met.
5. **Stop** when every check is met and every single candidate removal has been tried from the
   current roster and failed, or the budget (``search.max_evaluations``) is spent, or a missed
   check has no booth left to add (then no roster meets the targets under the constraints).
   Removing booths never shortens a queue, so a removal that failed stays failed as the roster
   shrinks: the final roster is one from which no single change helps.

Each evaluation is written atomically to ``evaluations/<id>/`` of the output folder (like a
sweep's points, with checksums); ``--resume`` replays the search from those files.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import sys
import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .calendar import MINUTES_PER_DAY, day_dates, opening_window
from .errors import Problem, ScenarioError
from .experiment import Replications
from .fitting import extending_yaml
from .metrics import WAIT_MEASURES, waited_until
from .replication import replication_metrics
from .scenario import Scenario
from .scenario.base import day_matches
from .scenario.writer import write_scenario
from .scenario.staffing_targets import ServiceTarget
from .staffing_plan import (PoolInfo, Roster, StaffingPlan, booth_hours_per_day, booth_rules, current_roster,
                            load_plan, repair_shifts, roster_key, shift_ok, theory_roster, weighted_cost)
from .stats import mean_ci
from .storage import atomic_folder, remove_stale_partials
from .sweeps import POINT_FILE, file_digests, point_problem
from .version import __version__

MANIFEST = "staffing.json"
EVALUATIONS = "evaluations"
MET, CLOSE, MISSED = "met", "close", "missed"


# --------------------------------------------------------------------------------------------
# one replication, measured where it ran
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MeasureRequest:
    targets: dict[str, ServiceTarget]
    day_types: tuple[str, ...]
    pool_indices: tuple[int, ...]


def measure_replication(scenario: Scenario, seed: int, replication: int, request: MeasureRequest) -> dict[str, Any]:
    """Simulate one replication; return every target's value per (day type, hour of arrival or
    -1 for the day) and the free pools' wait sums and visit counts per (day type, hour)."""
    metrics = replication_metrics(scenario, seed, replication)
    records, layout, view = metrics.records, metrics.layout, metrics.view
    calendar = scenario.calendar
    start, end = metrics.window
    dates = day_dates(calendar, calendar.days)
    arrivals = records.arrivals
    times = arrivals.time
    day = np.clip((times // MINUTES_PER_DAY).astype(int), 0, calendar.days - 1)
    hour = ((times % MINUTES_PER_DAY) // 60).astype(int)
    flags = {d: np.array([day_matches(d, date) for date in dates]) for d in request.day_types}
    checks: dict[str, float] = {}
    for name, target in request.targets.items():
        chosen = metrics.entity_selection(target.classes, target.hours,
                                          directions=[target.direction] if target.direction else None)
        if target.stage:
            stage = layout.stage_names.index(target.stage)
            waits = view.stage_wait(stage)
            chosen &= ~np.isnan(waits)
        else:
            waits = view.total_wait
        for day_type in request.day_types:
            on_days = chosen & flags[day_type][day]
            slots = [-1] if target.per == "day" else range(24)
            for slot in slots:
                selected = on_days if slot < 0 else on_days & (hour == slot)
                if selected.any():
                    checks[f"{name}|{day_type}|{slot}"] = _value(target, waits[selected], view.lost[selected])
    visits = records.visits
    arrive = visits["arrive"]
    wait = waited_until(records) - arrive
    in_window = (arrive >= start) & (arrive < end)
    visit_day = np.clip((arrive // MINUTES_PER_DAY).astype(int), 0, calendar.days - 1)
    visit_hour = ((arrive % MINUTES_PER_DAY) // 60).astype(int)
    sums = np.zeros((len(request.pool_indices), len(request.day_types), 24))
    counts = np.zeros_like(sums)
    for position, pool in enumerate(request.pool_indices):
        of_pool = in_window & (visits["pool"] == pool)
        for row, day_type in enumerate(request.day_types):
            mask = of_pool & flags[day_type][visit_day]
            sums[position, row] = np.bincount(visit_hour[mask], weights=wait[mask], minlength=24)[:24]
            counts[position, row] = np.bincount(visit_hour[mask], minlength=24)[:24]
    return {"checks": checks, "wait_sums": sums, "visit_counts": counts}


def _value(target: ServiceTarget, waits: np.ndarray, lost: np.ndarray) -> float:
    if target.measure in WAIT_MEASURES:
        return float(WAIT_MEASURES[target.measure](waits))
    if target.measure == "share_within":
        return float(np.mean(waits <= target.within))
    return float(np.mean(lost))


# --------------------------------------------------------------------------------------------
# evaluations: a roster's replications, their checks, kept on disk
# --------------------------------------------------------------------------------------------
@dataclass
class Evaluation:
    roster: Roster
    outputs: list[dict[str, Any]]       # one per replication; a top-up makes a new Evaluation
    booth_hours: float                  # per measured day, free pools, as simulated
    _checks: tuple[StaffingPlan, pd.DataFrame] | None = field(default=None, repr=False, compare=False)

    @property
    def replications(self) -> int:
        return len(self.outputs)

    def checks(self, plan: StaffingPlan) -> pd.DataFrame:
        """One row per check: target, day type, hour (-1: day), mean, CI, limit, status (worked
        out once per plan: the outputs do not change)."""
        if self._checks is None or self._checks[0] is not plan:
            self._checks = (plan, self._check_table(plan))
        return self._checks[1]

    def failed(self, plan: StaffingPlan) -> pd.DataFrame:
        """The checks that are not met (missed, or close after the most replications)."""
        checks = self.checks(plan)
        return checks[checks["status"] != MET]

    def _check_table(self, plan: StaffingPlan) -> pd.DataFrame:
        names = list(plan.spec.targets)
        keys = sorted({key for output in self.outputs for key in output["checks"]},
                      key=lambda key: (names.index(key.split("|")[0]), key.split("|")[1], int(key.split("|")[2])))
        rows = []
        for key in keys:
            name, day_type, slot = key.split("|")
            target = plan.spec.targets[name]
            values = [output["checks"].get(key, np.nan) for output in self.outputs]
            values = [v for v in values if not math.isnan(v)]
            mean, low, high = (mean_ci(values, bounds=target.value_range) if len(values) > 1
                               else (values[0], -math.inf, math.inf))
            if math.isnan(low):          # every replication alike: the CI is the value itself
                low = high = mean
            limit = target.limit
            if target.higher_is_better:
                status = MET if low >= limit else MISSED if high < limit else CLOSE
            else:
                status = MET if high <= limit else MISSED if low > limit else CLOSE
            rows.append({"target": name, "day_type": day_type, "hour": int(slot), "mean": mean, "ci_low": low,
                         "ci_high": high, "limit": limit, "status": status, "replications": len(values)})
        return pd.DataFrame(rows, columns=["target", "day_type", "hour", "mean", "ci_low", "ci_high", "limit",
                                           "status", "replications"])

    def pool_waits(self) -> np.ndarray:
        """Mean wait per visit by (free pool, day type, hour), over every replication (NaN: no visit)."""
        sums = sum(output["wait_sums"] for output in self.outputs)
        counts = sum(output["visit_counts"] for output in self.outputs)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)

    def pool_waiting(self) -> np.ndarray:
        """Total waiting minutes per replication by (free pool, day type, hour)."""
        return sum(output["wait_sums"] for output in self.outputs) / max(self.replications, 1)


class Store:
    """The search's folder: ``staffing.json`` and one folder per evaluation (atomic, checksummed)."""

    def __init__(self, plan: StaffingPlan, out: Path | None, resume: bool):
        self.plan, self.out = plan, out
        self.cached: dict[str, list[dict[str, Any]]] = {}
        if out is None:
            return
        scenario = plan.scenario.model_dump(mode="json", by_alias=True)
        scenario["staffing_targets"]["search"].pop("max_evaluations")   # a larger budget continues a search
        digest = hashlib.sha256(json.dumps({"scenario": scenario,
                                            "seed": plan.seed, "version": __version__},
                                           sort_keys=True, default=str).encode()).hexdigest()
        if resume:
            self._load(digest)
            return
        if out.exists() and any(out.iterdir()):
            raise ScenarioError(Problem(str(out), "", "already exists and is not empty: use --resume to finish an "
                                        "interrupted search, or choose another --out"))
        with atomic_folder(out) as staging:
            (staging / EVALUATIONS).mkdir()
            (staging / MANIFEST).write_text(json.dumps({
                "digest": digest, "scenario": str(plan.source), "package_version": __version__,
                "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}, indent=2) + "\n",
                encoding="utf-8")

    def _load(self, digest: str) -> None:
        manifest = self.out / MANIFEST
        try:
            recorded = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise ScenarioError(Problem(str(self.out), "", f"nothing to resume: no readable {MANIFEST} in this "
                                        "folder")) from None
        if recorded.get("digest") != digest:
            raise ScenarioError(Problem(str(self.plan.source), "", "the scenario or its staffing targets changed "
                                        f"since this search started (hash differs from {manifest}); start a new "
                                        "search in another folder"))
        folder = self.out / EVALUATIONS
        folder.mkdir(exist_ok=True)
        remove_stale_partials(folder)
        for point in sorted(folder.iterdir()):
            if not point.is_dir():
                continue
            problem = point_problem(point)
            if problem is not None:
                print(f"note: evaluation {point.name} is incomplete or damaged ({problem}); running it again",
                      file=sys.stderr)
                continue
            info = json.loads((point / POINT_FILE).read_text(encoding="utf-8"))
            outputs = _read_outputs(point)
            if len(outputs) > len(self.cached.get(info["roster"], [])):
                self.cached[info["roster"]] = outputs

    def save(self, key: str, outputs: list[dict[str, Any]]) -> None:
        if self.out is None:
            return
        target = self.out / EVALUATIONS / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}-r{len(outputs)}"
        if target.exists():
            return
        with atomic_folder(target) as staging:
            _write_outputs(outputs, staging)
            (staging / POINT_FILE).write_text(json.dumps({
                "roster": key, "replications": len(outputs), "seed": self.plan.seed,
                "files": file_digests(staging)}, indent=2) + "\n", encoding="utf-8")


def _write_outputs(outputs: list[dict[str, Any]], folder: Path) -> None:
    rows = [(r, key, value) for r, output in enumerate(outputs) for key, value in output["checks"].items()]
    pd.DataFrame(rows, columns=["replication", "check", "value"]).to_csv(folder / "summary.csv", index=False)
    np.savez(folder / "pools.npz", sums=np.array([o["wait_sums"] for o in outputs]),
             counts=np.array([o["visit_counts"] for o in outputs]))


def _read_outputs(folder: Path) -> list[dict[str, Any]]:
    table = pd.read_csv(folder / "summary.csv")
    arrays = np.load(folder / "pools.npz")
    outputs = []
    for r in range(len(arrays["sums"])):
        rows = table[table["replication"] == r]
        outputs.append({"checks": dict(zip(rows["check"], rows["value"].astype(float))),
                        "wait_sums": arrays["sums"][r], "visit_counts": arrays["counts"][r]})
    return outputs


# --------------------------------------------------------------------------------------------
# the search
# --------------------------------------------------------------------------------------------
@dataclass
class StaffingResult:
    plan: StaffingPlan
    before: Roster
    start: Roster
    after: Roster
    before_evaluation: Evaluation
    final: Evaluation                       # the chosen roster on the search horizon
    check: Evaluation | None                # the chosen roster on the full calendar (if shorter search)
    history: list[Evaluation]
    binding: dict[tuple[str, int, int], str]   # (pool, day type row, block) -> what stops a removal
    outcome: str                            # "optimal" | "budget" | "infeasible"
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def all_met(self) -> bool:
        return (self.check or self.final).failed(self.plan).empty

    @cached_property
    def booth_hours(self) -> pd.DataFrame:
        """:func:`booth_hours_table`, worked out once for the file, the roster file and the console."""
        plan = self.plan
        before = booth_hours_per_day(plan, plan.scenario)
        after = booth_hours_per_day(plan, plan.with_roster(self.after, plan.scenario))
        rows = [{"pool": p.name, "before": before[p.name], "after": after[p.name],
                 "change": after[p.name] - before[p.name], "cost_per_booth_hour": p.cost} for p in plan.pools]
        rows.append({"pool": "total", "before": sum(before.values()), "after": sum(after.values()),
                     "change": sum(after.values()) - sum(before.values()), "cost_per_booth_hour": math.nan})
        return pd.DataFrame(rows)


class _Search:
    """Evaluations of rosters on one runner, cached by roster (and on disk by the store)."""

    def __init__(self, plan: StaffingPlan, runner: Replications, store: Store):
        self.plan, self.runner, self.store = plan, runner, store
        self.request = MeasureRequest(dict(plan.spec.targets), plan.day_types, tuple(p.index for p in plan.pools))
        self.cache: dict[str, Evaluation] = {}
        self.order: list[str] = []          # the rosters of the search, in the order first simulated
        self.simulated = 0

    @property
    def history(self) -> list[Evaluation]:
        return [self.cache[key] for key in self.order]

    @property
    def spent(self) -> int:
        return len(self.order)

    def evaluate(self, roster: Roster, variant: Scenario | None = None, label: str = "") -> Evaluation:
        """The roster's checks, with more replications while one is close (up to the maximum).
        ``variant`` (with a ``label``) evaluates that scenario instead of the roster applied to
        the search horizon: the scenario as written, or the full calendar."""
        spec = self.plan.spec.search
        key = label or roster_key(roster)
        scenario = variant                  # the roster's scenario is built once, when first simulated
        wanted = spec.replications
        while True:
            evaluation = self.cache.get(key)
            if evaluation is None or evaluation.replications < wanted:
                scenario = scenario or self.plan.with_roster(roster)
                evaluation = self._replications(roster, key, wanted, scenario)
            checks = evaluation.checks(self.plan)
            if (checks["status"] == MISSED).any() or not (checks["status"] == CLOSE).any():
                return evaluation
            if evaluation.replications >= spec.max_replications:
                return evaluation
            wanted = min(spec.max_replications, 2 * evaluation.replications)

    def _replications(self, roster: Roster, key: str, count: int, scenario: Scenario) -> Evaluation:
        """The roster's evaluation topped up to ``count`` replications (from the store first)."""
        evaluation = self.cache.get(key)
        outputs = list(evaluation.outputs) if evaluation else []
        stored = self.store.cached.get(key, [])
        if len(stored) > len(outputs):
            outputs = stored[:max(count, len(outputs))]
        if len(outputs) < count:
            self.runner.submit(key, scenario, self.plan.seed, range(len(outputs), count), self.request)
            self.simulated += count - len(outputs)
            outputs = outputs + self.runner.collect()[key]
            self.store.save(key, outputs)
        if evaluation is None and not key.startswith("|"):
            self.order.append(key)
        cost = evaluation.booth_hours if evaluation else weighted_cost(self.plan, booth_hours_per_day(self.plan, scenario))
        evaluation = Evaluation(roster, outputs, cost)
        self.cache[key] = evaluation
        return evaluation


def _worst(failed: pd.DataFrame, plan: StaffingPlan) -> Any:
    """The failed check furthest on the wrong side of its limit (relative to the limit)."""
    sign = np.array([-1.0 if plan.spec.targets[name].higher_is_better else 1.0 for name in failed["target"]])
    excess = sign * (failed["mean"].to_numpy() - failed["limit"].to_numpy()) / np.maximum(failed["limit"].abs(), 1e-9)
    return failed.iloc[int(np.argmax(excess))]


def _additions(plan: StaffingPlan, roster: Roster, evaluation: Evaluation,
               failed: pd.DataFrame) -> tuple[Roster, list[str]]:
    """One booth more, for each ``failed`` check of the evaluation, where its travellers wait
    longest per unit cost; the failed checks no booth can help (every pool of theirs at its lanes)
    are returned."""
    waiting = evaluation.pool_waiting()
    new = {name: levels.copy() for name, levels in roster.items()}
    chosen: set[tuple[int, int, int]] = set()
    hopeless = []
    for check in failed.itertuples():
        row = plan.day_types.index(check.day_type)
        hours = range(24) if check.hour < 0 else [(check.hour + k) % 24 for k in range(3)]
        best, best_score = None, 0.0
        for position in plan.target_pools[check.target]:
            info = plan.pools[position]
            for hour in hours:
                column = next(i for i, (a, b) in enumerate(plan.blocks) if a <= hour < b)
                if new[info.name][row, column] >= info.maximum or not plan.open_blocks[column]:
                    continue
                score = waiting[position, row, hour] / info.cost
                if score > best_score:
                    best, best_score = (position, row, column), score
        if best is None:
            hopeless.append(f"{check.target} ({check.day_type}, {'day' if check.hour < 0 else f'{check.hour:02d} h'})")
            continue
        if best in chosen:
            continue
        chosen.add(best)
        position, row, column = best
        info = plan.pools[position]
        levels = new[info.name][row].copy()
        levels[column] += 1
        new[info.name][row] = np.minimum(repair_shifts(levels, plan.blocks, plan.min_shift_hours), info.maximum)
    return (new if chosen else roster), hopeless


def _kept_by(plan: StaffingPlan, info: PoolInfo, levels: np.ndarray, row: int, column: int) -> str | None:
    """What forbids taking one booth from ``info``'s pool (its booths ``levels``) on day type
    ``row`` in block ``column``: ``"closed"``, ``"minimum booths"`` or ``"minimum shift"``; None
    when the bounds and the shift rule allow it."""
    if not plan.open_blocks[column]:
        return "closed"
    if levels[row, column] <= info.minimum:
        return "minimum booths"
    trial = levels[row].copy()
    trial[column] -= 1
    return None if shift_ok(trial, plan.blocks, plan.min_shift_hours) else "minimum shift"


def _removals(plan: StaffingPlan, roster: Roster, evaluation: Evaluation,
              refused: set[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Single-booth removals allowed by the bounds and the shift rule, cheapest to lose first
    (the least waiting per booth at that pool and block, the highest cost)."""
    waits = evaluation.pool_waits()
    candidates = []
    for position, info in enumerate(plan.pools):
        levels = roster[info.name]
        for row in range(len(plan.day_types)):
            for column, (a, b) in enumerate(plan.blocks):
                move = (info.name, row, column)
                if move in refused or _kept_by(plan, info, levels, row, column):
                    continue
                wait = np.nanmax(waits[position, row, a:b]) if np.isfinite(waits[position, row, a:b]).any() else 0.0
                candidates.append((wait / info.cost, -info.cost, move))
    candidates.sort(key=lambda item: (item[0], item[1]))
    return [move for _, _, move in candidates]


def _without(roster: Roster, moves: list[tuple[str, int, int]]) -> Roster:
    new = {name: levels.copy() for name, levels in roster.items()}
    for name, row, column in moves:
        new[name][row, column] -= 1
    return new


def plan_staffing(source: str | os.PathLike | Scenario | StaffingPlan, out: str | os.PathLike | None = None,
                  workers: int = 1, executor: str = "local", scheduler: str | None = None, resume: bool = False,
                  replications: int | None = None, progress: bool | None = None,
                  max_evaluations: int | None = None) -> StaffingResult:
    """Search the fewest booth-hours that meet the scenario's ``staffing_targets`` (module docstring);
    ``source`` may be a plan already loaded with ``replications`` and ``max_evaluations``."""
    plan = source if isinstance(source, StaffingPlan) else load_plan(source, replications, max_evaluations)
    spec = plan.spec.search
    with Replications(workers, executor, scheduler, f"staff {plan.scenario.name}", progress,
                      task=measure_replication, expected=spec.replications) as runner:
        store = Store(plan, Path(out) if out is not None else None, resume)
        search = _Search(plan, runner, store)
        before = current_roster(plan)
        before_evaluation = search.evaluate(before, plan.scenario, "|before")
        start = theory_roster(plan) if spec.start == "theory" else before
        roster, evaluation = start, search.evaluate(start)
        binding: dict[tuple[str, int, int], str] = {}
        refused: set[tuple[str, int, int]] = set()
        outcome = "budget"
        feasible: tuple[Roster, Evaluation] | None = None
        while search.spent < spec.max_evaluations:
            runner.bar.set_postfix_str(f"rosters {search.spent}, booth-hours/day {evaluation.booth_hours:.0f}")
            failed = evaluation.failed(plan)
            if len(failed):
                roster_added, hopeless = _additions(plan, roster, evaluation, failed)
                if roster_added is roster:
                    outcome = "infeasible"
                    binding.update({(p.name, r, c): "lanes (max): " + "; ".join(hopeless)
                                    for p in plan.pools for r in range(len(plan.day_types))
                                    for c in range(len(plan.blocks)) if roster[p.name][r, c] >= p.maximum})
                    break
                roster, evaluation = roster_added, search.evaluate(roster_added)
                continue
            feasible = (roster, evaluation)
            candidates = _removals(plan, roster, evaluation, refused)
            if not candidates:
                outcome = "optimal"
                break
            group = candidates[:max(1, len(candidates) // 2)]
            while group and search.spent < spec.max_evaluations:
                trial = _without(roster, group)
                trial_evaluation = search.evaluate(trial)
                failed = trial_evaluation.failed(plan)
                if failed.empty:
                    roster, evaluation = trial, trial_evaluation
                    break
                if len(group) == 1:
                    refused.add(group[0])
                    worst = _worst(failed, plan)
                    binding[group[0]] = (f"target {worst.target} ({worst.day_type}, "
                                         f"{'day' if worst.hour < 0 else f'{int(worst.hour):02d} h'})")
                    break
                group = group[:len(group) // 2]
        # the last roster that met every check; without one the last tried (outcome budget or infeasible)
        after, final = feasible or (roster, evaluation)
        for info in plan.pools:
            for row in range(len(plan.day_types)):
                for column in range(len(plan.blocks)):
                    key = (info.name, row, column)
                    if key not in binding:
                        binding[key] = _kept_by(plan, info, after[info.name], row, column) or "not tried (budget)"
        check = None
        if plan.search_scenario.calendar.days != plan.scenario.calendar.days:
            check = search.evaluate(after, plan.with_roster(after, plan.scenario), "|check")
        info = runner.record(plan.seed, search.simulated, workers, executor=executor, evaluations=search.spent,
                             outcome=outcome, search_days=plan.search_scenario.calendar.days)
        info["replications_simulated"] = search.simulated
    return StaffingResult(plan, before, start, after, before_evaluation, final, check, search.history, binding,
                          outcome, info)


# --------------------------------------------------------------------------------------------
# tables and the roster file
# --------------------------------------------------------------------------------------------
def booth_hours_table(result: StaffingResult) -> pd.DataFrame:
    """Booth-hours per measured day of each free pool, before (as written) and after, and their
    cost: the result's one table (:attr:`StaffingResult.booth_hours`; read it, do not change it)."""
    return result.booth_hours


def service_table(result: StaffingResult) -> pd.DataFrame:
    """Every check before and after: mean, 95 % CI, limit, status (the final run: check or search)."""
    plan = result.plan
    before = result.before_evaluation.checks(plan).assign(roster="before")
    after = (result.check or result.final).checks(plan).assign(roster="after")
    return pd.concat([before, after], ignore_index=True)


def binding_table(result: StaffingResult) -> pd.DataFrame:
    """Per free pool, day type and block: booths before and after and what keeps the number there."""
    plan = result.plan
    rows = []
    for info in plan.pools:
        for row, day_type in enumerate(plan.day_types):
            for column, (a, b) in enumerate(plan.blocks):
                rows.append({"pool": info.name, "day_type": day_type, "from_hour": a, "to_hour": b,
                             "booths_before": int(result.before[info.name][row, column]),
                             "booths_start": int(result.start[info.name][row, column]),
                             "booths_after": int(result.after[info.name][row, column]),
                             "binding": result.binding.get((info.name, row, column), "")})
    return pd.DataFrame(rows)


def open_booths_by_hour(plan: StaffingPlan, roster: Roster) -> pd.DataFrame:
    """Open booths by hour of day for each free pool and day type (0 when the checkpoint is closed)."""
    opening, closing = opening_window(plan.scenario.calendar)
    rows = []
    for info in plan.pools:
        for row, day_type in enumerate(plan.day_types):
            for column, (a, b) in enumerate(plan.blocks):
                for hour in range(a, b):
                    is_open = opening <= 60 * hour + 30 < closing
                    rows.append({"pool": info.name, "day_type": day_type, "hour": hour,
                                 "booths": int(roster[info.name][row, column]) if is_open else 0})
    return pd.DataFrame(rows)


def frontier_table(result: StaffingResult) -> pd.DataFrame:
    """Every simulated roster: booth-hours per day and, for each target, the worst upper (or lower)
    95 % confidence bound of its checks; ``pareto`` marks the rosters no other beats on both."""
    plan = result.plan
    rows = []
    for number, evaluation in enumerate(result.history):
        checks = evaluation.checks(plan)
        row: dict[str, Any] = {"evaluation": number, "booth_hours": evaluation.booth_hours,
                               "replications": evaluation.replications,
                               "all_met": bool((checks["status"] == MET).all())}
        for name, target in plan.spec.targets.items():
            mine = checks[checks["target"] == name]
            row[name] = mine["ci_low"].min() if target.higher_is_better else mine["ci_high"].max()
        rows.append(row)
    table = pd.DataFrame(rows)
    first = next(iter(plan.spec.targets))
    sign = -1 if plan.spec.targets[first].higher_is_better else 1
    values = table[first] * sign
    table["pareto"] = [not ((table["booth_hours"] <= h) & (values <= v) & ((table["booth_hours"] < h) | (values < v))).any()
                       for h, v in zip(table["booth_hours"], values)]
    return table


def theory_frontier(plan: StaffingPlan, limits: list[float]) -> pd.DataFrame:
    """Booth-hours per day of the queueing-theory start for the first target at other limits
    (a wait target: its limit in minutes), the other targets as written."""
    name, target = next(iter(plan.spec.targets.items()))
    rows = []
    for limit in limits:
        if target.measure.startswith("wait"):
            changed = target.model_copy(update={"at_most": f"{limit:g} min"})
        else:
            changed = target.model_copy(update={"at_most": limit})
        spec = plan.spec.model_copy(update={"targets": {**plan.spec.targets, name: changed}})
        variant = dataclasses.replace(plan, spec=spec)
        roster = theory_roster(variant)
        hours = booth_hours_per_day(plan, plan.with_roster(roster, plan.scenario))
        rows.append({"limit": limit, "booth_hours": weighted_cost(plan, hours)})
    return pd.DataFrame(rows)


def roster_yaml(result: StaffingResult, scenario_out: Path, command: str, when: dt.datetime) -> str:
    """The roster scenario file: a comment block (targets reached, booth-hours), then ``extends``
    the original and every changed pool's booths (the calibrated file's writer conventions)."""
    plan = result.plan
    name = scenario_out.stem
    hours = booth_hours_table(result)
    total = hours[hours["pool"] == "total"].iloc[0]
    header = [f"{name}: {plan.source.name if plan.source else plan.scenario.name} with the booths of its free pools "
              "planned by", f"  {command}",
              f"on {when:%Y-%m-%d %H:%M} UTC (checkpoint-sim {__version__}). Re-run the command rather than editing "
              "the values by hand.", "",
              f"Search: {result.outcome}; {result.info.get('evaluations')} rosters, "
              f"{result.info.get('replications_simulated')} replications simulated, seed {plan.seed}.",
              f"Booth-hours per day of the free pools: {total.before:.1f} before, {total.after:.1f} after.", "",
              "Targets (final run, worst check: mean [95 % CI] against the limit):"]
    checks = (result.check or result.final).checks(plan)
    for target_name, target in plan.spec.targets.items():
        mine = checks[checks["target"] == target_name]
        worst = mine.loc[(mine["ci_low"] if target.higher_is_better else -mine["ci_high"]).idxmin()] if len(mine) else None
        met = bool((mine["status"] == MET).all())
        shown = (f"{worst['mean']:.3g} [{worst['ci_low']:.3g}, {worst['ci_high']:.3g}]" if worst is not None else "n/a")
        header.append(f"  {target_name}: {target.describe()}: worst {shown}: {'met' if met else 'NOT MET'}")
        if target.source:
            header.append(f"    source: {target.source}")
    overlay: dict[str, Any] = {"name": name}
    for info in plan.pools:
        if np.array_equal(result.after[info.name], result.before[info.name]):
            continue
        overlay.setdefault("stages", {}).setdefault(info.stage, {}).setdefault("pools", {})[info.pool] = {
            "booths": booth_rules(result.after[info.name], plan.blocks, plan.day_types)}
    parent = os.path.relpath(plan.source.resolve(), scenario_out.parent.resolve()) if plan.source else None
    return extending_yaml("\n".join(header), parent, overlay)


def write_roster_scenario(text: str, path: Path, result: StaffingResult) -> None:
    """Write the roster file under a hidden name, check that it loads to the planned booths, and
    rename it into place."""
    write_scenario(text, path, lambda loaded: None if roster_key(current_roster(result.plan, loaded))
                   == roster_key(result.after) else "the roster file does not load to the planned booths")


__all__ = ["Evaluation", "MeasureRequest", "StaffingResult", "binding_table", "booth_hours_table",
           "frontier_table", "measure_replication", "open_booths_by_hour", "plan_staffing", "roster_yaml",
           "service_table", "theory_frontier", "write_roster_scenario"]
