"""A circuit breaker over connection attempts, with an injected clock.

After `failure_threshold` consecutive failures it opens and refuses attempts;
once `reset_timeout_s` has passed it lets exactly one trial through (half-open),
whose outcome closes it again or re-opens it with a fresh timer. Every state
change is kept until the actor drains it into log lines and metrics.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from actors.stream.errors import InvalidSetting

if TYPE_CHECKING:
    from nodeconfig import CircuitBreakerConfig


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class CircuitTransition:
    source: CircuitState
    target: CircuitState
    at: float  # the breaker's clock


class CircuitBreaker:
    def __init__(
        self, failure_threshold: int, reset_timeout_s: float, clock: Callable[[], float]
    ) -> None:
        if failure_threshold < 1:
            raise InvalidSetting(f"failure_threshold must be >= 1, got {failure_threshold}")
        if reset_timeout_s <= 0:
            raise InvalidSetting(f"reset_timeout_s must be positive, got {reset_timeout_s}")
        self._threshold = failure_threshold
        self._reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._transitions: list[CircuitTransition] = []

    @classmethod
    def from_config(
        cls, cfg: CircuitBreakerConfig, clock: Callable[[], float]
    ) -> CircuitBreaker:
        return cls(cfg.failure_threshold, cfg.reset_timeout_s, clock)

    @property
    def state(self) -> CircuitState:
        return self._state

    def allow(self) -> bool:
        """May an attempt start now? Taking the half-open trial is a side effect."""
        if self._state is CircuitState.CLOSED:
            return True
        if self._state is CircuitState.OPEN and self.seconds_until_trial() == 0.0:
            self._move(CircuitState.HALF_OPEN)
            return True
        # Open and still cooling down, or half-open with the one trial in flight.
        return False

    def record_success(self) -> None:
        """Any success proves the endpoint works: close and forget the failures."""
        self._failures = 0
        if self._state is not CircuitState.CLOSED:
            self._move(CircuitState.CLOSED)

    def record_failure(self) -> None:
        self._failures += 1
        trial_failed = self._state is CircuitState.HALF_OPEN
        threshold_reached = (
            self._state is CircuitState.CLOSED and self._failures >= self._threshold
        )
        if trial_failed or threshold_reached:
            self._opened_at = self._clock()
            self._move(CircuitState.OPEN)

    def seconds_until_trial(self) -> float:
        """0 when `allow()` would say yes.

        Half-open has no time to wait for: nothing is allowed until the trial in
        flight is recorded, hence infinity.
        """
        if self._state is CircuitState.CLOSED:
            return 0.0
        if self._state is CircuitState.HALF_OPEN:
            return math.inf
        return max(0.0, self._opened_at + self._reset_timeout_s - self._clock())

    def drain_transitions(self) -> list[CircuitTransition]:
        drained, self._transitions = self._transitions, []
        return drained

    def _move(self, target: CircuitState) -> None:
        self._transitions.append(CircuitTransition(self._state, target, self._clock()))
        self._state = target
