"""At-least-once delivery of what governance sends to the node's actors, with flow control.

The StreamActor keeps every message it routed until the target answers
`Handled(request_id)`, and routes the unhandled ones again when the target's
address changes (it was restarted). A message with an id that is still
unhandled, or that was handled recently, is a duplicate from governance and
is not routed a second time; targets still apply each id once themselves,
since a `Handled` can be lost with a killed target.

Each target is its own id space: messages are keyed by `(target, request_id)`.
The bridge gets only signature answers and the chain only what governance
pushes, so a signature answer `x/1` and a federation update `x/1` are two
messages, and a `Handled` is matched by its sender's target (`handled`).

At most `max_in_flight` messages per target are sent and not yet handled;
the rest wait here. Without that bound a fast governance stream would pile
up sends in Thespian's transmit queue, where each new send costs time in
proportion to the queue (measured: two thirds of the StreamActor's time at
a few thousand queued).
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

from actors.messages import ApplySignatures, ProposalReceived, UpdateFederation

RECENTLY_HANDLED = 10_000  # ids remembered after their Handled, to drop late duplicates
MAX_IN_FLIGHT = 2_000  # per target: sent and not yet confirmed
SMALL_SENDS = 2  # per target: partial batches that may be unconfirmed at once
# Targets whose messages must arrive in the order governance sent them: federation
# updates are applied by version, and Thespian may deliver two sends from one actor
# out of order. One send at a time to these: they are few (not on the signature path).
IN_ORDER = frozenset({"chain"})
# A target that has confirmed nothing of what it was sent for this long is sent it all
# again (it dedupes by id): a message it refused, as from a sender it did not know yet,
# or that was lost, must not hold its lane for good.
REDELIVER_S = 30.0

# What governance sends that goes on to the bridge or the chain.
Routable = ApplySignatures | UpdateFederation | ProposalReceived


def routed_id(message: object) -> str | None:
    """The id a routed message is tracked (and confirmed `Handled`) under: a proposal's
    is its proposal_id. None for anything else the stream sends a target (a reply such
    as `Delivered` or `GovernanceError` carries a request id of another space)."""
    if isinstance(message, ProposalReceived):
        return message.proposal_id
    if isinstance(message, ApplySignatures | UpdateFederation):
        return message.request_id
    return None

# (target, request id): one id space per target. Made once, when a message is admitted,
# and reused by every structure below.
Key = tuple[str, str]


class InboundRouter:
    def __init__(self, remember: int = RECENTLY_HANDLED,
                 max_in_flight: int = MAX_IN_FLIGHT, small_sends: int = SMALL_SENDS,
                 in_order: frozenset[str] = frozenset(),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._unhandled: dict[Key, Routable] = {}
        self._handled: OrderedDict[Key, None] = OrderedDict()
        self._waiting: dict[str, deque[Key]] = {}  # target -> admitted, not yet sent
        self._in_flight: dict[str, set[Key]] = {}  # target -> sent, not yet handled
        # Partial batches not yet wholly confirmed: target -> {send: its ids not handled}.
        self._small: dict[str, dict[int, int]] = {}
        self._small_of: dict[Key, int] = {}  # in flight -> the partial batch that carried it
        self._send_count = 0
        self._remember = remember
        self._max_in_flight = max_in_flight
        self._max_small = small_sends
        self._in_order = in_order  # targets with at most one unconfirmed send
        self._clock = clock
        # target -> when it last made progress: confirmed something, or was sent
        # something with nothing in flight (`stalled`)
        self._progress: dict[str, float] = {}

    def admit(self, request_id: str, target: str, message: Routable) -> bool:
        """Track a message for `target`; False if it is a duplicate (route nothing)."""
        key = (target, request_id)
        if key in self._unhandled or key in self._handled:
            return False
        self._unhandled[key] = message
        self._waiting.setdefault(target, deque()).append(key)
        return True

    def take(self, target: str, max_items: int) -> list[Routable]:
        """Messages to send to `target` now: up to `max_items`, within the in-flight bound.

        Batches adapt to the load, as in Nagle's algorithm. A full batch goes
        whenever the in-flight bound has room for it. A partial one goes at
        once while fewer than `small_sends` partial batches to the target are
        unconfirmed: low latency when quiet, and a burst's tail is not held
        back. Beyond that it waits for confirmations, so that a steady trickle
        of messages does not become a Thespian send each (a send costs the
        same for one message or many). A batch cut short by the in-flight
        bound, with more waiting behind it, waits for room for a full one.

        A target in `in_order` has at most one send unconfirmed, so it receives
        its messages in the order they were admitted.

        (Holding every partial batch while anything was in flight made a
        burst's last few hundred messages wait for all before them to be
        verified and committed: a fifth of the inbound benchmark's time.)
        """
        waiting = self._waiting.get(target)
        if not waiting:
            return []
        in_flight = self._in_flight.setdefault(target, set())
        if in_flight and target in self._in_order:
            return []  # the next send goes once the target confirmed all of this one
        small = self._small.setdefault(target, {})
        room = self._max_in_flight - len(in_flight)
        size = min(max_items, room, len(waiting))
        if size <= 0:
            return []
        if in_flight and size < max_items and (len(waiting) > size
                                               or len(small) >= self._max_small):
            return []
        if not in_flight:
            self._progress[target] = self._clock()
        self._send_count += 1
        send, partial = self._send_count, size < max_items
        taken: list[Routable] = []
        while waiting and len(taken) < size:
            key = waiting.popleft()
            message = self._unhandled.get(key)
            if message is not None:
                in_flight.add(key)
                if partial:
                    self._small_of[key] = send
                taken.append(message)
        if partial and taken:
            small[send] = len(taken)
        return taken

    def handled(self, request_id: str, target: str | None = None) -> str | None:
        """`target` is done with `request_id`; returns that target, None if not outstanding.

        Without a target (a `Handled` from an address the actor does not know, such as
        a target's predecessor), the first target, in the order they were first routed
        to, that has the id unhandled."""
        if target is None:
            target = next((t for t in self._waiting if (t, request_id) in self._unhandled),
                          None)
            if target is None:
                return None
        key = (target, request_id)
        if not self._drop(key):
            return None
        self._handled[key] = None
        if len(self._handled) > self._remember:
            self._handled.popitem(last=False)
        return target

    def failed(self, request_id: str, target: str) -> bool:
        """`target` failed on `request_id` (its handler raised): no longer tracked, and not
        remembered as handled, so governance's next push of it is routed again. False if
        it was not outstanding."""
        return self._drop((target, request_id))

    def stalled(self, after_s: float = REDELIVER_S) -> list[str]:
        """Targets with messages in flight that confirmed nothing for `after_s`."""
        now = self._clock()
        return [target for target, keys in self._in_flight.items()
                if keys and now - self._progress.get(target, now) >= after_s]

    def _drop(self, key: Key) -> bool:
        target = key[0]
        if self._unhandled.pop(key, None) is None:
            return False
        self._progress[target] = self._clock()
        self._in_flight.get(target, set()).discard(key)
        send = self._small_of.pop(key, None)
        small = self._small.get(target, {})
        if send in small:
            small[send] -= 1
            if not small[send]:
                del small[send]
        return True

    def was_handled(self, request_id: str, target: str) -> bool:
        """Whether `target` confirmed `request_id` recently (within `remember` ids)."""
        return (target, request_id) in self._handled

    def requeue(self, target: str) -> int:
        """The target was replaced, or stalled: everything it has not confirmed waits to be
        sent again."""
        keys = [key for key in self._unhandled if key[0] == target]
        self._waiting[target] = deque(keys)
        self._in_flight[target] = set()
        self._small[target] = {}
        for key in keys:
            self._small_of.pop(key, None)
        return len(keys)

    def unhandled_for(self, target: str) -> list[Routable]:
        """The messages `target` has not confirmed yet, in the order they were routed."""
        return [message for key, message in self._unhandled.items() if key[0] == target]

    def in_flight(self, target: str) -> int:
        return len(self._in_flight.get(target, ()))

    def __len__(self) -> int:
        return len(self._unhandled)
