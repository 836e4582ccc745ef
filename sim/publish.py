"""The publishing layer: the only module that writes results folders.

One function per kind of result: :func:`publish_run`, :func:`publish_comparison`,
:func:`publish_sweep` (a sweep's own files, after its points), :func:`publish_calibration`,
:func:`publish_forecast` and :func:`publish_validation`. Each writes the CSV/JSON contract of
docs/outputs.md (file names and columns) and one self-contained ``report.html``; the figures are
drawn by :mod:`sim.plots` (``Figure`` objects), rendered here to PNG bytes, saved beside the
report and embedded in it, and the pages are built by :mod:`sim.report` (HTML strings). A new
folder is written atomically and never overwrites anything (:mod:`sim.storage`); the
``redraw_*`` functions (``checkpoint-sim plot DIR``) replace the figures and the report of an
existing folder, file by file, atomically.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
from matplotlib.figure import Figure

from . import plots
from .fitting import CalibrationResult, calibrated_yaml, calibration_markdown, check_scenario_out, \
    evaluations_table, write_calibrated_scenario
from .comparison import FIGURE_FILE, REPORT_CAPTION, SCENARIO_FOLDER, Comparison
from .metrics import peak_hours
from .outputs import RESOLVED_FILE, resolved_yaml
from .report import (REPORT_FILE, calibration_report, comparison_report, run_report, staffing_report, sweep_caption,
                     sweep_report, validation_report)
from .runner import Results, StartedRun, start_run
from .scenario import Scenario
from .scenario.writer import write_scenario
from .executors import Executor, progress_bar
from .memory import return_freed_memory
from .storage import (EntityTableWriter, atomic_folder, entities_file, json_text, write_bytes_atomic,
                      write_csv_atomic, write_entities, write_text_atomic)
from .sweeps import MANIFEST
from .staffing_planner import (StaffingResult, binding_table, booth_hours_table, frontier_table, open_booths_by_hour,
                               roster_yaml, service_table, theory_frontier, write_roster_scenario)
from .validation import markdown_report
from .version import __version__

if TYPE_CHECKING:                     # sim.forecast loads statsmodels (seconds): not for every run
    from .forecast import Forecast

Images = dict[str, tuple[bytes, str]]      # file name -> (PNG bytes, caption), in report order

CALIBRATION_FIGURE = "calibration.png"
CALIBRATION_CAPTION = ("Each target's band (shaded green) against the achieved mean with its 95 % confidence "
                       "interval (green: met, red: not met); with a check run, the fit run in grey above it.")


# --------------------------------------------------------------------------------------------
# figures: drawn by sim.plots, rendered and saved here
# --------------------------------------------------------------------------------------------
def save_figures(figures: dict[str, Figure], folder: Path) -> dict[str, bytes]:
    """Render each figure to PNG, write it as ``folder/<file name>`` (atomically) and close it;
    returns the PNG bytes by file name."""
    pngs: dict[str, bytes] = {}
    try:
        for name, figure in figures.items():
            pngs[name] = plots.png_bytes(figure)
            write_bytes_atomic(pngs[name], folder / name)
    finally:
        for figure in figures.values():
            plots.close(figure)
    return pngs


def _images(folder: Path, captions: dict[str, str], drawn: dict[str, bytes]) -> Images:
    """The figures of ``captions`` in that order: those just ``drawn``, else those already in
    ``folder`` (a redraw that cannot draw them keeps them in the report)."""
    images: Images = {}
    for name, caption in captions.items():
        if name in drawn:
            images[name] = (drawn[name], caption)
        elif (folder / name).is_file():
            images[name] = ((folder / name).read_bytes(), caption)
    return images


# --------------------------------------------------------------------------------------------
# a run
# --------------------------------------------------------------------------------------------
def publish_run(results: Results, out: str | os.PathLike, figures: bool = True,
                entities_format: str = "parquet", progress: bool | None = None) -> Path:
    """Write ``results`` into ``out`` (which must not exist yet, or be empty) and return its path:
    the tables (the entity table as ``entities_format``: ``parquet`` or ``csv``),
    ``scenario.resolved.yaml``, with ``figures`` the PNG figures (drawn one at a time, each closed
    once rendered), ``report.html`` (figures embedded), and last ``run.json`` with the
    wall time of each phase. ``progress`` shows a short bar of the writing steps on stderr
    (default: only when it is a terminal)."""
    target = Path(out)
    with atomic_folder(target) as staging:
        if results.entities is not None:
            with results.clock.phase("write_tables"):
                write_entities(results.entities, staging / entities_file(entities_format))
        _write_run(results, staging, figures, progress)
    return target


def run_and_publish(scenario: Scenario | StartedRun, out: str | os.PathLike, figures: bool = True,
                    entities_format: str = "parquet", keep_entities: bool = True, progress: bool | None = None,
                    info: dict[str, Any] | None = None, **run_options: Any) -> tuple[Results, Path]:
    """Run ``scenario`` (:func:`sim.runner.run` with ``run_options``) and write its results folder
    ``out`` as :func:`publish_run` would (the same bytes), but with each replication's entity
    rows written into the entity table as they arrive, in replication order, instead of held to
    the end: this process keeps none of them, only what the entity figures draw
    (``Results.entities`` is None, ``Results.entity_figures`` that reduction, made in the
    workers). ``scenario`` may be a run already started (:func:`sim.runner.start_run`, with
    ``streamed=keep_entities``; ``run_options`` are then its own): ``checkpoint-sim run``
    imports this module while its replications run. ``info`` adds facts to ``run.json`` (e.g.
    the command), which also says how long writing the entity rows took (``streamed_s``). With
    an :class:`~sim.executors.Executor` as ``executor``, its workers, idle once the replications
    are done, also draw the per-stage figures (:data:`PER_STAGE_FIGURES`) while this process
    draws the others. Returns the results and the folder."""
    target = Path(out)
    with (scenario if isinstance(scenario, StartedRun) else
          start_run(scenario, keep_entities=keep_entities, progress=progress, streamed=keep_entities,
                    **run_options)) as started:
        if (started.keep_entities, started.streamed) != (keep_entities, keep_entities):
            raise ValueError("a run started for run_and_publish streams its entity rows exactly when it keeps them")
        pool = started.executor              # an executor handed in (not one the run made and closes)
        if pool is not None and figures:
            pool.when_idle(plots.warm_up)       # a worker idle during the last replications imports matplotlib
        with atomic_folder(target) as staging:
            if not keep_entities:
                results = started.finish()
                results.info.update(info or {})
                _write_run(results, staging, figures, progress, pool)
                return results, target
            spent = [0.0]

            def write(table: pa.Table) -> None:
                began = time.perf_counter()
                writer.write(table)
                return_freed_memory()       # the rows handed over before these, decoded and freed since
                spent[0] += time.perf_counter() - began

            with EntityTableWriter(staging / entities_file(entities_format)) as writer:
                results = started.finish(entity_sink=write)
            results.info.update({**(info or {}), "streamed_s": {"write_entities": round(spent[0], 3)}})
            return_freed_memory()
            _write_run(results, staging, figures, progress, pool)
    return results, target


def _write_run(results: Results, staging: Path, figures: bool, progress: bool | None,
               executor: Executor | None = None) -> None:
    """Everything of a run's folder but the entity table, into ``staging``: the tables, the
    figures (those of entities from ``results.entity_figures``, else from its entity rows reduced;
    with an ``executor``, some by its workers), the report, last ``run.json``."""
    clock = results.clock
    drawable = plots.drawable(results) if figures else results
    names = plots.run_figures_planned(drawable) if figures else []
    with progress_bar(2 + len(names), "writing", progress) as bar:
        bar.unit = "step"
        with clock.phase("write_tables"):
            bar.set_postfix_str("tables", refresh=True)
            _write_run_tables(results, staging)
            bar.update(1)
        with clock.phase("figures"):
            drawn = _save_run_figures(drawable, names, staging, bar, executor)
        with clock.phase("report"):
            bar.set_postfix_str("report", refresh=True)
            (staging / REPORT_FILE).write_text(run_report(results, _images(staging, plots.RUN_FIGURES, drawn)),
                                               encoding="utf-8")
            bar.update(1)
        (staging / "run.json").write_text(json_text({**results.info, **clock.record()}), encoding="utf-8")


def _write_run_tables(results: Results, folder: Path) -> None:
    """The run's tables but the entity table, and its resolved scenario."""
    results.summary.to_csv(folder / "summary.csv", index=False)
    results.hourly.to_csv(folder / "hourly.csv", index=False)
    if results.timeline is not None:
        results.timeline.to_csv(folder / "timeline.csv", index=False)
    (folder / RESOLVED_FILE).write_text(resolved_yaml(results.scenario), encoding="utf-8")


