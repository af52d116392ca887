"""The hand-over from the StreamActor's gRPC threads to the actor itself.

Thespian's `self.send` is not thread-safe, so the reader thread never talks to
the actor directly: it puts events on a bounded queue and, if the actor has
not been woken since it last drained, writes one byte to a socketpair whose
other end the actor watches (`ThespianWatch`). The actor reads the wake bytes,
then clears the wake flag, then drains, so an event put during a drain always
causes a new wake; no event waits for a timer, and nothing polls.

A full queue blocks the reader thread, which in turn stops reading the gRPC
stream: governance is slowed by HTTP/2 flow control instead of the node
running out of memory.
"""

from __future__ import annotations

import collections
import contextlib
import queue
import socket
from typing import Any


class Inbox:
    def __init__(self, capacity: int) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=capacity)
        self._urgent: collections.deque[Any] = collections.deque()  # thread-safe appends/pops
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._armed = False  # a wake byte is on its way and not yet consumed

    def fileno(self) -> int:
        """The descriptor the actor watches."""
        return self._wake_reader.fileno()

    # -- producer side (any thread) ---------------------------------------------

    def put(self, event: Any, timeout_s: float | None = None) -> None:
        """Queue `event` (blocking while the inbox is full) and wake the actor."""
        self._queue.put(event, timeout=timeout_s)
        self.wake()

    def put_urgent(self, event: Any) -> None:
        """Queue `event` ahead of everything else (never blocks).

        For heartbeat acks: they prove the stream alive when they reach the
        node, not when the actor has worked through a backlog of data.
        """
        self._urgent.append(event)
        self.wake()

    def wake(self) -> None:
        if self._armed:
            return
        self._armed = True
        # A full socket buffer already holds wake bytes; a closed one means we are stopping.
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"\x01")

    # -- consumer side (the actor's thread) ---------------------------------------

    def drain(self, max_items: int) -> list[Any]:
        """Take up to `max_items` events; wake again if more are left."""
        # Consume the wake bytes first, then clear the flag, then drain: a byte the
        # producer sends after the flag is cleared wakes us again, and anything it
        # put before that is still in the queue for the drain below. (Clearing the
        # flag before reading the bytes could swallow a new byte and leave the flag
        # set for good: the actor would never be woken again.)
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while self._wake_reader.recv(4096):
                pass
        self._armed = False
        events = []
        while self._urgent:
            events.append(self._urgent.popleft())
        while len(events) < max_items:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if len(events) == max_items and not self._queue.empty():
            self.wake()  # keep batches bounded so other messages get their turn
        return events

    def __len__(self) -> int:
        return self._queue.qsize() + len(self._urgent)

    def close(self) -> None:
        self._wake_reader.close()
        self._wake_writer.close()
