"""CPU time of processes over a stretch of a benchmark (psutil, as the node's own
per-actor CPU metric reads it).

Where a benchmark's latency grows with the load, the first question is whether
the CPUs are busy. `CpuMeter` reads each process's user and system time before
and after a phase; `per_pegout` splits the difference by the peg-outs handled,
per process, so the cost of one peg-out in each actor is comparable between
runs and machines.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

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


@dataclass(frozen=True)
class CpuUse:
    """What a stretch of load cost: CPU seconds per process, over `wall_s` seconds, on
    `cpus` CPUs."""

    used: Mapping[str, float]
    wall_s: float
    cpus: int

    def ms_per_pegout(self, pegouts: int) -> float | None:
        """Milliseconds of CPU per peg-out, all processes together."""
        if pegouts <= 0 or not self.used:
            return None
        return 1000 * sum(self.used.values()) / pegouts

    def busy_pct(self) -> float | None:
        """How busy the CPUs were, in % of all of them over the stretch."""
        if self.wall_s <= 0 or self.cpus <= 0 or not self.used:
            return None
        return 100 * sum(self.used.values()) / (self.wall_s * self.cpus)


def cpus_here() -> int:
    """The CPUs this process may run on (`scripts/bench --cpus` narrows them, for the node
    and the mock as well)."""
    return len(os.sched_getaffinity(0))


@contextmanager
def metered(meter: CpuMeter, cpus: int) -> Iterator[list[CpuUse]]:
    """Meter the block; the yielded list holds its `CpuUse` once the block is done."""
    result: list[CpuUse] = []
    meter.start()
    started = time.monotonic()
    yield result
    result.append(CpuUse(meter.stop(), time.monotonic() - started, cpus))


def per_pegout(used: Mapping[str, float], pegouts: int, wall_s: float, cpus: int) -> str:
    """One line: ms of CPU per peg-out in each process, the total, and how busy the CPUs
    were over `wall_s`."""
    use = CpuUse(used, wall_s, cpus)
    total_ms, busy = use.ms_per_pegout(pegouts), use.busy_pct()
    if total_ms is None or busy is None:
        return "CPU per peg-out: not measured"
    parts = [f"{name} {1000 * seconds / pegouts:.2f}"
             for name, seconds in sorted(used.items(), key=lambda item: -item[1])]
    plural = "s" if cpus != 1 else ""
    return (f"CPU per peg-out, ms: {', '.join(parts)}; total {total_ms:.2f} "
            f"(the {cpus} CPU{plural} {busy:.0f} % busy)")