PER_STAGE_FIGURES = ("queue_timeline.png", "queues_and_booths.png")
"""The run figures with a subplot per stage: two thirds of the drawing time, handed to the
workers when there are (their inputs are the small hourly and timeline tables)."""


def _save_run_figures(results: Results, names: list[str], folder: Path, bar: Any = None,
                      executor: Executor | None = None) -> dict[str, bytes]:
    """Draw each run figure of ``names``, write it into ``folder`` and close it (one open figure
    at a time in this process), advancing ``bar``; with an ``executor`` the per-stage figures are
    drawn by its workers meanwhile (the same bytes). Returns the PNG bytes by file name."""
    handed = [name for name in names if name in PER_STAGE_FIGURES] if executor is not None else []
    light = replace(results, entities=None, entity_figures=None)
    for name in handed:
        executor.submit(name, plots.run_figure_png, light, name)
    drawn: dict[str, bytes] = {}

    def save(name: str, png: bytes) -> None:
        drawn[name] = png
        write_bytes_atomic(png, folder / name)
        return_freed_memory()
        if bar is not None:
            bar.update(1)

    for name in names:
        if name in handed:
            continue
        if bar is not None:
            bar.set_postfix_str(name, refresh=True)
        save(name, plots.run_figure_png(results, name))
    for name, png in executor.results() if handed else ():
        save(name, png)
    return drawn


