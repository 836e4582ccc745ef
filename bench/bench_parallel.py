"""Parallel efficiency: 1 vs 2 local workers (whole process, paired) and 1/2/4 Dask workers.

    python bench/bench_parallel.py                       # the issue-15 sizes (~15 min on 2 cores)
    python bench/bench_parallel.py --replications 2 --days 3 --pairs 1 --dask-repeats 1   # smoke run

**Local pool.** ``checkpoint-sim run SCENARIO --replications R --days D --no-entities --no-plots
--workers W`` as fresh processes, alternating W = 1 and W = 2 (one warm-up pair, then
``--pairs`` counted pairs), each timed from outside: wall (``time.perf_counter`` around the
process) and CPU (user + sys of the process and its workers, ``RUSAGE_CHILDREN``). The speed-up
of a pair is wall(1) / wall(2); the median over pairs is printed with its min and max, and the
parallel efficiency = speed-up / 2.

**Dask.** A ``distributed.LocalCluster`` on loopback (127.0.0.1, one thread per worker process,
started once per size and not timed) runs the same batch through ``sim.run(...,
executor="dask", scheduler=...)`` in this process; the sizes (1, 2, 4 workers) are run in turn,
``--dask-repeats`` times, rotating the order. Efficiency = T(1 Dask worker) / (n × T(n)). On a
machine with fewer cores than workers the efficiency can only fall (4 workers on 2 cores: at
most 0.5).

Prints a report and asserts nothing (targets: 2 local workers >= 1.8x one, efficiency >= 0.9).
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_process(scenario: str, replications: int, days: int, workers: int, seed: int) -> tuple[float, float]:
    """Wall and CPU seconds (the process and its workers) of one fresh ``checkpoint-sim run``."""
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "sim.cli", "run", scenario, "--replications", str(replications),
                   "--days", str(days), "--seed", str(seed), "--workers", str(workers), "--no-entities",
                   "--no-plots", "--out", str(Path(scratch) / "out")]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        wall = time.perf_counter() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def local_pool(args: argparse.Namespace) -> None:
    print(f"local pool: {args.scenario}, {args.replications} replications x {args.days} days, "
          f"1 vs 2 workers, whole process, {args.pairs} counted pairs after one warm-up pair")
    speedups, walls, cpus = [], {1: [], 2: []}, {1: [], 2: []}
    for pair in range(args.pairs + 1):
        order = (1, 2) if pair % 2 == 0 else (2, 1)
        measured = {workers: run_process(args.scenario, args.replications, args.days, workers, args.seed)
                    for workers in order}
        label = "warm-up" if pair == 0 else f"pair {pair}"
        print(f"  {label:>8}: 1 worker {measured[1][0]:6.1f} s wall {measured[1][1]:6.1f} s CPU | "
              f"2 workers {measured[2][0]:6.1f} s wall {measured[2][1]:6.1f} s CPU | "
              f"speed-up {measured[1][0] / measured[2][0]:.2f}x")
        if pair == 0:
            continue
        speedups.append(measured[1][0] / measured[2][0])
        for workers in (1, 2):
            walls[workers].append(measured[workers][0])
            cpus[workers].append(measured[workers][1])
    median = statistics.median(speedups)
    print(f"  speed-up, paired median {median:.2f}x (min {min(speedups):.2f}, max {max(speedups):.2f}); "
          f"median wall {statistics.median(walls[1]):.1f} s vs {statistics.median(walls[2]):.1f} s, "
          f"CPU {statistics.median(cpus[1]):.1f} s vs {statistics.median(cpus[2]):.1f} s")
    print(f"  parallel efficiency, 2 local workers: {median / 2:.2f}   (target: speed-up >= 1.8x)")


def dask_cluster(args: argparse.Namespace) -> None:
    try:
        from dask.distributed import LocalCluster
    except ImportError:
        print("dask: not installed (pip install 'checkpoint-sim[dask]'); skipped")
        return
    import sim

    scenario = sim.load_scenario(ROOT / args.scenario, {"calendar.days": args.days})
    sizes = [int(size) for size in args.dask_workers.split(",")]
    print(f"dask LocalCluster on 127.0.0.1: {args.replications} replications x {args.days} days, "
          f"{sizes} workers (1 thread each), {args.dask_repeats} repeats, order rotated")
    times: dict[int, list[float]] = {size: [] for size in sizes}
    clusters = {size: LocalCluster(n_workers=size, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=":0") for size in sizes}
    try:
        for size, cluster in clusters.items():        # warm-up: import the package in every worker
            sim.run(scenario, replications=size, seed=args.seed, keep_entities=False, executor="dask",
                    scheduler=cluster.scheduler_address)
        for repeat in range(args.dask_repeats):
            order = sizes[repeat % len(sizes):] + sizes[:repeat % len(sizes)]
            for size in order:
                began = time.perf_counter()
                sim.run(scenario, replications=args.replications, seed=args.seed, keep_entities=False,
                        executor="dask", scheduler=clusters[size].scheduler_address)
                times[size].append(time.perf_counter() - began)
    finally:
        for cluster in clusters.values():
            cluster.close()
    base = statistics.median(times[sizes[0]]) * sizes[0]
    for size in sizes:
        median = statistics.median(times[size])
        print(f"  {size} worker(s): median {median:6.1f} s (min {min(times[size]):.1f}, max {max(times[size]):.1f}); "
              f"speed-up {base / median:.2f}x, efficiency {base / (size * median):.2f}")
    print(f"  (this machine has {os.cpu_count()} CPUs: more workers than CPUs cannot raise the speed-up)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="scenarios/khorgos.yaml")
    parser.add_argument("--replications", type=int, default=40)
    parser.add_argument("--days", type=int, default=3, help="calendar.days (Khorgos: at least 3, 2 are warm-up)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=3, help="counted local pairs (after one warm-up pair)")
    parser.add_argument("--dask-workers", default="1,2,4")
    parser.add_argument("--dask-repeats", type=int, default=3)
    parser.add_argument("--only", choices=["local", "dask"])
    args = parser.parse_args()
    if args.only in (None, "local"):
        local_pool(args)
    if args.only in (None, "dask"):
        dask_cluster(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
