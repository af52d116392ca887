"""Messages only the supervisors exchange: child specs and records, subtree reports,
escalation, and their own timers. Internal to the node, not a client contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class _ActorRecord:
    """A supervisor's record of one child, reported up the tree."""

    name: str
    pid: int | None
    state: str
    restarts: int
    started_at: float | None
    supervisor: str
    address: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class _SubtreeChanged:
    """A supervisor tells its parent the current records of all actors below it."""

    supervisor: str
    records: tuple[_ActorRecord, ...]
    seq: int = 0  # Thespian may reorder sends: the parent keeps only the newest report


@dataclass(frozen=True)
class _GivingUp:
    """A supervisor tells its parent it exceeded its intensity and is stopping."""

    name: str


@dataclass(frozen=True)
class _HealthTick:
    """Wakeup payload: time to ping the children and look for hung ones."""


@dataclass(frozen=True)
class _StopDeadline:
    """Wakeup payload: a child asked to stop has had its `shutdown_s`."""

    name: str
    generation: int


@dataclass(frozen=True)
class _PlanStartDue:
    """Wakeup payload: a restart plan's backoff delay is over."""

    plan_id: int


@dataclass(frozen=True)
class _StatusTimeout:
    """Wakeup payload: give up waiting for the stream's status for one query."""

    query_id: int


@dataclass(frozen=True)
class _ConfigChanged:
    """The root applied a reloaded config (root -> the launcher's handle): the launcher
    re-creates a root with it from now on, and applies the log level to its own log."""

    config: Any  # a NodeConfig
    changed: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"_ConfigChanged(changed={list(self.changed)})"
