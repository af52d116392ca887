"""Counters for GET /stats: request kinds received and response kinds sent, per node."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from protocol import governance_pb2 as pb

RAW = "raw"  # bytes pushed with /push_raw, sent as they are
METADATA_ONLY = "metadata_only"  # an acknowledgement (convention 7)
NO_PAYLOAD = "no_payload"  # a request without a payload


def request_kind(request: pb.StreamRequest) -> str:
    return request.WhichOneof("payload") or NO_PAYLOAD


def response_kind(response: pb.StreamResponse | bytes) -> str:
    if isinstance(response, bytes):
        return RAW
    return response.WhichOneof("payload") or METADATA_ONLY


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: dict[str, Counter[str]] = {}
        self._sent: dict[str, Counter[str]] = {}
        self._streams_refused = 0

    def received(self, node_id: str, kind: str) -> None:
        with self._lock:
            self._received.setdefault(node_id, Counter())[kind] += 1

    def sent(self, node_id: str, kind: str) -> None:
        with self._lock:
            self._sent.setdefault(node_id, Counter())[kind] += 1

    def stream_refused(self) -> None:
        with self._lock:
            self._streams_refused += 1

    def to_json(self, node_id: str | None = None) -> dict[str, Any]:
        with self._lock:
            nodes = set(self._received) | set(self._sent)
            if node_id is not None:
                nodes = {node_id}
            return {
                "nodes": {
                    node: {
                        "received": dict(self._received.get(node, {})),
                        "sent": dict(self._sent.get(node, {})),
                    }
                    for node in sorted(nodes)
                },
                "streams_refused": self._streams_refused,
            }

    def clear(self) -> None:
        with self._lock:
            self._received.clear()
            self._sent.clear()
            self._streams_refused = 0
