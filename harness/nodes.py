"""Nodes started in this process: a config on free ports, a client, and proof nothing is left.

Every node gets its own admin port, metrics port, mock ports, log file and
metrics directory, and `transientUnique=True`, so that nodes never share an
actor system. `running_node` yields a `LocalNode`: the `owner` that started
the actor system (start, stop, root recovery: what the launcher does) and a
`client` joined to it on the admin port, through which the node is driven,
as any outside tool drives it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
import yaml

from client import NodeClient, connect
from harness.ports import distinct_free_ports
from harness.waiting import wait_until
from nodeconfig import NodeConfig, load_config
from runtime.processes import session_members
from runtime.rundir import make_private, prepare_metrics_dir

if TYPE_CHECKING:
    from supervision.node import Node


def write_config(directory: Path, **sections: Any) -> Path:
    """A config file on free ports inside `directory`; `sections` override whole keys."""
    admin, mock_port, control, metrics = distinct_free_ports(4)
    document: dict[str, Any] = {
        "node": {"id": "alys-test"},
        "actor_system": {"admin_port": admin, "host": "127.0.0.1"},
        "governance": {
            "endpoints": [{"url": f"127.0.0.1:{mock_port}", "priority": 100}],
            "mock": {"enabled": True, "port": mock_port, "control_port": control},
        },
        "metrics": {"host": "127.0.0.1", "port": metrics},
        "logging": {"file": str(directory / "logs" / "node.log"), "level": "INFO"},
        "storage": {"path": str(directory / "data" / "node.sqlite3")},
        "bridge": {"broadcaster": {"spool_path": str(directory / "data" / "broadcast.spool")}},
    }
    document.update(sections)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "node.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def node_config(directory: Path, **sections: Any) -> NodeConfig:
    return load_config(write_config(directory, **sections))


def descendants() -> set[int]:
    """Pids of this process's live descendants (zombies excluded)."""
    alive = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.add(child.pid)
        except psutil.NoSuchProcess:
            continue
    return alive


def assert_session_gone(session_id: int, timeout: float = 10.0) -> None:
    wait_until(
        lambda: not session_members(session_id),
        timeout=timeout,
        message=f"processes of session {session_id} still alive",
    )


@dataclass(frozen=True)
class LocalNode:
    """A node this process started: `owner` runs its actor system, `client` drives it."""

    owner: Node
    client: NodeClient

    @property
    def config(self) -> NodeConfig:
        return self.owner.config


@contextmanager
def own_node(config: NodeConfig) -> Iterator[LocalNode]:
    """Start the node `config` describes in this process, with a client; stop it after.

    The caller must have set the metrics directory (`prepare_metrics_dir`)
    before `supervision.node` is first imported.
    """
    from supervision.node import Node  # after the metrics directory is set

    owner = Node(config, transient_unique=True)
    try:
        owner.start()
        with connect(config) as client:
            yield LocalNode(owner, client)
    finally:
        owner.stop()


@contextmanager
def running_node(directory: Path, **sections: Any) -> Iterator[LocalNode]:
    """A node on free ports in `directory`; afterwards, proof that no process is left."""
    config = node_config(directory, **sections)
    umask = make_private(config)  # as the launcher does; this process's umask comes back after
    prepare_metrics_dir(directory / "metrics")
    before = descendants()
    session: int | None = None
    try:
        with own_node(config) as node:
            session = node.owner.handle.session_id if node.owner.handle else None
            yield node
    finally:
        os.umask(umask)
        if session is not None:
            assert_session_gone(session)
        wait_until(
            lambda: not (descendants() - before),
            timeout=10.0,
            message="the node left child processes behind",
        )


def log_text(config: NodeConfig) -> str:
    path = Path(config.logging.file)
    return path.read_text() if path.exists() else ""
