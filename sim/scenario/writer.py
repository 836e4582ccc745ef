"""Writing a scenario file that the package generates (a calibrated scenario, forecast demand files,
a roster): atomic, and checked by loading it back before it is renamed into place.

A separate module from the loader so that reading scenarios does not import the storage layer
(pandas, pyarrow): only the experiments that write scenario files load it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from ..storage import atomic_file
from .loader import load_scenario
from .schema import Scenario


def write_scenario(text: str, path: str | os.PathLike, mismatch: Callable[[Scenario], str | None]) -> Path:
    """Write the scenario ``text`` under a hidden name beside ``path``, load it, and rename it into
    place unless ``mismatch(loaded)`` says how it differs from what was meant: a ``RuntimeError``
    naming ``path`` then (a bug of the writer, not of the user), and nothing is left behind."""
    path = Path(path)
    with atomic_file(path) as staging:
        staging.write_text(text, encoding="utf-8")
        problem = mismatch(load_scenario(staging))
        if problem:
            raise RuntimeError(f"{path}: {problem}")
    return path


__all__ = ["write_scenario"]
