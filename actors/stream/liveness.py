"""Heartbeat bookkeeping for the governance stream (docs/protocol.md, convention 3).

The node sends a Heartbeat every `interval_s` with an increasing sequence;
governance acks each one. No ack for `timeout_s` means the stream is dead and
the actor tears it down. Two injected clocks: a monotonic one for timing and a
wall clock for the protocol's unix-seconds timestamp.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from actors.stream.errors import InvalidSetting


@dataclass(frozen=True)
class Heartbeat:
    sequence: int  # from 1, increasing for the life of the process
    timestamp: int  # unix seconds, what goes on the wire
    sent_at: float  # monotonic, for the round trip


class Liveness:
    def __init__(
        self,
        interval_s: float,
        timeout_s: float,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
    ) -> None:
        if interval_s <= 0 or timeout_s <= 0:
            raise InvalidSetting("heartbeat interval and timeout must be positive")
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._sequence = 0
        self._outstanding: OrderedDict[int, float] = OrderedDict()  # sequence -> sent_at
        self._started_at: float | None = None
        self._last_sent_at: float | None = None
        self._last_ack_at: float | None = None
        self._last_ack_wall_time: float | None = None

    @property
    def last_ack_at(self) -> float | None:
        """Monotonic time of the last ack for a known heartbeat, on any connection."""
        return self._last_ack_at

    @property
    def last_ack_wall_time(self) -> float | None:
        """Unix time of that ack, for status reports read by people and tools."""
        return self._last_ack_wall_time

    def start(self) -> None:
        """A (re)connected stream: the timeout counts from now.

        Heartbeats sent on an earlier stream can never be acked on this one, so
        they are forgotten; the sequence carries on so no number is reused.
        """
        self._started_at = self._clock()
        self._last_sent_at = None
        self._outstanding.clear()

    def next_heartbeat(self) -> Heartbeat:
        self._sequence += 1
        sent_at = self._clock()
        self._outstanding[self._sequence] = sent_at
        self._last_sent_at = sent_at
        return Heartbeat(self._sequence, int(self._wall_clock()), sent_at)

    def seconds_until_due(self, now: float) -> float:
        """How long until the next heartbeat should go out (0: send one now)."""
        if self._last_sent_at is None:
            return 0.0
        return max(0.0, self._last_sent_at + self._interval_s - now)

    def ack(self, sequence: int) -> float | None:
        """Round-trip seconds for an outstanding heartbeat; None if unknown or a duplicate.

        Acks for unknown sequences do not count as signs of life: they cannot be
        matched to anything this stream sent.
        """
        sent_at = self._outstanding.get(sequence)
        if sent_at is None:
            return None
        # Acks arrive in order; an ack for n means the older ones were lost, not pending.
        while self._outstanding and next(iter(self._outstanding)) <= sequence:
            self._outstanding.popitem(last=False)
        self._last_ack_at = self._clock()
        self._last_ack_wall_time = self._wall_clock()
        return self._last_ack_at - sent_at

    def dead(self, now: float) -> bool:
        """True once `timeout_s` has passed since the later of start() and the last ack.

        Before the first start() there is no stream to judge, so it is not dead.
        """
        if self._started_at is None:
            return False
        since = self._started_at
        if self._last_ack_at is not None:
            since = max(since, self._last_ack_at)
        return now - since >= self._timeout_s
