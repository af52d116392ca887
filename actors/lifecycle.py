"""How a supervisor and each actor it creates speak: start, peers, stop, failures.

Internal to the node (not a client contract): every actor handles these in
`actors.base.NodeActor`, and the supervisors in `supervision/` send them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from nodeconfig.redact import redact_text

if TYPE_CHECKING:  # only named in annotations: the messages need neither at run time
    from thespian.actors import ActorAddress

    from nodeconfig import NodeConfig


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
    config: NodeConfig
    supervisor: str
    supervisor_pid: int | None  # the OS parent to die with; None: whoever forked us
    children: tuple[_ChildSpec, ...] = ()
    generation: int = 0  # echoed in `_Started`, so the supervisor knows which incarnation
    restarts: int = 0  # how often this actor was restarted (the root learns its own count)

    def __repr__(self) -> str:
        # Thespian writes a failing message's repr to its log and returns the message in a
        # PoisonMessage: the config stays out of it, whatever it holds (docs/security.md,
        # "Nothing secret in any output").
        return (f"_Start(name={self.name!r}, node={self.config.node.id!r}, "
                f"supervisor={self.supervisor!r}, supervisor_pid={self.supervisor_pid}, "
                f"children={[c.name for c in self.children]}, generation={self.generation}, "
                f"restarts={self.restarts})")


@dataclass(frozen=True)
class _Reconfigure:
    """A reloaded config is in force (supervisor -> child, down the tree): apply what may
    change while running (`nodeconfig.reload`), keep it for what is read later, and re-read
    the credential files. Every changed key was checked reloadable by the root first."""

    config: NodeConfig
    changed: tuple[str, ...] = ()  # the keys that changed (may be none: credentials only)

    def __repr__(self) -> str:  # the config stays out of any log, as for `_Start`
        return f"_Reconfigure(node={self.config.node.id!r}, changed={list(self.changed)})"


@dataclass(frozen=True)
class _Started:
    """The answer to `_Start`, once the actor is ready for work."""

    name: str
    pid: int
    generation: int = 0


@dataclass(frozen=True)
class _Peers:
    """The current address of every actor in the node, by name, sent down the tree."""

    addresses: tuple[tuple[str, ActorAddress], ...]
    version: int = 0  # Thespian may reorder sends: an actor keeps only the newest directory


@dataclass(frozen=True)
class _GetPeers:
    """Ask an actor for the addresses it currently holds (answered with `_Peers`)."""


@dataclass(frozen=True)
class _Shutdown:
    """Stop gracefully: a supervisor stops its children in reverse start order first."""


@dataclass(frozen=True)
class _FatalError:
    """An actor tells its supervisor why it is about to exit abnormally."""

    name: str
    reason: str

    def __post_init__(self) -> None:
        # Reported in the supervisor's log line: an error's text may quote a URL.
        object.__setattr__(self, "reason", redact_text(self.reason))


@dataclass(frozen=True)
class _MessageFailed:
    """A child's handler raised on a message; the child lives on (the supervisor resumes it)."""

    name: str
    message_type: str
    error: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "error", redact_text(self.error))
