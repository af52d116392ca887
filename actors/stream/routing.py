"""At-least-once delivery of what governance sends to the node's actors.

The StreamActor keeps every message it routed until the target answers
`Handled(request_id)`, and routes the unhandled ones again when the target's
address changes (it was restarted). A message with an id that is still
unhandled, or that was handled recently, is a duplicate from governance and
is not routed a second time; targets still apply each id once themselves,
since a `Handled` can be lost with a killed target.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

RECENTLY_HANDLED = 10_000  # ids remembered after their Handled, to drop late duplicates


class InboundRouter:
    def __init__(self, remember: int = RECENTLY_HANDLED) -> None:
        self._unhandled: dict[str, tuple[str, Any]] = {}  # request id -> (target, message)
        self._handled: OrderedDict[str, None] = OrderedDict()
        self._remember = remember

    def admit(self, request_id: str, target: str, message: Any) -> bool:
        """Track a message for `target`; False if it is a duplicate (route nothing)."""
        if request_id in self._unhandled or request_id in self._handled:
            return False
        self._unhandled[request_id] = (target, message)
        return True

    def handled(self, request_id: str) -> bool:
        """The target is done with `request_id`; False if it was not outstanding."""
        if self._unhandled.pop(request_id, None) is None:
            return False
        self._handled[request_id] = None
        if len(self._handled) > self._remember:
            self._handled.popitem(last=False)
        return True

    def unhandled_for(self, target: str) -> list[Any]:
        """The messages `target` has not confirmed yet, in the order they were routed."""
        return [message for (t, message) in self._unhandled.values() if t == target]

    def __len__(self) -> int:
        return len(self._unhandled)
