"""Requests sent to governance and still awaiting an answer, each with a deadline.

Each kind of request has its own id space: an entry is keyed by
`(kind, request_id)`, so a peg-in notice `x/1` and attempt 1 of peg-out `x`
(also `x/1` on the wire) are two requests, each answered on its own. An
answer is matched by the kinds its payload can answer (`first_of`).

A dict by key answers `resolve` in O(1); a min-heap of deadlines answers
`expire` in O(log n) per entry. Resolving (or moving a deadline with
`extend`) leaves the old heap slot behind (lazy deletion); the heap is
rebuilt once stale slots outnumber live ones, so it never grows beyond about
twice the number of pending requests.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from itertools import count
from typing import TYPE_CHECKING, Generic, TypeVar

from actors.stream.errors import DuplicateRequest

if TYPE_CHECKING:
    from thespian.actors import ActorAddress

# (kind, request id): one id space per kind of request.
Key = tuple[str, str]

# Below this size a heap full of stale slots costs less than rebuilding it.
_MIN_COMPACT_SIZE = 64


# What a request carries for its sender (the StreamActor: the encoded request, to
# write again after a reconnect); opaque here.
Payload = TypeVar("Payload")


@dataclass(frozen=True)
class PendingRequest(Generic[Payload]):
    request_id: str
    kind: str
    sender: ActorAddress | None  # told about the answer, or about the timeout
    sent_at: float
    deadline: float
    payload: Payload | None = None


# (deadline, insertion number, entry): the number breaks deadline ties in
# insertion order and keeps the entries themselves from ever being compared.
_Slot = tuple[float, int, PendingRequest[Payload]]


class PendingRequests(Generic[Payload]):
    def __init__(self) -> None:
        self._entries: dict[Key, PendingRequest[Payload]] = {}
        self._heap: list[_Slot[Payload]] = []
        self._kinds: Counter[str] = Counter()
        self._numbers = count()

    def add(self, entry: PendingRequest[Payload]) -> None:
        key = (entry.kind, entry.request_id)
        if key in self._entries:
            raise DuplicateRequest(entry.request_id)
        self._entries[key] = entry
        self._kinds[entry.kind] += 1
        heapq.heappush(self._heap, (entry.deadline, next(self._numbers), entry))

    def get(self, kind: str, request_id: str) -> PendingRequest[Payload] | None:
        return self._entries.get((kind, request_id))

    def first_of(self, request_id: str, kinds: Iterable[str]) -> PendingRequest[Payload] | None:
        """The request an answer with `request_id` is for, among the `kinds` its payload
        can answer. When several of those kinds wait under the same id, the one sent first
        (ties: the first kind listed): governance answers what it was asked in order."""
        chosen: PendingRequest[Payload] | None = None
        for kind in kinds:
            entry = self._entries.get((kind, request_id))
            if entry is not None and (chosen is None or entry.sent_at < chosen.sent_at):
                chosen = entry
        return chosen

    def resolve(self, kind: str, request_id: str) -> PendingRequest[Payload] | None:
        """Remove and return the request an answer is for; None if unknown or expired."""
        entry = self._entries.pop((kind, request_id), None)
        if entry is not None:
            self._forget_kind(entry.kind)
            self._compact_if_sparse()
        return entry

    def extend(self, kind: str, request_id: str,
               deadline: float) -> PendingRequest[Payload] | None:
        """Move a pending request's deadline to `deadline` if that is later; returns the
        entry as it is now (None if it is not pending). The old heap slot goes stale."""
        key = (kind, request_id)
        entry = self._entries.get(key)
        if entry is None or deadline <= entry.deadline:
            return entry
        moved = replace(entry, deadline=deadline)
        self._entries[key] = moved
        heapq.heappush(self._heap, (deadline, next(self._numbers), moved))
        self._compact_if_sparse()
        return moved

    def expire(self, now: float) -> list[PendingRequest[Payload]]:
        """Remove and return every request whose deadline is <= now, earliest first."""
        expired: list[PendingRequest[Payload]] = []
        while self._heap and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)[2]
            if self._is_live(entry):
                del self._entries[(entry.kind, entry.request_id)]
                self._forget_kind(entry.kind)
                expired.append(entry)
        return expired

    def next_deadline(self) -> float | None:
        """The earliest deadline still pending, for scheduling the next expiry check."""
        while self._heap and not self._is_live(self._heap[0][2]):
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def entries(self) -> list[PendingRequest[Payload]]:
        """A snapshot of every pending request, oldest added first (to resend after a reconnect)."""
        return list(self._entries.values())

    def by_kind(self) -> dict[str, int]:
        return dict(self._kinds)

    def __contains__(self, key: object) -> bool:
        """`(kind, request_id) in pending`."""
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def _heap_size(self) -> int:
        """Live and stale heap slots: lets a test prove that nothing leaks."""
        return len(self._heap)

    def _is_live(self, entry: PendingRequest[Payload]) -> bool:
        # Identity, not key: a resolved id may be added again with a new entry, and an
        # extended one has a new entry with the later deadline.
        return self._entries.get((entry.kind, entry.request_id)) is entry

    def _forget_kind(self, kind: str) -> None:
        self._kinds[kind] -= 1
        if not self._kinds[kind]:
            del self._kinds[kind]

    def _compact_if_sparse(self) -> None:
        if len(self._heap) > max(_MIN_COMPACT_SIZE, 2 * len(self._entries)):
            self._heap = [slot for slot in self._heap if self._is_live(slot[2])]
            heapq.heapify(self._heap)
