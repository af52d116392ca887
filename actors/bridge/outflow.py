"""The outflow circuit breaker: a cap on what leaves the federation in any rolling window.

`OutflowWindow` counts what was paid out, by time, and says whether one more
payment fits under the cap and, if not, when room for it returns. It reads
no clock: every time is given, as Unix seconds (the refusal names the UTC
time). Memory is bounded: payments are summed into `buckets` buckets, each
`window_s / buckets` wide, and a bucket counts until the window has passed
since its *end*. So the answer is never more permissive than exact
accounting, and at most one bucket width later (a minute, by default).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(slots=True)
class _Bucket:
    index: int  # covers [index * width, (index + 1) * width)
    sat: int
    last_s: float  # the latest payment in it, for `reset`


class OutflowWindow:
    """Payments in the last `window_s` seconds, against a cap of `cap_sat`.

    Times should not go backwards: a payment already out of the window, as
    seen from the latest time added, is not kept.
    """

    def __init__(self, window_s: float, cap_sat: int, buckets: int = 1440) -> None:
        if not window_s > 0:
            raise ValueError(f"window_s must be greater than 0, got {window_s!r}")
        if cap_sat < 0:  # 0: nothing may leave
            raise ValueError(f"cap_sat must not be negative, got {cap_sat!r}")
        if buckets < 1:
            raise ValueError(f"buckets must be at least 1, got {buckets!r}")
        self.window_s = window_s
        self.cap_sat = cap_sat
        self._width = window_s / buckets
        self._buckets: deque[_Bucket] = deque()  # by index, oldest first
        self._total = 0  # the sum over self._buckets
        self._latest_s = -math.inf
        self._reset_at: float | None = None

    @property
    def reset_at(self) -> float | None:
        """When an operator last lifted the breaker; None if never."""
        return self._reset_at

    @property
    def buckets_held(self) -> int:
        return len(self._buckets)

    def add(self, at_s: float, sat: int) -> None:
        """Count `sat` paid at `at_s`."""
        if sat < 0:
            raise ValueError(f"a payment cannot be negative, got {sat} sat")
        if sat == 0 or (self._reset_at is not None and at_s < self._reset_at):
            return
        index = self._index(at_s)
        if self._expiry(index) <= self._latest_s:
            return
        self._latest_s = max(self._latest_s, at_s)
        self._prune(self._latest_s)
        self._total += sat
        self._merge(_Bucket(index, sat, at_s))

    def take_back(self, at_s: float, sat: int) -> None:
        """Un-count `sat` added at `at_s`: a payment that will not happen after all (its
        peg-out was never stored, or failed before it was signed). What has left the
        window, or was forgiven by a reset, is not taken back twice."""
        index = self._index(at_s)
        for bucket in self._buckets:
            if bucket.index == index:
                taken = min(sat, bucket.sat)
                bucket.sat -= taken
                self._total -= taken
                return

    def used(self, now_s: float) -> int:
        """What was paid in the window ending at `now_s` (rounded up to whole buckets)."""
        return self._total - sum(bucket.sat for bucket in self._expired(now_s))

    def room_at(self, now_s: float, sat: int) -> float:
        """The earliest time from `now_s` on when `sat` more fits: `now_s` if it fits now,
        `math.inf` if `sat` alone is over the cap."""
        if sat < 0:
            raise ValueError(f"a payment cannot be negative, got {sat} sat")
        if sat > self.cap_sat:
            return math.inf
        excess = self.used(now_s) + sat - self.cap_sat
        if excess <= 0:
            return now_s
        freed = 0
        for bucket in self._buckets:
            expiry = self._expiry(bucket.index)
            if expiry <= now_s:
                continue
            freed += bucket.sat
            if freed >= excess:
                return expiry
        raise AssertionError("sat fits an empty window, so some bucket frees the room")

    def refusal(self, now_s: float, sat: int) -> str | None:
        """None if `sat` more fits now; else why not, and when it will."""
        when = self.room_at(now_s, sat)
        if when == now_s:
            return None
        cap = f"the outflow cap of {self.cap_sat:,} sat per {_duration(self.window_s)}"
        if math.isinf(when):
            return f"{sat:,} sat alone is over {cap}: it can never fit"
        wait_s = math.ceil(when - now_s)
        return (
            f"paying {sat:,} sat more would go over {cap}: {self.used(now_s):,} sat was paid "
            f"in the window; room for {sat:,} sat returns in {wait_s:,} s, at {_utc(when)}"
        )

    def reset(self, at_s: float) -> None:
        """Lift the breaker: what was paid before `at_s` no longer counts.

        A bucket that also holds a payment from `at_s` on is kept whole, so a
        reset never forgives what was paid after it.
        """
        self._reset_at = at_s if self._reset_at is None else max(self._reset_at, at_s)
        reset_at = self._reset_at
        self._buckets = deque(bucket for bucket in self._buckets if bucket.last_s >= reset_at)
        self._total = sum(bucket.sat for bucket in self._buckets)

    def _index(self, at_s: float) -> int:
        index = math.floor(at_s / self._width)
        # Division may round up to the next bucket (which only counts the payment
        # later) but never leave a payment past its bucket's end.
        while (index + 1) * self._width <= at_s:
            index += 1
        return index

    def _expiry(self, index: int) -> float:
        """When a bucket stops counting: a window after its end."""
        return (index + 1) * self._width + self.window_s

    def _expired(self, now_s: float) -> list[_Bucket]:
        expired = []
        for bucket in self._buckets:  # expiry grows with the index: a prefix
            if self._expiry(bucket.index) > now_s:
                break
            expired.append(bucket)
        return expired

    def _prune(self, now_s: float) -> None:
        while self._buckets and self._expiry(self._buckets[0].index) <= now_s:
            self._total -= self._buckets.popleft().sat

    def _merge(self, new: _Bucket) -> None:
        buckets = self._buckets
        position = len(buckets)
        while position and buckets[position - 1].index > new.index:
            position -= 1  # a payment dated before the newest bucket: rare
        if position and buckets[position - 1].index == new.index:
            same = buckets[position - 1]
            same.sat += new.sat
            same.last_s = max(same.last_s, new.last_s)
        else:
            buckets.insert(position, new)


def _duration(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:,g} h"
    return f"{seconds:,g} s"


def _utc(at_s: float) -> str:
    # Whole seconds rounded up: the time shown is never before room returns.
    moment = datetime.fromtimestamp(math.ceil(at_s), tz=UTC)
    return moment.isoformat().replace("+00:00", "Z")
