"""Start, query and stop one node: the actor system and its supervisor tree.

`Node` is what the launcher runs (and what tests and benchmarks start a node
with): it starts Thespian's `multiprocTCPBase` admin on the configured port
with every socket confined to `actor_system.host` and every frame tagged with
the node's secret (runtime/frames.py; made in the run directory, or the one
there kept), creates the root
supervisor, waits until every actor has answered a `Ping`, and on `stop()`
shuts the system down and ends any process of its session that is still
alive. It owns the system; whoever only drives a running node uses the client
library (`client/`), which joins it on the admin port.

The caller must have pointed `PROMETHEUS_MULTIPROC_DIR` at the run's metrics
directory (`runtime.rundir.prepare_metrics_dir`) before importing this
module, and must not have initialised gRPC in this process: every actor is
forked from here.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from thespian.actors import ActorSystem

from actors.front_desk import ROOT_GLOBAL_NAME, Mailbox, _NoRoot
from actors.lifecycle import _Shutdown, _Start, _Started
from actors.messages import ActorRef, Lookup, NodeStatus, NodeStatusReport, Ping, Pong
from nodeconfig import NodeConfig
from runtime import leanloop
from runtime.frames import ensure_secret, install
from runtime.logs import log_defs
from runtime.loopback import confine_actor_sockets
from runtime.processes import (
    is_alive,
    kill_all,
    kill_now,
    listening_pid,
    session_members,
    wait_gone,
)
from runtime.rundir import run_paths
from runtime.titles import titled
from supervision.root import RootSupervisor
from supervision.tree import NODE_CHILDREN, actor_names

SYSTEM_BASE = "multiprocTCPBase"
ASK_TIMEOUT_S = 5.0


def _session_of(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


class NodeError(Exception):
    """Root of the errors raised while running a node."""


class NodeStartError(NodeError):
    """The node did not come up: the message says which part and why."""


@dataclass(frozen=True)
class SystemHandle:
    """What identifies a running actor system from the outside."""

    admin_port: int
    admin_pid: int
    session_id: int


class Node:
    def __init__(self, config: NodeConfig, *, transient_unique: bool = False) -> None:
        self.config = config
        self.transient_unique = transient_unique
        self.asys: Any = None
        self.mailbox: Mailbox | None = None
        self.root: Any = None
        self.handle: SystemHandle | None = None
        self.root_pid: int | None = None
        self.root_restarts = 0
        self.known_pids: set[int] = set()  # the actor pids of the latest status report

    @property
    def unsolicited(self) -> deque[object]:
        """Messages to the launcher's handle that no ask took (a supervisor's `_GivingUp`)."""
        return self.mailbox.unsolicited if self.mailbox is not None else deque()

    # -- lifecycle ------------------------------------------------------------

    def start(self, *, ready_timeout_s: float = 30.0) -> NodeStatusReport:
        if "grpc" in sys.modules:
            raise NodeStartError(
                "grpc is imported in the process that starts the actor system; every actor "
                "is forked from it and gRPC must not be initialised before a fork"
            )
        port = self.config.actor_system.admin_port
        confine_actor_sockets(self.config.actor_system.host)
        leanloop.install()
        install(ensure_secret(run_paths(self.config).secret_file), self.config.logging)
        defs = log_defs(self.config.logging.file, self.config.logging.level,
                        self.config.logging.rate_limit, self.config.logging.format)
        with titled(f"alys-node[{self.config.node.id}] thespian admin/logger"):
            self.asys = ActorSystem(
                SYSTEM_BASE,
                {"Admin Port": port, "Process Startup Method": "fork"},
                logDefs=defs,
                transientUnique=self.transient_unique,
            )
        self.mailbox = Mailbox(self.asys)
        admin_pid = listening_pid(port)
        if admin_pid is None:
            raise NodeStartError(f"the actor system's admin is not listening on port {port}")
        self.handle = SystemHandle(port, admin_pid, os.getsid(admin_pid))
        self._create_root(timeout_s=ASK_TIMEOUT_S)
        return self.wait_ready(timeout_s=ready_timeout_s)

    def _create_root(self, *, timeout_s: float) -> None:
        """Create the root by its globalName and start the tree under it.

        Right after a root died, Thespian still hands out its dead address for
        its globalName for a while (~40 ms measured): retry until a root
        answers `_Started`.
        """
        start = _Start("root", self.config, "launcher", None, NODE_CHILDREN,
                       restarts=self.root_restarts)
        deadline = time.monotonic() + timeout_s
        reply = None
        while time.monotonic() < deadline:
            # A tool's RootProbe may hold the name for a moment: it answers _NoRoot and exits.
            self.root = self.asys.createActor(RootSupervisor, globalName=ROOT_GLOBAL_NAME)
            reply = self.ask(self.root, start, min(1.0, timeout_s), expect=(_Started, _NoRoot))
            if isinstance(reply, _Started):
                self.root_pid = reply.pid
                return
            time.sleep(0.05)
        raise NodeStartError(f"the root supervisor did not start (answered {reply!r})")

    def root_alive(self) -> bool:
        return self.root_pid is not None and is_alive(self.root_pid)

    def recover_root(self, *, ready_timeout_s: float = 30.0) -> NodeStatusReport:
        """The root died: end whatever is left of its tree, then start a new one.

        The actors die with their parents (`PR_SET_PDEATHSIG`); the pids of the
        last known tree are killed as well, so the new tree never runs beside
        a survivor of the old one (one StreamActor, one governance stream).
        """
        session = self.handle.session_id if self.handle else None
        survivors = [pid for pid in self.known_pids  # a pid reused elsewhere is left alone
                     if is_alive(pid) and session is not None and _session_of(pid) == session]
        for pid in survivors:
            kill_now(pid)
        wait_gone(survivors, 5.0)
        self.root_restarts += 1
        self._create_root(timeout_s=ASK_TIMEOUT_S)
        return self.wait_ready(timeout_s=ready_timeout_s)

    def stop(self, *, grace_s: float = 5.0) -> list[int]:
        """Shut the actor system down; returns the pids that had to be killed after it.

        `shutdown()` returns once the admin acknowledged; its processes may
        take a moment more to exit. Whatever of the session outlives `grace_s`
        is ended by signal, so a stop never leaves a process behind.
        """
        if self.asys is None:
            return []
        self._stop_tree(grace_s)
        self.asys.shutdown()
        self.asys = None
        self.mailbox = None
        if self.handle is None:
            return []
        survivors = wait_gone(session_members(self.handle.session_id), grace_s)
        return kill_all(survivors)

    def _stop_tree(self, grace_s: float) -> None:
        """Ask the root to stop the tree in reverse start order, and wait until it is gone.

        Each supervisor stops its children one by one, each within its
        `shutdown_s`, then exits; an ask to an address that is gone answers
        None at once, which is how the end shows.
        """
        if self.root is None:
            return
        self.asys.tell(self.root, _Shutdown())
        deadline = time.monotonic() + grace_s + self._longest_shutdown_s()
        while time.monotonic() < deadline and self.ping(self.root, timeout_s=1.0) is not None:
            time.sleep(0.02)

    def _longest_shutdown_s(self) -> float:
        """The longest a graceful stop may take: every child's shutdown_s, one after another."""
        return sum(self.config.supervision.child(name).shutdown_s for name in actor_names()[1:])

    # -- queries ----------------------------------------------------------------

    def _ask_root(self, message: Any, timeout_s: float, expect: type) -> Any:
        reply = self.ask(self.root, message, timeout_s, expect=(expect, _NoRoot))
        return None if isinstance(reply, _NoRoot) else reply

    def status(self, timeout_s: float = ASK_TIMEOUT_S) -> NodeStatusReport | None:
        reply = self._ask_root(NodeStatus(), timeout_s, NodeStatusReport)
        if not isinstance(reply, NodeStatusReport):
            return None
        self.known_pids = {a.pid for a in reply.actors if a.pid}
        return reply

    def lookup(self, name: str, timeout_s: float = ASK_TIMEOUT_S) -> Any:
        reply = self._ask_root(Lookup(name), timeout_s, ActorRef)
        return reply.address if isinstance(reply, ActorRef) else None

    def ping(self, address: Any, timeout_s: float = ASK_TIMEOUT_S) -> Pong | None:
        reply = self.ask(address, Ping(time.monotonic_ns()), timeout_s, expect=Pong)
        return reply if isinstance(reply, Pong) else None

    def ask(self, address: Any, message: Any, timeout_s: float = ASK_TIMEOUT_S,
            expect: type | tuple[type, ...] = object) -> Any:
        """Send `message` and wait for a reply of type `expect`; None on silence.

        Other messages to the launcher's handle (a supervisor's `_GivingUp`)
        are kept in `unsolicited` instead of being taken for the reply.
        """
        assert self.mailbox is not None, "the node was not started"
        kinds = expect if isinstance(expect, tuple) else (expect,)
        return self.mailbox.ask(address, message, kinds, timeout_s)

    def wait_ready(self, *, timeout_s: float) -> NodeStatusReport:
        """Block until every actor of the tree runs and has answered a `Ping`."""
        deadline = time.monotonic() + timeout_s
        expected = set(actor_names())
        last: NodeStatusReport | None = None
        while time.monotonic() < deadline:
            last = self.status()
            if (last is not None and self._all_running(last, expected)
                    and all(self.ping_by_name(name) for name in expected)):
                return last
            time.sleep(0.02)
        states = {a.name: a.state for a in last.actors} if last else "no answer from the root"
        raise NodeStartError(f"the node was not ready within {timeout_s:.0f}s: {states}")

    def ping_by_name(self, name: str) -> Pong | None:
        address = self.lookup(name)
        return self.ping(address) if address is not None else None

    @staticmethod
    def _all_running(report: NodeStatusReport, expected: set[str]) -> bool:
        running = {a.name for a in report.actors if a.state == "running"}
        return expected <= running
