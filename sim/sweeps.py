"""Batch sweeps: many scenario variants x replications, resumable, on any executor.

A sweep file names a base scenario and what to vary: a ``grid`` over dotted field paths (every
combination) and/or named ``variants`` (each a few overrides); every variant is combined with
every grid point. All points use the same seed, so replication ``r`` of every point draws from the
same random streams (common random numbers): differences between points are paired comparisons.

Each finished point is written atomically to ``points/<id>/`` as soon as its replications are
done, its ``point.json`` holding the sha256 of the point's other files; ``--resume`` skips the
finished points whose files match, runs again the damaged ones, and refuses if the sweep file or
the base scenario changed since (their hash is kept in ``sweep.json``, written atomically with
the folder). Workers reduce each replication to metric
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
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable, Union

import pandas as pd
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from .errors import Problem, ScenarioError
from .experiment import Replications
from .runner import ReplicationOutput, hourly_table, replication_table, summary_table
from .scenario import Scenario, load_scenario, read_yaml
from .scenario.loader import validate_model
from .scenario.units import parse_duration
from .stats import mean_ci
from .storage import ENTITIES_FILE, atomic_folder, remove_stale_partials, write_entities
from .version import __version__

MANIFEST = "sweep.json"
POINT_FILE = "point.json"


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


def load_sweep(path: str | os.PathLike, overrides: dict[str, Any] | None = None,
               point_overrides: dict[str, Any] | None = None) -> Sweep:
    """Read and validate a sweep file and every scenario it produces.

    ``overrides`` replace fields of the sweep file (``replications``, ``seed``...);
    ``point_overrides`` (dotted scenario paths, e.g. ``{"calendar.days": 9}`` from ``--days``)
    apply to the base scenario and so to every point; a grid or variant that sets one of them
    too is refused.
    """
    path = Path(path)
    data, lines = read_yaml(path)
    if not isinstance(data, dict):
        raise ScenarioError(Problem(str(path), "", "expected a mapping of sweep fields", 1))
    data = {**data, **(overrides or {})}
    spec: SweepFile = validate_model(SweepFile, data, lines, str(path))
    base_path = (path.parent / spec.base)
    base = load_scenario(base_path, point_overrides or None)
    for name, values in spec.grid.items():
        if not values:
            raise ScenarioError(Problem(str(path), f"grid.{name}", "expected at least one value",
                                        lines.get(("grid", name), (None, None))[1]))
    points = expand_points(spec)
    _refuse_overlaps(path, lines, points, point_overrides or {})
    scenarios, failures = {}, {}
    for point in points:
        try:
            scenarios[point.id] = load_scenario(base, point.overrides)
        except ScenarioError as error:
            for problem in error.problems:
                failures.setdefault((_origin(point, problem.path), problem.path, problem.message), []).append(point)
    if failures:
        raise ScenarioError([_point_problem(path, lines, origin, field, message, failed)
                             for (origin, field, message), failed in failures.items()])
    digest = hashlib.sha256(json.dumps({
        "sweep": spec.model_dump(mode="json"),
        "base": base.model_dump(mode="json"),
        "version": __version__}, sort_keys=True, default=str).encode()).hexdigest()
    return Sweep(path, spec, base, points, scenarios, digest)


def _point_problem(path: Path, lines: dict, origin: tuple[str, ...], field: str, message: str,
                   points: list[Point]) -> Problem:
    """One problem of the scenarios a sweep produces, at the grid value or variant that causes
    it, naming the first point it breaks and how many others it breaks the same way."""
    first = points[0]
    others = f" (and {len(points) - 1} other point{'s' if len(points) > 2 else ''})" if len(points) > 1 else ""
    return Problem(str(path), ".".join(origin), f"point {first.id} {first.params}{others}: {field}: {message}",
                   lines.get(origin, (None, None))[1])


def _overlaps(first: str, second: str) -> bool:
    """Whether two dotted paths touch the same field (equal, or one inside the other)."""
    return first == second or first.startswith(second + ".") or second.startswith(first + ".")


def _refuse_overlaps(path: Path, lines: dict, points: list[Point], point_overrides: dict[str, Any]) -> None:
    """A grid or variant must not set a field that the command line sets on every point."""
    for point in points:
        for key in point.overrides:
            for fixed, value in point_overrides.items():
                if _overlaps(key, fixed):
                    origin = _origin(point, key)
                    raise ScenarioError(Problem(str(path), ".".join(origin),
                                                f"sets {key}, which the command line sets on every point "
                                                f"({fixed} = {value}): drop one of them",
                                                lines.get(origin, (None, None))[1]))


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
        if _overlaps(field_path, key):
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
              on_point_done: Callable[[str, Any], None] | None = None) -> pd.DataFrame:
    """Run every point not finished yet, write each as it completes into ``out/points/<id>/``,
    and return the sweep table of every finished point (:func:`collect`); the sweep's own files
    (``sweep.csv``, figures, ``report.html``) are written by :func:`sim.publish.publish_sweep`."""
    out = Path(out)
    spec = sweep.spec
    with Replications(workers, executor, scheduler, f"sweep {sweep.file.stem}", progress) as runner:
        finished = _prepare_folder(sweep, out, resume)      # after connecting (Dask): nothing written before
        todo = [point for point in sweep.points if point.id not in finished]
        states = {point.id: _PointState() for point in todo}
        points = {point.id: point for point in todo}
        for point in todo:
            _submit(runner, sweep, point, states[point.id], range(spec.replications))
        runner.bar.set_postfix_str(f"points 0/{len(todo)}")
        done_points = 0
        for (point_id, replication), output in runner.results():
            state = states[point_id]
            state.outputs[replication] = output
            if len(state.outputs) < state.submitted:
                continue
            extra = more_replications(spec, state.outputs)
            if extra:
                _submit(runner, sweep, points[point_id], state, range(state.submitted, state.submitted + extra))
                continue
            _write_point(out, points[point_id], state, sweep)
            del states[point_id]
            done_points += 1
            runner.bar.set_postfix_str(f"points {done_points}/{len(todo)}")
            if on_point_done is not None:
                on_point_done(point_id, runner.executor)
    return collect(out, sweep)


def _submit(runner: Replications, sweep: Sweep, point: Point, state: _PointState, replications: range) -> None:
    runner.submit(point.id, sweep.scenarios[point.id], sweep.spec.seed, replications, sweep.spec.keep_entities)
    state.submitted = replications.stop


def read_manifest(out: Path) -> dict[str, Any]:
    """``sweep.json`` of a sweep folder; a missing, truncated or corrupt one is a user error."""
    manifest = out / MANIFEST
    if not manifest.is_file():
        raise ScenarioError(Problem(str(out), "", f"nothing to resume: no {MANIFEST} in this folder"))
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ScenarioError(Problem(str(manifest), "", f"is truncated or corrupt ({error}): this folder cannot be "
                                    "resumed; start the sweep again in another folder")) from None
    if not isinstance(recorded, dict) or "digest" not in recorded:
        raise ScenarioError(Problem(str(manifest), "", "is not a sweep manifest (no digest): this folder cannot "
                                    "be resumed; start the sweep again in another folder"))
    return recorded


def _prepare_folder(sweep: Sweep, out: Path, resume: bool) -> set[str]:
    """Create the sweep folder atomically with its ``sweep.json`` (or check it for --resume);
    return the ids of the finished points."""
    if resume:
        return _finished_points(sweep, out)
    if out.exists() and any(out.iterdir()):
        raise ScenarioError(Problem(str(out), "", "already exists and is not empty: use --resume to finish an "
                                    "interrupted sweep, or choose another --out"))
    with atomic_folder(out) as staging:
        (staging / "points").mkdir()
        (staging / MANIFEST).write_text(json.dumps({
            "digest": sweep.digest, "sweep_file": str(sweep.file), "package_version": __version__,
            "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "points": [{"id": p.id, "params": p.params} for p in sweep.points]}, indent=2, default=str) + "\n",
            encoding="utf-8")
    return set()


def _finished_points(sweep: Sweep, out: Path) -> set[str]:
    """For --resume: check the hash, remove what killed runs left, and return the points whose
    files match their ``point.json``; a damaged point is removed (and run again) with a note."""
    recorded = read_manifest(out)
    if recorded.get("digest") != sweep.digest:
        raise ScenarioError(Problem(str(sweep.file), "", "the sweep file or its base scenario changed since this "
                                    f"sweep started (hash differs from {out / MANIFEST}); start a new sweep in "
                                    "another folder"))
    points = out / "points"
    points.mkdir(exist_ok=True)
    remove_stale_partials(out)
    remove_stale_partials(points)          # a point being written when the run was killed
    finished = set()
    for point in sweep.points:
        folder = points / point.id
        if not folder.exists():
            continue
        problem = point_problem(folder)
        if problem is None:
            finished.add(point.id)
            continue
        print(f"note: point {point.id} is incomplete or damaged ({problem}); running it again", file=sys.stderr)
        shutil.rmtree(folder)
    return finished


def file_digests(folder: Path) -> dict[str, str]:
    """The sha256 of every file in ``folder`` (by name)."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.iterdir()) if path.is_file()}


