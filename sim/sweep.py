"""Batch sweeps: many scenario variants x replications, resumable, on any executor.

A sweep file names a base scenario and what to vary: a ``grid`` over dotted field paths (every
combination) and/or named ``variants`` (each a few overrides); every variant is combined with
every grid point. All points use the same seed, so replication ``r`` of every point draws from the
same random streams (common random numbers): differences between points are paired comparisons.

Each finished point is written atomically to ``points/<id>/`` as soon as its replications are
done; ``--resume`` skips finished points and refuses if the sweep file or the base scenario
changed since (their hash is kept in ``sweep.json``). Workers reduce each replication to metric
rows, so a sweep never holds entity rows unless ``keep_entities`` is asked for.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable, Union

import pandas as pd
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from . import __version__
from .errors import Problem, ScenarioError
from .executors import make_executor, progress_bar
from .outputs import ENTITIES_FILE, atomic_folder, resolved_yaml, write_csv_atomic, write_entities
from .runner import ReplicationOutput, hourly_table, replication_table, run_replication, summary_table
from .scenario import Scenario, load_scenario, read_yaml
from .scenario.loader import validate_model
from .scenario.units import parse_duration
from .stats import mean_ci

MANIFEST = "sweep.json"


def _target(value: str | float | None) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if text.endswith("%"):
        number = float(text[:-1])
        if not 0 < number < 100:
            raise ValueError(f"expected a relative target between 0 % and 100 %, got {text!r}")
        return text
    if parse_duration(text) <= 0:
        raise ValueError(f"expected a positive duration, got {text!r}")
    return text


class SweepFile(BaseModel):
    """What a sweep file may say."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: str
    replications: int = Field(default=10, ge=1, le=100000)
    seed: int = Field(default=20250701, ge=0)
    grid: dict[str, list[Any]] = {}
    variants: dict[str, dict[str, Any]] = {}
    target_ci: Annotated[Union[str, None], AfterValidator(_target)] = None  # "2 min" or "5%"
    max_replications: int = Field(default=200, ge=1)
    keep_entities: bool = False


@dataclass(frozen=True)
class Point:
    """One scenario variant of a sweep."""

    id: str
    params: dict[str, Any]          # column values in sweep.csv (variant name, grid values)
    overrides: dict[str, Any]       # dotted field path -> value


@dataclass
class Sweep:
    """A validated sweep: its points' scenarios are all checked before anything runs."""

    file: Path
    spec: SweepFile
    base: Scenario
    points: list[Point]
    scenarios: dict[str, Scenario]
    digest: str


def load_sweep(path: str | os.PathLike, overrides: dict[str, Any] | None = None) -> Sweep:
    """Read and validate a sweep file and every scenario it produces."""
    path = Path(path)
    data, lines = read_yaml(path)
    if not isinstance(data, dict):
        raise ScenarioError(Problem(str(path), "", "expected a mapping of sweep fields", 1))
    data = {**data, **(overrides or {})}
    spec: SweepFile = validate_model(SweepFile, data, lines, str(path))
    base_path = (path.parent / spec.base)
    base = load_scenario(base_path)
    for name, values in spec.grid.items():
        if not values:
            raise ScenarioError(Problem(str(path), f"grid.{name}", "expected at least one value",
                                        lines.get(("grid", name), (None, None))[1]))
    points = expand_points(spec)
    scenarios = {}
    for point in points:
        try:
            scenarios[point.id] = load_scenario(base, point.overrides)
        except ScenarioError as error:
            raise ScenarioError([Problem(str(path), ".".join(_origin(point, problem.path)),
                                         f"point {point.id} {point.params}: {problem.path}: {problem.message}",
                                         lines.get(_origin(point, problem.path), (None, None))[1])
                                 for problem in error.problems]) from None
    digest = hashlib.sha256(json.dumps({
        "sweep": spec.model_dump(mode="json"),
        "base": base.model_dump(mode="json"),
        "version": __version__}, sort_keys=True, default=str).encode()).hexdigest()
    return Sweep(path, spec, base, points, scenarios, digest)


