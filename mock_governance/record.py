"""What each node sent, in order: the mock's memory for tests and tools."""

from __future__ import annotations

import threading

from protocol import governance_pb2 as pb


class Recorder:
    """Every StreamRequest received, per node id (``metadata.node_id``), in arrival order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_node: dict[str, list[pb.StreamRequest]] = {}

    def record(self, request: pb.StreamRequest) -> None:
        with self._lock:
            self._by_node.setdefault(request.metadata.node_id, []).append(request)

    def snapshot(self, node_id: str | None = None) -> dict[str, list[pb.StreamRequest]]:
        """A copy, so callers can serialise it without holding the lock."""
        with self._lock:
            if node_id is not None:
                return {node_id: list(self._by_node.get(node_id, []))}
            return {node: list(requests) for node, requests in self._by_node.items()}

    def clear(self) -> int:
        """Forget everything; returns how many requests were dropped."""
        with self._lock:
            count = sum(len(requests) for requests in self._by_node.values())
            self._by_node.clear()
        return count