def redraw_run(results: Results, folder: str | os.PathLike) -> None:
    """Draw the figures of a results folder again and rewrite its ``report.html``."""
    folder = Path(folder)
    results = plots.drawable(results)
    drawn = _save_run_figures(results, plots.run_figures_planned(results), folder)
    write_text_atomic(run_report(results, _images(folder, plots.RUN_FIGURES, drawn)), folder / REPORT_FILE)


# --------------------------------------------------------------------------------------------
# a comparison
# --------------------------------------------------------------------------------------------
def draw_comparison(comparison: Comparison) -> Figure:
    """The side-by-side figure of a comparison."""
    names = [s.name for s in comparison.scenarios]
    return plots.comparison_figure(comparison.summary, comparison.differences, comparison.hourly,
                                   peaks=peak_hours(comparison.base.demand.hour_weights),
                                   title=f"{comparison.base.crossing.name}: {names[0]} (base) vs "
                                         f"{', '.join(names[1:])}")


def publish_comparison(comparison: Comparison, out: str | os.PathLike, figures: bool = True) -> Path:
    """Write a comparison folder (which must not exist yet): ``compare.csv`` (paired differences),
    ``summary.csv``, ``hourly.csv`` and ``replications.csv`` (with a scenario column),
    ``compare.json``, ``scenarios/<name>.resolved.yaml``, ``compare.png`` and ``report.html``."""
    target = Path(out)
    with atomic_folder(target) as staging:
        comparison.differences.to_csv(staging / "compare.csv", index=False)
        comparison.summary.to_csv(staging / "summary.csv", index=False)
        comparison.hourly.to_csv(staging / "hourly.csv", index=False)
        comparison.replications.to_csv(staging / "replications.csv", index=False)
        (staging / SCENARIO_FOLDER).mkdir()
        for scenario in comparison.scenarios:
            (staging / SCENARIO_FOLDER / f"{scenario.name}.resolved.yaml").write_text(
                resolved_yaml(scenario), encoding="utf-8")
        verdicts = {s.name: comparison.verdicts(s.name) for s in comparison.scenarios[1:]}
        (staging / "compare.json").write_text(json_text({**comparison.info, "verdicts": verdicts},
                                                        ensure_ascii=False), encoding="utf-8")
        _comparison_figure_and_report(comparison, staging, figures)
    return target


def _comparison_figure_and_report(comparison: Comparison, folder: Path, figures: bool) -> None:
    drawn = save_figures({FIGURE_FILE: draw_comparison(comparison)}, folder) if figures else {}
    images = _images(folder, {FIGURE_FILE: REPORT_CAPTION}, drawn)
    write_text_atomic(comparison_report(comparison, images), folder / REPORT_FILE)


def redraw_comparison(comparison: Comparison, folder: str | os.PathLike) -> None:
    """Draw ``compare.png`` of a comparison folder again and rewrite its ``report.html``."""
    _comparison_figure_and_report(comparison, Path(folder), figures=True)


# --------------------------------------------------------------------------------------------
# a sweep: its points are written by sim.sweeps while it runs; these are its own files
# --------------------------------------------------------------------------------------------
def publish_sweep(out: str | os.PathLike, table: pd.DataFrame, base: Scenario | None,
                  metric: str = plots.SWEEP_TARGET[0], target: float | None = plots.SWEEP_TARGET[1]) -> Path:
    """The files of a sweep folder once its points are written (:func:`sim.sweeps.run_sweep`):
    ``sweep.csv`` (the table of every finished point), the base scenario
    (``scenario.resolved.yaml``), the sweep figures and ``report.html``."""
    out = Path(out)
    write_csv_atomic(table, out / "sweep.csv")
    redraw_sweep(out, table, base, metric, target)
    return out


