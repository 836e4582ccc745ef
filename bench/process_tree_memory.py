"""Peak memory of every process of a command's process tree (the main process and its workers).

    python bench/process_tree_memory.py -- python -m sim.cli run scenarios/khorgos.yaml --workers 2

Starts the command, polls ``/proc/<pid>/status`` of the process and all its descendants every
50 ms, and prints each process's high-water mark (``VmHWM``: peak resident set size, as
``/usr/bin/time``'s ``%M`` counts it for the largest process) with its command line, and the
command's wall time; ``--timeline S`` also prints every S seconds the current RSS of the main
process and of each child (MiB). Linux only. A process that lives less than one poll may be missed; its
peak is then in ``/usr/bin/time -v`` (largest process only).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path


def children(pid: int) -> list[int]:
    """The process ids of ``pid``'s descendants (all generations)."""
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = [int(word) for word in (task / "children").read_text().split()]
            except OSError:
                continue
            found += kids
            frontier += kids
    return found


def high_water_mark_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def current_rss_kib(pid: int) -> int:
    try:
        return next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                    if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between polls")
    parser.add_argument("--timeline", type=float, default=0.0,
                        help="also print the current RSS (VmRSS) of the main process and of each child every "
                             "this many seconds")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    peaks: dict[int, tuple[int, str]] = {}
    shown = 0.0
    while process.poll() is None:
        if args.timeline and time.perf_counter() - started >= shown + args.timeline:
            shown = time.perf_counter() - started
            kids = "".join(f"  child {current_rss_kib(pid) / 1024:6.1f}" for pid in children(process.pid))
            print(f"{shown:7.1f} s  main RSS {current_rss_kib(process.pid) / 1024:7.1f} MiB{kids}", flush=True)
        for pid in [process.pid, *children(process.pid)]:
            peak = high_water_mark_kib(pid)
            if peak is not None and peak >= peaks.get(pid, (0, ""))[0]:
                peaks[pid] = (peak, peaks.get(pid, (0, command_line(pid)))[1] or command_line(pid))
        time.sleep(args.interval)
    wall = time.perf_counter() - started
    print(f"exit status {process.returncode}, {wall:.1f} s wall")
    for pid, (peak, line) in sorted(peaks.items(), key=lambda item: -item[1][0]):
        role = "main" if pid == process.pid else "child"
        print(f"{role:>5} {pid:>8} {peak / 1024:8.1f} MiB  {line[:90]}")
    return process.returncode


if __name__ == "__main__":
    sys.exit(main())
