"""Joining a running node's actor system, and what this process must set up first.

A node's Thespian admin listens on `actor_system.admin_port` and every socket
of the node is confined to `actor_system.host` (`runtime/loopback.py`). A
client is a `multiprocTCPBase` ActorSystem handle on that admin port, and it
must use the same host: Thespian advertises each handle's own address from
`THESPIAN_BASE_IPADDR`, and a handle advertising another address than the
node's gets its replies nowhere (Thespian raises `InvalidActorAddress`).
Every frame also carries a tag keyed by the node's secret (runtime/frames.py),
which the node keeps in its run directory: a client must read that file, and
frames without the tag are dropped unread. `prepare_process` is the one place
that sets all of it.

Thespian starts a fresh admin when asked for one on a port where none runs,
so `connect_to` looks for a listener first, and shuts down an admin it
started by accident (the node ended in between) before it reports no node.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from thespian.actors import ActorSystem

from actors.messages import NodeStatus, NodeStatusReport
from client.contract import NodeClient
from client.errors import NoNode, NoSecret
from client.session import ASK_TIMEOUT_S
from nodeconfig import NodeConfig
from runtime import leanloop
from runtime.frames import SecretUnusable, install, read_secret
from runtime.logs import thespian_log_path
from runtime.loopback import confine_actor_sockets
from runtime.processes import listening_pid
from runtime.rundir import run_paths

SYSTEM_BASE = "multiprocTCPBase"
# The launcher may be re-creating its root the moment a client connects: wait this long.
SETTLE_S = 3.0


def prepare_process(host: str, *, secret_file: Path, thespian_log: Path | None = None) -> None:
    """Set what this process needs before its first `ActorSystem(...)` to reach a node on
    `host`: `THESPIAN_BASE_IPADDR` and sockets bound to `host` only (see runtime/loopback.py);
    Thespian's cheaper loop (runtime/leanloop.py); every frame tagged with the secret in
    `secret_file` (the node's `RunPaths.secret_file`; `NoSecret` if it cannot be read);
    Thespian's own log, should it write one, goes to `thespian_log` (not to /tmp)."""
    try:
        key = read_secret(secret_file)
    except SecretUnusable as exc:
        raise NoSecret(str(exc), path=secret_file) from exc
    confine_actor_sockets(host)
    leanloop.install()
    install(key)
    if thespian_log is not None:
        os.environ.setdefault("THESPLOG_FILE", str(thespian_log))


def connect(config: NodeConfig, *, settle_s: float = SETTLE_S) -> NodeClient:
    """A client of the node that `config` describes, which must be running; `NoNode` if not."""
    system = config.actor_system
    return connect_to(system.host, system.admin_port,
                      secret_file=run_paths(config).secret_file, settle_s=settle_s,
                      thespian_log=thespian_log_path(config.logging.file))


def connect_to(host: str, admin_port: int, *, secret_file: Path, settle_s: float = SETTLE_S,
               thespian_log: Path | None = None) -> NodeClient:
    """A client of the node whose admin listens on `host`:`admin_port` and whose transport
    secret is in `secret_file`; `NoNode` if none runs there, `NoSecret` without the secret."""
    where = f"admin port {admin_port} on {host}"
    admin_pid = listening_pid(admin_port)
    if admin_pid is None:
        raise NoNode(f"no alys node is running: nothing listens on {where}",
                     host=host, admin_port=admin_port)
    prepare_process(host, secret_file=secret_file, thespian_log=thespian_log)
    try:
        system = ActorSystem(SYSTEM_BASE, {"Admin Port": admin_port}, transientUnique=True)
        client = NodeClient(system, host=host, admin_port=admin_port, admin_pid=admin_pid)
        has_root = _wait_for_root(client, settle_s)
    except Exception as exc:  # Thespian raises several kinds when the peer is no admin
        raise NoNode(f"no alys node answered on {where} ({type(exc).__name__}: {exc}); if "
                     f"one runs there, {secret_file} is not its transport secret",
                     host=host, admin_port=admin_port) from exc
    if has_root:
        return client
    if listening_pid(admin_port) != admin_pid:
        system.shutdown()  # this process started that admin: take it down again
    if has_root is None:
        raise NoNode(f"no alys node answered on {where}: no root supervisor is running (if "
                     "the node's launcher is replacing it, try again)",
                     host=host, admin_port=admin_port)
    raise NoNode(f"the actor system on {where} has no running alys node (its root "
                 "supervisor was never started)", host=host, admin_port=admin_port)


def _wait_for_root(client: NodeClient, settle_s: float) -> bool | None:
    """True once the root reports actors; False if it answers with none (never started);
    None if no root answered within `settle_s`."""
    deadline = time.monotonic() + settle_s
    while True:
        report = client.ask_root(NodeStatus(), NodeStatusReport, ASK_TIMEOUT_S)
        if report is not None and report.actors:
            return True
        if time.monotonic() >= deadline:
            return None if report is None else False
        time.sleep(0.1)
