"""Open streams: one session per Stream call, each with its own outbound queue.

Anything that wants to send to a node (the reader answering a request, the
control interface pushing a message, a misbehaviour dropping streams) puts an
item on the session's queue; only the gRPC handler thread that owns the call
takes items off and writes them, because grpcio's sync API writes a stream
only from the handler's own response iterator.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from protocol import governance_pb2 as pb


@dataclass(frozen=True)
class CloseStream:
    """End the call with OK once everything queued before it has been written."""


@dataclass(frozen=True)
class DropStream:
    """Abort the call at once with UNAVAILABLE, dropping whatever is still queued."""

    details: str
    code: str = "UNAVAILABLE"  # a grpc.StatusCode name


# bytes: a frame pushed with /push_raw, written exactly as given.
Outbound = pb.StreamResponse | bytes | CloseStream | DropStream
# Told of every response queued to a node's stream (node id, response): push bookkeeping.
OnQueued = Callable[[str, pb.StreamResponse], None]


@dataclass(frozen=True)
class ConnectionInfo:
    stream_id: int
    node_id: str
    connected_at: float
    peer: str

    def to_json(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "node_id": self.node_id,
            "connected_at": self.connected_at,
            "peer": self.peer,
        }


class StreamSession:
    """One open Stream call. ``node_id`` is learnt from the requests' metadata."""

    def __init__(self, stream_id: int, peer: str, connected_at: float,
                 on_queued: OnQueued | None = None) -> None:
        self.stream_id = stream_id
        self._on_queued = on_queued
        # Held while an item is recorded and queued, and by `in_order` around a registration
        # ack and the pushes re-sent behind it: a push from another thread goes wholly
        # before them (and is among the re-sent) or wholly after, never in between.
        self._queue_lock = threading.RLock()
        self.peer = peer
        self.connected_at = connected_at
        self._node_id = ""
        self._outbound: queue.Queue[Outbound] = queue.Queue()
        self._closed = threading.Event()
        self._drop: DropStream | None = None

    @property
    def node_id(self) -> str:
        return self._node_id

    def identify(self, node_id: str) -> None:
        if node_id:
            self._node_id = node_id

    def send(self, item: Outbound) -> None:
        if self._on_queued is None or not isinstance(item, pb.StreamResponse):
            self._outbound.put(item)
            return
        with self._queue_lock:
            self._on_queued(self._node_id, item)
            self._outbound.put(item)

    def in_order(self) -> threading.RLock:
        """Hold to queue several items with nothing from another thread between them."""
        return self._queue_lock

    def next_outbound(self) -> Outbound:
        return self._outbound.get()

    def drop(self, details: str, code: str = "UNAVAILABLE") -> None:
        # Remembered as well as queued: a writer held by `stall` checks it
        # without first draining the messages queued ahead of the sentinel.
        self._drop = DropStream(details, code)
        self.send(self._drop)

    @property
    def pending_drop(self) -> DropStream | None:
        return self._drop

    def mark_closed(self) -> None:
        self._closed.set()
        # Wakes a handler thread blocked on the queue after the client went away.
        self.send(CloseStream())

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def interrupted(self) -> bool:
        return self.closed or self._drop is not None

    def info(self) -> ConnectionInfo:
        return ConnectionInfo(self.stream_id, self.node_id, self.connected_at, self.peer)


class SessionRegistry:
    """The set of open streams, safe to use from gRPC and control threads."""

    def __init__(self, on_queued: OnQueued | None = None) -> None:
        self._on_queued = on_queued
        self._lock = threading.Lock()
        self._sessions: dict[int, StreamSession] = {}
        self._ids = itertools.count(1)

    def open(self, peer: str, connected_at: float) -> StreamSession:
        with self._lock:
            session = StreamSession(next(self._ids), peer, connected_at, self._on_queued)
            self._sessions[session.stream_id] = session
        return session

    def close(self, session: StreamSession) -> None:
        with self._lock:
            self._sessions.pop(session.stream_id, None)
        session.mark_closed()

    def sessions(self, node_id: str | None = None) -> list[StreamSession]:
        with self._lock:
            sessions = list(self._sessions.values())
        return [s for s in sessions if node_id is None or s.node_id == node_id]

    def connections(self) -> list[ConnectionInfo]:
        return [session.info() for session in self.sessions()]

    def push(self, message: pb.StreamResponse | bytes, node_id: str | None = None) -> int:
        targets = self.sessions(node_id)
        for session in targets:
            session.send(message)
        return len(targets)

    def drop_all(self, details: str) -> int:
        targets = self.sessions()
        for session in targets:
            session.drop(details)
        return len(targets)

    def end_all(self) -> int:
        targets = self.sessions()
        for session in targets:
            session.send(CloseStream())
        return len(targets)
