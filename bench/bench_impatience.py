"""What impatience costs the engine: Khorgos simulated without it, with it, and on an older revision.

    python bench/bench_impatience.py --before /tmp/before   # a `git worktree` of the revision to compare
    python bench/bench_impatience.py --before /tmp/before --days 6 --repeat 5

Each figure is the CPU time of ``sim.model.simulate`` for one Khorgos replication (``--days``
days, replication r = 0, 1, ...), in a fresh process per measurement, the three variants
alternating (before, off, on, before, off, on, ...) so that a busy machine slows all of them
alike. "off" is scenarios/khorgos.yaml as shipped (no class has a patience, no stage a queue
cap: the engine's plain code paths); "patience" gives every class a patience (gamma, mean 2 h,
CV 0.5, deferral to the next day; an ASSUMPTION for the benchmark only); "blocking" adds to that
a waiting space of 400 at the two entry controls that blocks the stage before it (spill-back),
so every impatience path runs. Prints the medians and the paired ratios to "before".
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
IMPATIENT = {"dist": "gamma", "mean": "2 h", "cv": 0.5}
BLOCKING_STAGES = ("cn_passport_entry", "kz_passport_entry")


def measure(tree: Path, variant: str, days: int, replication: int) -> float:
    """CPU seconds of one ``simulate`` call, in a fresh process importing ``sim`` from ``tree``."""
    code = f"""
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
simulate(scenario, scenario.run.seed, {replication})
print(json.dumps(time.process_time() - start))
"""
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    printed = subprocess.run([sys.executable, "-c", code], cwd=tree, env=environment, check=True,
                             capture_output=True, text=True).stdout
    return float(json.loads(printed.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the revision to compare against")
    parser.add_argument("--days", type=int, default=6, help="simulated days per replication (default 6)")
    parser.add_argument("--repeat", type=int, default=5, help="measurements per variant (default 5)")
    args = parser.parse_args()
    runs = {"before": [], "off": [], "patience": [], "blocking": []}
    for replication in range(args.repeat):
        for variant in runs:
            tree = args.before if variant == "before" else HERE
            runs[variant].append(measure(tree, "off" if variant == "before" else variant, args.days, replication))
    medians = {variant: statistics.median(values) for variant, values in runs.items()}
    paired = {variant: statistics.median(v / b for v, b in zip(runs[variant], runs["before"])) for variant in runs}
    print(f"Khorgos, {args.days} days, CPU s of simulate() per replication, median of {args.repeat} "
          f"(before: {args.before})")
    for variant in runs:
        print(f"  {variant:>8}: {medians[variant]:.2f} s   ({', '.join(f'{v:.2f}' for v in runs[variant])})")
    for variant in ("off", "patience", "blocking"):
        print(f"  {variant} / before: {paired[variant]:.3f} (paired median)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
