"""Signature answers kept back by ``hold_signatures`` (and the copies POST /push_many
was asked to ``hold``), until POST /release lets them go.

A pause point for chaos tests: the node has asked, governance has signed,
and the answer is in flight for as long as the test likes. Each held answer
remembers the stream its request came in on. It is released there, and only
there: if that stream is gone the answer is dropped and counted, as a real
governance's would be, and the node re-sends the request once reconnected.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from mock_governance.sessions import StreamSession
from protocol import governance_pb2 as pb


@dataclass(frozen=True)
class Released:
    sent: int
    dropped: int  # their stream had ended or been dropped

    def to_json(self) -> dict[str, int]:
        return {"released": self.sent, "dropped": self.dropped}


@dataclass(frozen=True)
class _Held:
    session: StreamSession
    response: pb.StreamResponse


class HeldAnswers:
    """Held answers in arrival order, safe to use from gRPC and control threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: deque[_Held] = deque()
        self._dropped = 0

    def hold(self, session: StreamSession, responses: list[pb.StreamResponse]) -> None:
        with self._lock:
            self._held.extend(_Held(session, response) for response in responses)

    def release(self, count: int | None = None, node_id: str | None = None) -> Released:
        """The oldest ``count`` held answers (all by default), of ``node_id``'s if given."""
        with self._lock:
            chosen: list[_Held] = []
            kept: deque[_Held] = deque()
            for item in self._held:
                wanted = node_id is None or item.session.node_id == node_id
                if wanted and (count is None or len(chosen) < count):
                    chosen.append(item)
                else:
                    kept.append(item)
            self._held = kept
            live = [item for item in chosen if not item.session.interrupted]
            self._dropped += len(chosen) - len(live)
            # Queued under the lock: two releases racing still send in arrival order.
            for item in live:
                item.session.send(item.response)
        return Released(len(live), len(chosen) - len(live))

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            per_node = Counter(item.session.node_id for item in self._held)
            return {"held": dict(sorted(per_node.items())), "dropped": self._dropped}
