"""checkpoint-sim: discrete-event simulation of border-checkpoint queues on SimPy.

The data flow is one way: scenario -> model -> raw records -> metrics -> reports.

>>> import sim
>>> scenario = sim.load_scenario("scenarios/khorgos.yaml")      # doctest: +SKIP
>>> results = sim.run(scenario, replications=5, seed=1)          # doctest: +SKIP
>>> results.summary.query("group == 'all'")                      # doctest: +SKIP
"""
__version__ = "0.1.0"

from .errors import ScenarioError  # noqa: E402
from .scenario import Scenario, load_scenario  # noqa: E402
from .runner import Results, run  # noqa: E402
from .outputs import load_results  # noqa: E402


def __getattr__(name: str):
    """``sim.write_results`` is :func:`sim.publish.publish_run`, imported on first use so that
    ``import sim`` (and ``checkpoint-sim --help``) does not load matplotlib."""
    if name == "write_results":
        from .publish import publish_run
        return publish_run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["Results", "Scenario", "ScenarioError", "load_results", "load_scenario", "run", "write_results",
           "__version__"]
