"""Open requests sent again to a restarted StreamActor, a slice per turn.

Thousands may be open, and a burst of single sends from one receiveMessage is
throttled and then dropped by Thespian: the re-sends go out `RESEND_BATCH` per
Batch, one Batch per wakeup.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from actors.messages import Batch, NotifyPegin, RequestSignatures

RESEND_BATCH = 250
RESEND_PAUSE_S = 0.02


class ResendDue:
    """Wakeup payload: send the next slice."""


class Resends:
    def __init__(self, send: Callable[[Any, Any], None],
                 wakeup_after: Callable[[float, object], None]) -> None:
        self._send = send
        self._wakeup_after = wakeup_after
        self._queue: deque[RequestSignatures | NotifyPegin] = deque()
        self._armed = False

    def __len__(self) -> int:
        return len(self._queue)

    def queue(self, requests: Iterable[RequestSignatures | NotifyPegin]) -> None:
        self._queue.extend(requests)

    def pump(self, stream: Any) -> None:
        """Send the next slice to `stream` (none while it is unknown); the rest follows."""
        if stream is None or not self._queue:
            return
        count = min(RESEND_BATCH, len(self._queue))
        self._send(stream, Batch(tuple(self._queue.popleft() for _ in range(count))))
        if self._queue and not self._armed:
            self._armed = True
            self._wakeup_after(RESEND_PAUSE_S, ResendDue())

    def due(self, stream: Any) -> None:
        self._armed = False
        self.pump(stream)
