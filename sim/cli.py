"""The command line of checkpoint-sim: run, sweep, compare, calibrate, forecast, staff, validate, validate-model,
plot.

Parses arguments, calls the library, prints a short table and exits. Errors a user can cause
(a bad scenario, an existing or unwritable output folder, a Dask scheduler that does not answer)
are printed as one line each on stderr with exit status 2 and no traceback; nothing is written
then. Every command checks where it will write before it simulates anything.
"""
from __future__ import annotations

import argparse
import atexit
import datetime as dt
import gc
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .version import __version__
from .errors import Problem, ScenarioError

if TYPE_CHECKING:
    from .scenario import Scenario


def load_scenario(*args, **kwargs) -> "Scenario":
    """:func:`sim.scenario.load_scenario`, imported on first use (``--help`` stays fast)."""
    from .scenario import load_scenario as load
    return load(*args, **kwargs)

EXIT_USAGE = 2
SWEEP_METRIC, SWEEP_TARGET = "wait_p90", 60.0     # what `plot SWEEP_FOLDER` draws unless told


def _whole_number(minimum: int):
    """An argparse type: a whole number >= ``minimum``, with a clear message otherwise."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {value}")
        return value
    return parse


_positive_int = _whole_number(1)
_seed = _whole_number(0)


def _workers_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=_positive_int, default=os.cpu_count() or 1,
                        help="worker processes (default: the number of CPUs; results do not depend on it)")


def _experiment_options(parser: argparse.ArgumentParser, out_default: str, defaults_from: str, days_help: str,
                        replications: str = "replications", seed: str = "random seed") -> None:
    """--out, --replications, --seed, --days and --workers, as every experiment command has them."""
    parser.add_argument("--out", type=Path, help=f"output folder (default: {out_default})")
    parser.add_argument("--replications", type=_positive_int, help=f"{replications} (default: {defaults_from})")
    parser.add_argument("--seed", type=_seed, help=f"{seed} (default: {defaults_from})")
    parser.add_argument("--days", type=_positive_int, help=days_help)
    _workers_option(parser)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (like every other error of the CLI),
    naming the command and where its help is, instead of the whole usage block."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="checkpoint-sim", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"checkpoint-sim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a scenario and write its results folder")
    run.add_argument("scenario", type=Path, help="scenario YAML file")
    _experiment_options(run, "results/<scenario>/<UTC time>/", "the scenario's",
                        "total simulated days, the warm-up days included: more than calendar.warmup_days "
                        "(default: the scenario's calendar.days)")
    run.add_argument("--no-entities", action="store_true", help="do not write the per-entity table")
    run.add_argument("--entities-format", choices=["parquet", "csv"], default="parquet",
                     help="the per-entity table as entities.parquet (default) or entities.csv.gz")
    run.add_argument("--no-plots", action="store_true", help="do not draw the figures")

    sweep = commands.add_parser("sweep", help="run many scenario variants x replications")
    sweep.add_argument("sweep_file", type=Path, help="sweep YAML file (base scenario, grid, variants)")
    _experiment_options(sweep, "results/<sweep>/<UTC time>/", "the file's",
                        "total simulated days of every point, the warm-up days included: sets calendar.days "
                        "(default: the base scenario's)", replications="replications per point")
    sweep.add_argument("--resume", action="store_true", help="finish an interrupted sweep in --out")
    sweep.add_argument("--executor", choices=["local", "dask"], default="local")
    sweep.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (with --executor dask)")
    sweep.add_argument("--target-ci", help="add replications until the 95 %% CI half-width of the mean wait "
                                           "is at most this ('2 min', or relative '5%%')")
    sweep.add_argument("--max-replications", type=_positive_int, help="cap for --target-ci (default: the file's)")
    sweep.add_argument("--keep-entities", action="store_true", help="also write each point's entity rows")

    check = commands.add_parser("validate-model", help="run the validation suite against queueing theory")
    check.add_argument("--out", type=Path, help="output folder (default: results/validation/<UTC time>/)")
    check.add_argument("--docs", type=Path,
                       help="also write the Markdown page there, e.g. docs/validation.md (default: none); a "
                            "--reduced run refuses to replace a page of the full suite")
    check.add_argument("--reduced", action="store_true", help="the quick version the test suite runs")
    check.add_argument("--workers", type=_positive_int, default=os.cpu_count() or 1)

    validate = commands.add_parser("validate", help="check scenario files without running them")
    validate.add_argument("files", type=Path, nargs="+", help="scenario YAML files")

    compare = commands.add_parser("compare", help="run a base scenario and variants with common random numbers "
                                                  "and report paired differences")
    compare.add_argument("base", type=Path, help="base scenario YAML file")
    compare.add_argument("variants", type=Path, nargs="+", help="variant scenario YAML files")
    _experiment_options(compare, "results/compare/<base>_vs_<variants>/<UTC time>/", "the base scenario's",
                        "total simulated days of every scenario, the warm-up days included "
                        "(default: each one's calendar.days)", seed="random seed, the same for every scenario")

    plot = commands.add_parser("plot", help="redraw the figures and report.html of a run, sweep or comparison folder")
    plot.add_argument("folder", type=Path, help="results, sweep or comparison folder")
    plot.add_argument("--metric", help=f"sweeps only: service-level metric of the heatmap (default: {SWEEP_METRIC})")
    plot.add_argument("--target", type=float,
                      help=f"sweeps only: its target, drawn as a contour (default: {SWEEP_TARGET:g})")

    calibrate = commands.add_parser("calibrate", help="fit a scenario's free parameters to its calibration targets")
    calibrate.add_argument("scenario", type=Path, help="scenario YAML file with a calibration block")
    calibrate.add_argument("--out", type=Path, help="report folder (default: results/<scenario>-calibration/<UTC time>/)")
    calibrate.add_argument("--scenario-out", type=Path,
                           help="calibrated scenario file (default: <scenario>_calibrated.yaml next to the original)")
    calibrate.add_argument("--force", action="store_true", help="replace an existing calibrated scenario file")
    _workers_option(calibrate)
    calibrate.add_argument("--max-evaluations", type=_positive_int, help="evaluation budget (default: the block's)")

    forecast = commands.add_parser("forecast", help="fit a history of daily counts and write P50/P90 demand files "
                                                    "that extend a scenario")
    forecast.add_argument("history", type=Path, help="CSV file with columns date, count and optionally class")
    forecast.add_argument("--scenario", type=Path, help="scenario the demand files extend (without it: no files)")
    forecast.add_argument("--from", dest="start", type=_date, help="first measured date (default: the day after "
                                                                   "the history)")
    forecast.add_argument("--to", dest="end", type=_date, help="last measured date (default: --horizon days on)")
    forecast.add_argument("--horizon", type=_positive_int, default=60, help="days measured without --to (default: 60)")
    forecast.add_argument("--holdout", type=_whole_number(0), default=28,
                          help="last days of the history held back to check the fit (default: 28)")
    forecast.add_argument("--fourier", type=_whole_number(0), default=3,
                          help="yearly sine/cosine pairs (default: 3; 0: no yearly seasonality)")
    forecast.add_argument("--no-trend", action="store_true", help="no linear trend on the log scale")
    forecast.add_argument("--holidays", type=_country_codes, default=(),
                          help="a public-holiday regressor per country, e.g. CN,KZ (holidays package)")
    forecast.add_argument("--counts", choices=["entities", "persons", "vehicles"], default="entities",
                          help="what the history counts; the demand files say so (demand.counts) and the model "
                               "converts to arriving entities by the scenario's class mix")
    forecast.add_argument("--out", type=Path, help="output folder (default: results/<history>-forecast/<UTC time>/)")
    forecast.add_argument("--scenario-out", type=Path,
                          help="stem of the demand files: writes STEM_p50.yaml and STEM_p90.yaml (default: "
                               "<scenario>_forecast next to the scenario)")
    forecast.add_argument("--force", action="store_true", help="replace existing demand files")
    staff = commands.add_parser("staff", help="plan the fewest booth-hours that meet a scenario's staffing_targets")
    staff.add_argument("scenario", type=Path, help="scenario YAML file with a staffing_targets block")
    staff.add_argument("--out", type=Path, help="output folder (default: results/<scenario>-staffing/<UTC time>/)")
    staff.add_argument("--replications", type=_positive_int,
                       help="first replications of every roster (default: the block's search.replications)")
    _workers_option(staff)
    staff.add_argument("--max-evaluations", type=_positive_int,
                       help="rosters to simulate at most (default: the block's search.max_evaluations); with "
                            "--resume, a larger budget continues a search that stopped at its budget")
    staff.add_argument("--resume", action="store_true", help="finish an interrupted search in --out")
    staff.add_argument("--executor", choices=["local", "dask"], default="local")
    staff.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (with --executor dask)")
    staff.add_argument("--no-plots", action="store_true", help="do not draw the figures")
    return parser


def _country_codes(text: str) -> tuple[str, ...]:
    """An argparse type: comma-separated country codes, ``cn,kz`` -> ``("CN", "KZ")``."""
    return tuple(code.strip().upper() for code in text.split(",") if code.strip())


def _date(text: str) -> dt.date:
    """An argparse type: a date YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def _output_folder(out: Path | None, *default: str, if_exists: str | None = None) -> Path:
    """``--out``, or ``results/<default...>/<UTC time>/``, checked before anything is simulated
    (see :func:`sim.storage.check_destination`): the path to write the results folder to."""
    from .storage import NEVER_OVERWRITTEN, check_destination

    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return check_destination(out or Path("results", *default, stamp), if_exists=if_exists or NEVER_OVERWRITTEN)


