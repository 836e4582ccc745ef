"""What impatience costs the engine: Khorgos simulated without it, with it, and on an older revision.

    python bench/bench_impatience.py --before /tmp/before   # a `git worktree` of the revision to compare
    python bench/bench_impatience.py --before /tmp/before --days 6 --repeat 5
    python bench/bench_impatience.py --before /tmp/before --days 3 --instructions   # valgrind, ~10 min

Each figure is the CPU time of ``sim.model.simulate`` for one Khorgos replication (``--days``
days, replication r = 0, 1, ...), in a fresh process per measurement, the three variants
alternating (before, off, on, before, off, on, ...) so that a busy machine slows all of them
alike. "off" is scenarios/khorgos.yaml as shipped (no class has a patience, no stage a queue
cap: the engine's plain code paths); "patience" gives every class a patience (gamma, mean 2 h,
CV 0.5, deferral to the next day; an ASSUMPTION for the benchmark only); "blocking" adds to that
a waiting space of 400 at the two entry controls that blocks the stage before it (spill-back),
so every impatience path runs. Prints the medians and the paired ratios to "before".

``--instructions`` counts machine instructions instead of timing (valgrind's cachegrind without
its cache model, ``PYTHONHASHSEED=0``; the same script without the ``simulate`` call subtracted),
one run per variant: the load of the machine does not change the count, so one run is enough
where timings on a shared machine swing by a quarter.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
IMPATIENT = {"dist": "gamma", "mean": "2 h", "cv": 0.5}
BLOCKING_STAGES = ("cn_passport_entry", "kz_passport_entry")


def measure(tree: Path, variant: str, days: int, replication: int, instructions: bool = False) -> float:
    """CPU seconds of one ``simulate`` call, in a fresh process importing ``sim`` from ``tree``
    (``instructions``: the machine instructions it executes, counted by valgrind)."""
    if instructions:
        return _instructions(tree, _script(variant, days, replication)) - _instructions(
            tree, _script(variant, days, replication, call=False))
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    printed = subprocess.run([sys.executable, "-c", _script(variant, days, replication)], cwd=tree, env=environment,
                             check=True, capture_output=True, text=True).stdout
    return float(json.loads(printed.strip().splitlines()[-1]))


def _instructions(tree: Path, code: str) -> float:
    """Instructions valgrind counts for ``python -c code`` run in ``tree``."""
    environment = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}
    report = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                             sys.executable, "-c", code], cwd=tree, env=environment, check=True,
                            capture_output=True, text=True).stderr
    return float(re.search(r"I\s+refs:\s+([\d,]+)", report).group(1).replace(",", ""))


def _script(variant: str, days: int, replication: int, call: bool = True) -> str:
    """The measured script: load the variant of Khorgos, time ``simulate`` (left out: ``call`` False)."""
    return f"""
import json, time
from sim.scenario import load_scenario
from sim.model import simulate
overrides = {{"calendar.days": {days}}}
if {variant != "off"!r}:
    base = load_scenario("scenarios/khorgos.yaml")
    for name in base.classes:
        overrides[f"classes.{{name}}.patience"] = {IMPATIENT!r}
        overrides[f"classes.{{name}}.on_leave"] = "defer"
    for stage in {BLOCKING_STAGES if variant == "blocking" else ()!r}:
        overrides[f"stages.{{stage}}.queue_capacity"] = 400
        overrides[f"stages.{{stage}}.when_full"] = "block"
scenario = load_scenario("scenarios/khorgos.yaml", overrides)
start = time.process_time()
if {call!r}:
    simulate(scenario, scenario.run.seed, {replication})
print(json.dumps(time.process_time() - start))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the revision to compare against")
    parser.add_argument("--days", type=int, default=6, help="simulated days per replication (default 6)")
    parser.add_argument("--repeat", type=int, default=5, help="measurements per variant (default 5)")
    parser.add_argument("--instructions", action="store_true",
                        help="count machine instructions with valgrind (one run per variant) instead of timing")
    args = parser.parse_args()
    if args.instructions:
        args.repeat = 1
    runs = {"before": [], "off": [], "patience": [], "blocking": []}
    for replication in range(args.repeat):
        for variant in runs:
            tree = args.before if variant == "before" else HERE
            runs[variant].append(measure(tree, "off" if variant == "before" else variant, args.days, replication,
                                         args.instructions))
    medians = {variant: statistics.median(values) for variant, values in runs.items()}
    paired = {variant: statistics.median(v / b for v, b in zip(runs[variant], runs["before"])) for variant in runs}
    unit, scale = ("G instructions", 1e9) if args.instructions else ("s", 1.0)
    what = "instructions of simulate()" if args.instructions else "CPU s of simulate()"
    print(f"Khorgos, {args.days} days, {what} per replication, median of {args.repeat} (before: {args.before})")
    for variant in runs:
        print(f"  {variant:>8}: {medians[variant] / scale:.3f} {unit}   "
              f"({', '.join(f'{v / scale:.3f}' for v in runs[variant])})")
    for variant in ("off", "patience", "blocking"):
        print(f"  {variant} / before: {paired[variant]:.3f} (paired median)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
