"""Ids the ChainActor keeps for a while, then forgets (pure, with the time passed in).

A handled inbound id or a proposal's id stays for its retention
(`chain.retention`) and is pruned after it, in memory here and in SQLite by an
`Expired` write, so that neither the chain's memory nor its start-up grows
with the node's history.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

V = TypeVar("V")


class Retained(Generic[V]):
    """A map from id to value, each with the time it was added, pruned oldest first."""

    def __init__(self, retention_s: float) -> None:
        self.retention_s = retention_s
        self._values: dict[str, tuple[V, float]] = {}
        # Oldest first, as ids arrive (and as storage loads them): pruning pops from the
        # front, without a scan of what stays.
        self._order: deque[tuple[float, str]] = deque()

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: str) -> bool:
        return key in self._values

    def get(self, key: str) -> V | None:
        entry = self._values.get(key)
        return entry[0] if entry is not None else None

    def add(self, key: str, value: V, at_s: float) -> None:
        self._values[key] = (value, at_s)
        self._order.append((at_s, key))

    def discard(self, key: str) -> None:
        """Forget `key` now (its write failed); its place in the order is skipped later."""
        self._values.pop(key, None)

    def cutoff(self, now_s: float) -> float:
        """What was added before this time is past its retention."""
        return now_s - self.retention_s

    def prune(self, now_s: float) -> int:
        """Forget what is past its retention at `now_s`; returns how many ids went. An id
        added out of time order (a clock that stepped back) waits behind a newer one:
        kept a little longer, never dropped early."""
        cutoff = self.cutoff(now_s)
        pruned = 0
        while self._order and self._order[0][0] < cutoff:
            at_s, key = self._order.popleft()
            entry = self._values.get(key)
            if entry is not None and entry[1] == at_s:  # not re-added or discarded since
                del self._values[key]
                pruned += 1
        return pruned
