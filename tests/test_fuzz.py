"""Property tests: mutated shipped scenarios never crash the command line.

Each example takes a shipped scenario file and mutates it, either as text (delete, duplicate or
swap lines, change a number to 0, -1, 1e308, nan, a huge int or a string, inject anchors and
aliases, deep nesting, truncate) or as data (set a field anywhere to another type or an extreme
value, delete it). Then:

* ``checkpoint-sim validate FILE`` returns 0 or 2, in bounded time, never raises, never prints a
  traceback;
* for a mutant that validates, ``checkpoint-sim run FILE --days 2 --replications 1`` returns 0
  or 2, never raises, and leaves no partial results folder (and no folder at all on exit 2).

The default suite runs a few dozen examples (well under 30 s); ``-m slow`` runs many more. Both are
derandomized (the same examples every run) and keep no example database.
"""
from __future__ import annotations

import copy
import datetime as dt
import math
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, note, settings, strategies as st  # noqa: E402

import sim  # noqa: E402
from sim.cli import main  # noqa: E402
from conftest import SCENARIOS  # noqa: E402

SHIPPED = sorted(p.name for p in SCENARIOS.glob("*.yaml"))
TEXTS = {name: (SCENARIOS / name).read_text(encoding="utf-8") for name in SHIPPED}
NUMBER = re.compile(r"(?<![\w.:-])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.:-])")

# Runner crashes outside the scenario loader, owned and being fixed elsewhere (see the report of
# the `loader` branch): a run in which a stage has no token served (no arrivals at all, or every
# pool of a stage closed) fails in sim/metrics.py entity_view. Matched by exception and message.
EXTREME_TEXT = ["0", "-1", "1e308", "1.0e308", "1e999", ".nan", ".inf", "-.inf", "99999999999999999999999999", "9" * 400,
                "abc", "''", "2025-02-30", "null", "[]", "{}", "true", '"\\ud800"', "0x7fffffffffffffff", "1_000"]
