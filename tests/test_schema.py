"""Scenario validation: shipped files load; bad input gets one clear message with file, line and
field path, both from the library (``ScenarioError.problems``) and from the command line (exit
status 2, one line per problem on stderr, no traceback, nothing written)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import sim
from sim.cli import main
from conftest import SCENARIOS, SMALL_YAML, line_of

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_scenario_validates(path, capsys):
    scenario = sim.load_scenario(path)
    assert scenario.name == path.stem
    assert scenario.crossing.sources, "a shipped scenario names its sources"
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"ok: {path}")


def test_the_shipped_scenarios_are_there():
    assert "khorgos.yaml" in [p.name for p in SHIPPED]


def test_small_test_scenario_is_valid(small_yaml):
    scenario = sim.load_scenario(small_yaml)
    assert scenario.calendar.drain == 720.0                       # "12 h" in minutes
    assert scenario.stages["passport"].service_time["car"].mean == 2.0


# --------------------------------------------------------------------------------------------
# bad input: each case breaks one line of the small valid scenario
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bad:
    id: str
    old: str            # text on exactly one line of SMALL_YAML
    new: str
    path: str           # field path of the expected problem ("" for file-level problems)
    message: str        # regular expression the message must match
    line_of: str = ""   # text of the line the problem must point at (default: the broken line)

    def text(self) -> str:
        assert SMALL_YAML.count(self.old) == 1, self.old
        return SMALL_YAML.replace(self.old, self.new)

    def expected_line(self) -> int:
        return line_of(self.text(), self.line_of or self.new.splitlines()[0])


BAD = [
    Bad("malformed-yaml", "  days: 2", "  days: 2: 3", "", r"malformed YAML: mapping values are not allowed"),
    Bad("wrong-type", "  days: 2", "  days: two", "calendar.days", r"expected a whole number, got .two."),
    Bad("negative-rate", "daily_volume: 200", "daily_volume: -5", "demand.daily_volume", r"expected a number >= 0, got -5"),
    Bad("probability-above-1", "green_channel_share: 0.1", "green_channel_share: 1.5",
        "classes.pedestrian.green_channel_share", r"expected a probability between 0 and 1, got 1.5"),
    Bad("probability-below-0", "green_channel_share: 0.1", "green_channel_share: -0.2",
        "classes.pedestrian.green_channel_share", r"expected a probability between 0 and 1, got -0.2"),
    Bad("23-hour-weights", "hour_weights: [1, 1, 1, 1, 1, 1, 2,", "hour_weights: [1, 1, 1, 1, 1, 2,",
        "demand.hour_weights", r"expected 24 hour-of-day weights .*got 23"),
    Bad("pool-serves-nothing", "serves: [pedestrian]", "serves: []", "stages.passport.pools.foot.serves",
        r"serves no class"),
    Bad("class-without-lane", "serves: [pedestrian]", "serves: [car]", "classes.pedestrian",
        r"class 'pedestrian' has no lane on the KZ_to_CN route", line_of="  pedestrian:"),
    Bad("misspelt-key", "  warmup_days: 1", "  warmup_dyas: 1", "calendar.warmup_dyas",
        r"unknown field 'warmup_dyas'; did you mean 'warmup_days'\?"),
    Bad("misspelt-distribution-field", "pedestrian: {dist: exponential, mean: 1 min}",
        "pedestrian: {dist: exponential, maen: 1 min}", "stages.passport.service_time.pedestrian.maen",
        r"did you mean 'mean'\?"),
    Bad("misspelt-class-name", "serves: [pedestrian]", "serves: [pedestrain]", "stages.passport.pools.foot.serves.0",
        r"unknown class 'pedestrain'; did you mean 'pedestrian'\?"),
    Bad("misspelt-stage-in-route", "KZ_to_CN: [passport]", "KZ_to_CN: [pasport]", "routes.KZ_to_CN.0",
        r"unknown stage 'pasport'; did you mean 'passport'\?"),
    Bad("duration-without-units", "drain: 12 h", "drain: 12", "calendar.drain", r"units.*bare number 12"),
    Bad("duration-unknown-unit", "drain: 12 h", "drain: 12 hrs", "calendar.drain", r"units: s, min, h, d.*'12 hrs'"),
    Bad("service-time-without-units", "car: {dist: exponential, mean: 2 min}", "car: {dist: exponential, mean: 2}",
        "stages.passport.service_time.car.mean", r"bare number 2"),
    Bad("direction-shares", "green_channel_share: 0.1",
        "green_channel_share: 0.1\n    directions: {KZ_to_CN: 0.7, CN_to_KZ: 0.7}",
        "classes.pedestrian.directions", r"adding up to 1, got 1.4", line_of="directions:"),
    Bad("warmup-not-shorter", "  warmup_days: 1", "  warmup_days: 2", "calendar.warmup_days", r"fewer warm-up days"),
]


def _write(tmp_path: Path, case: Bad) -> Path:
    path = tmp_path / f"{case.id}.yaml"
    path.write_text(case.text(), encoding="utf-8")
    return path


def _matching(problems, case: Bad):
    return [p for p in problems if p.path == case.path and re.search(case.message, p.message)]


@pytest.mark.parametrize("case", BAD, ids=[case.id for case in BAD])
def test_bad_scenario_gets_a_clear_problem(tmp_path, case):
    path = _write(tmp_path, case)
    with pytest.raises(sim.ScenarioError) as raised:
        sim.load_scenario(path)
    problems = raised.value.problems
    found = _matching(problems, case)
    assert found, f"expected a problem at {case.path!r} matching {case.message!r}, got {problems}"
    problem = found[0]
    assert problem.file == str(path)
    assert problem.line == case.expected_line()
    # the printed form names the file, the line and the field path
    text = str(problem)
    assert text.startswith(f"{path}:{problem.line}:")
    if case.path:
        assert f" {case.path}: " in text
    assert "\n" not in text


@pytest.mark.parametrize("case", BAD, ids=[case.id for case in BAD])
def test_bad_scenario_on_the_command_line(tmp_path, capsys, case):
    path = _write(tmp_path, case)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--replications", "1"]) == 2
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]   # no partial folder either
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines and "Traceback" not in captured.err
    assert all(line.startswith(f"error: {path}:") for line in lines), lines
    expected = f"error: {path}:{case.expected_line()}:"
    assert any(line.startswith(expected) and re.search(case.message, line) for line in lines), lines
    # one line per problem; single-problem cases print exactly one line
    with pytest.raises(sim.ScenarioError) as raised:
        sim.load_scenario(path)
    assert len(lines) == len(raised.value.problems)


@pytest.mark.parametrize("case_id", ["negative-rate", "misspelt-key", "malformed-yaml", "duration-without-units"])
def test_single_mistake_single_line(tmp_path, capsys, case_id):
    case = next(c for c in BAD if c.id == case_id)
    path = _write(tmp_path, case)
    assert main(["validate", str(path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {path}:{case.expected_line()}:")


def test_missing_file(tmp_path, capsys):
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(sim.ScenarioError) as raised:
        sim.load_scenario(missing)
    (problem,) = raised.value.problems
    assert problem.file == str(missing) and problem.line is None and problem.path == ""
    assert "file not found" in problem.message
    out = tmp_path / "out"
    assert main(["run", str(missing), "--out", str(out)]) == 2
    assert not out.exists()
    captured = capsys.readouterr()
    assert captured.err == f"error: {missing}: file not found\n"


def test_extends_of_a_missing_base_and_circular_extends(tmp_path):
    child = tmp_path / "child.yaml"
    child.write_text("extends: base.yaml\nname: child\n", encoding="utf-8")
    with pytest.raises(sim.ScenarioError) as raised:
        sim.load_scenario(child)
    (problem,) = raised.value.problems
    assert (problem.file, problem.path, problem.line) == (str(child), "extends", 1)
    assert "'base.yaml' not found" in problem.message
    (tmp_path / "base.yaml").write_text("extends: child.yaml\n", encoding="utf-8")
    with pytest.raises(sim.ScenarioError) as raised:
        sim.load_scenario(child)
    assert "circular extends" in raised.value.problems[0].message


def test_problem_in_a_base_file_points_into_the_base(tmp_path):
    """A mistake inherited through ``extends`` is reported at its line in the base file."""
    base = tmp_path / "base.yaml"
    base.write_text(SMALL_YAML.replace("daily_volume: 200", "daily_volume: -5"), encoding="utf-8")
    child = tmp_path / "child.yaml"
    child.write_text("extends: base.yaml\nname: child\n", encoding="utf-8")
    with pytest.raises(sim.ScenarioError) as raised:
        sim.load_scenario(child)
    (problem,) = raised.value.problems
    assert problem.path == "demand.daily_volume"
    assert Path(problem.file).resolve() == base.resolve()
    assert problem.line == line_of(base.read_text(), "daily_volume")


def test_problems_in_a_dict_scenario_name_the_field(small_yaml):
    import yaml
    data = yaml.safe_load(small_yaml.read_text())
    data["demand"]["daily_volume"] = -5
    with pytest.raises(sim.ScenarioError) as raised:
        sim.load_scenario(data)
    (problem,) = raised.value.problems
    assert problem.path == "demand.daily_volume" and problem.file == "<scenario>"


def test_bad_override_is_reported_at_its_field(small_yaml):
    with pytest.raises(sim.ScenarioError) as raised:
        sim.load_scenario(small_yaml, {"demand.daily_volume": -1})
    assert [p.path for p in raised.value.problems] == ["demand.daily_volume"]


def test_command_line_rejects_bad_numbers(small_yaml, tmp_path, capsys):
    for argument in (["--replications", "0"], ["--seed", "-1"], ["--days", "x"]):
        with pytest.raises(SystemExit) as raised:
            main(["run", str(small_yaml), "--out", str(tmp_path / "out"), *argument])
        assert raised.value.code == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and "expected" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("old, new, path, message", [
    ("  days: 2", "  days: 1.5", "calendar.days", "expected a whole number, got 1.5"),
    ("  seed: 11", "  seed: -1", "run.seed", "expected a number >= 0, got -1"),
    ("  drain: 12 h", "  drain: 12 h\n  closed_weekdays: [mon, sunday]", "calendar.closed_weekdays.1",
     "expected one of 'mon', 'tue', 'wed', 'thu', 'fri', 'sat' or 'sun', got 'sunday'; did you mean 'sun'?"),
])
def test_range_and_type_errors_say_what_was_expected_and_what_was_given(tmp_path, old, new, path, message):
    text = SMALL_YAML.replace(old, new)
    assert text != SMALL_YAML
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(sim.ScenarioError) as error:
        sim.load_scenario(bad)
    assert [(problem.path, problem.message) for problem in error.value.problems] == [(path, message)]


@pytest.mark.parametrize("old, new, path, message", [
    ("  seed: 11", "  seed: true", "run.seed", "expected a whole number, got 'true'"),
    ("daily_volume: 200", "daily_volume: false", "demand.daily_volume", "expected a number, got 'false'"),
    ("  drain: 12 h", "  drain: true", "calendar.drain", "got 'true'"),
    ("hour_weights: [1, 1, 1,", "hour_weights: [1, true, 1,", "demand.hour_weights.1", "expected a number, got 'true'"),
])
def test_true_and_false_are_not_numbers(tmp_path, old, new, path, message):
    """pydantic would read `seed: true` as seed 1 and `booths: true` as one booth."""
    text = SMALL_YAML.replace(old, new, 1)
    assert text != SMALL_YAML
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(sim.ScenarioError) as error:
        sim.load_scenario(bad)
    problems = [(problem.path, problem.message) for problem in error.value.problems]
    assert len(problems) == 1 and problems[0][0] == path and message in problems[0][1], problems


def test_a_bool_field_still_takes_a_bool(small_yaml):
    scenario = sim.load_scenario(small_yaml, {"green_channel.enabled": False})
    assert scenario.green_channel.enabled is False
