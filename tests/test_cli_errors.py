"""User errors of the command line: one line per problem on stderr, exit status 2, no traceback,
and nothing written; checks happen before anything is simulated."""
from __future__ import annotations

import errno
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

import sim
import sim.fitting
import sim.comparison
import sim.executors
import sim.experiment
import sim.publish
import sim.replication
import sim.runner
import sim.sweeps
import sim.validation
from sim.cli import main
from sim.storage import remove_stale_partials
from sim.validation import markdown_report, page_suite

from conftest import SCENARIOS, mmc_scenario


def _one_error_line(capsys, *needles: str) -> str:
    """The single ``error:`` line on stderr (no traceback), which contains every needle."""
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _entries(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


@pytest.fixture()
def no_simulation(monkeypatch):
    """Fail the test if any replication is simulated (the check must come first)."""
    def refuse(*args, **kwargs):
        raise AssertionError("a replication was simulated before the destination was checked")
    monkeypatch.setattr(sim.replication, "run_replication", refuse)    # the task of every experiment
    monkeypatch.setattr(sim.fitting, "calibrate", refuse)


@pytest.fixture()
def tiny_sweep(tmp_path: Path) -> Path:
    """Two points of a cheap M/M/3 queue (one replication of two days, one of them warm-up)."""
    base = mmc_scenario(arrival_rate_per_min=2.4, service_mean_min=1.0, servers=3, days=2, warmup_days=1)
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base), encoding="utf-8")
    spec = {"base": "base.yaml", "replications": 1, "seed": 3, "grid": {"demand.daily_volume": [3000, 3400]}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def _sweep(sweep_file: Path, out: Path, *extra: str) -> int:
    return main(["sweep", str(sweep_file), "--out", str(out), "--workers", "1", *extra])


# --------------------------------------------------------------------------------------------
# 1. plot --metric
# --------------------------------------------------------------------------------------------
def test_plot_unknown_metric_says_did_you_mean(tiny_sweep: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "sweep"
    assert _sweep(tiny_sweep, out) == 0
    capsys.readouterr()
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert main(["plot", str(out), "--metric", "wait_avg"]) == 2
    _one_error_line(capsys, "--metric", "unknown metric 'wait_avg'", "did you mean")
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before      # nothing redrawn
    # in the catalogue but not in a sweep table (hourly-only metric)
    assert main(["plot", str(out), "--metric", "staffed_booths"]) == 2
    _one_error_line(capsys, "--metric", "no 'staffed_booths'", "wait_p90")


# --------------------------------------------------------------------------------------------
# 2. an unreachable Dask scheduler
# --------------------------------------------------------------------------------------------
def test_unreachable_dask_scheduler_fails_fast_and_writes_nothing(tiny_sweep: Path, tmp_path: Path, capsys,
                                                                 monkeypatch) -> None:
    pytest.importorskip("dask.distributed")
    monkeypatch.setattr(sim.executors, "DASK_CONNECT_TIMEOUT", 1.0, raising=False)
    out = tmp_path / "dask-sweep"
    started = time.monotonic()
    assert _sweep(tiny_sweep, out, "--executor", "dask", "--scheduler", "tcp://127.0.0.1:1") == 2
    assert time.monotonic() - started < 20
    _one_error_line(capsys, "--scheduler", "tcp://127.0.0.1:1", "cannot connect")
    assert not out.exists()
    assert not any(p.name.startswith(".dask-sweep") for p in tmp_path.iterdir())
    # the library's run says the same (the CLI's run has no --executor)
    with pytest.raises(sim.ScenarioError, match="cannot connect"):
        sim.run(mmc_scenario(1.0, 1.0, 2, 2, 1), replications=1, executor="dask", scheduler="tcp://127.0.0.1:1")


# --------------------------------------------------------------------------------------------
# 3. validate-model and its Markdown page
# --------------------------------------------------------------------------------------------
def _fake_table(checks: int) -> pd.DataFrame:
    return pd.DataFrame([{"case": f"case {i}", "quantity": "mean wait (min)", "reference": 1.0,
                          "reference_kind": "exact", "sim_mean": 1.0, "ci_low": 0.9, "ci_high": 1.1,
                          "replications": 2, "passed": True} for i in range(checks)])


@pytest.fixture()
def fake_suite(monkeypatch) -> list[bool]:
    """``run_suite`` replaced by a fixed table (30 checks reduced, 49 full); records its calls."""
    calls: list[bool] = []

    def run_suite(reduced: bool = False, workers: int = 1, **kwargs) -> pd.DataFrame:
        calls.append(reduced)
        return _fake_table(30 if reduced else 49)
    monkeypatch.setattr(sim.validation, "run_suite", run_suite)
    return calls


def test_validate_model_writes_no_page_unless_asked(tmp_path: Path, monkeypatch, fake_suite, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    assert main(["validate-model", "--reduced", "--out", "out", "--workers", "1"]) == 0
    assert _entries(tmp_path / "docs") == []
    assert _entries(tmp_path / "out") == ["report.html", "validation.csv"]
    assert "docs" not in capsys.readouterr().out


def test_reduced_page_never_replaces_the_full_one(tmp_path: Path, fake_suite, capsys) -> None:
    page = tmp_path / "validation.md"
    assert main(["validate-model", "--out", str(tmp_path / "full"), "--docs", str(page)]) == 0
    full = page.read_text(encoding="utf-8")
    assert page_suite(full) == "full" and "49 of 49" in full
    capsys.readouterr()
    assert main(["validate-model", "--reduced", "--out", str(tmp_path / "reduced"), "--docs", str(page)]) == 2
    _one_error_line(capsys, "--docs", str(page), "full suite")
    assert page.read_text(encoding="utf-8") == full
    assert fake_suite == [False]                                   # refused before simulating
    assert not (tmp_path / "reduced").exists()
    # a reduced page may be replaced by either suite
    other = tmp_path / "reduced.md"
    for reduced in (True, True, False):
        assert main(["validate-model", *(["--reduced"] if reduced else []),
                     "--out", str(tmp_path / f"run{len(fake_suite)}"), "--docs", str(other)]) == 0
    assert page_suite(other.read_text(encoding="utf-8")) == "full"


def test_validate_model_refuses_to_overwrite_a_file_that_is_not_a_validation_page(tmp_path: Path, fake_suite,
                                                                                  capsys) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# My notes\n", encoding="utf-8")
    assert main(["validate-model", "--out", str(tmp_path / "out"), "--docs", str(notes)]) == 2
    _one_error_line(capsys, "not a validation page")
    assert notes.read_text(encoding="utf-8") == "# My notes\n" and fake_suite == []


def test_the_shipped_page_is_recognised_as_the_full_suite() -> None:
    shipped = (SCENARIOS.parent / "docs" / "validation.md").read_text(encoding="utf-8")
    assert page_suite(shipped) == "full"
    assert page_suite(markdown_report(_fake_table(3), "checkpoint-sim validate-model --reduced", True)) == "reduced"


# --------------------------------------------------------------------------------------------
# 4. --days
# --------------------------------------------------------------------------------------------
def test_days_within_the_warm_up_blames_the_flag(tmp_path: Path, small_yaml: Path, capsys, no_simulation) -> None:
    out = tmp_path / "out"
    assert main(["run", str(small_yaml), "--out", str(out), "--days", "1"]) == 2     # 1 warm-up day
    line = _one_error_line(capsys, "--days", "at least 2", "warm-up")
    assert f"{small_yaml}:" not in line                  # not blamed on a line of the file
    assert not out.exists()


def test_days_help_says_it_counts_the_warm_up(capsys) -> None:
    for command in ("run", "sweep", "compare"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--days" in text and "warm-up days included" in text, command


def test_sweep_days_sets_every_point(tiny_sweep: Path, tmp_path: Path, capsys) -> None:
    sweep = sim.sweeps.load_sweep(tiny_sweep, point_overrides={"calendar.days": 3})
    assert {s.calendar.days for s in sweep.scenarios.values()} == {3}
    assert sweep.digest != sim.sweeps.load_sweep(tiny_sweep).digest          # a resume must say --days too
    out = tmp_path / "out"
    assert _sweep(tiny_sweep, out, "--days", "3") == 0
    assert yaml.safe_load((out / "scenario.resolved.yaml").read_text())["calendar"]["days"] == 3
    capsys.readouterr()
    assert _sweep(tiny_sweep, tmp_path / "short", "--days", "1") == 2
    _one_error_line(capsys, "--days", "at least 2")
    assert not (tmp_path / "short").exists()


def test_sweep_days_conflicts_with_a_grid_over_the_calendar(tiny_sweep: Path, tmp_path: Path, capsys) -> None:
    spec = yaml.safe_load(tiny_sweep.read_text())
    spec["grid"] = {"calendar.days": [2, 3]}
    tiny_sweep.write_text(yaml.safe_dump(spec))
    assert _sweep(tiny_sweep, tmp_path / "out", "--days", "4") == 2
    _one_error_line(capsys, "grid.calendar.days", "command line")


# --------------------------------------------------------------------------------------------
# 5. Ctrl-C
# --------------------------------------------------------------------------------------------
def test_ctrl_c_during_run_says_what_run_left(tmp_path: Path, small_yaml: Path, capsys, monkeypatch) -> None:
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(sim.replication, "run_replication", interrupt)
    assert main(["run", str(small_yaml), "--out", str(tmp_path / "out"), "--workers", "1"]) == 130
    err = capsys.readouterr().err
    assert err == "interrupted: no results folder was written\n"
    assert not (tmp_path / "out").exists()


def test_ctrl_c_during_a_sweep_gives_the_resume_command(tiny_sweep: Path, tmp_path: Path, capsys,
                                                        monkeypatch) -> None:
    real = sim.replication.run_replication
    calls: list[int] = []

    def interrupt_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(sim.replication, "run_replication", interrupt_second)
    out = tmp_path / "my sweep"
    assert _sweep(tiny_sweep, out, "--days", "2") == 130
    err = capsys.readouterr().err.strip()
    command = f"checkpoint-sim sweep {shlex.quote(str(tiny_sweep))} --resume --out {shlex.quote(str(out))} --days 2"
    assert err.startswith("interrupted: the finished points are kept in") and err.endswith(command), err
    assert _entries(out / "points") == ["p0000"]
    monkeypatch.setattr(sim.replication, "run_replication", real)
    assert main(shlex.split(command)[1:]) == 0                       # the command it gives works
    assert _entries(out / "points") == ["p0000", "p0001"]


def test_ctrl_c_before_the_sweep_folder_exists(tiny_sweep: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(sim.experiment, "make_executor", interrupt)
    assert _sweep(tiny_sweep, tmp_path / "out") == 130
    assert capsys.readouterr().err == "interrupted: no sweep folder was written\n"


# --------------------------------------------------------------------------------------------
# 6. the destination, checked before simulating; failures while writing
# --------------------------------------------------------------------------------------------
def _command(name: str, tmp_path: Path, out: Path, small_yaml: Path, sweep_file: Path) -> list[str]:
    return {"run": ["run", str(small_yaml), "--out", str(out)],
            "compare": ["compare", str(small_yaml), str(small_yaml.with_name("variant.yaml")), "--out", str(out)],
            "sweep": ["sweep", str(sweep_file), "--out", str(out)],
            "calibrate": ["calibrate", str(SCENARIOS / "khorgos.yaml"), "--out", str(out),
                          "--scenario-out", str(tmp_path / "calibrated.yaml")],
            "validate-model": ["validate-model", "--out", str(out)]}[name]


COMMANDS = ["run", "compare", "sweep", "calibrate", "validate-model"]


@pytest.fixture()
def variant_yaml(small_yaml: Path) -> Path:
    variant = small_yaml.with_name("variant.yaml")
    variant.write_text(small_yaml.read_text().replace("name: small_yaml", "name: variant"), encoding="utf-8")
    return variant


@pytest.mark.parametrize("command", COMMANDS)
def test_out_under_a_file_is_refused_before_simulating(command: str, tmp_path: Path, small_yaml: Path,
                                                       variant_yaml: Path, tiny_sweep: Path, capsys,
                                                       no_simulation, fake_suite) -> None:
    afile = tmp_path / "afile"
    afile.write_text("keep\n")
    assert main(_command(command, tmp_path, afile / "sub", small_yaml, tiny_sweep)) == 2
    _one_error_line(capsys, str(afile / "sub"), "is a file")
    assert afile.read_text() == "keep\n" and fake_suite == []


@pytest.mark.parametrize("command", COMMANDS)
def test_unwritable_parent_is_refused_before_simulating(command: str, tmp_path: Path, small_yaml: Path,
                                                        variant_yaml: Path, tiny_sweep: Path, capsys, monkeypatch,
                                                        no_simulation, fake_suite) -> None:
    """A read-only (or immutable, or full) parent, simulated so that the test also runs as root."""
    locked = tmp_path / "locked"
    locked.mkdir()
    real_mkdir = os.mkdir

    def mkdir(path, *args, **kwargs):
        if Path(path).parent == locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_mkdir(path, *args, **kwargs)
    monkeypatch.setattr(os, "mkdir", mkdir)
    assert main(_command(command, tmp_path, locked / "out", small_yaml, tiny_sweep)) == 2
    _one_error_line(capsys, str(locked / "out"), "Permission denied")
    assert _entries(locked) == [] and fake_suite == []


def test_dangling_symlink_as_out_is_refused(tmp_path: Path, small_yaml: Path, capsys, no_simulation) -> None:
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nowhere")
    assert main(["run", str(small_yaml), "--out", str(link)]) == 2
    _one_error_line(capsys, "dangling symbolic link")
    assert link.is_symlink() and not (tmp_path / "nowhere").exists()


def test_symlink_to_an_empty_folder_is_followed(tmp_path: Path, small_yaml: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert main(["run", str(small_yaml), "--out", str(tmp_path / "link"), "--replications", "1", "--no-plots"]) == 0
    assert (tmp_path / "real" / "summary.csv").is_file()


def test_disk_full_while_writing_is_one_line_and_leaves_nothing(tmp_path: Path, small_yaml: Path, capsys,
                                                                monkeypatch) -> None:
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(sim.storage.EntityTableWriter, "write", full)     # the entity rows, as they arrive
    parent = tmp_path / "results"
    assert main(["run", str(small_yaml), "--out", str(parent / "out"), "--replications", "1", "--workers", "1"]) == 2
    _one_error_line(capsys, str(parent / "out"), "No space left on device")
    assert not parent.exists() or _entries(parent) == []


def test_two_runs_racing_for_one_folder(tmp_path: Path, small_yaml: Path, capsys, monkeypatch) -> None:
    """The other run renames its folder into place while this one writes: this rename fails
    cleanly, the other folder is untouched, and no staging folder is left."""
    out = tmp_path / "out"
    real = sim.storage.EntityTableWriter.write

    def other_run_finishes_first(writer, entities):
        out.mkdir()
        (out / "summary.csv").write_text("the other run's\n")
        real(writer, entities)
    monkeypatch.setattr(sim.storage.EntityTableWriter, "write", other_run_finishes_first)
    assert main(["run", str(small_yaml), "--out", str(out), "--replications", "1", "--workers", "1",
                 "--no-plots"]) == 2
    _one_error_line(capsys, str(out), "already exists")
    assert _entries(out) == ["summary.csv"] and (out / "summary.csv").read_text() == "the other run's\n"
    assert _entries(tmp_path) == sorted(["out", small_yaml.name])


# --------------------------------------------------------------------------------------------
# 7. partial folders of killed runs
# --------------------------------------------------------------------------------------------
def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_partial_folders_are_removed_live_ones_kept(tmp_path: Path, small_yaml: Path) -> None:
    parent = tmp_path / "results"
    parent.mkdir()
    dead = parent / f".old.partial-{_dead_pid()}"
    dead.mkdir()
    (dead / "summary.csv").write_text("half\n")
    (parent / f".sweep.csv.partial-{_dead_pid()}").write_text("half\n")
    live = parent / f".busy.partial-{os.getppid()}"
    live.mkdir()
    assert main(["run", str(small_yaml), "--out", str(parent / "new"), "--replications", "1", "--no-plots"]) == 0
    assert _entries(parent) == sorted(["new", live.name])
    assert remove_stale_partials(parent) == []


def test_resume_removes_stale_partial_points(tiny_sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _sweep(tiny_sweep, out) == 0
    (out / "sweep.csv").unlink()
    stale, live = out / "points" / f".p0009.partial-{_dead_pid()}", out / "points" / f".p0008.partial-{os.getppid()}"
    stale.mkdir()
    live.mkdir()
    assert _sweep(tiny_sweep, out, "--resume") == 0
    assert not stale.exists() and live.exists()


# --------------------------------------------------------------------------------------------
# 8. sweep files: atomic, checked on --resume
# --------------------------------------------------------------------------------------------
def test_truncated_sweep_json_is_a_clear_error(tiny_sweep: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert _sweep(tiny_sweep, out) == 0
    manifest = out / "sweep.json"
    manifest.write_text(manifest.read_text()[:40])
    capsys.readouterr()
    assert _sweep(tiny_sweep, out, "--resume") == 2
    _one_error_line(capsys, "sweep.json", "truncated or corrupt")
    assert main(["plot", str(out)]) == 2
    _one_error_line(capsys, "sweep.json", "truncated or corrupt")


def test_failed_manifest_write_leaves_no_sweep_folder(tiny_sweep: Path, tmp_path: Path, capsys,
                                                      monkeypatch) -> None:
    real = Path.write_text

    def write_text(self, *args, **kwargs):
        if self.name == "sweep.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, *args, **kwargs)
    monkeypatch.setattr(Path, "write_text", write_text)
    out = tmp_path / "out"
    assert _sweep(tiny_sweep, out) == 2
    assert "--resume" not in _one_error_line(capsys, "No space left on device")   # nothing to resume
    assert not out.exists() and _entries(tmp_path) == ["base.yaml", "sweep.yaml"]


def test_damaged_point_is_run_again_on_resume(tiny_sweep: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert _sweep(tiny_sweep, out) == 0
    reference = (out / "sweep.csv").read_bytes()
    info = json.loads((out / "points" / "p0001" / "point.json").read_text())
    assert set(info["files"]) == {"summary.csv", "hourly.csv", "replications.csv"}
    summary = out / "points" / "p0001" / "summary.csv"
    summary.write_bytes(summary.read_bytes()[:100])                     # truncated
    (out / "sweep.csv").unlink()
    capsys.readouterr()
    assert _sweep(tiny_sweep, out, "--resume") == 0
    err = capsys.readouterr().err
    assert "note: point p0001" in err and "summary.csv" in err and "p0000" not in err
    assert (out / "sweep.csv").read_bytes() == reference


# --------------------------------------------------------------------------------------------
# 9. the README's sweep example varies something that matters
# --------------------------------------------------------------------------------------------
def test_readme_sweep_example_loads_and_its_grid_changes_the_scenarios(tmp_path: Path) -> None:
    readme = (SCENARIOS.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    spec = yaml.safe_load(block)
    spec["base"] = str(SCENARIOS / spec["base"])
    path = tmp_path / "readme_sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    sweep = sim.sweeps.load_sweep(path)
    for name in spec["grid"]:
        assert "default" not in name.split("."), f"{name}: the night-time default rarely changes the answer"
    dumps = {json.dumps(s.model_dump(mode="json"), sort_keys=True) for s in sweep.scenarios.values()}
    assert len(dumps) == len(sweep.points)


@pytest.mark.parametrize("argv, needles", [
    (["run"], ["checkpoint-sim run:", "required: scenario", "checkpoint-sim run --help"]),
    (["run", "x.yaml", "--workers", "0"], ["--workers", "whole number >= 1, got 0"]),
    (["sweep", "x.yaml", "--replications", "two"], ["--replications", "'two'"]),
    (["rnu"], ["invalid choice: 'rnu'", "checkpoint-sim --help"]),
    ([], ["required: command"]),
])
def test_a_usage_error_is_one_line_with_exit_status_2(argv, needles, capsys, no_simulation) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "usage:" not in captured.err
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert all(needle in lines[0] for needle in needles), (needles, lines[0])


@pytest.mark.parametrize("marker", ["summary.csv", "compare.json"])
def test_plot_refuses_sweep_options_for_a_run_or_comparison_folder(tmp_path: Path, marker: str, capsys) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    for name in (marker, "scenario.resolved.yaml"):
        (folder / name).write_text("")
    before = _entries(folder)
    assert main(["plot", str(folder), "--metric", "wait_mean", "--target", "30"]) == 2
    _one_error_line(capsys, "--metric and --target apply to sweep folders only", str(folder))
    assert _entries(folder) == before                        # nothing redrawn, nothing written
