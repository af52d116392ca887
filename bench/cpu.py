"""CPU time of processes over a stretch of a benchmark (psutil, as the node's own
per-actor CPU metric reads it).

Where a benchmark's latency grows with the load, the first question is whether
the CPUs are busy. `CpuMeter` reads each process's user and system time before
and after a phase; `per_pegout` splits the difference by the peg-outs handled,
per process, so the cost of one peg-out in each actor is comparable between
runs and machines.
"""

from __future__ import annotations

from collections.abc import Mapping

import psutil


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds of `pid` so far; None if it is gone."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return float(times.user + times.system)


class CpuMeter:
    def __init__(self, pids: Mapping[str, int]) -> None:
        self._pids = dict(pids)
        self._start: dict[str, float] = {}

    def start(self) -> None:
        self._start = {name: seconds for name, pid in self._pids.items()
                       if (seconds := cpu_seconds(pid)) is not None}

    def stop(self) -> dict[str, float]:
        """CPU seconds each process used since `start` (those alive at both ends)."""
        used = {}
        for name, before in self._start.items():
            after = cpu_seconds(self._pids[name])
            if after is not None:
                used[name] = after - before
        return used


def per_pegout(used: Mapping[str, float], pegouts: int, wall_s: float, cpus: int) -> str:
    """One line: ms of CPU per peg-out in each process, the total, and how busy the CPUs
    were over `wall_s`."""
    if pegouts <= 0 or wall_s <= 0 or not used:
        return "CPU per peg-out: not measured"
    parts = [f"{name} {1000 * seconds / pegouts:.2f}"
             for name, seconds in sorted(used.items(), key=lambda item: -item[1])]
    total = sum(used.values())
    plural = "s" if cpus != 1 else ""
    return (f"CPU per peg-out, ms: {', '.join(parts)}; total {1000 * total / pegouts:.2f} "
            f"(the {cpus} CPU{plural} {100 * total / (wall_s * cpus):.0f} % busy)")