def _check_resumable_options(args: argparse.Namespace, what: str) -> None:
    """``--executor dask`` needs ``--scheduler``, ``--resume`` needs ``--out`` (the folder of the
    interrupted ``what``): the options a resumable command (sweep, staff) checks before loading."""
    if args.executor == "dask" and not args.scheduler:
        raise ScenarioError(Problem("--scheduler", "", "--executor dask needs --scheduler tcp://HOST:PORT"))
    if args.resume and not args.out:
        raise ScenarioError(Problem("--out", "", f"--resume needs --out: the folder of the interrupted {what}"))


def _resumable_folder(args: argparse.Namespace, manifest: str, what: str, *default: str) -> Path:
    """The folder of a resumable command: with ``--resume``, ``--out`` (its ``manifest`` file still
    writable); otherwise a new folder as :func:`_output_folder` makes it, an existing one refused
    with a hint to ``--resume`` the interrupted ``what``."""
    from .storage import check_destination

    if args.resume:
        check_destination(args.out / manifest, kind="file")
        return args.out
    return _output_folder(args.out, *default, if_exists=f"use --resume to finish an interrupted {what}, "
                          "or choose another --out")


def _check_replaceable(path: Path, force: bool) -> None:
    """A file a command will write beside the results folder (a calibrated scenario, demand files):
    an existing one is replaced only with ``--force``, and its folder must be writable."""
    from .storage import check_destination

    if path.exists() and not force:
        raise ScenarioError(Problem("--scenario-out", "", f"{path} already exists: pass --force to replace it, "
                                    "or choose another --scenario-out"))
    check_destination(path, kind="file")


