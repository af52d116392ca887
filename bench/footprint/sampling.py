"""Memory of processes by role: one snapshot, or the highest of samples from a thread.

RSS counts every resident page a process maps, including those it shares
with the process it was forked from, so RSS figures overlap; USS is what
only that process holds; PSS splits each shared page among its sharers.
All three come from /proc/<pid>/smaps_rollup (psutil `memory_full_info`),
cheap enough to sample every time.
"""

from __future__ import annotations

import threading
import time
from contextlib import suppress
from dataclasses import dataclass

import psutil

SAMPLE_S = 0.1


@dataclass(frozen=True)
class Usage:
    rss: int
    uss: int
    pss: int


def usage(process: psutil.Process) -> Usage | None:
    try:
        full = process.memory_full_info()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None  # it died (a restart): the caller notices by its pid
    return Usage(full.rss, full.uss, full.pss)


def snapshot(roles: dict[str, int]) -> dict[str, Usage]:
    found = {}
    for role, pid in roles.items():
        with suppress(psutil.NoSuchProcess):
            value = usage(psutil.Process(pid))
            if value is not None:
                found[role] = value
    return found


class PeakSampler:
    """Samples every role's memory from its own thread and keeps each one's highest."""

    def __init__(self, roles: dict[str, int], interval_s: float = SAMPLE_S) -> None:
        self.processes: dict[str, psutil.Process] = {}
        for role, pid in roles.items():
            with suppress(psutil.NoSuchProcess):
                self.processes[role] = psutil.Process(pid)
        self.interval_s = interval_s
        self.peak_rss: dict[str, int] = {}
        self.peak_uss: dict[str, int] = {}
        self.sweeps = 0
        # CPU this thread spent sampling: what the sampling takes from the machine it
        # measures (its wall time under load is mostly waiting for a core).
        self.cpu_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sweep()  # the state at the end counts too

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sweep()

    def sweep(self) -> None:
        started = time.thread_time()
        for role, process in self.processes.items():
            value = usage(process)
            if value is None:
                continue
            self.peak_rss[role] = max(self.peak_rss.get(role, 0), value.rss)
            self.peak_uss[role] = max(self.peak_uss.get(role, 0), value.uss)
        self.sweeps += 1
        self.cpu_s += time.thread_time() - started