def expand_points(spec: SweepFile) -> list[Point]:
    """Every variant combined with every grid combination, in file order."""
    variants = list(spec.variants.items()) or [(None, {})]
    names = list(spec.grid)
    points = []
    for variant, variant_overrides in variants:
        for values in itertools.product(*(spec.grid[name] for name in names)):
            params = ({"variant": variant} if variant is not None else {}) | dict(zip(names, values))
            overrides = dict(variant_overrides) | dict(zip(names, values))
            points.append(Point(f"p{len(points):04d}", params, overrides))
    return points


def _origin(point: Point, field_path: str) -> tuple[str, ...]:
    """Where in the sweep file the override that touches ``field_path`` was written."""
    variant = point.params.get("variant")
    for key in point.overrides:
        if field_path == key or field_path.startswith(key + ".") or key.startswith(field_path + "."):
            return ("grid", key) if key in point.params else ("variants", str(variant), key)
    return ("base",)


@dataclass
class _PointState:
    outputs: dict[int, ReplicationOutput] = field(default_factory=dict)
    submitted: int = 0


def half_width_target(spec: SweepFile, mean: float) -> float | None:
    """The CI half-width (minutes) the sweep wants for the mean wait, or None."""
    if spec.target_ci is None:
        return None
    if spec.target_ci.endswith("%"):
        return abs(mean) * float(spec.target_ci[:-1]) / 100
    return parse_duration(spec.target_ci)


def more_replications(spec: SweepFile, outputs: dict[int, ReplicationOutput]) -> int:
    """How many replications to add to meet the CI target (0 when met or at the maximum)."""
    count = len(outputs)
    if spec.target_ci is None or count >= spec.max_replications:
        return 0
    waits = [value for output in outputs.values() for group, metric, value in output.metrics
             if group == "all" and metric == "wait_mean"]
    mean, low, high = mean_ci(waits)
    target = half_width_target(spec, mean)
    half = (high - low) / 2 if not math.isnan(low) else math.inf
    if target is None or half <= target:
        return 0
    wanted = count * (half / target) ** 2 if math.isfinite(half) else 2 * count
    return int(min(spec.max_replications, max(count + 1, math.ceil(1.1 * wanted)))) - count


def run_sweep(sweep: Sweep, out: str | os.PathLike, workers: int = 1, resume: bool = False,
              executor: str = "local", scheduler: str | None = None, progress: bool | None = None,
              on_point_done: Callable[[str, Any], None] | None = None, figures: bool = True) -> pd.DataFrame:
    """Run every point not finished yet, write each as it completes, then ``sweep.csv`` (and,
    with ``figures``, the sweep's figures and ``report.html``)."""
    out = Path(out)
    finished = _prepare_folder(sweep, out, resume)
    todo = [point for point in sweep.points if point.id not in finished]
    spec = sweep.spec
    pool = make_executor(workers, executor, scheduler)
    states = {point.id: _PointState() for point in todo}
    points = {point.id: point for point in todo}
    try:
        for point in todo:
            _submit(pool, sweep, point, states[point.id], range(spec.replications))
        with progress_bar(len(todo) * spec.replications, f"sweep {sweep.file.stem}", progress) as bar:
            bar.set_postfix_str(f"points 0/{len(todo)}")
            done_points = 0
            for (point_id, replication), output in pool.results():
                state = states[point_id]
                state.outputs[replication] = output
                bar.update(1)
                if len(state.outputs) < state.submitted:
                    continue
                extra = more_replications(spec, state.outputs)
                if extra:
                    bar.total += extra
                    _submit(pool, sweep, points[point_id], state, range(state.submitted, state.submitted + extra))
                    continue
                _write_point(out, points[point_id], state, sweep)
                del states[point_id]
                done_points += 1
                bar.set_postfix_str(f"points {done_points}/{len(todo)}")
                if on_point_done is not None:
                    on_point_done(point_id, pool)
    except BaseException:
        pool.close(cancel=True)
        raise
    pool.close()
    table = collect(out, sweep)
    write_csv_atomic(table, out / "sweep.csv")
    if figures:
        write_sweep_outputs(out, table, sweep.base)
    return table