def point_problem(folder: Path) -> str | None:
    """What is wrong with a written point folder (None when its files match ``point.json``)."""
    try:
        info = json.loads((folder / POINT_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"no {POINT_FILE}"
    except (OSError, ValueError) as error:
        return f"{POINT_FILE} unreadable: {error}"
    recorded = info.get("files") if isinstance(info, dict) else None
    if not isinstance(recorded, dict) or "summary.csv" not in recorded:
        return f"{POINT_FILE} records no checksums"
    actual = file_digests(folder)
    for name, digest in recorded.items():
        if actual.get(name) != digest:
            return f"{name} {'is missing' if name not in actual else 'does not match its checksum'}"
    return None


def _write_point(out: Path, point: Point, state: _PointState, sweep: Sweep) -> None:
    """The point's folder, atomically; ``point.json`` records the sha256 of every other file."""
    ordered = [state.outputs[r] for r in sorted(state.outputs)]
    with atomic_folder(out / "points" / point.id) as staging:
        summary_table(ordered).to_csv(staging / "summary.csv", index=False)
        replication_table(ordered).to_csv(staging / "replications.csv", index=False)
        hourly_table(ordered).to_csv(staging / "hourly.csv", index=False)
        if sweep.spec.keep_entities:
            write_entities(pd.concat([o.entities for o in ordered], ignore_index=True), staging / ENTITIES_FILE)
        (staging / POINT_FILE).write_text(json.dumps({
            "id": point.id, "params": point.params, "overrides": point.overrides, "seed": sweep.spec.seed,
            "replications": len(ordered), "files": file_digests(staging)}, indent=2, default=str) + "\n",
            encoding="utf-8")


def collect(out: Path, sweep: Sweep) -> pd.DataFrame:
    """``sweep.csv``: point parameters as columns, then group, metric, mean, ci_low, ci_high."""
    frames = []
    for point in sweep.points:
        folder = out / "points" / point.id
        if not (folder / POINT_FILE).exists():
            continue
        summary = pd.read_csv(folder / "summary.csv")
        replications = json.loads((folder / POINT_FILE).read_text(encoding="utf-8"))["replications"]
        columns = {"point": point.id, **{name: _cell(value) for name, value in point.params.items()},
                   "replications": replications}
        frames.append(summary.assign(**columns)[[*columns, *summary.columns]])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _cell(value: Any) -> Any:
    """A parameter value as one CSV cell (mappings and lists as JSON)."""
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value
