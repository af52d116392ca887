"""The catalogue of messages between the node's actors and its outside clients.

Every message is a frozen dataclass at module level: Thespian pickles messages
between processes, and external clients (tools, tests) import this module to
talk to a running node through the ActorSystem API. Commands are imperative,
events past tense, replies name what they carry. Messages that only the node's
own supervision uses start with an underscore; they are not a public contract.

The public messages and their fields are fixed by `shared/CONTRACTS.md`; add
fields only with defaults, so that older senders keep working.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# --------------------------------------------------------------------------
# Shared envelope


@dataclass(frozen=True)
class Batch:
    """Many messages in one Thespian send: each item is handled as if sent alone."""

    items: tuple[Any, ...]


# --------------------------------------------------------------------------
# Node and supervision (public)


@dataclass(frozen=True)
class Ping:
    """Liveness probe; every actor answers with a `Pong`."""

    nonce: int = 0


@dataclass(frozen=True)
class Pong:
    nonce: int
    name: str
    pid: int


@dataclass(frozen=True)
class NodeStatus:
    """Ask the root for the state of every actor and of the governance stream."""


@dataclass(frozen=True)
class ActorInfo:
    """One actor as its supervisor sees it.

    `state` is one of `starting`, `running`, `restarting`, `stopped`, `failed`;
    `supervisor` is the name of the supervising actor (`launcher` for the root).
    """

    name: str
    pid: int | None
    state: str
    restarts: int
    uptime_s: float
    supervisor: str


@dataclass(frozen=True)
class ConnectionStatus:
    """The governance stream's connection, as the StreamActor reports it."""

    state: str
    endpoint: str | None = None
    connected_since: float | None = None
    last_heartbeat_ack: float | None = None
    messages_sent: int = 0
    messages_received: int = 0
    buffered: int = 0
    pending: int = 0
    reconnects: int = 0
    circuit: str = "closed"


@dataclass(frozen=True)
class NodeStatusReport:
    node_id: str
    actors: tuple[ActorInfo, ...]
    stream: ConnectionStatus | None


@dataclass(frozen=True)
class Lookup:
    """Ask the root for the current address of an actor, by name."""

    name: str


@dataclass(frozen=True)
class ActorRef:
    name: str
    address: Any  # thespian ActorAddress, or None when the name is unknown


# --------------------------------------------------------------------------
# Stream (public)


@dataclass(frozen=True)
class GetConnectionStatus:
    """Ask the StreamActor for its `ConnectionStatus`."""


# --------------------------------------------------------------------------
# Internal to supervision: how supervisors start, wire and watch their children.


@dataclass(frozen=True)
class _ChildSpec:
    """What a supervisor needs to (re)create one child.

    `actor_class` is an importable "module:Class" path so that specs pickle
    without dragging classes across processes; `children` is non-empty for a
    child that is itself a supervisor.
    """

    name: str
    actor_class: str
    children: tuple[_ChildSpec, ...] = ()


@dataclass(frozen=True)
class _Start:
    """First message to every actor the node creates: who it is and its settings."""

    name: str
    config: Any  # supervision.config.NodeConfig
    supervisor: str
    supervisor_pid: int | None  # the OS parent to die with; None: whoever forked us
    children: tuple[_ChildSpec, ...] = ()


@dataclass(frozen=True)
class _Started:
    """The answer to `_Start`, once the actor is ready for work."""

    name: str
    pid: int


@dataclass(frozen=True)
class _ActorRecord:
    """A supervisor's record of one child, reported up the tree."""

    name: str
    pid: int | None
    state: str
    restarts: int
    started_at: float | None
    supervisor: str
    address: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class _SubtreeChanged:
    """A supervisor tells its parent the current records of all actors below it."""

    supervisor: str
    records: tuple[_ActorRecord, ...]


@dataclass(frozen=True)
class _Peers:
    """The current address of every actor in the node, by name, sent down the tree."""

    addresses: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class _GetPeers:
    """Ask an actor for the addresses it currently holds (answered with `_Peers`)."""


@dataclass(frozen=True)
class _GivingUp:
    """A supervisor tells its parent it exceeded its intensity and is stopping."""

    name: str


@dataclass(frozen=True)
class _RestartDue:
    """Wakeup payload: a delayed restart is due (stale if the generation moved on)."""

    name: str
    generation: int


@dataclass(frozen=True)
class _StatusTimeout:
    """Wakeup payload: give up waiting for the stream's status for one query."""

    query_id: int
