"""sim.scenario.writer: a generated scenario file is renamed into place only if it loads back to
what was meant; otherwise a RuntimeError and nothing is left behind (not even the staging file)."""
from __future__ import annotations

import pytest

from conftest import SCENARIOS
from sim.scenario.writer import write_scenario


def _extending(days: int) -> str:
    return f"extends: {SCENARIOS / 'jeminay.yaml'}\nname: written\ncalendar:\n  days: {days}\n"


def test_a_file_that_loads_to_what_was_meant_is_renamed_into_place(tmp_path):
    path = tmp_path / "written.yaml"
    seen = []
    assert write_scenario(_extending(5), path, lambda loaded: seen.append(loaded.calendar.days)) == path
    assert seen == [5] and path.read_text(encoding="utf-8") == _extending(5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["written.yaml"]


def test_a_mismatch_is_an_error_naming_the_file_and_leaves_the_old_file_and_no_staging(tmp_path):
    path = tmp_path / "written.yaml"
    path.write_text("old\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="written.yaml: 6 days, not 5"):
        write_scenario(_extending(6), path, lambda loaded: None if loaded.calendar.days == 5
                       else f"{loaded.calendar.days} days, not 5")
    assert path.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["written.yaml"]
