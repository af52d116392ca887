"""The bridge's own clock on each open attempt, and the one wakeup that looks at it.

Every attempt the bridge asks for is watched (`AttemptClock`, in memory); one wakeup at a
time is armed for the earliest due attempt, and when it comes the overdue ones go to the
workflow (`workflow.expired`). Half a second late is nothing against an attempt of a
minute, so bursts of attempts share one wakeup.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from actors.storage.records import PegoutRecord

SWEEP_MIN_S = 0.5


class AttemptClock:
    """When each open attempt is due to have been answered: the bridge's own deadline,
    so that no peg-out depends on the stream's pending table alone (a lost frame, a lost
    timeout, a restarted stream). In memory only: after a restart every open peg-out is
    asked again, and watched again from then."""

    def __init__(self) -> None:
        self._due: dict[str, tuple[int, float]] = {}  # request id -> (attempt, due at)
        self._heap: list[tuple[float, str, int]] = []

    def __len__(self) -> int:
        return len(self._due)

    def watch(self, request_id: str, attempt: int, due_at: float) -> None:
        """Watch this attempt (it replaces the peg-out's earlier one)."""
        self._due[request_id] = (attempt, due_at)
        heapq.heappush(self._heap, (due_at, request_id, attempt))

    def overdue(self, now: float) -> list[tuple[str, int]]:
        """The attempts due by `now`, each once, oldest first; they are no longer watched."""
        due = []
        while self._heap and self._heap[0][0] <= now:
            due_at, request_id, attempt = heapq.heappop(self._heap)
            if self._due.get(request_id) == (attempt, due_at):  # not replaced since
                del self._due[request_id]
                due.append((request_id, attempt))
        return due

    def next_due(self) -> float | None:
        while self._heap and self._due.get(self._heap[0][1]) != (self._heap[0][2],
                                                                 self._heap[0][0]):
            heapq.heappop(self._heap)  # replaced: drop it
        return self._heap[0][0] if self._heap else None


class AttemptsDue:
    """Wakeup payload: end the attempts that had their time."""


class AttemptWatch:
    def __init__(self, wakeup_after: Callable[[float, object], None],
                 now: Callable[[], float]) -> None:
        self.clock = AttemptClock()
        self._wakeup_after = wakeup_after
        self._now = now
        self._armed = False

    def watch(self, record: PegoutRecord, timeout_s: float, delay_s: float = 0.0) -> None:
        """Start the clock on the record's current attempt (asked after `delay_s`)."""
        self.clock.watch(record.request_id, record.attempt, self._now() + delay_s + timeout_s)
        self._arm()

    def due(self, now: float) -> list[tuple[str, int]]:
        """The wakeup came: the overdue (request id, attempt) pairs; the next one is armed."""
        self._armed = False
        overdue = self.clock.overdue(now)
        self._arm()
        return overdue

    def _arm(self) -> None:
        due_at = self.clock.next_due()
        if due_at is not None and not self._armed:
            self._armed = True
            self._wakeup_after(max(SWEEP_MIN_S, due_at - self._now()), AttemptsDue())
