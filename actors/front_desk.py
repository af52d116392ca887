"""The node's front desk as seen from outside the tree: how a process with an ActorSystem
handle finds the root and waits for the answers meant for it.

Both sides of the desk use this module: the launcher (`supervision.node.Node`),
which owns the actor system, and the client library (`client/`), which joins
a running one. Neither may depend on the other, so what they share lives here.

- The root registers under `ROOT_GLOBAL_NAME`. Thespian has no lookup by
  globalName that never creates, so a process that only wants to find the
  root creates a `RootProbe` by that name: it gets the root's address if a
  root is registered, and otherwise a probe that answers `_NoRoot` and exits.
- A handle's `ask` returns whatever message arrives next, not necessarily the
  answer to that ask: a `Mailbox` waits for the types expected and keeps the
  rest, in order, for whoever listens next.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from thespian.actors import Actor, ActorAddress, ActorExitRequest, ActorSystem

ROOT_GLOBAL_NAME = "alys.root"
# Thespian reads a zero timeout as "do not look at all": a look needs a sliver.
MIN_WAIT_S = 0.0005


@dataclass(frozen=True)
class _NoRoot:
    """A tool looked the root up by its globalName while no root was registered."""


class RootProbe(Actor):
    """What a tool creates by the root's globalName when it only wants to find the root.

    If no root is registered (it died and the launcher is re-creating it), the
    tool gets this probe instead of an unconfigured root supervisor that would
    linger. It answers anything with `_NoRoot` and exits, which frees the name.
    """

    def receiveMessage(self, msg: object, sender: ActorAddress) -> None:
        if isinstance(msg, ActorExitRequest):
            return
        self.send(sender, _NoRoot())
        self.send(self.myAddress, ActorExitRequest())


def find_root(system: ActorSystem) -> ActorAddress:
    """The root's address by its globalName, or a probe's if no root is registered."""
    return system.createActor(RootProbe, globalName=ROOT_GLOBAL_NAME)


class Mailbox:
    """What arrives at one ActorSystem handle.

    `ask` waits for a reply of the expected types; anything else that arrives
    meanwhile (a late answer to an earlier request, a `Delivered` nobody asked
    for just now) goes to `unsolicited`, oldest first, where `listen` hands it
    out before it waits for anything new.
    """

    def __init__(self, system: ActorSystem) -> None:
        self.system = system
        self.unsolicited: deque[object] = deque()

    def ask(self, to: ActorAddress, message: object, expect: tuple[type, ...],
            timeout_s: float) -> object | None:
        """Send `message` to `to`; the first reply of a type in `expect`, or None on silence."""
        deadline = time.monotonic() + timeout_s
        reply = self.system.ask(to, message, max(timeout_s, MIN_WAIT_S))
        while reply is not None and not isinstance(reply, expect):
            self.unsolicited.append(reply)
            remaining = deadline - time.monotonic()
            reply = self.system.listen(remaining) if remaining > 0 else None
        return reply

    def listen(self, timeout_s: float) -> object | None:
        """The oldest message no ask took, else the next to arrive within `timeout_s`."""
        if self.unsolicited:
            return self.unsolicited.popleft()
        return self.system.listen(max(timeout_s, MIN_WAIT_S))
