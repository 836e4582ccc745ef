"""Hostile or broken scenario files: every user mistake is a ``ScenarioError`` of ``Problem`` s
naming the file, the line and the field, never a traceback, a hang or a memory blow-up.

Each test breaks the small valid scenario (``SMALL_YAML``) in one way found by mutating the
shipped scenarios. Tests that could hang on a regression run under :func:`deadline`.
"""
from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import time
from pathlib import Path

import pytest
import yaml

import sim
from sim.cli import main
from sim.errors import Problem
from sim.scenario import loader
from conftest import SMALL_YAML, line_of


@contextlib.contextmanager
def deadline(seconds: float):
    """Fail (instead of hanging) when the block takes longer than ``seconds`` (Unix only)."""
    if not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def write(tmp_path: Path, text: str, name: str = "broken.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def replaced(old: str, new: str) -> str:
    assert SMALL_YAML.count(old) == 1, old
    return SMALL_YAML.replace(old, new)


def problems_of(path_or_data) -> list[Problem]:
    with deadline(20), pytest.raises(sim.ScenarioError) as raised:
        sim.load_scenario(path_or_data)
    return raised.value.problems


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


def validate_cli(capsys, *paths: Path) -> tuple[int, list[str], list[str]]:
    with deadline(30):
        status = main(["validate", *map(str, paths)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return status, captured.out.splitlines(), captured.err.splitlines()


# --------------------------------------------------------------------------------------------
# 1. impossible dates; `validate a b c` reports every file
# --------------------------------------------------------------------------------------------
def test_an_impossible_date_is_a_problem_at_its_line(tmp_path, capsys):
    text = replaced("start_date: 2025-07-07", "start_date: 2025-02-30")
    path = write(tmp_path, text)
    problem = only(problems_of(path))
    assert (problem.file, problem.path, problem.line) == (str(path), "calendar.start_date",
                                                          line_of(text, "start_date"))
    assert "not a real date" in problem.message and "2025-02-30" in problem.message
    status, out, err = validate_cli(capsys, path)
    assert status == 2 and out == [] and err == [f"error: {problem}"]


def test_an_impossible_date_in_a_list(tmp_path):
    text = replaced("  drain: 12 h", "  drain: 12 h\n  closed_dates: [2025-07-09, 2025-13-01]")
    problem = only(problems_of(write(tmp_path, text)))
    assert problem.path == "calendar.closed_dates.1" and "not a real date" in problem.message


def test_a_read_problem_does_not_hide_the_schema_problems_beside_it(tmp_path):
    """An impossible date, a duplicate key and an unreadable value are reported together with
    the unknown fields of the same block, in line order; the bad date is not reported twice
    (once as unreadable, once as 'not a date' from the schema)."""
    text = replaced("start_date: 2025-07-07", "start_date: 2025-02-30\n  dayz: 3")
    text = text.replace("  drain: 12 h", "  drain: 12 h\n  drain: 13 h\n  closed_weekdays: !!int x")
    problems = problems_of(write(tmp_path, text))
    paths = [problem.path for problem in problems]
    assert paths == ["calendar.start_date", "calendar.dayz", "calendar.drain", "calendar.closed_weekdays"], problems
    assert "not a real date" in problems[0].message and "did you mean 'days'" in problems[1].message
    assert "duplicate key" in problems[2].message and "cannot read 'x' as int" in problems[3].message
    assert [problem.line for problem in problems] == sorted(problem.line for problem in problems)


def test_a_read_problem_in_a_base_is_reported_beside_the_childs_problems(tmp_path):
    base = write(tmp_path, replaced("start_date: 2025-07-07", "start_date: 2025-02-30"), "base.yaml")
    child = write(tmp_path, "extends: base.yaml\nrun:\n  sead: 3\n", "child.yaml")
    problems = problems_of(child)
    assert [(Path(problem.file).name, problem.path) for problem in problems] == [
        ("base.yaml", "calendar.start_date"), ("child.yaml", "run.sead")], problems
    assert Path(problems[0].file) == base.resolve()


def test_validate_reports_every_file(tmp_path, capsys, small_yaml):
    bad = write(tmp_path, replaced("start_date: 2025-07-07", "start_date: 2025-02-30"))
    missing = tmp_path / "missing.yaml"
    status, out, err = validate_cli(capsys, small_yaml, bad, missing, small_yaml)
    assert status == 2
    assert out == [f"ok: {small_yaml} (small_yaml: Test crossing)"] * 2
    assert len(err) == 2
    assert err[0].startswith(f"error: {bad}:") and err[1] == f"error: {missing}: file not found"


def test_an_unexpected_failure_does_not_stop_the_other_files(tmp_path, capsys, small_yaml, monkeypatch):
    real = sim.cli.load_scenario
    poisoned = write(tmp_path, SMALL_YAML, "poisoned.yaml")

    def load(path, *args, **kwargs):
        if Path(path) == poisoned:
            raise RuntimeError("simulated bug")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(sim.cli, "load_scenario", load)
    status = main(["validate", str(poisoned), str(small_yaml)])
    captured = capsys.readouterr()
    assert status == 1                                   # a bug, not a user mistake
    assert f"error: {poisoned}: internal error" in captured.err and "simulated bug" in captured.err
    assert captured.out == f"ok: {small_yaml} (small_yaml: Test crossing)\n"


# --------------------------------------------------------------------------------------------
# 2. duplicate keys
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("old, new, path", [
    ("  days: 2", "  days: 2\n  days: 5", "calendar.days"),
    ("name: small_yaml", "name: small_yaml\nname: other", "name"),
    ("      pedestrian: {dist: exponential, mean: 1 min}",
     "      pedestrian: {dist: exponential, mean: 1 min, mean: 2 min}", "stages.passport.service_time.pedestrian.mean"),
])
def test_a_duplicate_key_names_both_lines(tmp_path, old, new, path):
    text = replaced(old, new)
    problem = only(problems_of(write(tmp_path, text)))
    first = line_of(SMALL_YAML, old)
    second = first + (1 if "\n" in new else 0)
    assert problem.path == path and problem.line == second
    assert f"first at line {first}, again at line {second}" in problem.message and "duplicate key" in problem.message


def test_keys_that_read_as_the_same_value_are_duplicates(tmp_path):
    problems = problems_of(write(tmp_path, "1: a\n0x1: b\n"))      # beside the fields the file lacks
    duplicates = [problem for problem in problems if "duplicate key" in problem.message]
    assert len(duplicates) == 1 and "duplicate key '0x1'" in duplicates[0].message and duplicates[0].line == 2


# --------------------------------------------------------------------------------------------
# 3. aliases and nesting
# --------------------------------------------------------------------------------------------
def billion_laughs(levels: int = 9) -> str:
    names = "abcdefghijklmnop"[:levels]
    text = f'{names[0]}: &{names[0]} ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for parent, name in zip(names, names[1:]):
        text += f"{name}: &{name} [{', '.join(['*' + parent] * 9)}]\n"
    return text


def test_an_alias_bomb_is_refused_quickly(tmp_path, capsys):
    path = write(tmp_path, billion_laughs())
    start = time.perf_counter()
    problem = only(problems_of(path))
    assert time.perf_counter() - start < 2
    assert "counting what each alias repeats" in problem.message and problem.line is not None
    assert not problem.message.startswith("malformed YAML")
    status, _, err = validate_cli(capsys, path)
    assert status == 2 and len(err) == 1


def test_a_recursive_alias_is_refused(tmp_path):
    problem = only(problems_of(write(tmp_path, "a: &x [*x]\n")))
    assert "recursive alias" in problem.message and problem.line == 1


@pytest.mark.parametrize("text", [
    "a: " + "[" * 50_000 + "]" * 50_000 + "\n",
    "a: " + "{b: " * 50_000 + "1" + "}" * 50_000 + "\n",
    "".join("  " * depth + f"k{depth}:\n" for depth in range(200)) + "  " * 200 + "v\n",
], ids=["lists", "mappings", "block"])
def test_deep_nesting_is_refused(tmp_path, text):
    problem = only(problems_of(write(tmp_path, text)))
    assert f"nested more than {loader.MAX_DEPTH} levels deep" in problem.message


def test_deep_nesting_in_a_dict_scenario_is_refused():
    data: dict = {}
    node = data
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]
    problem = only(problems_of(data))
    assert "nested more than" in problem.message


def test_aliases_under_the_limit_are_read_in_time_linear_in_the_text(tmp_path):
    path = write(tmp_path, SMALL_YAML + billion_laughs(5))
    start = time.perf_counter()
    problems = problems_of(path)                          # 66,000 values through aliases: unknown fields
    assert time.perf_counter() - start < 1.5
    assert all("unknown field" in p.message for p in problems)


def test_ordinary_anchors_and_aliases_still_work(tmp_path):
    text = replaced("      pedestrian: {dist: exponential, mean: 1 min}",
                    "      pedestrian: &quick {dist: exponential, mean: 1 min}")
    text = text.replace("      car: {dist: exponential, mean: 2 min}", "      car: *quick")
    scenario = sim.load_scenario(write(tmp_path, text))
    assert scenario.stages["passport"].service_time["car"].mean == 1.0


# --------------------------------------------------------------------------------------------
# 4. what `extends` may point at
# --------------------------------------------------------------------------------------------
def _child(tmp_path: Path, target: str) -> Path:
    return write(tmp_path, f"name: child\nextends: {yaml.safe_dump(target).splitlines()[0]}\n", "child.yaml")


def _assert_extends_problem(tmp_path, target: str, message: str):
    child = _child(tmp_path, target)
    problem = only(problems_of(child))
    assert (problem.file, problem.path, problem.line) == (str(child), "extends", 2), problem
    assert message in problem.message, problem
    assert len(str(problem)) < 400


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_extends_a_device(tmp_path):
    _assert_extends_problem(tmp_path, "/dev/zero", "not a regular file")


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="needs /proc")
def test_extends_proc_self_mem(tmp_path):
    _assert_extends_problem(tmp_path, "/proc/self/mem", "cannot read the file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_extends_a_fifo_does_not_block(tmp_path):
    os.mkfifo(tmp_path / "pipe.yaml")
    _assert_extends_problem(tmp_path, "pipe.yaml", "not a regular file")


def test_extends_a_symlink_loop(tmp_path):
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    _assert_extends_problem(tmp_path, "a.yaml", "cannot read the file")


def test_extends_a_folder(tmp_path):
    (tmp_path / "base").mkdir()
    _assert_extends_problem(tmp_path, "base", "is a folder")


def test_extends_a_very_long_name(tmp_path):
    _assert_extends_problem(tmp_path, "a" * 250_000, "cannot read the file")


def test_extends_a_name_with_a_nul_byte(tmp_path):
    _assert_extends_problem(tmp_path, "base\0.yaml", "NUL byte")


def test_extends_a_file_too_large(tmp_path):
    write(tmp_path, "# " + "x" * loader.MAX_FILE_BYTES + "\n", "big.yaml")
    _assert_extends_problem(tmp_path, "big.yaml", "limit for a scenario file")


def test_extends_a_file_that_is_not_utf8(tmp_path):
    (tmp_path / "latin.yaml").write_bytes(b"name: caf\xe9\n")
    _assert_extends_problem(tmp_path, "latin.yaml", "not UTF-8")


def test_extends_a_base_that_fails_to_parse_points_into_the_base(tmp_path):
    base = write(tmp_path, "name: [\n", "base.yaml")
    problem = only(problems_of(_child(tmp_path, "base.yaml")))
    assert Path(problem.file) == base.resolve() and problem.message.startswith("malformed YAML")


@pytest.mark.parametrize("target", [5, "", None, ["a.yaml"]])
def test_extends_not_a_file_name(tmp_path, target):
    child = write(tmp_path, f"name: child\nextends: {yaml.safe_dump(target, default_flow_style=True).splitlines()[0]}\n")
    problem = only(problems_of(child))
    assert problem.path == "extends" and problem.line == 2


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_the_scenario_file_itself_may_be_a_fifo_or_device(tmp_path, capsys):
    os.mkfifo(tmp_path / "pipe.yaml")
    status, _, err = validate_cli(capsys, tmp_path / "pipe.yaml", tmp_path)
    assert status == 2
    assert "not a regular file" in err[0] and "is a folder" in err[1]


# --------------------------------------------------------------------------------------------
# 5. text that cannot be written as UTF-8
# --------------------------------------------------------------------------------------------
def test_a_lone_surrogate_in_a_name_is_a_problem(tmp_path, capsys):
    text = replaced("name: small_yaml", 'name: "\\ud800"')
    path = write(tmp_path, text)
    problem = only(problems_of(path))
    assert (problem.path, problem.line) == ("name", 1) and "UTF-8" in problem.message
    status, _, err = validate_cli(capsys, path)
    assert status == 2 and len(err) == 1


def test_a_lone_surrogate_anywhere_in_a_dict_or_a_key(small_yaml):
    data = yaml.safe_load(small_yaml.read_text())
    data["crossing"]["notes"] = "bad \udc80 text"
    data["classes"]["car\ud800"] = data["classes"].pop("car")
    problems = problems_of(data)
    assert sorted(p.path for p in problems) == ["classes.car\\ud800", "crossing.notes"]
    for problem in problems:
        str(problem).encode("utf-8")                     # printable


def test_a_problem_is_always_printable():
    problem = Problem("file\udcff.yaml", "a.\ud800", "got '\udc80'", 3)
    assert str(problem).encode("utf-8") == b"file\\udcff.yaml:3: a.\\ud800: got '\\udc80'"


# --------------------------------------------------------------------------------------------
# 6. huge files and long lines
# --------------------------------------------------------------------------------------------
def test_a_huge_comment_line_is_refused_at_once(tmp_path, capsys):
    path = write(tmp_path, "# " + "x" * 5_000_000 + "\n" + SMALL_YAML)
    start = time.perf_counter()
    problem = only(problems_of(path))
    assert time.perf_counter() - start < 1
    assert problem.file == str(path) and f"{loader.MAX_FILE_BYTES:,}" in problem.message


def test_a_long_comment_line_under_the_limit_is_read_in_linear_time(tmp_path):
    short = write(tmp_path, "# " + "x" * 100_000 + "\n" + SMALL_YAML, "short.yaml")
    long = write(tmp_path, "# " + "x" * 1_000_000 + "\n" + SMALL_YAML, "long.yaml")
    timings = []
    for path in (short, long):
        start = time.perf_counter()
        sim.load_scenario(path)
        timings.append(time.perf_counter() - start)
    assert timings[1] < 20 * timings[0] + 1.0            # 10x the text: about 10x the time


def test_a_file_read_once(tmp_path, monkeypatch):
    """The YAML is parsed once (it used to be parsed twice: safe_load, then compose)."""
    calls = []
    real = loader._BoundedLoader.get_single_node
    monkeypatch.setattr(loader._BoundedLoader, "get_single_node",
                        lambda self: calls.append(1) or real(self))
    sim.load_scenario(write(tmp_path, SMALL_YAML))
    assert calls == [1]


# --------------------------------------------------------------------------------------------
# 7. upper bounds on every count and size (docs/scenario.md, "Limits")
# --------------------------------------------------------------------------------------------
CARS = "      cars:\n        serves: [car]\n        booths: 1"
HUGE = [
    ("daily-volume", "daily_volume: 200", "daily_volume: 1.0e9", "demand.daily_volume", "at most 200,000"),
    ("group-size", "  car:\n    share: 0.3", "  car:\n    share: 0.3\n    group_size: 1000000000000",
     "classes.car.group_size", "at most 200"),
    ("group-size-400-digits", "  car:\n    share: 0.3", "  car:\n    share: 0.3\n    group_size: " + "9" * 400,
     "classes.car.group_size", "a number of 400 digits"),
    ("group-range", "  car:\n    share: 0.3", "  car:\n    share: 0.3\n    group_size: {min: 1, max: 100000}",
     "classes.car.group_size.max", "at most 200"),
    ("weekday-factor", "  hour_weights:", "  weekday_factors: [1, 1, 1, 1, 1, 1, 1.0e308]\n  hour_weights:",
     "demand.weekday_factors.6", "at most 100"),
    ("seasonal-factor", "  hour_weights:", "  seasonal_factors: [{months: [7], factor: 1000}]\n  hour_weights:",
     "demand.seasonal_factors.0.factor", "at most 100"),
    ("hour-weight", "  hour_weights: [1, 1,", "  hour_weights: [1.0e308, 1.0e308,", "demand.hour_weights.0", "at most"),
    ("booths", CARS, CARS.replace("booths: 1", "booths: 10000000000000000000000000"),
     "stages.passport.pools.cars.booths", "at most 500"),
    ("booth-rule", CARS, CARS.replace("booths: 1", "booths: {default: 1, rules: [{hours: [7, 9], booths: 501}]}"),
     "stages.passport.pools.cars.booths.rules.0.booths", "at most 500"),
    ("days", "  days: 2", "  days: 1000000000", "calendar.days", "expected a number <= 426, got 1000000000"),
    ("measured-days", "  days: 2", "  days: 400", "calendar.days", "at most 366 days after the warm-up"),
    ("warmup", "  warmup_days: 1", "  warmup_days: 100", "calendar.warmup_days", "expected a number <= 60, got 100"),
    ("drain", "  drain: 12 h", "  drain: 40 d", "calendar.drain", "at most"),
    ("duration", "mean: 2 min}", "mean: 400 d}", "stages.passport.service_time.car.mean", "at most 366 d"),
    ("seed", "  seed: 11", "  seed: 100000000000000000000000000", "run.seed", "expected a number <= "),
    ("cv", "{dist: exponential, mean: 1 min}", "{dist: lognormal, mean: 1 min, cv: 1.0e6}",
     "stages.passport.service_time.pedestrian.cv", "at most 20"),
    ("start-date", "start_date: 2025-07-07", "start_date: 9999-12-30", "calendar.start_date", "2999-12-31"),
    ("arrivals", "daily_volume: 200", "daily_volume: 200000\n  weekday_factors: [20, 20, 20, 20, 20, 20, 20]",
     "demand.daily_volume", "at most 3,000,000 arrivals per replication"),
    ("persons", "  car:\n    share: 0.3",
     "  car:\n    share: 0.3\n    group_size: 200", "classes", "at most 10,000,000 people"),
]


@pytest.mark.parametrize("case", HUGE, ids=[case[0] for case in HUGE])
def test_huge_values_are_refused_with_their_limit(tmp_path, case):
    _, old, new, path, message = case
    text = replaced(old, new)
    if case[0] == "persons":
        text = text.replace("daily_volume: 200", "daily_volume: 100000").replace("  days: 2", "  days: 2")
    problems = problems_of(write(tmp_path, text))
    assert any(p.path == path and message in p.message for p in problems), problems


def test_the_limits_allow_a_year_of_a_busy_crossing(tmp_path):
    text = replaced("daily_volume: 200", "daily_volume: 7000").replace("  days: 2", "  days: 426")
    text = text.replace("  warmup_days: 1", "  warmup_days: 60")
    assert sim.load_scenario(write(tmp_path, text)).calendar.days == 426


def test_no_demand_at_all_is_a_valid_scenario(tmp_path, capsys):
    """A closed season: nobody arrives (the runner reports that nobody crossed)."""
    path = write(tmp_path, replaced("daily_volume: 200", "daily_volume: 0"))
    assert sim.load_scenario(path).demand.daily_volume == 0
    status, out, _ = validate_cli(capsys, path)
    assert status == 0 and out[0].startswith("ok:")


# --------------------------------------------------------------------------------------------
# 8. non-finite numbers
# --------------------------------------------------------------------------------------------
NON_FINITE = [
    ("cv-nan", "{dist: exponential, mean: 1 min}", "{dist: lognormal, mean: 1 min, cv: .nan}",
     "stages.passport.service_time.pedestrian.cv"),
    ("cv-inf", "{dist: exponential, mean: 1 min}", "{dist: gamma, mean: 1 min, cv: .inf}",
     "stages.passport.service_time.pedestrian.cv"),
    ("cv-1e999", "{dist: exponential, mean: 1 min}", "{dist: gamma, mean: 1 min, cv: 1e999}",
     "stages.passport.service_time.pedestrian.cv"),
    ("duration-1e999", "mean: 2 min}", "mean: 1e999 s}", "stages.passport.service_time.car.mean"),
    ("drain-inf", "  drain: 12 h", "  drain: 1.0e999 min", "calendar.drain"),
    ("latitude-nan", "  latitude: 44.0", "  latitude: .nan", "crossing.latitude"),
    ("volume-inf", "daily_volume: 200", "daily_volume: .inf", "demand.daily_volume"),
    ("share-nan", "    share: 0.3", "    share: .NaN", "classes.car.share"),
    ("hour-weight-nan", "  hour_weights: [1, 1,", "  hour_weights: [.nan, 1,", "demand.hour_weights.0"),
    ("rule-hours-inf", CARS, CARS.replace("booths: 1", "booths: {default: 1, rules: [{hours: [7, .inf], booths: 2}]}"),
     "stages.passport.pools.cars.booths.rules.0.hours.1"),
    ("days-nan", "  days: 2", "  days: .nan", "calendar.days"),
]


@pytest.mark.parametrize("case", NON_FINITE, ids=[case[0] for case in NON_FINITE])
def test_non_finite_numbers_are_refused(tmp_path, case):
    _, old, new, path = case
    text = replaced(old, new)
    problems = problems_of(write(tmp_path, text))
    assert any(p.path == path and re.search("finite", p.message) for p in problems), problems
    assert all(p.line is not None for p in problems)


def test_non_finite_numbers_in_a_dict_or_an_override(small_yaml):
    data = yaml.safe_load(small_yaml.read_text())
    data["stages"]["passport"]["service_time"]["car"] = {"dist": "lognormal", "mean": "2 min", "cv": math.nan}
    assert only(problems_of(data)).path == "stages.passport.service_time.car.cv"
    with pytest.raises(sim.ScenarioError) as raised:
        sim.load_scenario(small_yaml, {"demand.daily_volume": math.inf})
    assert [p.path for p in raised.value.problems] == ["demand.daily_volume"]


# --------------------------------------------------------------------------------------------
# 10. a class with demand needs a lane that opens at every stage it visits
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("booths", ["0", "{default: 0}", "{default: 0, rules: [{hours: [7, 9], booths: 0}]}"])
def test_a_class_whose_lanes_never_open_is_an_error(tmp_path, booths):
    text = replaced(CARS, CARS.replace("booths: 1", f"booths: {booths}"))
    problem = only(problems_of(write(tmp_path, text)))
    assert problem.path == "stages.passport.pools"
    assert "'car'" in problem.message and "'passport'" in problem.message and "never be served" in problem.message
    assert problem.line == line_of(text, "    pools:")


def test_a_closed_lane_is_fine_when_another_lane_opens_or_nobody_comes(tmp_path):
    text = replaced("        serves: [pedestrian]\n        booths: 1", "        serves: [pedestrian, car]\n        booths: 1")
    sim.load_scenario(write(tmp_path, text.replace(CARS, CARS.replace("booths: 1", "booths: 0")), "other.yaml"))
    text = replaced(CARS, CARS.replace("booths: 1", "booths: 0")).replace("    share: 0.3", "    share: 0.3\n"
                                                                         "    directions: {CN_to_KZ: 1}")
    with pytest.raises(sim.ScenarioError):                          # still visits passport on CN_to_KZ
        sim.load_scenario(write(tmp_path, text, "cn.yaml"))
    closed = replaced(CARS, CARS.replace("booths: 1", "booths: 0")).replace("daily_volume: 200", "daily_volume: 0")
    sim.load_scenario(write(tmp_path, closed, "closed.yaml"))
    rule = replaced(CARS, CARS.replace("booths: 1", "booths: {default: 0, rules: [{months: [1], booths: 2}]}"))
    sim.load_scenario(write(tmp_path, rule, "rule.yaml"))          # opens in January: not an error


def test_a_dedicated_green_lane_alone_is_enough_when_everyone_is_eligible(small_scenario_data):
    data = small_scenario_data
    data["classes"]["pedestrian"]["green_channel_share"] = 1.0
    data["stages"]["passport"]["pools"]["foot"]["serves"] = ["bus"]
    data["stages"]["passport"]["pools"]["green"]["serves"] = ["pedestrian"]
    data["stages"]["passport"]["pools"]["ped"] = {"serves": ["pedestrian"], "booths": 0}
    sim.load_scenario(data)
    data["stages"]["passport"]["pools"]["green"]["booths"] = 0
    problem = only(problems_of(data))
    assert "'pedestrian'" in problem.message and "green, ped" in problem.message


@pytest.fixture
def small_scenario_data() -> dict:
    from conftest import small_scenario
    return small_scenario()


def test_never_open_pools_lists_pools_the_calendar_keeps_shut(small_scenario_data):
    from sim.diagnostics import never_open_pools

    data = small_scenario_data                                       # July, 3 days + 1 day of drain
    pools = data["stages"]["passport"]["pools"]
    assert never_open_pools(sim.load_scenario(data)) == []
    pools["cars"]["booths"] = {"default": 0, "rules": [{"months": [1], "booths": 2}]}
    assert never_open_pools(sim.load_scenario(data)) == [("passport", "cars", ["car"])]
    pools["extra"] = {"serves": ["car"], "booths": 1}                 # another lane: cars are served
    assert never_open_pools(sim.load_scenario(data)) == [("passport", "cars", [])]
    pools["extra"]["booths"] = {"default": 2, "rules": [{"from": "2025-07-01", "to": "2025-07-31", "booths": 0}]}
    assert never_open_pools(sim.load_scenario(data)) == [("passport", "cars", ["car"]), ("passport", "extra", ["car"])]
    data["calendar"]["closed_dates"] = ["2025-07-07", "2025-07-08", "2025-07-09", "2025-07-10"]
    data["stages"]["passport"]["pools"].pop("extra")
    pools["cars"]["booths"] = 3                                       # shut by closures only
    found = never_open_pools(sim.load_scenario(data))
    assert ("passport", "cars", ["car"]) in found and ("customs", "all", ["pedestrian", "car", "bus"]) in found
    data["demand"]["daily_volume"] = 0                               # nobody comes: nothing to warn about
    assert never_open_pools(sim.load_scenario(data)) == []


def test_an_integer_too_long_to_read_is_a_short_problem(tmp_path):
    text = replaced("daily_volume: 200", "daily_volume: " + "9" * 5000)
    problem = only(problems_of(write(tmp_path, text)))
    assert problem.path == "demand.daily_volume" and "cannot read" in problem.message and len(problem.message) < 200
