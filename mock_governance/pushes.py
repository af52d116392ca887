"""Governance's side of convention 8: which pushes each node acknowledged, and re-sending.

The mock advertises the `push-ack` feature in `GetCapabilities` (unless told
not to). A node that acknowledges pushes says so in its registration
(capability `push-ack`); for such a node every `FederationUpdate` and
`ProposalNotification` queued to its stream is remembered under its
`request_id` until a request with only metadata and that id comes back. When
the node registers again (a new stream, a restarted StreamActor), every push
it has not acknowledged is queued again right behind the registration ack,
with the same id: the node applies a push once and acknowledges every copy.

Pushes to a node that does not acknowledge are not remembered: the mock then
has nothing to wait for, and a large `/push_many` costs no memory here.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from typing import Any

from protocol import governance_pb2 as pb

PUSH_ACK_FEATURE = "push-ack"
PUSH_PAYLOADS = frozenset({"federation_update", "proposal_notification"})


class PushLedger:
    """Thread-safe: gRPC readers, stream writers and the control server all use it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.advertise = True  # list `push-ack` in GetCapabilities
        self.resend = True  # re-send unacknowledged pushes when a node registers
        self._acking: set[str] = set()  # nodes whose last registration declared push-ack
        self._unacked: dict[str, OrderedDict[str, pb.StreamResponse]] = {}
        self._sent: dict[str, Counter[str]] = {}  # copies queued per push id
        self._acked: dict[str, Counter[str]] = {}  # acknowledgements received per push id
        self._resent: dict[str, int] = {}  # pushes re-sent on registration, per node
        self._unknown: dict[str, Counter[str]] = {}  # acks of ids never pushed to the node

    def configure(self, *, advertise: bool | None = None, resend: bool | None = None) -> None:
        with self._lock:
            if advertise is not None:
                self.advertise = advertise
            if resend is not None:
                self.resend = resend

    def queued(self, node_id: str, response: pb.StreamResponse) -> None:
        """A response was queued to `node_id`'s stream: remember it if it is a push."""
        if response.WhichOneof("payload") not in PUSH_PAYLOADS:
            return
        request_id = response.metadata.request_id
        with self._lock:
            if node_id not in self._acking:
                return
            self._sent.setdefault(node_id, Counter())[request_id] += 1
            if request_id not in self._acked.get(node_id, ()):
                self._unacked.setdefault(node_id, OrderedDict())[request_id] = response

    def acknowledged(self, node_id: str, request_id: str) -> None:
        """A request with metadata only: the node acknowledges push `request_id`."""
        with self._lock:
            unacked = self._unacked.get(node_id)
            known = request_id in self._sent.get(node_id, ())
            if not known:
                self._unknown.setdefault(node_id, Counter())[request_id] += 1
                return
            self._acked.setdefault(node_id, Counter())[request_id] += 1
            if unacked is not None:
                unacked.pop(request_id, None)

    def registered(self, node_id: str, capabilities: list[str]) -> list[pb.StreamResponse]:
        """`node_id` registered (accepted): the pushes to queue again, oldest first."""
        acks = PUSH_ACK_FEATURE in capabilities
        with self._lock:
            if not acks:
                self._acking.discard(node_id)
                return []
            self._acking.add(node_id)
            if not self.resend:
                return []
            again = list(self._unacked.get(node_id, {}).values())
            self._resent[node_id] = self._resent.get(node_id, 0) + len(again)
            return again

    def capabilities(self, features: list[str]) -> list[str]:
        return sorted([*features, PUSH_ACK_FEATURE]) if self.advertise else features

    def to_json(self, node_id: str | None = None) -> dict[str, Any]:
        with self._lock:
            nodes = set(self._sent) | set(self._acked) | set(self._unknown) | self._acking
            if node_id is not None:
                nodes = {node_id}
            return {
                "advertise": self.advertise,
                "resend": self.resend,
                "nodes": {
                    node: {
                        "acknowledges": node in self._acking,
                        "sent": dict(self._sent.get(node, {})),
                        "acked": dict(self._acked.get(node, {})),
                        "unacked": list(self._unacked.get(node, {})),
                        "resent": self._resent.get(node, 0),
                        "unknown_acks": dict(self._unknown.get(node, {})),
                    }
                    for node in sorted(nodes)
                },
            }

    def clear(self) -> None:
        """Forget pushes and acknowledgements (not who acknowledges, nor the switches)."""
        with self._lock:
            self._unacked.clear()
            self._sent.clear()
            self._acked.clear()
            self._resent.clear()
            self._unknown.clear()
