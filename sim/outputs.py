"""The results folder of a run, read back: the file names of the contract and ``load_results``.

A folder holds ``summary.csv``, ``hourly.csv``, ``timeline.csv``, ``entities.parquet`` (or
``entities.csv.gz``),
``scenario.resolved.yaml`` (every default filled in), ``run.json``, the figures and
``report.html`` (see docs/outputs.md). It is written by :func:`sim.publish.publish_run`, atomically
(:mod:`sim.storage`); this module only names its files and reads them back into pandas.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import yaml

from .runner import Results
from .scenario import Scenario, load_scenario
from .storage import ENTITIES_CSV_FILE, ENTITIES_FILE, read_entities

RESOLVED_FILE = "scenario.resolved.yaml"


def resolved_yaml(scenario: Scenario) -> str:
    """The scenario with every default filled in, loadable by ``load_scenario``."""
    data = scenario.model_dump(mode="json", by_alias=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def load_results(folder: str | os.PathLike) -> Results:
    """Read a results folder back (entities only if ``entities.parquet`` or ``entities.csv.gz`` is there)."""
    folder = Path(folder)
    return Results(
        scenario=load_scenario(folder / RESOLVED_FILE),
        summary=pd.read_csv(folder / "summary.csv"),
        hourly=pd.read_csv(folder / "hourly.csv"),
        entities=read_entities(folder),
        info=json.loads((folder / "run.json").read_text(encoding="utf-8")),
        timeline=pd.read_csv(folder / "timeline.csv") if (folder / "timeline.csv").exists() else None,
    )


__all__ = ["ENTITIES_CSV_FILE", "ENTITIES_FILE", "RESOLVED_FILE", "load_results", "resolved_yaml"]
