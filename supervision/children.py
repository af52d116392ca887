"""A supervisor's bookkeeping: its children's records and the restart plan in progress.

Plain data, no Thespian: the supervisor actor mutates these as messages
arrive; `RestartPlan` holds what OTP's strategies ask of it (stop these, in
this order, then start those).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from actors.lifecycle import _ChildSpec
from supervision.policy import ExitReason
from supervision.protocol import _ActorRecord

if TYPE_CHECKING:
    from thespian.actors import ActorAddress


class ActorState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass
class PendingRestart:
    """What the `restart` log line needs once the new process has answered."""

    reason: ExitReason
    attempt: int
    old_pid: int | None


@dataclass
class Child:
    spec: _ChildSpec
    address: ActorAddress | None = None
    pid: int | None = None
    state: ActorState = ActorState.STARTING
    restarts: int = 0
    started_at: float | None = None
    exit_reason: ExitReason | None = None  # why it is exiting, when we (or it) know better
    pending: PendingRestart | None = None
    generation: int = 0  # bumps on every start, to match `_Started` and deadlines
    subtree: tuple[_ActorRecord, ...] = ()
    subtree_seq: int = 0  # of the newest `_SubtreeChanged` applied
    ping_sent_at: float | None = None  # an unanswered health ping (monotonic)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def alive(self) -> bool:
        return self.address is not None

    def record(self, supervisor: str) -> _ActorRecord:
        return _ActorRecord(
            name=self.name,
            pid=self.pid,
            state=self.state.value,
            restarts=self.restarts,
            started_at=self.started_at,
            supervisor=supervisor,
            address=self.address if self.state is ActorState.RUNNING else None,
        )

    def forget_process(self) -> None:
        """The process is gone: clear everything that belonged to it."""
        self.address = None
        self.pid = None
        self.started_at = None
        self.subtree = ()
        self.subtree_seq = 0  # the next incarnation numbers its reports from 1 again
        self.ping_sent_at = None


@dataclass
class RestartPlan:
    """Stop `to_stop` one by one (reverse start order), then start `to_start` in start order."""

    plan_id: int
    to_stop: list[str]
    to_start: list[str]
    stopping: str | None = None  # the child asked to stop and not yet gone
    delay_s: float = 0.0

    def merge(self, order: tuple[str, ...], scope: tuple[str, ...], alive: set[str]) -> None:
        """Another child failed while this plan runs: widen the plan to its scope too."""
        for name in scope:
            if name not in self.to_start:
                self.to_start.append(name)
        self.to_start.sort(key=order.index)
        extra = [n for n in reversed(scope) if n in alive and n not in self.to_stop
                 and n != self.stopping]
        self.to_stop = sorted({*self.to_stop, *extra}, key=order.index, reverse=True)
