"""The package's structure: layers that import only downwards, no import cycles, a light start-up.

Every module of ``sim`` belongs to one layer; a module may import (at module level, outside
``if TYPE_CHECKING``) only modules of its own layer or of layers below it. Imports inside
functions are allowed only in the CLI, whose commands load their layers on first use so that
``checkpoint-sim --help`` stays fast. docs/architecture.md draws the same table.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sim"

LAYERS = [  # lowest first
    ("foundation", {"sim.version", "sim.errors", "sim.catalogue", "sim.groups", "sim.stats", "sim.analytic",
                    "sim.streams", "sim.storage", "sim.holidays", "sim.memory"}),
    ("scenario", {"sim.scenario", "sim.scenario.base", "sim.scenario.units", "sim.scenario.calibration",
                  "sim.scenario.schema", "sim.scenario.checks", "sim.scenario.loader", "sim.scenario.impatience",
                  "sim.scenario.rail", "sim.scenario.staffing_targets",
                  "sim.scenario.distributions", "sim.scenario.rail_stages", "sim.scenario.writer"}),
    ("engine", {"sim.calendar", "sim.demand", "sim.staffing", "sim.service", "sim.plan", "sim.records", "sim.model",
                "sim.timetable", "sim.yard"}),
    ("metrics", {"sim.metrics", "sim.diagnostics", "sim.replication", "sim.conservation", "sim.rail_metrics"}),
    ("experiments", {"sim.executors", "sim.experiment", "sim.runner", "sim.comparison", "sim.sweeps", "sim.fitting",
                     "sim.forecast", "sim.validation", "sim.staffing_plan", "sim.staffing_planner"}),
    ("publishing", {"sim.plots", "sim.report", "sim.console", "sim.outputs", "sim.publish"}),
    ("interface", {"sim", "sim.cli"}),
]
LAYER_OF = {module: index for index, (_, modules) in enumerate(LAYERS) for module in modules}
LAZY_IMPORTS_ALLOWED = {"sim.cli", "sim"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> list[tuple[str, int, bool]]:
    """(sim module imported, line, at module level) for every import of a sim module in ``path``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_checking = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                     and getattr(block.test, "id", getattr(block.test, "attr", "")) == "TYPE_CHECKING"
                     for node in ast.walk(block)}
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if id(node) in type_checking:
            continue
        targets: list[str] = []
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[:len(base) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else [])) if node.level else (node.module or "")
            targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in LAYER_OF else module
                       for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        for target in targets:
            if target in LAYER_OF:
                found.append((target, node.lineno, id(node) in top_level))
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer():
    assert sorted(module_name(p) for p in MODULES if module_name(p) not in LAYER_OF) == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_modules_import_only_from_their_layer_or_below(path):
    name = module_name(path)
    upward = [f"line {line}: {target} ({LAYERS[LAYER_OF[target]][0]})" for target, line, _ in imported_modules(path)
              if LAYER_OF[target] > LAYER_OF[name]]
    assert upward == [], f"{name} ({LAYERS[LAYER_OF[name]][0]}) imports from a higher layer"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_no_import_inside_a_function_outside_the_cli(path):
    name = module_name(path)
    if name in LAZY_IMPORTS_ALLOWED:
        return
    inside = [f"line {line}: {target}" for target, line, top in imported_modules(path) if not top]
    assert inside == [], f"{name} imports inside a function (a cycle dodged?)"


def test_the_command_line_starts_without_the_numeric_stack():
    probe = "import sys, sim.cli; print(sorted(m for m in ('numpy', 'pandas', 'scipy', 'simpy', 'pydantic') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent).stdout.strip()
    assert out == "[]"


def test_every_public_name_resolves_and_nothing_else_is_public():
    import sim
    for name in sim.__all__:
        assert getattr(sim, name) is not None, name
    assert {"run", "compare", "sweep", "calibrate", "load_scenario", "load_results", "write_results"} <= set(sim.__all__)
    with pytest.raises(AttributeError):
        sim.no_such_name  # noqa: B018