def _command_line() -> str:
    """The command as typed, for ``run.json`` and ``compare.json``."""
    return " ".join(["checkpoint-sim", *sys.argv[1:]]) if sys.argv else ""


def _days_override(days: int | None, scenarios: Sequence[Scenario], files: Sequence[Path]) -> dict:
    """``{"calendar.days": days}`` for ``--days`` (nothing without it), refused with a message
    naming the flag when a scenario's warm-up days leave no day to measure."""
    if days is None:
        return {}
    for scenario, file in zip(scenarios, files):
        warmup = scenario.calendar.warmup_days
        if days <= warmup:
            raise ScenarioError(Problem("--days", "", f"expected at least {warmup + 1}, got {days}: --days counts "
                                        f"the {warmup} warm-up day(s) of {file} (calendar.warmup_days) and "
                                        "must leave at least one day to measure"))
    return {"calendar.days": days}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return HANDLERS[args.command](args)
    except ScenarioError as error:
        for problem in error.problems:
            print(f"error: {str(problem).lstrip(': ')}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"interrupted: {interrupted_message(args)}", file=sys.stderr)
        return 130
    except BrokenPipeError:                       # e.g. `checkpoint-sim run ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


INTERRUPTED = {
    "run": "no results folder was written",
    "compare": "no comparison folder was written",
    "calibrate": "no calibration report or calibrated scenario was written",
    "forecast": "no forecast folder or demand files were written",
    "validate-model": "no validation results or page were written",
    "validate": "not every file was checked",
    "plot": "some figures or report.html may not have been redrawn: run the command again",
    "staff": "no staffing folder was written",
}


def interrupted_message(args: argparse.Namespace) -> str:
    """What Ctrl-C left behind, for each command; for a sweep, how to resume it."""
    folder = getattr(args, "staff_folder", None)
    if args.command == "staff" and folder is not None and (folder / "staffing.json").is_file():
        words = ["checkpoint-sim", "staff", str(args.scenario), "--resume", "--out", str(folder)]
        for name in ("replications", "max_evaluations"):
            if getattr(args, name, None):
                words += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
        return f"the rosters simulated so far are kept in {args.staff_folder}; resume with: {shlex.join(words)}"
    if args.command != "sweep":
        return INTERRUPTED[args.command]
    from .sweeps import MANIFEST

    out = getattr(args, "sweep_folder", None)
    if out is None or not (out / MANIFEST).is_file():
        return "no sweep folder was written"
    return f"the finished points are kept in {out}; resume with: {resume_command(args, out)}"


# the sweep flags that change its points (and so its hash): a resume must repeat them
_SWEEP_FLAGS = ("days", "replications", "seed", "target_ci", "max_replications")


def resume_command(args: argparse.Namespace, out: Path) -> str:
    """The exact command that finishes an interrupted sweep in ``out``."""
    words = ["checkpoint-sim", "sweep", str(args.sweep_file), "--resume", "--out", str(out)]
    for name in _SWEEP_FLAGS:
        if getattr(args, name) is not None:
            words += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    if args.keep_entities:
        words.append("--keep-entities")
    if args.executor != "local":
        words += ["--executor", args.executor, "--scheduler", str(args.scheduler)]
    return shlex.join(words)


def command_validate(args: argparse.Namespace) -> int:
    """Check every file and report each: ``ok``, or one line per problem (exit status 2). A file
    that fails in an unexpected way (a bug, not a user mistake) is reported with its traceback
    and does not stop the others (exit status 1)."""
    import traceback

    from .errors import printable

    problems = bugs = 0
    for path in args.files:
        shown = printable(str(path))
        try:
            scenario = load_scenario(path)
        except ScenarioError as error:
            problems += 1
            for problem in error.problems:
                print(f"error: {str(problem).lstrip(': ')}", file=sys.stderr)
        except Exception as error:            # noqa: BLE001 -- a bug must not hide the other files
            bugs += 1
            print(f"error: {shown}: internal error while checking this file ({error.__class__.__name__}); "
                  "please report it with the traceback below", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
        else:
            print(f"ok: {shown} ({printable(scenario.name)}: {printable(scenario.crossing.name)})")
    return 1 if bugs else EXIT_USAGE if problems else 0


def command_run(args: argparse.Namespace) -> int:
    from .executors import make_executor
    from .runner import start_run
    from .storage import writing

    scenario = load_scenario(args.scenario)
    overrides = _days_override(args.days, [scenario], [args.scenario])
    if overrides:
        scenario = load_scenario(scenario, overrides)
    out = _output_folder(args.out, scenario.name)
    replications = scenario.run.replications if args.replications is None else args.replications
    # the workers are forked and running the replications before the publishing layer (matplotlib)
    # is imported here: they never use it, and this process imports it while they run
    with make_executor(min(args.workers, max(1, replications))).start() as executor, writing(out), \
            start_run(scenario, replications, args.seed, args.workers, keep_entities=not args.no_entities,
                      executor=executor, streamed=not args.no_entities) as started:
        import scipy.special  # noqa: F401  (the t quantiles of the aggregate: sim.stats imports it on first use)

        from .console import key_figures
        from .publish import run_and_publish

        results, folder = run_and_publish(started, out, figures=not args.no_plots,
                                          entities_format=args.entities_format, keep_entities=not args.no_entities,
                                          info={"command": _command_line()})
    print(key_figures(results))
    print(f"\nresults written to {folder}")
    # as the interpreter exits, its collections would traverse every object left (the libraries,
    # the results: ~0.3 s); frozen first, they are not (nothing of this run needs a finalizer)
    atexit.register(gc.freeze)
    return 0


def _load_sweep(args: argparse.Namespace):
    """The sweep file with the command line's overrides (``--days`` on every point)."""
    from .sweeps import load_sweep

    overrides = {key: value for key, value in (
        ("replications", args.replications), ("seed", args.seed), ("target_ci", args.target_ci),
        ("max_replications", args.max_replications), ("keep_entities", args.keep_entities or None))
        if value is not None}
    sweep = load_sweep(args.sweep_file, overrides)
    if args.days is None:
        return sweep
    points = list(sweep.scenarios.values())
    days = _days_override(args.days, points, [f"{args.sweep_file} (base {sweep.spec.base})"] * len(points))
    return load_sweep(args.sweep_file, overrides, point_overrides=days)


def command_sweep(args: argparse.Namespace) -> int:
    from .publish import publish_sweep
    from .storage import writing
    from .sweeps import MANIFEST, run_sweep

    _check_resumable_options(args, "sweep")
    sweep = _load_sweep(args)
    out = _resumable_folder(args, MANIFEST, "sweep", args.sweep_file.stem)
    args.sweep_folder = out
    with writing(out, hint=lambda: f"; after fixing it, resume with: {resume_command(args, out)}"
                 if (out / MANIFEST).is_file() else ""):
        table = run_sweep(sweep, out, workers=args.workers, resume=args.resume, executor=args.executor,
                          scheduler=args.scheduler)
        publish_sweep(out, table, sweep.base)
    points = table["point"].nunique() if not table.empty else 0
    print(f"{points} points written to {out} (sweep.csv, report.html, points/<id>/summary.csv, hourly.csv)")
    return 0


def command_compare(args: argparse.Namespace) -> int:
    from .comparison import compare
    from .publish import publish_comparison
    from .storage import writing

    files = [args.base, *args.variants]
    scenarios = [load_scenario(file) for file in files]
    overrides = _days_override(args.days, scenarios, files)
    names = [s.name for s in scenarios]
    out = _output_folder(args.out, "compare", f"{names[0]}_vs_{'_'.join(names[1:])}")
    comparison = compare(files, replications=args.replications, seed=args.seed, workers=args.workers,
                         overrides=overrides or None)
    comparison.info["command"] = _command_line()
    with writing(out):
        folder = publish_comparison(comparison, out)
    for variant in names[1:]:
        print(f"{variant} vs {names[0]} ({comparison.info['replications']} paired replications, "
              f"seed {comparison.info['seed']}):")
        for line in comparison.verdicts(variant):
            print(f"  {line}")
    if comparison.skipped_note():
        print(comparison.skipped_note())
    print(f"\ncomparison written to {folder} (compare.csv, compare.png, report.html)")
    return 0


def _check_metric(name: str, table=None) -> None:
    """``--metric`` must be in the catalogue and, for a sweep, in its table (group ``all``)."""
    from .catalogue import UnknownMetric, metric

    try:
        metric(name)
    except UnknownMetric as error:
        raise ScenarioError(Problem("--metric", "", str(error))) from None
    if table is not None:
        present = sorted(set(table.loc[table["group"] == "all", "metric"]))
        if name not in present:
            raise ScenarioError(Problem("--metric", "", f"this sweep's table has no {name!r} for group 'all'; "
                                        f"its metrics: {', '.join(present)}"))


def _read_sweep_table(folder: Path):
    """``sweep.csv`` of a sweep folder, its ``sweep.json`` checked; unreadable ones are user errors."""
    import pandas as pd

    from .sweeps import MANIFEST, read_manifest

    if (folder / MANIFEST).exists():
        read_manifest(folder)
    try:
        table = pd.read_csv(folder / "sweep.csv")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ScenarioError(Problem(str(folder / "sweep.csv"), "", f"unreadable ({error}): run the sweep again "
                                    "with --resume to rewrite it")) from None
    if not {"group", "metric"} <= set(table.columns):
        raise ScenarioError(Problem(str(folder / "sweep.csv"), "", "not a sweep table (no group and metric columns)"))
    return table


def command_plot(args: argparse.Namespace) -> int:
    folder = args.folder
    metric = SWEEP_METRIC if args.metric is None else args.metric
    target = SWEEP_TARGET if args.target is None else args.target
    _check_metric(metric)
    if (folder / "sweep.csv").is_file():
        from .publish import redraw_sweep

        table = _read_sweep_table(folder)
        _check_metric(metric, table)
        base_file = folder / "scenario.resolved.yaml"
        redraw_sweep(folder, table, load_scenario(base_file) if base_file.is_file() else None,
                     metric=metric, target=target)
        print(f"figures and report.html redrawn in {folder}")
        return 0
    given = [flag for flag, value in (("--metric", args.metric), ("--target", args.target)) if value is not None]
    if given:
        raise ScenarioError(f"{' and '.join(given)} apply to sweep folders only, and {folder} has no sweep.csv")
    if (folder / "compare.json").is_file():
        from .comparison import load_comparison
        from .publish import redraw_comparison
        redraw_comparison(load_comparison(folder), folder)
    elif (folder / "summary.csv").is_file() and (folder / "scenario.resolved.yaml").is_file():
        from .outputs import load_results
        from .publish import redraw_run
        redraw_run(load_results(folder), folder)
    else:
        raise ScenarioError(Problem(str(folder), "", "not a results, sweep or comparison folder (no summary.csv with "
                                    "scenario.resolved.yaml, sweep.csv or compare.json)"))
    print(f"figures and report.html redrawn in {folder}")
    return 0


def command_validate_model(args: argparse.Namespace) -> int:
    from .publish import publish_validation, publish_validation_page
    from .storage import check_destination, writing
    from .validation import check_page_replaceable, run_suite

    out = _output_folder(args.out, "validation")
    if args.docs is not None:
        check_page_replaceable(args.docs, args.reduced)
        check_destination(args.docs, kind="file")
    table = run_suite(reduced=args.reduced, workers=args.workers)
    command = "checkpoint-sim validate-model" + (" --reduced" if args.reduced else "")
    with writing(out):
        publish_validation(table, out, command, args.reduced)
    written = [f"{out}/validation.csv", f"{out}/report.html"]
    if args.docs is not None:
        with writing(args.docs):
            publish_validation_page(table, args.docs, command, args.reduced)
        written.append(str(args.docs))
    failed = table[~table["passed"]]
    print(f"{len(table) - len(failed)} of {len(table)} checks pass; written to {', '.join(written)}")
    for row in failed.itertuples():
        print(f"FAIL {row.case}: {row.quantity}: reference {row.reference:.4g}, simulated {row.sim_mean:.4g} "
              f"[{row.ci_low:.4g}, {row.ci_high:.4g}]")
    return 0 if failed.empty else 1


def command_calibrate(args: argparse.Namespace) -> int:
    from .fitting import calibrate, default_scenario_out, format_summary, load_for_calibration
    from .publish import publish_calibration
    from .storage import writing

    scenario = load_for_calibration(args.scenario)
    out = _output_folder(args.out, f"{scenario.name}-calibration")
    scenario_out = args.scenario_out or default_scenario_out(args.scenario)
    _check_replaceable(scenario_out, args.force)
    result = calibrate(args.scenario, workers=args.workers, max_evaluations=args.max_evaluations)
    command = f"checkpoint-sim calibrate {args.scenario}" + (
        f" --max-evaluations {args.max_evaluations}" if args.max_evaluations else "")
    with writing(out):
        publish_calibration(result, out, scenario_out, command, force=args.force)
    print(format_summary(result))
    print(f"\nreport written to {out}; calibrated scenario: {scenario_out}")
    return 0 if result.all_met else 1


def command_forecast(args: argparse.Namespace) -> int:
    from .forecast import default_stem, forecast_history, forecast_yaml, read_history, scenario_files, window
    from .publish import publish_forecast
    from .storage import writing

    scenario = load_scenario(args.scenario) if args.scenario else None
    history, shares = read_history(args.history)
    out = _output_folder(args.out, f"{args.history.stem}-forecast")
    files: dict = {}
    if scenario is not None:
        files = scenario_files(args.scenario_out or default_stem(args.scenario))
        for path in files.values():
            _check_replaceable(path, args.force)
    start = args.start or (history.index[-1] + dt.timedelta(days=1)).date()
    end = args.end or start + dt.timedelta(days=args.horizon - 1)
    if end < start:
        raise ScenarioError(Problem("--to", "", f"expected a date on or after --from ({start}), got {end}"))
    if scenario is not None:
        window(scenario, start, end)              # the window fits a calendar: checked before fitting
    warmup = scenario.calendar.warmup_days if scenario is not None else 0
    result = forecast_history(history, start - dt.timedelta(days=warmup), end, holdout=args.holdout,
                              fourier=args.fourier, trend=not args.no_trend, source=args.history,
                              class_shares=shares, countries=args.holidays)
    when = dt.datetime.now(dt.timezone.utc)
    texts = {}
    for quantile, path in files.items():
        texts[path] = forecast_yaml(result, quantile, scenario, args.scenario, path, start, end, args.counts,
                                    _command_line(), when)
    with writing(out):
        publish_forecast(result, out, texts, _command_line())
    print(result.summary_text())
    print(f"\nforecast written to {out}" + (f"; demand files: {', '.join(str(p) for p in files.values())} "
                                           f"(checkpoint-sim run {files['p50']})" if files else ""))
    return 0


def command_staff(args: argparse.Namespace) -> int:
    from .publish import publish_staffing
    from .staffing_plan import load_plan
    from .staffing_planner import MANIFEST, booth_hours_table, plan_staffing
    from .storage import writing

    _check_resumable_options(args, "search")
    plan = load_plan(args.scenario, args.replications, args.max_evaluations)
    out = _resumable_folder(args, MANIFEST, "search", f"{plan.scenario.name}-staffing")
    command = _command_line()
    args.staff_folder = out
    with writing(out):
        result = plan_staffing(plan, out, workers=args.workers, executor=args.executor,
                               scheduler=args.scheduler, resume=args.resume)
        publish_staffing(result, out, command, figures=not args.no_plots)
    hours = result.info
    print(f"{result.outcome}: {hours['evaluations']} rosters, {hours['replications_simulated']} replications "
          f"simulated in {hours['wall_time_s']} s; every target met: {'yes' if result.all_met else 'NO'}")
    for row in booth_hours_table(result).itertuples():
        print(f"  {row.pool:<32} booth-hours/day {row.before:7.1f} -> {row.after:7.1f}")
    print(f"\nstaffing plan written to {out} (report.html, booth_hours.csv, service_levels.csv, binding.csv, "
          "the roster scenario *_roster.yaml)")
    return 0 if result.all_met else 1


# one entry per subcommand of build_parser(): name -> handler(args) -> exit status
HANDLERS = {"run": command_run, "sweep": command_sweep, "validate": command_validate,
            "validate-model": command_validate_model, "calibrate": command_calibrate,
            "compare": command_compare, "plot": command_plot, "forecast": command_forecast,
            "staff": command_staff}


if __name__ == "__main__":
    raise SystemExit(main())
