"""The bounded, priority-ordered outbox that holds requests while the stream is down.

Items are keyed by `(kind, request_id)`: each kind of request has its own id
space, so a peg-in notice and a peg-out attempt that share an id are two
items, and only the same kind with the same id is a duplicate.

One insertion-ordered dict per priority (FIFO within a priority) plus one over
all items in arrival order, which doubles as the id index. OrderedDict gives
O(1) removal by id and O(1) pops from the front, so nothing is deleted lazily.
Finding the highest or lowest priority present is O(P), P being the handful of
distinct priorities (one per kind, see priorities.py).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Generic, TypeVar

from actors.stream.errors import InvalidSetting

if TYPE_CHECKING:
    from thespian.actors import ActorAddress

    from nodeconfig import OutboxConfig

# What an item carries for its sender (the StreamActor: the encoded request); opaque here.
Payload = TypeVar("Payload")

# (kind, request id): one id space per kind of request.
Key = tuple[str, str]


class OverflowPolicy(StrEnum):
    DROP_OLDEST = "drop_oldest"
    DROP_LOWEST_PRIORITY = "drop_lowest_priority"
    REJECT_NEW = "reject_new"


class DropReason(StrEnum):
    DUPLICATE = "duplicate"
    OVERFLOW_DROP_OLDEST = "overflow_drop_oldest"
    OVERFLOW_DROP_LOWEST_PRIORITY = "overflow_drop_lowest_priority"
    OVERFLOW_REJECT_NEW = "overflow_reject_new"


_OVERFLOW_REASON = {
    OverflowPolicy.DROP_OLDEST: DropReason.OVERFLOW_DROP_OLDEST,
    OverflowPolicy.DROP_LOWEST_PRIORITY: DropReason.OVERFLOW_DROP_LOWEST_PRIORITY,
    OverflowPolicy.REJECT_NEW: DropReason.OVERFLOW_REJECT_NEW,
}


@dataclass(frozen=True)
class OutboxItem(Generic[Payload]):
    request_id: str
    priority: int  # higher is sent first
    kind: str  # "registration", "signature", "pegin", "status"
    payload: Payload
    sender: ActorAddress | None  # told when its request is dropped


@dataclass(frozen=True)
class Dropped(Generic[Payload]):
    item: OutboxItem[Payload]
    reason: DropReason


@dataclass(frozen=True)
class PushResult(Generic[Payload]):
    accepted: bool
    dropped: tuple[Dropped[Payload], ...] = ()  # the refused new item, or what it evicted


class Outbox(Generic[Payload]):
    def __init__(self, capacity: int, overflow: str) -> None:
        if capacity < 1:
            raise InvalidSetting(f"capacity must be >= 1, got {capacity}")
        try:
            self._overflow = OverflowPolicy(overflow)
        except ValueError:
            raise InvalidSetting(f"unknown overflow policy {overflow!r}") from None
        self._capacity = capacity
        self._arrivals: OrderedDict[Key, OutboxItem[Payload]] = OrderedDict()
        self._by_priority: dict[int, OrderedDict[Key, OutboxItem[Payload]]] = {}
        self._drops: Counter[str] = Counter()

    @classmethod
    def from_config(cls, cfg: OutboxConfig) -> Outbox[Payload]:
        return cls(cfg.capacity, cfg.overflow)

    def push(self, item: OutboxItem[Payload]) -> PushResult[Payload]:
        key = (item.kind, item.request_id)
        if key in self._arrivals:
            return self._refuse(item, DropReason.DUPLICATE)
        evicted: tuple[Dropped[Payload], ...] = ()
        if len(self._arrivals) >= self._capacity:
            victim = self._overflow_victim(item)
            if victim is None:
                return self._refuse(item, _OVERFLOW_REASON[self._overflow])
            self._take((victim.kind, victim.request_id))
            evicted = (self._record(victim, _OVERFLOW_REASON[self._overflow]),)
        self._arrivals[key] = item
        self._by_priority.setdefault(item.priority, OrderedDict())[key] = item
        return PushResult(accepted=True, dropped=evicted)

    def pop_batch(self, max_items: int) -> list[OutboxItem[Payload]]:
        """Up to `max_items` items, highest priority first, oldest first within one."""
        batch: list[OutboxItem[Payload]] = []
        while len(batch) < max_items and self._by_priority:
            queue = self._by_priority[max(self._by_priority)]
            batch.append(self._take(next(iter(queue))))
        return batch

    def remove(self, kind: str, request_id: str) -> OutboxItem[Payload] | None:
        """Withdraw an item, e.g. because its sender gave up; None if it is not here."""
        key = (kind, request_id)
        if key not in self._arrivals:
            return None
        return self._take(key)

    def drops_by_reason(self) -> dict[str, int]:
        """Running totals since the outbox was created, for metrics."""
        return dict(self._drops)

    def __contains__(self, key: object) -> bool:
        """`(kind, request_id) in outbox`."""
        return key in self._arrivals

    def __len__(self) -> int:
        return len(self._arrivals)

    def _overflow_victim(self, newcomer: OutboxItem[Payload]) -> OutboxItem[Payload] | None:
        """The item to evict for `newcomer`, or None when the newcomer is refused."""
        if self._overflow is OverflowPolicy.DROP_OLDEST:
            return next(iter(self._arrivals.values()))
        if self._overflow is OverflowPolicy.DROP_LOWEST_PRIORITY:
            lowest = min(self._by_priority)
            if lowest < newcomer.priority:
                return next(iter(self._by_priority[lowest].values()))
        return None

    def _take(self, key: Key) -> OutboxItem[Payload]:
        item = self._arrivals.pop(key)
        queue = self._by_priority[item.priority]
        del queue[key]
        if not queue:
            # Only priorities with items stay, so max()/min() see no empty queues.
            del self._by_priority[item.priority]
        return item

    def _refuse(self, item: OutboxItem[Payload], reason: DropReason) -> PushResult[Payload]:
        return PushResult(accepted=False, dropped=(self._record(item, reason),))

    def _record(self, item: OutboxItem[Payload], reason: DropReason) -> Dropped[Payload]:
        self._drops[reason] += 1
        return Dropped(item, reason)
