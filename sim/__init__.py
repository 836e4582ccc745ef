"""checkpoint-sim: discrete-event simulation of border-checkpoint queues on SimPy.

The data flow is one way: scenario -> model -> raw records -> metrics -> reports.

>>> import sim
>>> scenario = sim.load_scenario("scenarios/khorgos.yaml")      # doctest: +SKIP
>>> results = sim.run(scenario, replications=5, seed=1)          # doctest: +SKIP
>>> results.summary.query("group == 'all'")                      # doctest: +SKIP
"""
from .errors import ScenarioError
from .scenario import Scenario, load_scenario

__version__ = "0.1.0"

__all__ = ["Scenario", "ScenarioError", "load_scenario", "__version__"]
