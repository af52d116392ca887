"""The bridge's own clock on each open attempt, and the one wakeup that looks at it.

Every attempt the bridge asks for is watched (`AttemptClock`, in memory); one wakeup at a
time is armed for the earliest due attempt, and when it comes the overdue ones go to the
workflow (`workflow.expired`). Half a second late is nothing against an attempt of a
minute, so bursts of attempts share one wakeup.
"""

from __future__ import annotations

from collections.abc import Callable

from actors.bridge.book import AttemptClock
from actors.storage.records import PegoutRecord

SWEEP_MIN_S = 0.5


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
