"""Requests sent to governance and still awaiting an answer, each with a deadline.

A dict by id answers `resolve` in O(1); a min-heap of deadlines answers
`expire` in O(log n) per entry. Resolving leaves the entry's heap slot behind
(lazy deletion); the heap is rebuilt once stale slots outnumber live ones, so
it never grows beyond about twice the number of pending requests.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass
from itertools import count
from typing import Any

from actors.stream.errors import DuplicateRequest

# Below this size a heap full of stale slots costs less than rebuilding it.
_MIN_COMPACT_SIZE = 64


@dataclass(frozen=True)
class PendingRequest:
    request_id: str
    kind: str
    sender: Any  # told about the answer, or about the timeout
    sent_at: float
    deadline: float
    payload: Any = None


# (deadline, insertion number, entry): the number breaks deadline ties in
# insertion order and keeps the entries themselves from ever being compared.
_Slot = tuple[float, int, PendingRequest]


class PendingRequests:
    def __init__(self) -> None:
        self._entries: dict[str, PendingRequest] = {}
        self._heap: list[_Slot] = []
        self._kinds: Counter[str] = Counter()
        self._numbers = count()

    def add(self, entry: PendingRequest) -> None:
        if entry.request_id in self._entries:
            raise DuplicateRequest(entry.request_id)
        self._entries[entry.request_id] = entry
        self._kinds[entry.kind] += 1
        heapq.heappush(self._heap, (entry.deadline, next(self._numbers), entry))

    def get(self, request_id: str) -> PendingRequest | None:
        return self._entries.get(request_id)

    def resolve(self, request_id: str) -> PendingRequest | None:
        """Remove and return the request an answer is for; None if unknown or expired."""
        entry = self._entries.pop(request_id, None)
        if entry is not None:
            self._forget_kind(entry.kind)
            self._compact_if_sparse()
        return entry

    def expire(self, now: float) -> list[PendingRequest]:
        """Remove and return every request whose deadline is <= now, earliest first."""
        expired: list[PendingRequest] = []
        while self._heap and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)[2]
            if self._is_live(entry):
                del self._entries[entry.request_id]
                self._forget_kind(entry.kind)
                expired.append(entry)
        return expired

    def next_deadline(self) -> float | None:
        """The earliest deadline still pending, for scheduling the next expiry check."""
        while self._heap and not self._is_live(self._heap[0][2]):
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def entries(self) -> list[PendingRequest]:
        """A snapshot of every pending request, oldest added first (to resend after a reconnect)."""
        return list(self._entries.values())

    def by_kind(self) -> dict[str, int]:
        return dict(self._kinds)

    def __contains__(self, request_id: object) -> bool:
        return request_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def _heap_size(self) -> int:
        """Live and stale heap slots: lets a test prove that nothing leaks."""
        return len(self._heap)

    def _is_live(self, entry: PendingRequest) -> bool:
        # Identity, not id: a resolved id may be added again with a new entry.
        return self._entries.get(entry.request_id) is entry

    def _forget_kind(self, kind: str) -> None:
        self._kinds[kind] -= 1
        if not self._kinds[kind]:
            del self._kinds[kind]

    def _compact_if_sparse(self) -> None:
        if len(self._heap) > max(_MIN_COMPACT_SIZE, 2 * len(self._entries)):
            self._heap = [slot for slot in self._heap if self._is_live(slot[2])]
            heapq.heapify(self._heap)
