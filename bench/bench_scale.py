"""How one replication's time and memory grow with daily volume and horizon (Khorgos).

Each point runs in a fresh interpreter (through a small launcher, so that ``ru_maxrss`` is the
measured interpreter's own): ``scenarios/khorgos.yaml`` with ``demand.daily_volume`` and
``calendar.days`` overridden (warm-up 0 days, 1 drain day), one replication, seed 20250707. It
prints CPU seconds (``time.process_time``) and the RSS growth (VmHWM after the run minus RSS
before it, the high-water mark reset just before the run) of ``sim.model.simulate`` and of
``run_replication(keep_entities=False)`` (simulation + metrics).

Usage::

    python bench/bench_scale.py                       # the grid of bench/README.md
    python bench/bench_scale.py --points 7000:1 70000:1
"""
from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LAUNCHER = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"
GRID = ["7000:1", "7000:4", "7000:16", "7000:64", "21000:4", "70000:1", "70000:4"]


def _vm(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(what: str, volume: float, days: int) -> None:
    """Measure one point in this (fresh) interpreter; print one JSON line."""
    import numpy as np
    import sim
    from sim.model import simulate
    from sim.plan import build_layout
    from sim.runner import run_replication
    scenario = sim.load_scenario(ROOT / "scenarios" / "khorgos.yaml",
                                 {"demand.daily_volume": volume, "calendar.days": days, "calendar.warmup_days": 0})
    seed = scenario.run.seed
    layout = build_layout(scenario)
    gc.collect()
    before = _vm("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")          # reset VmHWM
    c0 = time.process_time()
    if what == "simulate":
        out = simulate(scenario, seed, 0, layout)
        visits = len(out.visits["entity"])
        entities = len(out.arrivals)
        unstarted = int(np.isnan(out.visits["start"]).sum())
    else:
        out = run_replication(scenario, seed, 0, keep_entities=False)
        visits = entities = unstarted = None
    cpu = time.process_time() - c0
    print(json.dumps({"what": what, "volume": volume, "days": days, "cpu_s": cpu,
                      "rss_growth_mib": _vm("VmHWM") - before, "visits": visits, "entities": entities,
                      "unstarted": unstarted}))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", nargs="+", default=GRID, help="VOLUME:DAYS points (default: the README grid)")
    parser.add_argument("--_child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._child:
        child(args._child[0], float(args._child[1]), int(args._child[2]))
        return 0
    print(f"{'volume/day':>10}{'days':>6}{'entities':>10}{'visits':>11}{'unstarted':>10}"
          f"{'simulate CPU s':>15}{'RSS growth MiB':>15}{'us/visit':>9}{'replication CPU s':>18}{'RSS growth MiB':>15}")
    for point in args.points:
        volume, days = point.split(":")
        rows = {}
        for what in ("simulate", "replication"):
            done = subprocess.run([sys.executable, "-c", LAUNCHER, sys.executable, __file__, "--_child", what, volume, days],
                                  capture_output=True, text=True, cwd=ROOT, check=True)
            rows[what] = json.loads(done.stdout.strip().splitlines()[-1])
        s, r = rows["simulate"], rows["replication"]
        print(f"{float(volume):10.0f}{int(days):6d}{s['entities']:10,}{s['visits']:11,}{s['unstarted']:10,}"
              f"{s['cpu_s']:15.2f}{s['rss_growth_mib']:15.1f}{s['cpu_s'] / s['visits'] * 1e6:9.2f}"
              f"{r['cpu_s']:18.2f}{r['rss_growth_mib']:15.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
