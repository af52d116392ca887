"""The node's Prometheus metrics, shared by every process of the node.

prometheus-client runs in multiprocess mode: each process writes its samples
to files in `PROMETHEUS_MULTIPROC_DIR`, and the launcher's HTTP endpoint sums
them. The variable must be set before prometheus_client is first imported in
the launcher (it picks its value class at import), and it is inherited by
every forked process; `rundir.prepare_metrics_dir` does both, with a fresh directory
for each run so that counters of an earlier run never leak into this one
(see `runtime.rundir`).

Gauges use a *live* mode: the files of a dead pid are ignored once
`mark_dead(pid)` removed them, so a SIGKILLed actor's `alys_actor_up` does
not linger.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest, multiprocess
from prometheus_client.registry import Collector

from runtime.rundir import METRICS_ENV

ACTOR_UP = Gauge(
    "alys_actor_up",
    "1 while the named actor's process runs and has started.",
    ["actor"],
    multiprocess_mode="livemax",
)
ACTOR_RESTARTS = Counter(
    "alys_actor_restarts_total",
    "Restarts of the named actor by its supervisor.",
    ["actor"],
)
SUPERVISOR_DECISIONS = Counter(
    "alys_supervisor_decisions_total",
    "Decisions taken by a supervisor about a failed child.",
    ["supervisor", "decision"],
)
SUPERVISOR_INTENSITY_EXCEEDED = Counter(
    "alys_supervisor_intensity_exceeded_total",
    "Times a supervisor saw more restarts than its intensity allows within its period.",
    ["supervisor"],
)
MESSAGE_FAILURES = Counter(
    "alys_actor_message_failures_total",
    "Messages whose handler raised (Thespian retries once, then returns a PoisonMessage).",
    ["actor"],
)
UNEXPECTED_MESSAGES = Counter(
    "alys_actor_unexpected_messages_total",
    "Messages an actor received but has no handler for.",
    ["actor"],
)
MESSAGES_HELD = Counter(
    "alys_actor_messages_held_total",
    "Messages from a sender the actor's directory did not name, held for the next _Peers.",
    ["actor", "message"],
)
MESSAGES_REFUSED = Counter(
    "alys_actor_messages_refused_total",
    "Messages dropped because their sender may not send them (actors/senders.py).",
    ["actor", "message"],
)
TRANSPORT_FRAMES_REFUSED = Counter(
    "alys_transport_frames_refused_total",
    "Actor transport frames dropped unread: no valid tag under the node's secret.",
    ["frame"],
)


def declare_actor(name: str) -> None:
    """Give the actor's counters their 0 before their first event: Prometheus sees an
    increase only from a sample it already had, and a dashboard finds the series."""
    ACTOR_RESTARTS.labels(actor=name)
    MESSAGE_FAILURES.labels(actor=name)


def declare_supervisor(name: str, decisions: Iterable[str]) -> None:
    """As `declare_actor`, for a supervisor's counters (`decisions`: every one it takes)."""
    SUPERVISOR_INTENSITY_EXCEEDED.labels(supervisor=name)
    for decision in decisions:
        SUPERVISOR_DECISIONS.labels(supervisor=name, decision=decision)


def metrics_dir() -> Path | None:
    value = os.environ.get(METRICS_ENV)
    return Path(value) if value else None


def mark_dead(pid: int) -> None:
    """Forget the live gauges written by a process that died."""
    directory = metrics_dir()
    if directory is not None:
        multiprocess.mark_process_dead(pid, str(directory))


def exposition(*collectors: Collector) -> bytes:
    """Every process's samples, summed, and what `collectors` read now (the serving
    process's `runtime.scraped`), in the Prometheus text format."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)
