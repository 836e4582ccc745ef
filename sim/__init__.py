"""checkpoint-sim: discrete-event simulation of border-checkpoint queues on SimPy.

The data flow is one way: scenario -> model -> raw records -> metrics -> reports.

>>> import sim
>>> scenario = sim.load_scenario("scenarios/khorgos.yaml")      # doctest: +SKIP
>>> results = sim.run(scenario, replications=5, seed=1)          # doctest: +SKIP
>>> results.summary.query("group == 'all'")                      # doctest: +SKIP

The names below are the public API; each is imported on first use, so that ``import sim`` (and
``checkpoint-sim --help``) stays fast.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from .version import __version__  # noqa: F401  (in __all__)

_PUBLIC = {  # name -> (module that defines it, its name there)
    "Scenario": ("sim.scenario", "Scenario"), "load_scenario": ("sim.scenario", "load_scenario"),
    "ScenarioError": ("sim.errors", "ScenarioError"),
    "Results": ("sim.runner", "Results"), "run": ("sim.runner", "run"),
    "load_results": ("sim.outputs", "load_results"), "write_results": ("sim.publish", "publish_run"),
    "compare": ("sim.comparison", "compare"), "Comparison": ("sim.comparison", "Comparison"),
    "load_sweep": ("sim.sweeps", "load_sweep"), "run_sweep": ("sim.sweeps", "run_sweep"),
    "calibrate": ("sim.fitting", "calibrate"),
}

__all__ = sorted([*_PUBLIC, "sweep", "__version__"])


def sweep(path: str, out: str, workers: int = 1, resume: bool = False, executor: str = "local",
          scheduler: str | None = None, progress: bool | None = None) -> Any:
    """Run the sweep file ``path`` into the folder ``out`` (``resume``: finish an interrupted one)
    and publish it (``sweep.csv``, figures, ``report.html``); return the sweep table."""
    from .publish import publish_sweep
    from .sweeps import load_sweep, run_sweep
    loaded = load_sweep(path)
    table = run_sweep(loaded, out, workers, resume, executor, scheduler, progress)
    publish_sweep(out, table, loaded.base)
    return table


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        module, attribute = _PUBLIC[name]
        value = getattr(import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
