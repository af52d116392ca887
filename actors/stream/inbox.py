"""The hand-over from the StreamActor's gRPC threads to the actor itself.

Thespian's `self.send` is not thread-safe, so the reader thread never talks to
the actor directly: it puts events in the inbox and, if the actor has not
been woken since it last drained, writes one byte to a socketpair whose other
end the actor watches (`ThespianWatch`). The actor reads the wake bytes, then
clears the wake flag, then drains, so an event put during a drain always
causes a new wake; no event waits for a timer, and nothing polls.

Both lanes are bounded, and neither ever drops an event:

- the ordinary lane by events (`capacity`) and by bytes (`max_bytes`: the raw
  sizes of the frames the reader hands over). A put that does not fit waits,
  so the reader stops reading the gRPC stream and HTTP/2 flow control slows
  governance down, instead of the node running out of memory. A frame larger
  than `max_bytes` still goes through once the lane is empty, alone.
- the urgent lane (heartbeat acks, which skip ahead of the data) by events
  (`urgent_capacity`). When it is full, an urgent event takes the ordinary
  lane and waits there like any frame: a governance flooding acks cannot grow
  the node's memory, and data arriving still proves the stream alive.

What the reader thread hands over is one of three events, each tagged with
the generation of the connection that read it: `Received` (a decoded frame),
`Malformed` (a frame the node cannot use) or `Closed` (the call ended); a
fourth, `CapabilitiesAnswered`, comes from the unary `GetCapabilities` call.
They live here, not beside the reader in connection.py, so that the actor's
inbound handling and its tests never import grpc.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

from actors.stream.wire.events import Inbound

URGENT_CAPACITY = 256  # heartbeat acks come one per heartbeat interval: plenty


@dataclass(frozen=True)
class Received:
    generation: int
    inbound: Inbound


@dataclass(frozen=True)
class Malformed:
    generation: int
    reason: str
    kind: str = "malformed"  # the refusal (actors.stream.wire.checks.Refusal), a metric label
    # The request id of a push (federation update, proposal) refused here, when it had a
    # valid one: it is acknowledged all the same (convention 8), or governance would
    # push it again on every session.
    push_id: str | None = None


@dataclass(frozen=True)
class CapabilitiesAnswered:
    """What `GetCapabilities`, asked when the connection opened, said about push acks:
    `error` set (and `advertised` False) when the call failed, timed out, or governance
    has no such RPC."""

    generation: int
    advertised: bool
    error: str | None = None


@dataclass(frozen=True)
class Closed:
    generation: int
    code: str  # a grpc.StatusCode name, "OK" when the server ended the stream cleanly
    details: str


InboxEvent = Received | Malformed | Closed | CapabilitiesAnswered
Event = TypeVar("Event")


class Inbox(Generic[Event]):
    """The StreamActor's is an ``Inbox[InboxEvent]``; the type is open for tests."""

    def __init__(self, capacity: int, max_bytes: int | None = None,
                 urgent_capacity: int = URGENT_CAPACITY) -> None:
        """`max_bytes` None: bounded by events only."""
        if capacity < 1 or urgent_capacity < 1 or (max_bytes is not None and max_bytes < 1):
            raise ValueError("inbox bounds must be positive")
        self._capacity = capacity
        self._max_bytes = max_bytes
        self._urgent_capacity = urgent_capacity
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)  # notified when a drain frees room
        self._events: deque[Event] = deque()
        self._sizes: deque[int] = deque()  # beside _events, so no event is wrapped in a tuple
        self._bytes = 0
        self._urgent: deque[Event] = deque()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._armed = False  # a wake byte is on its way and not yet consumed

    def fileno(self) -> int:
        """The descriptor the actor watches."""
        return self._wake_reader.fileno()

    @property
    def held_bytes(self) -> int:
        """Bytes of the frames in the ordinary lane."""
        return self._bytes

    # -- producer side (any thread) ---------------------------------------------

    def put(self, event: Event, timeout_s: float | None = None, size: int = 0) -> None:
        """Queue `event`, of `size` bytes, and wake the actor; while it does not fit, wait
        (up to `timeout_s`, then raise `queue.Full`)."""
        with self._room:
            if not self._fits(size) and not self._room.wait_for(
                    lambda: self._fits(size), timeout_s):
                raise queue.Full
            self._events.append(event)
            self._sizes.append(size)
            self._bytes += size
        self.wake()

    def put_urgent(self, event: Event, timeout_s: float | None = None, size: int = 0) -> None:
        """Queue `event` ahead of everything else; if the urgent lane is full, `put` it.

        For heartbeat acks: they prove the stream alive when they reach the
        node, not when the actor has worked through a backlog of data.
        """
        with self._lock:
            urgent = len(self._urgent) < self._urgent_capacity
            if urgent:
                self._urgent.append(event)
        if urgent:
            self.wake()
        else:
            self.put(event, timeout_s, size)

    def wake(self) -> None:
        if self._armed:
            return
        self._armed = True
        # A full socket buffer already holds wake bytes; a closed one means we are stopping.
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"\x01")

    def _fits(self, size: int) -> bool:
        if len(self._events) >= self._capacity:
            return False
        # An empty lane takes any frame, or one larger than the bound would wait forever.
        return self._max_bytes is None or not self._bytes or self._bytes + size <= self._max_bytes

    # -- consumer side (the actor's thread) ---------------------------------------

    def drain(self, max_items: int) -> list[Event]:
        """Take every urgent event and ordinary ones up to `max_items` in all; wake again if
        more are left."""
        # Consume the wake bytes first, then clear the flag, then drain: a byte the
        # producer sends after the flag is cleared wakes us again, and anything it
        # put before that is still in the queue for the drain below. (Clearing the
        # flag before reading the bytes could swallow a new byte and leave the flag
        # set for good: the actor would never be woken again.)
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while self._wake_reader.recv(4096):
                pass
        self._armed = False
        with self._room:
            events = list(self._urgent)
            self._urgent.clear()
            take = min(max_items - len(events), len(self._events))
            if take > 0:
                pop_event, pop_size = self._events.popleft, self._sizes.popleft
                freed = 0
                for _ in range(take):
                    events.append(pop_event())
                    freed += pop_size()
                self._bytes -= freed
                self._room.notify_all()
            more = bool(self._events)
        if more:
            self.wake()  # keep batches bounded so other messages get their turn
        return events

    def __len__(self) -> int:
        return len(self._events) + len(self._urgent)

    def close(self) -> None:
        self._wake_reader.close()
        self._wake_writer.close()
