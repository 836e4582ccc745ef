"""Benchmark batch sweeps: parallel speed-up, sweep overhead, memory, and the engine against Ciw.

Four measurements, each printed with its target (nothing is asserted):

1. ``speedup``: a one-point sweep of ``--replications`` Khorgos replications (``--days`` days)
   run as a whole ``checkpoint-sim sweep`` process with 1 and then 2 workers; wall-time ratio.
   Target: >= 1.8x (a plain multiprocessing loop of SimPy replications reaches ~1.85x here).
2. ``overhead``: the same replications in one process, once through ``sim.run`` and once through
   ``sim.sweeps.run_sweep`` (1 worker each); the sweep's extra time per replication. Target < 5 %.
3. ``memory``: a sweep of ``--memory-runs`` runs (10 points) without ``keep_entities`` in a fresh
   process; peak RSS of the main process and of the largest worker. Target: < 1 GB in all.
4. ``ciw``: the same M/M/10 day (~7,000 arrivals, rho ~0.97) through a minimal hand-written SimPy
   model, this engine's simulation step and the Ciw library, interleaved, paired ratios.
   Target: this engine's time at most half of Ciw's. (Ciw is a benchmark-only dependency:
   ``pip install -e '.[bench]'``.)

Usage::

    python bench/bench_sweep.py                  # everything (about 15 minutes on 2 cores)
    python bench/bench_sweep.py --quick          # smoke run
    python bench/bench_sweep.py --only ciw --repeat 20
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

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KHORGOS = ROOT / "scenarios" / "khorgos.yaml"
sys.path.insert(0, str(HERE))

import plain_simpy  # noqa: E402
import sim  # noqa: E402
from sim.model import simulate  # noqa: E402
from sim.plan import build_layout  # noqa: E402
from sim.sweeps import load_sweep, run_sweep  # noqa: E402
from sim.validation import exponential, queue_scenario  # noqa: E402


def write_sweep(folder: Path, replications: int, days: int, grid_points: int = 1) -> Path:
    """A sweep file over Khorgos: ``grid_points`` values of daily volume, ``replications`` each."""
    volumes = [7000 + 50 * i for i in range(grid_points)]
    spec = {"base": str(KHORGOS), "replications": replications, "seed": 1,
            "grid": {"calendar.days": [days], "calendar.warmup_days": [1], "demand.daily_volume": volumes}}
    path = folder / f"sweep-{replications}x{grid_points}.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def cli(*args: str) -> float:
    """Wall seconds of one ``checkpoint-sim`` process."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sim.cli", *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def bench_speedup(args, folder: Path) -> None:
    sweep = write_sweep(folder, args.replications, args.days)
    times = {}
    for workers in (1, 2):
        times[workers] = cli("sweep", str(sweep), "--workers", str(workers), "--out", str(folder / f"speed{workers}"))
    ratio = times[1] / times[2]
    print(f"speed-up, {args.replications} Khorgos replications of {args.days} days, whole process:")
    print(f"  1 worker {times[1]:.1f} s, 2 workers {times[2]:.1f} s -> {ratio:.2f}x (target >= 1.8x)")


