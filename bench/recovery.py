"""Recovery: SIGKILL an actor's process, time until its replacement answers a Ping.

The clock starts just before the kill and stops when `Lookup(name)` gives an
address other than the killed one and that address answers `Ping` from a new
pid (`NodeClient.wait_replaced`). The
poll is a tight loop of asks (each ~0.5 ms here), so the figure is the
supervisor's reaction plus Thespian's fork, not a sleep interval.
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from dataclasses import dataclass

from harness.nodes import LocalNode

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


def kill_and_time(node: LocalNode, name: str) -> float:
    """Seconds from SIGKILL of `name` to its replacement answering a Ping."""
    old_address = node.client.lookup(name)
    pong = node.client.ping(old_address)
    if pong is None:
        raise RuntimeError(f"{name} does not answer a Ping before the kill")
    started = time.perf_counter()
    os.kill(pong.pid, signal.SIGKILL)
    if node.client.wait_replaced(name, pong.pid, old_address=old_address,
                                 timeout_s=GIVE_UP_S) is None:
        raise TimeoutError(f"{name} did not come back within {GIVE_UP_S:.0f}s")
    return time.perf_counter() - started


def settle(node: LocalNode) -> None:
    """Wait until every actor runs again (a supervisor's children restart after it)."""
    node.owner.wait_ready(timeout_s=GIVE_UP_S)


def measure(node: LocalNode, names: tuple[str, ...], kills: int) -> list[RecoveryStats]:
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
