"""Where replications run: in this process, on a local process pool, or on a Dask cluster.

An executor takes tasks ``(key, function, args)`` and yields ``(key, result)`` as they finish, in
any order; more tasks may be submitted while results are being consumed (adaptive
replications). The local pool survives a worker that crashes or is killed: the tasks that were
lost are reported on stderr and run again, up to ``max_restarts`` times. A Dask client is
connected with a short timeout when the executor is made, before a caller writes anything. Callers never depend on
the order of completion, so results are the same whatever the executor and number of workers.
"""
from __future__ import annotations

import os
import sys
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Hashable, Iterator

from tqdm import tqdm

from .errors import Problem, ScenarioError

Task = tuple[Hashable, Callable[..., Any], tuple]


class WorkerCrashed(RuntimeError):
    """A worker process died more often than the executor is allowed to restart."""


class Executor:
    """The protocol every executor follows: ``submit`` tasks, iterate ``results`` as they finish
    (submitting more meanwhile), ``close`` (``cancel``: without waiting for tasks in flight).
    A context manager: leaving the block closes it, cancelling after an error or Ctrl-C."""

    def submit(self, key: Hashable, function: Callable[..., Any], *args: Any) -> None:
        raise NotImplementedError

    def results(self) -> Iterator[tuple[Hashable, Any]]:
        raise NotImplementedError

    def close(self, cancel: bool = False) -> None:
        raise NotImplementedError

    runs_meanwhile = True
    """Whether submitted tasks run while the caller does something else (a pool, a cluster), or
    only once :meth:`results` is iterated (:class:`SerialExecutor`)."""

    def start(self) -> "Executor":
        """Start the workers now rather than with the first task (see :meth:`LocalPoolExecutor.start`)."""
        return self

    def when_idle(self, function: Callable[..., Any], *args: Any) -> None:
        """Have a worker that falls idle while others still run tasks call ``function(*args)``
        (e.g. import what it is to do next; it may be called more than once, so it must be
        harmless to repeat); its result is dropped. A no-op but on a local pool (see
        :meth:`LocalPoolExecutor.when_idle`)."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        self.close(cancel=kind is not None)


class SerialExecutor(Executor):
    """Runs tasks one by one in this process (workers=1): simplest, and easy to debug. Tasks run
    only as :meth:`results` is iterated, not meanwhile."""

    runs_meanwhile = False

    def __init__(self) -> None:
        self.pending: deque[Task] = deque()

    def submit(self, key: Hashable, function: Callable[..., Any], *args: Any) -> None:
        self.pending.append((key, function, args))

    def results(self) -> Iterator[tuple[Hashable, Any]]:
        while self.pending:
            key, function, args = self.pending.popleft()
            yield key, function(*args)

    def close(self, cancel: bool = False) -> None:
        self.pending.clear()


class LocalPoolExecutor(Executor):
    """A process pool that keeps at most ``2 * workers`` tasks in flight and survives crashes."""

    def __init__(self, workers: int, max_restarts: int = 3):
        self.workers = workers
        self.max_restarts = max_restarts
        self.restarts = 0
        self.pool = ProcessPoolExecutor(max_workers=workers)
        self.waiting: deque[Task] = deque()
        self.running: dict[Future, Task] = {}
        self.idle_calls: deque[tuple[Callable[..., Any], tuple]] = deque()
        self.idle_made: list[tuple[Callable[..., Any], tuple]] = []

    def when_idle(self, function: Callable[..., Any], *args: Any) -> None:
        """Call ``function(*args)`` in a worker as soon as one is idle while tasks are in flight
        and none waits (the last replications of a run; ``checkpoint-sim run`` has the worker
        import the figures' modules then, so that the figures it draws after them start at
        once), and once for each worker as the last task in flight finishes, before
        :meth:`results` yields it (the workers that ran the last tasks have not called it yet;
        which worker takes which call is the pool's choice, so ``function`` must be harmless to
        call again). Only while :meth:`results` runs. Not a task: its result and errors are
        dropped, and :meth:`results` never yields it."""
        self.idle_calls.append((function, args))

    def _call_when_idle(self) -> None:
        if not self.running and not self.waiting:              # the last task is done: every worker
            calls = [call for call in (*self.idle_made, *self.idle_calls) for _ in range(self.workers)]
            self.idle_made.clear()
            self.idle_calls.clear()
        elif len(self.running) < self.workers and not self.waiting:
            calls = list(self.idle_calls)
            self.idle_made += calls
            self.idle_calls.clear()
        else:
            return
        for function, args in calls:
            try:
                self.pool.submit(function, *args)
            except BrokenProcessPool:           # the next results() loop restarts the pool
                return

    def submit(self, key: Hashable, function: Callable[..., Any], *args: Any) -> None:
        """Queue a task; it starts at once if fewer than ``2 * workers`` are in flight (so work
        submitted while the caller does something else runs meanwhile)."""
        self.waiting.append((key, function, args))
        try:
            self._fill()
        except BrokenProcessPool:
            pass                    # results() starts a new pool and runs the task again

    def _fill(self) -> None:
        while self.waiting and len(self.running) < 2 * self.workers:
            task = self.waiting[0]
            self.running[self.pool.submit(task[1], *task[2])] = task
            self.waiting.popleft()

    def results(self) -> Iterator[tuple[Hashable, Any]]:
        try:
            while self.waiting or self.running:
                try:
                    self._fill()
                except BrokenProcessPool:
                    self._restart([])
                    continue
                done, _ = wait(list(self.running), return_when=FIRST_COMPLETED)
                lost: list[Task] = []
                finished: list[tuple[Hashable, Any]] = []
                for future in done:
                    task = self.running.pop(future)
                    try:
                        finished.append((task[0], future.result()))
                    except BrokenProcessPool:
                        lost.append(task)
                if lost:
                    self._restart(lost)
                else:
                    self._call_when_idle()          # before the caller handles these results
                yield from finished
        finally:                                # idle calls only while these results are awaited,
            self.idle_calls.clear()             # also when the caller stops early (an error)
            self.idle_made.clear()

    def _restart(self, lost: list[Task]) -> None:
        """A worker died: every task in flight is lost with the pool; start a new pool, run them again."""
        lost += list(self.running.values())
        self.running.clear()
        self.restarts += 1
        keys = ", ".join(str(task[0]) for task in lost)
        if self.restarts > self.max_restarts:
            raise WorkerCrashed(f"a worker process died {self.restarts} times; giving up (tasks in flight: {keys})")
        print(f"warning: a worker process died; retrying {len(lost)} task(s) in flight: {keys}", file=sys.stderr)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = ProcessPoolExecutor(max_workers=self.workers)
        self.waiting.extendleft(reversed(lost))

    def start(self) -> "LocalPoolExecutor":
        """Fork the worker processes now: each then holds only what this process has imported and
        built so far (``checkpoint-sim run`` starts them before it imports the publishing layer,
        matplotlib included, which the workers never use)."""
        self.pool.submit(os.getpid)
        return self

    def worker_pids(self) -> list[int]:
        """Process ids of the pool's workers (for tests that kill one)."""
        return list(getattr(self.pool, "_processes", {}) or {})

    def close(self, cancel: bool = False) -> None:
        """Stop the pool; ``cancel`` (after an error or Ctrl-C) stops the running tasks too: their
        workers are killed (they hold nothing that needs cleaning up: results are written by this
        process), so that the error is reported now, not once they finish."""
        processes = list((getattr(self.pool, "_processes", None) or {}).values()) if cancel else []
        self.pool.shutdown(wait=not cancel, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.kill()


DASK_CONNECT_TIMEOUT = 5.0     # seconds to wait for a Dask scheduler before giving up


def connect_dask(scheduler: str | None, timeout: float | None = None) -> Any:
    """A Dask client connected to ``scheduler``, or a :class:`ScenarioError` (one line, naming
    ``--scheduler``) when the extra is not installed or the scheduler does not answer within
    ``timeout`` seconds (default :data:`DASK_CONNECT_TIMEOUT`)."""
    timeout = DASK_CONNECT_TIMEOUT if timeout is None else timeout
    try:
        from dask.distributed import Client
    except ImportError:  # pragma: no cover - depends on the optional extra
        raise ScenarioError(Problem("--executor", "", "the dask executor needs: pip install "
                                    "'checkpoint-sim[dask]'")) from None
    if not scheduler:
        raise ScenarioError(Problem("--scheduler", "", "the dask executor needs --scheduler tcp://HOST:PORT"))
    try:
        return Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ScenarioError(Problem("--scheduler", "", f"cannot connect to the Dask scheduler at {scheduler} "
                                    f"within {timeout:g} s ({reason}): is it running, and is the address "
                                    "right?")) from None


class DaskExecutor(Executor):
    """Runs tasks on a Dask distributed cluster (``pip install 'checkpoint-sim[dask]'``)."""

    def __init__(self, scheduler: str | None = None, client: Any = None, retries: int = 2):
        self._owns_client = client is None
        self.client = client or connect_dask(scheduler)
        from dask.distributed import as_completed
        self.retries = retries
        self.completed = as_completed()
        self.keys: dict[Any, Hashable] = {}

    def submit(self, key: Hashable, function: Callable[..., Any], *args: Any) -> None:
        future = self.client.submit(function, *args, pure=False, retries=self.retries)
        self.keys[future] = key
        self.completed.add(future)

    def results(self) -> Iterator[tuple[Hashable, Any]]:
        for future in self.completed:
            key = self.keys.pop(future)
            yield key, future.result()

    def close(self, cancel: bool = False) -> None:
        for future in list(self.keys):
            future.cancel()
        if self._owns_client:
            self.client.close()


def progress_bar(total: int, description: str, show: bool | None = None) -> tqdm:
    """A tqdm bar on stderr: tasks done, rate, ETA; silent unless stderr is a terminal."""
    show = sys.stderr.isatty() if show is None else show
    return tqdm(total=total, desc=description, unit="rep", disable=not show, leave=False, dynamic_ncols=True)


def make_executor(workers: int = 1, executor: str = "local", scheduler: str | None = None) -> Executor:
    """The executor for a run or sweep: serial for one worker, a process pool, or Dask."""
    if executor == "dask":
        return DaskExecutor(scheduler)
    if executor != "local":
        raise ValueError(f"unknown executor {executor!r}: expected 'local' or 'dask'")
    return SerialExecutor() if workers <= 1 else LocalPoolExecutor(workers)
