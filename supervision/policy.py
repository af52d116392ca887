"""What a supervisor does when a child fails: a pure function, tested without actors.

The supervisor actor feeds it the child's restart type, the supervisor's flags,
the times of recent restarts and the clock; it gets back a decision and the
new restart history. Backoff delays come from `restart_delay`, with the random
source injected so tests are repeatable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from nodeconfig import BackoffConfig, SupervisorFlags


class Decision(StrEnum):
    RESTART = "restart"
    STOP = "stop"
    ESCALATE = "escalate"
    RESUME = "resume"


class ExitReason(StrEnum):
    KILLED = "killed"  # the process died without a word: SIGKILL, segfault, os._exit
    EXITED = "exited"  # it stopped on its own, normally
    HUNG = "hung"
    POISON = "poison"
    ERROR = "error"  # it reported a fatal error before it died
    ESCALATED = "escalated"  # a child supervisor gave up
    SHUTDOWN = "shutdown"

    @property
    def abnormal(self) -> bool:
        return self not in (ExitReason.EXITED, ExitReason.SHUTDOWN)


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    history: tuple[float, ...]  # restart times within the period, this one included

    @property
    def attempt(self) -> int:
        return len(self.history)


def decide(
    *,
    restart: str,
    reason: ExitReason,
    flags: SupervisorFlags,
    history: tuple[float, ...],
    now: float,
) -> Verdict:
    """OTP's rules: restart type first, then the intensity window.

    More than `flags.intensity` restarts within `flags.period_s` seconds means
    the supervisor gives up and escalates to its parent.
    """
    recent = tuple(t for t in history if now - t < flags.period_s)
    if restart == "temporary" or (restart == "transient" and not reason.abnormal):
        return Verdict(Decision.STOP, recent)
    recent = (*recent, now)
    if len(recent) > flags.intensity:
        return Verdict(Decision.ESCALATE, recent)
    return Verdict(Decision.RESTART, recent)


def restart_delay(attempt: int, backoff: BackoffConfig, rng: random.Random) -> float:
    """Seconds to wait before restart number `attempt` (1-based) of a burst."""
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt}")
    base = min(backoff.max_s, backoff.initial_s * backoff.multiplier ** (attempt - 1))
    if base <= 0:
        return 0.0
    spread = base * backoff.jitter
    return max(0.0, min(backoff.max_s, base + rng.uniform(-spread, spread)))


def restart_scope(strategy: str, order: tuple[str, ...], failed: str) -> tuple[str, ...]:
    """The children a restart of `failed` involves, in start order (OTP's strategies).

    `one_for_one`: the failed child alone; `one_for_all`: every child;
    `rest_for_one`: the failed child and every child started after it. The
    others in the scope are stopped in reverse start order first, then all of
    the scope is started again in start order.
    """
    if failed not in order:
        raise ValueError(f"{failed!r} is not one of the children {order}")
    if strategy == "one_for_one":
        return (failed,)
    if strategy == "one_for_all":
        return order
    if strategy == "rest_for_one":
        return order[order.index(failed):]
    raise ValueError(f"unknown strategy {strategy!r}")


def burst_attempt(history: tuple[float, ...], now: float, reset_after_s: float) -> int:
    """Which restart of the current burst this is (1-based), for the backoff delay.

    A burst is the run of restarts with no quiet gap of `reset_after_s`
    between them: after such a gap the backoff starts from its initial delay.
    """
    attempt = 0
    later = now
    for restart_at in sorted(history, reverse=True):
        if later - restart_at >= reset_after_s:
            break
        attempt += 1
        later = restart_at
    return max(attempt, 1)
