"""The run figures of a results folder drawn by the main process alone vs with a 2-worker pool.

    python bench/bench_figures.py RESULTS_DIR [--repeats 3]

``RESULTS_DIR`` is a folder written by ``checkpoint-sim run`` (with its entity table). Each
repeat draws the six run figures into a scratch folder twice, in alternating order: by this
process alone, and with a fresh local pool of 2 workers drawing the two per-stage figures
meanwhile (``sim.publish._save_run_figures``, as ``checkpoint-sim run`` does once its
replications are done). The workers are forked from this process, which has matplotlib
imported already: the best case (in a run they import it first, ~0.5 s). Prints wall seconds.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq

import sim
from sim import plots
from sim.executors import make_executor
from sim.publish import _save_run_figures
from sim.metrics import measurement_window
from sim.runner import FIGURE_ENTITY_COLUMNS, EntityFigures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = sim.load_results(args.folder)
    kept = pq.read_table(args.folder / "entities.parquet", columns=list(FIGURE_ENTITY_COLUMNS))
    results = replace(results, entities=None,        # as a run draws them: from the reduction
                      entity_figures=EntityFigures.of(kept, measurement_window(results.scenario)))
    names = plots.run_figures_planned(results)
    times: dict[str, list[float]] = {"main process alone": [], "with 2 workers": []}
    for repeat in range(args.repeats):
        order = list(times) if repeat % 2 == 0 else list(reversed(times))
        for mode in order:
            with tempfile.TemporaryDirectory() as scratch:
                if mode == "with 2 workers":
                    with make_executor(2).start() as pool:
                        time.sleep(0.5)                    # the workers are up
                        began = time.perf_counter()
                        _save_run_figures(results, names, Path(scratch), None, pool)
                        times[mode].append(time.perf_counter() - began)
                else:
                    began = time.perf_counter()
                    _save_run_figures(results, names, Path(scratch))
                    times[mode].append(time.perf_counter() - began)
            print(f"repeat {repeat}: {mode:<20} {times[mode][-1]:6.2f} s", flush=True)
    for mode, seconds in times.items():
        print(f"{mode:<20} median {statistics.median(seconds):6.2f} s (min {min(seconds):.2f}, max {max(seconds):.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
