"""Start, query and stop one node: the actor system and its supervisor tree.

`Node` is what the launcher runs and what integration tests drive: it starts
Thespian's `multiprocTCPBase` admin on the configured port with every socket
confined to `actor_system.host`, creates the root supervisor, waits until every
actor has answered a `Ping`, and on `stop()` shuts the system down and ends
any process of its session that is still alive.

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

from actors.lifecycle import _Shutdown, _Start, _Started
from actors.messages import ActorRef, Lookup, NodeStatus, NodeStatusReport, Ping, Pong
from nodeconfig import NodeConfig
from runtime.logs import log_defs, thespian_log_path
from runtime.loopback import confine_actor_sockets
from runtime.processes import (
    is_alive,
    kill_all,
    kill_now,
    listening_pid,
    session_members,
    wait_gone,
)
from runtime.titles import titled
from supervision.protocol import _NoRoot
from supervision.root import RootProbe, RootSupervisor
from supervision.tree import NODE_CHILDREN, ROOT_GLOBAL_NAME, actor_names

SYSTEM_BASE = "multiprocTCPBase"
ASK_TIMEOUT_S = 5.0
ATTACH_SETTLE_S = 3.0
PROBE_INTERVAL_S = 0.25


def _session_of(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


class NodeError(Exception):
    """Root of the errors raised while running a node."""


class NodeAttachError(NodeError):
    """No running node could be reached; the message says where we looked."""


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
        self.root: Any = None
        self.handle: SystemHandle | None = None
        self.unsolicited: deque[Any] = deque()
        self.root_pid: int | None = None
        self.root_restarts = 0
        self.known_pids: set[int] = set()  # the actor pids of the latest status report
        self.attached = False  # joined a running node (a tool) rather than started it
        self.next_probe_at = 0.0

    @classmethod
    def attach(cls, config: NodeConfig) -> Node:
        """Join the actor system of a node that runs already (for tools: status, chaos).

        Thespian starts a fresh admin when asked for one on a free port, so
        the port is checked for a listener first; if a fresh admin appears
        anyway (the node ended in between), it is shut down again.
        """
        host, port = config.actor_system.host, config.actor_system.admin_port
        where = f"admin port {port} on {host}"
        admin_pid = listening_pid(port)
        if admin_pid is None:
            raise NodeAttachError(f"no alys node is running: nothing listens on {where}")
        confine_actor_sockets(host)
        # Thespian's own log, should it write one, goes beside the node's (not to /tmp).
        os.environ.setdefault("THESPLOG_FILE", str(thespian_log_path(config.logging.file)))
        node = cls(config, transient_unique=True)
        node.attached = True
        try:
            node.asys = ActorSystem(SYSTEM_BASE, {"Admin Port": port}, transientUnique=True)
            node.root = node._find_root()
            report = node.status(timeout_s=ASK_TIMEOUT_S)
            deadline = time.monotonic() + ATTACH_SETTLE_S
            while (report is None or not report.actors) and time.monotonic() < deadline:
                time.sleep(0.1)  # the launcher may be re-creating its root this very moment
                node.root = node._find_root()
                report = node.status(timeout_s=ASK_TIMEOUT_S)
        except Exception as exc:  # Thespian raises several kinds when the peer is no admin
            raise NodeAttachError(f"no alys node answered on {where} "
                                  f"({type(exc).__name__}: {exc})") from exc
        if report is not None and report.actors:
            node.handle = SystemHandle(port, admin_pid, os.getsid(admin_pid))
            return node
        if listening_pid(port) != admin_pid:
            node.asys.shutdown()  # we started that admin ourselves: take it down again
        if report is not None:
            raise NodeAttachError(f"the actor system on {where} has no running alys node "
                                  "(its root supervisor was never started)")
        raise NodeAttachError(f"no alys node answered on {where}: no root supervisor is "
                              "running (if the node's launcher is replacing it, try again)")

    # -- lifecycle ------------------------------------------------------------

    def start(self, *, ready_timeout_s: float = 30.0) -> NodeStatusReport:
        if "grpc" in sys.modules:
            raise NodeStartError(
                "grpc is imported in the process that starts the actor system; every actor "
                "is forked from it and gRPC must not be initialised before a fork"
            )
        port = self.config.actor_system.admin_port
        confine_actor_sockets(self.config.actor_system.host)
        defs = log_defs(self.config.logging.file, self.config.logging.level)
        with titled(f"alys-node[{self.config.node.id}] thespian admin/logger"):
            self.asys = ActorSystem(
                SYSTEM_BASE,
                {"Admin Port": port, "Process Startup Method": "fork"},
                logDefs=defs,
                transientUnique=self.transient_unique,
            )
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
        if reply is None and self.attached and time.monotonic() >= self.next_probe_at:
            # The launcher may have replaced the root since we attached: find it again,
            # but not in a tight loop: a probe holds the root's name for a moment, and
            # the launcher, re-creating the root, has to wait for it.
            self.next_probe_at = time.monotonic() + PROBE_INTERVAL_S
            self.root = self._find_root()
            reply = self.ask(self.root, message, timeout_s, expect=(expect, _NoRoot))
        return None if isinstance(reply, _NoRoot) else reply

    def _find_root(self) -> Any:
        """The root's address by its globalName, without ever creating a root (tools)."""
        return self.asys.createActor(RootProbe, globalName=ROOT_GLOBAL_NAME)

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
            expect: type | tuple[type, ...] | None = None) -> Any:
        """Send `message` and wait for the reply, of type `expect` if given.

        This handle's address also receives messages nobody asked for just
        now (a `Delivered` or `RequestTimedOut` for an earlier request); they
        are kept for `listen` instead of being taken for the reply.
        """
        reply = self.asys.ask(address, message, timeout_s)
        if expect is None:
            return reply
        deadline = time.monotonic() + timeout_s
        while reply is not None and not isinstance(reply, expect):
            self.unsolicited.append(reply)
            remaining = deadline - time.monotonic()
            reply = self.asys.listen(remaining) if remaining > 0 else None
        return reply

    def listen(self, timeout_s: float) -> Any:
        """The next message sent to this handle that no `ask` took as its reply."""
        if self.unsolicited:
            return self.unsolicited.popleft()
        return self.asys.listen(timeout_s)

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