def redraw_sweep(out: str | os.PathLike, table: pd.DataFrame, base: Scenario | None,
                 metric: str = plots.SWEEP_TARGET[0], target: float | None = plots.SWEEP_TARGET[1]) -> None:
    """The sweep's figures (``metric`` and its ``target`` on the heatmap), its ``report.html``
    with every ``sweep_*.png`` of the folder, and the base scenario if not written yet."""
    out = Path(out)
    if base is not None and not (out / RESOLVED_FILE).exists():
        write_text_atomic(resolved_yaml(base), out / RESOLVED_FILE)
    drawn = save_figures(plots.sweep_figures(table, metric, target), out) if not table.empty else {}
    manifest_path = out / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    names = sorted(path.name for path in out.glob("sweep_*.png"))
    names.sort(key=lambda name: name == "sweep_heatmap.png")
    images = _images(out, {name: sweep_caption(name, metric, target) for name in names}, drawn)
    write_text_atomic(sweep_report(table, base, images, manifest), out / REPORT_FILE)


# --------------------------------------------------------------------------------------------
# a calibration
# --------------------------------------------------------------------------------------------
def publish_calibration(result: CalibrationResult, out: str | os.PathLike, scenario_out: Path | None,
                        command: str, force: bool = False) -> Path:
    """Write the calibration folder atomically (``calibration.csv``, ``sensitivity.csv``,
    ``calibration.md``, ``evaluations.csv``, ``calibration.png``, ``calibration.json``,
    ``report.html``), then the calibrated scenario
    file (validated before it replaces anything; ``scenario_out`` None writes none)."""
    out = Path(out)
    check_scenario_out(result, scenario_out, force)
    when = dt.datetime.now(dt.timezone.utc)
    text = calibrated_yaml(result, scenario_out, command, when) if scenario_out is not None else None
    table = result.table()
    with atomic_folder(out) as staging:
        table.to_csv(staging / "calibration.csv", index=False)
        result.sensitivity_table().to_csv(staging / "sensitivity.csv", index=False)
        (staging / "calibration.md").write_text(calibration_markdown(result), encoding="utf-8")
        evaluations_table(result).to_csv(staging / "evaluations.csv", index=False)
        drawn = save_figures({CALIBRATION_FIGURE: plots.calibration_figure(table)}, staging)
        images = _images(staging, {CALIBRATION_FIGURE: CALIBRATION_CAPTION}, drawn)
        (staging / REPORT_FILE).write_text(
            calibration_report(result, command, when, scenario_out, images, __version__), encoding="utf-8")
        (staging / "calibration.json").write_text(json_text(
            {**result.info, "command": command, "created_utc": when.isoformat(timespec="seconds"),
             "all_met": result.all_met, "scenario_out": str(scenario_out) if scenario_out else None}),
            encoding="utf-8")
    if text is not None:
        write_calibrated_scenario(text, scenario_out, result)
    return out


# --------------------------------------------------------------------------------------------
# a forecast
# --------------------------------------------------------------------------------------------
FORECAST_FIGURE = "forecast.png"


def publish_forecast(result: "Forecast", out: str | os.PathLike, scenario_texts: dict[Path, tuple[str, dict]],
                     command: str) -> Path:
    """Write the forecast folder atomically (``forecast.csv``, ``forecast.json``, ``forecast.md``,
    ``forecast.png``), then each scenario file of ``scenario_texts`` (path -> (text, the daily
    volumes it must load to)), each checked before it replaces anything."""
    out = Path(out)
    when = dt.datetime.now(dt.timezone.utc)
    table = result.table()
    with atomic_folder(out) as staging:
        table.to_csv(staging / "forecast.csv", index=False)
        save_figures({FORECAST_FIGURE: plots.forecast_figure(
            table, f"{result.source.name if result.source else 'history'}: {result.quality_text()}")}, staging)
        (staging / "forecast.md").write_text(result.summary_text() + "\n", encoding="utf-8")
        (staging / "forecast.json").write_text(json_text(
            {**result.info, "quality": result.quality, "weekday_factors": result.weekday_factors,
             "class_shares": result.class_shares, "command": command, "package_version": __version__,
             "created_utc": when.isoformat(timespec="seconds"),
             "scenario_files": [str(path) for path in scenario_texts]}), encoding="utf-8")
    for path, (text, volumes) in scenario_texts.items():
        write_scenario_file(text, path, volumes)
    return out


