"""One ActorSystem handle on a running node: names to addresses, and the ways to send.

The rule for sending, the same for every tool, test and benchmark:

- `ask` (or `try_ask`) when the caller needs the reply before it goes on,
  and for anything sent to an actor that may be killed or hung meanwhile.
  Thespian's ask is bounded by its timeout, and a dead target answers it at
  once with silence.
- `tell` to hand requests over and collect their replies later (`replies`,
  `listen`), and for messages the node never answers. Thespian's tell
  returns once the target's process has read the message, so a run of tells
  arrives in order and paces the sender to the receiver. Its cost: a dead
  target raises `NodeUnreachable` (look the name up again and send again), a
  hung one blocks for up to 60 s, hence the first rule.
- Many requests go in `Batch`es (`tell_batches`): one Thespian send costs
  the node about as much as a Batch of hundreds.

Replies that arrive while the caller waits for something else are kept in
arrival order (`mailbox.unsolicited`) for `listen` and `replies`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Self, TypeVar, overload

from thespian.actors import ActorAddress, ActorSystem, ActorSystemException

from actors.front_desk import Mailbox, _NoRoot, find_root
from actors.messages import ActorRef, Batch, Lookup
from client.errors import NodeUnreachable, NoReply, UnknownActor

T = TypeVar("T")
U = TypeVar("U")
V = TypeVar("V")
R = TypeVar("R")

# An actor by its name in the tree ("bridge"), or an address the root gave out.
Target = str | ActorAddress

ASK_TIMEOUT_S = 5.0
# The node's own batching: a Thespian send costs about the same for one item or hundreds.
BATCH_SIZE = 250
# After the root fell silent, look it up again at most this often: a probe holds the
# root's name for a moment, and a launcher re-creating the root has to wait for it.
PROBE_INTERVAL_S = 0.25


class Session:
    """A handle on one node's actor system; `client.connect` opens one."""

    def __init__(self, system: ActorSystem, *, host: str, admin_port: int,
                 admin_pid: int) -> None:
        self.system = system
        self.mailbox = Mailbox(system)
        self.host = host
        self.admin_port = admin_port
        self.admin_pid = admin_pid
        self.root: ActorAddress = self._thespian(lambda: find_root(system))
        self._next_probe_at = 0.0

    # -- names ----------------------------------------------------------------

    def ask_root(self, message: object, expect: type[T],
                 timeout_s: float = ASK_TIMEOUT_S) -> T | None:
        """Ask the root; None if no root answered (the launcher may be replacing it)."""
        reply = self._ask_raw(self.root, message, (expect, _NoRoot), timeout_s)
        if not isinstance(reply, expect) and time.monotonic() >= self._next_probe_at:
            # Silence, or a probe's answer: the root we knew may have been replaced.
            self._next_probe_at = time.monotonic() + PROBE_INTERVAL_S
            self.root = self._thespian(lambda: find_root(self.system))
            reply = self._ask_raw(self.root, message, (expect, _NoRoot), timeout_s)
        return reply if isinstance(reply, expect) else None

    def find(self, name: str, timeout_s: float = ASK_TIMEOUT_S) -> ActorAddress | None:
        """The current address of the actor `name`; None if unknown or the root is silent."""
        reply = self.ask_root(Lookup(name), ActorRef, timeout_s)
        return reply.address if reply is not None else None

    def lookup(self, name: str, timeout_s: float = ASK_TIMEOUT_S) -> ActorAddress:
        """The current address of the actor `name`; raises `UnknownActor` or `NoReply`."""
        reply = self.ask_root(Lookup(name), ActorRef, timeout_s)
        if reply is None:
            raise NoReply(f"Lookup({name!r}) to the root", (ActorRef,), (), timeout_s)
        if reply.address is None:
            raise UnknownActor(name)
        return reply.address

    def address(self, target: Target, timeout_s: float = ASK_TIMEOUT_S) -> ActorAddress:
        """The address of `target`: a name is looked up through the root, as `lookup` does."""
        return self.lookup(target, timeout_s) if isinstance(target, str) else target

    # -- sending --------------------------------------------------------------

    @overload
    def ask(self, to: Target, message: object, expect: type[T],
            timeout_s: float = ...) -> T: ...
    @overload
    def ask(self, to: Target, message: object, expect: tuple[type[T], type[U]],
            timeout_s: float = ...) -> T | U: ...
    @overload
    def ask(self, to: Target, message: object, expect: tuple[type[T], type[U], type[V]],
            timeout_s: float = ...) -> T | U | V: ...
    @overload
    def ask(self, to: Target, message: object, expect: tuple[type, ...],
            timeout_s: float = ...) -> object: ...

    def ask(self, to: Target, message: object, expect: type | tuple[type, ...],
            timeout_s: float = ASK_TIMEOUT_S) -> object:
        """Send `message` and return the reply of an `expect` type; `NoReply` on silence."""
        kinds = expect if isinstance(expect, tuple) else (expect,)
        before = len(self.mailbox.unsolicited)
        reply = self._ask_raw(self.address(to, timeout_s), message, kinds, timeout_s)
        if reply is None:
            got = tuple(self.mailbox.unsolicited)[before:]
            raise NoReply(f"{type(message).__name__} to {_named(to)}", kinds, got, timeout_s)
        return reply

    @overload
    def try_ask(self, to: Target, message: object, expect: type[T],
                timeout_s: float = ...) -> T | None: ...
    @overload
    def try_ask(self, to: Target, message: object, expect: tuple[type[T], type[U]],
                timeout_s: float = ...) -> T | U | None: ...
    @overload
    def try_ask(self, to: Target, message: object, expect: tuple[type, ...],
                timeout_s: float = ...) -> object | None: ...

    def try_ask(self, to: Target, message: object, expect: type | tuple[type, ...],
                timeout_s: float = ASK_TIMEOUT_S) -> object | None:
        """As `ask`, for callers to whom silence is an answer (polling a restart): None.

        A name the root does not know (yet) counts as silence too.
        """
        kinds = expect if isinstance(expect, tuple) else (expect,)
        address = self.find(to, timeout_s) if isinstance(to, str) else to
        if address is None:
            return None
        return self._ask_raw(address, message, kinds, timeout_s)

    def tell_batches(self, to: Target, messages: Sequence[object],
                     size: int = BATCH_SIZE) -> None:
        """Tell `messages` in `Batch`es of `size`, one Thespian send each (a batch of one
        goes as itself). The node answers a Batch with Batches; `replies` opens them."""
        address = self.address(to)
        for start in range(0, len(messages), size):
            chunk = tuple(messages[start:start + size])
            self.tell(address, chunk[0] if len(chunk) == 1 else Batch(chunk))

    def tell(self, to: Target, message: object) -> None:
        """Hand `message` to the actor; returns once its process has read it (see the rule)."""
        address = self.address(to)
        self._thespian(lambda: self.system.tell(address, message))

    # -- receiving ------------------------------------------------------------

    def listen(self, timeout_s: float) -> object | None:
        """The oldest message no ask took, else the next within `timeout_s`; None if none."""
        return self._thespian(lambda: self.mailbox.listen(timeout_s))

    @overload
    def replies(self, count: int, expect: type[T],
                timeout_s: float = ...) -> list[T]: ...
    @overload
    def replies(self, count: int, expect: tuple[type[T], type[U]],
                timeout_s: float = ...) -> list[T | U]: ...
    @overload
    def replies(self, count: int, expect: tuple[type, ...],
                timeout_s: float = ...) -> list[object]: ...

    def replies(self, count: int, expect: type | tuple[type, ...],
                timeout_s: float = 60.0) -> list[Any]:
        """The next `count` replies of the `expect` types, in arrival order, Batches opened.

        What else arrives is kept for later. On timeout nothing is taken: every
        reply seen goes back to the mailbox and `NoReply` says how many came.
        """
        kinds = expect if isinstance(expect, tuple) else (expect,)
        seen: list[tuple[object, bool]] = []  # (item, taken), in arrival order
        taken = 0

        def take(message: object) -> None:
            nonlocal taken
            for item in message.items if isinstance(message, Batch) else (message,):
                wanted = taken < count and isinstance(item, kinds)
                if wanted:
                    taken += 1
                seen.append((item, wanted))

        unsolicited = self.mailbox.unsolicited
        while unsolicited and taken < count:
            take(unsolicited.popleft())
        deadline = time.monotonic() + timeout_s
        while taken < count and (remaining := deadline - time.monotonic()) > 0:
            message = self._listen_new(remaining)
            if message is not None:
                take(message)
        if taken < count:
            unsolicited.extendleft(reversed([item for item, _ in seen]))
            raise NoReply(f"{count} replies ({taken} came)", kinds,
                          tuple(item for item, wanted in seen if not wanted), timeout_s)
        unsolicited.extendleft(reversed([item for item, wanted in seen if not wanted]))
        return [item for item, wanted in seen if wanted]

    def take_unsolicited(self) -> list[object]:
        """Everything kept so far, oldest first, Batches opened; the mailbox is left empty."""
        kept = list(self.mailbox.unsolicited)
        self.mailbox.unsolicited.clear()
        return list(_opened(kept))

    # -- the handle -----------------------------------------------------------

    def close(self) -> None:
        """Forget the handle. Never `shutdown()`: that would stop the node's actor system."""
        self.mailbox.unsolicited.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _listen_new(self, timeout_s: float) -> object | None:
        """The next message to arrive, past whatever the mailbox holds already."""
        return self._thespian(lambda: self.system.listen(timeout_s))

    def _ask_raw(self, address: ActorAddress, message: object, kinds: tuple[type, ...],
                 timeout_s: float) -> object | None:
        return self._thespian(lambda: self.mailbox.ask(address, message, kinds, timeout_s))

    @staticmethod
    def _thespian(call: Callable[[], R]) -> R:
        try:
            return call()
        except ActorSystemException as exc:
            raise NodeUnreachable(f"the node's actor system failed: "
                                  f"{type(exc).__name__}: {exc}") from exc


def _named(target: Target) -> str:
    return target if isinstance(target, str) else str(target)


def _opened(messages: Iterable[object]) -> Iterable[object]:
    for message in messages:
        yield from message.items if isinstance(message, Batch) else (message,)
