"""Results folders: written atomically, read back into pandas.

A folder holds ``summary.csv``, ``hourly.csv``, ``entities.csv.gz``, ``scenario.resolved.yaml``
(every default filled in), ``run.json`` and the figures. It is written into a hidden temporary
folder beside the target and renamed into place only when complete, so a failed or interrupted
run never leaves a half-written folder, and an existing folder is never overwritten.
"""
from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pandas as pd
import yaml

from .runner import Results
from .scenario import Scenario, load_scenario

ENTITIES_FILE = "entities.csv.gz"


def resolved_yaml(scenario: Scenario) -> str:
    """The scenario with every default filled in, loadable by ``load_scenario``."""
    data = scenario.model_dump(mode="json", by_alias=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@contextmanager
def atomic_folder(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a hidden staging folder that becomes ``target`` only if the block completes.

    ``target`` must not exist or be empty; on any error the staging folder is removed and
    ``target`` is left as it was.
    """
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} already exists and is not empty")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a hidden staging path beside ``path``; it replaces ``path`` only if the block
    completes, and is removed otherwise."""
    path = Path(path)
    staging = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        yield staging
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def write_csv_atomic(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a CSV file under a temporary name and rename it into place."""
    with atomic_file(path) as staging:
        table.to_csv(staging, index=False)


def write_results(results: Results, out_dir: str | os.PathLike, figures: bool = True) -> Path:
    """Write ``results`` into ``out_dir`` (which must not exist yet) and return its path: the
    tables, ``report.html`` and, with ``figures``, the PNG figures (embedded in the report)."""
    target = Path(out_dir)
    with atomic_folder(target) as staging:
        results.summary.to_csv(staging / "summary.csv", index=False)
        results.hourly.to_csv(staging / "hourly.csv", index=False)
        if results.timeline is not None:
            results.timeline.to_csv(staging / "timeline.csv", index=False)
        if results.entities is not None:
            write_entities(results.entities, staging / ENTITIES_FILE)
        (staging / "scenario.resolved.yaml").write_text(resolved_yaml(results.scenario), encoding="utf-8")
        (staging / "run.json").write_text(json.dumps(results.info, indent=2) + "\n", encoding="utf-8")
        from .report import write_run_report
        if figures:
            from .plots import save_run_figures
            save_run_figures(results, staging)
        write_run_report(results, staging)
    return target


def write_entities(entities: pd.DataFrame, path: Path) -> None:
    """The per-entity table, gzip-compressed with a fixed header time (byte-reproducible)."""
    entities.to_csv(path, index=False, float_format="%.4f", compression={"method": "gzip", "mtime": 0})


def load_results(folder: str | os.PathLike) -> Results:
    """Read a results folder back (entities only if the file is there)."""
    folder = Path(folder)
    entities_path = folder / ENTITIES_FILE
    return Results(
        scenario=load_scenario(folder / "scenario.resolved.yaml"),
        summary=pd.read_csv(folder / "summary.csv"),
        hourly=pd.read_csv(folder / "hourly.csv"),
        entities=pd.read_csv(entities_path) if entities_path.exists() else None,
        info=json.loads((folder / "run.json").read_text(encoding="utf-8")),
        timeline=pd.read_csv(folder / "timeline.csv") if (folder / "timeline.csv").exists() else None,
    )