def write_scenario_file(text: str, path: Path, volumes: dict[dt.date, float]) -> None:
    """Write a forecast scenario file under a hidden name beside ``path``, check that it loads
    with the forecast's daily volumes, and rename it into place."""
    write_scenario(text, path, lambda loaded: None if loaded.demand.daily_volumes == volumes
                   else "the written file does not load to the forecast's daily volumes")


# --------------------------------------------------------------------------------------------
# the validation suite
# --------------------------------------------------------------------------------------------
def publish_validation(table: pd.DataFrame, out: str | os.PathLike, command: str, reduced: bool) -> Path:
    """Write the validation folder atomically: ``validation.csv`` and ``report.html``."""
    out = Path(out)
    with atomic_folder(out) as staging:
        table.to_csv(staging / "validation.csv", index=False)
        (staging / REPORT_FILE).write_text(validation_report(table, command, reduced, dt.date.today(), __version__),
                                           encoding="utf-8")
    return out


def publish_validation_page(table: pd.DataFrame, path: str | os.PathLike, command: str, reduced: bool) -> Path:
    """Write the Markdown documentation page of the suite (``--docs docs/validation.md``),
    atomically (a hidden file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(markdown_report(table, command, reduced), path)


__all__ = ["publish_calibration", "publish_comparison", "publish_forecast", "publish_run", "publish_sweep",
           "publish_staffing", "publish_validation", "publish_validation_page", "redraw_comparison", "redraw_run", "redraw_sweep",
           "save_figures"]


# --------------------------------------------------------------------------------------------
# a staffing plan: its evaluations are written by sim.staffing_planner while it runs
# --------------------------------------------------------------------------------------------
STAFFING_CAPTIONS = {
    "staffing_booths.png": "Open booths by hour of day of every free pool: as written (dashed) and planned (red).",
    "staffing_frontier.png": "Booth-hours per day against the first target's level: each roster the search "
                             "simulated (its worst check's 95 % bound), their Pareto front, and the queueing-theory "
                             "start at other limits; the dotted line is the target.",
}


def publish_staffing(result: StaffingResult, out: str | os.PathLike, command: str, figures: bool = True) -> Path:
    """The files of a staffing folder once the search is done (its ``evaluations/`` are written
    while it runs): ``booth_hours.csv``, ``service_levels.csv``, ``binding.csv``, ``frontier.csv``,
    ``open_booths.csv``, the figures, ``staffing_result.json``, ``report.html`` and the roster
    scenario ``<scenario>_roster.yaml``, which extends the original (checked to load to the plan)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plan = result.plan
    when = dt.datetime.now(dt.timezone.utc)
    before, after = open_booths_by_hour(plan, result.before), open_booths_by_hour(plan, result.after)
    tables = {"booth_hours": booth_hours_table(result), "service": service_table(result),
              "binding": binding_table(result), "frontier": frontier_table(result),
              "open_booths": pd.concat([before.assign(roster="before"), after.assign(roster="after")],
                                       ignore_index=True)}
    first_name, first = next(iter(plan.spec.targets.items()))
    is_wait = first.measure.startswith("wait")
    limits = [30.0, 45.0, 60.0, 75.0, 90.0, 105.0, 120.0] if is_wait else [0.05, 0.1, 0.15, 0.2, 0.3]
    tables["theory_frontier"] = theory_frontier(plan, limits)
    for name, file in (("booth_hours", "booth_hours.csv"), ("service", "service_levels.csv"), ("binding", "binding.csv"),
                       ("frontier", "frontier.csv"), ("open_booths", "open_booths.csv"),
                       ("theory_frontier", "theory_frontier.csv")):
        write_csv_atomic(tables[name], out / file)
    drawn = save_figures({"staffing_booths.png": plots.staffing_booths_figure(before, after),
                          "staffing_frontier.png": plots.staffing_frontier_figure(
                              tables["frontier"], tables["theory_frontier"], first_name, first.limit,
                              "min" if is_wait else "fraction")}, out) if figures else {}
    scenario_out = out / f"{plan.source.stem if plan.source else plan.scenario.name}_roster.yaml"
    if plan.source is not None:
        write_roster_scenario(roster_yaml(result, scenario_out, command, when), scenario_out, result)
    else:
        scenario_out = None
    write_text_atomic(json_text({**result.info, "command": command, "outcome": result.outcome,
                                 "all_met": result.all_met, "created_utc": when.isoformat(timespec="seconds"),
                                 "scenario_out": str(scenario_out) if scenario_out else None}),
                      out / "staffing_result.json")
    images = _images(out, STAFFING_CAPTIONS, drawn)
    write_text_atomic(staffing_report(result, tables, command, when, scenario_out, images, __version__),
                      out / REPORT_FILE)
    return out
