"""Hostile or broken scenario files: every user mistake is a ``ScenarioError`` of ``Problem`` s
naming the file, the line and the field, never a traceback, a hang or a memory blow-up.

Each test breaks the small valid scenario (``SMALL_YAML``) in one way found by mutating the
shipped scenarios. Tests that could hang on a regression run under :func:`deadline`.
"""
from __future__ import annotations

import contextlib
import os
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
    problem = only(problems_of(write(tmp_path, "1: a\n0x1: b\n")))
    assert "duplicate key '0x1'" in problem.message


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
    assert "aliases are expanded" in problem.message and problem.line is not None
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
