"""How long to wait before reconnect attempt n: gRPC's connection-backoff shape.

Pure functions of the attempt number, a frozen policy and an injected
`random.Random`, so a seeded rng gives the same schedule in every test run.

The schedule never runs out. `max_attempts` marks where growing stops: past
it every attempt waits the longest backoff, and the schedule says it is
`exhausted` so the stream can report why. A node that gave up would stay
cut off from governance until someone restarted it, however soon governance
came back.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from actors.stream.errors import InvalidSetting

if TYPE_CHECKING:
    from nodeconfig import ReconnectConfig

# max_attempts value meaning "keep growing to the cap"; a name reads better than a bare None.
UNLIMITED: None = None


@dataclass(frozen=True)
class ReconnectPolicy:
    """gRPC's defaults: 1 s, x1.6 per attempt, +/-20% jitter, capped at 120 s."""

    initial_backoff_s: float = 1.0
    multiplier: float = 1.6
    jitter: float = 0.2
    max_backoff_s: float = 120.0
    max_attempts: int | None = UNLIMITED

    def __post_init__(self) -> None:
        # These bounds are what make the delays non-decreasing and within [0, max].
        if self.initial_backoff_s <= 0 or self.max_backoff_s <= 0:
            raise InvalidSetting("backoff durations must be positive")
        if self.multiplier < 1:
            raise InvalidSetting(f"multiplier must be >= 1, got {self.multiplier}")
        if not 0 <= self.jitter <= 1:
            raise InvalidSetting(f"jitter must be within [0, 1], got {self.jitter}")
        if self.max_attempts is not UNLIMITED and self.max_attempts < 1:
            raise InvalidSetting(f"max_attempts must be >= 1, got {self.max_attempts}")

    @classmethod
    def from_config(cls, cfg: ReconnectConfig) -> ReconnectPolicy:
        return cls(
            initial_backoff_s=cfg.initial_backoff_s,
            multiplier=cfg.multiplier,
            jitter=cfg.jitter,
            max_backoff_s=cfg.max_backoff_s,
            max_attempts=cfg.max_attempts,
        )


def _check_attempt(attempt: int) -> None:
    if attempt < 1:
        raise InvalidSetting(f"attempt is 1-based, got {attempt}")


def base_delay(attempt: int, policy: ReconnectPolicy) -> float:
    """The delay before jitter: grows geometrically until it reaches the cap."""
    _check_attempt(attempt)
    try:
        grown = policy.initial_backoff_s * policy.multiplier ** (attempt - 1)
    except OverflowError:
        # With UNLIMITED attempts the counter can run for days; past ~1,500 attempts
        # the float power overflows, long after the cap was reached.
        return policy.max_backoff_s
    return min(policy.max_backoff_s, grown)


def next_delay(attempt: int, policy: ReconnectPolicy, rng: random.Random) -> float:
    """Seconds to wait before attempt `attempt` (1-based).

    Uniform jitter of +/- `jitter` of the base spreads a fleet of nodes that lost
    governance together; the result is clamped to [0, max_backoff_s].
    """
    return jittered(base_delay(attempt, policy), policy, rng)


def jittered(base: float, policy: ReconnectPolicy, rng: random.Random) -> float:
    """`base` +/- the policy's jitter, clamped to [0, max_backoff_s]."""
    spread = base * policy.jitter
    return max(0.0, min(policy.max_backoff_s, base + rng.uniform(-spread, spread)))


def exhausted(attempt: int, policy: ReconnectPolicy) -> bool:
    """True when attempt number `attempt` is beyond `max_attempts` (it waits the longest)."""
    _check_attempt(attempt)
    return policy.max_attempts is not UNLIMITED and attempt > policy.max_attempts


class ReconnectSchedule:
    """Counts the attempts of one outage; `reset` once a connection has proved stable."""

    def __init__(self, policy: ReconnectPolicy) -> None:
        self._policy = policy
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """Attempts scheduled since the last reset (0 before the first)."""
        return self._attempt

    @property
    def exhausted(self) -> bool:
        """The last attempt scheduled was past `max_attempts`."""
        return self._attempt > 0 and exhausted(self._attempt, self._policy)

    def next(self, rng: random.Random) -> float:
        """The delay before the next attempt; past `max_attempts`, the longest backoff
        (with its jitter, so a fleet that gave up together still spreads out)."""
        self._attempt += 1
        if exhausted(self._attempt, self._policy):
            return jittered(self._policy.max_backoff_s, self._policy, rng)
        return next_delay(self._attempt, self._policy, rng)

    def reset(self) -> None:
        self._attempt = 0
