"""Scenario files: schema, loading (with ``extends`` and line numbers) and checks."""
from .loader import load_scenario, merge, read_yaml, set_dotted
from .schema import DIRECTIONS, Scenario

__all__ = ["DIRECTIONS", "Scenario", "load_scenario", "merge", "read_yaml", "set_dotted"]
