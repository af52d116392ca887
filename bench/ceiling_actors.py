"""The actor ceiling's two actors: a sender and a receiver, each its own process.

Driven by `bench.ceilings.actor_ceiling` through the ActorSystem API:

1. `Prepare` to the sender: it builds the run's messages in its own process
   (the node's `ApplySignatures` / `UpdateFederation`, one per frame, or
   `Batch`es of them), so that neither building nor shipping them is timed;
2. `Arm` to the receiver: how many items to expect; the receiver reports to
   whoever armed it;
3. `Go` to the sender: it sends everything to the receiver, `slice_size`
   sends per `receiveMessage`, re-triggering itself with a self-send;
4. the receiver counts, and at the last item sends `Arrived` (the time from
   the first arrival to the last, taken in its own process) to the armer.

The sender is written for speed within Thespian's own limits: every send of
one `receiveMessage` goes to the actor's transmit queue, from which up to
the transmit window (THESPIAN_MAX_PENDING_TRANSMITS, 20 by default) are in
progress; past 950 queued Thespian stops receiving until the queue is down
to 780 (470 msg/s measured) and past 1,050 it drops sends. A self-send is
handled when its turn in that queue comes, so the next slice starts once
the previous one has been handed to the transport, with the window's worth
still on its way: the queue never holds more than one slice, and the
receiver still has work while the sender queues the next slice. `Go` may
set the window for the run (see `bench.ceilings` for the measurements).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from thespian.actors import Actor, ActorAddress
from thespian.system.transport import asyncTransportBase

from actors.messages import ApplySignatures, Batch, UpdateFederation
from bench.ceiling_payloads import routed_messages


@dataclass(frozen=True)
class Prepare:
    """Build `count` items of `payload`, sent one per message, or in `Batch`es of `batch`."""

    payload: str
    count: int
    batch: int = 0  # 0: one item per send


@dataclass(frozen=True)
class Prepared:
    sends: int
    pid: int


@dataclass(frozen=True)
class Arm:
    count: int  # items: a Batch counts as its items


@dataclass(frozen=True)
class Armed:
    pid: int


@dataclass(frozen=True)
class Go:
    receiver: ActorAddress
    slice_size: int
    # Thespian's transmit window (THESPIAN_MAX_PENDING_TRANSMITS) in the sender's
    # process for this run; None: the library's default (20).
    transmit_window: int | None = None


@dataclass(frozen=True)
class _NextSlice:
    """The sender's self-send: the previous slice has left the transmit queue."""


@dataclass(frozen=True)
class Arrived:
    items: int
    first_items: int  # in the first arrival: not part of any interval
    elapsed_s: float  # first arrival to last, in the receiver's process
    sends: int  # Thespian messages received

    @property
    def rate(self) -> float:
        return (self.items - self.first_items) / self.elapsed_s


# As Thespian read it from the environment at its import (20 unless the variable is set).
DEFAULT_TRANSMIT_WINDOW: int = asyncTransportBase.MAX_PENDING_TRANSMITS


def set_transmit_window(window: int | None) -> None:
    """Set THESPIAN_MAX_PENDING_TRANSMITS for this process from now on.

    Thespian reads the variable once, at import: it is imported long before
    this actor was forked, so the setting is changed where Thespian keeps it, a
    module global that every transmit consults afresh.
    """
    asyncTransportBase.MAX_PENDING_TRANSMITS = (
        DEFAULT_TRANSMIT_WINDOW if window is None else window)


class CeilingSender(Actor):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.items: tuple[str, list[Any]] = ("", [])  # payload, messages built for it
        self.outgoing: list[Any] = []
        self.position = 0
        self.target: ActorAddress | None = None
        self.slice_size = 1

    def receiveMessage(self, message: Any, sender: ActorAddress) -> None:
        if isinstance(message, _NextSlice):
            self._send_slice()
        elif isinstance(message, Go):
            self.target, self.slice_size, self.position = message.receiver, message.slice_size, 0
            set_transmit_window(message.transmit_window)
            self._send_slice()
        elif isinstance(message, Prepare):
            payload, items = self.items
            if payload != message.payload or len(items) < message.count:
                items = routed_messages(message.payload, message.count)  # ~20 us per message
                self.items = (message.payload, items)
            # Message i is the same whatever the count: a shorter run takes a prefix.
            items = items[:message.count]
            if message.batch:
                self.outgoing = [Batch(tuple(items[start:start + message.batch]))
                                 for start in range(0, len(items), message.batch)]
            else:
                self.outgoing = list(items)
            self.send(sender, Prepared(len(self.outgoing), os.getpid()))

    def _send_slice(self) -> None:
        end = min(self.position + self.slice_size, len(self.outgoing))
        send, target = self.send, self.target
        assert target is not None  # set by the Prepare that started the run
        for index in range(self.position, end):
            send(target, self.outgoing[index])
        self.position = end
        if end < len(self.outgoing):
            send(self.myAddress, _NextSlice())


_ROUTED = (ApplySignatures, UpdateFederation)


class CeilingReceiver(Actor):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.expected = 0
        self.received = 0
        self.sends = 0
        self.first_at = 0.0
        self.first_items = 0
        self.report_to: ActorAddress | None = None

    def receiveMessage(self, message: Any, sender: ActorAddress) -> None:
        # The payload types first: they are all but a handful of the messages.
        if isinstance(message, _ROUTED):
            self._count(1)
        elif isinstance(message, Batch):
            self._count(len(message.items))
        elif isinstance(message, Arm):
            self.expected, self.received, self.sends = message.count, 0, 0
            self.report_to = sender
            self.send(sender, Armed(os.getpid()))

    def _count(self, items: int) -> None:
        now = time.perf_counter()
        if self.received == 0:
            self.first_at, self.first_items = now, items
        self.received += items
        self.sends += 1
        if self.received >= self.expected and self.report_to is not None:
            self.send(self.report_to, Arrived(self.received, self.first_items,
                                              now - self.first_at, self.sends))
            self.report_to = None