def write_sweep_outputs(out: Path, table: pd.DataFrame, base: Scenario | None, metric: str = "wait_p90",
                        target: float = 60.0) -> None:
    """The sweep's figures, ``report.html`` and its base scenario (``scenario.resolved.yaml``)."""
    from .report import write_sweep_report

    if base is not None and not (out / "scenario.resolved.yaml").exists():
        (out / "scenario.resolved.yaml").write_text(resolved_yaml(base), encoding="utf-8")
    write_sweep_report(out, table, base, metric=metric, target=target)


def _submit(pool, sweep: Sweep, point: Point, state: _PointState, replications: range) -> None:
    for replication in replications:
        pool.submit((point.id, replication), run_replication, sweep.scenarios[point.id], sweep.spec.seed,
                    replication, sweep.spec.keep_entities)
    state.submitted = replications.stop


def _prepare_folder(sweep: Sweep, out: Path, resume: bool) -> set[str]:
    """Create the sweep folder (or check it for --resume); return the finished point ids."""
    manifest = out / MANIFEST
    if resume:
        if not manifest.exists():
            raise ScenarioError(Problem(str(out), "", f"nothing to resume: no {MANIFEST} in this folder"))
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
        if recorded.get("digest") != sweep.digest:
            raise ScenarioError(Problem(str(sweep.file), "", "the sweep file or its base scenario changed since this "
                                        f"sweep started (hash differs from {manifest}); start a new sweep in another "
                                        "folder"))
        for leftover in (out / "points").glob(".*.partial-*"):     # a point being written when killed
            shutil.rmtree(leftover, ignore_errors=True)
        return {point.id for point in sweep.points if (out / "points" / point.id / "point.json").exists()}
    if out.exists() and any(out.iterdir()):
        raise ScenarioError(Problem(str(out), "", "already exists and is not empty: use --resume to finish an "
                                    "interrupted sweep, or choose another --out"))
    (out / "points").mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({
        "digest": sweep.digest, "sweep_file": str(sweep.file), "package_version": __version__,
        "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "points": [{"id": p.id, "params": p.params} for p in sweep.points]}, indent=2, default=str) + "\n",
        encoding="utf-8")
    return set()


def _write_point(out: Path, point: Point, state: _PointState, sweep: Sweep) -> None:
    ordered = [state.outputs[r] for r in sorted(state.outputs)]
    with atomic_folder(out / "points" / point.id) as staging:
        summary_table(ordered).to_csv(staging / "summary.csv", index=False)
        replication_table(ordered).to_csv(staging / "replications.csv", index=False)
        hourly_table(ordered).to_csv(staging / "hourly.csv", index=False)
        if sweep.spec.keep_entities:
            write_entities(pd.concat([o.entities for o in ordered], ignore_index=True), staging / ENTITIES_FILE)
        (staging / "point.json").write_text(json.dumps({
            "id": point.id, "params": point.params, "overrides": point.overrides, "seed": sweep.spec.seed,
            "replications": len(ordered)}, indent=2, default=str) + "\n", encoding="utf-8")


def collect(out: Path, sweep: Sweep) -> pd.DataFrame:
    """``sweep.csv``: point parameters as columns, then group, metric, mean, ci_low, ci_high."""
    frames = []
    for point in sweep.points:
        folder = out / "points" / point.id
        if not (folder / "point.json").exists():
            continue
        summary = pd.read_csv(folder / "summary.csv")
        replications = json.loads((folder / "point.json").read_text(encoding="utf-8"))["replications"]
        columns = {"point": point.id, **{name: _cell(value) for name, value in point.params.items()},
                   "replications": replications}
        frames.append(summary.assign(**columns)[[*columns, *summary.columns]])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _cell(value: Any) -> Any:
    """A parameter value as one CSV cell (mappings and lists as JSON)."""
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value
