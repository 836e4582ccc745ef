"""The command line: ``checkpoint-sim run`` and ``checkpoint-sim validate``.

Parses arguments, calls the library, prints a short table and exits. Errors a user can cause
(a bad scenario, an existing output folder) are printed as one line each on stderr with exit
status 2 and no traceback; nothing is written then.
"""
from __future__ import annotations

import argparse
import os
import datetime as dt
import sys
from pathlib import Path
from typing import Sequence

from . import __version__
from .errors import Problem, ScenarioError
from .scenario import load_scenario

EXIT_USAGE = 2


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a seed >= 0, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="checkpoint-sim", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"checkpoint-sim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a scenario and write its results folder")
    run.add_argument("scenario", type=Path, help="scenario YAML file")
    run.add_argument("--out", type=Path, help="output folder (default: results/<scenario>/<UTC time>/)")
    run.add_argument("--replications", type=_positive_int, help="replications (default: the scenario's)")
    run.add_argument("--seed", type=_seed, help="random seed (default: the scenario's)")
    run.add_argument("--days", type=_positive_int, help="simulated days (default: the scenario's)")
    run.add_argument("--workers", type=_positive_int, default=os.cpu_count() or 1,
                     help="worker processes (default: the number of CPUs; results do not depend on it)")
    run.add_argument("--no-entities", action="store_true", help="do not write the per-entity table")
    run.add_argument("--no-plots", action="store_true", help="do not draw the figures")

    sweep = commands.add_parser("sweep", help="run many scenario variants x replications")
    sweep.add_argument("sweep_file", type=Path, help="sweep YAML file (base scenario, grid, variants)")
    sweep.add_argument("--out", type=Path, help="output folder (default: results/<sweep>/<UTC time>/)")
    sweep.add_argument("--workers", type=_positive_int, default=os.cpu_count() or 1,
                       help="local worker processes (default: the number of CPUs)")
    sweep.add_argument("--resume", action="store_true", help="finish an interrupted sweep in --out")
    sweep.add_argument("--executor", choices=["local", "dask"], default="local")
    sweep.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (with --executor dask)")
    sweep.add_argument("--replications", type=_positive_int, help="replications per point (default: the file's)")
    sweep.add_argument("--seed", type=_seed, help="seed (default: the file's)")
    sweep.add_argument("--target-ci", help="add replications until the 95 %% CI half-width of the mean wait "
                                           "is at most this ('2 min', or relative '5%%')")
    sweep.add_argument("--max-replications", type=_positive_int, help="cap for --target-ci (default: the file's)")
    sweep.add_argument("--keep-entities", action="store_true", help="also write each point's entity rows")

    validate = commands.add_parser("validate", help="check scenario files without running them")
    validate.add_argument("files", type=Path, nargs="+", help="scenario YAML files")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"run": command_run, "sweep": command_sweep, "validate": command_validate}[args.command](args)
    except ScenarioError as error:
        for problem in error.problems:
            print(f"error: {str(problem).lstrip(': ')}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: no results folder was written (finished sweep points are kept)", file=sys.stderr)
        return 130
    except BrokenPipeError:                       # e.g. `checkpoint-sim run ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def command_validate(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.files:
        try:
            scenario = load_scenario(path)
        except ScenarioError as error:
            failed += 1
            for problem in error.problems:
                print(f"error: {str(problem).lstrip(': ')}", file=sys.stderr)
        else:
            print(f"ok: {path} ({scenario.name}: {scenario.crossing.name})")
    return EXIT_USAGE if failed else 0


def command_run(args: argparse.Namespace) -> int:
    from .outputs import write_results
    from .runner import run

    overrides = {"calendar.days": args.days} if args.days else None
    scenario = load_scenario(args.scenario, overrides)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or Path("results") / scenario.name / stamp
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ScenarioError(Problem("--out", "", f"{out} already exists and is not empty: "
                                    "choose another folder (results are never overwritten)"))
    results = run(scenario, replications=args.replications, seed=args.seed, workers=args.workers,
                  keep_entities=not args.no_entities)
    results.info["command"] = " ".join(["checkpoint-sim", *sys.argv[1:]]) if sys.argv else ""
    folder = write_results(results, out, figures=not args.no_plots)
    print(key_figures(results))
    print(f"\nresults written to {folder}")
    return 0


def command_sweep(args: argparse.Namespace) -> int:
    from .sweep import load_sweep, run_sweep

    if args.executor == "dask" and not args.scheduler:
        raise ScenarioError(Problem("--scheduler", "", "--executor dask needs --scheduler tcp://HOST:PORT"))
    overrides = {key: value for key, value in (
        ("replications", args.replications), ("seed", args.seed), ("target_ci", args.target_ci),
        ("max_replications", args.max_replications), ("keep_entities", args.keep_entities or None))
        if value is not None}
    sweep = load_sweep(args.sweep_file, overrides)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    if args.resume and not args.out:
        raise ScenarioError(Problem("--out", "", "--resume needs --out: the folder of the interrupted sweep"))
    out = args.out or Path("results") / args.sweep_file.stem / stamp
    table = run_sweep(sweep, out, workers=args.workers, resume=args.resume, executor=args.executor,
                      scheduler=args.scheduler)
    points = table["point"].nunique() if not table.empty else 0
    print(f"{points} points written to {out} (sweep.csv, points/<id>/summary.csv, hourly.csv)")
    return 0


def key_figures(results) -> str:
    """A short plain-text table of the headline numbers."""
    summary = results.summary.set_index(["group", "metric"])

    def cell(group: str, metric: str, digits: int = 1) -> str:
        if (group, metric) not in summary.index:
            return "-"
        row = summary.loc[(group, metric)]
        text = f"{row['mean']:.{digits}f}"
        if row["ci_low"] == row["ci_low"]:  # not NaN
            text += f" ±{(row['ci_high'] - row['ci_low']) / 2:.{digits}f}"
        return text

    info = results.info
    lines = [f"{results.scenario.crossing.name} — {info['replications']} replications, seed {info['seed']}, "
             f"{results.scenario.calendar.days} days ({results.scenario.calendar.warmup_days} warm-up)",
             f"{'group':<24}{'per day':>16}{'wait mean':>16}{'wait p90':>16}{'> 60 min':>14}"]
    groups = ["all"] + [g for g in summary.index.get_level_values(0).unique() if g.startswith("class=")]
    for group in groups:
        lines.append(f"{group:<24}{cell(group, 'throughput_per_day', 0):>16}{cell(group, 'wait_mean'):>16}"
                     f"{cell(group, 'wait_p90'):>16}{cell(group, 'share_wait_over_60min', 2):>14}")
    lines.append(f"{'stage':<24}{'utilization':>16}{'queue mean':>16}{'queue max':>16}")
    for group in [g for g in summary.index.get_level_values(0).unique() if g.startswith("stage=")]:
        lines.append(f"{group:<24}{cell(group, 'utilization', 2):>16}{cell(group, 'queue_length_mean'):>16}"
                     f"{cell(group, 'queue_length_max', 0):>16}")
    unfinished = summary.loc[("all", "unfinished"), "mean"] if ("all", "unfinished") in summary.index else 0
    if unfinished > 0:
        lines.append(f"note: {unfinished:.0f} entities per replication were still inside when the run stopped "
                     "(a cargo backlog, or an overloaded stage); their waits are not in the statistics")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