def bench_overhead(args, folder: Path) -> None:
    replications = max(4, args.replications // 10)
    sweep = load_sweep(write_sweep(folder, replications, args.days))
    scenario = sweep.scenarios[sweep.points[0].id]
    bare, swept = [], []
    for repeat in range(args.overhead_repeat):
        started = time.perf_counter()
        sim.run(scenario, replications=replications, seed=1, keep_entities=False, progress=False)
        bare.append(time.perf_counter() - started)
        started = time.perf_counter()
        run_sweep(sweep, folder / f"overhead{repeat}", workers=1, progress=False)
        swept.append(time.perf_counter() - started)
    ratios = [s / b for s, b in zip(swept, bare)]
    print(f"sweep overhead, {replications} replications in one process, {args.overhead_repeat} repeats:")
    print(f"  bare run median {statistics.median(bare):.2f} s, sweep median {statistics.median(swept):.2f} s, "
          f"paired ratio median {statistics.median(ratios):.3f} (target < 1.05)")


def memory_child(sweep_file: str, out: str) -> None:
    run_sweep(load_sweep(sweep_file), out, workers=2, progress=False)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{own:.1f} {workers:.1f}")


def bench_memory(args, folder: Path) -> None:
    points = 10
    sweep = write_sweep(folder, args.memory_runs // points, 2, grid_points=points)
    result = subprocess.run([sys.executable, __file__, "--_memory-child", str(sweep), str(folder / "memory")],
                            check=True, capture_output=True, text=True)
    own, worker = (float(value) for value in result.stdout.split()[-2:])
    print(f"memory, a sweep of {args.memory_runs} runs ({points} points) without keep_entities, 2 workers:")
    print(f"  main process peak RSS {own:.0f} MiB, largest worker {worker:.0f} MiB, "
          f"main + 2 workers <= {own + 2 * worker:.0f} MiB (target < 1024 MiB)")


def mmc_day_scenario() -> sim.Scenario:
    data = queue_scenario(7000 / 1440, {"desk": {"servers": 10, "service": exponential(2.0)}}, days=1, warmup_days=0)
    return sim.load_scenario(data)


def run_ciw(arrival_rate: float, service_rate: float, servers: int, horizon: float, seed: int) -> list[float]:
    import ciw
    network = ciw.create_network(arrival_distributions=[ciw.dists.Exponential(arrival_rate)],
                                 service_distributions=[ciw.dists.Exponential(service_rate)],
                                 number_of_servers=[servers])
    ciw.seed(seed)
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_time(horizon)
    return [record.waiting_time for record in simulation.get_all_records()]


def bench_ciw(args) -> None:
    scenario = mmc_day_scenario()
    layout = build_layout(scenario)
    arrival_rate, service_rate, servers = 7000 / 1440, 0.5, 10
    variants = {
        "plain SimPy (Resource)": lambda seed: plain_simpy.run_resource(arrival_rate, service_rate, servers, 1440, seed),
        "checkpoint-sim simulate": lambda seed: simulate(scenario, seed, 0, layout),
        "Ciw": lambda seed: run_ciw(arrival_rate, service_rate, servers, 1440, seed),
    }
    times = {name: [] for name in variants}
    for repeat in range(args.repeat):
        names = list(variants)
        for name in names[repeat % 3:] + names[:repeat % 3]:            # rotate the order
            started = time.perf_counter()
            variants[name](repeat + 1)
            times[name].append(time.perf_counter() - started)
    base = times["plain SimPy (Resource)"]
    print(f"M/M/10, one day (~7,000 arrivals, rho ~0.97), {args.repeat} interleaved repeats:")
    for name, values in times.items():
        ratio = statistics.median(v / b for v, b in zip(values, base))
        print(f"  {name:<26} median {1000 * statistics.median(values):7.1f} ms   vs plain SimPy {ratio:5.2f}x")
    engine_vs_ciw = statistics.median(e / c for e, c in zip(times["checkpoint-sim simulate"], times["Ciw"]))
    print(f"  checkpoint-sim / Ciw (paired median) {engine_vs_ciw:.2f} (target <= 0.5)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["speedup", "overhead", "memory", "ciw"])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--replications", type=int, default=200, help="speed-up sweep replications (200)")
    parser.add_argument("--days", type=int, default=3, help="Khorgos days per replication (3, 1 warm-up)")
    parser.add_argument("--overhead-repeat", type=int, default=3)
    parser.add_argument("--memory-runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=15, help="Ciw comparison repeats (15)")
    parser.add_argument("--_memory-child", dest="memory_child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(*args.memory_child)
        return 0
    if args.quick:
        args.replications, args.memory_runs, args.repeat, args.overhead_repeat = 20, 40, 3, 1
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, checkpoint-sim {sim.__version__}")
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        for name, function in (("speedup", bench_speedup), ("overhead", bench_overhead), ("memory", bench_memory)):
            if args.only in (None, name):
                function(args, folder)
    if args.only in (None, "ciw"):
        bench_ciw(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
