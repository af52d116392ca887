"""What every actor of the node does, whatever its job.

- It is told who it is by its supervisor's `_Start` (name, config), ties its
  process's life to its parent's, and answers `_Started` when it is ready.
- It answers `Ping` with `Pong(nonce, name, pid)`.
- It keeps the current address of every other actor of the node, by name,
  from the `_Peers` its supervisor forwards after any (re)start.
- It unpacks a `Batch` and handles each item as if it came alone; what the
  items send goes out batched per destination.
- A message that may wait a little (`send_soon`, such as a confirmation) rides
  with the next send to its address if one comes within `RIDE_S`, else goes
  alone: at a moderate rate, a Thespian hop fewer.
- Anything it has no handler for is logged and counted, never fatal.
- What changes state only a peer or its supervisor may change it takes only from the
  address the tree gave that peer (`actors.senders`). One from an address its directory
  does not name is held: a peer restarted a moment ago may be heard before the `_Peers`
  naming it. Each newer `_Peers` handles what it names; what none names within `HOLD_S`
  is dropped, counted and logged.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from thespian.actors import (
    ActorAddress,
    ActorExitRequest,
    ActorSystemMessage,
    ActorTypeDispatcher,
    PoisonMessage,
    ThespianWatch,
    WakeupMessage,
)

from actors.lifecycle import (
    _FatalError,
    _GetPeers,
    _MessageFailed,
    _Peers,
    _Reconfigure,
    _Shutdown,
    _Start,
    _Started,
)
from actors.messages import Batch, Ping, Pong
from actors.senders import HeldMessages, Senders, Verdict, judge, rules_for
from nodeconfig import NodeConfig
from nodeconfig.redact import redact_text
from runtime import logcontext, metrics, tracing
from runtime.loglevel import apply_level
from runtime.logs import actor_logger, log_directly
from runtime.processes import ParentGoneError, die_with_parent
from runtime.titles import actor_title, set_title

# The longest a `send_soon` message waits for a send to ride with. Under load the next
# send to its address comes within milliseconds.
RIDE_S = 0.02
# As many as this waiting for one address go at once, without waiting for company. A
# sender that waits for confirmations would otherwise wait `RIDE_S` on every turn: the
# stream sends a target at most two small batches unconfirmed (`SMALL_SENDS`), so a
# third answer waits for the bridge's `Handled` for the first two (Nagle's algorithm
# meeting delayed acknowledgements, as in TCP, which also acknowledges every second
# segment at once).
RIDE_MAX = 2


class _RidersDue:
    """Wakeup payload: the messages waiting to ride have waited long enough."""


class _Outgoing:
    """Messages held back per destination, in the order they were first held. A list of
    pairs, not a dict: Thespian addresses are not hashable."""

    def __init__(self) -> None:
        self.pairs: list[tuple[ActorAddress, list[object]]] = []

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def get(self, address: ActorAddress) -> list[object] | None:
        return next((queued for held, queued in self.pairs if held == address), None)

    def add(self, address: ActorAddress, message: object) -> list[object]:
        """Hold `message` for `address`; returns all held for it."""
        queued = self.get(address)
        if queued is None:
            queued = []
            self.pairs.append((address, queued))
        queued.append(message)
        return queued

    def pop(self, address: ActorAddress) -> list[object]:
        for index, (held, queued) in enumerate(self.pairs):
            if held == address:
                del self.pairs[index]
                return queued
        return []


def _one_send(messages: list[object]) -> object:
    return messages[0] if len(messages) == 1 else Batch(tuple(messages))


class NodeActor(ActorTypeDispatcher):
    """Base class of every actor of the node (workers and supervisors)."""

    name: str = "unnamed"

    def __init__(self) -> None:
        super().__init__()
        # The config arrives with `_Start`, the supervisor's first message; every handler
        # that reads it runs after that one. Until then it is None, which only the root's
        # NodeStatus checks for (a status asked while the root awaits its `_Start`).
        self.config: NodeConfig = None  # type: ignore[assignment]  # None only until _Start
        self.log: logging.Logger = actor_logger(self.name)
        self.peers: dict[str, ActorAddress] = {}
        self.peers_version = 0
        self.started_at: float | None = None
        self.restarts = 0
        self._coalescing: _Outgoing | None = None  # see `coalesced_sends`
        self._riders = _Outgoing()  # see `send_soon`
        self._riders_armed = False
        self.supervisor_address: ActorAddress | None = None
        self.senders: dict[type, Senders] = rules_for(self.name)  # again at `_Start`
        self.held = HeldMessages()
        self.clock = time.monotonic  # injectable: held messages expire by it

    # -- lifecycle hooks for subclasses ---------------------------------------

    def on_start(self, start: _Start) -> None:
        """Called once, in the actor's own process, before `_Started` is sent."""

    def on_peers_changed(self) -> None:
        """Called after `self.peers` was replaced."""

    def on_stop(self) -> None:
        """Called when the actor is asked to exit."""

    def on_reconfigure(self, config: NodeConfig, changed: tuple[str, ...]) -> None:
        """Called after a reloaded config replaced `self.config` (see `_Reconfigure`)."""

    # -- messages --------------------------------------------------------------

    def receiveMessage(self, message: object, sender: ActorAddress) -> ThespianWatch | None:
        if self.held:  # expired here: health pings come every few seconds
            self._expire_held()
        rule = self.senders.get(type(message))
        if rule is not None and not self._admitted(rule, message, sender):
            return None
        if type(message) is WakeupMessage and isinstance(message.payload, _RidersDue):
            self.ride_due()  # here, so that no subclass's own wakeup handler can swallow it
            return None
        return self.handle(message, sender)

    def handle(self, message: object, sender: ActorAddress) -> ThespianWatch | None:
        """Dispatch a message whose sender may send it. Log lines written meanwhile are
        about it (a JSON line's `request_id`); a message carrying a span context is
        handled in a span under it (`runtime/tracing.py`)."""
        previous, logcontext.handling = logcontext.handling, message
        try:
            if tracing.active and getattr(message, "traceparent", None) is not None:
                with tracing.span(f"{self.name}.{type(message).__name__}",
                                  getattr(message, "traceparent", None)):
                    return super().receiveMessage(message, sender)
            return super().receiveMessage(message, sender)
        except Exception as exc:
            # Thespian retries the message once, then returns it to its sender as a
            # PoisonMessage; the actor lives on. Counted and logged here, where it
            # failed: a poison message never causes a restart, let alone a loop.
            metrics.MESSAGE_FAILURES.labels(actor=self.name).inc()
            self.log.error("%s failed on a %s: %r", self.name, type(message).__name__, exc)
            if self.supervisor_address is not None:
                self.send(self.supervisor_address,
                          _MessageFailed(self.name, type(message).__name__,
                                         redact_text(repr(exc))[:200]))
            raise
        finally:
            logcontext.handling = previous

    # -- who may say what ------------------------------------------------------

    def _admitted(self, rule: Senders, message: object, sender: ActorAddress) -> bool:
        verdict = judge(rule, message, sender, self.peers, self.supervisor_address,
                        self._own_address())
        if verdict is Verdict.ACCEPT:
            return True
        kind = type(message).__name__
        if verdict is Verdict.HOLD and self.held.hold(message, sender, self.clock()):
            metrics.MESSAGES_HELD.labels(actor=self.name, message=kind).inc()
            self.log.debug("holding a %s from %s until the next directory", kind, sender)
        else:
            self._refuse(kind, sender, "the held queue is full" if verdict is Verdict.HOLD
                         else "not from its supervisor or itself")
        return False

    def _refuse(self, kind: str, sender: ActorAddress, why: str) -> None:
        metrics.MESSAGES_REFUSED.labels(actor=self.name, message=kind).inc()
        self.log.warning("refused a %s from %s: %s", kind, sender, why)

    def _own_address(self) -> ActorAddress | None:
        ref = getattr(self, "_myRef", None)  # absent outside an actor system (unit tests)
        return ref.address if ref is not None else None

    def _release_held(self) -> None:
        """A newer directory: handle, in arrival order, what it now admits. The rest stays
        held until `HOLD_S`: a fresh actor is sent every directory made since its supervisor
        created it, oldest first, so the next one may well be older than its sender."""
        me = self._own_address()

        def admitted(held: Any) -> bool:
            rule = self.senders[type(held.message)]
            return judge(rule, held.message, held.sender, self.peers, self.supervisor_address,
                         me) is Verdict.ACCEPT

        for held in self.held.release(admitted):
            self.log.debug("a held %s from %s is from a peer the directory now names",
                           held.kind, held.sender)
            try:
                self.handle(held.message, held.sender)
            except Exception as exc:  # one bad message must not lose the others released
                metrics.MESSAGE_FAILURES.labels(actor=self.name).inc()
                self.log.error("%s failed on a held %s: %s", self.name, held.kind,
                               redact_text(repr(exc)))

    def _expire_held(self) -> None:
        for held in self.held.expire(self.clock()):
            names = sorted(self.senders[type(held.message)].allowed(held.message))
            named = ", ".join(f"{name} at {self.peers.get(name)}" for name in names)
            self._refuse(held.kind, held.sender, f"no directory named it within "
                         f"{self.held.hold_s:g}s (the current one has {named or 'no sender'})")

    # -- the tree's messages ----------------------------------------------------

    def receiveMsg__Start(self, message: _Start, sender: ActorAddress) -> None:
        self.name = message.name
        self.senders = rules_for(message.name)
        self.config = message.config
        self.supervisor_address = sender
        settings = message.config.logging
        log_directly(settings.file, settings.level, settings.rate_limit, settings.format)
        self.log = actor_logger(message.name)
        if not message.children:  # a worker; supervisors make no spans, so need no exporter
            tracing.start(message.config.tracing, message.name, message.config.node.id)
        try:
            die_with_parent(message.supervisor_pid or os.getppid())
        except ParentGoneError as exc:
            # Our supervisor died while we were being forked; its replacement
            # creates a new us. Staying would leave a second copy running.
            self.log.warning("exiting at once: %s", exc)
            os._exit(0)
        self.started_at = time.time()
        self.restarts = message.restarts
        set_title(actor_title(message.config.node.id, message.name, type(self)))
        try:
            self.on_start(message)
        except Exception as exc:
            self._start_failed(exc)
            return
        metrics.ACTOR_UP.labels(actor=self.name).set(1)
        metrics.declare_actor(self.name)
        self.log.info("started pid=%d supervisor=%s", os.getpid(), message.supervisor)
        self.send(sender, _Started(self.name, os.getpid(), message.generation))

    def receiveMsg__Reconfigure(self, message: _Reconfigure, sender: ActorAddress) -> None:
        if self.started_at is None:
            return  # before `_Start`: the supervisor starts us with its config, the new one
        self.config = message.config
        apply_level(logging.getLogger("alys"), message.config.logging.level)
        self.on_reconfigure(message.config, message.changed)
        if message.changed:
            self.log.info("reloaded config in force: %s", ", ".join(message.changed))

    def _start_failed(self, exc: Exception) -> None:
        """A start that raised is fatal, reported with its text redacted. Not re-raised:
        Thespian would retry the `_Start`, then log it and the traceback in its own log."""
        reason = redact_text(f"start failed: {type(exc).__name__}: {exc}")
        self.log.error("cannot go on: %s", reason)
        if self.supervisor_address is not None:
            self.send(self.supervisor_address, _FatalError(self.name, reason))
        self.send(self.myAddress, ActorExitRequest())

    def receiveMsg_Ping(self, message: Ping, sender: ActorAddress) -> None:
        self.send(sender, Pong(message.nonce, self.name, os.getpid()))

    def receiveMsg__Peers(self, message: _Peers, sender: ActorAddress) -> None:
        if message.version and message.version <= self.peers_version:
            return  # an older directory overtaken by a newer one
        self.peers_version = message.version
        self.peers = dict(message.addresses)
        self.on_peers_changed()
        if self.held:
            self._release_held()

    def receiveMsg__GetPeers(self, message: _GetPeers, sender: ActorAddress) -> None:
        self.send(sender, _Peers(tuple(sorted(self.peers.items())), self.peers_version))

    def receiveMsg_Batch(self, message: Batch, sender: ActorAddress) -> None:
        # What the items send (typically one `Handled` each) goes out as one Batch
        # per destination: a Thespian hop costs the same for one message or many,
        # and a thousand single sends from one receiveMessage get throttled.
        with self.coalesced_sends():
            for item in message.items:
                self.receiveMessage(item, sender)

    @contextmanager
    def coalesced_sends(self) -> Iterator[None]:
        """Within the block, sends are gathered and go out as one Batch per destination."""
        if self._coalescing is not None:  # nested: the outer block sends
            yield
            return
        self._coalescing = _Outgoing()
        try:
            yield
        finally:
            coalesced, self._coalescing = self._coalescing, None
            for address, queued in coalesced.pairs:
                self.send(address, _one_send(queued))

    def send_soon(self, address: ActorAddress, message: object) -> None:
        """Send `message` with the next send to `address`, or within `RIDE_S` if none comes:
        for what is correct later and only costly now, such as a `Handled`. `RIDE_MAX` of
        them waiting for one address go at once."""
        this_turn = self._coalescing.get(address) if self._coalescing is not None else None
        if this_turn is not None:  # something goes there at the end of this turn
            this_turn.append(message)
            return
        if len(self._riders.add(address, message)) >= RIDE_MAX:
            self.send(address, Batch(tuple(self._riders.pop(address))))
        elif not self._riders_armed:
            self._riders_armed = True
            self.wakeupAfter(RIDE_S, payload=_RidersDue())

    def ride_due(self) -> None:
        """Send every message still waiting to ride (the `_RidersDue` wakeup)."""
        self._riders_armed = False
        riders, self._riders = self._riders, _Outgoing()
        for address, queued in riders.pairs:
            self.send(address, _one_send(queued))

    def receiveMsg_WakeupMessage(self, message: WakeupMessage, sender: ActorAddress) -> None:
        self.on_wakeup(message.payload)

    def on_wakeup(self, payload: object) -> None:
        """A wakeup scheduled by the subclass."""
        self.log.warning("%s has no use for a wakeup with %r", self.name, payload)

    def send(self, targetAddr: ActorAddress, msg: object) -> None:
        riding = self._riders.pop(targetAddr) if self._riders else []
        if self._coalescing is not None:
            for message in (*riding, msg):
                self._coalescing.add(targetAddr, message)
            return
        if riding and isinstance(msg, ActorSystemMessage):
            # Thespian acts on its own messages only when they come alone.
            super().send(targetAddr, _one_send(riding))
        elif riding:  # sent earlier, so in front
            items = msg.items if isinstance(msg, Batch) else (msg,)
            msg = Batch((*riding, *items))
        super().send(targetAddr, msg)

    def receiveMsg_ActorExitRequest(self, message: ActorExitRequest, sender: ActorAddress) -> None:
        try:
            self.ride_due()  # what waits to ride goes before the process does
            self.on_stop()
        finally:
            tracing.stop()  # the spans this process still holds go out before it exits

    def receiveMsg__Shutdown(self, message: _Shutdown, sender: ActorAddress) -> None:
        """A graceful stop asked by the supervisor (supervisors stop their children first)."""
        self.log.info("stopping: asked by %s", "the launcher" if self.name == "root"
                      else "its supervisor")
        self.send(self.myAddress, ActorExitRequest())

    def receiveMsg_PoisonMessage(self, message: PoisonMessage, sender: ActorAddress) -> None:
        self.log.warning("a message sent by %s failed at its target: %r", self.name,
                         message.poisonMessage)

    def receiveUnrecognizedMessage(self, message: object, sender: ActorAddress) -> None:
        metrics.UNEXPECTED_MESSAGES.labels(actor=self.name).inc()
        self.log.warning("unexpected message received by %s: %r", self.name, message)