EXTREME_DATA = [0, -1, 1, 1e308, -1e308, math.nan, math.inf, -math.inf, 10**30, 2**63, 10**400, "abc", "", "1e999 s",
                "0 s", "24:00", "\ud800", None, True, [], {}, [1, 2], {"a": 1}, dt.date(2025, 2, 28), 0.5, "3 min"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A copy of scenarios/ (so that `extends` of a mutant resolves), where mutants are written."""
    target = tmp_path_factory.mktemp("fuzz") / "scenarios"
    shutil.copytree(SCENARIOS, target)
    return target


# --------------------------------------------------------------------------------------------
# mutations
# --------------------------------------------------------------------------------------------
@st.composite
def text_mutant(draw) -> str:
    """A shipped scenario with one or two text-level mutations."""
    text = TEXTS[draw(st.sampled_from(SHIPPED))]
    for _ in range(draw(st.integers(1, 2))):
        text = draw(st.sampled_from([_line_edit, _number_edit, _value_edit, _alias_edit, _nesting_edit,
                                     _truncate]))(draw, text)
    return text


def _pick_index(draw, items: list) -> int | None:
    return draw(st.integers(0, len(items) - 1)) if items else None


def _line_edit(draw, text: str) -> str:
    lines = text.splitlines(keepends=True)
    if not lines:
        return text
    i = draw(st.integers(0, len(lines) - 1))
    j = draw(st.integers(0, len(lines) - 1))
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "move"]))
    if kind == "delete":
        del lines[i]
    elif kind == "duplicate":
        lines.insert(i, lines[i])
    elif kind == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    else:
        lines.insert(j, lines.pop(i))
    return "".join(lines)


def _number_edit(draw, text: str) -> str:
    matches = list(NUMBER.finditer(text))
    if not matches:
        return text
    match = matches[_pick_index(draw, matches)]
    new = draw(st.sampled_from(EXTREME_TEXT))
    return text[:match.start()] + new + text[match.end():]


def _value_edit(draw, text: str) -> str:
    """Replace the value of a `key: value` line by another type."""
    lines = text.splitlines(keepends=True)
    candidates = [i for i, line in enumerate(lines) if re.match(r"^\s*[\w-]+:\s+\S", line)]
    if not candidates:
        return text
    i = candidates[_pick_index(draw, candidates)]
    key = lines[i].split(":", 1)[0]
    lines[i] = f"{key}: {draw(st.sampled_from(EXTREME_TEXT))}\n"
    return "".join(lines)


def _alias_edit(draw, text: str) -> str:
    kind = draw(st.sampled_from(["bomb", "recursive", "anchor-and-alias", "undefined", "merge"]))
    if kind == "bomb":
        levels = draw(st.integers(2, 9))
        names = "abcdefghij"[:levels]
        bomb = f"x_{names[0]}: &{names[0]} [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        bomb += "".join(f"x_{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip(names, names[1:]))
        return text + bomb
    if kind == "recursive":
        return text + "x_loop: &loop [*loop]\n"
    if kind == "undefined":
        return text.replace("name:", "name: *nowhere #", 1)
    lines = text.splitlines(keepends=True)
    values = [i for i, line in enumerate(lines) if re.match(r"^\s*[\w-]+:\s+[^\s#&*]", line)]
    if not values:
        return text
    i, j = (values[_pick_index(draw, values)] for _ in range(2))
    key_i, value_i = lines[i].split(":", 1)
    lines[i] = f"{key_i}: &anchor {value_i.strip()}\n"
    key_j = lines[j].split(":", 1)[0]
    lines[j] = f"{key_j}: {'*anchor' if kind == 'anchor-and-alias' else '{<<: *anchor}'}\n"
    return "".join(lines)


def _nesting_edit(draw, text: str) -> str:
    depth = draw(st.sampled_from([5, 39, 41, 100, 50_000]))
    opening, closing = draw(st.sampled_from([("[", "]"), ("{a: ", "}")]))
    nested = opening * depth + "1" * (opening == "{a: ") + closing * depth
    lines = text.splitlines(keepends=True)
    candidates = [i for i, line in enumerate(lines) if re.match(r"^\s*[\w-]+:\s+\S", line)]
    if not candidates:
        return text
    i = candidates[_pick_index(draw, candidates)]
    lines[i] = f"{lines[i].split(':', 1)[0]}: {nested}\n"
    return "".join(lines)


def _truncate(draw, text: str) -> str:
    return text[:draw(st.integers(0, len(text)))]


@st.composite
def data_mutant(draw) -> str:
    """A shipped scenario parsed, with a field anywhere set to an extreme value or deleted."""
    data = yaml.safe_load(TEXTS[draw(st.sampled_from(SHIPPED))])
    for _ in range(draw(st.integers(1, 3))):
        parent, key = _pick(draw, data)
        if parent is None:
            continue
        if draw(st.booleans()) and isinstance(parent, dict):
            parent.pop(key)
        else:
            # a copy: a later mutation may walk into a drawn list or dict, which must not change
            # EXTREME_DATA itself (hypothesis replays draws and requires the same data)
            parent[key] = copy.deepcopy(draw(st.sampled_from(EXTREME_DATA)))
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=False)


def _pick(draw, data, to_a_leaf: bool = False):
    """A (container, key) somewhere in ``data`` (``to_a_leaf``: of a leaf value), by a random walk
    from the top."""
    parent, key, node = None, None, data
    while isinstance(node, (dict, list)) and node:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        parent, key = node, keys[draw(st.integers(0, len(keys) - 1))]
        node = node[key]
        if not to_a_leaf and draw(st.integers(0, 3)) == 0:
            break
    return parent, key


@st.composite
def runnable_mutant(draw) -> str:
    """A shipped scenario with a warm-up short enough for ``--days 2`` and one to three leaf
    values changed to plausible ones (0, 1, -1, halved, doubled, x10, x1000, another list item
    removed), so that many mutants validate and are run."""
    data = yaml.safe_load(TEXTS[draw(st.sampled_from(SHIPPED))])
    if isinstance(data.get("calendar"), dict):
        data["calendar"]["warmup_days"] = draw(st.sampled_from([0, 1]))
    else:                                      # a variant: restate the warm-up over its base
        data["calendar"] = {"warmup_days": draw(st.sampled_from([0, 1]))}
    for _ in range(draw(st.integers(1, 3))):
        parent, key = _pick(draw, data, to_a_leaf=True)
        if parent is None:
            continue
        value = parent[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if isinstance(parent, list) and len(parent) > 1 and draw(st.booleans()):
                parent.pop(key)
            continue
        factor = draw(st.sampled_from([0, 0.5, 2, 10, 1000, None, -1]))
        new = 1 if factor is None else value * factor
        parent[key] = int(new) if isinstance(value, int) else float(new)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=False)


mutants = st.one_of(text_mutant(), data_mutant())


# --------------------------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------------------------
def check_validate(folder: Path, text: str, capsys) -> int:
    path = folder / "mutant.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    status = main(["validate", str(path)])
    captured = capsys.readouterr()
    note(captured.err[-2000:])
    assert status in (0, 2), captured.err
    assert "Traceback" not in captured.err and "internal error" not in captured.err
    if status == 2:
        assert captured.err and all(line.startswith("error: ") for line in captured.err.splitlines())
    return status


FAST = settings(max_examples=40, deadline=dt.timedelta(seconds=30), derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.large_base_example, HealthCheck.data_too_large])
THOROUGH = settings(FAST, max_examples=1500)      # derandomized too: the same 1,500 cases every run


@FAST
@given(text=mutants)
def test_validate_a_mutant_exits_0_or_2(folder, capsys, text):
    check_validate(folder, text, capsys)


@pytest.mark.slow
@THOROUGH
@given(text=mutants)
def test_validate_many_mutants_exit_0_or_2(folder, capsys, text):
    check_validate(folder, text, capsys)


def check_run(folder: Path, text: str, capsys) -> None:
    if check_validate(folder, text, capsys) != 0:
        return
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "out"
        status = main(["run", str(folder / "mutant.yaml"), "--days", "2", "--replications", "1", "--workers", "1",
                       "--no-plots", "--no-entities", "--out", str(out)])
        captured = capsys.readouterr()
        assert status in (0, 2), captured.err
        assert "Traceback" not in captured.err
        partial = [p.name for p in Path(scratch).iterdir() if ".partial-" in p.name]
        assert partial == [], partial
        if status != 0:
            assert not out.exists()


RUN_FAST = settings(FAST, max_examples=8, deadline=dt.timedelta(seconds=120))
RUN_THOROUGH = settings(RUN_FAST, max_examples=150)


@RUN_FAST
@given(text=runnable_mutant())
def test_run_a_valid_mutant_exits_0_or_2(folder, capsys, text):
    check_run(folder, text, capsys)


@pytest.mark.slow
@RUN_THOROUGH
@given(text=st.one_of(runnable_mutant(), mutants))
def test_run_many_valid_mutants_exit_0_or_2(folder, capsys, text):
    check_run(folder, text, capsys)


def test_the_mutations_reach_every_shipped_file():
    assert len(SHIPPED) >= 10 and all(NUMBER.search(text) for text in TEXTS.values())
    assert sim.load_scenario(SCENARIOS / "khorgos.yaml").name == "khorgos"
