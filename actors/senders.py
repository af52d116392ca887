"""Who may say what: the peers of the tree from which an actor accepts each message that
changes its state.

Clients (peg-outs, peg-ins, statuses, pings) may send from anywhere: the transport's tag
is what authenticates them. But what only an owner or a supervisor may change is taken
only from the address the tree gave that actor: the chain announces federations to the
bridge, the bridge tells the chain of completed peg-outs, only the stream routes what
governance says, storage is written and read only by the owners (each in its own name),
and only the supervisor (the sender of `_Start`) re-wires or stops an actor.

`SENDERS` is the one table; `judge` applies it and `HeldMessages` keeps what a peer
restarted a moment ago sent before the `_Peers` naming its new address reached us.
Pure: no actor system, no clock of its own. `actors.base.NodeActor` calls them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from thespian.actors import WakeupMessage

from actors.lifecycle import _Peers, _Reconfigure, _Shutdown, _Start
from actors.messages import (
    ApplySignatures,
    Delivered,
    FederationChanged,
    GovernanceError,
    Handled,
    HeightObserved,
    PegoutCompleted,
    ProposalReceived,
    RequestRejected,
    RequestTimedOut,
    UpdateFederation,
)
from actors.storage.protocol import (
    _Fetch,
    _Fetched,
    _Load,
    _Loaded,
    _Persist,
    _Persisted,
    _PersistFailed,
)

if TYPE_CHECKING:
    from nodeconfig import NodeConfig

SUPERVISOR = "supervisor"  # the address our `_Start` came from: fixed for our lifetime
SELF = "self"  # our own address (wakeups)
FIXED = frozenset({SUPERVISOR, SELF})  # names whose address never moves

HOLD_CAP = 1_000  # held messages per actor; past it, a message is dropped at once
HOLD_S = 5.0  # how long a message waits for a `_Peers` naming its sender


@dataclass(frozen=True)
class Senders:
    """Who may send one message type: peers by name; with `by_owner`, only the one of them
    that the message's `owner` field names (an owner speaks to storage in its own name)."""

    names: frozenset[str]
    by_owner: bool = False

    def allowed(self, message: object) -> frozenset[str]:
        if not self.by_owner:
            return self.names
        owner = getattr(message, "owner", None)
        return self.names & {owner} if isinstance(owner, str) else frozenset()


def _only(*names: str, by_owner: bool = False) -> Senders:
    return Senders(frozenset(names), by_owner)


_STORAGE_ANSWERS: dict[type, Senders] = {
    kind: _only("storage") for kind in (_Persisted, _PersistFailed, _Loaded, _Fetched)}
_FROM_STREAM: dict[type, Senders] = {
    kind: _only("stream")
    for kind in (ApplySignatures, Delivered, RequestTimedOut, RequestRejected, GovernanceError)}

# Every actor: the tree's own messages. (`ActorExitRequest` is not here: Thespian ends
# the actor after any one, whatever the actor says; only the transport's tag guards it.)
COMMON: Mapping[type, Senders] = {
    _Start: _only(SUPERVISOR),
    _Peers: _only(SUPERVISOR),
    _Shutdown: _only(SUPERVISOR),
    _Reconfigure: _only(SUPERVISOR),
    WakeupMessage: _only(SELF),
}

# Actor name -> message type -> who may send it. A type not listed is open to anyone.
SENDERS: Mapping[str, Mapping[type, Senders]] = {
    "bridge": {
        FederationChanged: _only("chain"),
        Handled: _only("chain"),  # confirms a PegoutCompleted
        **_FROM_STREAM,
        **_STORAGE_ANSWERS,
    },
    "chain": {
        UpdateFederation: _only("stream"),
        ProposalReceived: _only("stream"),
        PegoutCompleted: _only("bridge"),
        Handled: _only("bridge"),  # confirms a FederationChanged
        **_STORAGE_ANSWERS,
    },
    "storage": {
        _Persist: _only("bridge", "chain", by_owner=True),
        _Load: _only("bridge", "chain", by_owner=True),
        _Fetch: _only("bridge", "chain", by_owner=True),
    },
    "stream": {
        Handled: _only("bridge", "chain"),  # what it acknowledges to governance on
        HeightObserved: _only("chain"),
    },
}


def rules_for(actor: str) -> dict[type, Senders]:
    """The table as one actor applies it: the common rows and its own."""
    return {**COMMON, **SENDERS.get(actor, {})}


class Verdict(Enum):
    ACCEPT = "accept"
    HOLD = "hold"  # not from whom the current directory names: perhaps a newer one
    DROP = "drop"


def judge(rule: Senders, message: object, sender: Any, peers: Mapping[str, Any],
          supervisor: Any, me: Any) -> Verdict:
    """Whether `sender` may send `message` to an actor with these peers, supervisor and
    address. Before `_Start` the supervisor is unknown and any sender passes as it."""
    names = rule.allowed(message)
    for name in names:
        if name == SUPERVISOR:
            if supervisor is None or sender == supervisor:
                return Verdict.ACCEPT
        elif name == SELF:
            if sender == me:
                return Verdict.ACCEPT
        else:
            address = peers.get(name)
            if address is not None and sender == address:
                return Verdict.ACCEPT
    # Only a peer's address moves (a restart): a newer directory may still name the sender.
    return Verdict.HOLD if names - FIXED else Verdict.DROP


@dataclass(frozen=True)
class Held:
    message: object
    sender: Any
    held_at_s: float

    @property
    def kind(self) -> str:
        return type(self.message).__name__


class HeldMessages:
    """Messages whose sender the current directory does not name, oldest first, until a
    newer `_Peers` names it (`release`) or for `hold_s` (`expire`). At most `cap`: past
    it `hold` says no."""

    def __init__(self, cap: int = HOLD_CAP, hold_s: float = HOLD_S) -> None:
        self._items: deque[Held] = deque()
        self.cap = cap
        self.hold_s = hold_s

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Held]:
        return iter(self._items)

    def hold(self, message: object, sender: Any, now_s: float) -> bool:
        if len(self._items) >= self.cap:
            return False
        self._items.append(Held(message, sender, now_s))
        return True

    def release(self, admitted: Callable[[Held], bool]) -> list[Held]:
        """A newer directory came: take out those it admits, in arrival order. The others
        stay until they expire (that directory may be older than their sender)."""
        accepted: list[Held] = []
        kept: deque[Held] = deque()
        for held in self._items:
            (accepted if admitted(held) else kept).append(held)
        self._items = kept
        return accepted

    def expire(self, now_s: float) -> list[Held]:
        """Those held for `hold_s` or longer: no directory came in time to name them."""
        expired: list[Held] = []
        while self._items and now_s - self._items[0].held_at_s >= self.hold_s:
            expired.append(self._items.popleft())
        return expired


def advance_height_allowed(config: NodeConfig) -> bool:
    """`chain.allow_advance_height`; unset, on in local mode (the mock enabled) only."""
    allowed = config.chain.allow_advance_height
    return config.governance.mock.enabled if allowed is None else allowed
