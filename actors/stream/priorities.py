"""How urgent each outbound kind is: the outbox sends higher values first.

The names and values are governance's `RequestPriority` enum (governance.proto),
so the same number goes into `RequestMetadata.priority`. Heartbeats have no
entry: they are never buffered, a stale heartbeat proves nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from types import MappingProxyType


class RequestPriority(IntEnum):
    LOW = 1
    NORMAL = 2
    HIGH = 3
    CRITICAL = 4


PRIORITY_BY_KIND: Mapping[str, RequestPriority] = MappingProxyType({
    "registration": RequestPriority.CRITICAL,
    "signature": RequestPriority.HIGH,
    "pegin": RequestPriority.NORMAL,
    "status": RequestPriority.LOW,
    # An acknowledgement of a push (convention 8) is the one request whose loss governance
    # repairs itself (it pushes again, the node acknowledges the repeat): it never goes
    # ahead of, or evicts, a request whose loss costs the node something.
    "push_ack": RequestPriority.LOW,
})
