"""Check that two revisions of checkpoint-sim write the same numbers for every shipped scenario.

    python bench/same_outputs.py REV_A [REV_B] [--days 3] [--replications 2] [--seed 1] [--entities-format csv]

Each revision is checked out into a temporary git worktree and run with this interpreter
(``python -m sim.cli run``, ``PYTHONPATH`` set to the worktree) on every file of ``scenarios/``;
the tables (summary.csv, hourly.csv, timeline.csv, and the entity table when both write it in
the same format: entities.parquet or entities.csv.gz) must be byte-identical (a Parquet table
may differ only in how its rows are split into row groups), an entity table
written in two formats equal to the CSV's 4 decimals, and run.json equal but for the timings and
the command. ``REV_B`` defaults to the working tree.
Prints one line per scenario and exits 1 if anything differs. Used for refactors that must not
change a result (the experiment layer, the publishing layer, the engine).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("summary.csv", "hourly.csv", "timeline.csv")
ENTITY_FILES = ("entities.parquet", "entities.csv.gz")
VOLATILE = ("wall_time_s", "command", "phases_s", "total_wall_s", "worker_cpu_s", "streamed_s")


def checkout(revision: str, into: Path) -> Path:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(into), revision],
                   check=True, capture_output=True)
    return into


def run_all(tree: Path, out: Path, options: list[str]) -> None:
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    for scenario in sorted((ROOT / "scenarios").glob("*.yaml")):
        subprocess.run([sys.executable, "-m", "sim.cli", "run", str(scenario), "--out", str(out / scenario.stem),
                        "--no-plots", "--workers", "2", *options], check=True, capture_output=True,
                       env=environment, cwd=tree)


def entity_file(folder: Path) -> Path | None:
    """The entity table of a results folder (either format), or None."""
    return next((folder / name for name in ENTITY_FILES if (folder / name).exists()), None)


def same_parquet_table(first: Path, second: Path) -> bool:
    """The same table in two Parquet files whatever their row groups: schema with its pandas
    metadata, and every value, equal (issue 15 writes one row group per replication)."""
    left, right = pq.read_table(first), pq.read_table(second)
    return left.schema.equals(right.schema, check_metadata=True) and left.equals(right)


def same_entities(first: Path | None, second: Path | None) -> bool:
    """Byte-identical in one format (Parquet: the same table, see same_parquet_table); across
    formats, equal to the CSV's 4 decimals."""
    if first is None or second is None:
        return first is second
    if first.name == second.name:
        return first.read_bytes() == second.read_bytes() or (
            first.suffix == ".parquet" and same_parquet_table(first, second))
    tables = [pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path) for path in (first, second)]
    for table in tables:
        text = [column for column in table.columns if column.startswith(("class", "direction", "lane_"))]
        table[text] = table[text].fillna("").astype(str)
    left, right = tables
    if list(left.columns) != list(right.columns) or len(left) != len(right):
        return False
    return all(np.allclose(left[c], right[c], atol=6e-5, equal_nan=True) if left[c].dtype.kind == "f"
               else (left[c].astype(str) == right[c].astype(str)).all() for c in left.columns)


def differences(first: Path, second: Path) -> list[str]:
    found = [name for name in TABLES if (first / name).exists() != (second / name).exists()
             or ((first / name).exists() and (first / name).read_bytes() != (second / name).read_bytes())]
    if not same_entities(entity_file(first), entity_file(second)):
        found.append("entities")
    infos = [{k: v for k, v in json.loads((f / "run.json").read_text()).items() if k not in VOLATILE}
             for f in (first, second)]
    return found + (["run.json"] if infos[0] != infos[1] else [])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first")
    parser.add_argument("second", nargs="?", help="default: the working tree")
    parser.add_argument("--days", default="3")
    parser.add_argument("--replications", default="2")
    parser.add_argument("--seed", default="1")
    parser.add_argument("--entities-format", default="parquet", choices=["parquet", "csv"])
    args = parser.parse_args()
    options = ["--days", args.days, "--replications", args.replications, "--seed", args.seed,
               "--entities-format", args.entities_format]
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        trees = [checkout(args.first, scratch / "a"),
                 checkout(args.second, scratch / "b") if args.second else ROOT]
        try:
            for tree, side in zip(trees, "ab"):
                run_all(tree, scratch / f"out-{side}", options)
        finally:
            for tree in trees:
                if tree != ROOT:
                    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                                   capture_output=True)
        failed = 0
        for folder in sorted((scratch / "out-a").iterdir()):
            different = differences(folder, scratch / "out-b" / folder.name)
            failed += bool(different)
            print(f"{folder.name:<28} {'identical' if not different else 'DIFFERENT: ' + ', '.join(different)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
