"""The bounded, priority-ordered outbox that holds requests while the stream is down.

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
from typing import TYPE_CHECKING, Any

from actors.stream.errors import InvalidSetting

if TYPE_CHECKING:
    from nodeconfig import OutboxConfig


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
class OutboxItem:
    request_id: str
    priority: int  # higher is sent first
    kind: str  # "registration", "signature", "pegin", "status"
    payload: Any
    sender: Any  # told when its request is dropped


@dataclass(frozen=True)
class Dropped:
    item: OutboxItem
    reason: DropReason


@dataclass(frozen=True)
class PushResult:
    accepted: bool
    dropped: tuple[Dropped, ...] = ()  # the refused new item, or what it evicted


class Outbox:
    def __init__(self, capacity: int, overflow: str) -> None:
        if capacity < 1:
            raise InvalidSetting(f"capacity must be >= 1, got {capacity}")
        try:
            self._overflow = OverflowPolicy(overflow)
        except ValueError:
            raise InvalidSetting(f"unknown overflow policy {overflow!r}") from None
        self._capacity = capacity
        self._arrivals: OrderedDict[str, OutboxItem] = OrderedDict()
        self._by_priority: dict[int, OrderedDict[str, OutboxItem]] = {}
        self._drops: Counter[str] = Counter()

    @classmethod
    def from_config(cls, cfg: OutboxConfig) -> Outbox:
        return cls(cfg.capacity, cfg.overflow)

    def push(self, item: OutboxItem) -> PushResult:
        if item.request_id in self._arrivals:
            return self._refuse(item, DropReason.DUPLICATE)
        evicted: tuple[Dropped, ...] = ()
        if len(self._arrivals) >= self._capacity:
            victim = self._overflow_victim(item)
            if victim is None:
                return self._refuse(item, _OVERFLOW_REASON[self._overflow])
            self._take(victim.request_id)
            evicted = (self._record(victim, _OVERFLOW_REASON[self._overflow]),)
        self._arrivals[item.request_id] = item
        self._by_priority.setdefault(item.priority, OrderedDict())[item.request_id] = item
        return PushResult(accepted=True, dropped=evicted)

    def pop_batch(self, max_items: int) -> list[OutboxItem]:
        """Up to `max_items` items, highest priority first, oldest first within one."""
        batch: list[OutboxItem] = []
        while len(batch) < max_items and self._by_priority:
            queue = self._by_priority[max(self._by_priority)]
            batch.append(self._take(next(iter(queue))))
        return batch

    def remove(self, request_id: str) -> OutboxItem | None:
        """Withdraw an item, e.g. because its sender gave up; None if it is not here."""
        if request_id not in self._arrivals:
            return None
        return self._take(request_id)

    def drops_by_reason(self) -> dict[str, int]:
        """Running totals since the outbox was created, for metrics."""
        return dict(self._drops)

    def __contains__(self, request_id: object) -> bool:
        return request_id in self._arrivals

    def __len__(self) -> int:
        return len(self._arrivals)

    def _overflow_victim(self, newcomer: OutboxItem) -> OutboxItem | None:
        """The item to evict for `newcomer`, or None when the newcomer is refused."""
        if self._overflow is OverflowPolicy.DROP_OLDEST:
            return next(iter(self._arrivals.values()))
        if self._overflow is OverflowPolicy.DROP_LOWEST_PRIORITY:
            lowest = min(self._by_priority)
            if lowest < newcomer.priority:
                return next(iter(self._by_priority[lowest].values()))
        return None

    def _take(self, request_id: str) -> OutboxItem:
        item = self._arrivals.pop(request_id)
        queue = self._by_priority[item.priority]
        del queue[request_id]
        if not queue:
            # Only priorities with items stay, so max()/min() see no empty queues.
            del self._by_priority[item.priority]
        return item

    def _refuse(self, item: OutboxItem, reason: DropReason) -> PushResult:
        return PushResult(accepted=False, dropped=(self._record(item, reason),))

    def _record(self, item: OutboxItem, reason: DropReason) -> Dropped:
        self._drops[reason] += 1
        return Dropped(item, reason)
