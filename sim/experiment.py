"""Replications of scenario variants on an executor: the one loop every experiment runs.

``run``, ``compare``, ``sweep``, ``calibrate`` and ``validate-model`` all run replications the same
way: replication ``r`` of a variant draws from the streams of ``(seed, r)`` (common random
numbers: variants are paired replication by replication), on an executor (in this process, a
local process pool, or Dask), with one progress bar. :class:`Replications` is that loop, for
experiments that submit more work as results arrive (adaptive sweeps, calibration searches);
:func:`run_replications` is the common case of a fixed number of replications per variant.

A *task* is a function ``task(scenario, seed, replication, *args)`` that runs in a worker and
returns what it reduced the replication to (by default :func:`sim.replication.run_replication`:
metric rows).
"""
from __future__ import annotations

import time
from types import TracebackType
from typing import Any, Callable, Hashable, Iterable, Iterator, Mapping

from .executors import Executor, make_executor, progress_bar
from . import replication as one_replication
from .scenario import Scenario
from .version import __version__

Task = Callable[..., Any]
Arrived = Callable[[Hashable, int, Any], None]      # (key, replication, output), as each arrives


class Replications:
    """Replications of scenario variants on one executor, with one progress bar.

    A context manager: on leaving, the executor is closed (without waiting for tasks in flight
    after an error or Ctrl-C) and the bar is cleared; an :class:`~sim.executors.Executor` passed
    in (``executor``) is left to its owner to close. Results are keyed ``(key, replication)``
    and arrive in any order; nothing downstream may depend on that order.
    """

    def __init__(self, workers: int = 1, executor: str | Executor = "local", scheduler: str | None = None,
                 description: str = "", progress: bool | None = None, task: Task | None = None,
                 expected: int = 0):
        self.task = task or one_replication.run_replication
        self.owns_executor = not isinstance(executor, Executor)
        self.executor = make_executor(workers, executor, scheduler) if self.owns_executor else executor
        self.bar = progress_bar(expected, description, progress)
        self.started = time.perf_counter()
        self.submitted = 0

    def submit(self, key: Hashable, scenario: Scenario, seed: int, replications: Iterable[int], *args: Any) -> None:
        """Queue replications of one variant (``args`` follow the task's first three arguments)."""
        for replication in replications:
            self.executor.submit((key, replication), self.task, scenario, seed, replication, *args)
            self.submitted += 1
        self.expect(self.bar.total)

    def expect(self, total: int) -> None:
        """Set the progress bar's total (replications expected in all; at least those submitted)."""
        self.bar.total = max(total, self.submitted)
        self.bar.refresh()

    def results(self) -> Iterator[tuple[tuple[Hashable, int], Any]]:
        """``((key, replication), output)`` as each replication finishes, until none is pending
        (more may be submitted while iterating)."""
        for done, output in self.executor.results():
            self.bar.update(1)
            yield done, output

    def collect(self, arrived: Arrived | None = None) -> dict[Hashable, list[Any]]:
        """Every pending replication's output, per key in replication order; ``arrived(key,
        replication, output)`` is called as each one arrives (in any order)."""
        outputs: dict[Hashable, dict[int, Any]] = {}
        for (key, replication), output in self.results():
            outputs.setdefault(key, {})[replication] = output
            if arrived is not None:
                arrived(key, replication, output)
        return {key: [by_replication[r] for r in sorted(by_replication)] for key, by_replication in outputs.items()}

    def record(self, seed: int, replications: int, workers: int, **facts: Any) -> dict[str, Any]:
        """The run record every results folder keeps: version, seed, replications, workers, wall time."""
        return {"package_version": __version__, **facts, "seed": seed, "replications": replications,
                "workers": workers, "wall_time_s": round(time.perf_counter() - self.started, 3)}

    def __enter__(self) -> "Replications":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.bar.close()
        if self.owns_executor:
            self.executor.__exit__(kind, error, traceback)


def run_replications(variants: Mapping[Hashable, Scenario], replications: int, seed: int, workers: int = 1,
                     executor: str | Executor = "local", scheduler: str | None = None, description: str = "",
                     progress: bool | None = None, task: Task | None = None,
                     args: tuple = (), arrived: Arrived | None = None) -> tuple[dict[Hashable, list[Any]], dict[str, Any]]:
    """Replications ``0 .. replications - 1`` of every variant with the same ``seed`` (paired);
    ``arrived`` sees each output as it arrives (see :meth:`Replications.collect`).

    Returns the outputs per variant in replication order, and the run record.
    """
    runner = start_replications(variants, replications, seed, workers, executor, scheduler, description, progress,
                                task, args)
    return collect_replications(runner, seed, replications, workers, arrived)


def start_replications(variants: Mapping[Hashable, Scenario], replications: int, seed: int, workers: int = 1,
                       executor: str | Executor = "local", scheduler: str | None = None, description: str = "",
                       progress: bool | None = None, task: Task | None = None, args: tuple = ()) -> Replications:
    """The first half of :func:`run_replications`: every replication submitted (on a pool they
    start at once), the :class:`Replications` returned for :func:`collect_replications`."""
    if replications < 1:
        raise ValueError("replications must be >= 1")
    workers_used = min(workers, max(1, replications * len(variants)))
    runner = Replications(workers_used, executor, scheduler, description, progress, task)
    try:
        for key, scenario in variants.items():
            runner.submit(key, scenario, seed, range(replications), *args)
    except BaseException as error:
        runner.__exit__(type(error), error, error.__traceback__)
        raise
    return runner


def collect_replications(runner: Replications, seed: int, replications: int, workers: int,
                         arrived: Arrived | None = None) -> tuple[dict[Hashable, list[Any]], dict[str, Any]]:
    """The second half of :func:`run_replications`: the outputs and the run record; closes ``runner``."""
    with runner:
        outputs = runner.collect(arrived)
        return outputs, runner.record(seed, replications, workers)
