"""Recovery: SIGKILL an actor's process, time until its replacement answers a Ping.

The clock starts just before the kill and stops when `Lookup(name)` gives an
address other than the killed one and that address answers `Ping` from a new
pid. The poll is a tight loop of asks (each ~0.5 ms here), so the figure is
the supervisor's reaction plus Thespian's fork, not a sleep interval.
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from dataclasses import dataclass
from typing import Any

GIVE_UP_S = 30.0


@dataclass(frozen=True)
class RecoveryStats:
    actor: str
    kills: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def kill_and_time(node: Any, name: str) -> float:
    """Seconds from SIGKILL of `name` to its replacement answering a Ping."""
    old_address = node.lookup(name)
    old_pid = node.ping(old_address).pid
    started = time.perf_counter()
    os.kill(old_pid, signal.SIGKILL)
    deadline = started + GIVE_UP_S
    while time.perf_counter() < deadline:
        address = node.lookup(name, timeout_s=1.0)
        if address is not None and address != old_address:
            pong = node.ping(address, timeout_s=1.0)
            if pong is not None and pong.pid != old_pid:
                return time.perf_counter() - started
    raise TimeoutError(f"{name} did not come back within {GIVE_UP_S:.0f}s")


def settle(node: Any) -> None:
    """Wait until every actor runs again (a supervisor's children restart after it)."""
    node.wait_ready(timeout_s=GIVE_UP_S)


def measure(node: Any, names: tuple[str, ...], kills: int) -> list[RecoveryStats]:
    results = []
    for name in names:
        samples = []
        for _ in range(kills):
            samples.append(kill_and_time(node, name) * 1000)
            settle(node)
        results.append(RecoveryStats(name, kills, round(statistics.median(samples), 1),
                                     round(percentile(samples, 0.99), 1),
                                     round(max(samples), 1)))
    return results
